//! Payloads beyond bytes, against a real Mosquitto: typed JSON (publishing a
//! value, decoding it in `on_topic_json`, a payload that does not decode
//! going to `on_log` instead of the handler) and MQTT 5 properties on
//! `Publish`, read back on the `MqttMessage` that arrives.

use std::sync::{Arc, Mutex};

use actix::Addr;
use mqtt_actor::*;
use serde::{Deserialize, Serialize};
use test_support::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    celsius: f64,
}

type Logged = Arc<Mutex<Vec<(LogLevel, String)>>>;

fn log_recorder() -> (Logged, impl Fn(&Addr<MqttActor>, LogLevel, &str) + 'static) {
    let list = Logged::default();
    let held = list.clone();
    (
        list,
        move |_: &Addr<MqttActor>, level: LogLevel, text: &str| {
            held.lock().unwrap().push((level, text.to_string()))
        },
    )
}

fn v5(broker: &Mosquitto) -> MqttConfig {
    let mut config = mqtt_config(&broker.url());
    config.protocol_version = ProtocolVersion::V5;
    config
}

#[actix_rt::test]
async fn json_values_reach_typed_handlers_and_bad_payloads_reach_only_the_log() {
    init_logging();
    let broker = Mosquitto::start();
    let typed: Recorded<(String, Reading)> = Default::default();
    let held = typed.clone();
    let (logged, on_log) = log_recorder();
    let (all, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(mqtt_config(&broker.url()))
        .subscribe("sensors/#", QoS::AtLeastOnce)
        .on_topic_json("sensors/+", move |_, msg, r: Reading| {
            held.lock().unwrap().push((msg.topic().to_string(), r));
        })
        .on_message(on_message)
        .on_log(on_log)
        .start()
        .unwrap();
    wait_active(&mqtt, "sensors/#").await;

    let kitchen = Reading {
        sensor: "kitchen".into(),
        celsius: 21.5,
    };
    let publish = Publish::json("sensors/kitchen", &kitchen).unwrap();
    mqtt.send(publish.qos(QoS::AtLeastOnce))
        .await
        .unwrap()
        .unwrap();
    // Published by someone else: not JSON, and JSON of another shape.
    let feed = Observer::connect(&broker.url(), &[]).await;
    feed.publish("sensors/door", "open", 1, false).await;
    feed.publish("sensors/lamp", r#"{"sensor":"lamp"}"#, 1, false)
        .await;
    feed.publish(
        "sensors/last",
        r#"{"sensor":"hall","celsius":19}"#,
        1,
        false,
    )
    .await;
    wait_for(&all, "sensors/last").await;

    let got = typed.lock().unwrap().clone();
    let hall = Reading {
        sensor: "hall".into(),
        celsius: 19.0,
    };
    assert_eq!(
        got,
        [
            ("sensors/kitchen".to_string(), kitchen.clone()),
            ("sensors/last".to_string(), hall)
        ]
    );
    let warnings: Vec<String> = logged
        .lock()
        .unwrap()
        .iter()
        .filter(|(level, _)| *level == LogLevel::Warning)
        .map(|(_, text)| text.clone())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("\"sensors/door\""), "{}", warnings[0]);
    assert!(
        warnings[0].contains("expected value at line 1 column 1"),
        "serde's message: {}",
        warnings[0]
    );
    assert!(warnings[1].contains("\"sensors/lamp\""), "{}", warnings[1]);
    assert!(
        warnings[1].contains("missing field `celsius`"),
        "{}",
        warnings[1]
    );
    // The untyped handlers still see every message, decodable or not.
    assert_eq!(all.lock().unwrap().len(), 4);
    let first = all.lock().unwrap()[0].clone();
    assert_eq!(first.json::<Reading>().unwrap(), kitchen);
    let door = wait_for(&all, "sensors/door").await;
    match door.json::<Reading>() {
        Err(MqttError::JsonDecode { topic, reason }) => {
            assert_eq!(topic, "sensors/door");
            assert!(reason.contains("line 1"), "{reason}");
        }
        other => panic!("expected JsonDecode, got {other:?}"),
    }
}

#[test]
fn a_value_serde_cannot_encode_is_an_error_before_anything_is_sent() {
    let mut keyed = std::collections::HashMap::new();
    keyed.insert((1, 2), "a tuple key is not a JSON object key");
    match Publish::json("t", &keyed) {
        Err(MqttError::JsonEncode { topic, reason }) => {
            assert_eq!(topic, "t");
            assert!(reason.contains("key must be a string"), "{reason}");
        }
        other => panic!("expected JsonEncode, got {other:?}"),
    }
}

#[actix_rt::test]
async fn mqtt_5_properties_of_a_publish_arrive_on_the_message() {
    init_logging();
    let broker = Mosquitto::start();
    let (seen, on_message) = recorder::<MqttMessage>();
    let receiver = MqttActor::builder(v5(&broker))
        .subscribe("props/#", QoS::AtLeastOnce)
        .on_message(on_message)
        .start()
        .unwrap();
    wait_active(&receiver, "props/#").await;
    let sender = MqttActor::builder(v5(&broker)).start().unwrap();
    wait_connected(&sender, true).await;

    let publish = Publish::json("props/reading", &serde_json::json!({"celsius": 20}))
        .unwrap()
        .qos(QoS::AtLeastOnce)
        .content_type("application/json")
        .user_property("site", "plant-7")
        .user_property("line", "2")
        .user_property("site", "again")
        .message_expiry_interval(3600)
        .response_topic("props/replies/1")
        .correlation_data(vec![0u8, 1, 255]);
    sender.send(publish).await.unwrap().unwrap();

    let m = wait_for(&seen, "props/reading").await;
    assert_eq!(m.content_type(), Some("application/json"));
    assert_eq!(m.response_topic(), Some("props/replies/1"));
    assert_eq!(
        m.correlation_data().map(|d| &d[..]),
        Some(&[0u8, 1, 255][..])
    );
    assert_eq!(m.user_property("site"), Some("plant-7"));
    let p = m.properties().expect("MQTT 5 properties");
    assert_eq!(
        p.user_properties,
        [
            ("site".to_string(), "plant-7".to_string()),
            ("line".to_string(), "2".to_string()),
            ("site".to_string(), "again".to_string()),
        ],
        "user properties keep their order and repeats"
    );
    // The broker forwards what is left of the interval.
    let left = m.message_expiry_interval().expect("an expiry interval");
    assert!((1..=3600).contains(&left), "{left}");
    assert_eq!(m.json::<serde_json::Value>().unwrap()["celsius"], 20);
}

#[actix_rt::test]
async fn properties_are_refused_on_mqtt_3_and_when_mqtt_cannot_carry_them() {
    init_logging();
    let broker = Mosquitto::start();
    let v3 = MqttActor::builder(mqtt_config(&broker.url()))
        .start()
        .unwrap();
    wait_connected(&v3, true).await;
    let err = v3
        .send(Publish::new("t", "x").user_property("k", "v"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, MqttError::NeedsMqtt5 { .. }), "{err}");
    assert!(err.to_string().contains("needs MQTT 5"), "{err}");
    // Without properties the same actor publishes as before.
    v3.send(Publish::new("t", "x")).await.unwrap().unwrap();

    let v5 = MqttActor::builder(v5(&broker)).start().unwrap();
    wait_connected(&v5, true).await;
    // Paho aborts on a NUL in a property string: refused before it gets there.
    let err = v5
        .send(Publish::new("t", "x").content_type("text\0plain"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            MqttError::InvalidProperty {
                name: "Content-Type",
                ..
            }
        ),
        "{err}"
    );
    let err = v5
        .send(Publish::new("t", "x").response_topic("replies/#"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            MqttError::InvalidProperty {
                name: "Response-Topic",
                ..
            }
        ),
        "{err}"
    );
    assert!(v5.send(GetStatus).await.unwrap().connected);
}
