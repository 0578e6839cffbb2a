//! Connecting and staying connected: attempts along the failover list with
//! back-off, what happens when the connection comes up or goes down, waiting
//! for and watching the connection, and `Disconnect`.

use std::time::Instant;

use actix::prelude::*;
use futures::channel::oneshot;

use super::budget::{Budgeted, INBOUND_BUDGET};
use super::takeover::{self, says_taken_over};
use super::{MqttActor, SWEEP_INTERVAL};
use crate::broker_limits::{Announced, BrokerLimits};
use crate::brokers;
use crate::client::{announced, ConnectionEvent};
use crate::config::ProtocolVersion;
use crate::error::{MqttError, Result};
use crate::handlers::{self, Connected, Disconnected, LogLevel};
use crate::messages::{ConnectionChanged, Disconnect, WaitConnected, WatchConnection};

impl MqttActor {
    pub(super) fn connect(&mut self, ctx: &mut Context<Self>) {
        if !self.connection.may_connect() {
            return;
        }
        let opts = self.connect_opts[self.failover.index()].clone();
        let token = self.client.connect(opts);
        let uri = self.uri().to_string();
        let tls = self.config.tls_enabled || brokers::uses_tls(&uri);
        let addr = brokers::tcp_address(&uri, self.config.broker_port);
        async move {
            match token.await {
                Ok(rsp) => Ok(announced(&rsp)),
                Err(e) => {
                    // Paho reports a refused TCP connection and a failed TLS
                    // handshake alike; a plain TCP probe tells them apart.
                    let reachable = tls && tokio::net::TcpStream::connect(&addr).await.is_ok();
                    Err(MqttError::from_connect(&uri, &e, tls, reachable))
                }
            }
        }
        .into_actor(self)
        .map(|res, act, ctx| match res {
            Ok(announced) => act.on_up(announced, ctx),
            Err(e) => {
                act.log(LogLevel::Err, &format!("client {}: {e}", act.client_id));
                act.last_error = Some(e);
                act.attempt_failed(ctx);
            }
        })
        .spawn(ctx);
    }

    /// The next broker of the list is tried at once; after a round in which
    /// every broker failed, the back-off applies.
    fn attempt_failed(&mut self, ctx: &mut Context<Self>) {
        if self.failover.attempt_failed() {
            return self.schedule_reconnect(ctx);
        }
        if self.connection.is_connected() {
            return;
        }
        self.log(
            LogLevel::Warning,
            &format!("client {}: trying {} next", self.client_id, self.uri()),
        );
        self.connect(ctx);
    }

    fn schedule_reconnect(&mut self, ctx: &mut Context<Self>) {
        let Some(delay) = self.connection.retry() else {
            return;
        };
        self.log(
            LogLevel::Warning,
            &format!(
                "client {}: reconnecting to {} in {delay:?}",
                self.client_id,
                self.uri()
            ),
        );
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }

    /// The CONNACK came: the connection is up, with what it announced.
    fn on_up(&mut self, announced: Announced, ctx: &mut Context<Self>) {
        if !self.client.is_connected() {
            // Lost before this answer was handled (its loss found the
            // connection not up yet, and changed nothing): try again.
            return self.attempt_failed(ctx);
        }
        self.limits = match self.config.protocol_version {
            ProtocolVersion::V5 => BrokerLimits::from_settings(&self.config).with(announced),
            _ => BrokerLimits::from_settings(&self.config),
        };
        let reconnect = self.connection.up();
        self.failover.connected();
        self.last_error = None;
        self.log(
            LogLevel::Info,
            &format!("client {} connected to {}", self.client_id, self.uri()),
        );
        if !reconnect {
            // The builder's filters, which came in without a `Subscribe`.
            let filters: Vec<String> = self.index.entries().map(|(f, _)| f.to_string()).collect();
            filters.iter().for_each(|f| self.warn_if_shares_mix(f));
        }
        self.steps.resubscribe_all();
        self.run_step(ctx);
        self.flush_offline(ctx);
        self.notify_watchers();
        for w in self.waiting.drain(..) {
            let _ = w.send(());
        }
        let event = Connected {
            broker: self.uri().to_string(),
            reconnect,
        };
        handlers::call(&self.handlers.connect, &self.me(), &event);
    }

    fn on_lost(&mut self, reason: String, ctx: &mut Context<Self>) {
        if !self.connection.lost() {
            return;
        }
        self.abandon_steps(ctx);
        self.fail_in_flight();
        self.log(
            LogLevel::Warning,
            &format!("client {} lost {}: {reason}", self.client_id, self.uri()),
        );
        self.watch_takeovers(&reason);
        self.notify_watchers();
        let event = Disconnected {
            broker: self.uri().to_string(),
            reason,
        };
        handlers::call(&self.handlers.disconnect, &self.me(), &event);
        self.failover.lost();
        self.schedule_reconnect(ctx);
    }

    /// Says plainly when the losses look like another client with the same id.
    fn watch_takeovers(&mut self, reason: &str) {
        let explicit = says_taken_over(reason);
        if !self.takeovers.lost(Instant::now(), explicit) {
            return;
        }
        let why = if explicit {
            "the broker says the session was taken over".to_string()
        } else {
            format!(
                "the broker ended the connection twice within {:?} (session taken over?)",
                takeover::WINDOW
            )
        };
        self.log(
            LogLevel::Warning,
            &format!(
                "client {id}: duplicate client id? {why}: another client is probably \
                 connected with the same client id {id:?}, and each connection takes the \
                 session over from the other; give every instance its own MQTT_CLIENT_ID \
                 (e.g. app-{{hostname}}-{{pid}})",
                id = self.client_id
            ),
        );
    }

    fn connection_changed(&self) -> ConnectionChanged {
        ConnectionChanged {
            connected: self.connection.is_connected(),
            broker: self.uri().to_string(),
            client_id: self.client_id.clone(),
        }
    }

    fn notify_watchers(&mut self) {
        let notice = self.connection_changed();
        self.watchers.retain(|w| w.connected());
        for w in &self.watchers {
            w.do_send(notice.clone());
        }
    }
}

impl Actor for MqttActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some((events, inbound)) = self.streams.take() {
            ctx.add_message_stream(events);
            ctx.add_message_stream(Budgeted::new(inbound, INBOUND_BUDGET));
        }
        ctx.run_interval(SWEEP_INTERVAL, |act, ctx| act.sweep_dead(ctx));
        self.log(
            LogLevel::Info,
            &format!("client {} connecting to {}", self.client_id, self.uri()),
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

impl Handler<ConnectionEvent> for MqttActor {
    type Result = ();
    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        match event {
            ConnectionEvent::Lost(reason) => self.on_lost(reason, ctx),
        }
    }
}

impl Handler<WatchConnection> for MqttActor {
    type Result = MessageResult<WatchConnection>;
    fn handle(
        &mut self,
        WatchConnection(w): WatchConnection,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let now = self.connection_changed();
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
        if self.connection.is_connected() {
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
        self.connection.stop();
        self.log(
            LogLevel::Info,
            &format!(
                "client {} disconnecting from {}",
                self.client_id,
                self.uri()
            ),
        );
        let token = self
            .connection
            .is_connected()
            .then(|| self.client.disconnect(None));
        let timeout = self.config.request_timeout;
        Box::pin(
            async move {
                if let Some(t) = token {
                    let _ = tokio::time::timeout(timeout, t).await;
                }
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                act.connection.lost();
                act.notify_watchers();
                ctx.stop();
            }),
        )
    }
}
