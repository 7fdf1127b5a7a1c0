//! Publishing the live stream to origins (`[[publish]]`): an HTTP origin taking WebDAV
//! `PUT`/`DELETE` (nginx), or S3-compatible object storage — the "segments to a static server
//! or CDN, the playlist updated after" of DESIGN §1b.
//!
//! ```text
//! mux thread: Publisher (a Consumer)                      upload thread (one per target)
//!   begin_segment: take a free buffer ──┐                  ┌─► PUT init<G>.mp4 (fMP4, once per G)
//!     (none free: drop the oldest       │  bounded queue   ├─► PUT seg<N>.ts ── retry, backoff
//!      queued segment, count a skip)    ├────────────────► │     + jitter; given up once N has
//!   data: copy into it (no allocation)  │  of SLOTS        │     left the local window
//!   segment: queue it ──────────────────┘  buffers         ├─► PUT live.m3u8 (acknowledged only)
//!                                                          └─► DELETE retired segments (§6.2.2)
//! ```
//!
//! - The mux thread only copies bytes into one of [`SLOTS`] buffers allocated at start and
//!   takes an uncontended lock twice per segment: a slow or dead origin never slows capture,
//!   encoding or the local stream. When the origin falls behind, the oldest waiting segment is
//!   dropped and the origin's playlist marks the gap with `EXT-X-DISCONTINUITY`
//!   ([`origin`]); memory never grows.
//! - Order and consistency: a segment (and in fMP4 its `init<G>.mp4`) is acknowledged before
//!   any playlist names it; the origin's playlist is rendered from acknowledged segments only,
//!   so it never names a missing object; retired segments are deleted only after the RFC 8216
//!   §6.2.2 retention time. After an outage the first playlist written is a full one.
//! - Figures per target in `/api/status` ([`status`]); failures are logged at most once per
//!   [`LOG_EVERY`] with the count of those not logged. Credentials are never logged.
//! - Not done: LL-HLS parts on the origin (a CDN-fronted origin cannot hold blocking playlist
//!   reloads, and a plain WebDAV server cannot answer them), recordings, TLS.

pub mod client;
pub mod origin;
pub mod remote;
pub mod s3;
pub mod status;
mod upload;

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::PublishTarget;
use crate::hls::consumer::{Consumer, SegmentDone, SegmentStart};
use crate::hls::Container;
use crate::stats::Stats;
use crate::time::Pts90k;
use remote::Remote;
use status::TargetStatus;

/// Segment buffers per target: one being filled, one being uploaded, two waiting.
pub const SLOTS: usize = 4;
/// Largest fMP4 initialisation segment kept for upload.
pub const INIT_CAP: usize = 4096;
/// At most one log line per this long per kind of trouble.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
/// How long the end of a run waits for the upload threads to drain.
pub const DRAIN: Duration = Duration::from_secs(5);

/// What every target needs to know of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishSetup {
    /// `EXT-X-TARGETDURATION`.
    pub target_secs: u32,
    /// Segments in the playlist.
    pub window: usize,
    /// Segment container.
    pub container: Container,
    /// Bytes one segment buffer holds ([`segment_capacity`]).
    pub segment_cap: usize,
}

/// A segment buffer big enough for `segment_secs` (+ ½ s) at `kbps` (audio + video) three
/// times over (I-frames, VBR peaks, container overhead), at least 1 MiB, at most 64 MiB.
pub fn segment_capacity(kbps: u32, segment_secs: u32) -> usize {
    let bytes = u64::from(kbps) * 125 * (u64::from(segment_secs) * 1000 + 500) / 1000;
    (bytes * 3).clamp(1 << 20, 64 << 20) as usize
}

/// Starts one upload thread per target and returns their consumers (for
/// [`crate::hls::HlsOutput::add_consumer`]), each registered in `stats`. Fails on a target
/// whose credentials cannot be read.
pub fn start(
    targets: &[PublishTarget],
    setup: &PublishSetup,
    stats: &Stats,
) -> Result<Vec<Publisher>, String> {
    let mut out = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let remote = remote::open(t).map_err(|e| format!("publish[{i}]: {e}"))?;
        let status = Arc::new(TargetStatus::new(t.kind.as_str(), remote::describe(t)));
        stats.add_publish_target(status.clone());
        log::info!(
            "publishing to {} ({}; {} buffers of {} KiB)",
            status.target,
            t.kind.as_str(),
            SLOTS,
            setup.segment_cap / 1024
        );
        out.push(Publisher::new(remote, setup, status));
    }
    Ok(out)
}

/// One segment on its way: its bytes and what the producer said of it.
pub(crate) struct SegBuf {
    pub data: Vec<u8>,
    pub done: SegmentDone,
    /// When it was published locally.
    pub done_at: Instant,
}

/// The queue between the mux thread and the upload thread.
pub(crate) struct Queue {
    pub free: Vec<SegBuf>,
    pub jobs: VecDeque<SegBuf>,
    /// No more segments will come.
    pub closed: bool,
    pub end_of_stream: bool,
    /// The newest segment produced.
    pub newest: u64,
    /// The upload thread has stopped.
    pub finished: bool,
}

/// The latest fMP4 initialisation segment.
pub(crate) struct InitSlot {
    pub gen: Option<u32>,
    pub bytes: Vec<u8>,
}

/// What the mux thread and the upload thread share.
pub(crate) struct Shared {
    pub q: Mutex<Queue>,
    pub cv: Condvar,
    pub init: Mutex<InitSlot>,
    pub status: Arc<TargetStatus>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// At most one line per [`LOG_EVERY`]: `allow` says whether to log now and how many were
/// held back since the last line.
#[derive(Debug, Default)]
pub(crate) struct RateLimit {
    last: Option<Instant>,
    held: u64,
}

impl RateLimit {
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|l| now.duration_since(l) < LOG_EVERY) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

/// The consumer that feeds one target's upload thread (see the module docs).
pub struct Publisher {
    shared: Arc<Shared>,
    current: Option<SegBuf>,
    overflow: bool,
    thread: Option<JoinHandle<()>>,
    log: RateLimit,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("target", &self.shared.status.target)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// Allocates the buffers and starts the upload thread for `remote`.
    pub fn new(remote: Box<dyn Remote>, setup: &PublishSetup, status: Arc<TargetStatus>) -> Self {
        let empty = SegmentDone {
            seq: 0,
            start: Pts90k(0),
            duration: Pts90k(0),
            wall: std::time::UNIX_EPOCH,
            discontinuity: false,
            bytes: 0,
            map: 0,
        };
        let free = (0..SLOTS)
            .map(|_| SegBuf {
                data: Vec::with_capacity(setup.segment_cap),
                done: empty,
                done_at: Instant::now(),
            })
            .collect();
        let shared = Arc::new(Shared {
            q: Mutex::new(Queue {
                free,
                jobs: VecDeque::with_capacity(SLOTS),
                closed: false,
                end_of_stream: false,
                newest: 0,
                finished: false,
            }),
            cv: Condvar::new(),
            init: Mutex::new(InitSlot {
                gen: None,
                bytes: Vec::with_capacity(INIT_CAP),
            }),
            status,
        });
        let up = upload::Uploader::new(shared.clone(), remote, setup);
        let thread = std::thread::Builder::new()
            .name("publish".into())
            .spawn(move || up.run())
            .map_err(|e| log::error!("publish: cannot start the upload thread: {e}"))
            .ok();
        if thread.is_none() {
            shared.lock().finished = true;
        }
        Publisher {
            shared,
            current: None,
            overflow: false,
            thread,
            log: RateLimit::default(),
        }
    }

    /// This target's figures.
    pub fn status(&self) -> &Arc<TargetStatus> {
        &self.shared.status
    }

    fn target(&self) -> &str {
        &self.shared.status.target
    }

    fn skip(&mut self, why: &str, seq: u64) {
        Stats::add(&self.shared.status.skipped, 1);
        // No allocation here (the mux thread): two fixed formats, not a built string.
        match self.log.allow(Instant::now()) {
            Some(0) => log::warn!("publish {}: seg{seq} skipped ({why})", self.target()),
            Some(held) => log::warn!(
                "publish {}: seg{seq} skipped ({why}); {held} more skips not logged",
                self.target()
            ),
            None => {}
        }
    }
}

impl Consumer for Publisher {
    fn init(&mut self, gen: u32, bytes: &[u8]) {
        let mut slot = self.shared.init.lock().unwrap_or_else(|e| e.into_inner());
        slot.bytes.clear();
        if bytes.len() <= slot.bytes.capacity() {
            slot.bytes.extend_from_slice(bytes);
            slot.gen = Some(gen);
        } else {
            slot.gen = None;
            log::warn!(
                "publish: init{gen}.mp4 of {} bytes does not fit",
                bytes.len()
            );
        }
    }

    fn begin_segment(&mut self, start: &SegmentStart) {
        let mut q = self.shared.lock();
        let (buf, dropped) = match q.free.pop() {
            Some(b) => (Some(b), None),
            None => {
                let old = q.jobs.pop_front();
                let seq = old.as_ref().map(|b| b.done.seq);
                (old, seq)
            }
        };
        self.shared
            .status
            .queue_depth
            .store(q.jobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        drop(q);
        if let Some(seq) = dropped {
            self.skip(
                "the origin is behind: dropped the oldest waiting segment",
                seq,
            );
        }
        self.current = buf.map(|mut b| {
            b.data.clear();
            b
        });
        self.overflow = false;
        if self.current.is_none() {
            self.skip("no free buffer", start.seq);
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        if let Some(b) = &mut self.current {
            if b.data.len() + bytes.len() <= b.data.capacity() {
                b.data.extend_from_slice(bytes);
            } else {
                self.overflow = true;
            }
        }
    }

    fn segment(&mut self, done: &SegmentDone) {
        let Some(mut b) = self.current.take() else {
            return;
        };
        let mut q = self.shared.lock();
        q.newest = q.newest.max(done.seq);
        if self.overflow || b.data.len() as u64 != done.bytes {
            q.free.push(b);
            drop(q);
            self.skip("larger than the segment buffer", done.seq);
            return;
        }
        b.done = *done;
        b.done_at = Instant::now();
        q.jobs.push_back(b);
        self.shared
            .status
            .queue_depth
            .store(q.jobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        drop(q);
        self.shared.cv.notify_all();
    }

    fn finish(&mut self, end_of_stream: bool) {
        if let Some(b) = self.current.take() {
            self.shared.lock().free.push(b);
        }
        let mut q = self.shared.lock();
        q.closed = true;
        q.end_of_stream = end_of_stream;
        drop(q);
        self.shared.cv.notify_all();
    }
}

impl Drop for Publisher {
    /// Waits up to [`DRAIN`] for the upload thread to send what is queued (and the final
    /// playlist), then leaves it.
    fn drop(&mut self) {
        let mut q = self.shared.lock();
        q.closed = true;
        self.shared.cv.notify_all();
        let until = Instant::now() + DRAIN;
        while !q.finished {
            let now = Instant::now();
            if now >= until {
                log::warn!(
                    "publish {}: upload thread still busy after {:?}; leaving it",
                    self.shared.status.target,
                    DRAIN
                );
                return;
            }
            q = self
                .shared
                .cv
                .wait_timeout(q, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(q);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_covers_three_times_a_long_segment() {
        assert_eq!(segment_capacity(0, 2), 1 << 20);
        // 2096 kb/s × 2.5 s × 3 ≈ 1.96 MB.
        assert_eq!(segment_capacity(2096, 2), 1_965_000);
        assert_eq!(segment_capacity(50_000, 10), 64 << 20);
    }

    #[test]
    fn unreadable_credentials_stop_the_start_with_the_target_named() {
        let mut t = PublishTarget::new(crate::config::PublishKind::Http);
        t.url = "http://127.0.0.1:9/cam/".into();
        t.credentials_file = "/nonexistent/hlscam-origin.secret".into();
        let setup = PublishSetup {
            target_secs: 2,
            window: 6,
            container: Container::Ts,
            segment_cap: 1 << 20,
        };
        let e = start(&[t], &setup, &Stats::new()).unwrap_err();
        assert!(
            e.starts_with("publish[0]: cannot read credentials_file /nonexistent/"),
            "{e}"
        );
    }

    #[test]
    fn rate_limit_holds_back_and_counts() {
        let mut r = RateLimit::default();
        let t = Instant::now();
        assert_eq!(r.allow(t), Some(0));
        assert_eq!(r.allow(t + Duration::from_secs(1)), None);
        assert_eq!(r.allow(t + Duration::from_secs(2)), None);
        assert_eq!(r.allow(t + LOG_EVERY), Some(2));
    }
}
