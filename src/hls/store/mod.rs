//! Storage behind the live output: the narrow [`SegmentStore`] trait, the names of everything it
//! stores, the real directory implementation [`FileStore`] and the in-memory, fault-injecting
//! [`MemStore`] used by tests.
//!
//! Names (`<ext>` is `ts` or `m4s`, see [`Container`]): a segment being written is the hidden
//! file `.seg<N>.<ext>.part`; [`SegmentStore::commit_segment`] renames it to `seg<N>.<ext>`. An
//! LL-HLS partial segment is written beside it as `.seg<N>.<K>.<ext>.part` and renamed to
//! `seg<N>.<K>.<ext>` when complete (so a reader never sees half a part); the parts of a
//! segment concatenate to the segment. An fMP4 initialisation segment is `init<G>.mp4`, written
//! to a temporary name and renamed. The playlist is written to `.live.m3u8.part` and renamed
//! over `live.m3u8`, so a reader sees either the old or the new playlist, never a half-written
//! one (RFC 8216 §6.2.1 leaves the how to the server; the rename is atomic per POSIX
//! `rename(2)`). The state file is written to `<state>.part`, fsynced, renamed, and its
//! directory fsynced.

mod file;
mod mem;

use std::fmt::{self, Write as _};

use super::error::HlsError;
use super::Container;

pub use file::FileStore;
pub use mem::{MemStore, StoreEvent};

/// File name of the live playlist inside the output directory.
pub const PLAYLIST_NAME: &str = "live.m3u8";
/// Temporary name the playlist is written under before the rename.
pub const PLAYLIST_PART_NAME: &str = ".live.m3u8.part";

/// Which storage operation failed (carried by [`StoreError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Creating `.seg<N>.<ext>.part` (or a part's temporary file).
    Begin,
    /// Writing segment (or part) bytes.
    Write,
    /// Renaming a finished segment (or part) into place.
    Commit,
    /// Deleting an old segment (or part, or init segment).
    Remove,
    /// Writing or renaming the playlist.
    Playlist,
    /// Writing, syncing or renaming the state file.
    State,
    /// Writing an fMP4 initialisation segment.
    Init,
}

impl StoreOp {
    fn describe(self) -> &'static str {
        match self {
            StoreOp::Begin => "creating",
            StoreOp::Write => "writing",
            StoreOp::Commit => "renaming",
            StoreOp::Remove => "removing",
            StoreOp::Playlist => "replacing playlist",
            StoreOp::State => "saving state file",
            StoreOp::Init => "writing init segment",
        }
    }
}

/// A storage failure on the hot path: the operation, the segment number it concerned (0 for the
/// playlist and state), the part index for part files, and the OS error number. `Copy`;
/// building one never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreError {
    /// The failed operation.
    pub op: StoreOp,
    /// Segment sequence number involved (0 when not applicable; the generation for `Init`).
    pub seq: u64,
    /// The part index when the file was a partial segment.
    pub part: Option<u32>,
    /// `errno` (e.g. `libc::ENOSPC`).
    pub errno: i32,
}

impl StoreError {
    /// An error for `op` on segment `seq` with `errno`.
    pub fn new(op: StoreOp, seq: u64, errno: i32) -> Self {
        StoreError {
            op,
            seq,
            part: None,
            errno,
        }
    }
    /// The error for `op` on `seq` from the current `errno`.
    pub fn last_os(op: StoreOp, seq: u64) -> Self {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        StoreError::new(op, seq, errno)
    }
    /// The same error about part `part` of the segment.
    pub fn in_part(mut self, part: u32) -> Self {
        self.part = Some(part);
        self
    }
    /// True for "no space left on device" and "disk quota exceeded".
    pub fn is_disk_full(&self) -> bool {
        self.errno == libc::ENOSPC || self.errno == libc::EDQUOT
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.op, self.part) {
            (StoreOp::Playlist | StoreOp::State, _) => f.write_str(self.op.describe())?,
            (StoreOp::Init, _) => write!(f, "{} init{}.mp4", self.op.describe(), self.seq)?,
            (op, Some(k)) => write!(f, "{} part {k} of segment {}", op.describe(), self.seq)?,
            (op, None) => write!(f, "{} segment {}", op.describe(), self.seq)?,
        }
        write!(f, ": {}", std::io::Error::from_raw_os_error(self.errno))
    }
}

/// What an earlier run left in the output directory (setup only; allocates). Stores fill it
/// in directory order; [`Listing::sort`] puts it in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Sequence numbers of complete `seg<N>.<ext>` files (canonical names, this container).
    pub segments: Vec<u64>,
    /// Generations of complete `init<G>.mp4` files.
    pub inits: Vec<u32>,
    /// Other names we own and must clean up: temporary files, parts, non-canonical names,
    /// segments of the other container.
    pub leftovers: Vec<String>,
    /// Whether `live.m3u8` exists.
    pub playlist: bool,
}

impl Listing {
    /// Sorts every list (segments and inits ascending, for binary search).
    pub fn sort(&mut self) {
        self.segments.sort_unstable();
        self.inits.sort_unstable();
        self.leftovers.sort();
    }
}

/// Where segments, parts, init segments, the playlist and the state go. The per-segment and
/// per-part methods must not allocate in the real implementation; the setup methods
/// (`load_state`, `scan`, `remove_leftover`, `remove_playlist`) may.
pub trait SegmentStore {
    /// Creates (truncating) the temporary file for segment `seq`.
    fn begin_segment(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Appends bytes to the open segment.
    fn write_segment(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    /// Closes segment `seq` and renames it into place.
    fn commit_segment(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Closes and deletes the temporary segment `seq` (best effort).
    fn abort_segment(&mut self, seq: u64);
    /// Deletes the published segment `seq`.
    fn remove_segment(&mut self, seq: u64) -> Result<(), StoreError>;
    /// Creates the temporary file of part `part` of segment `seq`.
    fn begin_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError>;
    /// Appends bytes to the open part.
    fn write_part(&mut self, bytes: &[u8]) -> Result<(), StoreError>;
    /// Closes the open part and renames it into place.
    fn commit_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError>;
    /// Closes and deletes the temporary part file (best effort).
    fn abort_part(&mut self, seq: u64, part: u32);
    /// Deletes a published part.
    fn remove_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError>;
    /// Writes `init<gen>.mp4` atomically.
    fn write_init(&mut self, gen: u32, bytes: &[u8]) -> Result<(), StoreError>;
    /// Deletes `init<gen>.mp4`.
    fn remove_init(&mut self, gen: u32) -> Result<(), StoreError>;
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

/// A canonical decimal number (no sign, no leading zeros, ≤ 20 digits).
fn canonical_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// Parses `seg<N>.<ext>` (canonical decimal) into `N`.
pub fn parse_segment_name(name: &str, c: Container) -> Option<u64> {
    let digits = name.strip_prefix("seg")?.strip_suffix(c.ext())?;
    canonical_number(digits.strip_suffix('.')?)
}

/// Parses `seg<N>.<K>.<ext>` (canonical decimals) into `(N, K)`.
pub fn parse_part_name(name: &str, c: Container) -> Option<(u64, u32)> {
    let rest = name.strip_prefix("seg")?.strip_suffix(c.ext())?;
    let (n, k) = rest.strip_suffix('.')?.split_once('.')?;
    let k = canonical_number(k)?;
    Some((canonical_number(n)?, u32::try_from(k).ok()?))
}

/// Parses `init<G>.mp4` into `G`.
pub fn parse_init_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("init")?.strip_suffix(".mp4")?;
    u32::try_from(canonical_number(digits)?).ok()
}

/// Whether `name` is a file this output writes (any container), for start-up clean-up.
fn is_ours(name: &str) -> bool {
    let media = |n: &str| n.ends_with(".ts") || n.ends_with(".m4s");
    (name.starts_with("seg") && media(name))
        || (name.starts_with(".seg") && name.ends_with(".part"))
        || (name.starts_with("init") && name.ends_with(".mp4"))
        || (name.starts_with(".init") && name.ends_with(".part"))
        || name == PLAYLIST_PART_NAME
}

/// Sorts one directory entry into a [`Listing`] for container `c`.
fn classify(l: &mut Listing, name: &str, c: Container) {
    if name == PLAYLIST_NAME {
        l.playlist = true;
    } else if let Some(seq) = parse_segment_name(name, c) {
        l.segments.push(seq);
    } else if let Some(g) = parse_init_name(name).filter(|_| c == Container::Fmp4) {
        l.inits.push(g);
    } else if is_ours(name) {
        l.leftovers.push(name.to_owned());
    }
}

/// A NUL-terminated file name formatted on the stack.
pub(crate) struct NameBuf {
    buf: [u8; 64],
    len: usize,
}

impl NameBuf {
    fn empty() -> NameBuf {
        NameBuf {
            buf: [0; 64],
            len: 0,
        }
    }
    /// `seg<seq>.<ext>`, or `.seg<seq>.<ext>.part` when `temp`.
    pub(crate) fn segment(seq: u64, c: Container, temp: bool) -> NameBuf {
        let mut n = NameBuf::empty();
        // Cannot fail: ".seg" + 20 digits + ".m4s.part" + NUL < 64.
        let _ = if temp {
            write!(n, ".seg{seq}.{}.part", c.ext())
        } else {
            write!(n, "seg{seq}.{}", c.ext())
        };
        n
    }
    /// `seg<seq>.<part>.<ext>`, or the hidden temporary name when `temp`.
    pub(crate) fn part(seq: u64, part: u32, c: Container, temp: bool) -> NameBuf {
        let mut n = NameBuf::empty();
        // Cannot fail: ".seg" + 20 + "." + 10 digits + ".m4s.part" + NUL < 64.
        let _ = if temp {
            write!(n, ".seg{seq}.{part}.{}.part", c.ext())
        } else {
            write!(n, "seg{seq}.{part}.{}", c.ext())
        };
        n
    }
    /// `init<gen>.mp4`, or `.init<gen>.mp4.part` when `temp`.
    pub(crate) fn init(gen: u32, temp: bool) -> NameBuf {
        let mut n = NameBuf::empty();
        let _ = if temp {
            write!(n, ".init{gen}.mp4.part")
        } else {
            write!(n, "init{gen}.mp4")
        };
        n
    }
    pub(crate) fn literal(s: &str) -> NameBuf {
        let mut n = NameBuf::empty();
        let _ = n.write_str(s);
        n
    }
    pub(crate) fn cstr(&self) -> &std::ffi::CStr {
        std::ffi::CStr::from_bytes_with_nul(&self.buf[..=self.len]).expect("name has one NUL")
    }
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let ts = Container::Ts;
        let mp4 = Container::Fmp4;
        assert_eq!(parse_segment_name("seg0.ts", ts), Some(0));
        assert_eq!(parse_segment_name("seg123.ts", ts), Some(123));
        assert_eq!(parse_segment_name("seg123.m4s", mp4), Some(123));
        assert_eq!(parse_segment_name("seg123.m4s", ts), None);
        assert_eq!(parse_segment_name("seg007.ts", ts), None);
        assert_eq!(parse_segment_name("seg.ts", ts), None);
        assert_eq!(parse_segment_name("seg1.ts.part", ts), None);
        assert_eq!(parse_segment_name("segx.ts", ts), None);
        assert_eq!(parse_segment_name("seg1.2.ts", ts), None);
        assert_eq!(parse_part_name("seg1.2.ts", ts), Some((1, 2)));
        assert_eq!(parse_part_name("seg1.2.m4s", mp4), Some((1, 2)));
        assert_eq!(parse_part_name("seg1.02.ts", ts), None);
        assert_eq!(parse_part_name("seg1.ts", ts), None);
        assert_eq!(parse_part_name("seg1.99999999999.ts", ts), None);
        assert_eq!(parse_init_name("init3.mp4"), Some(3));
        assert_eq!(parse_init_name("init03.mp4"), None);
        assert_eq!(
            NameBuf::segment(42, ts, true).cstr().to_bytes(),
            b".seg42.ts.part"
        );
        let max = NameBuf::part(u64::MAX, u32::MAX, mp4, true);
        assert_eq!(max.as_str(), ".seg18446744073709551615.4294967295.m4s.part");
        assert_eq!(NameBuf::init(7, false).as_str(), "init7.mp4");
        let mut l = Listing::default();
        for n in [
            "seg1.ts",
            "seg2.m4s",
            "seg1.0.ts",
            ".seg3.ts.part",
            "init1.mp4",
            ".init2.mp4.part",
            "live.m3u8",
            "other.txt",
        ] {
            classify(&mut l, n, ts);
        }
        assert_eq!(l.segments, vec![1]);
        assert!(l.inits.is_empty());
        assert_eq!(
            l.leftovers,
            [
                "seg2.m4s",
                "seg1.0.ts",
                ".seg3.ts.part",
                "init1.mp4",
                ".init2.mp4.part"
            ]
        );
        assert!(l.playlist);
    }

    #[test]
    fn error_display() {
        let e = StoreError::new(StoreOp::Remove, 7, libc::ENOENT);
        assert_eq!(
            e.to_string(),
            "removing segment 7: No such file or directory (os error 2)"
        );
        let e = StoreError::new(StoreOp::Write, 7, libc::ENOSPC).in_part(3);
        assert!(e.to_string().starts_with("writing part 3 of segment 7: "));
        assert!(e.is_disk_full());
    }
}
