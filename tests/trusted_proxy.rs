//! Behind a reverse proxy (issue 17, row 10): with `HTTP_TRUSTED_PROXIES`
//! the app takes the client's address from the `X-Forwarded-For` a real
//! HAProxy (`option forwardfor`) adds, so the per-address limits (failed
//! sign-ins, sessions per address) count each client behind it apart;
//! without it every client has the proxy's address, as before. Clients are
//! told apart by their loopback source address (`127.0.0.2`, `127.0.0.3`).
//! Forwarding headers from a peer that is not a trusted proxy are ignored,
//! and the scheme a trusted proxy forwards makes the login cookie `Secure`
//! and brings `Strict-Transport-Security`.

use std::net::{IpAddr, Ipv4Addr};

use tempfile::TempDir;
use test_support::web::Method;
use test_support::*;

/// A broker, a password file, the app (told the proxy's name) and HAProxy
/// in front of it.
struct Setup {
    _dir: TempDir,
    _broker: Mosquitto,
    app: App,
    proxy: HaProxy,
}

impl Setup {
    /// The app trusts `trusted` (`None`: no proxy) and holds one session
    /// per address.
    async fn start(trusted: Option<&str>) -> Setup {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let passwd = PasswordFile::create(dir.path().join("passwd"), &[("reader", "read-pass")]);
        let broker = Mosquitto::start();
        let proxy_port = free_port();
        let password_file = passwd.path().to_path_buf();
        let trusted = trusted.map(|t| t.parse().expect("a list of proxies"));
        let app = App::start_with(broker.port, |s| {
            s.password_file = Some(password_file);
            s.trusted_proxies = trusted;
            s.max_sessions_per_ip = 1;
            s.allowed_hosts = vec![format!("127.0.0.1:{proxy_port}")];
            s.allowed_origins = vec![format!("http://127.0.0.1:{proxy_port}")];
        })
        .await;
        let proxy = HaProxy::start_on(proxy_port, &[app.addr()]);
        proxy.wait_up(&["app0"]).await;
        Setup {
            _dir: dir,
            _broker: broker,
            app,
            proxy,
        }
    }

    /// A client at `127.0.0.{last}` going through the proxy.
    fn via_proxy(&self, last: u8) -> WebClient {
        let address = format!("127.0.0.1:{}", self.proxy.port);
        WebClient::from_source(address, loopback(last))
    }
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn status(client: &WebClient) -> u16 {
    client.clone().get("/api/status").await.status
}

/// Five wrong passwords from `client`, each `401`.
async fn five_bad_logins(client: &WebClient) {
    for i in 0..5 {
        let guess = client.basic("reader", &format!("guess-{i}"));
        assert_eq!(status(&guess).await, 401);
    }
}

#[actix_rt::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_per_address_limits() {
    let setup = Setup::start(Some("127.0.0.1")).await;
    let (two, three) = (setup.via_proxy(2), setup.via_proxy(3));
    five_bad_logins(&two).await;
    assert_eq!(status(&two.basic("reader", "read-pass")).await, 429);
    assert_eq!(status(&three.basic("reader", "read-pass")).await, 200);

    // One session per address: each client behind the proxy has its own.
    let three = three.basic("reader", "read-pass");
    let _first = three.ws(&[]).await.expect("the first socket opens");
    assert_eq!(three.ws(&[]).await.err(), Some(429));
    let mut four = setup.via_proxy(4);
    assert_eq!(four.sign_in("reader", "read-pass").await.status, 200);
    let _other = four.ws(&[]).await.expect("another client's socket opens");
}

#[actix_rt::test]
async fn without_trusted_proxies_the_clients_behind_the_proxy_share_its_limits() {
    let setup = Setup::start(None).await;
    let (two, three) = (setup.via_proxy(2), setup.via_proxy(3));
    five_bad_logins(&two).await;
    assert_eq!(status(&three.basic("reader", "read-pass")).await, 429);
}

#[actix_rt::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let setup = Setup::start(Some("127.0.0.1")).await;
    // Straight to the app, from 127.0.0.2, which is no proxy.
    let direct = |last: u8| WebClient::from_source(setup.app.addr(), loopback(last));
    let spoofer = direct(2);
    for i in 0..6u8 {
        let forged = format!("198.51.100.{i}");
        let headers = [
            ("x-forwarded-for", forged.as_str()),
            ("forwarded", "for=192.0.2.9"),
        ];
        let answer = spoofer
            .basic("reader", "guess")
            .send(Method::GET, "/api/status", &headers, "")
            .await;
        assert_eq!(answer.status, if i < 5 { 401 } else { 429 }, "attempt {i}");
    }
    let proto = [("x-forwarded-proto", "https")];
    let answer = direct(3)
        .send(Method::POST, "/login", &login_headers(&proto), LOGIN)
        .await;
    assert_eq!(answer.status, 200);
    assert!(
        !login_cookie(&answer).contains("Secure"),
        "{}",
        login_cookie(&answer)
    );
    assert_eq!(answer.header("strict-transport-security"), None);
}

const LOGIN: &str = "username=reader&password=read-pass";

fn login_headers<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "application/json"),
    ];
    headers.extend_from_slice(extra);
    headers
}

fn login_cookie(answer: &web::Answer) -> String {
    answer
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("mqtt_actor_session="))
        .expect("the login cookie is set")
        .to_string()
}

#[actix_rt::test]
async fn the_scheme_a_trusted_proxy_forwards_makes_the_cookie_secure_and_sends_hsts() {
    let setup = Setup::start(Some("127.0.0.1")).await;
    // 127.0.0.1 is the trusted proxy here.
    let proxy = WebClient::from_source(setup.app.addr(), loopback(1));
    let https = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "198.51.100.1"),
    ];
    let answer = proxy
        .clone()
        .send(Method::POST, "/login", &login_headers(&https), LOGIN)
        .await;
    assert_eq!(answer.status, 200);
    let cookie = login_cookie(&answer);
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert_eq!(
        answer.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let page = proxy.clone().send(Method::GET, "/login", &https, "").await;
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    let forwarded = [("forwarded", "for=198.51.100.2;proto=https")];
    let answer = proxy
        .clone()
        .send(Method::POST, "/login", &login_headers(&forwarded), LOGIN)
        .await;
    assert!(
        login_cookie(&answer).contains("; Secure"),
        "{}",
        login_cookie(&answer)
    );

    let http = [
        ("x-forwarded-proto", "http"),
        ("x-forwarded-for", "198.51.100.3"),
    ];
    let answer = proxy
        .clone()
        .send(Method::POST, "/login", &login_headers(&http), LOGIN)
        .await;
    assert_eq!(answer.status, 200);
    assert!(
        !login_cookie(&answer).contains("Secure"),
        "{}",
        login_cookie(&answer)
    );
    assert_eq!(answer.header("strict-transport-security"), None);
}
