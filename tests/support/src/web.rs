//! What the access-control tests need beyond `client.rs`: Mosquitto password
//! files made by the real `mosquitto_passwd`, and an HTTP / WebSocket client
//! that sets every header itself (credentials, cookie, `Origin`, `Host`,
//! `Content-Type`), over HTTP or HTTPS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use actix_http::header::HeaderMap;
pub use actix_http::Method;
use awc::ws::WebsocketsRequest;
use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::Value;

use crate::Ws;

/// A Mosquitto password file written by `mosquitto_passwd -b`.
pub struct PasswordFile {
    path: PathBuf,
}

impl PasswordFile {
    /// A new file at `path` with `users` (name, password).
    pub fn create(path: impl Into<PathBuf>, users: &[(&str, &str)]) -> PasswordFile {
        let file = PasswordFile { path: path.into() };
        std::fs::write(&file.path, "").expect("create the password file");
        for (user, password) in users {
            file.add(user, password);
        }
        file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds (or changes) a user, as an operator would.
    pub fn add(&self, user: &str, password: &str) {
        self.run(&["-b"], &[user, password]);
    }

    /// Removes a user.
    pub fn remove(&self, user: &str) {
        self.run(&["-D"], &[user]);
    }

    fn run(&self, flags: &[&str], args: &[&str]) {
        let status = Command::new(crate::programs::MOSQUITTO_PASSWD.require())
            .args(flags)
            .arg(&self.path)
            .args(args)
            .status()
            .expect("mosquitto_passwd runs (the README's test command installs mosquitto)");
        assert!(
            status.success(),
            "mosquitto_passwd {flags:?} {args:?} failed"
        );
    }
}

/// An answer: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error.code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A client of one app that sends exactly the headers a test gives it, plus
/// its credentials: Basic auth, or the session cookie a sign-in set. It does
/// not follow redirects: tests look at them.
#[derive(Clone)]
pub struct WebClient {
    base: String,
    client: awc::Client,
    basic: Option<(String, String)>,
    /// `name=value` of the session cookie.
    cookie: Option<String>,
}

fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    client_config_with(ca, &[b"http/1.1"])
}

/// A TLS client trusting the CA in `ca`, offering `protocols` by ALPN.
fn client_config_with(ca: &Path, protocols: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("the CA file") {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("a usable CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

impl WebClient {
    /// A client of `http://{addr}`.
    pub fn new(addr: impl std::fmt::Display) -> WebClient {
        WebClient {
            base: format!("http://{addr}"),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(Duration::from_secs(15))
                .finish(),
            basic: None,
            cookie: None,
        }
    }

    /// A client of `http://{addr}` whose connections come from `source`
    /// (any `127.x.y.z` works on Linux without setting it up), so that one
    /// test can be many clients to the app's per-address limits.
    pub fn from_source(addr: impl std::fmt::Display, source: std::net::IpAddr) -> WebClient {
        WebClient {
            client: awc::Client::builder()
                .local_address(source)
                .disable_redirects()
                .timeout(Duration::from_secs(15))
                .finish(),
            ..WebClient::new(addr)
        }
    }

    /// A client of `https://{host}` (e.g. `localhost:PORT`) that trusts the
    /// CA in the PEM file `ca`.
    pub fn https(host: impl std::fmt::Display, ca: &Path) -> WebClient {
        let connector = awc::Connector::new().rustls_0_23(client_config(ca));
        WebClient {
            base: format!("https://{host}"),
            client: awc::Client::builder()
                .connector(connector)
                .disable_redirects()
                .timeout(Duration::from_secs(15))
                .finish(),
            basic: None,
            cookie: None,
        }
    }

    /// An awc client of HTTPS that asks for HTTP/2 (ALPN `h2` only), trusting
    /// the CA in the PEM file `ca`. The other clients here speak HTTP/1.1,
    /// which the WebSocket upgrade needs.
    pub fn http2_client(ca: &Path) -> awc::Client {
        let connector = awc::Connector::new().rustls_0_23(client_config_with(ca, &[b"h2"]));
        awc::Client::builder()
            .connector(connector)
            .disable_redirects()
            .timeout(Duration::from_secs(15))
            .finish()
    }

    /// The same client, sending Basic auth with every request.
    pub fn basic(&self, user: &str, password: &str) -> WebClient {
        WebClient {
            basic: Some((user.into(), password.into())),
            ..self.clone()
        }
    }

    /// `http[s]://HOST`
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The session cookie it holds, `name=value`.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    /// Sends `method path` with `headers` and `body`; keeps a session cookie
    /// the answer sets (and drops it when the answer clears it).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, password);
        }
        if let Some(cookie) = &self.cookie {
            request = request.insert_header(("cookie", cookie.as_str()));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        let body: Bytes = body.into();
        let mut response = request.send_body(body).await.expect("the app answers");
        let body = response.body().limit(16 << 20).await.expect("a body");
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let text = set.to_str().unwrap_or_default();
            let pair = text.split(';').next().unwrap_or_default().trim();
            let cleared = pair.ends_with('=') || text.contains("Max-Age=0");
            self.cookie = (!cleared).then(|| pair.to_string());
        }
        Answer {
            status: response.status().as_u16(),
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    /// A JSON `POST`.
    pub async fn post_json(&mut self, path: &str, body: Value) -> Answer {
        let headers = [("content-type", "application/json")];
        self.send(Method::POST, path, &headers, body.to_string())
            .await
    }

    pub async fn delete(&mut self, path: &str) -> Answer {
        self.send(Method::DELETE, path, &[], Bytes::new()).await
    }

    /// Signs in through `POST /login` with the form a browser sends, as a
    /// program (JSON answer); keeps the cookie on success.
    pub async fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        let form = format!(
            "username={}&password={}",
            form_encode(user),
            form_encode(password)
        );
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ];
        self.send(Method::POST, "/login", &headers, form).await
    }

    /// The WebSocket upgrade of `/ws` with this client's credentials and
    /// `headers` (`origin`, say).
    pub fn ws_request(&self, headers: &[(&str, &str)]) -> WebsocketsRequest {
        let url = format!("{}/ws", self.base.replacen("http", "ws", 1));
        let mut request = self.client.ws(url).max_frame_size(64 << 20);
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(cookie) = &self.cookie {
            request = request.set_header("cookie", cookie.as_str());
        }
        for (name, value) in headers {
            request = request.set_header(*name, *value);
        }
        request
    }

    /// Opens `/ws`, or says which HTTP status refused the upgrade.
    pub async fn ws(&self, headers: &[(&str, &str)]) -> Result<Ws, u16> {
        Ws::connect_request(self.ws_request(headers)).await
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
