//! Request/response over MQTT 5 against a real Mosquitto, with two actors:
//! one serving with `on_request`, one asking with `Request`. Concurrent
//! requests get their own replies; a request nobody answers times out; a
//! handler that declines or fails sends nothing; MQTT 3.1.1 says it needs 5.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use mqtt_actor::*;
use serde::{Deserialize, Serialize};
use test_support::*;

type Logged = Arc<Mutex<Vec<(LogLevel, String)>>>;

fn v5(broker: &Mosquitto, client_id: &str) -> MqttConfig {
    let mut config = mqtt_config(&broker.url());
    config.protocol_version = ProtocolVersion::V5;
    config.client_id = client_id.to_string();
    config
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Sum {
    total: i64,
}

/// The serving actor: echo, sum (JSON), decline (None) and fail (Err).
async fn server(broker: &Mosquitto) -> (Addr<MqttActor>, Logged) {
    let logged = Logged::default();
    let held = logged.clone();
    let mqtt = MqttActor::builder(v5(broker, "server"))
        .subscribe("svc/#", QoS::AtLeastOnce)
        .on_request("svc/echo", |_, msg| {
            format!("echo: {}", msg.payload_str().unwrap_or("?"))
        })
        .on_request("svc/sum", |_, msg| {
            let numbers: Vec<i64> = msg.json()?;
            Reply::json(&Sum {
                total: numbers.iter().sum(),
            })
            .map(|r| r.user_property("status", "ok"))
        })
        .on_request("svc/decline", |_, _| None::<String>)
        .on_request("svc/fail", |_, _| Err::<String, _>("the oven is cold"))
        .on_log(move |_, level, text| held.lock().unwrap().push((level, text.to_string())))
        .start()
        .unwrap();
    wait_active(&mqtt, "svc/#").await;
    (mqtt, logged)
}

fn warnings(logged: &Logged) -> Vec<String> {
    logged
        .lock()
        .unwrap()
        .iter()
        .filter(|(level, _)| *level == LogLevel::Warning)
        .map(|(_, text)| text.clone())
        .collect()
}

#[actix_rt::test]
async fn a_request_gets_the_reply_of_the_actor_serving_it() {
    init_logging();
    let broker = Mosquitto::start();
    let (_server, _) = server(&broker).await;
    let client = MqttActor::builder(v5(&broker, "asker")).start().unwrap();
    wait_connected(&client, true).await;

    let reply = client
        .send(Request::new("svc/echo", "hello").timeout(PATIENCE))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.payload_str(), Some("echo: hello"));
    assert!(
        reply.topic().starts_with("asker/replies/"),
        "{}",
        reply.topic()
    );
    assert!(reply.correlation_data().is_some());

    let sum = Request::from(
        Publish::json("svc/sum", &[1, 2, 39])
            .unwrap()
            .qos(QoS::AtLeastOnce),
    )
    .timeout(PATIENCE);
    let reply = client.send(sum).await.unwrap().unwrap();
    assert_eq!(reply.json::<Sum>().unwrap(), Sum { total: 42 });
    assert_eq!(reply.content_type(), Some("application/json"));
    assert_eq!(reply.user_property("status"), Some("ok"));
    assert_eq!(reply.qos(), QoS::AtLeastOnce, "the request's QoS");

    // The reply topic is held by the actor's reply desk, not its handlers.
    let subs = client.send(GetSubscriptions).await.unwrap();
    let replies = subs
        .iter()
        .find(|s| s.filter == "asker/replies/#")
        .expect("the reply filter is held");
    assert!(replies.active && replies.listeners == 1 && !replies.app);
}

#[actix_rt::test]
async fn concurrent_requests_each_get_their_own_reply() {
    init_logging();
    let broker = Mosquitto::start();
    let (_server, _) = server(&broker).await;
    let client = MqttActor::builder(v5(&broker, "many")).start().unwrap();
    wait_connected(&client, true).await;

    // Sent at once, before the reply topic is even subscribed.
    let asks = (0..20).map(|i| {
        let client = client.clone();
        async move {
            let r = client
                .send(Request::new("svc/echo", format!("n{i}")).timeout(PATIENCE))
                .await
                .unwrap()
                .unwrap();
            (i, r.payload_str().unwrap_or_default().to_string())
        }
    });
    for (i, payload) in futures::future::join_all(asks).await {
        assert_eq!(payload, format!("echo: n{i}"));
    }
}

#[actix_rt::test]
async fn a_request_nobody_answers_times_out() {
    init_logging();
    let broker = Mosquitto::start();
    let (_server, logged) = server(&broker).await;
    let client = MqttActor::builder(v5(&broker, "patient")).start().unwrap();
    wait_connected(&client, true).await;
    let short = Duration::from_millis(500);

    for topic in ["nobody/home", "svc/decline", "svc/fail"] {
        let err = client
            .send(Request::new(topic, "x").timeout(short))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err,
            MqttError::NoReply {
                topic: topic.into(),
                timeout: short
            }
        );
    }
    // The failure is worth a warning (the server may log it after the
    // asker gave up); declining is a choice, and says nothing.
    let failed = eventually("the server's warning about svc/fail", || async {
        let seen = warnings(&logged);
        seen.iter().find(|w| w.contains("\"svc/fail\"")).cloned()
    })
    .await;
    assert!(failed.contains("the oven is cold"), "{failed}");
    // The actor goes on answering after a timeout.
    let reply = client
        .send(Request::new("svc/echo", "still there?").timeout(PATIENCE))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.payload_str(), Some("echo: still there?"));
    let seen = warnings(&logged);
    assert_eq!(seen.len(), 1, "only the failure: {seen:?}");
}

#[actix_rt::test]
async fn a_plain_message_to_a_request_filter_reaches_only_the_log() {
    init_logging();
    let broker = Mosquitto::start();
    let (_server, logged) = server(&broker).await;
    let feed = Observer::connect_v5(&broker.url()).await;
    feed.publish("svc/echo", "no response topic", 1, false)
        .await;
    let warning = eventually("a warning about the plain message", || async {
        warnings(&logged).first().cloned()
    })
    .await;
    assert!(
        warning.contains("\"svc/echo\"") && warning.contains("no response topic"),
        "{warning}"
    );
}

#[actix_rt::test]
async fn on_mqtt_3_requests_say_they_need_mqtt_5() {
    init_logging();
    let broker = Mosquitto::start();
    let client = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&client, true).await;
    let err = client
        .send(Request::new("svc/echo", "x"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MqttError::NeedsMqtt5 { .. }), "{err}");
    assert!(err.to_string().contains("needs MQTT 5"), "{err}");

    let serving = MqttActor::builder(mqtt_config(&broker.url()))
        .on_request("svc/echo", |_, msg| msg.payload().clone())
        .start();
    match serving {
        Err(MqttError::NeedsMqtt5 { what }) => assert!(what.contains("svc/echo"), "{what}"),
        Err(other) => panic!("expected NeedsMqtt5, got {other}"),
        Ok(_) => panic!("an MQTT 3.1.1 actor cannot serve requests"),
    }
}
