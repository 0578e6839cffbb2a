//! The server's own handlers for `--handle FILTER`: an `MqttActor` of their
//! own, on a broker connection of its own, feeding what the server keeps of
//! its messages (the bridge's records: last values, history, retained messages).
//!
//! Why a second connection: a broker sends a client one copy of a message
//! per client (MQTT 3.1.1) or one per matching subscription (MQTT 5), and
//! neither says which subscription a copy came for. A shared subscription
//! (`$share/workers/jobs/#`, which the broker hands to one instance of the
//! group) and a browser's `jobs/#` on one connection could not be told
//! apart: the handlers would run for the browsers' copies too, on every
//! instance. Apart, the handlers see only their share.

use std::sync::Arc;

use actix::prelude::*;
use mqtt_actor::{MqttActor, MqttConfig, QoS};

use mqtt_actor::web::Records;

/// The client id of the handlers' connection: the app's own with
/// `-handlers` (placeholders are replaced by the library), or a generated one.
fn client_id(app_client_id: &str) -> String {
    if app_client_id.is_empty() {
        String::new()
    } else {
        format!("{app_client_id}-handlers")
    }
}

/// Starts the handlers' actor for `filters` (none: no actor), with the app's
/// broker settings `config`; each message is recorded in `records`.
pub fn start(
    filters: &[String],
    config: &MqttConfig,
    records: Arc<Records>,
) -> Result<Option<Addr<MqttActor>>, mqtt_actor::MqttError> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut config = config.clone();
    config.client_id = client_id(&config.client_id);
    let builder = filters.iter().fold(
        MqttActor::builder(config).on_message(move |_, msg| {
            records.record(msg);
        }),
        |b, filter| b.subscribe(filter.trim(), QoS::AtLeastOnce),
    );
    builder.start().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handlers_have_their_own_client_id() {
        assert_eq!(client_id("dash-{hostname}"), "dash-{hostname}-handlers");
        assert_eq!(client_id(""), "", "unset: the library generates one");
    }
}
