//! What waits on the publishing side: QoS 1/2 publishes made while
//! disconnected, in a bounded [`OfflineBuffer`], and sent publishes waiting
//! for their acknowledgement. Plain state, no I/O.

use std::collections::{HashMap, VecDeque};

use futures::channel::oneshot;

use crate::error::Result;
use crate::messages::Publish;

/// A publish waiting for the connection, with its caller waiting for the answer.
pub(crate) struct Buffered {
    pub publish: Publish,
    pub reply: oneshot::Sender<Result<()>>,
}

/// Sent publishes waiting for their acknowledgement, with their callers.
#[derive(Default)]
pub(crate) struct InFlight {
    next: u64,
    waiting: HashMap<u64, oneshot::Sender<Result<()>>>,
}

impl InFlight {
    pub fn add(&mut self, reply: oneshot::Sender<Result<()>>) -> u64 {
        self.next += 1;
        self.waiting.insert(self.next, reply);
        self.next
    }

    /// Every caller still waiting, taken out.
    pub fn take_all(&mut self) -> HashMap<u64, oneshot::Sender<Result<()>>> {
        std::mem::take(&mut self.waiting)
    }

    /// The caller of publish `id`, unless it was answered already.
    pub fn take(&mut self, id: u64) -> Option<oneshot::Sender<Result<()>>> {
        self.waiting.remove(&id)
    }
}

/// A FIFO queue that holds at most `capacity` items. Plain state, no I/O.
#[derive(Debug)]
pub(crate) struct OfflineBuffer<T> {
    queue: VecDeque<T>,
    capacity: usize,
}

impl<T> OfflineBuffer<T> {
    /// An empty buffer for at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        OfflineBuffer {
            queue: VecDeque::new(),
            capacity,
        }
    }

    /// Keeps `item` behind the others, or hands it back when the buffer is full.
    pub fn push(&mut self, item: T) -> std::result::Result<(), T> {
        if self.queue.len() >= self.capacity {
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
    pub fn capacity(&self) -> usize {
        self.capacity
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
