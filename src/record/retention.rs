//! Retention: which chunks to delete, oldest first, when any of `max_bytes`, `max_age_days`
//! or `min_free_percent` is reached (whichever first). [`plan`] is pure (a clock and the file
//! system's figures are arguments); [`Fs`] is the thin layer that lists the directory, asks
//! `statvfs` and deletes — index first, then chunk (DESIGN §2 item 20). The chunk being
//! written is never deleted, nor a locked one (a `<chunk>.lock` marker beside it, set through
//! the recordings API): [`plan`] skips it and [`Fs::delete`] looks for the marker again right
//! before it unlinks.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::chunk::{is_chunk_name, INDEX_EXT, LOCK_EXT};

/// The limits of `[record]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Most bytes kept (0 = no limit).
    pub max_bytes: u64,
    /// Oldest chunk kept.
    pub max_age: Option<Duration>,
    /// Free space kept, percent of the file system.
    pub min_free_percent: u32,
}

/// One chunk on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Its file name.
    pub name: String,
    /// Its start (from the name).
    pub start: SystemTime,
    /// Bytes of the chunk and its index.
    pub bytes: u64,
    /// Whether it has a lock marker ([`LOCK_EXT`]): retention keeps it.
    pub locked: bool,
}

/// Space on the file system, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Size of the file system.
    pub total: u64,
    /// Available to this process.
    pub avail: u64,
}

/// The chunks (oldest first) to delete so that the limits hold at `now` with `need` more
/// bytes to write; `current` (the chunk being written) and locked chunks are never chosen (their
/// bytes still count towards the limits).
pub fn plan(
    chunks: &[ChunkInfo],
    current: Option<&str>,
    limits: &Limits,
    now: SystemTime,
    space: Space,
    need: u64,
) -> Vec<String> {
    let mut total: u64 = chunks.iter().map(|c| c.bytes).sum();
    let mut avail = space.avail;
    let free_goal = space.total / 100 * u64::from(limits.min_free_percent);
    let mut out = Vec::new();
    for c in chunks {
        if c.locked || Some(c.name.as_str()) == current {
            continue;
        }
        let too_big = limits.max_bytes > 0 && total + need > limits.max_bytes;
        let too_old = limits
            .max_age
            .is_some_and(|a| now.duration_since(c.start).is_ok_and(|age| age > a));
        let too_full = avail < free_goal.saturating_add(need);
        if !(too_big || too_old || too_full) {
            break;
        }
        total -= c.bytes;
        avail += c.bytes;
        out.push(c.name.clone());
    }
    out
}

/// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The start time a chunk name (`YYYYMMDDTHHMMSSZ[-N].ts`) gives.
pub fn start_of(name: &str) -> Option<SystemTime> {
    if !is_chunk_name(name) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| name[r].parse::<u32>().ok();
    let days = days_from_civil(i64::from(n(0..4)?), n(4..6)?, n(6..8)?);
    let secs = days * 86_400 + i64::from(n(9..11)? * 3600 + n(11..13)? * 60 + n(13..15)?);
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// The file-system side of retention.
#[derive(Debug, Clone)]
pub struct Fs {
    /// The recordings directory.
    pub dir: PathBuf,
}

impl Fs {
    /// The chunks in the directory, oldest first.
    pub fn chunks(&self) -> std::io::Result<Vec<ChunkInfo>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(start) = start_of(&name) else {
                continue;
            };
            let idx = std::fs::metadata(self.dir.join(format!("{name}{INDEX_EXT}")))
                .map(|m| m.len())
                .unwrap_or(0);
            let locked = self.is_locked(&name);
            out.push(ChunkInfo {
                bytes: e.metadata()?.len() + idx,
                name,
                start,
                locked,
            });
        }
        out.sort_by(|a, b| (a.start, &a.name).cmp(&(b.start, &b.name)));
        Ok(out)
    }

    /// `statvfs` of the directory.
    pub fn space(&self) -> std::io::Result<Space> {
        statvfs(&self.dir)
    }

    /// Whether chunk `name` has a lock marker.
    pub fn is_locked(&self, name: &str) -> bool {
        self.dir.join(format!("{name}{LOCK_EXT}")).exists()
    }

    /// Deletes a chunk: its index first, then the chunk. A chunk locked since it was listed is
    /// kept (`PermissionDenied`).
    pub fn delete(&self, name: &str) -> std::io::Result<()> {
        if self.is_locked(name) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{name} is locked"),
            ));
        }
        match std::fs::remove_file(self.dir.join(format!("{name}{INDEX_EXT}"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::remove_file(self.dir.join(name))
    }
}

/// Size and available bytes of the file system holding `p`.
pub fn statvfs(p: &Path) -> std::io::Result<Space> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let f = st.f_frsize as u64;
    Ok(Space {
        total: st.f_blocks as u64 * f,
        avail: st.f_bavail as u64 * f,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_780_000_000 + secs)
    }

    fn chunks(n: u64, each: u64) -> Vec<ChunkInfo> {
        (0..n)
            .map(|i| ChunkInfo {
                name: format!("c{i}"),
                start: t(i * 300),
                bytes: each,
                locked: false,
            })
            .collect()
    }

    const ROOMY: Space = Space {
        total: 1 << 40,
        avail: 1 << 39,
    };

    /// 8.5 % free: a 10 % goal with 200 bytes to write needs 350 bytes more.
    const TIGHT: Space = Space {
        total: 10_000,
        avail: 850,
    };

    #[test]
    fn nothing_to_do_within_limits() {
        let l = Limits {
            max_bytes: 1000,
            max_age: Some(Duration::from_secs(DAY)),
            min_free_percent: 5,
        };
        assert!(plan(&chunks(5, 100), Some("c4"), &l, t(1500), ROOMY, 100).is_empty());
        assert!(plan(&[], None, &l, t(0), ROOMY, 0).is_empty());
    }

    #[test]
    fn max_bytes_deletes_oldest_first_until_the_next_segment_fits() {
        let l = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        // 1000 on disk + 150 to write: two oldest go (800 + 150 <= 1000).
        let p = plan(&chunks(10, 100), Some("c9"), &l, t(0), ROOMY, 150);
        assert_eq!(p, ["c0", "c1"]);
    }

    #[test]
    fn age_uses_the_simulated_clock() {
        let l = Limits {
            max_age: Some(Duration::from_secs(DAY)),
            ..Limits::default()
        };
        let cs = chunks(4, 100); // starts at 0, 300, 600, 900 s
        assert!(plan(&cs, None, &l, t(DAY), ROOMY, 0).is_empty());
        assert_eq!(plan(&cs, None, &l, t(DAY + 301), ROOMY, 0), ["c0", "c1"]);
        // Even all of them, but never the one being written.
        assert_eq!(
            plan(&cs, Some("c3"), &l, t(10 * DAY), ROOMY, 0),
            ["c0", "c1", "c2"]
        );
    }

    #[test]
    fn free_space_counts_what_deleting_gives_back() {
        let l = Limits {
            min_free_percent: 10,
            ..Limits::default()
        };
        // Goal: 1000 free + 200 to write = 1200; each delete frees 100.
        let p = plan(&chunks(10, 100), Some("c9"), &l, t(0), TIGHT, 200);
        assert_eq!(p, ["c0", "c1", "c2", "c3"]);
        // Whichever limit is reached first: here bytes.
        let l2 = Limits {
            max_bytes: 500,
            ..l
        };
        let p = plan(&chunks(10, 100), Some("c9"), &l2, t(0), ROOMY, 0);
        assert_eq!(p.len(), 5);
    }

    fn lock(mut cs: Vec<ChunkInfo>, which: &[usize]) -> Vec<ChunkInfo> {
        for &i in which {
            cs[i].locked = true;
        }
        cs
    }

    #[test]
    fn locked_chunks_are_kept_under_every_limit() {
        // Bytes: 1000 on disk, 150 to write; c0 and c2 locked: c1 and c3 go instead (the
        // locked bytes still count).
        let l = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        let cs = lock(chunks(10, 100), &[0, 2]);
        assert_eq!(plan(&cs, Some("c9"), &l, t(0), ROOMY, 150), ["c1", "c3"]);
        let l = Limits {
            max_bytes: 500,
            ..Limits::default()
        };
        assert_eq!(
            plan(&cs, Some("c9"), &l, t(0), ROOMY, 0),
            ["c1", "c3", "c4", "c5", "c6"]
        );
        // Age: every chunk is too old, the locked ones and the current one stay.
        let l = Limits {
            max_age: Some(Duration::from_secs(DAY)),
            ..Limits::default()
        };
        let cs = lock(chunks(4, 100), &[1]);
        assert_eq!(
            plan(&cs, Some("c3"), &l, t(10 * DAY), ROOMY, 0),
            ["c0", "c2"]
        );
        // Free space: the goal needs four deletions; c0..c2 are locked, so c3..c6 go.
        let l = Limits {
            min_free_percent: 10,
            ..Limits::default()
        };
        let cs = lock(chunks(10, 100), &[0, 1, 2]);
        assert_eq!(
            plan(&cs, Some("c9"), &l, t(0), TIGHT, 200),
            ["c3", "c4", "c5", "c6"]
        );
        // All locked: nothing can go, whatever the limits say.
        let cs = lock(chunks(3, 100), &[0, 1, 2]);
        assert!(plan(&cs, None, &l, t(0), TIGHT, 200).is_empty());
    }

    #[test]
    fn delete_refuses_a_chunk_locked_after_listing() {
        let dir = super::super::repair::tests::tmpdir("ret-lock");
        let fs = Fs { dir: dir.clone() };
        let name = "20260528T202640Z.ts";
        std::fs::write(dir.join(name), b"x").unwrap();
        std::fs::write(dir.join(format!("{name}{INDEX_EXT}")), b"").unwrap();
        std::fs::write(dir.join(format!("{name}{LOCK_EXT}")), b"").unwrap();
        let listed = fs.chunks().unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].locked);
        assert!(fs.delete(name).is_err());
        assert!(dir.join(name).exists() && dir.join(format!("{name}{INDEX_EXT}")).exists());
        std::fs::remove_file(dir.join(format!("{name}{LOCK_EXT}"))).unwrap();
        assert!(!fs.chunks().unwrap()[0].locked);
        fs.delete(name).unwrap();
        assert!(fs.chunks().unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn start_times_come_from_names() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let name = super::super::chunk::chunk_name(t0, 0);
        assert_eq!(start_of(&name), Some(t0));
        assert_eq!(start_of("20260528T202640Z-3.ts"), Some(t0));
        assert_eq!(
            start_of("20000101T000000Z.ts"),
            Some(UNIX_EPOCH + Duration::from_secs(946_684_800))
        );
        assert_eq!(start_of("live.m3u8"), None);
    }
}
