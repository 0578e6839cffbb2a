//! The embedded broker can only be reached through its guard (issue 17, rows
//! 6 and 7), against the real app in-process: its internal port refuses
//! every client but the guard (so a topic with NUL cannot reach the app that
//! way either), and the guard closes idle and slow connections and holds a
//! bounded number of them. MQTT bytes are written by hand: no client library
//! would send a topic with NUL.

use std::time::Instant;

use example_app::{RunningApp, Settings};
use serde_json::{json, Value};
use test_support::app::test_settings;
use test_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The app in-process with its embedded broker, stopped on drop.
struct Embedded {
    running: RunningApp,
    http: Http,
    _stop: oneshot::Sender<()>,
}

impl Embedded {
    /// Starts it with the test settings changed by `configure`, and waits
    /// until it is connected to its broker.
    async fn start(configure: impl FnOnce(&mut Settings)) -> Embedded {
        init_logging();
        let mut settings = test_settings();
        configure(&mut settings);
        let (stop, stopped) = oneshot::channel::<()>();
        let running = example_app::run(settings, stopped)
            .await
            .unwrap_or_else(|e| panic!("the app starts: {e}"));
        let http = Http::new(running.http_addr());
        eventually("the app connected to its broker", || async {
            (http.get("/readyz").await.0 == 200).then_some(())
        })
        .await;
        Embedded {
            running,
            http,
            _stop: stop,
        }
    }

    /// The guard's port, where clients connect.
    fn port(&self) -> u16 {
        self.running
            .embedded_broker_port()
            .expect("an embedded broker")
    }

    /// A WebSocket session subscribed to `#`.
    async fn ws_on_everything(&self) -> Ws {
        let mut ws = Ws::connect(&format!("ws://{}/ws", self.running.http_addr())).await;
        let reply = ws.request(json!({"type":"subscribe","topic":"#"}), 1).await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        ws
    }
}

const CONNACK_ACCEPTED: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

/// Everything `conn` gets until it is closed (reset counts as closed), or
/// `None` if it is still open after [`PATIENCE`].
async fn until_closed(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A raw client connected through the guard, its CONNACK read.
async fn connected(port: u16, id: &str, keep_alive: u16) -> TcpStream {
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    c.write_all(&connect_packet(id, keep_alive, None))
        .await
        .unwrap();
    let mut connack = [0u8; 4];
    c.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack, CONNACK_ACCEPTED, "{id} is accepted");
    c
}

/// Publishes `topic` through the guard and waits until `ws` gets it: the app
/// is alive and serving.
async fn still_serving(port: u16, ws: &mut Ws, topic: &str) {
    let mut c = connected(port, &format!("feed-{}", topic.replace('/', "-")), 60).await;
    c.write_all(&publish_packet(topic.as_bytes(), b"alive"))
        .await
        .unwrap();
    let frame: Value = ws.next_of("message").await;
    assert_eq!(frame["topic"], topic, "{frame}");
}

#[actix_rt::test]
async fn the_internal_port_refuses_everyone_but_the_guard() {
    let app = Embedded::start(|_| {}).await;
    let mut ws = app.ws_on_everything().await;
    let internal = app
        .running
        .embedded_broker_internal_port()
        .expect("an internal port");
    assert_ne!(internal, app.port());
    for login in [None, Some(("embedded-broker-guard", "a guess"))] {
        let mut direct = TcpStream::connect(("127.0.0.1", internal)).await.unwrap();
        let mut bytes = connect_packet("direct", 60, login);
        bytes.extend(publish_packet(b"a\0b", b"boom"));
        direct.write_all(&bytes).await.unwrap();
        let got = until_closed(&mut direct)
            .await
            .expect("the broker closes a client without the guard's login");
        assert!(!got.starts_with(&CONNACK_ACCEPTED), "{login:?}: {got:?}");
    }
    still_serving(app.port(), &mut ws, "after/direct").await;

    // Through the guard, the same PUBLISH closes the connection.
    let mut guarded = connected(app.port(), "guarded", 60).await;
    guarded
        .write_all(&publish_packet(b"a\0b", b"boom"))
        .await
        .unwrap();
    let got = until_closed(&mut guarded).await;
    assert_eq!(got, Some(Vec::new()), "the guard closes it");
    still_serving(app.port(), &mut ws, "after/guarded").await;
    assert_eq!(app.http.get("/healthz").await.0, 200);
}

#[actix_rt::test]
async fn idle_and_slow_connections_are_closed() {
    let app = Embedded::start(|s| s.embedded_broker_timeout_s = 1).await;
    let port = app.port();
    // No CONNECT.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // A CONNECT with keep-alive 1 s, then nothing: closed after 1.5 s.
    let mut idle = connected(port, "idle", 1).await;
    // A packet sent 10 bytes a second: slower than 1 s for 100 bytes.
    let mut slow = connected(port, "slow", 60).await;
    let mut packet = publish_packet(b"slow", &[b's'; 94]);
    let trickle = actix_rt::spawn(async move {
        let mut written = 0;
        for byte in packet.drain(..) {
            if slow.write_all(&[byte]).await.is_err() {
                break;
            }
            written += 1;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        (slow, written)
    });
    assert!(
        until_closed(&mut silent).await.is_some(),
        "no CONNECT: closed"
    );
    let got = until_closed(&mut idle).await;
    assert_eq!(got, Some(Vec::new()), "no PINGREQ within 1.5 s: closed");
    let (mut slow, written) = trickle.await.unwrap();
    let got = until_closed(&mut slow).await;
    assert!(
        got.is_some() && written < 100,
        "a slow packet: closed after {written} bytes"
    );
    // The app's own connection is still served.
    let mut ws = app.ws_on_everything().await;
    still_serving(port, &mut ws, "after/slow").await;
}

#[actix_rt::test]
async fn connections_over_the_cap_are_refused_while_held_ones_work() {
    // The app's own connection takes one of the three.
    let app = Embedded::start(|s| s.embedded_broker_max_connections = 3).await;
    let port = app.port();
    let mut ws = app.ws_on_everything().await;
    let mut held = connected(port, "held-1", 60).await;
    let other = connected(port, "held-2", 60).await;
    let mut over = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = over.write_all(&connect_packet("over", 60, None)).await;
    let got = until_closed(&mut over).await;
    assert_eq!(got, Some(Vec::new()), "over the cap: closed, no CONNACK");
    held.write_all(&publish_packet(b"cap/held", b"x"))
        .await
        .unwrap();
    let frame: Value = ws.next_of("message").await;
    assert_eq!(frame["topic"], "cap/held", "{frame}");
    // A slot freed is a slot for the next client.
    drop(other);
    let mut next = eventually("a freed slot taken", || async {
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        c.write_all(&connect_packet("next", 60, None)).await.ok()?;
        let mut connack = [0u8; 4];
        c.read_exact(&mut connack).await.ok()?;
        (connack == CONNACK_ACCEPTED).then_some(c)
    })
    .await;
    next.write_all(&publish_packet(b"cap/next", b"x"))
        .await
        .unwrap();
    let frame: Value = ws.next_of("message").await;
    assert_eq!(frame["topic"], "cap/next", "{frame}");
}
