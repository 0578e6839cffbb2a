//! The history database end to end, on SQLite in a temporary folder (issue
//! 18, `docs/protocol.md` 2.1): the example app records through its shared
//! subscription on a real Mosquitto, `/api/history` answers the range form
//! (`from`/`to`, `before` paging, a `+`/`#` filter, binary payloads as the
//! live frames give them) and the same after a restart on the same data
//! folder; reads obey the ACL as live messages do. PostgreSQL and several
//! instances: `tests/history_postgres.rs`.

use std::path::Path;

use serde_json::{json, Value};
use test_support::*;

/// Test settings with recording on (`#`) into SQLite in `data`.
fn recording(s: &mut example_app::Settings, data: &Path) {
    s.history.no_record = false;
    s.history.data_dir = Some(data.to_path_buf());
}

/// `GET path` that must answer 200.
async fn get_ok(http: &Http, path: &str) -> Value {
    let (status, body) = http.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Every page of the range query `query` (without `before`), newest first,
/// following `next` until it is null.
async fn all_pages(http: &Http, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut page = get_ok(http, &format!("/api/history?{query}")).await;
    loop {
        out.extend(page["messages"].as_array().expect("messages").clone());
        let Some(next) = page["next"].as_str() else {
            assert_eq!(page["next"], Value::Null, "{page}");
            return out;
        };
        page = get_ok(http, &format!("/api/history?{query}&before={next}")).await;
    }
}

fn payloads(rows: &[Value]) -> Vec<&str> {
    rows.iter()
        .map(|r| r["payload"].as_str().expect("a payload"))
        .collect()
}

/// Publishes on `warm/N` until the recorder has one of them: its shared
/// subscription is active from then on.
async fn wait_recording(http: &Http, feed: &Observer) {
    let mut n = 0;
    eventually("the recorder's subscription active", || {
        n += 1;
        let topic = format!("warm/{n}");
        async move {
            feed.publish(&topic, "warm", 1, false).await;
            let page = get_ok(http, "/api/history?topic=warm/%23&from=0").await;
            (!page["messages"].as_array()?.is_empty()).then_some(())
        }
    })
    .await;
}

/// Waits until the range form of `filter` holds `n` messages.
async fn wait_rows(http: &Http, filter: &str, n: usize) -> Vec<Value> {
    let query = format!("topic={}&from=0&limit=1000", filter.replace('#', "%23"));
    eventually(&format!("{n} messages of {filter} recorded"), || async {
        let rows = all_pages(http, &query).await;
        (rows.len() >= n).then_some(rows)
    })
    .await
}

#[actix_rt::test]
async fn the_range_form_pages_filters_and_ranges_and_answers_the_same_after_a_restart() {
    init_logging();
    let broker = Mosquitto::start();
    let data = tempfile::tempdir().expect("temp dir");
    let app = App::start_with(broker.port, |s| recording(s, data.path())).await;
    let http = app.http();
    let feed = Observer::connect(&broker.url(), &[]).await;
    wait_recording(&http, &feed).await;
    let mut live = app.ws().await;
    let reply = live
        .request(
            json!({"type": "subscribe", "topic": "plant/#", "qos": 1}),
            1,
        )
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");

    // Two bursts: the second is published once the first is recorded, so
    // it is received later and a time range can part them.
    for i in 1..=5 {
        feed.publish("plant/line1/temp", format!("{i}"), 1, false)
            .await;
    }
    let first = wait_rows(&http, "plant/#", 5).await;
    feed.publish("plant/line2/temp", "a", 1, false).await;
    feed.publish("plant/line2/temp", "b", 1, false).await;
    feed.publish("plant/line1/raw", vec![0xff, 0x00, 0xfe], 1, false)
        .await;
    feed.publish("other/x", "not under plant", 1, false).await;
    let all = wait_rows(&http, "plant/#", 8).await;

    // Newest first, whole and in pages of three.
    assert_eq!(
        payloads(&all)[..7],
        ["/wD+", "b", "a", "5", "4", "3", "2"],
        "{all:?}"
    );
    assert_eq!(all.len(), 8, "other/x is not under plant/#");
    let paged = all_pages(&http, "topic=plant/%23&from=0&limit=3").await;
    assert_eq!(paged, all, "pages of 3 put together are the whole answer");
    let page = get_ok(&http, "/api/history?topic=plant/%23&from=0&limit=3").await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(3));
    assert!(page["next"].is_string(), "{page}");

    // A `+` filter over two topics; one topic.
    let temps = all_pages(&http, "topic=plant/%2B/temp&from=0").await;
    assert_eq!(payloads(&temps), ["b", "a", "5", "4", "3", "2", "1"]);
    let one = all_pages(&http, "topic=plant/line2/temp&from=0").await;
    assert_eq!(payloads(&one), ["b", "a"]);

    // The binary payload exactly as the live frame gave it.
    let frame = loop {
        let frame = live.next_of("message").await;
        if frame["topic"] == "plant/line1/raw" {
            break frame;
        }
    };
    let stored = &all[0];
    for key in ["topic", "payload", "encoding", "qos", "retain"] {
        assert_eq!(
            stored[key], frame[key],
            "{key}: {stored} vs the live {frame}"
        );
    }
    assert_eq!(stored["encoding"], "base64");

    // A time range: `from` included, `to` excluded.
    let ts = |row: &Value| row["ts_ms"].as_i64().expect("a time");
    let first_from = first.iter().map(ts).min().expect("five rows");
    let second_from = all.iter().take(3).map(ts).min().expect("three rows");
    assert!(second_from > first.iter().map(ts).max().expect("five rows"));
    let range = format!("topic=plant/%23&from={first_from}&to={second_from}");
    let ranged = all_pages(&http, &range).await;
    assert_eq!(payloads(&ranged), ["5", "4", "3", "2", "1"], "{range}");
    let since = all_pages(&http, &format!("topic=plant/%23&from={second_from}")).await;
    assert_eq!(payloads(&since), ["/wD+", "b", "a"]);
    let until = all_pages(&http, &format!("topic=plant/%23&to={first_from}")).await;
    assert!(until.is_empty(), "{until:?}");

    // The v2 form answers from the database too: one topic, oldest first.
    let v2 = get_ok(&http, "/api/history?topic=plant/line1/temp&limit=2").await;
    assert_eq!(payloads(v2.as_array().expect("a list")), ["4", "5"]);
    let none = get_ok(&http, "/api/history?topic=plant/line1/temp&limit=0").await;
    assert_eq!(none, json!([]), "at most N");

    // Bad input names itself.
    for (query, code) in [
        ("topic=plant/%23&from=soon", "bad_request"),
        ("topic=plant/%23&before=nonsense", "bad_request"),
        ("topic=plant/%23/x&from=0", "invalid_topic"),
    ] {
        let (status, body) = http.get(&format!("/api/history?{query}")).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {body}"
        );
    }

    // A restart on the same data folder: the same answers.
    app.stop().await;
    let app = App::start_with(broker.port, |s| recording(s, data.path())).await;
    let http = app.http();
    assert_eq!(
        all_pages(&http, "topic=plant/%23&from=0&limit=3").await,
        all
    );
    assert_eq!(all_pages(&http, &range).await, ranged);
    assert_eq!(
        get_ok(&http, "/api/history?topic=plant/line1/temp&limit=2").await,
        v2
    );
    app.stop().await;
}

/// Users and what they may read: `reader` line 1 only, `writer` the plant.
const ACL: &str = "\
user reader
topic read plant/line1/#

user writer
topic readwrite plant/#
";

#[actix_rt::test]
async fn history_reads_obey_the_acl_exactly_as_live_messages_do() {
    init_logging();
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = PasswordFile::create(
        dir.path().join("passwd"),
        &[("reader", "read-pass"), ("writer", "write-pass")],
    );
    let acl = dir.path().join("acl");
    std::fs::write(&acl, ACL).expect("write the ACL");
    let broker = Mosquitto::start();
    let data = dir.path().join("data");
    let app = App::start_with(broker.port, |s| {
        recording(s, &data);
        s.password_file = Some(passwd.path().to_path_buf());
        s.acl_file = Some(acl);
    })
    .await;
    let web = WebClient::new(app.addr());
    let writer = web.basic("writer", "write-pass");
    let mut reader = web.basic("reader", "read-pass");
    let feed = Observer::connect(&broker.url(), &[]).await;
    eventually("the recorder's subscription active", || {
        let (feed, mut writer) = (&feed, writer.clone());
        async move {
            feed.publish("plant/warm", "warm", 1, false).await;
            let answer = writer.get("/api/history?topic=plant/warm&from=0").await;
            (!answer.json()["messages"].as_array()?.is_empty()).then_some(())
        }
    })
    .await;
    feed.publish("plant/line1/a", "one", 1, false).await;
    feed.publish("plant/line2/b", "two", 1, false).await;
    let everything = eventually("both messages recorded", || {
        let mut writer = writer.clone();
        async move {
            let answer = writer.get("/api/history?topic=plant/%2B/%2B&from=0").await;
            let rows = answer.json()["messages"].as_array()?.clone();
            (rows.len() == 2).then_some(rows)
        }
    })
    .await;
    assert_eq!(payloads(&everything), ["two", "one"]);

    // Live: reader may subscribe to line 1, not to line 2.
    let mut ws = reader.ws(&[]).await.expect("the upgrade is accepted");
    let line1 = json!({"type": "subscribe", "topic": "plant/line1/#"});
    assert_eq!(ws.request(line1, 1).await["type"], "subscribed");
    let line2 = ws
        .request(json!({"type": "subscribe", "topic": "plant/line2/#"}), 2)
        .await;
    assert_eq!(
        (&line2["type"], &line2["code"]),
        (&json!("error"), &json!("forbidden"))
    );

    // History alike: line 2 is 403 forbidden, in both forms; line 1 answers.
    for path in [
        "/api/history?topic=plant/line2/%23&from=0",
        "/api/history?topic=plant/line2/b&from=0",
        "/api/history?topic=plant/line2/b",
    ] {
        let answer = reader.get(path).await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, "forbidden".into()),
            "{path}"
        );
    }
    let answer = reader
        .get("/api/history?topic=plant/line1/%23&from=0")
        .await;
    assert_eq!(
        payloads(answer.json()["messages"].as_array().expect("rows")),
        ["one"]
    );
    let answer = reader.get("/api/history?topic=plant/line1/a").await;
    assert_eq!(payloads(answer.json().as_array().expect("rows")), ["one"]);
    // A filter over both: only what reader may read, as its socket would get.
    let answer = reader.get("/api/history?topic=plant/%2B/%2B&from=0").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        payloads(answer.json()["messages"].as_array().expect("rows")),
        ["one"]
    );
    // Of that filter, an empty range is an empty page, not a refusal.
    let answer = reader.get("/api/history?topic=plant/%2B/%2B&to=1").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json(), json!({"messages": [], "next": null}));
    // Nobody signed in: 401.
    let mut anonymous = web.clone();
    let answer = anonymous.get("/api/history?topic=plant/%23&from=0").await;
    assert_eq!(answer.status, 401);
    app.stop().await;
}
