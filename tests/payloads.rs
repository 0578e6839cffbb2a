//! Payloads beyond bytes, against a real Mosquitto: MQTT 5 properties on
//! `Publish`, read back on the `MqttMessage` that arrives.

use mqtt_actor::*;
use test_support::*;

fn v5(broker: &Mosquitto) -> MqttConfig {
    MqttConfig {
        protocol_version: ProtocolVersion::V5,
        ..mqtt_config(&broker.url())
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

    let publish = Publish::new("props/reading", r#"{"celsius":20}"#)
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
    assert_eq!(m.payload_str(), Some(r#"{"celsius":20}"#));
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
