//! A filter the broker no longer grants after a reconnect, as the app's web
//! clients see it: the broker (Mosquitto with its dynamic-security plugin) is
//! restarted with a role that refuses the filters the app held, so the app's
//! re-SUBSCRIBEs are refused. A WebSocket session gets an `error` and no
//! longer counts the filter (its place is free for another); an event stream
//! gets `event: error`, and ends when it has no filter left.

use serde_json::json;
use test_support::*;

async fn wait_disconnected(app: &App) {
    let http = app.http();
    eventually("the app sees the broker gone", || async {
        (http.get("/readyz").await.0 == 503).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn a_lost_filter_leaves_the_session_and_ends_a_stream_left_without_filters() {
    init_logging();
    let mut broker = DynsecBroker::start(&[]);
    let app = App::start_with(broker.port, |s| s.max_filters = 2).await;
    let mut ws = app.ws().await;
    let reply = ws
        .request(json!({"type": "subscribe", "topic": "data/ws"}), 1)
        .await;
    assert_eq!(reply["type"], "subscribed");
    let reply = ws
        .request(json!({"type": "subscribe", "topic": "other"}), 2)
        .await;
    assert_eq!(reply["type"], "subscribed");
    let reply = ws
        .request(json!({"type": "subscribe", "topic": "keep/#"}), 2)
        .await;
    assert_eq!(
        reply["type"], "error",
        "two filters are the session's limit"
    );
    let base = app.url("");
    let open = |query: &'static str| {
        let base = base.clone();
        async move {
            Sse::open(&base, &format!("/api/stream?{query}"), None)
                .await
                .unwrap_or_else(|(s, b)| panic!("the stream opens: {s} {b}"))
        }
    };
    let mut alone = open("topic=data/alone").await;
    let mut pair = open("topic=data/pair&topic=kept").await;

    broker.stop();
    wait_disconnected(&app).await;
    broker.deny(&["data/#"]);
    broker.resume();
    app.wait_ready().await;

    let lost = ws.next_of("error").await;
    assert!(
        lost["message"]
            .as_str()
            .is_some_and(|m| m.contains("data/ws")),
        "{lost}"
    );
    let reply = ws
        .request(json!({"type": "subscribe", "topic": "keep/#"}), 3)
        .await;
    assert_eq!(
        reply,
        json!({"type": "subscribed", "id": 3, "topic": "keep/#", "qos": 0}),
        "the lost filter no longer takes the session's place"
    );
    let reply = ws
        .request(json!({"type": "unsubscribe", "topic": "data/ws"}), 4)
        .await;
    assert_eq!(reply["code"], "bad_request", "{reply}");

    let error = alone.next_named("error").await.json();
    assert_eq!(error["type"], "error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("data/alone")),
        "{error}"
    );
    assert!(alone.ended().await, "a stream without filters ends");
    let error = pair.next_named("error").await.json();
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("data/pair")),
        "{error}"
    );
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("kept", "still", 1, false).await;
    let message = pair.next_named("message").await.json();
    assert_eq!(message["payload"], "still", "the other filter still serves");
}
