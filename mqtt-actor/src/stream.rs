//! Streams for async code that is not an actor: [`SubscribeStream`] holds a
//! filter for a [`MessageStream`], a `futures::Stream` of [`StreamItem`]s,
//! and lets go of it when the stream is dropped.
//!
//! Underneath, a small listener actor (the *bridge*) holds the filter like
//! any listener, so the delivery policy applies unchanged: its backlog in the
//! `MqttActor`, `Dropped` notices, `SubscriptionLost`. The bridge moves each
//! message into a bounded queue the stream reads. The queue holds at most
//! `capacity` messages; past it, messages are dropped and counted, and the
//! count waits in the queue as one [`StreamItem::Lagged`] at the place of the
//! gap, so a reader sees exactly where and how many it lost. Drops the
//! `MqttActor` tells the bridge (its backlog was full, or Paho's channel was)
//! join the same count. Messages read plus the sum of the `Lagged` counts is
//! what the stream should have got.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Waker};

use actix::prelude::*;
use actix::WeakAddr;
use futures::Stream;

use crate::error::{MqttError, Result};
use crate::messages::{ListenerNotice, MqttMessage, UnsubscribeAll};
use crate::qos::QoS;

/// Hold `filter` for a [`MessageStream`], which gets the matching messages
/// until it is dropped. Answers once the broker granted the filter, like
/// [`Subscribe`](crate::Subscribe).
///
/// An actix-web handler can make it a response body (Server-Sent Events
/// here); the filter is let go when the client goes away and actix-web drops
/// the body:
///
/// ```no_run
/// use actix_web::{get, web, HttpResponse};
/// use futures::StreamExt;
/// use mqtt_actor::{MqttActor, StreamItem, SubscribeStream};
///
/// #[get("/events")]
/// async fn events(mqtt: web::Data<actix::Addr<MqttActor>>) -> actix_web::Result<HttpResponse> {
///     let stream = mqtt
///         .send(SubscribeStream::new("sensors/#").capacity(256))
///         .await
///         .map_err(actix_web::error::ErrorServiceUnavailable)?
///         .map_err(actix_web::error::ErrorBadGateway)?;
///     let body = stream.map(|item| {
///         let event = match item {
///             StreamItem::Message(m) => {
///                 let text = m.payload_str().unwrap_or("(binary)").replace('\n', " ");
///                 format!("event: message\ndata: {} {text}\n\n", m.topic())
///             }
///             StreamItem::Lagged(n) => format!("event: lagged\ndata: {n}\n\n"),
///             StreamItem::SubscriptionLost(e) => format!("event: lost\ndata: {e}\n\n"),
///             _ => String::new(), // a kind of item added later
///         };
///         Ok::<_, std::convert::Infallible>(web::Bytes::from(event))
///     });
///     Ok(HttpResponse::Ok()
///         .content_type("text/event-stream")
///         .streaming(body))
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SubscribeStream {
    /// The topic filter (`+` and `#` allowed).
    pub filter: String,
    /// The QoS asked for.
    pub qos: QoS,
    /// Messages the stream keeps while its reader is behind; past that they
    /// are dropped and told as [`StreamItem::Lagged`].
    pub capacity: usize,
}

impl SubscribeStream {
    /// Messages kept for a reader that is behind, unless
    /// [`capacity`](Self::capacity) asks for another number.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// A QoS 0 stream of the messages matching `filter`.
    pub fn new(filter: impl Into<String>) -> Self {
        SubscribeStream {
            filter: filter.into(),
            qos: QoS::AtMostOnce,
            capacity: Self::DEFAULT_CAPACITY,
        }
    }

    /// Sets the QoS.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// Sets how many messages wait for a reader that is behind (at least
    /// one). A stream nobody reads costs at most this many messages.
    pub fn capacity(mut self, messages: usize) -> Self {
        self.capacity = messages.max(1);
        self
    }
}

impl actix::Message for SubscribeStream {
    type Result = Result<MessageStream>;
}

/// What a [`MessageStream`] yields.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamItem {
    /// A message matching the stream's filter.
    Message(MqttMessage),
    /// This many messages were lost here: the stream's queue was full (its
    /// reader was behind), or the actor dropped them before they reached it.
    Lagged(u64),
    /// The broker refused the filter's re-SUBSCRIBE after a reconnect: the
    /// stream ends after this item.
    SubscriptionLost(MqttError),
}

/// The queue between the bridge and the stream. Plain state.
#[derive(Debug)]
struct Queue {
    items: VecDeque<StreamItem>,
    /// `Message` items in `items`: what `capacity` bounds.
    messages: usize,
    capacity: usize,
    /// Every message lost so far, told or not yet read.
    lagged: u64,
    /// Nothing more will come: what is queued is the rest.
    ended: bool,
}

impl Queue {
    fn new(capacity: usize) -> Self {
        Queue {
            items: VecDeque::new(),
            messages: 0,
            capacity: capacity.max(1),
            lagged: 0,
            ended: false,
        }
    }

    /// Queues a message, or counts it lost when the queue is full.
    fn push(&mut self, msg: MqttMessage) {
        if self.ended {
            return;
        }
        if self.messages >= self.capacity {
            self.lag(1);
            return;
        }
        self.items.push_back(StreamItem::Message(msg));
        self.messages += 1;
    }

    /// Counts `n` lost messages at the current end of the queue.
    fn lag(&mut self, n: u64) {
        if self.ended || n == 0 {
            return;
        }
        self.lagged += n;
        match self.items.back_mut() {
            Some(StreamItem::Lagged(k)) => *k += n,
            _ => self.items.push_back(StreamItem::Lagged(n)),
        }
    }

    /// The filter is lost: the reader is told, then the stream ends.
    fn lose(&mut self, error: MqttError) {
        if !self.ended {
            self.items.push_back(StreamItem::SubscriptionLost(error));
            self.ended = true;
        }
    }

    fn pop(&mut self) -> Option<StreamItem> {
        let item = self.items.pop_front()?;
        if matches!(item, StreamItem::Message(_)) {
            self.messages -= 1;
        }
        Some(item)
    }
}

/// The queue and the reader's waker, shared by the bridge and the stream
/// (which may live on another thread, an actix-web worker say).
#[derive(Debug)]
struct Shared {
    queue: Mutex<(Queue, Option<Waker>)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, (Queue, Option<Waker>)> {
        // A panic elsewhere while holding it leaves a queue that is still whole.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the queue, then wakes the reader (outside the lock).
    fn update(&self, change: impl FnOnce(&mut Queue)) {
        let waker = {
            let mut guard = self.lock();
            change(&mut guard.0);
            guard.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The stream of a [`SubscribeStream`]: [`StreamItem`]s until it is dropped
/// (which lets go of the filter), the filter is lost, or the `MqttActor`
/// stops. It never waits on the actor and the actor never waits on it.
#[derive(Debug)]
pub struct MessageStream {
    shared: Arc<Shared>,
    /// Weak, so that the bridge stops (and the stream ends) when the
    /// `MqttActor`, which holds it as a listener, is gone.
    bridge: WeakAddr<Bridge>,
    filter: String,
    granted: QoS,
}

impl MessageStream {
    /// The filter, as asked for. (Not `filter`: `StreamExt::filter` would
    /// take precedence.)
    pub fn topic_filter(&self) -> &str {
        &self.filter
    }

    /// The QoS the broker granted.
    pub fn granted(&self) -> QoS {
        self.granted
    }

    /// Every message lost so far, including those whose
    /// [`StreamItem::Lagged`] is still waiting to be read.
    pub fn lagged(&self) -> u64 {
        self.shared.lock().0.lagged
    }

    /// Messages waiting to be read.
    pub fn queued(&self) -> usize {
        self.shared.lock().0.messages
    }
}

impl Stream for MessageStream {
    type Item = StreamItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<StreamItem>> {
        let mut guard = self.shared.lock();
        if let Some(item) = guard.0.pop() {
            return Poll::Ready(Some(item));
        }
        if guard.0.ended {
            return Poll::Ready(None);
        }
        guard.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for MessageStream {
    fn drop(&mut self) {
        self.shared.update(|q| q.ended = true);
        if let Some(bridge) = self.bridge.upgrade() {
            bridge.do_send(Close);
        }
    }
}

/// The listener actor behind a stream: moves what the `MqttActor` hands it
/// into the shared queue.
pub(crate) struct Bridge {
    shared: Arc<Shared>,
    /// Where to let go of the filter when the stream is dropped.
    mqtt: Recipient<UnsubscribeAll>,
}

/// The stream was dropped: let go of the filter and stop.
pub(crate) struct Close;

impl actix::Message for Close {
    type Result = ();
}

impl Actor for Bridge {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The bridge empties its mailbox at once; a roomier one spares the
        // MqttActor's backlog in bursts, while the bound stays the queue's.
        ctx.set_mailbox_capacity(256);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.shared.update(|q| q.ended = true);
    }
}

impl Handler<MqttMessage> for Bridge {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        self.shared.update(|q| q.push(msg));
    }
}

impl Handler<ListenerNotice> for Bridge {
    type Result = ();
    fn handle(&mut self, notice: ListenerNotice, ctx: &mut Context<Self>) {
        match notice {
            ListenerNotice::Dropped { count } => self.shared.update(|q| q.lag(count)),
            ListenerNotice::SubscriptionLost { error, .. } => {
                self.shared.update(|q| q.lose(error));
                ctx.stop();
            }
        }
    }
}

impl Handler<Close> for Bridge {
    type Result = ();
    fn handle(&mut self, _: Close, ctx: &mut Context<Self>) {
        let me = ctx.address().recipient();
        self.mqtt.do_send(UnsubscribeAll::of(me));
        ctx.stop();
    }
}

/// A bridge started on the current arbiter (the `MqttActor`'s), and the
/// stream reading from it, not yet granted.
pub(crate) fn open(
    request: &SubscribeStream,
    mqtt: Recipient<UnsubscribeAll>,
) -> (Addr<Bridge>, MessageStream) {
    let shared = Arc::new(Shared {
        queue: Mutex::new((Queue::new(request.capacity), None)),
    });
    let bridge = Bridge {
        shared: shared.clone(),
        mqtt,
    }
    .start();
    let stream = MessageStream {
        shared,
        bridge: bridge.downgrade(),
        filter: request.filter.clone(),
        granted: request.qos,
    };
    (bridge, stream)
}

impl MessageStream {
    /// Records the QoS the broker granted.
    pub(crate) fn granted_as(mut self, qos: QoS) -> Self {
        self.granted = qos;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: u32) -> MqttMessage {
        MqttMessage::new(format!("t/{n}"), "", QoS::AtMostOnce, false)
    }

    fn topic(item: Option<StreamItem>) -> String {
        match item {
            Some(StreamItem::Message(m)) => m.topic().to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn past_its_capacity_the_queue_counts_a_gap_where_it_happened() {
        let mut q = Queue::new(2);
        for n in 0..5 {
            q.push(msg(n));
        }
        assert_eq!(q.lagged, 3);
        assert_eq!(topic(q.pop()), "t/0");
        q.push(msg(5));
        assert_eq!(topic(q.pop()), "t/1");
        assert_eq!(q.pop(), Some(StreamItem::Lagged(3)));
        assert_eq!(topic(q.pop()), "t/5", "room again after the gap");
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn drops_told_by_the_actor_join_the_gap_at_the_end() {
        let mut q = Queue::new(4);
        q.push(msg(0));
        q.lag(2);
        q.lag(3);
        q.push(msg(1));
        q.lag(0);
        assert_eq!(topic(q.pop()), "t/0");
        assert_eq!(q.pop(), Some(StreamItem::Lagged(5)));
        assert_eq!(topic(q.pop()), "t/1");
        assert_eq!(q.lagged, 5);
    }

    #[test]
    fn a_lost_filter_is_the_last_item() {
        let mut q = Queue::new(4);
        q.push(msg(0));
        let error = MqttError::NotSubscribed {
            filter: "t/#".into(),
        };
        q.lose(error.clone());
        q.push(msg(1));
        q.lag(1);
        assert_eq!(topic(q.pop()), "t/0");
        assert_eq!(q.pop(), Some(StreamItem::SubscriptionLost(error)));
        assert_eq!(q.pop(), None);
        assert!(q.ended);
    }
}
