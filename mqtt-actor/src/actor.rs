//! The `MqttActor`: owns the Paho client, keeps the subscriptions, reconnects,
//! buffers publishes while disconnected and fans incoming messages out.
//!
//! Delivery policy: the actor never waits on a listener. Each message goes to a
//! listener with `try_send`; when the listener's mailbox is full (actix's
//! mailbox capacity, 16 by default, raised with `ctx.set_mailbox_capacity`) the
//! message is dropped for that listener alone and counted in
//! [`Status::dropped`]. A listener whose actor has stopped is removed and its
//! filters released.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;
use paho_mqtt as paho;

use crate::client::{
    acked, connect_options, from_paho, generated_client_id, granted_qos, install_callbacks,
    mqtt_version, to_qos, Inbound, InboundStream, Link, LinkStream,
};
use crate::config::MqttConfig;
use crate::error::{MqttError, Result};
use crate::handlers::{self, Connected, Disconnected, Handlers, LogLevel, Published, Subscribed};
use crate::messages::*;
use crate::topic::{validate_filter, validate_topic, Change, Index};

/// How often listeners whose actor stopped are looked for.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Who holds a filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    App,
    Listener(Recipient<MqttMessage>),
}

impl Holder {
    fn of(listener: Option<Recipient<MqttMessage>>) -> Self {
        listener.map_or(Holder::App, Holder::Listener)
    }
}

struct Buffered {
    publish: Publish,
    reply: oneshot::Sender<Result<()>>,
}

/// The actor. Build it with [`MqttActor::builder`].
pub struct MqttActor {
    config: MqttConfig,
    uri: String,
    client_id: String,
    client: paho::AsyncClient,
    connect_opts: paho::ConnectOptions,
    handlers: Handlers,
    index: Index<Holder>,
    connected: bool,
    ever_connected: bool,
    stopping: bool,
    attempt: u32,
    buffer: VecDeque<Buffered>,
    watchers: Vec<Recipient<ConnectionChanged>>,
    /// Callers of [`WaitConnected`] waiting for the next connection.
    waiting: Vec<oneshot::Sender<()>>,
    messages_in: u64,
    messages_out: u64,
    dropped: u64,
    inbound_dropped: Arc<AtomicU64>,
    last_error: Option<MqttError>,
    links: Option<(LinkStream, InboundStream)>,
    addr: Option<Addr<MqttActor>>,
}

/// Registers handlers and initial subscriptions, then starts the actor.
pub struct MqttActorBuilder {
    config: MqttConfig,
    handlers: Handlers,
    initial: Vec<(String, QoS)>,
}

impl MqttActor {
    /// Starts building an actor for `config`.
    pub fn builder(config: MqttConfig) -> MqttActorBuilder {
        MqttActorBuilder {
            config,
            handlers: Handlers::default(),
            initial: Vec::new(),
        }
    }
}

impl MqttActorBuilder {
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
        self.handlers.add_topic(filter.into(), Box::new(f));
        self
    }

    /// Called once the broker accepted a publish (PUBACK / PUBCOMP, or sent for QoS 0).
    pub fn on_publish(mut self, f: impl Fn(&Addr<MqttActor>, &Published) + 'static) -> Self {
        self.handlers.publish.push(Box::new(f));
        self
    }

    /// Called on every SUBACK.
    pub fn on_subscribe(mut self, f: impl Fn(&Addr<MqttActor>, &Subscribed) + 'static) -> Self {
        self.handlers.subscribe.push(Box::new(f));
        self
    }

    /// Called on every UNSUBACK with the filter.
    pub fn on_unsubscribe(mut self, f: impl Fn(&Addr<MqttActor>, &String) + 'static) -> Self {
        self.handlers.unsubscribe.push(Box::new(f));
        self
    }

    /// Called for every log line of the actor, with Flask-MQTT's levels.
    pub fn on_log(mut self, f: impl Fn(LogLevel, &str) + 'static) -> Self {
        self.handlers.log.push(Box::new(f));
        self
    }

    /// An application subscription held from the start and re-issued on every connect.
    pub fn subscribe(mut self, filter: impl Into<String>, qos: QoS) -> Self {
        self.initial.push((filter.into(), qos));
        self
    }

    /// Validates the configuration, creates the client and starts the actor,
    /// which connects in the background and keeps retrying with back-off.
    pub fn start(self) -> Result<Addr<MqttActor>> {
        Ok(self.build()?.start())
    }

    fn build(self) -> Result<MqttActor> {
        let config = self.config;
        config.validate()?;
        if let Some(topics) = &self.handlers.topics {
            for (filter, _) in topics.iter() {
                validate_filter(filter)?;
            }
        }
        let mut index = Index::default();
        for (filter, qos) in self.initial {
            validate_filter(&filter)?;
            index.add(&filter, Holder::App, qos);
        }
        let uri = config.server_uri();
        let client_id = if config.client_id.is_empty() {
            generated_client_id()
        } else {
            config.client_id.clone()
        };
        let client = paho::CreateOptionsBuilder::new()
            .server_uri(&uri)
            .client_id(&client_id)
            .mqtt_version(mqtt_version(&config))
            .persistence(None)
            .create_client()
            .map_err(|e| MqttError::Client(format!("cannot create a client for {uri}: {e}")))?;
        let connect_opts = connect_options(&config)?;
        let inbound_dropped = Arc::new(AtomicU64::new(0));
        let links = install_callbacks(&client, inbound_dropped.clone());
        Ok(MqttActor {
            config,
            uri,
            client_id,
            client,
            connect_opts,
            handlers: self.handlers,
            index,
            connected: false,
            ever_connected: false,
            stopping: false,
            attempt: 0,
            buffer: VecDeque::new(),
            watchers: Vec::new(),
            waiting: Vec::new(),
            messages_in: 0,
            messages_out: 0,
            dropped: 0,
            inbound_dropped,
            last_error: None,
            links: Some(links),
            addr: None,
        })
    }
}

impl Actor for MqttActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.addr = Some(ctx.address());
        if let Some((links, inbound)) = self.links.take() {
            ctx.add_message_stream(links);
            ctx.add_message_stream(inbound);
        }
        ctx.run_interval(SWEEP_INTERVAL, |act, ctx| act.sweep_dead(ctx));
        self.log(
            LogLevel::Info,
            &format!("client {} connecting to {}", self.client_id, self.uri),
        );
        self.connect(ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.client.is_connected() {
            // The DISCONNECT is already under way; nobody is left to await it.
            drop(self.client.disconnect(None));
        }
    }
}

impl MqttActor {
    fn me(&self) -> Addr<MqttActor> {
        self.addr.clone().expect("address is set in started()")
    }

    fn log(&self, level: LogLevel, text: &str) {
        self.handlers.log(level, text);
    }

    fn not_connected(&self) -> MqttError {
        MqttError::NotConnected {
            broker: self.uri.clone(),
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let token = self.client.connect(self.connect_opts.clone());
        let tls = self.config.uses_tls();
        let uri = self.uri.clone();
        let addr = self.config.tcp_address();
        async move {
            match token.await {
                Ok(_) => Ok(()),
                Err(e) => {
                    let reachable = tls && tokio::net::TcpStream::connect(&addr).await.is_ok();
                    Err(MqttError::from_connect(&uri, &e, tls, reachable))
                }
            }
        }
        .into_actor(self)
        .map(|res, act, ctx| {
            if let Err(e) = res {
                act.log(LogLevel::Err, &format!("client {}: {e}", act.client_id));
                act.last_error = Some(e);
                act.schedule_reconnect(ctx);
            }
        })
        .spawn(ctx);
    }

    fn schedule_reconnect(&mut self, ctx: &mut Context<Self>) {
        if self.stopping || self.connected {
            return;
        }
        let min = self.config.reconnect_min_delay;
        let delay = min
            .saturating_mul(2u32.saturating_pow(self.attempt.min(16)))
            .min(self.config.reconnect_max_delay);
        self.attempt += 1;
        self.log(
            LogLevel::Warning,
            &format!(
                "client {}: reconnecting to {} in {delay:?}",
                self.client_id, self.uri
            ),
        );
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }

    fn on_up(&mut self, ctx: &mut Context<Self>) {
        let reconnect = self.ever_connected;
        self.connected = true;
        self.ever_connected = true;
        self.attempt = 0;
        self.last_error = None;
        self.log(
            LogLevel::Info,
            &format!("client {} connected to {}", self.client_id, self.uri),
        );
        self.resubscribe(ctx);
        self.flush_buffer(ctx);
        self.notify_watchers();
        for w in self.waiting.drain(..) {
            let _ = w.send(());
        }
        let event = Connected {
            broker: self.uri.clone(),
            reconnect,
        };
        handlers::call(&self.handlers.connect, &self.me(), &event);
    }

    fn on_lost(&mut self, reason: String, ctx: &mut Context<Self>) {
        if !self.connected {
            return;
        }
        self.connected = false;
        self.index.clear_grants();
        self.log(
            LogLevel::Warning,
            &format!("client {} lost {}: {reason}", self.client_id, self.uri),
        );
        self.notify_watchers();
        let event = Disconnected {
            broker: self.uri.clone(),
            reason,
        };
        handlers::call(&self.handlers.disconnect, &self.me(), &event);
        self.schedule_reconnect(ctx);
    }

    /// Paho does not restore subscriptions after a reconnect: issue them all again.
    fn resubscribe(&mut self, ctx: &mut Context<Self>) {
        let filters: Vec<(String, QoS)> = self
            .index
            .entries()
            .map(|(f, e)| (f.to_string(), e.wanted()))
            .collect();
        for (filter, qos) in filters {
            let fut = self.subscribe_at_broker(filter.clone(), qos);
            fut.into_actor(self)
                .map(move |res, act, _| {
                    if let Err(e) = res {
                        act.log(
                            LogLevel::Err,
                            &format!("re-subscribing {filter:?} failed: {e}"),
                        );
                    }
                })
                .spawn(ctx);
        }
    }

    fn subscribe_at_broker(&self, filter: String, qos: QoS) -> impl Future<Output = Result<QoS>> {
        let token = self.client.subscribe(filter.clone(), to_qos(qos));
        let timeout = self.config.request_timeout;
        let me = self.me();
        async move {
            let rsp = acked(token, timeout, "subscribe", filter.clone()).await;
            let granted = rsp.and_then(|rsp| {
                QoS::try_from(granted_qos(&rsp)).map_err(|_| MqttError::Refused {
                    operation: "subscribe",
                    topic: filter.clone(),
                    reason: format!("SUBACK return code 0x{:02x}", granted_qos(&rsp)),
                })
            });
            // The actor records the grant (or drops the holders on refusal) in order.
            let _ = me.send(Granted(filter, granted.clone())).await;
            granted
        }
    }

    fn unsubscribe_at_broker(&self, filter: String) -> impl Future<Output = Result<()>> {
        let connected = self.connected;
        let token = connected.then(|| self.client.unsubscribe(filter.clone()));
        let timeout = self.config.request_timeout;
        let me = self.me();
        async move {
            if let Some(token) = token {
                acked(token, timeout, "unsubscribe", filter.clone()).await?;
                let _ = me.send(Ungranted(filter)).await;
            }
            Ok(())
        }
    }

    fn release(&mut self, filters: Vec<String>, ctx: &mut Context<Self>) {
        for filter in filters {
            let fut = self.unsubscribe_at_broker(filter.clone());
            fut.into_actor(self)
                .map(move |res, act, _| {
                    if let Err(e) = res {
                        act.log(LogLevel::Warning, &format!("unsubscribing {filter:?}: {e}"));
                    }
                })
                .spawn(ctx);
        }
    }

    fn drop_listener(&mut self, listener: Recipient<MqttMessage>, ctx: &mut Context<Self>) {
        let filters = self.index.remove_holder(&Holder::Listener(listener));
        self.release(filters, ctx);
    }

    fn sweep_dead(&mut self, ctx: &mut Context<Self>) {
        let dead: Vec<Recipient<MqttMessage>> = self
            .index
            .holders()
            .filter_map(|h| match h {
                Holder::Listener(r) if !r.connected() => Some(r.clone()),
                _ => None,
            })
            .collect();
        for listener in dead {
            self.log(
                LogLevel::Notice,
                "a listener stopped: releasing its filters",
            );
            self.drop_listener(listener, ctx);
        }
        self.watchers.retain(|w| w.connected());
    }

    fn notify_watchers(&mut self) {
        let notice = ConnectionChanged {
            connected: self.connected,
            broker: self.uri.clone(),
        };
        self.watchers.retain(|w| w.connected());
        for w in &self.watchers {
            w.do_send(notice.clone());
        }
    }

    fn dispatch(&mut self, msg: MqttMessage, ctx: &mut Context<Self>) {
        self.messages_in += 1;
        let mut app = false;
        let mut dead = Vec::new();
        for holder in self.index.holders_matching(msg.topic()) {
            match holder {
                Holder::App => app = true,
                Holder::Listener(r) => match r.try_send(msg.clone()) {
                    Ok(()) => {}
                    Err(SendError::Full(_)) => self.dropped += 1,
                    Err(SendError::Closed(_)) => dead.push(r.clone()),
                },
            }
        }
        if app {
            self.handlers.message(&self.me(), &msg);
        }
        for r in dead {
            self.drop_listener(r, ctx);
        }
    }

    fn publish(&mut self, p: Publish, reply: oneshot::Sender<Result<()>>, ctx: &mut Context<Self>) {
        if !self.connected {
            match p.qos {
                QoS::AtMostOnce => drop(reply.send(Err(self.not_connected()))),
                _ => self.buffer_publish(p, reply),
            }
            return;
        }
        let msg = paho::MessageBuilder::new()
            .topic(&p.topic)
            .payload(p.payload.to_vec())
            .qos(to_qos(p.qos))
            .retained(p.retain)
            .finalize();
        let token = self.client.publish(msg);
        acked(
            token,
            self.config.request_timeout,
            "publish",
            p.topic.clone(),
        )
        .into_actor(self)
        .map(move |res, act, ctx| match res {
            Ok(()) => {
                act.messages_out += 1;
                let event = Published {
                    topic: p.topic.clone(),
                    qos: p.qos,
                };
                handlers::call(&act.handlers.publish, &act.me(), &event);
                let _ = reply.send(Ok(()));
            }
            // Lost with the connection: keep it for the next one.
            Err(_) if !act.connected && p.qos != QoS::AtMostOnce => act.publish(p, reply, ctx),
            Err(e) => {
                act.log(
                    LogLevel::Err,
                    &format!("publish to {:?} failed: {e}", p.topic),
                );
                let _ = reply.send(Err(e));
            }
        })
        .spawn(ctx);
    }

    /// Keeps a QoS 1/2 publish for the next connection, up to the configured bound.
    fn buffer_publish(&mut self, publish: Publish, reply: oneshot::Sender<Result<()>>) {
        let limit = self.config.max_buffered_publishes;
        if self.buffer.len() >= limit {
            let full = MqttError::BufferFull {
                topic: publish.topic,
                limit,
            };
            let _ = reply.send(Err(full));
            return;
        }
        self.buffer.push_back(Buffered { publish, reply });
    }

    fn flush_buffer(&mut self, ctx: &mut Context<Self>) {
        let pending = std::mem::take(&mut self.buffer);
        if !pending.is_empty() {
            self.log(
                LogLevel::Notice,
                &format!("sending {} buffered publishes", pending.len()),
            );
        }
        for b in pending {
            self.publish(b.publish, b.reply, ctx);
        }
    }

    fn status(&self) -> Status {
        Status {
            connected: self.connected,
            broker: self.uri.clone(),
            client_id: self.client_id.clone(),
            messages_in: self.messages_in,
            messages_out: self.messages_out,
            dropped: self.dropped + self.inbound_dropped.load(Ordering::Relaxed),
            listeners: self
                .index
                .holders()
                .filter(|h| matches!(h, Holder::Listener(_)))
                .count(),
            buffered: self.buffer.len(),
            last_error: self.last_error.clone(),
        }
    }
}

/// The broker's answer to a SUBSCRIBE, recorded in order by the actor.
struct Granted(String, Result<QoS>);

impl actix::Message for Granted {
    type Result = ();
}

struct Ungranted(String);

impl actix::Message for Ungranted {
    type Result = ();
}

impl Handler<Link> for MqttActor {
    type Result = ();
    fn handle(&mut self, link: Link, ctx: &mut Context<Self>) {
        match link {
            Link::Up => self.on_up(ctx),
            Link::Lost(reason) => self.on_lost(reason, ctx),
        }
    }
}

impl Handler<Inbound> for MqttActor {
    type Result = ();
    fn handle(&mut self, Inbound(msg): Inbound, ctx: &mut Context<Self>) {
        let msg = from_paho(&msg);
        self.log(
            LogLevel::Debug,
            &format!(
                "received {} bytes on {:?}",
                msg.payload().len(),
                msg.topic()
            ),
        );
        self.dispatch(msg, ctx);
    }
}

impl Handler<Granted> for MqttActor {
    type Result = ();
    fn handle(&mut self, Granted(filter, granted): Granted, _: &mut Context<Self>) {
        match granted {
            Ok(qos) => {
                self.index.set_granted(&filter, Some(qos));
                let event = Subscribed {
                    filter,
                    granted: qos,
                };
                handlers::call(&self.handlers.subscribe, &self.me(), &event);
            }
            Err(MqttError::Refused { .. }) => {
                // A refused filter is dropped so that it is not retried on every connect.
                self.index.remove_filter(&filter);
            }
            Err(_) => {}
        }
    }
}

impl Handler<Ungranted> for MqttActor {
    type Result = ();
    fn handle(&mut self, Ungranted(filter): Ungranted, _: &mut Context<Self>) {
        handlers::call(&self.handlers.unsubscribe, &self.me(), &filter);
    }
}

impl Handler<Subscribe> for MqttActor {
    type Result = ResponseFuture<Result<QoS>>;
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate_filter(&msg.filter) {
            return Box::pin(async move { Err(e) });
        }
        if !self.connected {
            let e = self.not_connected();
            return Box::pin(async move { Err(e) });
        }
        match self
            .index
            .add(&msg.filter, Holder::of(msg.listener), msg.qos)
        {
            Change::AlreadyGranted(q) => Box::pin(async move { Ok(q) }),
            Change::SubscribeAt(q) => Box::pin(self.subscribe_at_broker(msg.filter, q)),
            Change::Unsubscribe | Change::Nothing => unreachable!("add never releases"),
        }
    }
}

impl Handler<Unsubscribe> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) -> Self::Result {
        match self.index.remove(&msg.filter, &Holder::of(msg.listener)) {
            None => Box::pin(async move { Err(MqttError::NotSubscribed { filter: msg.filter }) }),
            Some(Change::Unsubscribe) => Box::pin(self.unsubscribe_at_broker(msg.filter)),
            Some(_) => Box::pin(async { Ok(()) }),
        }
    }
}

impl Handler<UnsubscribeAll> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: UnsubscribeAll, _: &mut Context<Self>) -> Self::Result {
        let filters = self.index.remove_holder(&Holder::of(msg.listener));
        let futs: Vec<_> = filters
            .into_iter()
            .map(|f| self.unsubscribe_at_broker(f))
            .collect();
        Box::pin(async move {
            futures::future::join_all(futs)
                .await
                .into_iter()
                .collect::<Result<Vec<()>>>()
                .map(|_| ())
        })
    }
}

impl Handler<Publish> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate_topic(&msg.topic) {
            return Box::pin(async move { Err(e) });
        }
        let (tx, rx) = oneshot::channel();
        self.publish(msg, tx, ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(MqttError::Stopped)) })
    }
}

impl Handler<GetSubscriptions> for MqttActor {
    type Result = MessageResult<GetSubscriptions>;
    fn handle(&mut self, _: GetSubscriptions, _: &mut Context<Self>) -> Self::Result {
        let mut list: Vec<SubscriptionInfo> = self
            .index
            .entries()
            .map(|(filter, e)| SubscriptionInfo {
                filter: filter.to_string(),
                qos: e.granted.unwrap_or_else(|| e.wanted()),
                active: e.granted.is_some(),
                listeners: e
                    .holders
                    .keys()
                    .filter(|h| matches!(h, Holder::Listener(_)))
                    .count(),
                app: e.holders.contains_key(&Holder::App),
            })
            .collect();
        list.sort_by(|a, b| a.filter.cmp(&b.filter));
        MessageResult(list)
    }
}

impl Handler<GetStatus> for MqttActor {
    type Result = MessageResult<GetStatus>;
    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.status())
    }
}

impl Handler<WatchConnection> for MqttActor {
    type Result = MessageResult<WatchConnection>;
    fn handle(
        &mut self,
        WatchConnection(w): WatchConnection,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let now = ConnectionChanged {
            connected: self.connected,
            broker: self.uri.clone(),
        };
        // The current state goes first, in order with every later notice.
        w.do_send(now.clone());
        self.watchers.push(w);
        MessageResult(now)
    }
}

impl Handler<WaitConnected> for MqttActor {
    type Result = ResponseActFuture<Self, Result<()>>;
    fn handle(
        &mut self,
        WaitConnected(limit): WaitConnected,
        _: &mut Context<Self>,
    ) -> Self::Result {
        if self.connected {
            return Box::pin(actix::fut::ready(Ok(())));
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.push(tx);
        Box::pin(
            async move { tokio::time::timeout(limit, rx).await }
                .into_actor(self)
                .map(|res, act, _| match res {
                    Ok(Ok(())) => Ok(()),
                    _ => Err(act
                        .last_error
                        .clone()
                        .unwrap_or_else(|| act.not_connected())),
                }),
        )
    }
}

impl Handler<Disconnect> for MqttActor {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: Disconnect, _: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        self.log(
            LogLevel::Info,
            &format!("client {} disconnecting from {}", self.client_id, self.uri),
        );
        let token = self.connected.then(|| self.client.disconnect(None));
        let timeout = self.config.request_timeout;
        Box::pin(
            async move {
                if let Some(t) = token {
                    let _ = tokio::time::timeout(timeout, t).await;
                }
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                act.connected = false;
                act.notify_watchers();
                ctx.stop();
            }),
        )
    }
}
