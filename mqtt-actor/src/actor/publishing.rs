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

use std::collections::{HashMap, VecDeque};

use actix::prelude::*;
use futures::channel::oneshot;
use paho_mqtt as paho;

use super::MqttActor;
use crate::client::{await_ack, to_paho_properties, to_qos};
use crate::config::ProtocolVersion;
use crate::error::{MqttError, Result};
use crate::handlers::{self, LogLevel, Published};
use crate::messages::{Publish, QoS};
use crate::topic::validate_topic;

/// A publish waiting for the connection, with its caller waiting for the answer.
pub(crate) struct Buffered {
    publish: Publish,
    reply: oneshot::Sender<Result<()>>,
}

/// Sent publishes waiting for their acknowledgement, with their callers.
#[derive(Default)]
pub(crate) struct InFlight {
    next: u64,
    waiting: HashMap<u64, oneshot::Sender<Result<()>>>,
}

impl InFlight {
    fn add(&mut self, reply: oneshot::Sender<Result<()>>) -> u64 {
        self.next += 1;
        self.waiting.insert(self.next, reply);
        self.next
    }

    /// The caller of publish `id`, unless it was answered already.
    fn take(&mut self, id: u64) -> Option<oneshot::Sender<Result<()>>> {
        self.waiting.remove(&id)
    }
}

/// A FIFO queue that holds at most `limit` items. Plain state, no I/O.
#[derive(Debug)]
pub(crate) struct OfflineBuffer<T> {
    queue: VecDeque<T>,
    limit: usize,
}

impl<T> OfflineBuffer<T> {
    /// An empty buffer for at most `limit` items.
    pub fn new(limit: usize) -> Self {
        OfflineBuffer {
            queue: VecDeque::new(),
            limit,
        }
    }

    /// Keeps `item` behind the others, or hands it back when the buffer is full.
    pub fn push(&mut self, item: T) -> std::result::Result<(), T> {
        if self.queue.len() >= self.limit {
            return Err(item);
        }
        self.queue.push_back(item);
        Ok(())
    }

    /// Empties the buffer, oldest first.
    pub fn take(&mut self) -> VecDeque<T> {
        std::mem::take(&mut self.queue)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl MqttActor {
    fn publish(&mut self, p: Publish, reply: oneshot::Sender<Result<()>>, ctx: &mut Context<Self>) {
        if !self.connection.is_connected() {
            match p.qos {
                QoS::AtMostOnce => drop(reply.send(Err(self.not_connected()))),
                _ => self.keep_for_later(p, reply),
            }
            return;
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
        let waiting = std::mem::take(&mut self.in_flight.waiting);
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
                limit: self.offline.limit(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_keeps_order_and_hands_back_what_does_not_fit() {
        let mut b = OfflineBuffer::new(2);
        assert_eq!(b.push(1), Ok(()));
        assert_eq!(b.push(2), Ok(()));
        assert_eq!(b.push(3), Err(3));
        assert_eq!(b.len(), 2);
        assert_eq!(b.take(), [1, 2]);
        assert_eq!(b.len(), 0);
        assert_eq!(b.push(4), Ok(()), "taking makes room again");
    }

    #[test]
    fn a_buffer_of_zero_keeps_nothing() {
        let mut b = OfflineBuffer::new(0);
        assert_eq!(b.push("x"), Err("x"));
        assert!(b.take().is_empty());
    }
}
