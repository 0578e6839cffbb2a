//! The real example app as a child process (the same `main` as `example-app`,
//! built as this package's `app-under-test` binary), plus WebSocket and HTTP
//! clients that speak PROTOCOL.md to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use actix_http::ws;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use serde_json::Value;

use crate::PATIENCE;

pub struct App {
    child: Child,
    /// `127.0.0.1:PORT` of the HTTP server.
    pub addr: String,
    /// The embedded broker's port, when the app started one.
    pub embedded_port: Option<u16>,
    lines: mpsc::Receiver<String>,
}

impl App {
    /// Starts the app against the broker at `broker_port` on 127.0.0.1.
    pub fn start(broker_port: u16, env: &[(&str, &str)]) -> App {
        let port = broker_port.to_string();
        let mut all = vec![
            ("MQTT_BROKER_URL", "127.0.0.1"),
            ("MQTT_BROKER_PORT", port.as_str()),
        ];
        all.extend_from_slice(env);
        Self::start_with(&all)
    }

    /// Starts the app with exactly `env` (no MQTT_BROKER_URL: embedded broker).
    pub fn start_with(env: &[(&str, &str)]) -> App {
        let mut cmd = Command::new(binary());
        for key in ["MQTT_BROKER_URL", "MQTT_BROKER_PORT", "HTTP_BIND"] {
            cmd.env_remove(key);
        }
        cmd.env("HTTP_BIND", "127.0.0.1:0")
            .env("MQTT_RECONNECT_MIN_DELAY_MS", "100")
            .env("MQTT_RECONNECT_MAX_DELAY_MS", "500")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("the app starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("app: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut app = App {
            child,
            addr: String::new(),
            embedded_port: None,
            lines,
        };
        let deadline = Instant::now() + PATIENCE;
        while app.addr.is_empty() {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = app
                .lines
                .recv_timeout(wait)
                .expect("the app prints its address");
            if let Some(addr) = line.strip_prefix("listening on http://") {
                app.addr = addr.trim().to_string();
            } else if let Some(rest) = line.strip_prefix("embedded MQTT broker on 127.0.0.1:") {
                let port = rest.split_whitespace().next().unwrap_or_default();
                app.embedded_port = port.parse().ok();
            }
        }
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait on the app") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An HTTP client for this app.
    pub fn http(&self) -> Http {
        Http {
            base: format!("http://{}", self.addr),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(15))
                .finish(),
        }
    }

    pub async fn ws(&self) -> Ws {
        Ws::connect(&format!("ws://{}/ws", self.addr)).await
    }
}

/// The `app-under-test` binary that cargo builds beside the test executables
/// (`target/<profile>/deps/<test>` → `target/<profile>/app-under-test`).
fn binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    dir.join(format!("app-under-test{}", std::env::consts::EXE_SUFFIX))
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client for the app's API.
pub struct Http {
    base: String,
    client: awc::Client,
}

impl Http {
    async fn send(&self, request: awc::ClientRequest, body: Option<Bytes>) -> (u16, Bytes) {
        let sent = match body {
            Some(body) => {
                request
                    .insert_header(("content-type", "application/json"))
                    .send_body(body)
                    .await
            }
            None => request.send().await,
        };
        let mut response = sent.expect("the app answers HTTP");
        let body = response.body().limit(16 << 20).await.expect("a body");
        (response.status().as_u16(), body)
    }

    fn json((status, body): (u16, Bytes)) -> (u16, Value) {
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        Self::json(self.send(self.client.get(self.at(path)), None).await)
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let (status, body) = self.send(self.client.get(self.at(path)), None).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    pub async fn post(&self, path: &str, body: impl Into<Bytes>) -> (u16, Value) {
        Self::json(
            self.send(self.client.post(self.at(path)), Some(body.into()))
                .await,
        )
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        Self::json(self.send(self.client.delete(self.at(path)), None).await)
    }
}

type Framed = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

/// A WebSocket client speaking PROTOCOL.md.
pub struct Ws {
    framed: Framed,
}

/// What the server sent when a socket ended.
#[derive(Debug)]
pub enum Closed {
    Frame(Option<ws::CloseReason>),
    Eof,
}

impl Ws {
    pub async fn connect(url: &str) -> Ws {
        let (_, framed) = awc::Client::new()
            .ws(url)
            .max_frame_size(64 << 20)
            .connect()
            .await
            .expect("WebSocket connects");
        Ws { framed }
    }

    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.framed
            .send(ws::Message::Text(text.to_string().into()))
            .await
            .expect("frame sent");
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        self.framed
            .send(ws::Message::Binary(Bytes::copy_from_slice(data)))
            .await
            .expect("frame sent");
    }

    /// The next JSON frame, or `None` after `wait` (pings answered on the way).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .ok()??;
            match frame.expect("a valid frame") {
                ws::Frame::Text(t) => return Some(serde_json::from_slice(&t).expect("JSON frame")),
                ws::Frame::Ping(p) => {
                    let _ = self.framed.send(ws::Message::Pong(p)).await;
                }
                ws::Frame::Close(reason) => panic!("socket closed: {reason:?}"),
                _ => {}
            }
        }
    }

    /// The next JSON frame; panics after the harness's patience.
    pub async fn next(&mut self) -> Value {
        self.next_within(PATIENCE)
            .await
            .expect("a frame from the server")
    }

    /// The next frame of `type`, skipping others (status frames, say).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let v = self.next().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Sends a request and returns the reply with the same `id`.
    pub async fn request(&mut self, mut value: Value, id: u64) -> Value {
        value["id"] = id.into();
        self.send(value).await;
        loop {
            let v = self.next().await;
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Waits for the end of the socket, answering pings, ignoring data.
    pub async fn closed(&mut self) -> Closed {
        loop {
            match tokio::time::timeout(PATIENCE, self.framed.next())
                .await
                .expect("the socket ends")
            {
                None => return Closed::Eof,
                Some(Ok(ws::Frame::Close(reason))) => return Closed::Frame(reason),
                Some(Err(_)) => return Closed::Eof,
                Some(Ok(_)) => {}
            }
        }
    }
}
