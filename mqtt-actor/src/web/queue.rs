//! One client's bounded outbound queue, the [`Outbox`], whatever the
//! transport: WebSocket sessions and event streams both queue here, and a
//! [`Framing`](crate::web::framing::Framing) turns what waits into bytes on
//! the wire as the client reads.
//!
//! Back-pressure policy: when the outbox is full (in frames or in bytes), the
//! oldest `message` frames are dropped and counted, and the client gets
//! `lagged` before the next frame it reads; replies and notices are never
//! dropped, and a client that reads nothing while they pile up past twice the
//! bounds is cut off. Frames that wait undrained are timed
//! ([`Outbox::undrained_for`]), so that the fan-out can end a client that
//! stopped reading: [`Outbox::abort`] shuts its connection's socket down.
//!
//! While one of the client's filters is being released, only messages of
//! the filters it still holds get in (see `releases.rs`): none that matches
//! only the released filter is queued after its `unsubscribed` notice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use crate::web::config::BridgeConfig;
use crate::web::framing::{FrameKind, Framing};
use crate::web::protocol::Event;
use crate::web::releases::Releases;
use crate::web::socket::ConnSocket;

/// Bytes encoded per poll of the socket, at most (many small frames per write).
const BATCH_BYTES: usize = 64 * 1024;

struct Frame {
    kind: FrameKind,
    text: ByteString,
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
    socket: Option<ConnSocket>,
    /// What [`Outbox::poll_chunk`] encodes into, kept between polls: a busy
    /// client costs no allocation per write (the chunk handed to the HTTP
    /// layer shares it, and is dropped once copied into its write buffer).
    buf: BytesMut,
    /// Whether the client took anything since the last heartbeat.
    took: bool,
    /// The client's filters and their releases in flight: what messages
    /// get in meanwhile.
    releases: Releases,
}

/// How much may wait for one client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutboxLimits {
    /// Frames.
    pub frames: usize,
    /// Bytes of frame text.
    pub bytes: usize,
}

impl OutboxLimits {
    /// The bounds of `config`.
    pub fn of(config: &BridgeConfig) -> OutboxLimits {
        OutboxLimits {
            frames: config.outbox_frames,
            bytes: config.outbox_bytes,
        }
    }
}

/// The frames waiting for one client.
pub(crate) struct Outbox {
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
    pub fn attach_socket(&self, socket: ConnSocket) {
        self.lock().socket = Some(socket);
    }

    /// Lets go of the connection's socket: the connection is ending, and its
    /// descriptor's number may soon name another socket. Called when the
    /// connection's response body (or the request that would have made it)
    /// is dropped, on the connection's own thread (see [`ConnSocket`]).
    pub fn detach_socket(&self) {
        self.lock().socket = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("outbox lock")
    }

    /// Queues a `message` frame on `topic` (the shared JSON of
    /// `MessageView::frame`), unless it belongs only to filters being
    /// released (then it is dropped, and not counted: see `releases.rs`);
    /// `false` once the outbox is closed.
    pub fn message(&self, topic: &str, text: ByteString) -> bool {
        self.push(FrameKind::Message, text, Some(topic))
    }

    /// The client holds `filter`, or is about to ask the `MqttActor` for it.
    pub fn hold(&self, filter: &str) {
        self.lock().releases.hold(filter);
    }

    /// The client no longer holds `filter`, and the `MqttActor` sends
    /// nothing more for it (a refused subscribe, a filter the broker lost).
    pub fn forget(&self, filter: &str) {
        self.lock().releases.forget(filter);
    }

    /// The client lets go of `filter` and the `MqttActor` is about to be
    /// told: from now until [`Outbox::release_confirmed`], a message that
    /// matches no filter the client still holds is dropped. Called before
    /// the `unsubscribed` notice is queued, so none follows it.
    pub fn release(&self, filter: &str) {
        self.lock().releases.release(filter);
    }

    /// The `MqttActor` handled one release (whatever its answer): it sends
    /// nothing more for that filter.
    pub fn release_confirmed(&self) {
        self.lock().releases.confirmed();
    }

    /// Queues a protocol event (never dropped).
    pub fn event(&self, event: &Event) {
        self.push(FrameKind::Event(event.name()), event.to_text().into(), None);
    }

    /// Queues a comment (never dropped; only event streams show it).
    pub fn comment(&self, text: &'static str) {
        self.push(FrameKind::Comment, ByteString::from_static(text), None);
    }

    /// Queues a frame. Messages make room for newer ones; other frames are
    /// never dropped. A client that reads nothing while they pile up past
    /// twice the limits is cut off. A message (on `topic`) that belongs
    /// only to filters being released is dropped. `false` once the outbox is
    /// closed.
    fn push(&self, kind: FrameKind, text: ByteString, topic: Option<&str>) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        if topic.is_some_and(|t| !inner.releases.admits(t)) {
            return true;
        }
        inner.bytes += text.len();
        inner.queue.push_back(Frame { kind, text });
        if inner.waiting_since.is_none() {
            inner.waiting_since = Some(Instant::now());
        }
        let limits = self.limits;
        let over = |i: &Inner, factor: usize| {
            i.queue.len() > factor * limits.frames || i.bytes > factor * limits.bytes
        };
        while over(&inner, 1) {
            match inner
                .queue
                .iter()
                .position(|f| f.kind == FrameKind::Message)
            {
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
        // Woken after the lock is let go: waking schedules the client's task
        // on its worker (a queue of its own, maybe a system call to unpark
        // it), and the worker's first move is to take this lock.
        let waker = inner.waker.take();
        drop(inner);
        if let Some(w) = waker {
            w.wake();
        }
        true
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
            socket.shut_down();
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

    /// Releases the write buffer and the queue's room when the client took
    /// nothing since the last call (the fan-out's heartbeat): an idle client
    /// holds no buffer.
    pub fn release_idle(&self) {
        let mut inner = self.lock();
        if !std::mem::take(&mut inner.took) {
            inner.buf = BytesMut::new();
            if inner.queue.is_empty() {
                inner.queue = VecDeque::new();
            }
        }
    }

    /// The next chunk for the client: what waits (a `lagged` notice first),
    /// encoded with `framing` into the outbox's own buffer, so that a busy
    /// client's writes allocate nothing. `Pending` when nothing waits, with
    /// `waker` registered under the same lock (a frame pushed meanwhile
    /// cannot be missed); `Ready(None)`: closed and drained.
    pub fn poll_chunk(&self, framing: &mut dyn Framing, waker: &Waker) -> Poll<Option<Bytes>> {
        let mut inner = self.lock();
        let mut buf = std::mem::take(&mut inner.buf);
        let open = Self::fill(&mut inner, &mut buf, framing, waker);
        // Split only what was written: splitting an empty buffer would
        // still make it shared (an allocation).
        let chunk = (!buf.is_empty()).then(|| buf.split().freeze());
        inner.buf = buf;
        match (chunk, open) {
            (Some(chunk), _) => Poll::Ready(Some(chunk)),
            (None, true) => Poll::Pending,
            (None, false) => Poll::Ready(None),
        }
    }

    /// Encodes what is waiting (a `lagged` notice first) into `buf` with
    /// `framing`. When nothing is, registers `waker` under the same lock, so
    /// that a frame pushed meanwhile cannot be missed. `false`: closed and
    /// drained.
    #[cfg(test)]
    pub fn take(&self, buf: &mut BytesMut, framing: &mut dyn Framing, waker: &Waker) -> bool {
        Self::fill(&mut self.lock(), buf, framing, waker)
    }

    fn fill(
        inner: &mut Inner,
        buf: &mut BytesMut,
        framing: &mut dyn Framing,
        waker: &Waker,
    ) -> bool {
        if inner.lagged > 0 {
            framing.lagged(inner.lagged, buf);
            inner.lagged = 0;
        }
        while buf.len() < BATCH_BYTES {
            match inner.queue.pop_front() {
                Some(frame) => {
                    inner.bytes -= frame.text.len();
                    framing.frame(frame.kind, frame.text, buf);
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
            if !inner.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                inner.waker = Some(waker.clone());
            }
        } else {
            inner.took = true;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::framing::WsFraming;

    #[test]
    fn a_full_outbox_drops_the_oldest_messages_and_keeps_replies() {
        let dropped = Arc::new(AtomicU64::new(0));
        let limits = OutboxLimits {
            frames: 2,
            bytes: 1 << 20,
        };
        let outbox = Outbox::new(limits, dropped.clone());
        outbox.push(FrameKind::Event("pong"), "reply".into(), None);
        outbox.message("t", "m1".into());
        outbox.message("t", "m2".into());
        outbox.message("t", "m3".into());
        assert_eq!(dropped.load(Ordering::Relaxed), 2);
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut WsFraming::new(), waker));
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
        outbox.message("t", "m1".into());
        outbox.message("t", "m2".into());
        outbox.message("t", "m3".into());
        assert_eq!(
            dropped.load(Ordering::Relaxed),
            1,
            "the MqttActor counts its own drops"
        );
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut WsFraming::new(), waker));
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains(r#"{"type":"lagged","dropped":6}"#), "{text}");
    }

    #[test]
    fn nothing_of_a_filter_being_released_follows_its_notice_and_no_lag_is_told() {
        let dropped = Arc::new(AtomicU64::new(0));
        let limits = OutboxLimits {
            frames: 10,
            bytes: 1 << 20,
        };
        let outbox = Outbox::new(limits, dropped.clone());
        outbox.hold("open/#");
        outbox.hold("secret/#");
        outbox.release("secret/#");
        outbox.push(FrameKind::Event("unsubscribed"), "notice".into(), None);
        assert!(outbox.message("secret/a", "late".into()), "still open");
        assert!(outbox.message("open/a", "kept".into()));
        outbox.release_confirmed();
        outbox.message("secret/a", "again".into());
        assert_eq!(dropped.load(Ordering::Relaxed), 0, "not the client's loss");
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut WsFraming::new(), waker));
        let text = String::from_utf8_lossy(&buf);
        assert!(!text.contains("late") && !text.contains("lagged"), "{text}");
        assert!(text.contains("notice") && text.contains("kept"), "{text}");
        assert!(text.contains("again"), "the actor confirmed: {text}");
    }

    #[test]
    fn an_outbox_over_its_bytes_drops_the_oldest_messages() {
        let dropped = Arc::new(AtomicU64::new(0));
        let limits = OutboxLimits {
            frames: 100,
            bytes: 10,
        };
        let outbox = Outbox::new(limits, dropped.clone());
        outbox.message("t", "1234".into());
        outbox.message("t", "5678".into());
        outbox.push(FrameKind::Event("pong"), "reply".into(), None);
        assert_eq!(outbox.size(), (2, 9), "the oldest message made room");
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
        outbox.message("t", "a frame of more than ten bytes".into());
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
        outbox.message("t", "m".into());
        std::thread::sleep(Duration::from_millis(5));
        assert!(outbox.undrained_for() > Duration::ZERO);
        let mut buf = BytesMut::new();
        let waker = futures::task::noop_waker_ref();
        assert!(outbox.take(&mut buf, &mut WsFraming::new(), waker));
        assert_eq!(outbox.undrained_for(), Duration::ZERO);
        outbox.message("t", "m".into());
        outbox.abort();
        assert_eq!(outbox.size(), (0, 0));
        outbox.message("t", "late".into());
        assert_eq!(outbox.size(), (0, 0), "nothing is queued after the end");
    }

    #[test]
    fn a_busy_outbox_reuses_its_write_buffer_and_an_idle_one_releases_it() {
        let outbox = Outbox::new(
            OutboxLimits {
                frames: 10,
                bytes: 1 << 20,
            },
            Arc::default(),
        );
        let waker = futures::task::noop_waker_ref();
        let mut framing = WsFraming::new();
        let mut chunk = |outbox: &Outbox| match outbox.poll_chunk(&mut framing, waker) {
            Poll::Ready(Some(chunk)) => chunk,
            other => panic!("expected a chunk, got {other:?}"),
        };
        let long = "x".repeat(1000);
        for _ in 0..3 {
            outbox.message("t", long.as_str().into());
        }
        let first = chunk(&outbox);
        assert_eq!(first.len(), 3 * (4 + 1000), "one chunk of three frames");
        // The HTTP layer copies the chunk and drops it before it polls again.
        drop(first);
        outbox.message("t", "m".into());
        assert_eq!(&chunk(&outbox)[..], b"\x81\x01m");
        assert!(outbox.poll_chunk(&mut framing, waker).is_pending());
        assert!(
            outbox.lock().buf.capacity() > 0,
            "the buffer stays between writes"
        );
        outbox.release_idle();
        assert!(outbox.lock().buf.capacity() > 0, "it took something since");
        outbox.release_idle();
        assert_eq!(outbox.lock().buf.capacity(), 0, "idle for a heartbeat");
        outbox.close();
        assert_eq!(outbox.poll_chunk(&mut framing, waker), Poll::Ready(None));
    }
}
