//! A bounded hand-off queue that drops the *oldest* item when full.
//!
//! Between capture and encoder (DESIGN.md §1): when the encoder falls behind, the camera must
//! never block, and the frame to lose is the stalest one. Capacity is reserved up front, so
//! `push` and `pop` never allocate; a dropped item is returned to the caller (dropping a pool
//! lease gives its buffer back) and counted.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A bounded multi-producer, multi-consumer queue with drop-oldest overflow.
#[derive(Debug)]
pub struct DropOldestQueue<T> {
    inner: Mutex<State<T>>,
    ready: Condvar,
    space: Condvar,
    capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

/// What [`DropOldestQueue::pop_timeout`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Pop<T> {
    /// The oldest item.
    Item(T),
    /// Nothing arrived in time; the queue is still open.
    Timeout,
    /// The queue is closed and empty.
    Closed,
}

impl<T> DropOldestQueue<T> {
    /// A queue holding at most `capacity` (≥ 1) items.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        DropOldestQueue {
            inner: Mutex::new(State {
                items: VecDeque::with_capacity(capacity),
                closed: false,
            }),
            ready: Condvar::new(),
            space: Condvar::new(),
            capacity,
        }
    }

    /// Appends `item`; when full, drops the oldest item. Returns true when one was dropped (the
    /// caller counts it). See [`push_merge`](Self::push_merge) for items that carry state.
    pub fn push(&self, item: T) -> bool {
        self.push_merge(item, |_, _| {})
    }

    /// Like [`push`](Self::push), but a dropped item first hands what must not be lost to the
    /// item that is now oldest (`merge(dropped, survivor)`), e.g. a frame's discontinuity flag.
    /// Returns true when an item was dropped.
    pub fn push_merge(&self, mut item: T, merge: impl FnOnce(&T, &mut T)) -> bool {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let dropped = if s.items.len() >= self.capacity {
            s.items.pop_front()
        } else {
            None
        };
        if let Some(d) = &dropped {
            match s.items.front_mut() {
                Some(front) => merge(d, front),
                None => merge(d, &mut item),
            }
        }
        s.items.push_back(item);
        drop(s);
        self.ready.notify_one();
        // The dropped item is released here, outside the lock.
        dropped.is_some()
    }

    /// Appends `item`, waiting while the queue is full (back-pressure for unpaced `--fast` runs,
    /// where no frame may be lost). Returns the item back if the queue was closed meanwhile.
    pub fn push_wait(&self, item: T) -> Result<(), T> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while s.items.len() >= self.capacity && !s.closed {
            s = self.space.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        if s.closed {
            return Err(item);
        }
        s.items.push_back(item);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// Takes the oldest item, waiting up to `timeout` for one.
    pub fn pop_timeout(&self, timeout: Duration) -> Pop<T> {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(item) = s.items.pop_front() {
                drop(s);
                self.space.notify_one();
                return Pop::Item(item);
            }
            if s.closed {
                return Pop::Closed;
            }
            let (guard, res) = self
                .ready
                .wait_timeout(s, timeout)
                .unwrap_or_else(|e| e.into_inner());
            s = guard;
            if res.timed_out() && s.items.is_empty() {
                return if s.closed { Pop::Closed } else { Pop::Timeout };
            }
        }
    }

    /// No more pushes will come: consumers drain what is left, then see [`Pop::Closed`].
    pub fn close(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_all();
        self.space.notify_all();
    }

    /// Items waiting now.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .items
            .len()
    }

    /// True when no item waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_oldest_when_full() {
        let q = DropOldestQueue::new(2);
        assert!(!q.push(1));
        assert!(!q.push(2));
        assert!(q.push(3));
        assert_eq!(q.pop_timeout(Duration::from_millis(1)), Pop::Item(2));
        assert_eq!(q.pop_timeout(Duration::from_millis(1)), Pop::Item(3));
        assert_eq!(q.pop_timeout(Duration::from_millis(1)), Pop::Timeout);
        q.push(4);
        q.close();
        assert_eq!(q.pop_timeout(Duration::from_millis(1)), Pop::Item(4));
        assert_eq!(q.pop_timeout(Duration::from_millis(1)), Pop::Closed);
    }

    #[test]
    fn push_merge_hands_on_what_the_dropped_item_carried() {
        let q = DropOldestQueue::new(2);
        let merge = |d: &(u8, bool), f: &mut (u8, bool)| f.1 |= d.1;
        assert!(!q.push_merge((1, true), merge));
        assert!(!q.push_merge((2, false), merge));
        assert!(q.push_merge((3, false), merge));
        assert_eq!(q.pop_timeout(Duration::ZERO), Pop::Item((2, true)));
        assert_eq!(q.pop_timeout(Duration::ZERO), Pop::Item((3, false)));
        let q = DropOldestQueue::new(1);
        q.push_merge((1, true), merge);
        assert!(q.push_merge((2, false), merge));
        assert_eq!(q.pop_timeout(Duration::ZERO), Pop::Item((2, true)));
    }

    #[test]
    fn push_wait_blocks_until_space() {
        let q = std::sync::Arc::new(DropOldestQueue::new(1));
        q.push_wait(1u32).unwrap();
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.push_wait(2));
        assert_eq!(q.pop_timeout(Duration::from_secs(30)), Pop::Item(1));
        t.join().unwrap().unwrap();
        assert_eq!(q.pop_timeout(Duration::from_secs(30)), Pop::Item(2));
        q.close();
        assert_eq!(q.push_wait(3), Err(3));
    }

    #[test]
    fn wakes_a_waiting_consumer() {
        let q = std::sync::Arc::new(DropOldestQueue::new(4));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop_timeout(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        q.push(9u32);
        assert_eq!(t.join().unwrap(), Pop::Item(9));
    }
}

/// A bounded, blocking channel over [`DropOldestQueue`] with the shape of
/// `std::sync::mpsc::sync_channel`, for hand-offs where nothing may be dropped.
///
/// Why not `std::sync::mpsc`: its blocking operations register the waiting thread in a `Vec`
/// that grows the first time a given thread waits on a given channel — an allocation that can
/// land long after warm-up (seen in `tests/pipeline_alloc.rs`). This one never allocates after
/// `channel()`: a mutex, two condition variables and a `VecDeque` whose capacity is reserved.
/// Dropping the sender closes the channel (the receiver drains what is left, then sees
/// `Disconnected`); dropping the receiver makes `send` fail.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let q = std::sync::Arc::new(DropOldestQueue::new(capacity));
    (Sender { q: q.clone() }, Receiver { q })
}

/// The sending half of [`channel`].
#[derive(Debug)]
pub struct Sender<T> {
    q: std::sync::Arc<DropOldestQueue<T>>,
}

/// The receiving half of [`channel`].
#[derive(Debug)]
pub struct Receiver<T> {
    q: std::sync::Arc<DropOldestQueue<T>>,
}

pub use std::sync::mpsc::{RecvTimeoutError, TryRecvError};

impl<T> Sender<T> {
    /// Sends `item`, waiting while the channel is full; gives it back if the receiver is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        self.q.push_wait(item)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.q.close();
    }
}

impl<T> Receiver<T> {
    /// Waits up to `timeout` for an item.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match self.q.pop_timeout(timeout) {
            Pop::Item(t) => Ok(t),
            Pop::Timeout => Err(RecvTimeoutError::Timeout),
            Pop::Closed => Err(RecvTimeoutError::Disconnected),
        }
    }

    /// An item if one is waiting now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.recv_timeout(Duration::ZERO).map_err(|e| match e {
            RecvTimeoutError::Timeout => TryRecvError::Empty,
            RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
        })
    }

    /// Waits for an item; `Err` once the sender is gone and the channel is drained.
    pub fn recv(&self) -> Result<T, RecvTimeoutError> {
        loop {
            match self.recv_timeout(Duration::from_secs(1)) {
                Err(RecvTimeoutError::Timeout) => continue,
                other => return other,
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.q.close();
    }
}

#[cfg(test)]
mod channel_tests {
    use super::*;

    #[test]
    fn channel_closes_both_ways() {
        let (tx, rx) = channel::<u8>(2);
        tx.send(1).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Err(RecvTimeoutError::Disconnected));
        let (tx, rx) = channel::<u8>(1);
        drop(rx);
        assert_eq!(tx.send(3), Err(3));
    }
}
