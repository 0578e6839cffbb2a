//! Logging: `on_log` gets every log line of the actor with Flask-MQTT's levels
//! (`LogLevel::Info` = `MQTT_LOG_INFO`, ... `LogLevel::Debug` = `MQTT_LOG_DEBUG`).
//! The same lines also go to the `log` crate (e.g. `RUST_LOG=mqtt_actor=debug` with env_logger).
//!
//! Run it against a broker on localhost:1883 (`MQTT_BROKER_URL` and
//! `MQTT_BROKER_PORT` override):
//!
//! ```sh
//! cargo run -p mqtt-actor --example logging
//! MQTT_BROKER_PORT=1 cargo run -p mqtt-actor --example logging   # errors and retries
//! ```

use std::time::Duration;

use actix_rt::time::sleep;
use mqtt_actor::{Disconnect, LogLevel, MqttActor, MqttConfig, Publish, Subscribe};

const TOPIC: &str = "mqtt-actor/examples/logging";

#[actix::main]
async fn main() -> mqtt_actor::Result<()> {
    let mqtt = MqttActor::builder(MqttConfig::from_env()?)
        .on_log(|_, level, text| match level {
            LogLevel::Err => println!("ERROR: {text}"),
            _ => println!("{level:?}: {text}"),
        })
        .on_connect(|mqtt, _| {
            mqtt.do_send(Subscribe::new(TOPIC));
            // Echoed back to us: a Debug line for the received message.
            mqtt.do_send(Publish::new(TOPIC, "hello"));
        })
        .start()?;

    sleep(Duration::from_secs(3)).await;
    mqtt.send(Disconnect).await?;
    Ok(())
}
