//! The `web_bridge` example against a real Mosquitto: its own route, the
//! bridge under `/mqtt`, and the closures that decide access, over WebSocket
//! and Server-Sent Events.

#[path = "../examples/web_bridge.rs"]
#[allow(dead_code)]
mod web_bridge;

use std::net::SocketAddr;

use actix_web::http::Method;
use futures::StreamExt;
use serde_json::{json, Value};
use test_support::wait::{eventually, PATIENCE};
use test_support::web::WebClient;
use test_support::{mqtt_config, Http, Mosquitto, Observer, Ws};

/// The example, serving on a free port of 127.0.0.1 over `broker`.
fn start(broker: &Mosquitto) -> SocketAddr {
    let (server, addrs) =
        web_bridge::start(mqtt_config(&broker.url()), "127.0.0.1:0").expect("the example starts");
    actix_rt::spawn(server);
    addrs[0]
}

/// A client of the bridge, as `token`'s user.
fn bridge(addr: SocketAddr) -> WebClient {
    WebClient::new(format!("{addr}/mqtt"))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn socket(addr: SocketAddr, token: &str) -> Ws {
    let auth = bearer(token);
    bridge(addr)
        .ws(&[("authorization", auth.as_str())])
        .await
        .expect("the upgrade is accepted")
}

/// An event stream of `/mqtt/api/stream?topic=…` as `token`'s user, read
/// into the data of its `message` events; `Err` with the refusal's status.
struct Stream(
    awc::ClientResponse<actix_http::encoding::Decoder<actix_http::Payload>>,
    String,
);

impl Stream {
    async fn open(addr: SocketAddr, token: &str, filter: &str) -> Result<Stream, u16> {
        let filter = filter.replace('#', "%23");
        let url = format!("http://{addr}/mqtt/api/stream?topic={filter}");
        let client = awc::Client::builder().disable_timeout().finish();
        let request = client
            .get(url)
            .insert_header(("authorization", bearer(token)));
        let response = request.send().await.expect("the bridge answers");
        match response.status().as_u16() {
            200 => Ok(Stream(response, String::new())),
            status => Err(status),
        }
    }

    /// The data of the next `message` event.
    async fn next_message(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(end) = self.1.find("\n\n") {
                let block: String = self.1.drain(..end + 2).collect();
                if let Some(data) = block.strip_prefix("event: message\ndata: ") {
                    return serde_json::from_str(data.trim()).expect("JSON data");
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.0.next()).await;
            let bytes = chunk
                .expect("an event within PATIENCE")
                .expect("the stream goes on");
            self.1
                .push_str(std::str::from_utf8(&bytes.expect("a chunk")).expect("UTF-8"));
        }
    }
}

#[actix_rt::test]
async fn each_user_reads_and_writes_only_under_its_own_prefix() {
    let broker = Mosquitto::start();
    let addr = start(&broker);
    assert_eq!(
        Http::new(addr).get_text("/").await,
        (200, "hello".to_string())
    );
    // The bridge answers once it has the broker: publishes fail fast before.
    let alice = bearer("alice-token");
    eventually("the bridge is connected", || async {
        let mut client = bridge(addr);
        let answer = client
            .send(Method::GET, "/api/status", &[("authorization", &alice)], "")
            .await;
        (answer.status == 200 && answer.json()["connected"] == true).then_some(())
    })
    .await;

    // Alice's socket: her prefix is granted, Bob's is forbidden, and the
    // socket stays open after the refusal.
    let mut alice_ws = socket(addr, "alice-token").await;
    let granted = alice_ws
        .request(json!({"type": "subscribe", "topic": "users/alice/#"}), 1)
        .await;
    assert_eq!(granted["type"], "subscribed", "{granted}");
    let refused = alice_ws
        .request(json!({"type": "subscribe", "topic": "users/bob/#"}), 2)
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    let refused = alice_ws
        .request(
            json!({"type": "publish", "topic": "users/bob/x", "payload": "no"}),
            3,
        )
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    // Bob's event stream: his prefix, not Alice's (403 before it starts).
    assert_eq!(
        Stream::open(addr, "bob-token", "users/alice/#").await.err(),
        Some(403)
    );
    let mut bob_stream = Stream::open(addr, "bob-token", "users/bob/#")
        .await
        .expect("Bob's stream opens");

    // Each message reaches only the user whose prefix it is under: what
    // Alice publishes (on a second socket) reaches her first socket between
    // Bob's two, which reach his stream with nothing of hers between them.
    let outside = Observer::connect(&broker.url(), &[]).await;
    outside
        .publish("users/bob/inbox", "for bob", 1, false)
        .await;
    let mut alice_writer = socket(addr, "alice-token").await;
    let note =
        json!({"type": "publish", "topic": "users/alice/inbox", "payload": "for alice", "qos": 1});
    let sent = alice_writer.request(note, 1).await;
    assert_eq!(sent["type"], "published", "{sent}");
    outside
        .publish("users/bob/later", "bob again", 1, false)
        .await;
    let topics = [
        bob_stream.next_message().await,
        bob_stream.next_message().await,
    ];
    let topics = topics.map(|m| m["topic"].as_str().map(str::to_string));
    assert_eq!(
        topics,
        [
            Some("users/bob/inbox".into()),
            Some("users/bob/later".into())
        ]
    );
    // Bob's messages have reached the app: had they reached Alice too, they
    // would come before this last one.
    outside.publish("users/alice/last", "", 1, false).await;
    for (topic, payload) in [("users/alice/inbox", "for alice"), ("users/alice/last", "")] {
        let message = alice_ws.next_of("message").await;
        assert_eq!(message["topic"], topic, "{message}");
        assert_eq!(message["payload"], payload, "{message}");
    }
}

#[actix_rt::test]
async fn without_a_known_token_nothing_is_served() {
    let broker = Mosquitto::start();
    let addr = start(&broker);
    assert_eq!(bridge(addr).ws(&[]).await.err(), Some(401));
    let wrong = bearer("mallory-token");
    assert_eq!(
        bridge(addr)
            .ws(&[("authorization", wrong.as_str())])
            .await
            .err(),
        Some(401)
    );
    assert_eq!(
        Stream::open(addr, "mallory-token", "users/mallory/#")
            .await
            .err(),
        Some(401)
    );
    let answer = bridge(addr).get("/api/status").await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "unauthorized".to_string())
    );
}
