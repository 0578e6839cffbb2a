//! [`Budgeted`]: a stream that lets its task go after a number of items.
//!
//! Actix polls a message stream of an actor until the stream is pending, and
//! only then looks at the actor's mailbox again. The stream of incoming
//! messages is never pending while a flood outpaces the actor, so without a
//! budget every request in the mailbox (`Subscribe`, `Publish`, `GetStatus`)
//! would wait for the flood to end: one busy topic would stall every other
//! user of the actor. With it, the actor answers its mailbox at least once
//! per budget of messages.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

/// Messages the actor handles from its inbound stream before it looks at its
/// mailbox again. Large enough that a busy actor still handles messages in
/// batches, small enough that a request waits for a few milliseconds of
/// deliveries at most.
pub(crate) const INBOUND_BUDGET: usize = 128;

/// `S`, pending (and woken at once) after every `budget` items in a row.
pub(crate) struct Budgeted<S> {
    inner: S,
    budget: usize,
    left: usize,
}

impl<S> Budgeted<S> {
    /// `inner`, yielding after each `budget` items (at least one).
    pub fn new(inner: S, budget: usize) -> Self {
        let budget = budget.max(1);
        Budgeted {
            inner,
            budget,
            left: budget,
        }
    }
}

impl<S: Stream + Unpin> Stream for Budgeted<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.left == 0 {
            self.left = self.budget;
            // Pending without a wake-up would stall the stream: ask to be
            // polled again, after whatever else the task has to do.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        match next {
            Poll::Ready(Some(_)) => self.left -= 1,
            _ => self.left = self.budget,
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    use futures::stream;

    use super::*;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn yields_after_each_budget_and_asks_to_be_polled_again() {
        let wakes = Arc::new(Count::default());
        let waker = wakes.clone().into();
        let mut cx = Context::from_waker(&waker);
        let mut s = Budgeted::new(stream::iter(0..5), 2);
        let mut seen = Vec::new();
        let mut pendings = 0;
        loop {
            match Pin::new(&mut s).poll_next(&mut cx) {
                Poll::Ready(Some(i)) => seen.push(i),
                Poll::Ready(None) => break,
                Poll::Pending => pendings += 1,
            }
        }
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert_eq!(pendings, 2);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
    }
}
