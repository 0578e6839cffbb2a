//! The example app end to end: the app started in-process, a real Mosquitto,
//! real WebSocket and HTTP clients, every row and rule of the web API contract
//! (`docs/protocol.md`). The tests about the binary as a process are in
//! `example-app/tests/process.rs`.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use test_support::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn subscribed(ws: &mut Ws, topic: &str, id: u64) {
    let reply = ws
        .request(json!({"type": "subscribe", "topic": topic, "qos": 1}), id)
        .await;
    assert_eq!(
        reply,
        json!({"type": "subscribed", "id": id, "topic": topic, "qos": 1})
    );
}

/// The `message` frames up to (not including) the one on `marker`.
async fn messages_until(ws: &mut Ws, marker: &str) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let v = ws.next_of("message").await;
        if v["topic"] == marker {
            return got;
        }
        got.push(v);
    }
}

#[actix_rt::test]
async fn a_session_gets_status_replies_and_only_its_messages_once() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let mut ws = app.ws().await;
    let status = ws.next().await;
    assert_eq!(status["type"], "status");
    assert_eq!(status["connected"], true);
    assert!(status["broker"]
        .as_str()
        .unwrap()
        .contains(&broker.port.to_string()));

    assert_eq!(
        ws.request(json!({"type": "ping"}), 1).await,
        json!({"type": "pong", "id": 1})
    );
    // A string id comes back as it was sent.
    ws.send(json!({"type": "ping", "id": "text-id"})).await;
    assert_eq!(ws.next().await, json!({"type": "pong", "id": "text-id"}));

    subscribed(&mut ws, "s/#", 2).await;
    subscribed(&mut ws, "s/+/t", 3).await;
    subscribed(&mut ws, "marker", 4).await;
    let mut other = app.ws().await;
    subscribed(&mut other, "elsewhere/#", 1).await;

    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("s/x/t", "both filters match", 1, false).await;
    feed.publish("elsewhere/1", "not for this session", 1, false)
        .await;
    feed.publish("s/bin", vec![0u8, 159, 146, 150, 255], 1, true)
        .await;
    feed.publish("marker", "end", 1, false).await;
    let got = messages_until(&mut ws, "marker").await;
    assert_eq!(
        got.len(),
        2,
        "one frame per message, only matching ones: {got:?}"
    );
    assert_eq!(
        got[0],
        json!({"type": "message", "topic": "s/x/t", "payload": "both filters match", "encoding": "utf8", "qos": 1, "retain": false})
    );
    assert_eq!(got[1]["encoding"], "base64");
    assert_eq!(
        B64.decode(got[1]["payload"].as_str().unwrap()).unwrap(),
        [0u8, 159, 146, 150, 255]
    );
    assert_eq!(other.next_of("message").await["topic"], "elsewhere/1");

    let reply = ws
        .request(json!({"type": "unsubscribe", "topic": "s/+/t"}), 5)
        .await;
    assert_eq!(
        reply,
        json!({"type": "unsubscribed", "id": 5, "topic": "s/+/t"})
    );
}

#[actix_rt::test]
async fn publishing_from_a_session_is_acknowledged_and_seen_outside() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let mut watcher = Observer::connect(&broker.url(), &["from-ws/#"]).await;
    let mut ws = app.ws().await;
    let reply = ws
        .request(json!({"type": "publish", "topic": "from-ws/a", "payload": "{\"v\": \"quote\\\"d\"}", "qos": 1}), 7)
        .await;
    assert_eq!(
        reply,
        json!({"type": "published", "id": 7, "topic": "from-ws/a"})
    );
    let m = watcher.next().await;
    assert_eq!(
        (m.topic(), m.payload_str().as_ref(), m.qos() as i32),
        ("from-ws/a", "{\"v\": \"quote\\\"d\"}", 1)
    );

    let bytes = [1u8, 2, 0, 254];
    let reply = ws
        .request(json!({"type": "publish", "topic": "from-ws/bin", "payload": B64.encode(bytes), "encoding": "base64", "qos": 2, "retain": true}), 8)
        .await;
    assert_eq!(reply["type"], "published");
    let m = watcher.next().await;
    assert_eq!(m.payload(), &bytes);
    assert_eq!(m.qos() as i32, 2);
}

#[actix_rt::test]
async fn bad_input_gets_the_right_error_and_disturbs_nobody() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.max_frame_bytes = 1024;
        s.max_filters = 2;
    })
    .await;
    let mut bystander = app.ws().await;
    subscribed(&mut bystander, "calm/#", 1).await;
    let feed = Observer::connect(&broker.url(), &[]).await;
    let mut ws = app.ws().await;

    let cases: Vec<(&str, &str)> = vec![
        ("this is not json", "bad_request"),
        (r#"{"type":"dance","id":1}"#, "bad_request"),
        (r#"{"type":"subscribe","id":2}"#, "bad_request"),
        (r#"{"type":"subscribe","topic":42,"id":3}"#, "bad_request"),
        (
            r#"{"type":"publish","topic":"a/+","id":4}"#,
            "invalid_topic",
        ),
        (
            r#"{"type":"publish","topic":"a/b","qos":7,"id":5}"#,
            "bad_request",
        ),
        (
            r#"{"type":"subscribe","topic":"a/#/b","id":6}"#,
            "invalid_topic",
        ),
        (
            r#"{"type":"publish","topic":"a","payload":"@@@","encoding":"base64","id":7}"#,
            "bad_request",
        ),
        (
            r#"{"type":"publish","topic":"a","retain":"yes","id":8}"#,
            "bad_request",
        ),
    ];
    for (i, (text, code)) in cases.iter().enumerate() {
        ws.send_text(text).await;
        let err = ws.next_of("error").await;
        assert_eq!(err["code"], *code, "{text}: {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
        if text.contains("\"id\"") {
            assert_eq!(err["id"], json!(i), "{text}");
        }
        feed.publish("calm/tick", format!("{i}"), 1, false).await;
        assert_eq!(
            bystander.next_of("message").await["payload"],
            format!("{i}")
        );
    }
    ws.send_binary(b"\x00\x01").await;
    assert_eq!(ws.next_of("error").await["code"], "bad_request");
    ws.send_text(&format!(
        r#"{{"type":"publish","topic":"big","payload":"{}"}}"#,
        "x".repeat(2000)
    ))
    .await;
    assert_eq!(ws.next_of("error").await["code"], "too_large");

    subscribed(&mut ws, "one", 20).await;
    subscribed(&mut ws, "two", 21).await;
    let err = ws
        .request(json!({"type": "subscribe", "topic": "three"}), 22)
        .await;
    assert_eq!(err["code"], "bad_request", "{err}");
    let err = ws
        .request(json!({"type": "unsubscribe", "topic": "never"}), 23)
        .await;
    assert_eq!(err["type"], "error");

    assert_eq!(
        ws.request(json!({"type": "ping"}), 24).await["type"],
        "pong",
        "the socket is still open"
    );
}

async fn feed_retained(broker: &Mosquitto, topic: &str, payload: &str) {
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish(topic, payload, 1, true).await;
    feed.disconnect().await;
}

async fn sessions_on(http: &Http, topic: &str) -> Option<i64> {
    let (_, subs) = http.get("/api/subscriptions").await;
    subs.as_array()?
        .iter()
        .find(|s| s["topic"] == topic)
        .map(|s| s["sessions"].as_i64().unwrap())
}

#[actix_rt::test]
async fn two_sessions_share_a_broker_subscription_until_both_leave() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let http = app.http();
    let mut a = app.ws().await;
    let mut b = app.ws().await;
    subscribed(&mut a, "shared/#", 1).await;
    subscribed(&mut b, "shared/#", 1).await;
    assert_eq!(sessions_on(&http, "shared/#").await, Some(2));
    let (_, subs) = http.get("/api/subscriptions").await;
    assert_eq!(
        subs,
        json!([{"topic": "shared/#", "qos": 1, "sessions": 2, "server": false}])
    );

    drop(a);
    eventually("one session left", || async {
        (sessions_on(&http, "shared/#").await == Some(1)).then_some(())
    })
    .await;
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("shared/x", "still here", 1, false).await;
    assert_eq!(b.next_of("message").await["payload"], "still here");
    drop(b);
    eventually("the filter released", || async {
        sessions_on(&http, "shared/#").await.is_none().then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn a_silent_client_is_timed_out_and_its_filters_released() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.heartbeat_s = 1;
        s.idle_timeout_s = 2;
    })
    .await;
    let http = app.http();
    let mut silent = app.ws().await;
    subscribed(&mut silent, "quiet/#", 1).await;
    assert_eq!(sessions_on(&http, "quiet/#").await, Some(1));
    // The client neither sends nor answers pings from here on.
    eventually("the silent session's filter released", || async {
        sessions_on(&http, "quiet/#").await.is_none().then_some(())
    })
    .await;
    let (_, status) = http.get("/api/status").await;
    assert_eq!(status["sessions"], 0);
}

#[actix_rt::test]
async fn the_http_api_publishes_subscribes_and_reports() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| s.max_frame_bytes = 1024).await;
    let http = app.http();
    let mut watcher = Observer::connect(&broker.url(), &["api/#"]).await;

    let (code, body) = http
        .post(
            "/api/publish",
            r#"{"topic":"api/x","payload":"hello","qos":1}"#,
        )
        .await;
    assert_eq!((code, body), (200, json!({"ok": true})));
    assert_eq!(watcher.next().await.payload_str(), "hello");
    for (body, status, code) in [
        ("{nope", 400, "bad_request"),
        (r#"{"topic":"api/#","payload":"x"}"#, 400, "invalid_topic"),
        (r#"{"topic":"api/x","qos":7}"#, 400, "bad_request"),
        (r#"{"payload":"x"}"#, 400, "bad_request"),
    ] {
        let (got, err) = http.post("/api/publish", body.to_string()).await;
        assert_eq!(
            (got, err["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {err}"
        );
    }
    let big = format!(r#"{{"topic":"api/x","payload":"{}"}}"#, "x".repeat(1500));
    let (got, err) = http.post("/api/publish", big).await;
    assert_eq!(
        (got, err["error"]["code"].as_str()),
        (413, Some("too_large"))
    );

    // Retained before the server subscribes: it arrives with the retain flag.
    feed_retained(&broker, "sensors/kept", "k").await;
    let (code, body) = http
        .post("/api/subscriptions", r#"{"topic":"sensors/+","qos":1}"#)
        .await;
    assert_eq!((code, body), (200, json!({"topic": "sensors/+", "qos": 1})));
    let (code, err) = http
        .post("/api/subscriptions", r#"{"topic":"a/#/b"}"#)
        .await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (400, Some("invalid_topic"))
    );
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("sensors/t1", "20", 1, false).await;
    feed.publish("sensors/t1", "21", 1, false).await;
    feed.publish("sensors/bin", vec![0xffu8, 0], 0, false).await;
    let topics = eventually("three topics cached", || async {
        let (_, t) = http.get("/api/topics").await;
        (t.as_array().map(Vec::len) == Some(3) && t[2]["count"] == 2 && t[0]["count"] == 1)
            .then_some(t)
    })
    .await;
    assert_eq!(topics[0]["topic"], "sensors/bin");
    assert_eq!(topics[0]["encoding"], "base64");
    assert_eq!(topics[0]["payload"], "/wA=");
    assert_eq!(
        (topics[1]["topic"].as_str(), topics[1]["retain"].as_bool()),
        (Some("sensors/kept"), Some(true))
    );
    let t1 = &topics[2];
    assert_eq!(
        (
            t1["payload"].as_str(),
            t1["retain"].as_bool(),
            t1["qos"].as_i64()
        ),
        (Some("21"), Some(false), Some(1))
    );
    assert!(t1["last_seen_ms"].as_u64().unwrap() > 1_600_000_000_000);

    let (_, subs) = http.get("/api/subscriptions").await;
    assert_eq!(
        subs,
        json!([{"topic": "sensors/+", "qos": 1, "sessions": 0, "server": true}])
    );
    assert_eq!(
        http.delete("/api/subscriptions?topic=sensors%2F%2B")
            .await
            .0,
        200
    );
    let (code, err) = http.delete("/api/subscriptions?topic=sensors%2F%2B").await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );
    let (code, err) = http.delete("/api/subscriptions").await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{err}"
    );
    let (code, err) = http.get("/api/no-such-thing").await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );

    let (code, status) = http.get("/api/status").await;
    assert_eq!(code, 200);
    for key in [
        "connected",
        "broker",
        "client_id",
        "uptime_s",
        "sessions",
        "messages_in",
        "messages_out",
        "dropped",
    ] {
        assert!(status.get(key).is_some(), "{key} in {status}");
    }
    assert_eq!(status["messages_in"], 4);
    assert_eq!(status["messages_out"], 1);
    assert_eq!(http.get("/healthz").await.0, 200);
    assert_eq!(http.get("/readyz").await.0, 200);
    let (code, metrics) = http.get_text("/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("mqtt_messages_in_total 4"), "{metrics}");
    assert!(metrics.contains("mqtt_connected 1"));
    let (code, page) = http.get_text("/").await;
    assert_eq!(code, 200);
    assert!(page.contains("data-testid=\"message-log\""));
    assert_eq!(http.get_text("/static/app.js").await.0, 200);
    let (code, err) = http.get("/static/no-such-asset.js").await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{err}"
    );
}

#[actix_rt::test]
async fn a_client_that_stops_reading_is_lagged_while_another_gets_everything() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| s.queue_frames = 50).await;
    let mut slow = app.ws().await;
    let mut fast = app.ws().await;
    subscribed(&mut slow, "flood/#", 1).await;
    subscribed(&mut fast, "flood/#", 1).await;

    const N: usize = 4000;
    let payload = "p".repeat(4096);
    let feed = Observer::connect(&broker.url(), &[]).await;
    // The reading client keeps up: at most BATCH messages are ever waiting for it.
    const BATCH: usize = 25;
    let mut count = 0;
    for batch in 0..N / BATCH {
        for i in 0..BATCH {
            feed.publish(
                &format!("flood/{}", batch * BATCH + i),
                payload.clone(),
                1,
                false,
            )
            .await;
        }
        while count < (batch + 1) * BATCH {
            let v = fast.next().await;
            assert_ne!(v["type"], "lagged", "the reading client never lags");
            if v["type"] == "message" {
                count += 1;
            }
        }
    }
    assert_eq!(count, N, "the reading client gets every message");

    // Now the slow client reads: what it got plus what it was told it lost is everything.
    let (mut received, mut dropped) = (0u64, 0u64);
    while received + dropped < N as u64 {
        let v = slow
            .next_within(PATIENCE)
            .await
            .unwrap_or_else(|| panic!("silence after {received} messages and {dropped} dropped"));
        match v["type"].as_str() {
            Some("message") => received += 1,
            Some("lagged") => dropped += v["dropped"].as_u64().unwrap(),
            _ => {}
        }
    }
    println!("slow client: {received} received, {dropped} dropped");
    assert!(dropped > 0, "the slow client was told it lagged");
    assert_eq!(received + dropped, N as u64);
    let (_, status) = app.http().get("/api/status").await;
    assert!(status["dropped"].as_u64().unwrap() >= dropped);
}

#[actix_rt::test]
async fn readiness_and_status_frames_follow_the_broker_and_subscriptions_come_back() {
    init_logging();
    let mut broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let http = app.http();
    let mut ws = app.ws().await;
    assert_eq!(ws.next_of("status").await["connected"], true);
    subscribed(&mut ws, "back/#", 1).await;
    assert_eq!(http.get("/readyz").await.0, 200);

    broker.stop();
    assert_eq!(ws.next_of("status").await["connected"], false);
    assert_eq!(http.get("/readyz").await.0, 503);
    let err = ws
        .request(json!({"type": "publish", "topic": "x", "payload": "y"}), 3)
        .await;
    assert_eq!(err["code"], "not_connected");
    let (code, err) = http.post("/api/publish", r#"{"topic":"x"}"#).await;
    assert_eq!(
        (code, err["error"]["code"].as_str()),
        (503, Some("not_connected"))
    );

    broker.resume();
    assert_eq!(ws.next_of("status").await["connected"], true);
    assert_eq!(http.get("/readyz").await.0, 200);
    eventually("the filter active again", || async {
        let (_, subs) = http.get("/api/subscriptions").await;
        (subs[0]["topic"] == "back/#").then_some(())
    })
    .await;
    let feed = Observer::connect(&broker.url(), &[]).await;
    // The re-subscription may still be in flight: publish until one arrives.
    let deadline = std::time::Instant::now() + PATIENCE;
    let got = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no message after the restart"
        );
        feed.publish("back/1", "again", 1, false).await;
        if let Some(v) = ws
            .next_within(Duration::from_millis(300))
            .await
            .filter(|v| v["type"] == "message")
        {
            break v;
        }
    };
    assert_eq!(got["payload"], "again");
}

#[actix_rt::test]
async fn stopping_the_app_closes_sockets_with_1001_and_leaves_the_broker_without_the_will() {
    init_logging();
    let broker = Mosquitto::start();
    let mut watcher = Observer::connect(&broker.url(), &["app/will", "app/marker"]).await;
    let app = App::start_with(broker.port, |s| {
        s.mqtt.set("LAST_WILL_TOPIC", "app/will").unwrap();
        s.mqtt.set("LAST_WILL_MESSAGE", "gone").unwrap();
    })
    .await;
    let mut ws = app.ws().await;
    assert_eq!(ws.next_of("status").await["connected"], true);

    let (stopped, closed) = futures::join!(app.stop(), ws.closed());
    let () = stopped;
    match closed {
        Closed::Frame(Some(reason)) => assert_eq!(u16::from(reason.code), 1001),
        other => panic!("expected a 1001 close frame, got {other:?}"),
    }
    watcher.publish("app/marker", "m", 1, false).await;
    assert_eq!(
        watcher.next().await.topic(),
        "app/marker",
        "no last will after a clean shutdown"
    );
}

#[actix_rt::test]
async fn without_a_broker_url_the_app_runs_its_own_broker() {
    init_logging();
    let app = App::embedded().await;
    let port = app
        .embedded_broker_port()
        .expect("the app runs an embedded broker");
    let url = format!("tcp://127.0.0.1:{port}");
    let mut ws = app.ws().await;
    assert_eq!(ws.next_of("status").await["connected"], true);
    subscribed(&mut ws, "demo/#", 1).await;
    let mut outside = Observer::connect(&url, &["demo/out"]).await;
    outside
        .publish("demo/in", "from mosquitto_pub's seat", 1, false)
        .await;
    assert_eq!(
        ws.next_of("message").await["payload"],
        "from mosquitto_pub's seat"
    );
    let reply = ws
        .request(
            json!({"type": "publish", "topic": "demo/out", "payload": "to the outside", "qos": 1}),
            9,
        )
        .await;
    assert_eq!(reply["type"], "published");
    assert_eq!(outside.next().await.payload_str(), "to the outside");
}

#[actix_rt::test]
async fn session_churn_leaves_no_subscription_behind() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let http = app.http();
    let mut keeper = app.ws().await;
    subscribed(&mut keeper, "churn/#", 1).await;
    for round in 0..3u64 {
        let mut sessions = Vec::new();
        for i in 0..20u64 {
            let mut ws = app.ws().await;
            subscribed(&mut ws, "churn/#", 1).await;
            subscribed(&mut ws, &format!("churn/{round}/{i}"), 2).await;
            sessions.push(ws);
        }
        assert_eq!(sessions_on(&http, "churn/#").await, Some(21));
        drop(sessions);
        eventually("the churned sessions' filters released", || async {
            let (_, subs) = http.get("/api/subscriptions").await;
            (subs == json!([{"topic": "churn/#", "qos": 1, "sessions": 1, "server": false}]))
                .then_some(())
        })
        .await;
    }
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("churn/after", "still flowing", 1, false).await;
    assert_eq!(keeper.next_of("message").await["payload"], "still flowing");
    let (_, status) = http.get("/api/status").await;
    assert_eq!(status["sessions"], 1);
}

#[actix_rt::test]
async fn overlapping_filters_deliver_once_per_session_on_the_embedded_broker() {
    init_logging();
    // rumqttd sends one PUBLISH per matching subscription, even on MQTT 3.1.1.
    let app = App::embedded().await;
    let port = app.embedded_broker_port().expect("the embedded broker");
    let mut both = app.ws().await;
    subscribed(&mut both, "d/#", 1).await;
    subscribed(&mut both, "d/+", 2).await;
    let mut wide = app.ws().await;
    subscribed(&mut wide, "d/#", 1).await;
    let mut narrow = app.ws().await;
    subscribed(&mut narrow, "d/+", 1).await;

    let feed = Observer::connect(&format!("tcp://127.0.0.1:{port}"), &[]).await;
    for i in 0..5 {
        feed.publish(&format!("d/{i}"), "x", 1, false).await;
    }
    feed.publish("d/end", "marker", 1, false).await;
    for ws in [&mut both, &mut wide, &mut narrow] {
        let got: Vec<Value> = messages_until(ws, "d/end").await;
        let topics: Vec<&str> = got.iter().filter_map(|m| m["topic"].as_str()).collect();
        assert_eq!(
            topics,
            ["d/0", "d/1", "d/2", "d/3", "d/4"],
            "one frame each"
        );
    }
}
