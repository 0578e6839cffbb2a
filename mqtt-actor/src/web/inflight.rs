//! At most `max_inflight` requests of one WebSocket session are being
//! answered at once, and the socket is read no faster than they are.
//!
//! The session's frames come from the HTTP layer through a [`ValvedStream`]:
//! while the session is at its limit the valve is closed, the stream answers
//! `Pending`, the HTTP layer's buffer for the request body fills and it stops
//! reading the socket, so the client's TCP window closes. Frames the
//! WebSocket decoder had already buffered when the valve closed wait in
//! [`RequestWindow`] (their number is bounded by that buffer) and are handled, in
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
pub(crate) struct Valve {
    open: AtomicBool,
    waker: AtomicWaker,
}

impl Valve {
    fn new() -> Arc<Self> {
        Arc::new(Valve {
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

/// A stream that yields nothing while its [`Valve`] is closed.
pub(crate) struct ValvedStream<S> {
    inner: S,
    valve: Arc<Valve>,
}

impl<S> ValvedStream<S> {
    /// `inner`, read only while `valve` is open.
    pub fn new(inner: S, valve: Arc<Valve>) -> Self {
        ValvedStream { inner, valve }
    }
}

impl<S: Stream + Unpin> Stream for ValvedStream<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if !self.valve.is_open() {
            self.valve.waker.register(cx.waker());
            // Opened between the check and the registration: read on.
            if !self.valve.is_open() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// One session's requests being answered, and the frames waiting for a
/// place. Plain state: the session says when a request starts and ends.
#[derive(Debug)]
pub(crate) struct RequestWindow<T> {
    max: usize,
    running: usize,
    waiting: VecDeque<T>,
    valve: Arc<Valve>,
}

impl<T> RequestWindow<T> {
    /// Room for `max` requests at once (at least one).
    pub fn new(max: usize) -> Self {
        RequestWindow {
            max: max.max(1),
            running: 0,
            waiting: VecDeque::new(),
            valve: Valve::new(),
        }
    }

    /// The valve to put in front of the session's stream.
    pub fn valve(&self) -> Arc<Valve> {
        self.valve.clone()
    }

    /// A frame arrived: `Some` to handle it now, `None` when it waits behind
    /// others (it comes back from [`RequestWindow::next_waiting`]).
    pub fn admit(&mut self, frame: T) -> Option<T> {
        if self.running >= self.max || !self.waiting.is_empty() {
            self.waiting.push_back(frame);
            self.valve.close();
            return None;
        }
        Some(frame)
    }

    /// A request went out; at the limit, the valve closes.
    pub fn started(&mut self) {
        self.running += 1;
        if self.running >= self.max {
            self.valve.close();
        }
    }

    /// A request was answered.
    pub fn finished(&mut self) {
        self.running = self.running.saturating_sub(1);
    }

    /// The next waiting frame, when there is room for it; once none waits
    /// and there is room, the valve opens again.
    pub fn next_waiting(&mut self) -> Option<T> {
        if self.running >= self.max {
            return None;
        }
        let next = self.waiting.pop_front();
        if next.is_none() {
            self.valve.open();
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
    fn frames_past_the_limit_wait_in_order_and_the_valve_follows() {
        let mut f = RequestWindow::new(2);
        let valve = f.valve();
        assert_eq!(f.admit(1), Some(1));
        f.started();
        assert_eq!(f.admit(2), Some(2));
        f.started();
        assert!(!valve.is_open(), "at the limit the socket is not read");
        assert_eq!(f.admit(3), None);
        assert_eq!(f.admit(4), None);
        assert_eq!(f.next_waiting(), None, "no room yet");
        f.finished();
        assert_eq!(f.next_waiting(), Some(3));
        f.started();
        assert_eq!(f.next_waiting(), None);
        assert!(!valve.is_open());
        f.finished();
        f.finished();
        assert_eq!(f.admit(5), None, "behind the one still waiting");
        assert_eq!(f.next_waiting(), Some(4));
        assert_eq!(f.next_waiting(), Some(5));
        assert_eq!(f.next_waiting(), None);
        assert!(valve.is_open());
        assert_eq!(f.running(), 0);
    }

    #[actix_rt::test]
    async fn a_closed_valve_holds_the_stream_until_it_opens() {
        let valve = Valve::new();
        let mut stream = ValvedStream::new(futures::stream::iter([1, 2]), valve.clone());
        assert_eq!(stream.next().await, Some(1));
        valve.close();
        let waiting = futures::poll!(stream.next());
        assert!(waiting.is_pending());
        valve.open();
        assert_eq!(stream.next().await, Some(2));
    }
}
