//! `LeanServer` against a real Mosquitto: the bridge's sessions, an app's own
//! WebSocket route and refused upgrades are served as actix-web's server
//! serves them, on the bare socket once upgraded; plain requests too, and
//! HTTP/2 over TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::{web, App, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use mqtt_actor::web::{AllowAll, AuthError, Bridge, BridgeConfig, LeanServer, Principal};
use mqtt_actor::MqttActor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use test_support::raw_ws::{self, handshake, read_until, text_frame};
use test_support::web::WebClient;
use test_support::{mqtt_config, wait_connected, Mosquitto, TestCa, PATIENCE};
use tokio::io::AsyncReadExt;

/// An app's own WebSocket route: echoes each text frame.
struct Echo;

impl Actor for Echo {
    type Context = ws::WebsocketContext<Self>;
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Echo {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        if let Ok(ws::Message::Text(text)) = msg {
            ctx.text(format!("echo: {text}"));
        }
    }
}

async fn echo(req: HttpRequest, payload: web::Payload) -> actix_web::Result<HttpResponse> {
    ws::start(Echo, &req, payload)
}

/// An app's own WebSocket that never reads what its client sends: the
/// answer's body holds the request's payload and never yields.
async fn hold(req: HttpRequest, payload: web::Payload) -> actix_web::Result<HttpResponse> {
    let body = futures::stream::unfold(payload, |payload| async move {
        std::future::pending::<()>().await;
        Some((Ok::<_, actix_web::Error>(web::Bytes::new()), payload))
    });
    Ok(ws::handshake(&req)?.streaming(body))
}

/// The bridge under `/mqtt` (for users who send `x-user`) beside `/echo`,
/// served by a `LeanServer` over TLS when `tls` is given.
async fn serve(broker: &Mosquitto, tls: Option<&TestCa>) -> SocketAddr {
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .expect("the actor starts");
    wait_connected(&mqtt, true).await;
    let bridge = Bridge::builder(mqtt, BridgeConfig::default())
        .authenticator(
            |req: &HttpRequest| -> Result<Option<Principal>, AuthError> {
                let user = req.headers().get("x-user").and_then(|v| v.to_str().ok());
                Ok(user.map(Principal::user))
            },
        )
        .authorizer(AllowAll)
        .build()
        .expect("the bridge builds");
    let server = LeanServer::new(move || {
        App::new()
            .service(web::scope("/mqtt").configure(bridge.configure()))
            .route("/echo", web::get().to(echo))
            .route("/hold", web::get().to(hold))
    })
    .on_connect(Bridge::on_connect)
    .workers(1);
    let server = match tls {
        Some(ca) => server.bind_rustls_0_23("127.0.0.1:0", server_config(ca)),
        None => server.bind("127.0.0.1:0"),
    }
    .expect("the server binds");
    let addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    addr
}

fn server_config(ca: &TestCa) -> rustls::ServerConfig {
    let chain = CertificateDer::pem_file_iter(&ca.server_cert)
        .expect("the certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates");
    let key = PrivateKeyDer::from_pem_file(&ca.server_key).expect("the key");
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a server configuration")
}

#[actix_rt::test]
async fn frames_sent_with_the_handshake_are_read() {
    let broker = Mosquitto::start();
    let addr = serve(&broker, None).await;
    // One write: the request, then at once a subscribe.
    let subscribe = json!({"type": "subscribe", "topic": "lean/#", "id": 7}).to_string();
    let request = handshake(addr, "/mqtt/ws", &[("x-user", "ann")]);
    let mut socket = raw_ws::open(addr, &request, &[text_frame(&subscribe)]).await;
    let (head, frames) = read_until(&mut socket, "\"subscribed\"").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let granted: Value = frames
        .iter()
        .map(|f| serde_json::from_str::<Value>(f).expect("JSON frames"))
        .find(|f| f["type"] == "subscribed")
        .expect("the subscribe's answer");
    assert_eq!(granted["id"], 7, "{granted}");

    // The same for an app's own WebSocket route.
    let request = handshake(addr, "/echo", &[]);
    let mut socket = raw_ws::open(addr, &request, &[text_frame("first")]).await;
    let (head, frames) = read_until(&mut socket, "echo: first").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(frames, ["echo: first"]);
}

#[actix_rt::test]
async fn an_apps_own_websocket_route_reads_and_writes_as_long_as_it_lasts() {
    let broker = Mosquitto::start();
    let addr = serve(&broker, None).await;
    let (_, mut echo) = awc::Client::new()
        .ws(format!("http://{addr}/echo"))
        .connect()
        .await
        .expect("the upgrade is accepted");
    use futures::{SinkExt, StreamExt};
    // Frames larger than what the connection keeps waiting at once (32
    // KiB), within actix-web-actors' own limit (64 KiB).
    let big = "x".repeat(60_000);
    for i in 0..20 {
        let text = format!("{i} {big}");
        echo.send(awc::ws::Message::Text(text.clone().into()))
            .await
            .expect("the frame is sent");
        let answer = tokio::time::timeout(PATIENCE, echo.next())
            .await
            .expect("an answer in time")
            .expect("the socket stays open")
            .expect("a frame");
        assert_eq!(answer, awc::ws::Frame::Text(format!("echo: {text}").into()));
    }
}

#[actix_rt::test]
async fn a_refused_upgrade_is_answered_and_ends_the_connection() {
    let broker = Mosquitto::start();
    let addr = serve(&broker, None).await;
    for (path, status) in [("/mqtt/ws", "401"), ("/nowhere", "404")] {
        let mut socket = raw_ws::open(addr, &handshake(addr, path, &[]), &[]).await;
        let mut answer = Vec::new();
        tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer))
            .await
            .expect("the server ends the connection")
            .expect("the socket reads");
        let answer = String::from_utf8_lossy(&answer).to_lowercase();
        assert!(
            answer.starts_with(&format!("http/1.1 {status}")),
            "{answer}"
        );
        assert!(answer.contains("connection: close"), "{answer}");
        if status == "401" {
            let body = answer.split("\r\n\r\n").nth(1).expect("a body");
            let body: Value = serde_json::from_str(body).expect("a JSON body");
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        }
    }
}

#[actix_rt::test]
async fn over_tls_sessions_and_http2_requests_are_served() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let ca = TestCa::generate(dir.path(), "lean");
    let broker = Mosquitto::start();
    let addr = serve(&broker, Some(&ca)).await;
    let host = format!("localhost:{}", addr.port());
    let client = WebClient::https(format!("{host}/mqtt"), &ca.ca);
    let mut ws = client
        .ws(&[("x-user", "ann")])
        .await
        .expect("the upgrade is accepted");
    let granted = ws
        .request(json!({"type": "subscribe", "topic": "lean/#"}), 1)
        .await;
    assert_eq!(granted["type"], "subscribed", "{granted}");

    let h2 = WebClient::http2_client(&ca.ca);
    let response = h2
        .get(format!("https://{host}/mqtt/healthz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("an answer over HTTP/2");
    assert_eq!(response.version(), actix_web::http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
}

/// The send and receive queues (bytes the kernel holds) of the TCP socket
/// from `local` to `remote` port on 127.0.0.1.
fn tcp_queues(local: u16, remote: u16) -> Option<(usize, usize)> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if port(fields[1])? != local || port(fields[2])? != remote {
            return None;
        }
        let (tx, rx) = fields[4].split_once(':')?;
        Some((
            usize::from_str_radix(tx, 16).ok()?,
            usize::from_str_radix(rx, 16).ok()?,
        ))
    })
}

#[actix_rt::test]
async fn what_nobody_reads_is_left_to_tcp() {
    let broker = Mosquitto::start();
    let addr = serve(&broker, None).await;
    let mut socket = raw_ws::open(addr, &handshake(addr, "/hold", &[]), &[]).await;
    let mut head = [0u8; 1024];
    let n = tokio::time::timeout(PATIENCE, socket.read(&mut head))
        .await
        .expect("an answer in time")
        .expect("the socket reads");
    assert!(
        head[..n].starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    let client = socket.local_addr().expect("a local address").port();

    // Write until the kernel takes no more and the queues stay as they are:
    // the server reads nothing. Whatever was written and is in neither
    // queue, the server read, and keeps for a reader that never comes.
    let chunk = vec![b'x'; 64 * 1024];
    let (mut written, mut last, mut unchanged) = (0usize, None, 0);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while unchanged < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server kept reading"
        );
        match socket.try_write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let (sent_queue, _) = tcp_queues(client, addr.port()).expect("the client's socket");
                let (_, received_queue) =
                    tcp_queues(addr.port(), client).expect("the server's socket");
                // Bytes just received but not yet acknowledged count in both
                // queues: the figure is at most what the server read.
                let read = written.saturating_sub(sent_queue + received_queue);
                assert!(
                    read <= 48 * 1024,
                    "the server read {read} bytes that nobody takes ({written} written)"
                );
                let queues = Some((sent_queue, received_queue));
                unchanged = if queues == last { unchanged + 1 } else { 0 };
                last = queues;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("the socket failed: {e}"),
        }
    }
}
