//! The recorder's writer thread: the disk side of [`super::Recorder`] (see the module docs of
//! [`super`] for the write order, DESIGN §2 item 20). Everything slow or fallible happens
//! here; the live stream never waits for it.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::chunk::{chunk_name, is_chunk_name, INDEX_EXT};
use super::index::{IndexRecord, FLAG_DISCONTINUITY, RECORD_LEN};
use super::repair::{repair, sync_dir};
use super::retention::{plan, Fs};
use super::{RecordSetup, SegBuf, Shared, GUARD_EVERY, MARKER};
use crate::publish::RateLimit;
use crate::time::Pts90k;

const RECORDING: u8 = 1;
const MISSING: u8 = 2;
const ERROR: u8 = 3;
const STOPPED: u8 = 4;
/// A sync due this soon is done with the segment at hand rather than by the timer after it.
const SYNC_MARGIN: Duration = Duration::from_millis(50);

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
}

fn is_enospc(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOSPC)
}

fn wall_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .min(u128::from(u64::MAX)) as u64
}

impl Writer {
    pub fn new(shared: Arc<Shared>, setup: RecordSetup) -> Self {
        Writer {
            fs: Fs {
                dir: setup.dir.clone(),
            },
            shared,
            setup,
            open: None,
            guard: Guard::Missing(None),
            gap: false,
            log: RateLimit::default(),
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
        if !self.check_guard() {
            self.drop_segment();
            return;
        }
        let d = &seg.done;
        let new_chunk = match &self.open {
            None => true,
            Some(o) => d.discontinuity || o.media >= self.setup.chunk,
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
        let discontinuity = d.discontinuity || seg.gap || std::mem::take(&mut self.gap);
        let Some(o) = self.open.as_mut() else {
            return;
        };
        o.pending.push(IndexRecord {
            offset: o.size,
            len: seg.data.len() as u32,
            duration: d.duration,
            pts: d.start,
            wall_ns: wall_ns(d.wall),
            seq: d.seq,
            flags: if discontinuity { FLAG_DISCONTINUITY } else { 0 },
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
            drop(q);
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
        self.close();
        self.shared.status.set_state(STOPPED);
        self.shared.lock().finished = true;
        self.shared.cv.notify_all();
    }
}
