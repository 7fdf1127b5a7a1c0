//! Storage behind the segmenter: the narrow [`SegmentStore`] trait, the real directory
//! implementation [`FileStore`] and the in-memory, fault-injecting [`MemStore`] used by tests.
//!
//! File naming follows the project convention: a segment being written is the hidden file
//! `.seg<N>.ts.part`; [`SegmentStore::commit_segment`] renames it to `seg<N>.ts`. The playlist is
//! written to `.live.m3u8.part` and renamed over `live.m3u8`, so a reader sees either the old or
//! the new playlist, never a half-written one (RFC 8216 §6.2.1 leaves the how to the server; the
//! rename is atomic per POSIX `rename(2)`). The state file is written to `<state>.part`, fsynced,
//! renamed, and its directory fsynced.
//!
//! [`FileStore`] works relative to directory file descriptors with `openat`/`renameat`/
//! `unlinkat` and formats every name into a stack buffer, so the per-segment operations perform
//! no heap allocation (the `std::fs` path APIs would build a `CString` for long paths).

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::fmt::{self, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::error::HlsError;

/// File name of the live playlist inside the output directory.
pub const PLAYLIST_NAME: &str = "live.m3u8";
/// Temporary name the playlist is written under before the rename.
pub const PLAYLIST_PART_NAME: &str = ".live.m3u8.part";

/// Which storage operation failed (carried by [`StoreError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Creating `.seg<N>.ts.part`.
    Begin,
    /// Writing segment bytes.
    Write,
    /// Renaming a finished segment into place.
    Commit,
    /// Deleting an old segment.
    Remove,
    /// Writing or renaming the playlist.
    Playlist,
    /// Writing, syncing or renaming the state file.
    State,
}

impl StoreOp {
    fn describe(self) -> &'static str {
        match self {
            StoreOp::Begin => "creating segment",
            StoreOp::Write => "writing segment",
            StoreOp::Commit => "renaming segment",
            StoreOp::Remove => "removing segment",
            StoreOp::Playlist => "replacing playlist",
            StoreOp::State => "saving state file",
        }
    }
}

/// A storage failure on the hot path: the operation, the segment number it concerned (0 for the
/// playlist and state) and the OS error number. `Copy`; building one never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreError {
    /// The failed operation.
    pub op: StoreOp,
    /// Segment sequence number involved (0 when not applicable).
    pub seq: u64,
    /// `errno` (e.g. `libc::ENOSPC`).
    pub errno: i32,
}

impl StoreError {
    /// The error for `op` on `seq` from the current `errno`.
    pub fn last_os(op: StoreOp, seq: u64) -> Self {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        StoreError { op, seq, errno }
    }
    /// True for "no space left on device" and "disk quota exceeded".
    pub fn is_disk_full(&self) -> bool {
        self.errno == libc::ENOSPC || self.errno == libc::EDQUOT
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            StoreOp::Playlist | StoreOp::State => write!(f, "{}", self.op.describe())?,
            _ => write!(f, "{} seg{}.ts", self.op.describe(), self.seq)?,
        }
        write!(f, ": {}", std::io::Error::from_raw_os_error(self.errno))
    }
}

/// What an earlier run left in the output directory (setup only; allocates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Sequence numbers of complete `seg<N>.ts` files (canonical names only).
    pub segments: Vec<u64>,
    /// Other names we own and must clean up: `.part` files, non-canonical `seg*.ts`.
    pub leftovers: Vec<String>,
    /// Whether `live.m3u8` exists.
    pub playlist: bool,
}

/// Where segments, the playlist and the state go. The per-segment methods must not allocate in
/// the real implementation; the setup methods (`load_state`, `scan`, `remove_leftover`,
/// `remove_playlist`) may.
pub trait SegmentStore {
    /// Creates (truncating) the partial file for segment `seq`.
    fn begin_segment(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Appends bytes to the open partial segment.
    fn write_segment(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    /// Closes the partial segment `seq` and renames it to `seg<seq>.ts`.
    fn commit_segment(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Closes and deletes the partial segment `seq` (best effort).
    fn abort_segment(&mut self, seq: u64);
    /// Deletes the published segment `seq`.
    fn remove_segment(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Atomically replaces the playlist with `text`.
    fn write_playlist(&mut self, text: &[u8]) -> Result<(), StoreError>;
    /// Atomically and durably replaces the state file with `bytes`.
    fn write_state(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    /// Reads the state file; `Ok(None)` when it does not exist. Setup only.
    fn load_state(&mut self) -> Result<Option<Vec<u8>>, HlsError>;
    /// Lists what is in the directory. Setup only.
    fn scan(&mut self) -> Result<Listing, HlsError>;
    /// Deletes a leftover file named by [`Listing::leftovers`]. Setup only.
    fn remove_leftover(&mut self, name: &str) -> Result<(), HlsError>;
    /// Deletes `live.m3u8` if present. Setup only.
    fn remove_playlist(&mut self) -> Result<(), HlsError>;
}

/// Parses `seg<N>.ts` (canonical decimal, no leading zeros) into `N`.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg")?.strip_suffix(".ts")?;
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// A NUL-terminated name formatted on the stack.
struct NameBuf {
    buf: [u8; 48],
    len: usize,
}

impl NameBuf {
    fn segment(seq: u64, part: bool) -> NameBuf {
        let mut n = NameBuf {
            buf: [0; 48],
            len: 0,
        };
        // Cannot fail: ".seg" + 20 digits + ".ts.part" + NUL < 48.
        let _ = if part {
            write!(n, ".seg{seq}.ts.part")
        } else {
            write!(n, "seg{seq}.ts")
        };
        n
    }
    fn literal(s: &str) -> NameBuf {
        let mut n = NameBuf {
            buf: [0; 48],
            len: 0,
        };
        let _ = n.write_str(s);
        n
    }
    fn cstr(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).expect("name has one NUL")
    }
}

impl fmt::Write for NameBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        if self.len + b.len() >= self.buf.len() || b.contains(&0) {
            return Err(fmt::Error);
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        Ok(())
    }
}

fn open_dir(path: &Path) -> Result<OwnedFd, HlsError> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| HlsError::config(format!("path {} contains NUL", path.display())))?;
    // SAFETY: `c` is a valid NUL-terminated string; the returned fd is owned by us.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(HlsError::setup(
            format!("opening directory {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn openat_write(dir: &OwnedFd, name: &CStr) -> Result<OwnedFd, ()> {
    // SAFETY: valid dir fd and NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        Err(())
    } else {
        // SAFETY: fresh descriptor.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> Result<(), ()> {
    while !bytes.is_empty() {
        // SAFETY: pointer and length come from a live slice.
        let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(());
        }
        if n == 0 {
            // A zero-length write on a regular file means the device is full.
            // SAFETY: writing errno of this thread.
            unsafe { *libc::__errno_location() = libc::ENOSPC };
            return Err(());
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

fn renameat(dir: &OwnedFd, from: &CStr, to: &CStr) -> Result<(), ()> {
    // SAFETY: valid fds and NUL-terminated names.
    let r = unsafe { libc::renameat(dir.as_raw_fd(), from.as_ptr(), dir.as_raw_fd(), to.as_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(())
    }
}

fn unlinkat(dir: &OwnedFd, name: &CStr) -> Result<(), ()> {
    // SAFETY: valid fd and NUL-terminated name.
    let r = unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(())
    }
}

fn fsync(fd: &OwnedFd) -> Result<(), ()> {
    // SAFETY: valid fd.
    if unsafe { libc::fsync(fd.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(())
    }
}

/// The real store: a directory on disk (tmpfs in production).
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    dir_fd: OwnedFd,
    part: Option<OwnedFd>,
    state_path: PathBuf,
    state_dir_fd: OwnedFd,
    state_name: CString,
    state_part_name: CString,
}

impl FileStore {
    /// Creates `dir` (and the state file's directory) if needed and opens both.
    pub fn open(dir: &Path, state_file: &Path) -> Result<FileStore, HlsError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| HlsError::setup(format!("creating directory {}", dir.display()), e))?;
        let dir_fd = open_dir(dir)?;
        let state_dir = match state_file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&state_dir).map_err(|e| {
            HlsError::setup(format!("creating directory {}", state_dir.display()), e)
        })?;
        let state_dir_fd = open_dir(&state_dir)?;
        let base = state_file
            .file_name()
            .ok_or_else(|| {
                HlsError::config(format!("state file {} has no name", state_file.display()))
            })?
            .as_bytes();
        let state_name =
            CString::new(base).map_err(|_| HlsError::config("state file name has NUL"))?;
        let mut part = base.to_vec();
        part.extend_from_slice(b".part");
        let state_part_name =
            CString::new(part).map_err(|_| HlsError::config("state file name has NUL"))?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            dir_fd,
            part: None,
            state_path: state_file.to_path_buf(),
            state_dir_fd,
            state_name,
            state_part_name,
        })
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl SegmentStore for FileStore {
    fn begin_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.part = None;
        let name = NameBuf::segment(seq, true);
        let fd = openat_write(&self.dir_fd, name.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Begin, seq))?;
        self.part = Some(fd);
        Ok(())
    }

    fn write_segment(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let fd = self.part.as_ref().ok_or(StoreError {
            op: StoreOp::Write,
            seq: 0,
            errno: libc::EBADF,
        })?;
        write_all(fd, bytes).map_err(|_| StoreError::last_os(StoreOp::Write, 0))
    }

    fn commit_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        // Dropping the fd closes it; close(2) on tmpfs cannot report a deferred write error.
        self.part = None;
        let from = NameBuf::segment(seq, true);
        let to = NameBuf::segment(seq, false);
        renameat(&self.dir_fd, from.cstr(), to.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Commit, seq))
    }

    fn abort_segment(&mut self, seq: u64) {
        self.part = None;
        let name = NameBuf::segment(seq, true);
        let _ = unlinkat(&self.dir_fd, name.cstr());
    }

    fn remove_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        let name = NameBuf::segment(seq, false);
        unlinkat(&self.dir_fd, name.cstr()).map_err(|_| StoreError::last_os(StoreOp::Remove, seq))
    }

    fn write_playlist(&mut self, text: &[u8]) -> Result<(), StoreError> {
        let part = NameBuf::literal(PLAYLIST_PART_NAME);
        let name = NameBuf::literal(PLAYLIST_NAME);
        let err = |_| StoreError::last_os(StoreOp::Playlist, 0);
        let fd = openat_write(&self.dir_fd, part.cstr()).map_err(err)?;
        if write_all(&fd, text).is_err() {
            let e = StoreError::last_os(StoreOp::Playlist, 0);
            drop(fd);
            let _ = unlinkat(&self.dir_fd, part.cstr());
            return Err(e);
        }
        drop(fd);
        renameat(&self.dir_fd, part.cstr(), name.cstr()).map_err(err)
    }

    fn write_state(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let err = |_| StoreError::last_os(StoreOp::State, 0);
        let fd = openat_write(&self.state_dir_fd, &self.state_part_name).map_err(err)?;
        if write_all(&fd, bytes).and_then(|_| fsync(&fd)).is_err() {
            let e = StoreError::last_os(StoreOp::State, 0);
            drop(fd);
            let _ = unlinkat(&self.state_dir_fd, &self.state_part_name);
            return Err(e);
        }
        drop(fd);
        renameat(&self.state_dir_fd, &self.state_part_name, &self.state_name).map_err(err)?;
        fsync(&self.state_dir_fd).map_err(err)
    }

    fn load_state(&mut self) -> Result<Option<Vec<u8>>, HlsError> {
        match std::fs::read(&self.state_path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HlsError::setup(
                format!("reading state file {}", self.state_path.display()),
                e,
            )),
        }
    }

    fn scan(&mut self) -> Result<Listing, HlsError> {
        let ctx = || format!("listing directory {}", self.dir.display());
        let mut l = Listing::default();
        for ent in std::fs::read_dir(&self.dir).map_err(|e| HlsError::setup(ctx(), e))? {
            let ent = ent.map_err(|e| HlsError::setup(ctx(), e))?;
            let Some(name) = ent.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name == PLAYLIST_NAME {
                l.playlist = true;
            } else if let Some(seq) = parse_segment_name(&name) {
                l.segments.push(seq);
            } else if (name.starts_with("seg") && name.ends_with(".ts"))
                || (name.starts_with(".seg") && name.ends_with(".ts.part"))
                || name == PLAYLIST_PART_NAME
            {
                l.leftovers.push(name);
            }
        }
        l.segments.sort_unstable();
        l.leftovers.sort();
        Ok(l)
    }

    fn remove_leftover(&mut self, name: &str) -> Result<(), HlsError> {
        let p = self.dir.join(name);
        std::fs::remove_file(&p)
            .map_err(|e| HlsError::setup(format!("removing {}", p.display()), e))
    }

    fn remove_playlist(&mut self) -> Result<(), HlsError> {
        let p = self.dir.join(PLAYLIST_NAME);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(HlsError::setup(format!("removing {}", p.display()), e))
            }
            _ => Ok(()),
        }
    }
}

/// One recorded [`MemStore`] operation, in call order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// `.seg<N>.ts.part` created.
    Begin(u64),
    /// `seg<N>.ts` now complete (renamed into place), with its size.
    Commit(u64, usize),
    /// Partial segment deleted.
    Abort(u64),
    /// `seg<N>.ts` deleted.
    Remove(u64),
    /// Playlist replaced with this text.
    Playlist(String),
    /// State file replaced with this text.
    State(String),
}

/// In-memory store for tests: records every operation as a [`StoreEvent`], keeps the files in
/// a map, and fails chosen operations on demand (`ENOSPC`, `EIO`, ...).
#[derive(Debug, Default)]
pub struct MemStore {
    /// Every operation so far (failed ones are not recorded, except `Abort`).
    pub events: Vec<StoreEvent>,
    /// Complete files by name (`seg<N>.ts`, `live.m3u8`).
    pub files: BTreeMap<String, Vec<u8>>,
    /// The saved state, if any.
    pub state: Option<Vec<u8>>,
    part: Option<(u64, Vec<u8>)>,
    faults: Vec<(StoreOp, i32)>,
    /// While set, every `Begin` and `Write` fails with this errno (a full disk).
    pub fail_segment_io: Option<i32>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// Makes the next call of `op` fail with `errno` (queued; one fault per call).
    pub fn fail_next(&mut self, op: StoreOp, errno: i32) {
        self.faults.push((op, errno));
    }
    fn fault(&mut self, op: StoreOp, seq: u64) -> Result<(), StoreError> {
        if matches!(op, StoreOp::Begin | StoreOp::Write) {
            if let Some(errno) = self.fail_segment_io {
                return Err(StoreError { op, seq, errno });
            }
        }
        if let Some(i) = self.faults.iter().position(|f| f.0 == op) {
            let (_, errno) = self.faults.remove(i);
            return Err(StoreError { op, seq, errno });
        }
        Ok(())
    }
    /// Sequence numbers of the complete segments currently stored.
    pub fn segments(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .files
            .keys()
            .filter_map(|k| parse_segment_name(k))
            .collect();
        v.sort_unstable();
        v
    }
    /// The current playlist text.
    pub fn playlist(&self) -> Option<&str> {
        self.files
            .get(PLAYLIST_NAME)
            .map(|b| std::str::from_utf8(b).expect("playlist is UTF-8"))
    }
    /// Whether a partial segment is open.
    pub fn has_part(&self) -> bool {
        self.part.is_some()
    }
}

impl SegmentStore for MemStore {
    fn begin_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.fault(StoreOp::Begin, seq)?;
        self.part = Some((seq, Vec::new()));
        self.events.push(StoreEvent::Begin(seq));
        Ok(())
    }
    fn write_segment(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let seq = self.part.as_ref().map_or(0, |p| p.0);
        self.fault(StoreOp::Write, seq)?;
        match &mut self.part {
            Some((_, b)) => {
                b.extend_from_slice(bytes);
                Ok(())
            }
            None => Err(StoreError {
                op: StoreOp::Write,
                seq,
                errno: libc::EBADF,
            }),
        }
    }
    fn commit_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.fault(StoreOp::Commit, seq)?;
        match self.part.take() {
            Some((s, b)) if s == seq => {
                self.events.push(StoreEvent::Commit(seq, b.len()));
                self.files.insert(format!("seg{seq}.ts"), b);
                Ok(())
            }
            _ => Err(StoreError {
                op: StoreOp::Commit,
                seq,
                errno: libc::ENOENT,
            }),
        }
    }
    fn abort_segment(&mut self, seq: u64) {
        self.part = None;
        self.events.push(StoreEvent::Abort(seq));
    }
    fn remove_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.fault(StoreOp::Remove, seq)?;
        match self.files.remove(&format!("seg{seq}.ts")) {
            Some(_) => {
                self.events.push(StoreEvent::Remove(seq));
                Ok(())
            }
            None => Err(StoreError {
                op: StoreOp::Remove,
                seq,
                errno: libc::ENOENT,
            }),
        }
    }
    fn write_playlist(&mut self, text: &[u8]) -> Result<(), StoreError> {
        self.fault(StoreOp::Playlist, 0)?;
        let s = String::from_utf8(text.to_vec()).expect("playlist is UTF-8");
        self.files.insert(PLAYLIST_NAME.to_owned(), text.to_vec());
        self.events.push(StoreEvent::Playlist(s));
        Ok(())
    }
    fn write_state(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.fault(StoreOp::State, 0)?;
        self.state = Some(bytes.to_vec());
        self.events.push(StoreEvent::State(
            String::from_utf8_lossy(bytes).into_owned(),
        ));
        Ok(())
    }
    fn load_state(&mut self) -> Result<Option<Vec<u8>>, HlsError> {
        Ok(self.state.clone())
    }
    fn scan(&mut self) -> Result<Listing, HlsError> {
        let mut leftovers: Vec<String> = self
            .files
            .keys()
            .filter(|k| k.as_str() != PLAYLIST_NAME && parse_segment_name(k).is_none())
            .cloned()
            .collect();
        if let Some((seq, _)) = self.part.take() {
            leftovers.push(format!(".seg{seq}.ts.part"));
        }
        Ok(Listing {
            segments: self.segments(),
            leftovers,
            playlist: self.files.contains_key(PLAYLIST_NAME),
        })
    }
    fn remove_leftover(&mut self, name: &str) -> Result<(), HlsError> {
        self.files.remove(name);
        Ok(())
    }
    fn remove_playlist(&mut self) -> Result<(), HlsError> {
        self.files.remove(PLAYLIST_NAME);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names() {
        assert_eq!(parse_segment_name("seg0.ts"), Some(0));
        assert_eq!(parse_segment_name("seg123.ts"), Some(123));
        assert_eq!(parse_segment_name("seg007.ts"), None);
        assert_eq!(parse_segment_name("seg.ts"), None);
        assert_eq!(parse_segment_name("seg1.ts.part"), None);
        assert_eq!(parse_segment_name("segx.ts"), None);
        assert_eq!(
            NameBuf::segment(42, true).cstr().to_bytes(),
            b".seg42.ts.part"
        );
        let max = NameBuf::segment(u64::MAX, true);
        assert_eq!(max.cstr().to_bytes(), b".seg18446744073709551615.ts.part");
    }

    #[test]
    fn file_store_round_trip() {
        let dir = std::env::temp_dir().join(format!("hlscam-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = FileStore::open(&dir, &dir.join(".state")).unwrap();
        s.begin_segment(7).unwrap();
        s.write_segment(b"abc").unwrap();
        assert!(dir.join(".seg7.ts.part").exists());
        s.commit_segment(7).unwrap();
        assert_eq!(std::fs::read(dir.join("seg7.ts")).unwrap(), b"abc");
        s.write_playlist(b"#EXTM3U\n").unwrap();
        assert_eq!(std::fs::read(dir.join("live.m3u8")).unwrap(), b"#EXTM3U\n");
        s.write_state(b"x").unwrap();
        assert_eq!(s.load_state().unwrap().unwrap(), b"x");
        s.begin_segment(8).unwrap();
        s.abort_segment(8);
        std::fs::write(dir.join("seg01.ts"), b"").unwrap();
        let l = s.scan().unwrap();
        assert_eq!(l.segments, vec![7]);
        assert_eq!(l.leftovers, vec!["seg01.ts".to_owned()]);
        assert!(l.playlist);
        s.remove_segment(7).unwrap();
        let e = s.remove_segment(7).unwrap_err();
        assert_eq!(e.errno, libc::ENOENT);
        assert_eq!(
            e.to_string(),
            "removing segment seg7.ts: No such file or directory (os error 2)"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
