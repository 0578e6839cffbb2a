//! # mqtt-actor
//!
//! MQTT for Actix applications: an [`MqttActor`] owns an Eclipse Paho client,
//! keeps track of what is subscribed and by whom, reconnects and re-subscribes,
//! dispatches incoming messages to handlers and to listener actors.
//!
//! ```no_run
//! use mqtt_actor::{MqttActor, MqttConfig, Publish, QoS, Subscribe};
//!
//! #[actix::main]
//! async fn main() -> Result<(), mqtt_actor::MqttError> {
//!     let mqtt = MqttActor::builder(MqttConfig::from_env()?)
//!         // Subscribing in on_connect re-subscribes after every reconnect, as in Flask-MQTT.
//!         .on_connect(|mqtt, _| mqtt.do_send(Subscribe::new("home/+/temperature")))
//!         .on_topic("home/+/temperature", |_, msg| {
//!             println!("{}: {:?}", msg.topic(), msg.payload_str());
//!         })
//!         .start()?;
//!     mqtt.send(Publish::new("home/kitchen/lamp", "on").qos(QoS::AtLeastOnce))
//!         .await??;
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

mod actor;
mod client;
mod config;
mod error;
mod handlers;
mod messages;
mod topic;

pub use actor::{MqttActor, MqttActorBuilder};
pub use config::{MqttConfig, ProtocolVersion, Setting, TlsVersion, Transport, SETTINGS};
pub use error::{MqttError, Result};
pub use handlers::{Connected, Disconnected, LogLevel, Published, Subscribed};
pub use messages::{
    ConnectionChanged, Disconnect, GetStatus, GetSubscriptions, MessageProperties, MqttMessage,
    Publish, QoS, Status, Subscribe, SubscriptionInfo, Unsubscribe, UnsubscribeAll, WaitConnected,
    WatchConnection,
};
pub use topic::{validate_filter, validate_topic};
