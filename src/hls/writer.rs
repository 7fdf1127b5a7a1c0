//! [`SegmentWriter`]: the [`PacketSink`] the muxer writes into. Packets are gathered in one fixed
//! write buffer (allocated once) and handed to the store in [`WRITE_BUF_LEN`] chunks, so a segment
//! reaches its `.part` file progressively. The sink is infallible; the first storage error is
//! latched and every later packet of that segment is discarded.

use super::store::{SegmentStore, StoreError};
use crate::ts::{PacketSink, PACKET_LEN};

/// Write buffer size: 64 KiB rounded down to whole packets (348 × 188 bytes).
pub const WRITE_BUF_LEN: usize = 65_536 / PACKET_LEN * PACKET_LEN;

/// Packet sink over a [`SegmentStore`] for the segment currently being written.
#[derive(Debug)]
pub struct SegmentWriter<S> {
    store: S,
    buf: Box<[u8]>,
    len: usize,
    /// Segment number of the open `.part` (None: no segment open; packets are discarded).
    seq: Option<u64>,
    error: Option<StoreError>,
    /// Set when `error` was latched and not yet reported.
    unreported: bool,
    bytes: u64,
}

impl<S: SegmentStore> SegmentWriter<S> {
    /// A writer over `store` with its write buffer allocated now.
    pub fn new(store: S) -> Self {
        SegmentWriter {
            store,
            buf: vec![0u8; WRITE_BUF_LEN].into_boxed_slice(),
            len: 0,
            seq: None,
            error: None,
            unreported: false,
            bytes: 0,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
    /// The store, mutably (for ring rotation and playlist writes).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Consumes the writer, returning the store (an open partial segment stays as it is).
    pub fn into_store(self) -> S {
        self.store
    }

    /// Opens `.seg<seq>.ts.part`. On failure the error is latched and the segment is discarded.
    pub fn begin(&mut self, seq: u64) {
        self.len = 0;
        self.bytes = 0;
        self.error = None;
        self.unreported = false;
        self.seq = Some(seq);
        if let Err(e) = self.store.begin_segment(seq) {
            self.latch(e);
        }
    }

    fn latch(&mut self, mut e: StoreError) {
        if self.error.is_none() {
            if let Some(seq) = self.seq {
                e.seq = seq;
            }
            self.error = Some(e);
            self.unreported = true;
        }
    }

    fn flush(&mut self) {
        if self.len > 0 && self.error.is_none() {
            if let Err(e) = self.store.write_segment(&self.buf[..self.len]) {
                self.latch(e);
            }
        }
        self.len = 0;
    }

    /// The latched error, once: for the caller to report the failure as soon as it happens.
    pub fn take_new_error(&mut self) -> Option<StoreError> {
        if self.unreported {
            self.unreported = false;
            self.error
        } else {
            None
        }
    }

    /// Flushes and renames the open segment into place; on any error (latched or from the rename)
    /// deletes the partial file instead. Returns `(seq, bytes)` of the committed segment, or the
    /// error and whether it is new (not yet returned by [`Self::take_new_error`]).
    pub fn commit(&mut self) -> Result<(u64, u64), (StoreError, bool)> {
        let no_segment = StoreError {
            op: super::store::StoreOp::Commit,
            seq: 0,
            errno: libc::EBADF,
        };
        let seq = self.seq.ok_or((no_segment, true))?;
        self.flush();
        self.seq = None;
        let result = match self.error {
            Some(e) => Err((e, self.unreported)),
            None => self
                .store
                .commit_segment(seq)
                .map(|()| (seq, self.bytes))
                .map_err(|e| (e, true)),
        };
        if result.is_err() {
            self.store.abort_segment(seq);
        }
        self.error = None;
        self.unreported = false;
        result
    }

    /// Whether a segment is open.
    pub fn is_open(&self) -> bool {
        self.seq.is_some()
    }
}

impl<S: SegmentStore> PacketSink for SegmentWriter<S> {
    fn put(&mut self, pkt: &[u8; PACKET_LEN]) {
        if self.seq.is_none() || self.error.is_some() {
            return;
        }
        if self.len + PACKET_LEN > self.buf.len() {
            self.flush();
        }
        self.buf[self.len..self.len + PACKET_LEN].copy_from_slice(pkt);
        self.len += PACKET_LEN;
        self.bytes += PACKET_LEN as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::store::{MemStore, StoreEvent, StoreOp};

    #[test]
    fn writes_progressively_in_chunks() {
        let mut w = SegmentWriter::new(MemStore::new());
        w.begin(3);
        let pkt = [0x47u8; PACKET_LEN];
        for _ in 0..(WRITE_BUF_LEN / PACKET_LEN + 1) {
            w.put(&pkt);
        }
        assert!(w.store().has_part());
        assert_eq!(
            w.commit().unwrap(),
            (3, (WRITE_BUF_LEN + PACKET_LEN) as u64)
        );
        assert_eq!(
            w.store().events,
            vec![
                StoreEvent::Begin(3),
                StoreEvent::Commit(3, WRITE_BUF_LEN + PACKET_LEN)
            ]
        );
    }

    #[test]
    fn enospc_latches_and_aborts() {
        let mut w = SegmentWriter::new(MemStore::new());
        w.begin(4);
        w.store_mut().fail_next(StoreOp::Write, libc::ENOSPC);
        let pkt = [0x47u8; PACKET_LEN];
        for _ in 0..(2 * WRITE_BUF_LEN / PACKET_LEN) {
            w.put(&pkt);
        }
        let e = w.take_new_error().unwrap();
        assert!(e.is_disk_full());
        assert_eq!(e.seq, 4);
        assert!(w.take_new_error().is_none());
        assert_eq!(w.commit().unwrap_err(), (e, false));
        assert_eq!(
            w.store().events,
            vec![StoreEvent::Begin(4), StoreEvent::Abort(4)]
        );
        assert!(w.store().segments().is_empty());
    }
}
