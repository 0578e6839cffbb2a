//! The library refuses what the broker would punish by closing the
//! connection: a retained publish (an empty one too, as `DELETE
//! /api/retained` sends) when the broker keeps no retained messages, a QoS
//! above its maximum, a packet over its maximum size. Against a Mosquitto
//! configured with `retain_available false`, `max_qos 1` and
//! `max_packet_size 1000`: on MQTT 5 the library learns them from CONNACK,
//! on MQTT 3.1.1 from `MQTT_RETAIN_AVAILABLE` and `MQTT_MAX_QOS`. Each
//! refusal reaches its caller, and the connection stays up for the rest.

use mqtt_actor::*;
use test_support::*;

fn strict_broker() -> Mosquitto {
    Mosquitto::with(MosquittoOptions {
        extra: [
            "retain_available false",
            "max_qos 1",
            "max_packet_size 1000",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    })
}

/// The actor, with its `on_connect` and `on_disconnect` events recorded.
async fn start(
    config: MqttConfig,
) -> (
    actix::Addr<MqttActor>,
    Recorded<Connected>,
    Recorded<Disconnected>,
    Recorded<MqttMessage>,
) {
    let (connects, on_connect) = recorder::<Connected>();
    let (losses, on_disconnect) = recorder::<Disconnected>();
    let (seen, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(config)
        .subscribe("limits/#", QoS::AtLeastOnce)
        .on_connect(on_connect)
        .on_disconnect(on_disconnect)
        .on_message(on_message)
        .start()
        .expect("the actor starts");
    wait_active(&mqtt, "limits/#").await;
    (mqtt, connects, losses, seen)
}

/// Every publish the broker would punish fails with its own error; the
/// connection is the first one still, and a publish within the limits
/// goes through and comes back.
async fn refusals_keep_the_connection(config: MqttConfig) {
    let (mqtt, connects, losses, seen) = start(config).await;
    let send = |p: Publish| {
        let mqtt = mqtt.clone();
        async move { mqtt.send(p).await.expect("the actor answers") }
    };
    let retained = send(Publish::new("limits/r", "on").retain(true)).await;
    assert!(
        matches!(&retained, Err(MqttError::RetainUnavailable { topic, .. }) if topic == "limits/r"),
        "{retained:?}"
    );
    let cleared = send(Publish::new("limits/r", "").retain(true)).await;
    assert!(
        matches!(cleared, Err(MqttError::RetainUnavailable { .. })),
        "an empty retained publish is a retained publish: {cleared:?}"
    );
    let qos2 = send(Publish::new("limits/q", "x").qos(QoS::ExactlyOnce)).await;
    assert!(
        matches!(
            qos2,
            Err(MqttError::QosNotSupported {
                requested: 2,
                max: 1,
                ..
            })
        ),
        "{qos2:?}"
    );
    assert!(
        qos2.unwrap_err().to_string().contains("QoS 1 at most"),
        "the message names the broker's maximum"
    );
    send(Publish::new("limits/ok", "fine").qos(QoS::AtLeastOnce))
        .await
        .expect("a publish within the limits goes through");
    wait_for(&seen, "limits/ok").await;
    let status = mqtt.send(GetStatus).await.expect("status");
    assert!(status.connected, "{status:?}");
    assert!(
        losses.lock().unwrap().is_empty(),
        "the broker never closed the connection: {:?}",
        losses.lock().unwrap()
    );
    assert_eq!(
        connects.lock().unwrap().len(),
        1,
        "still the first connection"
    );
    assert!(
        !topics(&seen)
            .iter()
            .any(|t| t == "limits/r" || t == "limits/q"),
        "nothing refused was sent: {:?}",
        topics(&seen)
    );
}

#[actix_rt::test]
async fn on_mqtt5_the_limits_announced_in_connack_refuse_retain_qos2_and_large_packets() {
    init_logging();
    let broker = strict_broker();
    let mut config = mqtt_config(&broker.url());
    config.protocol_version = ProtocolVersion::V5;
    refusals_keep_the_connection(config.clone()).await;

    // The packet size is announced too (there is no setting for 3.1.1).
    let (mqtt, _, losses, _) = start(config).await;
    let big = mqtt
        .send(Publish::new("limits/big", vec![b'x'; 2000]).qos(QoS::AtLeastOnce))
        .await
        .expect("the actor answers");
    assert!(
        matches!(big, Err(MqttError::PacketTooLarge { max: 1000, .. })),
        "{big:?}"
    );
    mqtt.send(Publish::new("limits/small", vec![b'x'; 900]))
        .await
        .expect("the actor answers")
        .expect("a packet under the maximum goes through");
    assert!(losses.lock().unwrap().is_empty(), "{:?}", losses.lock());
}

#[actix_rt::test]
async fn on_mqtt311_the_settings_say_what_the_broker_allows() {
    init_logging();
    let broker = strict_broker();
    let mut config = mqtt_config(&broker.url());
    config.retain_available = false;
    config.max_qos = QoS::AtLeastOnce;
    refusals_keep_the_connection(config).await;
}

#[test]
fn the_settings_have_env_names_and_mqtt_defaults() {
    let c = MqttConfig::from_pairs(
        "MQTT",
        [("MQTT_RETAIN_AVAILABLE", "false"), ("MQTT_MAX_QOS", "1")],
    )
    .expect("valid settings");
    assert_eq!((c.retain_available, c.max_qos), (false, QoS::AtLeastOnce));
    let d = MqttConfig::default();
    assert_eq!((d.retain_available, d.max_qos), (true, QoS::ExactlyOnce));
    assert!(MqttConfig::from_pairs("MQTT", [("MQTT_MAX_QOS", "3")]).is_err());
}
