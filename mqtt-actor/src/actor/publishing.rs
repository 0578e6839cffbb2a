//! Publishing: `Publish` answers once the broker accepted it; QoS 1/2
//! publishes made while disconnected wait in a bounded [`OfflineBuffer`] and go
//! out, in order, on the next connection. A QoS 0 publish while disconnected
//! fails at once: it promises nothing, so keeping it would promise too much.
//!
//! A publish that was sent has a deadline: it answers when the broker
//! acknowledges it, with an error after `MQTT_REQUEST_TIMEOUT_MS`, or with
//! [`MqttError::NotConnected`] at once when the connection is lost before the
//! acknowledgement. The library never sends it again: whether the broker got
//! it is unknown, and sending it again could deliver it twice. (With a
//! persistent session, Paho itself may complete the MQTT exchange after the
//! reconnect, as the protocol asks.) The caller decides whether to retry.

use actix::prelude::*;
use futures::channel::oneshot;
use paho_mqtt as paho;

use super::buffers::Buffered;
use super::MqttActor;
use crate::client::{await_ack, to_paho_properties, to_qos};
use crate::config::ProtocolVersion;
use crate::error::{MqttError, Result};
use crate::handlers::{self, LogLevel, Published};
use crate::messages::Publish;
use crate::qos::QoS;
use crate::topic::validate_topic;

impl MqttActor {
    fn publish(&mut self, p: Publish, reply: oneshot::Sender<Result<()>>, ctx: &mut Context<Self>) {
        if !self.connection.is_connected() {
            match p.qos {
                QoS::AtMostOnce => drop(reply.send(Err(self.not_connected()))),
                _ => self.keep_for_later(p, reply),
            }
            return;
        }
        let v5 = self.config.protocol_version == ProtocolVersion::V5;
        if let Err(e) = self.limits.check(&p, v5, self.uri()) {
            self.log(LogLevel::Warning, &format!("not sent: {e}"));
            return drop(reply.send(Err(e)));
        }
        let mut msg = paho::MessageBuilder::new()
            .topic(&p.topic)
            .payload(p.payload.to_vec())
            .qos(to_qos(p.qos))
            .retained(p.retain);
        if !p.properties.is_empty() {
            match to_paho_properties(&p.properties) {
                Ok(props) => msg = msg.properties(props),
                Err(e) => return drop(reply.send(Err(e))),
            }
        }
        let token = self.client.publish(msg.finalize());
        let id = self.in_flight.add(reply);
        await_ack(
            token,
            self.config.request_timeout,
            self.ack("publish", &p.topic),
        )
        .into_actor(self)
        .map(move |res, act, _| {
            let Some(reply) = act.in_flight.take(id) else {
                return; // answered when the connection was lost
            };
            match res {
                Ok(()) => {
                    act.counters.messages_out += 1;
                    let event = Published {
                        topic: p.topic.clone(),
                        qos: p.qos,
                    };
                    handlers::call(&act.handlers.publish, &act.me(), &event);
                    let _ = reply.send(Ok(()));
                }
                Err(e) => {
                    let e = if act.connection.is_connected() {
                        e
                    } else {
                        act.not_connected()
                    };
                    act.log(
                        LogLevel::Err,
                        &format!("publish to {:?} failed: {e}", p.topic),
                    );
                    let _ = reply.send(Err(e));
                }
            }
        })
        .spawn(ctx);
    }

    /// What a publish must be before it is sent or buffered: a valid topic,
    /// and properties only on an MQTT 5 connection, valid ones.
    pub(super) fn check_publish(&self, p: &Publish) -> Result<()> {
        validate_topic(&p.topic)?;
        if p.properties.is_empty() {
            return Ok(());
        }
        if self.config.protocol_version == ProtocolVersion::V311 {
            return Err(MqttError::NeedsMqtt5 {
                what: format!("a publish with MQTT 5 properties (to {:?})", p.topic),
            });
        }
        p.properties.validate()
    }

    /// The connection was lost: every sent publish still waiting answers
    /// `NotConnected` now, and none is sent again.
    pub(super) fn fail_in_flight(&mut self) {
        let waiting = self.in_flight.take_all();
        if !waiting.is_empty() {
            self.log(
                LogLevel::Warning,
                &format!(
                    "{} publishes were not acknowledged before the connection was lost",
                    waiting.len()
                ),
            );
        }
        for (_, reply) in waiting {
            let _ = reply.send(Err(self.not_connected()));
        }
    }

    /// Keeps a QoS 1/2 publish for the next connection, up to the configured bound.
    fn keep_for_later(&mut self, publish: Publish, reply: oneshot::Sender<Result<()>>) {
        if let Err(refused) = self.offline.push(Buffered { publish, reply }) {
            let full = MqttError::BufferFull {
                topic: refused.publish.topic,
                capacity: self.offline.capacity(),
            };
            let _ = refused.reply.send(Err(full));
        }
    }

    /// Sends what was published while disconnected, in order.
    pub(super) fn flush_offline(&mut self, ctx: &mut Context<Self>) {
        let pending = self.offline.take();
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
}

impl Handler<Publish> for MqttActor {
    type Result = ResponseFuture<Result<()>>;
    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) -> Self::Result {
        if let Err(e) = self.check_publish(&msg) {
            return Box::pin(async move { Err(e) });
        }
        let (tx, rx) = oneshot::channel();
        self.publish(msg, tx, ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(MqttError::Stopped)) })
    }
}
