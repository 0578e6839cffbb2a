//! Subscribing: subscribe inside `on_connect` (so every reconnect subscribes
//! again), `on_topic` with wildcards, and `on_message`.
//!
//! Run it against a broker on localhost:1883 (`MQTT_BROKER_URL` and
//! `MQTT_BROKER_PORT` override):
//!
//! ```sh
//! cargo run -p mqtt-actor --example subscribe
//! ```
//!
//! It publishes a few messages to itself; while it runs you can add your own with
//! `mosquitto_pub -t mqtt-actor/examples/subscribe/hall/temperature -m 19.5`.

use std::time::Duration;

use actix::Addr;
use actix_rt::time::sleep;
use mqtt_actor::{
    Disconnect, GetSubscriptions, MqttActor, MqttConfig, MqttMessage, Publish, QoS, Subscribe,
};

const FILTER: &str = "mqtt-actor/examples/subscribe/#";

fn text(msg: &MqttMessage) -> &str {
    msg.payload_str().unwrap_or("<binary>")
}

#[actix::main]
async fn main() -> mqtt_actor::Result<()> {
    let mqtt = MqttActor::builder(MqttConfig::from_env()?)
        .on_connect(|mqtt, _| mqtt.do_send(Subscribe::new(FILTER).qos(QoS::AtLeastOnce)))
        .on_subscribe(|_, s| println!("on_subscribe: {} granted QoS {}", s.filter, s.granted))
        // on_topic only routes messages of the application's subscriptions: it
        // does not subscribe by itself (as in Flask-MQTT).
        .on_topic("mqtt-actor/examples/subscribe/+/temperature", |_, msg| {
            println!("  on_topic(+/temperature): {} = {}", msg.topic(), text(msg));
        })
        // Runs for every message of the application's filters, after on_topic.
        .on_message(|_, msg| {
            println!(
                "on_message: {} = {} (QoS {})",
                msg.topic(),
                text(msg),
                msg.qos()
            );
        })
        .start()?;

    if !subscribed(&mqtt).await {
        println!("no SUBACK within 5 s: is a broker running on the configured address?");
        return Ok(());
    }
    for (room, what, value) in [
        ("kitchen", "temperature", "21.5"),
        ("kitchen", "humidity", "40"),
        ("cellar", "temperature", "12.0"),
    ] {
        let topic = format!("mqtt-actor/examples/subscribe/{room}/{what}");
        mqtt.send(Publish::new(topic, value)).await??;
    }
    sleep(Duration::from_secs(3)).await;
    mqtt.send(Disconnect).await?;
    Ok(())
}

/// Waits up to 5 s for the broker to acknowledge the subscription.
async fn subscribed(mqtt: &Addr<MqttActor>) -> bool {
    for _ in 0..50 {
        let subs = mqtt.send(GetSubscriptions).await.unwrap_or_default();
        if subs.iter().any(|s| s.active) {
            return true;
        }
        sleep(Duration::from_millis(100)).await;
    }
    false
}
