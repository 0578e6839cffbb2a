//! The app's HTTP streams and records behind access control
//! (`docs/protocol.md`: `/api/stream`, `/api/history`, `/api/retained`): a
//! stream needs a user and follows the ACL, as do history, the retained list
//! and clearing. The app runs in-process against a real Mosquitto, with a
//! password file made by the real `mosquitto_passwd` and a Mosquitto ACL.

use serde_json::{json, Value};
use test_support::*;

const ACL: &str = "\
user reader
topic read plant/line1/#

user writer
topic readwrite plant/#
";

/// The app behind the password file and the ACL.
async fn guarded() -> GuardedApp {
    let users = [("reader", "read-pass"), ("writer", "write-pass")];
    GuardedApp::start(&users, Some(ACL)).await
}

/// An event stream of `user` (none: no credentials) asking `query`.
async fn guarded_stream(
    g: &GuardedApp,
    user: Option<(&str, &str)>,
    query: &str,
) -> Result<Sse, (u16, Value)> {
    Sse::open(&g.app.url(""), &format!("/api/stream?{query}"), user).await
}

const READER: Option<(&str, &str)> = Some(("reader", "read-pass"));

#[actix_rt::test]
async fn a_stream_follows_the_acl_and_needs_a_user() {
    let g = guarded().await;
    let code = |r: Result<Sse, (u16, Value)>| match r {
        Ok(_) => panic!("the stream opened"),
        Err((status, body)) => (status, body["error"]["code"].clone()),
    };
    assert_eq!(
        code(guarded_stream(&g, None, "topic=plant/line1/%23").await),
        (401, json!("unauthorized"))
    );
    assert_eq!(
        code(guarded_stream(&g, READER, "topic=plant/%23").await),
        (403, json!("forbidden")),
        "read access to only part of the filter"
    );
    assert_eq!(
        code(guarded_stream(&g, READER, "topic=plant/line1/%23&topic=plant/line2/x").await),
        (403, json!("forbidden")),
        "one forbidden filter refuses the stream"
    );
    let mut sse = guarded_stream(&g, READER, "topic=plant/line1/%23")
        .await
        .unwrap_or_else(|(s, b)| panic!("the reader's stream opens: {s} {b}"));
    let feed = Observer::connect(&g.broker.url(), &[]).await;
    feed.publish("plant/line1/temp", "20", 1, false).await;
    let message = sse.next_named("message").await.json();
    assert_eq!(
        (message["topic"].as_str(), message["payload"].as_str()),
        (Some("plant/line1/temp"), Some("20"))
    );
}

#[actix_rt::test]
async fn history_and_retained_follow_the_acl() {
    let g = guarded().await;
    let mut writer = g.user("writer", "write-pass");
    let mut reader = g.user("reader", "read-pass");
    let feed = Observer::connect(&g.broker.url(), &[]).await;
    feed.publish("plant/line1/x", "kept", 1, true).await;
    feed.publish("plant/line2/x", "kept too", 1, true).await;
    let answer = writer
        .post_json("/api/subscriptions", json!({"topic": "plant/#"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    eventually("both retained messages seen", || {
        let mut writer = writer.clone();
        async move {
            let list = writer.get("/api/retained?topic=plant/%23").await.json();
            (list.as_array()?.len() == 2).then_some(())
        }
    })
    .await;

    let answer = reader.get("/api/retained?topic=plant/%23").await;
    assert_eq!(
        (answer.status, answer.code()),
        (403, "forbidden".to_string())
    );
    let list = reader
        .get("/api/retained?topic=plant/line1/%23")
        .await
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let answer = reader.get("/api/history?topic=plant/line2/x").await;
    assert_eq!(
        (answer.status, answer.code()),
        (403, "forbidden".to_string())
    );
    let history = reader.get("/api/history?topic=plant/line1/x").await.json();
    assert_eq!(history[0]["payload"], "kept");
    assert_eq!(history[0]["retain"], true);

    let answer = reader.delete("/api/retained?topic=plant/line1/x").await;
    assert_eq!(
        (answer.status, answer.code()),
        (403, "forbidden".to_string()),
        "reading is not writing"
    );
    let answer = WebClient::new(g.app.addr())
        .delete("/api/retained?topic=plant/line1/x")
        .await;
    assert_eq!(answer.status, 401);
    let answer = writer.delete("/api/retained?topic=plant/line1/x").await;
    assert_eq!((answer.status, answer.json()), (200, json!({"ok": true})));
    let list = writer.get("/api/retained?topic=plant/%23").await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
}
