//! Memory stays bounded whatever clients send (issue 8; the history of
//! issue 12 too): the app runs in-process, so the test process's live heap (a
//! counting allocator) and its RSS are the app's. The tests here run one at a
//! time, since each measures the whole process.

use std::time::Duration;

use serde_json::json;
use test_support::app::test_settings;
use test_support::memory::{live_within, measure, mib, Counting, MIB};
use test_support::raw_ws;
use test_support::*;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Held by each test: a measurement must not see another test's load.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[actix_rt::test]
async fn deep_filters_are_refused_and_cost_no_memory_nor_a_crash() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let mut broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let mut ws = app.ws().await;
    assert_eq!(ws.next_of("status").await["connected"], true);
    let (live0, rss0) = measure("before the deep filters");

    let deep = format!("d/{}", "/".repeat(60_000));
    for id in 1..=20u64 {
        let reply = ws
            .request(json!({"type": "subscribe", "topic": deep}), id)
            .await;
        assert_eq!(reply["type"], "error", "{}", reply["type"]);
        assert_eq!(reply["code"], "invalid_topic", "{}", reply["message"]);
    }
    // The limits, exactly: 32 levels and 1024 bytes pass, one more does not.
    let levels = |n: usize| vec!["l"; n].join("/");
    let ok = ws
        .request(json!({"type": "subscribe", "topic": levels(32)}), 30)
        .await;
    assert_eq!(ok["type"], "subscribed", "{ok}");
    let err = ws
        .request(json!({"type": "subscribe", "topic": levels(33)}), 31)
        .await;
    assert_eq!(err["code"], "invalid_topic", "{err}");
    let long = |n: usize| format!("b/{}", "x".repeat(n - 2));
    let ok = ws
        .request(json!({"type": "subscribe", "topic": long(1024)}), 32)
        .await;
    assert_eq!(ok["type"], "subscribed", "{ok}");
    let err = ws
        .request(json!({"type": "subscribe", "topic": long(1025)}), 33)
        .await;
    assert_eq!(err["code"], "invalid_topic", "{err}");
    // The HTTP API holds the same line.
    let http = app.http();
    let (code, err) = http
        .post("/api/subscriptions", json!({ "topic": deep }).to_string())
        .await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (400, Some("invalid_topic"))
    );

    let (code, subs) = http.get("/api/subscriptions").await;
    assert_eq!(code, 200);
    assert_eq!(subs.as_array().map(Vec::len), Some(2), "{subs}");
    broker.stop();
    assert_eq!(ws.next_of("status").await["connected"], false);
    broker.resume();
    assert_eq!(ws.next_of("status").await["connected"], true);
    app.wait_ready().await;
    assert_eq!(
        ws.request(json!({"type": "ping"}), 40).await["type"],
        "pong"
    );
    assert_eq!(http.get("/healthz").await.0, 200);

    let (live1, rss1) = measure("after the deep filters and a broker restart");
    let live_growth = live1.saturating_sub(live0);
    let rss_growth = rss1.saturating_sub(rss0);
    assert!(
        live_growth < 2 * MIB,
        "20 deep filters left {:.1} MiB on the heap",
        mib(live_growth)
    );
    assert!(
        rss_growth < 8 * MIB,
        "20 deep filters raised RSS by {:.1} MiB",
        mib(rss_growth)
    );
}

/// Subscribes `ws` to `filter` at QoS 1.
async fn subscribed(ws: &mut Ws, filter: &str, id: u64) {
    let reply = ws
        .request(json!({"type": "subscribe", "topic": filter, "qos": 1}), id)
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
}

/// Publishes `n` messages of `size` bytes on `prefix/i` at QoS 1, while `reader`
/// reads them all.
async fn flood_read_by(broker: &Mosquitto, prefix: &str, n: usize, size: usize, reader: &mut Ws) {
    let feed = Observer::connect(&broker.url(), &[]).await;
    let payload = "p".repeat(size);
    const BATCH: usize = 8;
    let mut read = 0;
    for batch in 0..n.div_ceil(BATCH) {
        let upto = ((batch + 1) * BATCH).min(n);
        let topics: Vec<String> = (batch * BATCH..upto)
            .map(|i| format!("{prefix}/{i}"))
            .collect();
        futures::future::join_all(
            topics
                .iter()
                .map(|t| feed.publish(t, payload.clone(), 1, false)),
        )
        .await;
        while read < upto {
            let v = reader.next().await;
            assert_ne!(v["type"], "lagged", "the reading client never lags");
            if v["type"] == "message" {
                read += 1;
            }
        }
    }
    feed.disconnect().await;
}

#[actix_rt::test]
async fn a_client_that_stops_reading_costs_at_most_its_queue_bytes() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let broker = Mosquitto::start();
    // Default queue limits: 1000 frames, 8 MiB. The idle timeout is long
    // enough that the silent client is not closed during the flood.
    let app = App::start_with(broker.port, |s| s.idle_timeout_s = 600).await;
    let mut slow = app.ws().await;
    let mut fast = app.ws().await;
    subscribed(&mut slow, "big/#", 1).await;
    subscribed(&mut fast, "big/#", 1).await;
    // Buffers that grow to the largest frame once (sockets, codecs) grow now.
    flood_read_by(&broker, "big/warm", 20, 200 * 1024, &mut fast).await;
    while slow.next_of("message").await["topic"] != "big/warm/19" {}
    let (live0, _) = measure("before 800 messages of 200 KiB");

    const N: usize = 800;
    let started = std::time::Instant::now();
    flood_read_by(&broker, "big", N, 200 * 1024, &mut fast).await;
    println!("the flood took {:?}", started.elapsed());
    // The slow client's queue may hold 8 MiB; the HTTP layer's buffer and the
    // frame being written add about one frame.
    let held = live_within("a client that stops reading", live0, 8 * MIB + 2 * MIB).await;
    measure("after the flood");
    println!(
        "a client that stopped reading during 800 × 200 KiB holds {:.1} MiB",
        mib(held)
    );

    // Now it reads: what it got plus what it was told it lost is everything.
    let (mut received, mut dropped) = (0u64, 0u64);
    while received + dropped < N as u64 {
        let v = slow.next().await;
        match v["type"].as_str() {
            Some("message") => received += 1,
            Some("lagged") => dropped += v["dropped"].as_u64().expect("a count"),
            _ => {}
        }
    }
    println!("slow client: {received} received, {dropped} dropped");
    assert!(dropped > 0, "the slow client was told it lagged");
    assert_eq!(received + dropped, N as u64);
}

#[actix_rt::test]
async fn a_socket_not_drained_past_the_idle_timeout_is_closed_and_its_queue_freed() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.heartbeat_s = 1;
        s.idle_timeout_s = 3;
    })
    .await;
    let http = app.http();
    let stuck = app.ws().await;
    let (mut stuck_tx, mut stuck_rx) = stuck.split();
    let mut fast = app.ws().await;
    stuck_tx
        .send(json!({"type": "subscribe", "topic": "stuck/#", "qos": 1, "id": 1}))
        .await;
    loop {
        let v = stuck_rx.next_within(PATIENCE).await.expect("a reply");
        if v["id"] == 1 {
            assert_eq!(v["type"], "subscribed", "{v}");
            break;
        }
    }
    subscribed(&mut fast, "stuck/#", 1).await;
    let (live0, _) = measure("before the stuck client's flood");

    // The stuck client keeps sending, but reads nothing from here on.
    let sending = actix_rt::spawn(async move {
        for i in 0.. {
            let ping = json!({"type": "ping", "id": i}).to_string();
            if !stuck_tx.try_send_text(&ping).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // 60 MB: more than the kernel's socket buffers on both sides can absorb, so
    // the outbox itself is left holding frames the socket does not take.
    flood_read_by(&broker, "stuck", 300, 200 * 1024, &mut fast).await;
    // The reading client must not fall silent meanwhile (it would be closed
    // at the same time, and one session would never be seen): it keeps
    // answering the server's pings as it reads.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (_, status) = http.get("/api/status").await;
        if status["sessions"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stuck session not closed: {status}"
        );
        let _ = fast.next_within(Duration::from_millis(50)).await;
    }
    let (_, subs) = http.get("/api/subscriptions").await;
    assert_eq!(
        subs[0]["sessions"], 1,
        "the stuck session's filter is released: {subs}"
    );
    let freed = live_within("the stuck session's queue freed", live0, 2 * MIB).await;
    println!(
        "after the stuck session closed: {:.1} MiB above the start",
        mib(freed)
    );
    sending.abort();
    // What it finally reads ends: the socket was closed (a socket still
    // open after the harness's patience fails here).
    let closed = stuck_rx.closed().await;
    println!("the stuck session's socket ended: {closed:?}");
}

#[actix_rt::test]
async fn the_topic_cache_stays_within_its_bytes() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let broker = Mosquitto::start();
    // The history keeps the same messages (shared, not copied), within its own bound.
    let app = App::start_with(broker.port, |s| {
        s.topic_cache_bytes = 4 * MIB;
        s.history_bytes = 4 * MIB;
    })
    .await;
    let http = app.http();
    let (code, _) = http
        .post(
            "/api/subscriptions",
            json!({"topic": "cache/#", "qos": 1}).to_string(),
        )
        .await;
    assert_eq!(code, 200);
    let feed = Observer::connect(&broker.url(), &[]).await;
    let payload = "c".repeat(256 * 1024);
    // Fill the cache first (and the buffers that grow to the largest message once).
    for i in 0..20 {
        feed.publish(&format!("cache/warm/{i}"), payload.clone(), 1, false)
            .await;
    }
    feed.publish("cache/warm/last", "end", 1, false).await;
    eventually("the warm-up in the cache", || async {
        let (_, topics) = http.get("/api/topics").await;
        topics
            .as_array()?
            .iter()
            .any(|e| e["topic"] == "cache/warm/last")
            .then_some(())
    })
    .await;
    let (_, status) = http.get("/api/status").await;
    let before = status["messages_in"].as_u64().expect("a count");
    let (live0, _) = measure("with a full cache, before 100 more topics of 256 KiB");
    for i in 0..100 {
        feed.publish(&format!("cache/{i}"), payload.clone(), 1, false)
            .await;
    }
    feed.publish("cache/last", "end", 1, false).await;
    // Every message reached the app (and so the cache) once the server has
    // counted them; small answers, so no large HTTP buffer is measured.
    eventually("the 101 messages in", || async {
        let (_, status) = http.get("/api/status").await;
        (status["messages_in"].as_u64()? >= before + 101).then_some(())
    })
    .await;
    let held = live_within("the topic cache", live0, 2 * MIB).await;
    println!(
        "a full cache after 100 more topics: {:.1} MiB above before",
        mib(held)
    );
    let (_, topics) = http.get("/api/topics").await;
    let entries = topics.as_array().expect("a list");
    assert!(entries.iter().any(|e| e["topic"] == "cache/last"));
    let kept: usize = entries
        .iter()
        .map(|e| e["payload"].as_str().map_or(0, str::len))
        .sum();
    println!(
        "the cache keeps {} topics, {:.1} MiB of payload",
        entries.len(),
        mib(kept)
    );
    assert!(kept <= 4 * MIB, "{kept} bytes kept");
    assert!(entries.len() >= 15, "it keeps what fits: {}", entries.len());
}

#[actix_rt::test]
async fn the_history_stays_within_its_bytes() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.topic_cache_bytes = MIB;
        s.history_bytes = 4 * MIB;
        s.history_per_topic = 1000;
    })
    .await;
    let http = app.http();
    let (code, _) = http
        .post(
            "/api/subscriptions",
            json!({"topic": "hist/#", "qos": 1}).to_string(),
        )
        .await;
    assert_eq!(code, 200);
    let feed = Observer::connect(&broker.url(), &[]).await;
    let payload = "h".repeat(256 * 1024);
    // One topic: only the bound in bytes holds it. Fill it first.
    for _ in 0..20 {
        feed.publish("hist/one", payload.clone(), 1, false).await;
    }
    feed.publish("hist/warm", "end", 1, false).await;
    eventually("the warm-up in the history", || async {
        let (_, rows) = http.get("/api/history?topic=hist/warm").await;
        (rows.as_array()?.len() == 1).then_some(())
    })
    .await;
    let (_, status) = http.get("/api/status").await;
    let before = status["messages_in"].as_u64().expect("a count");
    let (live0, _) = measure("with a full history, before 100 more messages of 256 KiB");
    for _ in 0..100 {
        feed.publish("hist/one", payload.clone(), 1, false).await;
    }
    eventually("the 100 messages in", || async {
        let (_, status) = http.get("/api/status").await;
        (status["messages_in"].as_u64()? >= before + 100).then_some(())
    })
    .await;
    let held = live_within("the history", live0, 2 * MIB).await;
    println!(
        "a full history after 100 more messages: {:.1} MiB above before",
        mib(held)
    );
    let (_, rows) = http.get("/api/history?topic=hist/one&limit=1000").await;
    let rows = rows.as_array().expect("a list");
    let kept: usize = rows
        .iter()
        .map(|e| e["payload"].as_str().map_or(0, str::len))
        .sum();
    println!(
        "the history keeps {} messages, {:.1} MiB of payload",
        rows.len(),
        mib(kept)
    );
    assert!(kept <= 4 * MIB, "{kept} bytes kept");
    assert!(rows.len() >= 14, "it keeps what fits: {}", rows.len());
}

/// The descriptors this process has open.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[actix_rt::test]
async fn a_session_costs_the_app_one_descriptor() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    // One session first, so that whatever the first one sets up is counted before.
    let mut first = app.ws().await;
    assert_eq!(first.next_of("status").await["connected"], true);
    let before = open_descriptors();
    const N: usize = 40;
    let mut sessions = Vec::new();
    for _ in 0..N {
        let mut ws = app.ws().await;
        ws.next_of("status").await;
        sessions.push(ws);
    }
    let after = open_descriptors();
    // Client and app share this process: each session is the client's socket
    // and the app's, two descriptors; a third (a duplicate the app keeps of
    // its socket) would make it three.
    let per_session = (after - before) as f64 / N as f64;
    println!("{N} sessions: {before} -> {after} descriptors, {per_session:.2} per session");
    assert!(
        per_session < 2.5,
        "{per_session:.2} descriptors per session (client and app together)"
    );
}

/// `/api/status`'s `sessions`, asked over a connection of `client`'s own.
async fn sessions_over(client: &awc::Client, base: &str) -> Option<u64> {
    let mut response = client.get(format!("{base}/api/status")).send().await.ok()?;
    let status: serde_json::Value = response.json().await.ok()?;
    status["sessions"].as_u64()
}

#[actix_rt::test]
async fn a_stuck_event_stream_over_http2_is_cut_off() {
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::generate(dir.path(), "app");
    let broker = Mosquitto::start();
    let mut settings = test_settings();
    settings.mqtt.set("BROKER_URL", "127.0.0.1").unwrap();
    let port = broker.port.to_string();
    settings.mqtt.set("BROKER_PORT", port).unwrap();
    settings.tls_cert = Some(ca.server_cert.clone());
    settings.tls_key = Some(ca.server_key.clone());
    settings.heartbeat_s = 1;
    settings.idle_timeout_s = 3;
    let app = App::run(settings).await;
    let base = format!("https://localhost:{}", app.addr().port());
    // Two clients, two connections: the stuck stream's connection cannot
    // carry the status requests once its window is full.
    let (stuck, status) = (
        WebClient::http2_client(&ca.ca),
        WebClient::http2_client(&ca.ca),
    );
    let url = format!("{base}/api/stream?topic=stuck/%23");
    let response = eventually("an event stream over HTTP/2", || {
        let (stuck, url) = (stuck.clone(), url.clone());
        async move {
            let response = stuck.get(url).send().await.ok()?;
            (response.status() == 200).then_some(response)
        }
    })
    .await;
    assert_eq!(response.version(), awc::http::Version::HTTP_2);
    assert_eq!(sessions_over(&status, &base).await, Some(1));

    // 8 MB that the stream's client never reads: more than HTTP/2's windows
    // and the sockets' buffers take, so frames wait in the outbox.
    let feed = Observer::connect(&broker.url(), &[]).await;
    let payload = "p".repeat(200 * 1024);
    for i in 0..40 {
        feed.publish(&format!("stuck/{i}"), payload.clone(), 1, false)
            .await;
    }
    feed.disconnect().await;
    // Past the idle timeout the app shuts the connection down (through its
    // duplicate of the socket: HTTP/2 answers in a task of its own), and the
    // stream's session ends.
    eventually("the stuck HTTP/2 stream cut off", || async {
        (sessions_over(&status, &base).await == Some(0)).then_some(())
    })
    .await;
    drop(response);
}

/// The app's server (`LeanServer`) drops actix-http's two 8 KiB buffers
/// once a connection upgrades: an idle session, subscribed, costs the app
/// under 8 KiB of heap (23.5 KiB on actix-web's `HttpServer`, 16 of them
/// those buffers). The clients are bare sockets, so that the process's heap
/// grows by next to nothing for them.
#[actix_rt::test]
async fn an_idle_session_costs_the_app_under_8_kib_of_heap() {
    const SESSIONS: usize = 300;
    let _one = ONE_AT_A_TIME.lock().await;
    init_logging();
    let broker = Mosquitto::start();
    // Every session comes from 127.0.0.1.
    let app = App::start_with(broker.port, |s| s.max_sessions_per_ip = SESSIONS + 1).await;
    let addr = app.addr();
    let request = raw_ws::handshake(addr, "/ws", &[]);
    let subscribe = json!({"type": "subscribe", "topic": "idle/#", "id": 1}).to_string();
    let open = || async {
        let mut socket = raw_ws::open(addr, &request, &[raw_ws::text_frame(&subscribe)]).await;
        raw_ws::read_until(&mut socket, "\"subscribed\"").await;
        socket
    };
    // A first session grows what any first session grows (pools, maps).
    let first = open().await;
    let mut sockets = Vec::with_capacity(SESSIONS);
    let (live0, _) = measure("with one idle session");
    for _ in 0..SESSIONS {
        sockets.push(open().await);
    }
    let (live1, _) = measure(&format!("with {} idle sessions", SESSIONS + 1));
    let (_, status) = app.http().get("/api/status").await;
    assert_eq!(
        status["sessions"],
        SESSIONS + 1,
        "every session is open: {status}"
    );
    let each = live1.saturating_sub(live0) / SESSIONS;
    println!("{each} bytes of heap per idle session");
    assert!(
        each < 8 * 1024,
        "an idle session costs {each} bytes of heap, more than 8 KiB"
    );
    drop((first, sockets));
}
