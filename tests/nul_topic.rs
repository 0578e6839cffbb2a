//! A topic with a NUL byte sent to the embedded broker (rumqttd accepts it;
//! paho-mqtt 0.14 would abort the process on it) does not take the app down:
//! the broker's guard closes that client's connection, and everything else
//! keeps flowing.

use serde_json::Value;
use test_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn topics(http: &Http) -> Vec<String> {
    let (_, list) = http.get("/api/topics").await;
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t["topic"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[actix_rt::test]
async fn a_publish_with_nul_in_its_topic_leaves_the_app_running() {
    init_logging();
    let app = App::embedded().await;
    let port = app
        .embedded_broker_port()
        .expect("the app started its embedded broker");
    let http = app.http();
    eventually("the app connected to its broker", || async {
        (http.get("/readyz").await.0 == 200).then_some(())
    })
    .await;
    let (status, _) = http.post("/api/subscriptions", r##"{"topic":"#"}"##).await;
    assert_eq!(status, 200);
    let mut ws = app.ws().await;
    let reply = ws
        .request(serde_json::json!({"type":"subscribe","topic":"#"}), 1)
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");

    let mut raw = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    raw.write_all(&connect_packet("raw-nul", 60, None))
        .await
        .unwrap();
    let mut connack = [0u8; 4];
    raw.read_exact(&mut connack).await.unwrap();
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x00], "CONNACK, accepted");
    raw.write_all(&publish_packet(b"nul\0topic", b"boom"))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let end = tokio::time::timeout(PATIENCE, raw.read_to_end(&mut rest)).await;
    assert!(end.is_ok(), "the broker closes the connection that sent it");

    let feed = Observer::connect(&format!("tcp://127.0.0.1:{port}"), &[]).await;
    feed.publish("after/nul", "still here", 1, false).await;
    eventually("the next message reaches the app", || async {
        topics(&http)
            .await
            .iter()
            .any(|t| t == "after/nul")
            .then_some(())
    })
    .await;
    let frame: Value = ws.next_of("message").await;
    assert_eq!(
        frame["topic"], "after/nul",
        "the NUL message never reached a session"
    );
    assert_eq!(http.get("/healthz").await.0, 200);
    assert!(
        topics(&http).await.iter().all(|t| !t.contains('\0')),
        "nothing with NUL reached the cache"
    );
}
