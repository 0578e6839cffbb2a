//! At most `WS_MAX_INFLIGHT` requests of one WebSocket session are being
//! answered at once, and the socket is read no faster than they are.
//!
//! The session's frames come from the HTTP layer through a [`GatedStream`]:
//! while the session is at its limit the gate is closed, the stream answers
//! `Pending`, the HTTP layer's buffer for the request body fills and it stops
//! reading the socket, so the client's TCP window closes. Frames the
//! WebSocket decoder had already buffered when the gate closed wait in
//! [`InFlight`] (their number is bounded by that buffer) and are handled, in
//! order, as answers come back. So one client cannot fill the `MqttActor`'s
//! mailbox for everyone, whatever it pipelines.
//!
//! (`ctx.wait` would stop the session's stream too, but it also stops the
//! futures that carry the answers, so the session would wait for itself.)

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use futures::Stream;

/// Open: the session's stream reads on. Closed: it waits.
#[derive(Debug)]
pub struct Gate {
    open: AtomicBool,
    waker: AtomicWaker,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Gate {
            open: AtomicBool::new(true),
            waker: AtomicWaker::new(),
        })
    }

    fn close(&self) {
        self.open.store(false, Ordering::Release);
    }

    fn open(&self) {
        self.open.store(true, Ordering::Release);
        self.waker.wake();
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

/// A stream that yields nothing while its [`Gate`] is closed.
pub struct GatedStream<S> {
    inner: S,
    gate: Arc<Gate>,
}

impl<S> GatedStream<S> {
    /// `inner`, read only while `gate` is open.
    pub fn new(inner: S, gate: Arc<Gate>) -> Self {
        GatedStream { inner, gate }
    }
}

impl<S: Stream + Unpin> Stream for GatedStream<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if !self.gate.is_open() {
            self.gate.waker.register(cx.waker());
            // Opened between the check and the registration: read on.
            if !self.gate.is_open() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// One session's requests being answered, and the frames waiting for a
/// place. Plain state: the session says when a request starts and ends.
#[derive(Debug)]
pub struct InFlight<T> {
    max: usize,
    running: usize,
    waiting: VecDeque<T>,
    gate: Arc<Gate>,
}

impl<T> InFlight<T> {
    /// Room for `max` requests at once (at least one).
    pub fn new(max: usize) -> Self {
        InFlight {
            max: max.max(1),
            running: 0,
            waiting: VecDeque::new(),
            gate: Gate::new(),
        }
    }

    /// The gate to put in front of the session's stream.
    pub fn gate(&self) -> Arc<Gate> {
        self.gate.clone()
    }

    /// A frame arrived: `Some` to handle it now, `None` when it waits behind
    /// others (it comes back from [`InFlight::next_waiting`]).
    pub fn admit(&mut self, frame: T) -> Option<T> {
        if self.running >= self.max || !self.waiting.is_empty() {
            self.waiting.push_back(frame);
            self.gate.close();
            return None;
        }
        Some(frame)
    }

    /// A request went out; at the limit, the gate closes.
    pub fn started(&mut self) {
        self.running += 1;
        if self.running >= self.max {
            self.gate.close();
        }
    }

    /// A request was answered.
    pub fn finished(&mut self) {
        self.running = self.running.saturating_sub(1);
    }

    /// The next waiting frame, when there is room for it; once none waits
    /// and there is room, the gate opens again.
    pub fn next_waiting(&mut self) -> Option<T> {
        if self.running >= self.max {
            return None;
        }
        let next = self.waiting.pop_front();
        if next.is_none() {
            self.gate.open();
        }
        next
    }

    /// Requests being answered.
    #[cfg(test)]
    fn running(&self) -> usize {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn frames_past_the_limit_wait_in_order_and_the_gate_follows() {
        let mut f = InFlight::new(2);
        let gate = f.gate();
        assert_eq!(f.admit(1), Some(1));
        f.started();
        assert_eq!(f.admit(2), Some(2));
        f.started();
        assert!(!gate.is_open(), "at the limit the socket is not read");
        assert_eq!(f.admit(3), None);
        assert_eq!(f.admit(4), None);
        assert_eq!(f.next_waiting(), None, "no room yet");
        f.finished();
        assert_eq!(f.next_waiting(), Some(3));
        f.started();
        assert_eq!(f.next_waiting(), None);
        assert!(!gate.is_open());
        f.finished();
        f.finished();
        assert_eq!(f.admit(5), None, "behind the one still waiting");
        assert_eq!(f.next_waiting(), Some(4));
        assert_eq!(f.next_waiting(), Some(5));
        assert_eq!(f.next_waiting(), None);
        assert!(gate.is_open());
        assert_eq!(f.running(), 0);
    }

    #[actix_rt::test]
    async fn a_closed_gate_holds_the_stream_until_it_opens() {
        let gate = Gate::new();
        let mut stream = GatedStream::new(futures::stream::iter([1, 2]), gate.clone());
        assert_eq!(stream.next().await, Some(1));
        gate.close();
        let waiting = futures::poll!(stream.next());
        assert!(waiting.is_pending());
        gate.open();
        assert_eq!(stream.next().await, Some(2));
    }
}
