//! Recording the live stream to disk (`[record]`, issue 13 first part): the recorder is one
//! more [`Consumer`] of the output stage (DESIGN §1b) that stores the live MPEG-TS segments
//! byte for byte in chunk files with a binary index.
//!
//! ```text
//! mux thread: Recorder (a Consumer)                 writer thread
//!   begin_segment: take a free buffer ──┐            ┌─► guard: dir and its marker present
//!     (none free: skip the segment,     │  bounded   ├─► repair at start ([repair])
//!      the next one marks the gap)      │  queue of  ├─► write(segment) to <chunk>.ts: one write
//!   data: copy into it (no allocation)  ├──────────► │   per segment; ENOSPC → retention, retry
//!   segment: queue it ──────────────────┘  SLOTS     ├─► every fsync_seconds: fsync data, then
//!                                          buffers   │   append the index records it covers
//!                                                    └─► retention ([retention]) at chunk start
//! ```
//!
//! - The mux thread copies bytes into one of [`SLOTS`] buffers allocated at start, like the
//!   publisher: no allocation, no I/O, two uncontended locks per segment. A slow or failed
//!   disk loses recorded segments (counted, the gap flagged in the index), never live ones.
//! - Write order (DESIGN §2 item 20): data → fsync file → fsync directory (on chunk creation)
//!   → index records; an index record is appended only after the fsync that covers its data,
//!   so every indexed byte is on disk. Deleting: index first, then chunk. A crash loses at
//!   most the segments after the last fsync (`fsync_seconds`), which [`repair`] cuts away.
//! - Storage format: [`chunk`] (file names, the TS scan) and [`index`] (the records).
//! - Missing disk guard: [`writer`] records only while `dir` exists and holds the marker
//!   [`MARKER`] (written at first use); recordings without it mean another disk is mounted
//!   there (or none): recording waits, checking every [`GUARD_EVERY`], and resumes.
//! - Figures in `/api/status` (`"record"`, [`RecordStatus`]); failures are logged at most
//!   once per [`crate::publish::LOG_EVERY`].
//! - `mode = "events"` ([`events`]): only segments inside an armed window are queued; the
//!   metadata of every segment goes to a fixed ring the writer takes pre-roll from.
//! - The wall clock ([`clock`]): footage recorded before NTP sync carries `FLAG_UNSYNCED`; a
//!   clock step begins a new chunk with `FLAG_CLOCK_STEP`.
//! - Playback: [`catalog`] reads the directory back (spans, gaps, days, storage, locks) for
//!   the recordings API and VOD playlists of [`crate::http::recordings`]; [`clip`] remuxes a
//!   range into one MP4 file for `GET /api/clip.mp4`.

pub mod catalog;
pub mod chunk;
pub mod clip;
pub mod clock;
pub mod events;
pub mod index;
pub mod repair;
pub mod retention;
pub mod writer;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{RecordMode, RecordSettings};
use crate::hls::consumer::{Consumer, SegmentDone, SegmentStart};
use crate::publish::RateLimit;
use crate::stats::Stats;
use crate::time::Pts90k;
use events::{wall_ns, Control, Recent, RECENT};

/// Segment buffers: one being filled, one being written, two waiting.
pub const SLOTS: usize = 4;
/// The marker file a recordings directory holds once hlscam has used it.
pub const MARKER: &str = ".hlscam-rec";
/// How often a missing disk is looked for again.
pub const GUARD_EVERY: Duration = Duration::from_secs(3);
/// How long the end of a run waits for the writer to drain.
pub const DRAIN: Duration = Duration::from_secs(5);

/// Recorder states, as `/api/status` names them.
pub const STATES: [&str; 5] = ["starting", "recording", "disk missing", "error", "stopped"];

/// Live figures of the recorder.
#[derive(Debug)]
pub struct RecordStatus {
    /// The recordings directory.
    pub dir: String,
    /// Index into [`STATES`].
    pub state: AtomicU8,
    /// Segment bytes written to chunks.
    pub bytes_written: AtomicU64,
    /// Segments written.
    pub segments: AtomicU64,
    /// Chunks begun.
    pub chunks: AtomicU64,
    /// fsync calls (data, index and directory).
    pub fsyncs: AtomicU64,
    /// Write, fsync or directory errors.
    pub errors: AtomicU64,
    /// Segments not recorded (no free buffer, disk full or missing, write error).
    pub dropped: AtomicU64,
    /// Chunks deleted by retention.
    pub deleted: AtomicU64,
    /// Chunks whose index or length a repair changed.
    pub repaired: AtomicU64,
    last_error: Mutex<String>,
    /// The chunk the writer has open ("" when none): the recordings API calls it growing.
    current: Mutex<String>,
}

/// A copy of the recorder's figures (`"record"` in `/api/status`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordSnapshot {
    /// One of [`STATES`].
    pub state: &'static str,
    /// The recordings directory.
    pub dir: String,
    /// Segment bytes written.
    pub bytes_written: u64,
    /// Segments written.
    pub segments: u64,
    /// Chunks begun.
    pub chunks: u64,
    /// fsync calls.
    pub fsyncs: u64,
    /// Errors.
    pub errors: u64,
    /// Segments not recorded.
    pub dropped: u64,
    /// Chunks deleted by retention.
    pub deleted: u64,
    /// Chunks repaired at start.
    pub repaired: u64,
    /// The last error ("" when none yet).
    pub last_error: String,
}

impl RecordStatus {
    /// All zero, state "starting".
    pub fn new(dir: String) -> Self {
        RecordStatus {
            dir,
            state: AtomicU8::new(0),
            bytes_written: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            chunks: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            repaired: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
            current: Mutex::new(String::new()),
        }
    }

    /// Sets the chunk the writer has open (writer thread only, once per chunk).
    pub fn set_current(&self, name: Option<&str>) {
        let mut c = self.current.lock().unwrap_or_else(|e| e.into_inner());
        c.clear();
        c.push_str(name.unwrap_or(""));
    }

    /// The chunk the writer has open, if any.
    pub fn current(&self) -> Option<String> {
        let c = self.current.lock().unwrap_or_else(|e| e.into_inner());
        (!c.is_empty()).then(|| c.clone())
    }

    /// The last error ("" when none yet).
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the state (an index into [`STATES`]).
    pub fn set_state(&self, s: u8) {
        self.state.store(s, Relaxed);
    }

    /// Counts an error and keeps its text (writer thread only).
    pub fn error(&self, e: &str) {
        self.errors.fetch_add(1, Relaxed);
        let mut l = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        l.clear();
        l.push_str(e);
    }

    /// The figures now.
    pub fn snapshot(&self) -> RecordSnapshot {
        RecordSnapshot {
            state: STATES[usize::from(self.state.load(Relaxed)).min(STATES.len() - 1)],
            dir: self.dir.clone(),
            bytes_written: self.bytes_written.load(Relaxed),
            segments: self.segments.load(Relaxed),
            chunks: self.chunks.load(Relaxed),
            fsyncs: self.fsyncs.load(Relaxed),
            errors: self.errors.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            deleted: self.deleted.load(Relaxed),
            repaired: self.repaired.load(Relaxed),
            last_error: self.last_error(),
        }
    }
}

/// What the HTTP server's recording routes need (the recordings API, VOD playlists, clips,
/// events): the `[record]` settings, the running recorder's figures and its events control.
#[derive(Debug)]
pub struct RecordAccess {
    /// `[record]` as configured.
    pub settings: RecordSettings,
    /// The recorder's figures (`/api/status` "record").
    pub status: Arc<RecordStatus>,
    /// Events and manual start/stop ([`events::Control`]).
    pub control: Arc<Control>,
}

/// One segment on its way to disk.
pub(crate) struct SegBuf {
    pub data: Vec<u8>,
    pub done: SegmentDone,
    /// Segments before this one were not recorded.
    pub gap: bool,
}

/// The queue between the mux thread and the writer.
pub(crate) struct Queue {
    pub free: Vec<SegBuf>,
    pub jobs: VecDeque<SegBuf>,
    /// The last [`RECENT`] segments the mux thread saw, queued or not (pre-roll).
    pub recent: heapless::Deque<Recent, RECENT>,
    pub closed: bool,
    pub finished: bool,
}

/// What the mux thread and the writer share.
pub(crate) struct Shared {
    pub q: Mutex<Queue>,
    pub cv: Condvar,
    pub status: Arc<RecordStatus>,
    pub control: Arc<Control>,
}

impl Shared {
    /// The queue with the `free` buffers, and the events control for `setup`.
    pub fn new(free: Vec<SegBuf>, status: Arc<RecordStatus>, setup: &RecordSetup) -> Arc<Self> {
        Arc::new_cyclic(|weak| Shared {
            q: Mutex::new(Queue {
                jobs: VecDeque::with_capacity(free.len()),
                free,
                recent: heapless::Deque::new(),
                closed: false,
                finished: false,
            }),
            cv: Condvar::new(),
            status,
            control: Arc::new(Control::new(&setup.settings, setup.pre_limit, weak.clone())),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the writer needs.
#[derive(Debug, Clone)]
pub struct RecordSetup {
    /// The recordings directory.
    pub dir: PathBuf,
    /// Media time per chunk.
    pub chunk: Pts90k,
    /// Longest time between fsyncs.
    pub fsync: Duration,
    /// Retention limits.
    pub limits: retention::Limits,
    /// Bytes one segment buffer holds ([`crate::publish::segment_capacity`]).
    pub segment_cap: usize,
    /// `[record]` as configured (mode, pre/post seconds).
    pub settings: RecordSettings,
    /// The live ring's directory (`[hls] dir`), where pre-roll is read from.
    pub live_dir: PathBuf,
    /// The most pre-roll the live ring holds, seconds (the largest `pre` of one event).
    pub pre_limit: u32,
    /// Whether the wall clock is synchronised ([`clock::system_synced`]; tests fake it).
    pub synced: clock::SyncProbe,
}

impl RecordSetup {
    /// The setup `[record]` asks for.
    pub fn new(r: &RecordSettings, segment_cap: usize) -> Self {
        RecordSetup {
            dir: r.dir.clone(),
            chunk: Pts90k(u64::from(r.chunk_minutes) * 60 * 90_000),
            fsync: Duration::from_secs(u64::from(r.fsync_seconds)),
            limits: retention::Limits {
                max_bytes: r.max_bytes,
                max_age: (r.max_age_days > 0)
                    .then(|| Duration::from_secs(u64::from(r.max_age_days) * 86_400)),
                min_free_percent: r.min_free_percent,
            },
            segment_cap,
            settings: r.clone(),
            live_dir: PathBuf::new(),
            pre_limit: r.pre_seconds,
            synced: clock::system_synced,
        }
    }

    /// The same, taking pre-roll from the live ring in `dir`, which holds `pre_limit` seconds
    /// ([`RecordSettings::pre_roll_limit`]).
    pub fn with_live_ring(mut self, dir: &std::path::Path, pre_limit: u32) -> Self {
        self.live_dir = dir.to_path_buf();
        self.pre_limit = pre_limit.max(self.settings.pre_seconds);
        self
    }
}

/// The recorder (see the module docs).
pub struct Recorder {
    shared: Arc<Shared>,
    current: Option<SegBuf>,
    overflow: bool,
    gap: bool,
    /// `mode = "events"`: queue only armed segments.
    events: bool,
    thread: Option<JoinHandle<()>>,
    log: RateLimit,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.shared.status.dir)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Allocates the buffers, registers the figures in `stats` and starts the writer.
    pub fn start(setup: RecordSetup, stats: &Stats) -> Recorder {
        let status = Arc::new(RecordStatus::new(setup.dir.display().to_string()));
        stats.set_record(status.clone());
        log::info!(
            "recording to {} ({} buffers of {} KiB, chunks of {} s, fsync every {} s)",
            status.dir,
            SLOTS,
            setup.segment_cap / 1024,
            setup.chunk.0 / 90_000,
            setup.fsync.as_secs()
        );
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
                gap: false,
            })
            .collect();
        let shared = Shared::new(free, status, &setup);
        let events = setup.settings.mode == RecordMode::Events;
        let w = writer::Writer::new(shared.clone(), setup);
        let thread = std::thread::Builder::new()
            .name("record".into())
            .spawn(move || w.run())
            .map_err(|e| log::error!("record: cannot start the writer thread: {e}"))
            .ok();
        if thread.is_none() {
            shared.lock().finished = true;
        }
        Recorder {
            shared,
            current: None,
            overflow: false,
            gap: false,
            events,
            thread,
            log: RateLimit::default(),
        }
    }

    /// The recorder's figures.
    pub fn status(&self) -> &Arc<RecordStatus> {
        &self.shared.status
    }

    /// The events control (for [`RecordAccess`]).
    pub fn control(&self) -> &Arc<Control> {
        &self.shared.control
    }

    /// Whether a segment beginning at `wall` is to be queued (always, unless `mode = "events"`
    /// and no window is armed that late): one atomic load.
    fn armed(&self, wall: std::time::SystemTime) -> bool {
        !self.events || wall_ns(wall) <= self.shared.control.armed_until()
    }

    /// Notes `done` in the recent ring (its oldest entry makes room).
    fn remember(q: &mut Queue, done: &SegmentDone, queued: bool) {
        if q.recent.is_full() {
            q.recent.pop_front();
        }
        let _ = q.recent.push_back(Recent {
            done: *done,
            queued,
        });
    }

    fn skip(&mut self, why: &str, seq: u64) {
        self.gap = true;
        self.shared.status.dropped.fetch_add(1, Relaxed);
        // No allocation (the mux thread): fixed formats.
        match self.log.allow(Instant::now()) {
            Some(0) => log::warn!("record: seg{seq} not recorded ({why})"),
            Some(held) => {
                log::warn!("record: seg{seq} not recorded ({why}); {held} more not logged")
            }
            None => {}
        }
    }
}

impl Consumer for Recorder {
    fn begin_segment(&mut self, start: &SegmentStart) {
        let buf = self.shared.lock().free.pop();
        self.current = buf.map(|mut b| {
            b.data.clear();
            b
        });
        self.overflow = false;
        if self.current.is_none() && self.armed(start.wall) {
            self.skip("the disk is behind: no free buffer", start.seq);
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
            Self::remember(&mut self.shared.lock(), done, false);
            return;
        };
        if self.overflow || b.data.len() as u64 != done.bytes {
            let mut q = self.shared.lock();
            q.free.push(b);
            Self::remember(&mut q, done, false);
            drop(q);
            self.skip("larger than the segment buffer", done.seq);
            return;
        }
        let armed = self.armed(done.wall);
        let mut q = self.shared.lock();
        Self::remember(&mut q, done, armed);
        if !armed {
            q.free.push(b);
            return;
        }
        b.done = *done;
        b.gap = std::mem::take(&mut self.gap);
        q.jobs.push_back(b);
        drop(q);
        self.shared.cv.notify_all();
    }

    fn finish(&mut self, _end_of_stream: bool) {
        if let Some(b) = self.current.take() {
            self.shared.lock().free.push(b);
        }
        self.shared.lock().closed = true;
        self.shared.cv.notify_all();
    }
}

impl Drop for Recorder {
    /// Waits up to [`DRAIN`] for the writer to write what is queued and close its chunk.
    fn drop(&mut self) {
        let mut q = self.shared.lock();
        q.closed = true;
        self.shared.cv.notify_all();
        let until = Instant::now() + DRAIN;
        while !q.finished {
            let now = Instant::now();
            if now >= until {
                log::warn!("record: writer still busy after {DRAIN:?}; leaving it");
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
