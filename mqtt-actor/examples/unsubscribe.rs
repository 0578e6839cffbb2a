//! Unsubscribing: `Unsubscribe` one filter, `UnsubscribeAll`, and
//! `GetSubscriptions` (Flask-MQTT's `mqtt.topics`).
//!
//! Run it against a broker on localhost:1883 (`MQTT_BROKER_URL` and
//! `MQTT_BROKER_PORT` override):
//!
//! ```sh
//! cargo run -p mqtt-actor --example unsubscribe
//! ```

use std::time::Duration;

use actix::Addr;
use actix_rt::time::sleep;
use mqtt_actor::{
    Disconnect, GetSubscriptions, MqttActor, MqttConfig, QoS, Unsubscribe, UnsubscribeAll,
};

#[actix::main]
async fn main() -> mqtt_actor::Result<()> {
    // Subscriptions given to the builder are held from the start and re-issued on every connect.
    let mqtt = MqttActor::builder(MqttConfig::from_env()?)
        .subscribe("mqtt-actor/examples/unsubscribe/a", QoS::AtMostOnce)
        .subscribe("mqtt-actor/examples/unsubscribe/b/#", QoS::AtLeastOnce)
        .subscribe("mqtt-actor/examples/unsubscribe/c/+", QoS::ExactlyOnce)
        .on_unsubscribe(|_, u| println!("  on_unsubscribe: {}", u.filter))
        .start()?;

    sleep(Duration::from_secs(1)).await;
    print_topics(&mqtt).await?;

    println!("Unsubscribe(\"mqtt-actor/examples/unsubscribe/a\")");
    mqtt.send(Unsubscribe::new("mqtt-actor/examples/unsubscribe/a"))
        .await??;
    print_topics(&mqtt).await?;

    // Letting go of a filter that is not held is an error, not a silent no-op.
    if let Err(e) = mqtt.send(Unsubscribe::new("not/held")).await? {
        println!("Unsubscribe(\"not/held\"): {e}");
    }

    println!("UnsubscribeAll");
    mqtt.send(UnsubscribeAll::new()).await??;
    print_topics(&mqtt).await?;

    mqtt.send(Disconnect).await?;
    Ok(())
}

async fn print_topics(mqtt: &Addr<MqttActor>) -> mqtt_actor::Result<()> {
    let topics = mqtt.send(GetSubscriptions).await?;
    println!("topics ({}):", topics.len());
    for t in topics {
        let state = if t.active { "active" } else { "pending" };
        println!("  {} QoS {} {state}", t.filter, t.qos);
    }
    Ok(())
}
