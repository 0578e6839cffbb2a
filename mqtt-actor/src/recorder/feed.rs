//! Feeding the recorder from an [`MqttActor`]: the recorded filters as
//! shared subscriptions (`$share/{group}/{filter}`), so that the broker hands
//! each message to one of the instances recording into one database.
//!
//! The recorder best has a broker connection of its own
//! ([`Recorder::start_feed`]), as the example app's `--handle` workers do: a
//! broker sends one copy of a message per client (MQTT 3.1.1) or per
//! matching subscription (MQTT 5) without saying which subscription it came
//! for, so on a connection that also holds `a/#` for browsers, the
//! recorder's share and the browsers' copies could not be told apart.

use actix::Addr;

use super::config::shared_filter;
use super::query::matches;
use super::Recorder;
use crate::{MqttActor, MqttActorBuilder, MqttConfig, MqttError, QoS};

/// The client id of the recorder's own connection: the app's with
/// `-history`, or empty (the library generates one).
fn client_id(app_client_id: &str) -> String {
    if app_client_id.is_empty() {
        String::new()
    } else {
        format!("{app_client_id}-history")
    }
}

impl Recorder {
    /// Adds the recorder's subscriptions ([`RecorderConfig::filters`](super::RecorderConfig::filters),
    /// shared in [`RecorderConfig::share_group`](super::RecorderConfig::share_group), QoS 1)
    /// to `builder`, and a handler that records each message of them once.
    /// Use it on a builder whose other subscriptions do not overlap the
    /// recorded filters (else see [`start_feed`](Self::start_feed)).
    pub fn attach(&self, builder: MqttActorBuilder) -> MqttActorBuilder {
        let config = self.config();
        let filters = config.filters.clone();
        let group = config.share_group.clone();
        let recorder = self.clone();
        let builder = builder.on_message(move |_, msg| {
            if filters.iter().any(|f| matches(f, msg.topic())) {
                recorder.record(msg);
            }
        });
        config.filters.iter().fold(builder, |b, filter| {
            b.subscribe(shared_filter(group.as_deref(), filter), QoS::AtLeastOnce)
        })
    }

    /// Starts an [`MqttActor`] of its own for the recorder, on a broker
    /// connection of its own (client id: `mqtt`'s with `-history`), with
    /// [`attach`](Self::attach). `None` when no filter is recorded.
    pub fn start_feed(&self, mqtt: &MqttConfig) -> Result<Option<Addr<MqttActor>>, MqttError> {
        if self.config().filters.is_empty() {
            return Ok(None);
        }
        let config = MqttConfig {
            client_id: client_id(&mqtt.client_id),
            ..mqtt.clone()
        };
        self.attach(MqttActor::builder(config)).start().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_has_its_own_client_id() {
        assert_eq!(client_id("dash-{hostname}"), "dash-{hostname}-history");
        assert_eq!(client_id(""), "");
    }
}
