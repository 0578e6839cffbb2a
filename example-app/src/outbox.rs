//! A session's bounded outbound queue, and the listener that fills it.
//!
//! Why not `WebsocketContext::text`: actix-web-actors drives a session actor
//! only while the HTTP layer polls its response stream, and the HTTP layer
//! stops polling when the client stops reading. A session actor that were the
//! `MqttActor`'s listener would then freeze with a full mailbox, and messages
//! would be lost without a word to the client. So the listener is a separate
//! [`Forwarder`] actor that always runs: it puts frames in the [`Outbox`], which
//! the socket drains at the client's pace. When the outbox is full (in frames
//! or in bytes), the oldest `message` frames are dropped and counted, and the
//! client gets `lagged` before the next frame it reads.
//!
//! A client that stops reading freezes its session actor too (see above), so
//! nothing inside the session can end it. The forwarder does: when frames
//! have waited undrained past the idle timeout, it empties the outbox and
//! shuts the connection's socket down through a duplicate of its descriptor
//! ([`ConnSocket`]), which ends the HTTP connection and with it the session.
//!
//! The event streams of `/api/stream` (`stream.rs`) use the same outbox with
//! a [`Framing`] of their own: Server-Sent Events instead of WebSocket frames.

use std::any::Any;
use std::collections::VecDeque;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix::WeakRecipient;
use actix_http::ws::{Codec, Message as WsMessage};
use actix_web::dev::Extensions;
use actix_web::HttpRequest;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures::Stream;
use mqtt_actor::{ConnectionChanged, ListenerNotice, MqttMessage};
use tokio_util::codec::Encoder;

use crate::error::ApiError;
use crate::protocol::{Event, MessageView};
use crate::state::AppState;

/// Bytes encoded per poll of the socket, at most (many small frames per write).
const BATCH_BYTES: usize = 64 * 1024;

struct Frame {
    text: ByteString,
    droppable: bool,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Frame>,
    /// Bytes of the frames in `queue`.
    bytes: usize,
    lagged: u64,
    closed: bool,
    waker: Option<Waker>,
    /// Since when frames have waited without the socket taking any.
    waiting_since: Option<Instant>,
    /// The connection's socket, to shut it down when it is not drained.
    socket: Option<TcpStream>,
}

/// How much may wait for one client.
#[derive(Debug, Clone, Copy)]
pub struct OutboxLimits {
    /// Frames (`WS_QUEUE_FRAMES`).
    pub frames: usize,
    /// Bytes of frame text (`WS_QUEUE_BYTES`).
    pub bytes: usize,
}

/// The frames waiting for one client.
pub struct Outbox {
    limits: OutboxLimits,
    inner: Mutex<Inner>,
    /// Process-wide count of dropped frames (`/api/status` `dropped`).
    dropped: Arc<AtomicU64>,
}

impl Outbox {
    /// An outbox bounded by `limits` that adds its drops to `dropped`.
    pub fn new(limits: OutboxLimits, dropped: Arc<AtomicU64>) -> Arc<Self> {
        Arc::new(Outbox {
            limits: OutboxLimits {
                frames: limits.frames.max(1),
                bytes: limits.bytes.max(1),
            },
            inner: Mutex::default(),
            dropped,
        })
    }

    /// Gives the outbox the connection's socket (see [`ConnSocket`]).
    pub fn attach_socket(&self, socket: TcpStream) {
        self.lock().socket = Some(socket);
    }

    /// Lets go of the connection's socket: the connection is ending, and a
    /// duplicate of its descriptor must not keep it open.
    pub fn detach_socket(&self) {
        self.lock().socket = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("outbox lock")
    }

    /// Queues a frame. `droppable` frames (messages) make room for newer ones;
    /// replies and notices never are dropped. A client that reads nothing while
    /// its replies pile up past twice the limits is cut off.
    pub fn push(&self, text: ByteString, droppable: bool) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        inner.bytes += text.len();
        inner.queue.push_back(Frame { text, droppable });
        if inner.waiting_since.is_none() {
            inner.waiting_since = Some(Instant::now());
        }
        let limits = self.limits;
        let over = |i: &Inner, factor: usize| {
            i.queue.len() > factor * limits.frames || i.bytes > factor * limits.bytes
        };
        while over(&inner, 1) {
            match inner.queue.iter().position(|f| f.droppable) {
                Some(oldest) => {
                    if let Some(frame) = inner.queue.remove(oldest) {
                        inner.bytes -= frame.text.len();
                    }
                    inner.lagged += 1;
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    if over(&inner, 2) {
                        log::warn!(
                            "a client (WebSocket or event stream) reads nothing: closing it"
                        );
                        inner.closed = true;
                    }
                    break;
                }
            }
        }
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    /// Adds `count` messages dropped for this client before they reached the
    /// outbox (told by the `MqttActor`, which counts them in its own status):
    /// the client's next `lagged` includes them.
    pub fn add_lagged(&self, count: u64) {
        let mut inner = self.lock();
        if inner.closed || count == 0 {
            return;
        }
        inner.lagged += count;
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    /// Queues a protocol event (never dropped).
    pub fn event(&self, event: &Event) {
        self.push(event.to_text().into(), false);
    }

    /// Ends the socket: the response stream finishes, the connection closes.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    /// Ends the socket now, whether or not its client reads: frees what
    /// waits and shuts the connection's socket down.
    pub fn abort(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.queue = VecDeque::new();
        inner.bytes = 0;
        inner.waiting_since = None;
        if let Some(socket) = inner.socket.take() {
            // Already gone is fine: the connection is ending either way.
            let _ = socket.shutdown(Shutdown::Both);
        }
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    /// How long frames have waited without the socket taking any (zero when
    /// none waits).
    pub fn undrained_for(&self) -> Duration {
        self.lock()
            .waiting_since
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    /// Frames and bytes waiting.
    #[cfg(test)]
    fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.queue.len(), inner.bytes)
    }

    /// Encodes what is waiting (a `lagged` notice first) into `buf` with
    /// `framing`. When nothing is, registers `waker` under the same lock, so
    /// that a frame pushed meanwhile cannot be missed. `false`: closed and
    /// drained.
    pub fn take(&self, buf: &mut BytesMut, framing: &mut impl Framing, waker: &Waker) -> bool {
        let mut inner = self.lock();
        if inner.lagged > 0 {
            framing.lagged(inner.lagged, buf);
            inner.lagged = 0;
        }
        while buf.len() < BATCH_BYTES {
            match inner.queue.pop_front() {
                Some(frame) => {
                    inner.bytes -= frame.text.len();
                    if frame.droppable {
                        framing.message(frame.text, buf);
                    } else {
                        framing.event(frame.text, buf);
                    }
                }
                None => break,
            }
        }
        // The client reads: what still waits has waited since now.
        inner.waiting_since = (!inner.queue.is_empty()).then(Instant::now);
        if buf.is_empty() {
            if inner.closed {
                return false;
            }
            inner.waker = Some(waker.clone());
        }
        true
    }
}

/// How an outbox's frames go on the wire: WebSocket text frames
/// ([`WsFraming`]), or Server-Sent Events (`stream.rs`).
pub trait Framing {
    /// A `message` frame (the shared JSON of `MessageView::frame`).
    fn message(&mut self, text: ByteString, buf: &mut BytesMut);
    /// Any other frame, as it was queued.
    fn event(&mut self, text: ByteString, buf: &mut BytesMut);
    /// The notice that `dropped` messages were dropped for this client.
    fn lagged(&mut self, dropped: u64, buf: &mut BytesMut);
}

/// Every frame a WebSocket text frame; `lagged` is the contract's event.
pub struct WsFraming(pub Codec);

impl WsFraming {
    fn text(&mut self, text: ByteString, buf: &mut BytesMut) {
        self.0
            .encode(WsMessage::Text(text), buf)
            .expect("encoding a text frame cannot fail");
    }
}

impl Framing for WsFraming {
    fn message(&mut self, text: ByteString, buf: &mut BytesMut) {
        self.text(text, buf);
    }

    fn event(&mut self, text: ByteString, buf: &mut BytesMut) {
        self.text(text, buf);
    }

    fn lagged(&mut self, dropped: u64, buf: &mut BytesMut) {
        self.text(Event::Lagged { dropped }.to_text().into(), buf);
    }
}

/// The session's outbound stream, which is its HTTP response body: the
/// session context's own frames (pongs, pings, close) first, then the outbox,
/// as fast as the client reads.
pub struct OutboundStream {
    ctx: Pin<Box<dyn Stream<Item = Result<Bytes, actix_web::Error>>>>,
    outbox: Arc<Outbox>,
    framing: WsFraming,
}

impl OutboundStream {
    /// Joins the session context's stream and the outbox.
    pub fn new(
        ctx: impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
        outbox: Arc<Outbox>,
    ) -> Self {
        OutboundStream {
            ctx: Box::pin(ctx),
            outbox,
            framing: WsFraming(Codec::new()),
        }
    }
}

impl Stream for OutboundStream {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        match self.ctx.as_mut().poll_next(cx) {
            Poll::Ready(None) => {
                self.outbox.close();
                return Poll::Ready(None);
            }
            Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
            Poll::Pending => {}
        }
        let this = &mut *self;
        let mut buf = BytesMut::new();
        if !this.outbox.take(&mut buf, &mut this.framing, cx.waker()) {
            return Poll::Ready(None);
        }
        if buf.is_empty() {
            return Poll::Pending;
        }
        Poll::Ready(Some(Ok(buf.freeze())))
    }
}

impl Drop for OutboundStream {
    fn drop(&mut self) {
        self.outbox.detach_socket();
    }
}

/// The descriptor of an HTTP connection's socket, noted when the connection
/// is accepted, so that a WebSocket session on it can hold a duplicate and
/// shut the socket down when its client stops reading (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ConnSocket(RawFd);

impl ConnSocket {
    /// The server's `on_connect` hook: notes the socket of a TCP connection.
    pub fn note(conn: &dyn Any, ext: &mut Extensions) {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            ext.insert(ConnSocket(tcp.as_raw_fd()));
        }
    }

    /// A duplicate of the socket `req` came on, when it was noted.
    pub fn of(req: &HttpRequest) -> Option<TcpStream> {
        let ConnSocket(fd) = *req.conn_data::<ConnSocket>()?;
        // SAFETY: the connection `req` came on owns `fd` and stays open while
        // the request's handler runs, which is where this is called; the
        // duplicate made here is owned and valid on its own afterwards.
        let socket = unsafe { BorrowedFd::borrow_raw(fd) };
        socket.try_clone_to_owned().ok().map(TcpStream::from)
    }
}

/// When the client last sent a frame, shared by its session (which sees the
/// frames) and its forwarder (which keeps running when the session cannot).
pub struct Activity {
    started: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    /// Activity from now on.
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    /// The client sent something.
    pub fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// How long the client has been silent.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// The `MqttActor`'s listener for one session: puts each message (encoded once
/// for all sessions) and each connection change in the outbox, and closes the
/// socket when the client has been silent past the idle timeout.
pub struct Forwarder {
    outbox: Arc<Outbox>,
    activity: Arc<Activity>,
    idle_timeout: Duration,
    heartbeat: Duration,
    /// The session, told when the broker no longer grants one of its
    /// filters so that its book of filters follows. Weak: the session owns
    /// this forwarder, and its end must not wait for the forwarder's.
    session: Option<WeakRecipient<FilterLost>>,
}

impl Forwarder {
    /// A forwarder for `outbox`, closing it after the idle timeout of `activity`.
    pub fn new(outbox: Arc<Outbox>, activity: Arc<Activity>, state: &AppState) -> Self {
        Forwarder {
            outbox,
            activity,
            idle_timeout: state.settings.idle_timeout(),
            heartbeat: state.settings.heartbeat(),
            session: None,
        }
    }
}

/// Told to a session by its forwarder: the broker no longer grants `0` (a
/// refused re-SUBSCRIBE after a reconnect), and the `MqttActor` has let go
/// of it for the session, so the session no longer holds it either.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct FilterLost(pub String);

/// Names the session a forwarder tells of lost filters ([`FilterLost`]);
/// sent by the session once it runs (it has no address before).
#[derive(Message)]
#[rtype(result = "()")]
pub struct TellLost(pub WeakRecipient<FilterLost>);

impl Handler<TellLost> for Forwarder {
    type Result = ();
    fn handle(&mut self, TellLost(session): TellLost, _: &mut Context<Self>) {
        self.session = Some(session);
    }
}

impl Actor for Forwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The MqttActor never waits: what does not fit here is dropped and counted there.
        ctx.set_mailbox_capacity(4096);
        ctx.run_interval(self.heartbeat, |act, ctx| {
            let silent = act.activity.idle_for();
            let undrained = act.outbox.undrained_for();
            if silent > act.idle_timeout || undrained > act.idle_timeout {
                log::info!(
                    "WebSocket client silent for {silent:?}, its frames undrained for {undrained:?}: closing"
                );
                act.outbox.abort();
                ctx.stop();
            }
        });
    }
}

impl Handler<MqttMessage> for Forwarder {
    type Result = ();
    fn handle(&mut self, msg: MqttMessage, _: &mut Context<Self>) {
        // Encoded once per MQTT message, shared by every session that gets it.
        let frame = msg.memo(|m| ByteString::from(MessageView::frame(m)));
        self.outbox.push(ByteString::clone(&frame), true);
    }
}

impl Handler<ListenerNotice> for Forwarder {
    type Result = ();
    fn handle(&mut self, notice: ListenerNotice, _: &mut Context<Self>) {
        match notice {
            // Lost before the outbox: reported like the outbox's own drops.
            ListenerNotice::Dropped { count } => self.outbox.add_lagged(count),
            ListenerNotice::SubscriptionLost { filter, error } => {
                let mut err = ApiError::from(error);
                err.message = format!("subscription to {filter:?} lost: {}", err.message);
                self.outbox.event(&Event::error(None, err));
                // `do_send` queues even for a session frozen by a client that
                // does not read; it forgets the filter when it runs again.
                if let Some(session) = self.session.as_ref().and_then(|s| s.upgrade()) {
                    session.do_send(FilterLost(filter));
                }
            }
            _ => {}
        }
    }
}

impl Handler<ConnectionChanged> for Forwarder {
    type Result = ();
    fn handle(&mut self, c: ConnectionChanged, _: &mut Context<Self>) {
        self.outbox.event(&Event::Status {
            connected: c.connected,
            broker: c.broker,
            instance: c.client_id,
        });
    }
}

/// Stops a forwarder (its session ended).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Forwarder {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_outbox_drops_the_oldest_messages_and_keeps_replies() {
        let dropped = Arc::new(AtomicU64::new(0));
        let limits = OutboxLimits {
            frames: 2,
            bytes: 1 << 20,
        };
        let outbox = Outbox::new(limits, dropped.clone());
        outbox.push("reply".into(), false);
        outbox.push("m1".into(), true);
        outbox.push("m2".into(), true);
        outbox.push("m3".into(), true);
        assert_eq!(dropped.load(Ordering::Relaxed), 2);
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut WsFraming(Codec::new()), waker));
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains(r#"{"type":"lagged","dropped":2}"#), "{text}");
        assert!(
            text.contains("reply") && text.contains("m3") && !text.contains("m1"),
            "{text}"
        );
    }

    #[test]
    fn drops_told_by_the_mqtt_actor_join_the_next_lagged() {
        let dropped = Arc::new(AtomicU64::new(0));
        let outbox = Outbox::new(
            OutboxLimits {
                frames: 2,
                bytes: 1 << 20,
            },
            dropped.clone(),
        );
        outbox.add_lagged(5);
        outbox.push("m1".into(), true);
        outbox.push("m2".into(), true);
        outbox.push("m3".into(), true);
        assert_eq!(
            dropped.load(Ordering::Relaxed),
            1,
            "the MqttActor counts its own drops"
        );
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut WsFraming(Codec::new()), waker));
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains(r#"{"type":"lagged","dropped":6}"#), "{text}");
    }

    #[test]
    fn an_outbox_over_its_bytes_drops_the_oldest_messages() {
        let dropped = Arc::new(AtomicU64::new(0));
        let limits = OutboxLimits {
            frames: 100,
            bytes: 10,
        };
        let outbox = Outbox::new(limits, dropped.clone());
        outbox.push("1234".into(), true);
        outbox.push("5678".into(), true);
        outbox.push("reply".into(), false);
        assert_eq!(outbox.size(), (2, 9), "the oldest message made room");
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
        outbox.push("a frame of more than ten bytes".into(), true);
        assert_eq!(
            outbox.size(),
            (1, 5),
            "a message over the limit goes itself"
        );
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn frames_wait_undrained_until_the_socket_takes_them_and_abort_frees_them() {
        let limits = OutboxLimits {
            frames: 10,
            bytes: 1 << 20,
        };
        let outbox = Outbox::new(limits, Arc::default());
        assert_eq!(outbox.undrained_for(), Duration::ZERO);
        outbox.push("m".into(), true);
        std::thread::sleep(Duration::from_millis(5));
        assert!(outbox.undrained_for() > Duration::ZERO);
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut WsFraming(Codec::new()), waker));
        assert_eq!(outbox.undrained_for(), Duration::ZERO);
        outbox.push("m".into(), true);
        outbox.abort();
        assert_eq!(outbox.size(), (0, 0));
        outbox.push("late".into(), true);
        assert_eq!(outbox.size(), (0, 0), "nothing is queued after the end");
    }
}
