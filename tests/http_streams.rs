//! The app's HTTP streams and records end to end (`docs/protocol.md`:
//! `/api/stream`, `/api/history`, `/api/retained`): the app in-process
//! against a real Mosquitto, messages published from outside by a plain Paho
//! client, the event stream read by a real HTTP client (awc) that reads only
//! when the test asks. The same behind a password file and an ACL:
//! `http_streams_access.rs`.

use serde_json::{json, Value};
use test_support::*;

/// The `message` events up to (not including) the one on `marker`.
async fn messages_until(sse: &mut Sse, marker: &str) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let v = sse.next_named("message").await.json();
        if v["topic"] == marker {
            return got;
        }
        got.push(v);
    }
}

async fn stream(app: &App, query: &str) -> Sse {
    Sse::open(&app.url(""), &format!("/api/stream?{query}"), None)
        .await
        .unwrap_or_else(|(status, body)| panic!("the stream opens: {status} {body}"))
}

async fn sessions_on(http: &Http, topic: &str) -> Option<i64> {
    let (_, subs) = http.get("/api/subscriptions").await;
    subs.as_array()?
        .iter()
        .find(|s| s["topic"] == topic)
        .map(|s| s["sessions"].as_i64().expect("a count"))
}

#[actix_rt::test]
async fn a_stream_carries_each_message_as_the_websocket_frame_and_heartbeats() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| s.heartbeat_s = 1).await;
    let mut sse = stream(&app, "topic=plant/%23&topic=plant/%2B/temp").await;
    assert_eq!(sse.content_type, "text/event-stream");
    let opening = sse.next().await;
    assert_eq!((opening.event.as_str(), opening.comments.len()), ("", 1));
    let mut ws = app.ws().await;
    ws.request(json!({"type": "subscribe", "topic": "plant/#"}), 1)
        .await;

    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("plant/a/temp", "21.5", 1, false).await;
    feed.publish("elsewhere", "no", 1, false).await;
    feed.publish("plant/bin", vec![0u8, 159, 146, 150], 1, false)
        .await;
    feed.publish("plant/end", "", 1, false).await;

    let got = messages_until(&mut sse, "plant/end").await;
    assert_eq!(
        got,
        [
            json!({"type": "message", "topic": "plant/a/temp", "payload": "21.5",
                   "encoding": "utf8", "qos": 0, "retain": false}),
            json!({"type": "message", "topic": "plant/bin", "payload": "AJ+Slg==",
                   "encoding": "base64", "qos": 0, "retain": false}),
        ],
        "once per message, however many filters match"
    );
    for expected in &got {
        assert_eq!(&ws.next_of("message").await, expected, "the same JSON");
    }
    let heartbeat = sse.next().await;
    assert_eq!(heartbeat.comments, ["heartbeat"], "{heartbeat:?}");
}

#[actix_rt::test]
async fn a_stream_refuses_bad_filters_before_it_starts() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| s.max_filters = 2).await;
    let refused = |query: &'static str| {
        let base = app.url("");
        async move {
            match Sse::open(&base, &format!("/api/stream{query}"), None).await {
                Ok(_) => panic!("{query} opened a stream"),
                Err((status, body)) => (status, body["error"]["code"].clone()),
            }
        }
    };
    assert_eq!(refused("").await, (400, json!("bad_request")));
    assert_eq!(
        refused("?topic=a/%23/b").await,
        (400, json!("invalid_topic"))
    );
    assert_eq!(
        refused("?topic=a&topic=b&topic=c").await,
        (400, json!("bad_request"))
    );
    assert_eq!(
        refused("?topic=%24share/g/a").await,
        (403, json!("forbidden"))
    );
    let (_, subs) = app.http().get("/api/subscriptions").await;
    assert_eq!(subs, json!([]), "nothing held for a refused stream");
}

#[actix_rt::test]
async fn a_stream_that_stops_reading_is_lagged_and_the_counts_add_up() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.queue_frames = 50;
        // The slow reader pauses for as long as the flood takes.
        s.idle_timeout_s = 600;
    })
    .await;
    let mut slow = stream(&app, "topic=flood/%23").await;
    let mut fast = app.ws().await;
    fast.request(json!({"type": "subscribe", "topic": "flood/#"}), 1)
        .await;

    const N: usize = 4000;
    let payload = "p".repeat(4096);
    let feed = Observer::connect(&broker.url(), &[]).await;
    // The WebSocket client keeps up and paces the flood; the stream is not read.
    const BATCH: usize = 25;
    let mut count = 0;
    for batch in 0..N / BATCH {
        for i in 0..BATCH {
            let topic = format!("flood/{}", batch * BATCH + i);
            feed.publish(&topic, payload.clone(), 1, false).await;
        }
        while count < (batch + 1) * BATCH {
            if fast.next().await["type"] == "message" {
                count += 1;
            }
        }
    }

    // Now the stream is read: what it got plus what it was told it lost is everything.
    let (mut received, mut dropped) = (0u64, 0u64);
    while received + dropped < N as u64 {
        let event = slow
            .next_within(PATIENCE)
            .await
            .unwrap_or_else(|| panic!("silence after {received} messages and {dropped} dropped"));
        match event.event.as_str() {
            "message" => received += 1,
            "lagged" => {
                let lagged = event.json();
                assert_eq!(lagged.as_object().map(|o| o.len()), Some(1), "{lagged}");
                dropped += lagged["dropped"].as_u64().expect("a count");
            }
            _ => {}
        }
    }
    println!("stream: {received} received, {dropped} dropped");
    assert!(dropped > 0, "the stream was told it lagged");
    assert_eq!(received + dropped, N as u64);
    let (_, status) = app.http().get("/api/status").await;
    assert!(status["dropped"].as_u64().expect("a count") >= dropped);
    feed.publish("flood/after", "x", 1, false).await;
    assert_eq!(
        slow.next_named("message").await.json()["topic"],
        "flood/after"
    );
}

#[actix_rt::test]
async fn a_stream_is_a_session_and_its_filters_go_with_its_client() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.heartbeat_s = 1;
        s.max_sessions_per_ip = 1;
    })
    .await;
    let http = app.http();
    let mut sse = stream(&app, "topic=gone/%23").await;
    sse.next().await;
    assert_eq!(sessions_on(&http, "gone/#").await, Some(1));
    let (_, status) = http.get("/api/status").await;
    assert_eq!(status["sessions"], 1);
    let again = Sse::open(&app.url(""), "/api/stream?topic=x", None).await;
    assert_eq!(again.err().map(|(status, _)| status), Some(429));
    let ws = Ws::connect_status(&app.url("/ws").replacen("http", "ws", 1)).await;
    assert_eq!(
        ws.err(),
        Some(429),
        "a WebSocket finds no slot either: refused with 429"
    );

    drop(sse);
    eventually("the stream's filter released", || async {
        sessions_on(&http, "gone/#").await.is_none().then_some(())
    })
    .await;
    eventually("the stream's session ended", || async {
        (http.get("/api/status").await.1["sessions"] == 0).then_some(())
    })
    .await;
    let mut ws = app.ws().await;
    let reply = ws.request(json!({"type": "ping"}), 1).await;
    assert_eq!(reply["type"], "pong", "the slot is free again");
}

#[actix_rt::test]
async fn stopping_the_app_ends_its_streams() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let mut sse = stream(&app, "topic=a").await;
    sse.next().await;
    let stopping = actix_rt::spawn(app.stop());
    assert!(sse.ended().await, "the stream ends at shutdown");
    stopping.await.expect("the app stops");
}

#[actix_rt::test]
async fn history_keeps_the_last_messages_of_the_servers_topics_oldest_first() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.history_per_topic = 4;
        s.handle = vec!["handled/#".into()];
    })
    .await;
    let http = app.http();
    let (status, _) = http
        .post("/api/subscriptions", r#"{"topic":"h/#","qos":1}"#)
        .await;
    assert_eq!(status, 200);
    let feed = Observer::connect(&broker.url(), &[]).await;
    for i in 1..=6 {
        feed.publish("h/t", format!("{i}"), 1, false).await;
    }
    feed.publish("h/u", "other", 1, false).await;
    feed.publish("handled/x", "by a handler", 1, false).await;

    let history = |query: &'static str| {
        let http = app.http();
        async move { http.get(&format!("/api/history?{query}")).await }
    };
    let all = eventually("six messages of h/t seen", || async {
        let (_, list) = history("topic=h/t").await;
        (list.as_array()?.last()?["payload"] == "6").then_some(list)
    })
    .await;
    let payloads = |list: &Value| -> Vec<String> {
        let rows = list.as_array().expect("a list");
        rows.iter()
            .map(|r| r["payload"].as_str().expect("text").to_string())
            .collect()
    };
    assert_eq!(
        payloads(&all),
        ["3", "4", "5", "6"],
        "the last 4, oldest first"
    );
    let row = &all[3];
    assert_eq!(
        row.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(
            vec!["encoding", "payload", "qos", "retain", "topic", "ts_ms"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    assert_eq!(
        (row["topic"].as_str(), row["encoding"].as_str()),
        (Some("h/t"), Some("utf8"))
    );
    assert_eq!(
        (row["qos"].as_u64(), row["retain"].as_bool()),
        (Some(1), Some(false))
    );
    assert!(row["ts_ms"].as_u64().expect("a time") >= all[0]["ts_ms"].as_u64().expect("a time"));
    assert_eq!(payloads(&history("topic=h/t&limit=2").await.1), ["5", "6"]);
    assert_eq!(
        payloads(&history("topic=h/t&limit=0").await.1),
        Vec::<String>::new()
    );
    assert_eq!(payloads(&history("topic=h/t&limit=999").await.1).len(), 4);
    assert_eq!(history("topic=never/seen").await, (200, json!([])));
    let handled = eventually("the handlers' message in history", || async {
        let (_, list) = history("topic=handled/x").await;
        (list.as_array()?.len() == 1).then_some(list)
    })
    .await;
    assert_eq!(handled[0]["payload"], "by a handler");
    let (status, body) = history("topic=h/%23").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_topic"))
    );
    let (status, body) = history("topic=h/t&limit=lots").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request"))
    );
    let (status, _) = history("limit=3").await;
    assert_eq!(status, 400, "a topic is required");
}

#[actix_rt::test]
async fn retained_messages_seen_are_listed_and_cleared() {
    init_logging();
    let broker = Mosquitto::start();
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("r/a", "one", 1, true).await;
    feed.publish("r/b", "two", 1, true).await;
    feed.publish("r/c", "three", 1, true).await;
    let app = App::start(broker.port).await;
    let http = app.http();
    let (status, _) = http
        .post("/api/subscriptions", r#"{"topic":"r/#","qos":1}"#)
        .await;
    assert_eq!(status, 200);

    let list = eventually("three retained messages seen", || async {
        let (_, list) = http.get("/api/retained?topic=r/%23").await;
        (list.as_array()?.len() == 3).then_some(list)
    })
    .await;
    let row = &list[0];
    assert_eq!(
        (
            row["topic"].as_str(),
            row["payload"].as_str(),
            row["encoding"].as_str()
        ),
        (Some("r/a"), Some("one"), Some("utf8"))
    );
    assert_eq!(row["qos"], 1);
    assert!(row["last_seen_ms"].as_u64().expect("a time") > 0);
    assert_eq!(row.as_object().map(|o| o.len()), Some(5), "{row}");
    let (_, one) = http.get("/api/retained?topic=r/%2B/x").await;
    assert_eq!(one, json!([]));

    let (status, body) = http.delete("/api/retained?topic=r/a").await;
    assert_eq!((status, body), (200, json!({"ok": true})));
    let topics = |list: Value| -> Vec<String> {
        let rows = list.as_array().cloned().unwrap_or_default();
        rows.iter()
            .map(|r| r["topic"].as_str().expect("a topic").to_string())
            .collect()
    };
    assert_eq!(
        topics(http.get("/api/retained?topic=r/%23").await.1),
        ["r/b", "r/c"]
    );
    // Cleared at the broker: a new subscriber gets only the others.
    let mut late = Observer::connect(&broker.url(), &["r/#"]).await;
    let mut seen = vec![late.next().await.topic().to_string()];
    seen.push(late.next().await.topic().to_string());
    seen.sort();
    assert_eq!(seen, ["r/b", "r/c"]);
    // Cleared from outside: the empty message reaches the server's subscription.
    feed.publish("r/b", "", 1, true).await;
    eventually("r/b cleared from outside", || async {
        (topics(http.get("/api/retained?topic=r/%23").await.1) == ["r/c"]).then_some(())
    })
    .await;

    let (status, body) = http.delete("/api/retained?topic=r/%23").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_topic"))
    );
    let (status, body) = http.get("/api/retained?topic=a/%23/b").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_topic"))
    );
}

#[actix_rt::test]
async fn mqtt5_properties_reach_websocket_and_stream_clients() {
    use paho_mqtt::{MessageBuilder, Properties, PropertyCode};
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start_with(broker.port, |s| {
        s.mqtt.set("PROTOCOL_VERSION", "5").expect("a setting");
    })
    .await;
    let mut sse = stream(&app, "topic=props/%23").await;
    let mut ws = app.ws().await;
    ws.request(json!({"type": "subscribe", "topic": "props/#"}), 1)
        .await;

    let sender = Observer::connect_v5(&broker.url()).await;
    let mut props = Properties::new();
    props
        .push_string(PropertyCode::ContentType, "application/json")
        .expect("a property");
    props
        .push_string(PropertyCode::ResponseTopic, "props/reply")
        .expect("a property");
    props
        .push_binary(PropertyCode::CorrelationData, vec![0u8, 1, 2])
        .expect("a property");
    props
        .push_int(PropertyCode::MessageExpiryInterval, 3600)
        .expect("a property");
    for (k, v) in [("site", "plant-7"), ("site", "plant-8")] {
        props
            .push_string_pair(PropertyCode::UserProperty, k, v)
            .expect("a property");
    }
    let with = MessageBuilder::new()
        .topic("props/with")
        .payload("{}")
        .qos(1)
        .properties(props);
    sender.publish_with(with).await;
    let without = MessageBuilder::new()
        .topic("props/without")
        .payload("x")
        .qos(1);
    sender.publish_with(without).await;

    for frame in [
        sse.next_named("message").await.json(),
        ws.next_of("message").await,
    ] {
        let p = &frame["properties"];
        assert_eq!(p["content_type"], "application/json", "{frame}");
        assert_eq!(p["response_topic"], "props/reply");
        assert_eq!(p["correlation_data"], "AAEC", "base64");
        let expiry = p["message_expiry_interval"].as_u64().expect("seconds left");
        assert!(expiry > 0 && expiry <= 3600, "{expiry}");
        assert_eq!(
            p["user_properties"],
            json!([["site", "plant-7"], ["site", "plant-8"]])
        );
    }
    for frame in [
        sse.next_named("message").await.json(),
        ws.next_of("message").await,
    ] {
        assert_eq!(frame["topic"], "props/without");
        assert!(
            frame.get("properties").is_none(),
            "no empty object: {frame}"
        );
    }

    // Properties on a publish are checked like the rest of it.
    let bad = json!({"type": "publish", "topic": "props/x",
                     "properties": {"correlation_data": "not base64!"}});
    let reply = ws.request(bad, 2).await;
    assert_eq!(reply["code"], "bad_request", "{reply}");
    let bad = json!({"topic": "props/x", "properties": {"response_topic": "a/#"}});
    let (status, body) = app.http().post("/api/publish", bad.to_string()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_topic")),
        "{body}"
    );
    let bad = json!({"topic": "props/x", "properties": {"colour": "red"}});
    let (status, _) = app.http().post("/api/publish", bad.to_string()).await;
    assert_eq!(status, 400);

    // A web publish with properties goes out with them, and comes back.
    let publish = json!({"type": "publish", "id": 3, "topic": "props/web", "payload": "{}", "qos": 1,
                         "properties": {"content_type": "application/json",
                                        "user_properties": [["from", "web"]]}});
    ws.send(publish).await;
    // The message may come back before the broker's PUBACK answers the request.
    let (mut published, mut message) = (None, None);
    while published.is_none() || message.is_none() {
        let frame = ws.next().await;
        match frame["type"].as_str() {
            Some("published") if frame["id"] == 3 => published = Some(frame),
            Some("message") if frame["topic"] == "props/web" => message = Some(frame),
            Some("error") => panic!("the publish failed: {frame}"),
            _ => {}
        }
    }
    let frame = message.expect("the message");
    assert_eq!(frame["properties"]["content_type"], "application/json");
    assert_eq!(
        frame["properties"]["user_properties"],
        json!([["from", "web"]])
    );
}

#[actix_rt::test]
async fn a_web_publish_with_properties_over_mqtt_3_is_refused_not_sent_without_them() {
    init_logging();
    let broker = Mosquitto::start();
    let app = App::start(broker.port).await;
    let body = json!({"topic": "props/x", "payload": "x",
                      "properties": {"content_type": "text/plain"}});
    let (status, answer) = app.http().post("/api/publish", body.to_string()).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!("bad_request")),
        "{answer}"
    );
}
