//! The app's limits on what one web client can make it do (issue 8): the
//! filters a session holds under pipelining, its requests in flight, and the
//! sessions a server and an address may open. Memory bounds are in
//! `memory.rs`; the README's "Limits" section lists every limit.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use test_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads replies from `rx` until every id of `ids` has had one; each id is
/// answered exactly once. Returns the replies in the order they came.
async fn replies(rx: &mut WsReceiver, ids: usize, wait: Duration) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut got = Vec::new();
    while seen.len() < ids {
        let v = rx
            .next_within(wait)
            .await
            .unwrap_or_else(|| panic!("silence after {} of {ids} replies", seen.len()));
        if let Some(id) = v["id"].as_u64() {
            assert!(seen.insert(id), "id {id} answered twice: {v}");
            got.push(v);
        }
    }
    got
}

/// After [`replies`]: a ping answered with nothing numbered before its pong
/// (answers come in order), so a duplicate of the last replies shows too.
async fn no_more_replies(tx: &mut WsSender, rx: &mut WsReceiver) {
    tx.send(json!({"type": "ping", "id": "end"})).await;
    loop {
        let v = rx
            .next_within(PATIENCE)
            .await
            .expect("the pong of the last ping");
        if v["id"] == "end" {
            return;
        }
        assert!(v["id"].as_u64().is_none(), "a reply after the last: {v}");
    }
}

#[actix_rt::test]
async fn pipelined_subscribes_never_hold_more_filters_than_the_limit() {
    init_logging();
    let broker = Mosquitto::start();
    // The default limit: 100 filters.
    let app = App::start(broker.port).await;
    let (mut tx, mut rx) = app.ws().await.split();
    // 300 subscribes in one burst, before any answer is read.
    let sending = actix_rt::spawn(async move {
        for i in 0..300 {
            let request = json!({"type": "subscribe", "topic": format!("many/{i}"), "id": i});
            tx.send(request).await;
        }
        tx
    });
    let got = replies(&mut rx, 300, PATIENCE).await;
    let mut tx = sending.await.expect("the burst was sent");
    no_more_replies(&mut tx, &mut rx).await;
    let granted = got.iter().filter(|v| v["type"] == "subscribed").count();
    let refused: Vec<&Value> = got.iter().filter(|v| v["type"] == "error").collect();
    assert_eq!((granted, refused.len()), (100, 200));
    assert!(
        refused.iter().all(|v| v["code"] == "bad_request"),
        "{refused:?}"
    );
    let (_, subs) = app.http().get("/api/subscriptions").await;
    let held = subs
        .as_array()
        .expect("a list")
        .iter()
        .filter(|s| s["topic"].as_str().is_some_and(|t| t.starts_with("many/")))
        .count();
    assert_eq!(held, 100, "the broker holds what the session was granted");
}

#[actix_rt::test]
async fn one_client_pipelining_publishes_does_not_starve_another() {
    init_logging();
    let broker = Mosquitto::start();
    // The default limit: 64 requests of a session in flight.
    let app = App::start(broker.port).await;
    let (mut tx, mut rx) = app.ws().await.split();
    let mut probe = app.ws().await;
    assert_eq!(probe.next_of("status").await["connected"], true);

    const N: usize = 20_000;
    let sending = actix_rt::spawn(async move {
        for i in 0..N {
            let request = json!({"type": "publish", "topic": format!("pipe/{}", i % 100),
                "payload": "x", "qos": 1, "id": i});
            tx.send(request).await;
        }
        tx
    });
    let started = Instant::now();
    let reading = actix_rt::spawn(async move {
        let got = replies(&mut rx, N, PATIENCE).await;
        let published = got.iter().filter(|v| v["type"] == "published").count();
        (published, rx)
    });

    // Meanwhile another client's ping, and its publish (which goes through
    // the same MqttActor), keep being answered.
    let (mut worst_ping, mut worst_publish, mut probes) = (Duration::ZERO, Duration::ZERO, 0u64);
    // Probe rounds answered while the burst's answers were still coming.
    let mut answered_during = 0u64;
    while !reading.is_finished() {
        probes += 1;
        let t = Instant::now();
        let pong = probe.request(json!({"type": "ping"}), probes).await;
        assert_eq!(pong["type"], "pong");
        worst_ping = worst_ping.max(t.elapsed());
        let t = Instant::now();
        let publish = json!({"type": "publish", "topic": "probe", "payload": "p", "qos": 1});
        let done = probe.request(publish, 1_000_000 + probes).await;
        assert_eq!(done["type"], "published", "{done}");
        worst_publish = worst_publish.max(t.elapsed());
        if !reading.is_finished() {
            answered_during += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (published, mut rx) = reading.await.expect("the replies were read");
    let mut tx = sending.await.expect("the burst was sent");
    no_more_replies(&mut tx, &mut rx).await;
    println!(
        "{N} pipelined QoS 1 publishes answered in {:?}; meanwhile {probes} probes \
         ({answered_during} answered before the burst's last answer), slowest ping {worst_ping:?}, \
         slowest publish {worst_publish:?}",
        started.elapsed()
    );
    assert_eq!(
        published, N,
        "every pipelined publish was answered as published"
    );
    // Not starved: the other client's ping and publish were answered while
    // the burst's answers were still coming (how fast is printed above).
    assert!(
        answered_during > 0,
        "the other client got no answer before the burst's last one"
    );
}

/// A WebSocket upgrade request by hand, to read the refusal's status and body.
async fn upgrade(addr: SocketAddr) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the app accepts");
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("an answer");
        assert!(n > 0, "the connection ended before the answer");
        response.extend_from_slice(&buf[..n]);
        if let Some(i) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&response[..head_end]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    if status == 101 {
        return (status, Value::Null);
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a content-length");
    while response.len() < head_end + length {
        let n = stream.read(&mut buf).await.expect("the body");
        assert!(n > 0, "the body ended early");
        response.extend_from_slice(&buf[..n]);
    }
    let body = serde_json::from_slice(&response[head_end..head_end + length]).expect("JSON");
    (status, body)
}

#[actix_rt::test]
async fn sessions_past_the_limits_get_503_and_past_one_address_429() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| s.max_sessions = 3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(app.ws().await);
    }
    let (status, body) = upgrade(app.addr()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("WS_MAX_SESSIONS")));
    // A session that ends gives its place back.
    drop(open.pop());
    eventually("a place again after a session ended", || async {
        let (status, _) = upgrade(app.addr()).await;
        (status == 101).then_some(())
    })
    .await;

    let app = App::start_with(broker.port, |s| s.max_sessions_per_ip = 2).await;
    let _a = app.ws().await;
    let _b = app.ws().await;
    let (status, body) = upgrade(app.addr()).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("WS_MAX_SESSIONS_PER_IP")));
}

#[actix_rt::test]
async fn the_default_per_address_limit_is_100_sessions() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let mut open = Vec::new();
    for _ in 0..100 {
        open.push(app.ws().await);
    }
    assert_eq!(upgrade(app.addr()).await.0, 429);
}
