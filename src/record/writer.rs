//! The recorder's writer thread: the disk side of [`super::Recorder`] (see the module docs of
//! [`super`] for the write order, DESIGN §2 item 20). Everything slow or fallible happens
//! here; the live stream never waits for it. In `mode = "events"` it also decides which
//! segments are due and reads the pre-roll from the live ring ([`super::events`]), and it
//! flags unsynchronised and stepped wall clocks ([`super::clock`]).

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::chunk::{chunk_name, is_chunk_name, INDEX_EXT};
use super::clock::stepped;
use super::events::{preroll, segment_due, wall_ns, Control, Recent, Window, EVENTS_FILE};
use super::index::{
    IndexRecord, FLAG_CLOCK_STEP, FLAG_DISCONTINUITY, FLAG_EVENT, FLAG_UNSYNCED, RECORD_LEN,
};
use super::repair::{repair, sync_dir};
use super::retention::{plan, Fs};
use super::{RecordSetup, SegBuf, Shared, GUARD_EVERY, MARKER};
use crate::config::RecordMode;
use crate::hls::consumer::SegmentDone;
use crate::hls::store::NameBuf;
use crate::hls::Container;
use crate::publish::RateLimit;
use crate::time::Pts90k;

const RECORDING: u8 = 1;
const MISSING: u8 = 2;
const ERROR: u8 = 3;
const STOPPED: u8 = 4;
/// A sync due this soon is done with the segment at hand rather than by the timer after it.
const SYNC_MARGIN: Duration = Duration::from_millis(50);
/// How long the newest segment's file may take to appear in the live ring (the live store
/// commits it just after the consumers hear of it).
const NEWEST_WAIT: Duration = Duration::from_millis(500);

/// The chunk being written.
struct Open {
    name: String,
    file: File,
    idx: File,
    /// Bytes in the chunk.
    size: u64,
    /// Media time in the chunk.
    media: Pts90k,
    /// Index records of segments written since the last fsync.
    pending: Vec<IndexRecord>,
    last_sync: Instant,
}

/// Whether the directory may be recorded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Not checked yet, or missing (and when it was checked).
    Missing(Option<Instant>),
    /// Present, marked and repaired.
    Ready,
}

/// The writer thread's state.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    setup: RecordSetup,
    fs: Fs,
    open: Option<Open>,
    guard: Guard,
    /// The next written segment follows a gap.
    gap: bool,
    log: RateLimit,
    control: Arc<Control>,
    /// `mode = "events"`.
    events: bool,
    /// The armed windows, refreshed before each round of work (events mode).
    windows: Vec<Window>,
    /// A copy of the mux thread's recent ring (events mode).
    recent: Vec<Recent>,
    /// The last segment written: (seq, wall ns, first PTS).
    last: Option<(u64, u64, u64)>,
    /// The highest sequence number handled (written, dropped or skipped): pre-roll is only
    /// looked for after it, so a missing disk does not make the writer retry the same files.
    seen: Option<u64>,
    /// `events.jsonl`, once opened, and whether it has lines not fsynced yet.
    event_log: Option<File>,
    event_log_dirty: bool,
}

fn is_enospc(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOSPC)
}

impl Writer {
    pub fn new(shared: Arc<Shared>, setup: RecordSetup) -> Self {
        Writer {
            fs: Fs {
                dir: setup.dir.clone(),
            },
            control: shared.control.clone(),
            events: setup.settings.mode == RecordMode::Events,
            shared,
            setup,
            open: None,
            guard: Guard::Missing(None),
            gap: false,
            log: RateLimit::default(),
            windows: Vec::new(),
            recent: Vec::with_capacity(super::events::RECENT),
            last: None,
            seen: None,
            event_log: None,
            event_log_dirty: false,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.setup.dir.join(name)
    }

    fn fail(&mut self, what: &str, e: &std::io::Error) {
        let msg = format!("{what}: {e}");
        self.shared.status.error(&msg);
        match self.log.allow(Instant::now()) {
            Some(0) => log::warn!("record: {msg}"),
            Some(n) => log::warn!("record: {msg} ({n} more not logged)"),
            None => {}
        }
    }

    /// The missing disk guard (see [`super`]): `dir` must exist and hold [`MARKER`]; a `dir`
    /// without marker is marked only when it holds no recordings. Repairs when it (re)appears.
    fn check_guard(&mut self) -> bool {
        if self.guard == Guard::Ready {
            return true;
        }
        if let Guard::Missing(Some(at)) = self.guard {
            if at.elapsed() < GUARD_EVERY {
                return false;
            }
        }
        let first = self.guard == Guard::Missing(None);
        match self.prepare() {
            Ok(()) => {
                self.guard = Guard::Ready;
                self.shared.status.set_state(RECORDING);
                true
            }
            Err(why) => {
                if first
                    || self
                        .shared
                        .status
                        .state
                        .load(std::sync::atomic::Ordering::Relaxed)
                        != MISSING
                {
                    log::error!(
                        "record: not recording to {}: {why}; checking again every {} s",
                        self.setup.dir.display(),
                        GUARD_EVERY.as_secs()
                    );
                    self.shared.status.error(&why);
                }
                self.shared.status.set_state(MISSING);
                self.guard = Guard::Missing(Some(Instant::now()));
                false
            }
        }
    }

    fn prepare(&mut self) -> Result<(), String> {
        let dir = &self.setup.dir;
        if !dir.is_dir() {
            return Err("the directory does not exist (its disk is not mounted?)".into());
        }
        let marker = dir.join(MARKER);
        if !marker.exists() {
            let used = std::fs::read_dir(dir)
                .map_err(|e| format!("cannot list it: {e}"))?
                .filter_map(|e| e.ok())
                .any(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    is_chunk_name(&n) || n.ends_with(INDEX_EXT)
                });
            if used {
                return Err(format!(
                    "it holds recordings but no {MARKER} marker: not the disk hlscam recorded \
                     to (create the marker to record here)"
                ));
            }
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&marker)
                .map_err(|e| format!("cannot write {MARKER}: {e}"))?;
            f.write_all(b"hlscam recordings\n")
                .and_then(|()| f.sync_all())
                .and_then(|()| sync_dir(dir))
                .map_err(|e| format!("cannot write {MARKER}: {e}"))?;
            log::info!("record: {} marked as hlscam's ({MARKER})", dir.display());
        }
        let r = repair(dir).map_err(|e| format!("repair failed: {e}"))?;
        for c in &r.changes {
            log::warn!("record: repair: {c}");
        }
        if r.repaired > 0 || !r.changes.is_empty() {
            log::info!(
                "record: repaired {} of {} chunks in {}",
                r.repaired,
                r.chunks,
                dir.display()
            );
        }
        self.shared
            .status
            .repaired
            .fetch_add(r.repaired as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Deletes chunks per the limits with `need` bytes to come; returns how many went.
    fn retention(&mut self, need: u64) -> usize {
        let current = self.open.as_ref().map(|o| o.name.clone());
        let (chunks, space) = match (self.fs.chunks(), self.fs.space()) {
            (Ok(c), Ok(s)) => (c, s),
            (Err(e), _) | (_, Err(e)) => {
                self.fail("retention: cannot list the directory", &e);
                return 0;
            }
        };
        let doomed = plan(
            &chunks,
            current.as_deref(),
            &self.setup.limits,
            SystemTime::now(),
            space,
            need,
        );
        let mut n = 0;
        for name in doomed {
            match self.fs.delete(&name) {
                Ok(()) => {
                    n += 1;
                    log::info!("record: retention deleted {name}");
                    self.shared
                        .status
                        .deleted
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    log::info!("record: retention kept {name}: locked meanwhile")
                }
                Err(e) => self.fail("retention: cannot delete a chunk", &e),
            }
        }
        n
    }

    /// fsyncs the open chunk, then appends (and fsyncs) the index records it covers.
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_event_log();
        let Some(o) = &mut self.open else {
            return Ok(());
        };
        if o.pending.is_empty() {
            o.last_sync = Instant::now();
            return Ok(());
        }
        o.file.sync_data()?;
        let mut bytes = Vec::with_capacity(o.pending.len() * RECORD_LEN);
        for r in &o.pending {
            bytes.extend_from_slice(&r.encode());
        }
        o.idx.write_all(&bytes)?;
        o.idx.sync_data()?;
        o.pending.clear();
        o.last_sync = Instant::now();
        self.shared
            .status
            .fsyncs
            .fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// fsyncs `events.jsonl` when lines were appended since the last time.
    fn sync_event_log(&mut self) {
        if !std::mem::take(&mut self.event_log_dirty) {
            return;
        }
        if let Some(f) = &self.event_log {
            match f.sync_data() {
                Ok(()) => {
                    self.shared
                        .status
                        .fsyncs
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => self.fail("cannot fsync the event log", &e),
            }
        }
    }

    /// Appends the event lines waiting in the control, one `write` each, while the disk is
    /// there (otherwise they wait); they are fsynced with the next data fsync.
    fn write_event_lines(&mut self) {
        let lines = self.control.take_lines();
        if lines.is_empty() {
            return;
        }
        if !self.check_guard() {
            self.control.restore_lines(lines);
            return;
        }
        if self.event_log.is_none() {
            match OpenOptions::new()
                .append(true)
                .create(true)
                .open(self.path(EVENTS_FILE))
            {
                Ok(f) => self.event_log = Some(f),
                Err(e) => {
                    self.fail("cannot open the event log", &e);
                    self.control.restore_lines(lines);
                    return;
                }
            }
        }
        for (i, l) in lines.iter().enumerate() {
            let mut b = Vec::with_capacity(l.len() + 1);
            b.extend_from_slice(l.as_bytes());
            b.push(b'\n');
            let r = self.event_log.as_mut().map(|f| f.write_all(&b));
            if let Some(Err(e)) = r {
                self.fail("cannot write the event log", &e);
                self.event_log = None;
                self.control.restore_lines(lines[i..].to_vec());
                return;
            }
            self.event_log_dirty = true;
        }
        // Nothing else to fsync with (idle in events mode): at once.
        if self.open.is_none() {
            self.sync_event_log();
        }
    }

    fn close(&mut self) {
        if let Err(e) = self.sync() {
            self.fail("cannot fsync the chunk", &e);
        }
        if self.open.take().is_some() {
            self.shared.status.set_current(None);
        }
    }

    fn create(&mut self, wall: SystemTime) -> std::io::Result<()> {
        self.retention(0);
        let mut n = 0;
        let (name, file) = loop {
            let name = chunk_name(wall, n);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.path(&name))
            {
                Ok(f) => break (name, f),
                Err(e) if e.kind() == ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let idx = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(self.path(&format!("{name}{INDEX_EXT}")))?;
        sync_dir(&self.setup.dir)?;
        self.shared
            .status
            .fsyncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.shared
            .status
            .chunks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        log::info!("record: chunk {name}");
        self.shared.status.set_current(Some(&name));
        self.open = Some(Open {
            name,
            file,
            idx,
            size: 0,
            media: Pts90k(0),
            pending: Vec::with_capacity(64),
            last_sync: Instant::now(),
        });
        Ok(())
    }

    fn write_segment(&mut self, seg: &SegBuf) -> std::io::Result<()> {
        let o = self.open.as_mut().ok_or(ErrorKind::NotFound)?;
        match o.file.write_all(&seg.data) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Cut back to the last whole segment (a short write leaves a torn tail) and
                // put the file position there too, or the next write would leave a hole.
                let _ = o.file.set_len(o.size);
                let _ = o.file.seek(SeekFrom::Start(o.size));
                Err(e)
            }
        }
    }

    fn drop_segment(&mut self) {
        self.gap = true;
        self.shared
            .status
            .dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn record(&mut self, seg: &SegBuf) {
        let d = &seg.done;
        self.seen = Some(self.seen.map_or(d.seq, |s| s.max(d.seq)));
        if self.events && !segment_due(&self.windows, d) {
            return;
        }
        if !self.check_guard() {
            self.drop_segment();
            return;
        }
        let wall = wall_ns(d.wall);
        let step = !d.discontinuity
            && self
                .last
                .is_some_and(|(_, w, p)| stepped(w, p, wall, d.start.0));
        // Events mode: a window after a gap is a chunk of its own.
        let follows = self.last.is_some_and(|(s, _, _)| s + 1 == d.seq);
        let apart = self.events && !follows;
        if step {
            let (_, w, _) = self.last.unwrap_or_default();
            log::warn!(
                "record: the wall clock stepped by {:+.1} s before seg{}: new chunk",
                (wall as f64 - w as f64) / 1e9,
                d.seq
            );
        }
        let new_chunk = match &self.open {
            None => true,
            Some(o) => d.discontinuity || step || apart || o.media >= self.setup.chunk,
        };
        if new_chunk {
            self.close();
            if let Err(e) = self.create(d.wall) {
                self.fail("cannot create a chunk", &e);
                self.shared.status.set_state(ERROR);
                // The directory may have gone: look again before the next segment.
                self.guard = Guard::Missing(None);
                self.drop_segment();
                return;
            }
        }
        let mut r = self.write_segment(seg);
        if let Err(e) = &r {
            if is_enospc(e) && self.retention(seg.data.len() as u64) > 0 {
                r = self.write_segment(seg);
            }
        }
        if let Err(e) = r {
            self.fail("cannot write a segment", &e);
            self.shared.status.set_state(ERROR);
            self.drop_segment();
            return;
        }
        self.shared.status.set_state(RECORDING);
        // A gap the mux thread or this thread noted is none when the segment before this one
        // was written after all (events mode reads a segment it could not buffer from the
        // live ring).
        let gap = seg.gap || std::mem::take(&mut self.gap);
        let discontinuity = d.discontinuity || (gap && !follows);
        let mut flags = 0;
        if discontinuity || step {
            flags |= FLAG_DISCONTINUITY;
        }
        if step {
            flags |= FLAG_CLOCK_STEP;
        }
        if self.events {
            flags |= FLAG_EVENT;
        }
        if !(self.setup.synced)() {
            flags |= FLAG_UNSYNCED;
        }
        self.last = Some((d.seq, wall, d.start.0));
        let Some(o) = self.open.as_mut() else {
            return;
        };
        o.pending.push(IndexRecord {
            offset: o.size,
            len: seg.data.len() as u32,
            duration: d.duration,
            pts: d.start,
            wall_ns: wall,
            seq: d.seq,
            flags,
        });
        o.size += seg.data.len() as u64;
        o.media = Pts90k(o.media.0 + d.duration.0);
        let st = &self.shared.status;
        st.bytes_written
            .fetch_add(seg.data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        st.segments
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The first segment of a chunk is synced at once (the chunk exists on disk from its
        // first segment on); then every `fsync` (less a scheduling margin).
        if o.pending.len() == 1 && o.size == seg.data.len() as u64
            || o.last_sync.elapsed() + SYNC_MARGIN >= self.setup.fsync
        {
            if let Err(e) = self.sync() {
                self.fail("cannot fsync the chunk", &e);
            }
        }
    }

    /// Reads `seg<N>.ts` of the live ring, waiting up to [`NEWEST_WAIT`] for the newest one.
    fn read_live(&self, d: &SegmentDone, newest: bool) -> std::io::Result<Vec<u8>> {
        let name = NameBuf::segment(d.seq, Container::Ts, false);
        let path = self.setup.live_dir.join(name.as_str());
        let until = Instant::now() + NEWEST_WAIT;
        loop {
            match std::fs::read(&path) {
                Err(e) if e.kind() == ErrorKind::NotFound && newest && Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => return r,
            }
        }
    }

    /// Events mode: writes the due segments before `before` that were never queued (the
    /// pre-roll of a new window, or segments the mux thread could not buffer), read from the
    /// live ring; one it no longer holds is skipped and logged.
    fn catch_up(&mut self, before: u64) {
        let due = preroll(&self.recent, &self.windows, self.seen, before);
        let newest = self.recent.iter().map(|r| r.done.seq).max();
        for d in due {
            self.seen = Some(self.seen.map_or(d.seq, |s| s.max(d.seq)));
            match self.read_live(&d, Some(d.seq) == newest) {
                Ok(data) if data.len() as u64 == d.bytes => {
                    let seg = SegBuf {
                        data,
                        done: d,
                        gap: false,
                    };
                    self.record(&seg);
                }
                Ok(data) => {
                    log::warn!(
                        "record: pre-roll seg{} in the live ring has {} bytes, not {}: skipped",
                        d.seq,
                        data.len(),
                        d.bytes
                    );
                    self.gap = true;
                }
                Err(e) => {
                    log::warn!(
                        "record: pre-roll seg{} is no longer in the live ring ({e}): skipped",
                        d.seq
                    );
                    self.gap = true;
                }
            }
        }
    }

    /// How long until the open chunk's pending records are due.
    fn until_sync(&self) -> Duration {
        match &self.open {
            Some(o) if !o.pending.is_empty() => {
                self.setup.fsync.saturating_sub(o.last_sync.elapsed())
            }
            _ => Duration::from_secs(1),
        }
    }

    /// The thread's loop: writes queued segments until the recorder closes.
    pub fn run(mut self) {
        self.check_guard();
        loop {
            let wait = self.until_sync();
            let mut q = self.shared.lock();
            if q.jobs.is_empty() && !q.closed {
                q = self
                    .shared
                    .cv
                    .wait_timeout(q, wait.max(Duration::from_millis(10)))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            let job = q.jobs.pop_front();
            let closed = q.closed;
            if self.events {
                self.recent.clear();
                self.recent.extend(q.recent.iter().copied());
            }
            drop(q);
            self.write_event_lines();
            if self.events {
                self.windows = self.control.windows();
                self.catch_up(job.as_ref().map_or(u64::MAX, |j| j.done.seq));
            }
            match job {
                Some(seg) => {
                    self.record(&seg);
                    self.shared.lock().free.push(seg);
                }
                None if closed => break,
                None => {
                    if self.until_sync().is_zero() {
                        if let Err(e) = self.sync() {
                            self.fail("cannot fsync the chunk", &e);
                        }
                    }
                }
            }
        }
        self.write_event_lines();
        self.close();
        self.shared.status.set_state(STOPPED);
        self.shared.lock().finished = true;
        self.shared.cv.notify_all();
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
