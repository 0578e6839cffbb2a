//! Helpers for tests of the `MqttActor`: settings for a test broker, waits on
//! the actor's state, and handlers that record what they are called with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use mqtt_actor::{GetStatus, GetSubscriptions, MqttActor, MqttConfig, MqttMessage, Status};

use crate::eventually;

/// Actor settings for tests: the given broker, quick reconnects.
pub fn mqtt_config(url: &str) -> MqttConfig {
    let mut config = MqttConfig::default();
    config.broker_url = url.to_string();
    config.reconnect_min_delay = Duration::from_millis(100);
    config.reconnect_max_delay = Duration::from_millis(500);
    config.request_timeout = Duration::from_secs(5);
    config
}

/// Waits until the actor reports the connection state `connected`.
pub async fn wait_connected(mqtt: &Addr<MqttActor>, connected: bool) -> Status {
    eventually(&format!("connected == {connected}"), || async {
        let s = mqtt.send(GetStatus).await.ok()?;
        (s.connected == connected).then_some(s)
    })
    .await
}

/// Waits until `filter` is acknowledged by the broker on the current connection.
pub async fn wait_active(mqtt: &Addr<MqttActor>, filter: &str) {
    eventually(&format!("{filter} active"), || async {
        let subs = mqtt.send(GetSubscriptions).await.ok()?;
        subs.iter()
            .any(|s| s.filter == filter && s.active)
            .then_some(())
    })
    .await
}

/// What a handler or a listener recorded, in the order it got it.
pub type Recorded<T> = Arc<Mutex<Vec<T>>>;

/// A handler that records every value it is called with, and the list it fills.
pub fn recorder<T: Clone + 'static>() -> (Recorded<T>, impl Fn(&Addr<MqttActor>, &T) + 'static) {
    let list: Recorded<T> = Default::default();
    let held = list.clone();
    (list, move |_: &Addr<MqttActor>, v: &T| {
        held.lock().expect("recorder lock").push(v.clone())
    })
}

/// The topics of the recorded messages, in order.
pub fn topics(seen: &Recorded<MqttMessage>) -> Vec<String> {
    seen.lock()
        .expect("recorder lock")
        .iter()
        .map(|m| m.topic().to_string())
        .collect()
}

/// Waits until a message on `topic` was recorded, and returns it.
pub async fn wait_for(seen: &Recorded<MqttMessage>, topic: &str) -> MqttMessage {
    eventually(&format!("a message on {topic}"), || async {
        seen.lock()
            .expect("recorder lock")
            .iter()
            .find(|m| m.topic() == topic)
            .cloned()
    })
    .await
}

/// A listener actor that records the messages it gets ([`collector`]).
pub struct Collector {
    seen: Recorded<MqttMessage>,
    mailbox: usize,
}

impl Actor for Collector {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.mailbox);
    }
}

impl Handler<MqttMessage> for Collector {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        self.seen.lock().expect("collector lock").push(msg);
    }
}

/// A listener that records what it gets, started on this thread's arbiter
/// with actix's default mailbox (16 messages), and the list it fills.
pub fn collector() -> (Addr<Collector>, Recorded<MqttMessage>) {
    collector_with_mailbox(16)
}

/// [`collector`] with room for `mailbox` messages in its mailbox.
pub fn collector_with_mailbox(mailbox: usize) -> (Addr<Collector>, Recorded<MqttMessage>) {
    let seen: Recorded<MqttMessage> = Default::default();
    let collector = Collector {
        seen: seen.clone(),
        mailbox,
    };
    (collector.start(), seen)
}
