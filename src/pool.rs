//! A fixed pool of equally sized byte buffers; a [`Lease`] hands one on and gives it back on Drop.
//!
//! The pool allocates every buffer once, in [`Pool::new`]. Taking and returning a buffer moves a
//! `Box<[u8]>` between the free list (a `Vec` whose capacity never grows past the pool size) and
//! the lease: no heap allocation once running.

use std::sync::{Arc, Mutex};

/// A fixed set of buffers of one size.
#[derive(Clone, Debug)]
pub struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    free: Mutex<Vec<Box<[u8]>>>,
    buf_len: usize,
    count: usize,
}

impl Pool {
    /// `count` buffers of `buf_len` bytes each, zero-filled.
    pub fn new(count: usize, buf_len: usize) -> Self {
        let mut free = Vec::with_capacity(count);
        for _ in 0..count {
            free.push(vec![0u8; buf_len].into_boxed_slice());
        }
        Pool {
            inner: Arc::new(Inner {
                free: Mutex::new(free),
                buf_len,
                count,
            }),
        }
    }

    /// A free buffer, or `None` when every buffer is leased.
    pub fn try_take(&self) -> Option<Lease> {
        let buf = self
            .inner
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()?;
        Some(Lease {
            buf: Some(buf),
            pool: Arc::clone(&self.inner),
        })
    }

    /// Buffers currently free.
    pub fn available(&self) -> usize {
        self.inner
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Total buffers.
    pub fn capacity(&self) -> usize {
        self.inner.count
    }

    /// Size of each buffer in bytes.
    pub fn buf_len(&self) -> usize {
        self.inner.buf_len
    }
}

/// A buffer on loan from a [`Pool`]; returned to it when dropped.
#[derive(Debug)]
pub struct Lease {
    buf: Option<Box<[u8]>>,
    pool: Arc<Inner>,
}

impl std::ops::Deref for Lease {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.as_deref().unwrap_or(&[])
    }
}

impl std::ops::DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.buf.as_deref_mut().unwrap_or(&mut [])
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            let mut free = self.pool.free.lock().unwrap_or_else(|e| e.into_inner());
            // Capacity was reserved for every buffer in `Pool::new`: this push never allocates.
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_returns_on_drop() {
        let pool = Pool::new(2, 16);
        let mut a = pool.try_take().unwrap();
        a[0] = 7;
        let b = pool.try_take().unwrap();
        assert!(pool.try_take().is_none());
        assert_eq!(pool.available(), 0);
        drop(a);
        assert_eq!(pool.available(), 1);
        let c = pool.try_take().unwrap();
        assert_eq!(c[0], 7, "the same buffer comes back");
        assert_eq!(c.len(), 16);
        drop((b, c));
        assert_eq!(pool.available(), 2);
    }
}
