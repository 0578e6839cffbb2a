//! The builder: every handler and initial subscription is registered before
//! the actor connects, so `on_connect` cannot miss the first connection.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use paho_mqtt as paho;
use serde::de::DeserializeOwned;

use super::buffers::{InFlight, OfflineBuffer};
use super::connection::Connection;
use super::counters::Counters;
use super::failover::Failover;
use super::listeners::Holder;
use super::replies::Requests;
use super::steps::Steps;
use super::takeover::TakeoverWatch;
use super::MqttActor;
use crate::broker_limits::BrokerLimits;
use crate::client::{
    connect_options, generated_client_id, install_callbacks, mqtt_version, InboundDrops,
    INBOUND_CAPACITY,
};
use crate::config::{MqttConfig, ProtocolVersion};
use crate::error::{MqttError, Result};
use crate::handlers::{
    Connected, Disconnected, Handlers, LogLevel, Published, Subscribed, Unsubscribed,
};
use crate::messages::MqttMessage;
use crate::plan::Plan;
use crate::qos::QoS;
use crate::request::{reply_to, IntoReply};
use crate::topic::{validate_filter, validate_topic, Hold, Index};

/// Registers handlers and initial subscriptions, then starts the actor.
pub struct MqttActorBuilder {
    config: MqttConfig,
    handlers: Handlers<MqttActor>,
    /// Application subscriptions held from the start: `(filter, qos)`.
    initial: Vec<(String, QoS)>,
    inbound_capacity: usize,
    /// Set by [`reply_topic_prefix`](Self::reply_topic_prefix); else
    /// `{client_id}/replies`.
    reply_prefix: Option<String>,
    /// The filters of the `on_request` handlers, which need MQTT 5.
    request_filters: Vec<String>,
}

impl MqttActor {
    /// Starts building an actor for `config`.
    pub fn builder(config: MqttConfig) -> MqttActorBuilder {
        MqttActorBuilder::new(config)
    }
}

impl MqttActorBuilder {
    fn new(config: MqttConfig) -> Self {
        MqttActorBuilder {
            config,
            handlers: Handlers::default(),
            initial: Vec::new(),
            inbound_capacity: INBOUND_CAPACITY,
            reply_prefix: None,
            request_filters: Vec::new(),
        }
    }

    /// Called on every successful connection, after the subscriptions were re-issued.
    pub fn on_connect(mut self, f: impl Fn(&Addr<MqttActor>, &Connected) + 'static) -> Self {
        self.handlers.connect.push(Box::new(f));
        self
    }

    /// Called when an established connection is lost.
    pub fn on_disconnect(mut self, f: impl Fn(&Addr<MqttActor>, &Disconnected) + 'static) -> Self {
        self.handlers.disconnect.push(Box::new(f));
        self
    }

    /// Called for every message that matches one of the application's own filters
    /// (after the matching `on_topic` handlers).
    pub fn on_message(mut self, f: impl Fn(&Addr<MqttActor>, &MqttMessage) + 'static) -> Self {
        self.handlers.message.push(Box::new(f));
        self
    }

    /// Called for messages of the application's subscriptions whose topic matches
    /// `filter` (`+` and `#` allowed). It does not subscribe by itself.
    pub fn on_topic(
        mut self,
        filter: impl Into<String>,
        f: impl Fn(&Addr<MqttActor>, &MqttMessage) + 'static,
    ) -> Self {
        self.handlers.add_topic(
            filter.into(),
            Box::new(move |mqtt, msg| {
                f(mqtt, msg);
                Ok(())
            }),
        );
        self
    }

    /// Like [`on_topic`](Self::on_topic), with the payload decoded from JSON
    /// as `T`. A payload that does not decode never reaches `f`: it goes to
    /// `on_log` (and the `log` crate) as a warning naming the topic, the type
    /// and serde's message.
    ///
    /// ```no_run
    /// # use mqtt_actor::*;
    /// #[derive(serde::Deserialize)]
    /// struct Reading { celsius: f64 }
    ///
    /// # fn main() -> Result<()> {
    /// MqttActor::builder(MqttConfig::from_env()?)
    ///     .subscribe("home/+/temperature", QoS::AtLeastOnce)
    ///     .on_topic_json("home/+/temperature", |_, msg, r: Reading| {
    ///         println!("{}: {} °C", msg.topic(), r.celsius);
    ///     })
    ///     .start()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_topic_json<T, F>(mut self, filter: impl Into<String>, f: F) -> Self
    where
        T: DeserializeOwned + 'static,
        F: Fn(&Addr<MqttActor>, &MqttMessage, T) + 'static,
    {
        self.handlers.add_topic(
            filter.into(),
            Box::new(move |mqtt, msg| {
                let value = msg.json::<T>().map_err(|e| {
                    format!(
                        "{e} (expected {}); its on_topic_json handler was not called",
                        std::any::type_name::<T>()
                    )
                })?;
                f(mqtt, msg, value);
                Ok(())
            }),
        );
        self
    }

    /// Serves requests ([`Request`](crate::Request), or any MQTT 5 client's)
    /// on the application's subscriptions whose topic matches `filter`: what
    /// `f` returns ([`IntoReply`]: a payload, a [`Reply`](crate::Reply), `None` for no
    /// reply, `Err` for no reply and a warning in `on_log`) is published to
    /// the request's response topic with its correlation data. A message
    /// without a response topic is not a request: it goes to `on_log` as a
    /// warning, not to `f`. Like `on_topic`, it does not subscribe by itself
    /// (subscribe `filter`, or a shared subscription to it, too). Needs MQTT
    /// 5: on MQTT 3.1.1, `start()` fails with [`MqttError::NeedsMqtt5`].
    ///
    /// ```no_run
    /// # use mqtt_actor::*;
    /// # fn main() -> Result<()> {
    /// let mut config = MqttConfig::from_env()?;
    /// config.protocol_version = ProtocolVersion::V5;
    /// MqttActor::builder(config)
    ///     .subscribe("svc/echo", QoS::AtLeastOnce)
    ///     .on_request("svc/echo", |_, msg| msg.payload().clone())
    ///     .start()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_request<R, F>(mut self, filter: impl Into<String>, f: F) -> Self
    where
        R: IntoReply,
        F: Fn(&Addr<MqttActor>, &MqttMessage) -> R + 'static,
    {
        let filter = filter.into();
        self.request_filters.push(filter.clone());
        self.handlers.add_topic(
            filter,
            Box::new(move |mqtt, msg| {
                if msg.response_topic().is_none() {
                    return Err(format!(
                        "a message on {:?} has no response topic, so it is not a request: \
                         its on_request handler was not called",
                        msg.topic()
                    ));
                }
                let reply = f(mqtt, msg).into_reply().map_err(|e| {
                    format!(
                        "the request on {:?} failed: {e}; no reply sent",
                        msg.topic()
                    )
                })?;
                if let Some(reply) = reply {
                    let publish = reply_to(msg, reply).map_err(|e| {
                        format!("cannot reply to the request on {:?}: {e}", msg.topic())
                    })?;
                    mqtt.do_send(publish);
                }
                Ok(())
            }),
        );
        self
    }

    /// Where replies to this actor's [`Request`](crate::Request)s come:
    /// `{prefix}/{n}`, under the filter `{prefix}/#` the actor subscribes at
    /// its first request. By default `{client_id}/replies`; set one when the
    /// client id cannot be a topic level (it holds `+`, `#` or `/`) or the
    /// broker's ACL wants replies elsewhere.
    pub fn reply_topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.reply_prefix = Some(prefix.into());
        self
    }

    /// Called once the broker accepted a publish (PUBACK / PUBCOMP, or sent for QoS 0).
    pub fn on_publish(mut self, f: impl Fn(&Addr<MqttActor>, &Published) + 'static) -> Self {
        self.handlers.publish.push(Box::new(f));
        self
    }

    /// Called on every SUBACK, with the broker subscription it answers: the
    /// held filter itself, or the wider filter serving overlapping held
    /// filters (see the README's "Subscriptions").
    pub fn on_subscribe(mut self, f: impl Fn(&Addr<MqttActor>, &Subscribed) + 'static) -> Self {
        self.handlers.subscribe.push(Box::new(f));
        self
    }

    /// Called on every UNSUBACK, with the broker subscription that ended.
    pub fn on_unsubscribe(mut self, f: impl Fn(&Addr<MqttActor>, &Unsubscribed) + 'static) -> Self {
        self.handlers.unsubscribe.push(Box::new(f));
        self
    }

    /// Called for every log line of the actor, with Flask-MQTT's levels.
    pub fn on_log(mut self, f: impl Fn(&Addr<MqttActor>, LogLevel, &str) + 'static) -> Self {
        self.handlers.log.push(Box::new(f));
        self
    }

    /// An application subscription held from the start and re-issued on every connect.
    pub fn subscribe(mut self, filter: impl Into<String>, qos: QoS) -> Self {
        self.initial.push((filter.into(), qos));
        self
    }

    /// How many incoming messages may wait between Paho's thread and the
    /// actor (65,536 by default). Past it, messages are dropped, counted in
    /// [`Status::dropped`](crate::Status::dropped), and told to the listeners
    /// whose filters they match ([`ListenerNotice::Dropped`](crate::ListenerNotice::Dropped)).
    /// Each waiting message holds its payload.
    pub fn inbound_capacity(mut self, messages: usize) -> Self {
        self.inbound_capacity = messages.max(1);
        self
    }

    /// Validates the configuration, creates the client and starts the actor,
    /// which connects in the background and keeps retrying with back-off.
    pub fn start(self) -> Result<Addr<MqttActor>> {
        // The context exists before the actor, so the actor knows its own
        // address from the start (handlers and log lines need it).
        let ctx = Context::new();
        let actor = self.build(ctx.address())?;
        Ok(ctx.run(actor))
    }

    fn build(self, addr: Addr<MqttActor>) -> Result<MqttActor> {
        let config = self.config;
        config.validate()?;
        for filter in self.handlers.topic_filters() {
            validate_filter(filter)?;
        }
        if let Some(filter) = self.request_filters.first() {
            if config.protocol_version == ProtocolVersion::V311 {
                return Err(MqttError::NeedsMqtt5 {
                    what: format!("serving requests (on_request {filter:?})"),
                });
            }
        }
        if let Some(prefix) = &self.reply_prefix {
            validate_topic(prefix)?;
        }
        let mut index = Index::default();
        let mut plan = Plan::default();
        for (filter, qos) in self.initial {
            validate_filter(&filter)?;
            index.add(&filter, Holder::App, Hold { qos, pending: None });
            plan.add(&filter);
        }
        let uris = config.server_uris();
        let first = uris.first().cloned().unwrap_or_default();
        let client_id = if config.client_id.is_empty() {
            generated_client_id()
        } else {
            crate::client_id::expand(&config.client_id)
        };
        // Each attempt names its broker in its connect options; the client's
        // own URI is only Paho's default.
        let client = paho::CreateOptionsBuilder::new()
            .server_uri(&first)
            .client_id(&client_id)
            .mqtt_version(mqtt_version(&config))
            .persistence(None)
            .create_client()
            .map_err(|e| MqttError::Client(format!("cannot create a client for {first}: {e}")))?;
        let connect_opts = uris
            .iter()
            .map(|uri| connect_options(&config, uri))
            .collect::<Result<Vec<_>>>()?;
        let reply_prefix = self
            .reply_prefix
            .unwrap_or_else(|| format!("{client_id}/replies"));
        let inbound = Arc::new(InboundDrops::default());
        let streams = install_callbacks(&client, self.inbound_capacity, inbound.clone());
        Ok(MqttActor {
            failover: Failover::new(uris),
            client_id,
            client,
            connect_opts,
            takeovers: TakeoverWatch::default(),
            mixed_shares_warned: Default::default(),
            handlers: self.handlers,
            index,
            plan,
            at_broker: HashMap::new(),
            steps: Steps::default(),
            windows: Default::default(),
            limits: BrokerLimits::from_settings(&config),
            connection: Connection::new(config.reconnect_min_delay, config.reconnect_max_delay),
            offline: OfflineBuffer::new(config.max_buffered_publishes),
            in_flight: InFlight::default(),
            listeners: HashMap::new(),
            watchers: Vec::new(),
            waiting: Vec::new(),
            counters: Counters::new(inbound),
            requests: Requests::new(reply_prefix),
            last_error: None,
            streams: Some(streams),
            addr,
            config,
        })
    }
}
