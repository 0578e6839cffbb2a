//! MQTT strings carry none of the characters MQTT forbids (control
//! characters U+0001 to U+001F and U+007F to U+009F, non-characters such as
//! U+FFFE, and NUL), in MQTT 5 properties and in topics and filters alike.
//! Mosquitto answers one by closing the connection ("Malformed UTF-8"),
//! every user's feed in an application: the library refuses it first, with
//! an error naming the field and the character, to the one caller.

use mqtt_actor::*;
use test_support::*;

#[actix_rt::test]
async fn forbidden_characters_are_refused_by_name_and_the_connection_stays_up() {
    init_logging();
    let broker = Mosquitto::start();
    let mut config = mqtt_config(&broker.url());
    config.protocol_version = ProtocolVersion::V5;
    let (losses, on_disconnect) = recorder::<Disconnected>();
    let (seen, on_message) = recorder::<MqttMessage>();
    let mqtt = MqttActor::builder(config)
        .subscribe("s/#", QoS::AtLeastOnce)
        .on_disconnect(on_disconnect)
        .on_message(on_message)
        .start()
        .expect("the actor starts");
    wait_active(&mqtt, "s/#").await;
    let publish = |p: Publish| {
        let mqtt = mqtt.clone();
        async move {
            mqtt.send(p)
                .await
                .expect("the actor answers")
                .expect_err("refused")
                .to_string()
        }
    };
    let cases = [
        (
            Publish::new("s/a", "x").content_type("a\u{1}b"),
            ["Content-Type", "U+0001"],
        ),
        (
            Publish::new("s/a", "x").user_property("k", "esc\u{1B}"),
            ["User-Property", "U+001B"],
        ),
        (
            Publish::new("s/a", "x").user_property("\u{FFFE}", "v"),
            ["User-Property", "U+FFFE"],
        ),
        (
            Publish::new("s/a", "x").response_topic("r/\u{85}"),
            ["Response-Topic", "U+0085"],
        ),
        (Publish::new("s/\u{7F}", "x"), ["topic", "U+007F"]),
        (Publish::new("s/\u{FDD0}", "x"), ["topic", "U+FDD0"]),
    ];
    for (p, words) in cases {
        let err = publish(p).await;
        for word in words {
            assert!(err.contains(word), "{word:?} not in {err:?}");
        }
    }
    let filter = mqtt
        .send(Subscribe::new("s/\u{9}/#"))
        .await
        .expect("the actor answers");
    assert!(
        matches!(&filter, Err(MqttError::InvalidFilter { reason, .. }) if reason.contains("U+0009")),
        "{filter:?}"
    );
    // Nothing reached the broker: the connection is the same, and works.
    mqtt.send(Publish::new("s/ok", "fine").content_type("text/plain; charset=utf-8"))
        .await
        .expect("the actor answers")
        .expect("a clean publish goes through");
    wait_for(&seen, "s/ok").await;
    assert!(losses.lock().unwrap().is_empty(), "{:?}", losses.lock());
    assert_eq!(topics(&seen), ["s/ok"]);
}
