//! Connecting: `on_connect`, `on_disconnect` and `GetStatus` (Flask-MQTT's
//! `mqtt.connected`).
//!
//! Run it against a broker on localhost:1883 (`MQTT_BROKER_URL` and
//! `MQTT_BROKER_PORT` override):
//!
//! ```sh
//! cargo run -p mqtt-actor --example connect
//! ```
//!
//! Stop the broker while it runs to see `on_disconnect` and the retries; start
//! it with no broker at all to see that `start()` neither blocks nor fails.

use std::time::Duration;

use mqtt_actor::{Disconnect, GetStatus, MqttActor, MqttConfig};

#[actix::main]
async fn main() -> mqtt_actor::Result<()> {
    // Handlers are registered before the actor connects, so none misses the first connection.
    let mqtt = MqttActor::builder(MqttConfig::from_env()?)
        .on_connect(|_, c| {
            println!("on_connect: {} (reconnect: {})", c.broker, c.reconnect);
        })
        .on_disconnect(|_, d| println!("on_disconnect: {}: {}", d.broker, d.reason))
        .start()?;

    for _ in 0..5 {
        let status = mqtt.send(GetStatus).await?;
        match &status.last_error {
            Some(e) => println!("connected: {} (last error: {e})", status.connected),
            None => println!(
                "connected: {} as {:?} to {}",
                status.connected, status.client_id, status.broker
            ),
        }
        actix_rt::time::sleep(Duration::from_secs(1)).await;
    }

    // A clean DISCONNECT: the broker does not publish the last will.
    mqtt.send(Disconnect).await?;
    println!("disconnected");
    Ok(())
}
