//! Publishing: `Publish` with QoS 0, 1 and 2 and the retain flag, and `on_publish`.
//!
//! Run it against a broker on localhost:1883 (`MQTT_BROKER_URL` and
//! `MQTT_BROKER_PORT` override):
//!
//! ```sh
//! cargo run -p mqtt-actor --example publish
//! ```
//!
//! Watch with `mosquitto_sub -v -t 'mqtt-actor/examples/publish/#'`.

use std::time::Duration;

use mqtt_actor::{Disconnect, MqttActor, MqttConfig, Publish, QoS, WaitConnected};

#[actix::main]
async fn main() -> mqtt_actor::Result<()> {
    let mqtt = MqttActor::builder(MqttConfig::from_env()?)
        .on_publish(|_, p| println!("  on_publish: {} (QoS {})", p.topic, p.qos))
        .start()?;
    if let Err(e) = mqtt.send(WaitConnected(Duration::from_secs(5))).await? {
        println!("not connected within 5 s ({e}): is a broker running on the configured address?");
        return Ok(());
    }

    // Each answer comes once the broker accepted the message: at once for QoS 0,
    // after PUBACK for QoS 1, after PUBCOMP for QoS 2.
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let publish = Publish::new("mqtt-actor/examples/publish/qos", format!("qos {qos}"));
        mqtt.send(publish.qos(qos)).await??;
        println!("published with QoS {qos}");
    }

    // A retained message is kept by the broker and sent to every later subscriber.
    let status = "mqtt-actor/examples/publish/status";
    mqtt.send(
        Publish::new(status, "online")
            .qos(QoS::AtLeastOnce)
            .retain(true),
    )
    .await??;
    println!("published a retained message");
    // An empty retained payload clears it again.
    mqtt.send(Publish::new(status, "").retain(true)).await??;
    println!("cleared the retained message");

    // Mistakes come back as typed errors.
    if let Err(e) = mqtt.send(Publish::new("no/+/wildcards", "x")).await? {
        println!("rejected: {e}");
    }

    mqtt.send(Disconnect).await?;
    Ok(())
}
