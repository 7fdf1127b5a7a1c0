//! [`SegmentWriter`]: the sink the muxers write into. Bytes are gathered in one fixed write
//! buffer (allocated once) and handed on in chunks of at most [`WRITE_BUF_LEN`] — to the store's
//! open segment file, to the open LL-HLS part file beside it, and to every extra
//! [`Consumer`] — so a segment reaches its temporary file progressively. A chunk never spans a
//! part boundary ([`SegmentWriter::commit_part`] flushes first). The sink is infallible; the
//! first storage error is latched and every later byte of that segment is discarded (extra
//! consumers still get them: the live store's failure is not theirs).

use super::consumer::Consumer;
use super::store::{SegmentStore, StoreError, StoreOp};
use crate::ts::{PacketSink, PACKET_LEN};

/// Write buffer size: 64 KiB rounded down to whole packets (348 × 188 bytes).
pub const WRITE_BUF_LEN: usize = 65_536 / PACKET_LEN * PACKET_LEN;

/// Sink over a [`SegmentStore`] (and extra consumers) for the segment being written.
pub struct SegmentWriter<S> {
    store: S,
    extra: Vec<Box<dyn Consumer>>,
    buf: Box<[u8]>,
    len: usize,
    /// Segment number of the open temporary file (None: no segment open; bytes are discarded).
    seq: Option<u64>,
    /// Index of the open part file, if any.
    part: Option<u32>,
    error: Option<StoreError>,
    /// Set when `error` was latched and not yet reported.
    unreported: bool,
    bytes: u64,
    part_bytes: u64,
}

impl<S: std::fmt::Debug> std::fmt::Debug for SegmentWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("store", &self.store)
            .field("consumers", &self.extra.len())
            .field("seq", &self.seq)
            .field("part", &self.part)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<S: SegmentStore> SegmentWriter<S> {
    /// A writer over `store` with its write buffer allocated now.
    pub fn new(store: S) -> Self {
        SegmentWriter {
            store,
            extra: Vec::new(),
            buf: vec![0u8; WRITE_BUF_LEN].into_boxed_slice(),
            len: 0,
            seq: None,
            part: None,
            error: None,
            unreported: false,
            bytes: 0,
            part_bytes: 0,
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
    /// The extra consumers, for the producer's metadata events. The write buffer is flushed
    /// first, so every byte written before an event (the last chunk of a segment before its
    /// `segment()`, in classic mode too where no part commit flushes) reaches the consumers
    /// before the event does.
    pub fn consumers(&mut self) -> &mut [Box<dyn Consumer>] {
        self.flush();
        &mut self.extra
    }
    /// Adds a consumer that gets every byte from the next segment on.
    pub fn add_consumer(&mut self, c: Box<dyn Consumer>) {
        self.extra.push(c);
    }

    /// Consumes the writer, returning the store (an open partial segment stays as it is).
    pub fn into_store(self) -> S {
        self.store
    }

    /// Opens segment `seq`'s temporary file. On failure the error is latched and the segment
    /// is discarded.
    pub fn begin(&mut self, seq: u64) {
        self.len = 0;
        self.bytes = 0;
        self.error = None;
        self.unreported = false;
        self.seq = Some(seq);
        self.part = None;
        if let Err(e) = self.store.begin_segment(seq) {
            self.latch(e);
        }
    }

    /// Opens part `index` of the open segment; its bytes also go to the part's own file.
    pub fn begin_part(&mut self, index: u32) {
        self.flush();
        let Some(seq) = self.seq else { return };
        self.part = Some(index);
        self.part_bytes = 0;
        if self.error.is_none() {
            if let Err(e) = self.store.begin_part(seq, index) {
                self.latch(e.in_part(index));
            }
        }
    }

    /// Flushes and renames the open part into place; returns its size. An error (latched
    /// before or now) means the part is not there: the segment will be dropped at
    /// [`Self::commit`].
    pub fn commit_part(&mut self) -> Result<u64, StoreError> {
        self.flush();
        let (Some(seq), Some(k)) = (self.seq, self.part.take()) else {
            return Err(StoreError::new(StoreOp::Commit, 0, libc::EBADF));
        };
        if let Some(e) = self.error {
            self.store.abort_part(seq, k);
            return Err(e);
        }
        match self.store.commit_part(seq, k) {
            Ok(()) => Ok(self.part_bytes),
            Err(e) => {
                self.store.abort_part(seq, k);
                self.latch(e);
                Err(e)
            }
        }
    }

    /// Dooms the open segment with `e` (something it needs could not be stored): its bytes
    /// are discarded and [`Self::commit`] drops it.
    pub fn abandon(&mut self, e: StoreError) {
        self.latch(e);
    }

    /// Bytes of the open segment so far.
    pub fn segment_bytes(&self) -> u64 {
        self.bytes
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
        if self.len == 0 {
            return;
        }
        let chunk = &self.buf[..self.len];
        for c in &mut self.extra {
            c.data(chunk);
        }
        if self.error.is_none() {
            if let Err(e) = self.store.write_segment(chunk) {
                self.latch(e);
            } else if let Some(k) = self.part {
                if let Err(e) = self.store.write_part(chunk) {
                    self.latch(e.in_part(k));
                }
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
    /// deletes the temporary file instead. Returns `(seq, bytes)` of the committed segment, or the
    /// error and whether it is new (not yet returned by [`Self::take_new_error`]).
    pub fn commit(&mut self) -> Result<(u64, u64), (StoreError, bool)> {
        let no_segment = StoreError::new(StoreOp::Commit, 0, libc::EBADF);
        let seq = self.seq.ok_or((no_segment, true))?;
        self.flush();
        if let Some(k) = self.part.take() {
            self.store.abort_part(seq, k);
        }
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

    /// Appends bytes (the fMP4 writer's boxes and samples) to the open segment.
    pub fn write_bytes(&mut self, mut bytes: &[u8]) {
        if self.seq.is_none() {
            return;
        }
        while !bytes.is_empty() {
            if self.len == self.buf.len() {
                self.flush();
            }
            let n = (self.buf.len() - self.len).min(bytes.len());
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            self.bytes += n as u64;
            self.part_bytes += n as u64;
            bytes = &bytes[n..];
        }
    }
}

/// The fMP4 writer's boxes and samples (not imported by name: `put` would clash with
/// [`PacketSink::put`]).
impl<S: SegmentStore> crate::fmp4::ByteSink for SegmentWriter<S> {
    fn put(&mut self, bytes: &[u8]) {
        self.write_bytes(bytes);
    }
}

impl<S: SegmentStore> PacketSink for SegmentWriter<S> {
    /// A slot in the write buffer, so the muxer builds each packet in place. With no segment
    /// open the first slot of the buffer is handed out as scratch: its bytes are never written
    /// out (the buffer is emptied by `begin`).
    fn next_slot(&mut self) -> &mut [u8; PACKET_LEN] {
        let at = if self.seq.is_none() {
            0
        } else {
            if self.len + PACKET_LEN > self.buf.len() {
                self.flush();
            }
            let at = self.len;
            self.len += PACKET_LEN;
            self.bytes += PACKET_LEN as u64;
            self.part_bytes += PACKET_LEN as u64;
            at
        };
        let slot: &mut [u8] = &mut self.buf[at..at + PACKET_LEN];
        slot.try_into().expect("slot is one packet long")
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

    /// Records the order of data and events, as a consumer sees them.
    struct Order(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl Consumer for Order {
        fn data(&mut self, bytes: &[u8]) {
            self.0.lock().unwrap().push(format!("data {}", bytes.len()));
        }
        fn segment(&mut self, done: &crate::hls::consumer::SegmentDone) {
            self.0.lock().unwrap().push(format!("segment {}", done.seq));
        }
    }

    #[test]
    fn consumers_get_every_byte_before_an_event() {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut w = SegmentWriter::new(MemStore::new());
        w.add_consumer(Box::new(Order(log.clone())));
        w.begin(1);
        let pkt = [0x47u8; PACKET_LEN];
        for _ in 0..(WRITE_BUF_LEN / PACKET_LEN + 2) {
            w.put(&pkt);
        }
        // Classic mode: no part commit flushed the last two packets; the event must see them.
        for c in w.consumers() {
            c.segment(&crate::hls::consumer::SegmentDone {
                seq: 1,
                start: crate::time::Pts90k(0),
                duration: crate::time::Pts90k(90_000),
                wall: std::time::UNIX_EPOCH,
                discontinuity: false,
                bytes: 0,
                map: 0,
            });
        }
        assert_eq!(
            &log.lock().unwrap()[..],
            [
                format!("data {WRITE_BUF_LEN}"),
                format!("data {}", 2 * PACKET_LEN),
                "segment 1".to_owned()
            ]
        );
        assert_eq!(
            w.commit().unwrap(),
            (1, (WRITE_BUF_LEN + 2 * PACKET_LEN) as u64)
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
