//! Listeners: any actor can hold its own subscriptions and receive
//! `MqttMessage`s in its mailbox (a WebSocket session, say). The application's
//! handlers do not see them.
//!
//! Run it against a broker on localhost:1883 (`MQTT_BROKER_URL` and
//! `MQTT_BROKER_PORT` override):
//!
//! ```sh
//! cargo run -p mqtt-actor --example listener
//! ```

use std::time::Duration;

use actix::prelude::*;
use actix_rt::time::sleep;
use mqtt_actor::{
    Disconnect, GetStatus, MqttActor, MqttConfig, MqttMessage, Publish, Subscribe, UnsubscribeAll,
    WaitConnected,
};

/// A listener that prints what it receives.
struct Printer;

impl Actor for Printer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The MQTT actor never waits on a listener: when this mailbox is full a
        // message is dropped for this listener (and counted in Status::dropped).
        // Room for bursts: actix's default is 16.
        ctx.set_mailbox_capacity(256);
    }
}

impl Handler<MqttMessage> for Printer {
    type Result = ();

    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        let text = msg.payload_str().unwrap_or("<binary>");
        println!("listener got {} = {text}", msg.topic());
    }
}

#[actix::main]
async fn main() -> mqtt_actor::Result<()> {
    let mqtt = MqttActor::builder(MqttConfig::from_env()?)
        .on_message(|_, msg| println!("on_message (not expected): {}", msg.topic()))
        .start()?;
    if let Err(e) = mqtt.send(WaitConnected(Duration::from_secs(5))).await? {
        println!("not connected within 5 s ({e}): is a broker running on the configured address?");
        return Ok(());
    }

    let printer = Printer.start();
    let filter = "mqtt-actor/examples/listener/#";
    let granted = mqtt
        .send(Subscribe::new(filter).listener(printer.clone().recipient()))
        .await??;
    println!("listener subscribed to {filter} (granted QoS {granted})");

    for n in 1..=3 {
        let topic = format!("mqtt-actor/examples/listener/sensor{n}");
        mqtt.send(Publish::new(topic, format!("reading {n}")))
            .await??;
    }
    sleep(Duration::from_secs(1)).await;

    // A listener lets go of its filters explicitly, or simply stops: stopped
    // listeners are removed within about a second and their filters released.
    mqtt.send(UnsubscribeAll::of(printer.recipient())).await??;
    let status = mqtt.send(GetStatus).await?;
    println!(
        "listeners: {}, messages in: {}, dropped: {}",
        status.listeners, status.messages_in, status.dropped
    );

    mqtt.send(Disconnect).await?;
    Ok(())
}
