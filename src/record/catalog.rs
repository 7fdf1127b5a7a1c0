//! The recordings directory read back for playback: chunks with their index records, and what
//! the recordings API and the VOD playlists derive from them (spans, gaps, days, storage,
//! events, locks). Everything here runs on HTTP threads; the writer is never waited for.
//!
//! - A chunk is listed by [`Fs::chunks`] (names through [`super::chunk::is_chunk_name`] and
//!   [`super::retention::start_of`]); its records come from its index ([`index::parse`]), so
//!   what is shown is what is on disk: the chunk being written (`growing`, from
//!   [`super::RecordStatus::current`]) lags by at most `fsync_seconds`.
//! - Bounded work per request: [`load`] reads the indexes of the chunks that may overlap the
//!   asked range only, and at most [`MAX_RECORDS`] records in all (48 bytes each: 2.3 MiB,
//!   a day of 2 s segments); what lies beyond is left out and [`Loaded::truncated`] says where
//!   the answer stops. [`summaries`] (days, storage) reads two records per chunk. The events
//!   file is read from its last [`MAX_EVENTS_BYTES`], at most [`MAX_EVENTS`] events.
//! - Gaps: holes longer than [`GAP`] between the wall-clock spans of consecutive recorded
//!   segments, within a chunk or between chunks. A segment begins a discontinuity (VOD
//!   playlists) after a gap, when its record is flagged ([`FLAG_DISCONTINUITY`],
//!   [`FLAG_CLOCK_STEP`]), or when its PTS does not follow the previous segment's.
//! - Locks: a marker file `<chunk>.lock` ([`LOCK_EXT`]) beside the chunk; retention keeps
//!   locked chunks ([`super::retention::plan`]).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::chunk::{is_chunk_name, CHUNK_EXT, INDEX_EXT, LOCK_EXT};
use super::index::{
    self, IndexRecord, FLAG_CLOCK_STEP, FLAG_DISCONTINUITY, FLAG_EVENT, FLAG_UNSYNCED, RECORD_LEN,
};
use super::repair::sync_dir;
use super::retention::{ChunkInfo, Fs};
use crate::time::Pts90k;

/// Most index records one request reads.
pub const MAX_RECORDS: usize = 48_000;
/// Most events one request returns.
pub const MAX_EVENTS: usize = 10_000;
/// How much of the end of the events file one request reads.
pub const MAX_EVENTS_BYTES: u64 = 4 << 20;
/// The events file in the recordings directory (one JSON object per line).
pub const EVENTS_FILE: &str = "events.jsonl";
/// A hole between recorded segments longer than this is a gap.
pub const GAP: Duration = Duration::from_secs(1);
/// A PTS this far (90 kHz) from where the previous segment ended begins a discontinuity.
const PTS_SLACK: u64 = 9_000;
const PTS_MOD: u64 = 1 << 33;

/// Wall clock of a record's first frame.
pub fn wall(r: &IndexRecord) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(r.wall_ns)
}

/// Wall clock at the end of a record's segment.
pub fn wall_end(r: &IndexRecord) -> SystemTime {
    wall(r) + r.duration.to_duration()
}

/// A chunk's id in the API: its name without `.ts`.
pub fn chunk_id(name: &str) -> &str {
    name.strip_suffix(CHUNK_EXT).unwrap_or(name)
}

/// A chunk with (some of) its index records.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Name, start, bytes on disk (chunk and index), locked.
    pub info: ChunkInfo,
    /// Whether the recorder is writing it.
    pub growing: bool,
    /// Its valid records, in order.
    pub records: Vec<IndexRecord>,
}

/// The chunks [`load`] read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Loaded {
    /// Chunks that may overlap the range, oldest first (a chunk's records may lie outside it),
    /// and the first record of the chunk after it (where a gap into the range ends).
    pub chunks: Vec<Chunk>,
    /// Set when [`MAX_RECORDS`] was reached: the wall clock where the records read end.
    pub truncated: Option<SystemTime>,
}

/// Where the records read so far end.
fn last_end(l: &Loaded) -> Option<SystemTime> {
    l.chunks.last().and_then(|c| c.records.last()).map(wall_end)
}

/// Reads at most `limit` records of chunk `name`'s index.
pub fn read_records(dir: &Path, name: &str, limit: usize) -> io::Result<Vec<IndexRecord>> {
    let f = match File::open(dir.join(format!("{name}{INDEX_EXT}"))) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    f.take((limit * RECORD_LEN) as u64)
        .read_to_end(&mut bytes)?;
    Ok(index::parse(&bytes).0)
}

/// The chunks of `dir` that may overlap `[from, to]`, with their records (see the module docs
/// for the bound). `current` is the chunk being written.
pub fn load(
    dir: &Path,
    current: Option<&str>,
    from: SystemTime,
    to: SystemTime,
) -> io::Result<Loaded> {
    load_bounded(dir, current, from, to, MAX_RECORDS)
}

/// [`load`] with a record budget of `budget`.
pub fn load_bounded(
    dir: &Path,
    current: Option<&str>,
    from: SystemTime,
    to: SystemTime,
    mut budget: usize,
) -> io::Result<Loaded> {
    let all = Fs {
        dir: dir.to_path_buf(),
    }
    .chunks()?;
    let mut out = Loaded::default();
    for (i, info) in all.iter().enumerate() {
        // A chunk ends before the next one starts (names are the start of their first segment).
        let may_reach_from = all.get(i + 1).map_or(true, |n| n.start >= from);
        if !may_reach_from {
            continue;
        }
        // The first chunk after the range: its first record ends a gap that reaches in.
        let after = info.start > to;
        if !after && budget == 0 {
            out.truncated = last_end(&out);
            break;
        }
        let mut records = read_records(dir, &info.name, if after { 1 } else { budget + 1 })?;
        let full = !after && records.len() > budget;
        if !after {
            records.truncate(budget);
            budget -= records.len();
        }
        out.chunks.push(Chunk {
            growing: current == Some(info.name.as_str()),
            info: info.clone(),
            records,
        });
        if full {
            out.truncated = last_end(&out);
        }
        if after || full {
            break;
        }
    }
    Ok(out)
}

/// What the recordings API says of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanInfo {
    /// First frame.
    pub start: SystemTime,
    /// End of the last segment.
    pub end: SystemTime,
    /// Indexed bytes.
    pub bytes: u64,
    /// Any segment recorded for an event.
    pub event: bool,
    /// Any segment recorded with an unsynchronised clock.
    pub unsynced: bool,
}

impl Chunk {
    /// The span of its records (`None` without any).
    pub fn span(&self) -> Option<SpanInfo> {
        let (first, last) = (self.records.first()?, self.records.last()?);
        Some(SpanInfo {
            start: wall(first),
            end: wall_end(last),
            bytes: last.end(),
            event: self.records.iter().any(|r| r.flags & FLAG_EVENT != 0),
            unsynced: self.records.iter().any(|r| r.flags & FLAG_UNSYNCED != 0),
        })
    }
}

/// Whether `[a, b)` overlaps `[from, to]`.
fn overlaps(a: SystemTime, b: SystemTime, from: SystemTime, to: SystemTime) -> bool {
    a <= to && b > from
}

/// Indexes of the chunks whose span overlaps `[from, to]`.
pub fn spans_in(l: &Loaded, from: SystemTime, to: SystemTime) -> Vec<usize> {
    (0..l.chunks.len())
        .filter(|&i| {
            l.chunks[i]
                .span()
                .is_some_and(|s| overlaps(s.start, s.end, from, to))
        })
        .collect()
}

/// The gaps longer than [`GAP`] between consecutive recorded segments that overlap
/// `[from, to]`, as `(start, end)`.
pub fn gaps(l: &Loaded, from: SystemTime, to: SystemTime) -> Vec<(SystemTime, SystemTime)> {
    let mut out = Vec::new();
    let mut prev_end: Option<SystemTime> = None;
    for r in l.chunks.iter().flat_map(|c| &c.records) {
        let start = wall(r);
        if let Some(pe) = prev_end {
            if start > pe + GAP && overlaps(pe, start, from, to) {
                out.push((pe, start));
            }
        }
        // A clock stepping back never makes the previous end move back.
        prev_end = Some(prev_end.map_or(wall_end(r), |pe| pe.max(wall_end(r))));
    }
    out
}

/// One segment of a VOD playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seg<'a> {
    /// The chunk file holding it.
    pub chunk: &'a str,
    /// Its record.
    pub rec: IndexRecord,
    /// Whether the chunk is being written.
    pub growing: bool,
    /// Whether it begins a discontinuity after the segment before it in the list.
    pub discontinuity: bool,
}

/// Whether `next` does not continue `prev` (see the module docs).
pub fn breaks(prev: &IndexRecord, next: &IndexRecord) -> bool {
    if next.flags & (FLAG_DISCONTINUITY | FLAG_CLOCK_STEP) != 0 || wall(next) > wall_end(prev) + GAP
    {
        return true;
    }
    let expected = (prev.pts.0 + prev.duration.0) % PTS_MOD;
    let d = (next.pts.0 % PTS_MOD + PTS_MOD - expected) % PTS_MOD;
    d.min(PTS_MOD - d) > PTS_SLACK
}

/// The segments whose wall-clock span overlaps `[from, to]`, in recording order.
pub fn segments(l: &Loaded, from: SystemTime, to: SystemTime) -> Vec<Seg<'_>> {
    let mut out: Vec<Seg<'_>> = Vec::new();
    for c in &l.chunks {
        for r in &c.records {
            if !overlaps(wall(r), wall_end(r), from, to) {
                continue;
            }
            let discontinuity = out.last().is_some_and(|p| breaks(&p.rec, r));
            out.push(Seg {
                chunk: &c.info.name,
                rec: *r,
                growing: c.growing,
                discontinuity,
            });
        }
    }
    out
}

/// A chunk's first and last records, for per-day figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Name, start, bytes, locked.
    pub info: ChunkInfo,
    /// Wall clock of the first frame and end of the last segment.
    pub start: SystemTime,
    /// End of the last segment.
    pub end: SystemTime,
    /// Indexed bytes.
    pub bytes: u64,
}

fn record_at(f: &mut File, at: u64) -> io::Result<Option<IndexRecord>> {
    let mut b = [0u8; RECORD_LEN];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut b)?;
    Ok(IndexRecord::decode(&b))
}

/// First and last records of chunk `name` (two reads; a full parse when the last record does
/// not check). `None` when the index has no valid record.
pub fn first_last(dir: &Path, name: &str) -> io::Result<Option<(IndexRecord, IndexRecord)>> {
    let mut f = match File::open(dir.join(format!("{name}{INDEX_EXT}"))) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let n = f.metadata()?.len() / RECORD_LEN as u64;
    if n == 0 {
        return Ok(None);
    }
    let (Some(first), Some(last)) = (
        record_at(&mut f, 0)?,
        record_at(&mut f, (n - 1) * RECORD_LEN as u64)?,
    ) else {
        let recs = read_records(dir, name, usize::MAX / RECORD_LEN)?;
        return Ok(recs.first().copied().zip(recs.last().copied()));
    };
    Ok(Some((first, last)))
}

/// Every chunk of `all` ([`Fs::chunks`] of `dir`) with a record, oldest first, with its first
/// and last records.
pub fn summaries(dir: &Path, all: &[ChunkInfo]) -> io::Result<Vec<Summary>> {
    let mut out = Vec::with_capacity(all.len());
    for info in all.iter().cloned() {
        if let Some((first, last)) = first_last(dir, &info.name)? {
            out.push(Summary {
                start: wall(&first),
                end: wall_end(&last).max(wall(&first)),
                bytes: last.end(),
                info,
            });
        }
    }
    Ok(out)
}

/// Recorded seconds and bytes per UTC day (days as Unix day numbers, ascending). A chunk that
/// crosses midnight counts on both days, its bytes split in proportion to its time.
pub fn days(s: &[Summary]) -> Vec<(u64, u64, f64)> {
    let mut out: Vec<(u64, u64, f64)> = Vec::new();
    for c in s {
        let a = c.start.duration_since(UNIX_EPOCH).unwrap_or_default();
        let b = c.end.duration_since(UNIX_EPOCH).unwrap_or_default().max(a);
        let total = (b - a).as_secs_f64();
        let mut t = a;
        loop {
            let day = t.as_secs() / 86_400;
            let day_end = Duration::from_secs((day + 1) * 86_400);
            let until = b.min(day_end);
            let secs = (until - t).as_secs_f64();
            let bytes = if total > 0.0 {
                (c.bytes as f64 * secs / total).round() as u64
            } else {
                c.bytes
            };
            match out.iter_mut().find(|d| d.0 == day) {
                Some(d) => {
                    d.1 += bytes;
                    d.2 += secs;
                }
                None => out.push((day, bytes, secs)),
            }
            if until >= b {
                break;
            }
            t = until;
        }
    }
    out.sort_by_key(|d| d.0);
    out
}

/// Sets (`true`) or removes the lock marker of chunk `name`. `Ok(false)` when there is no such
/// chunk (a marker written meanwhile is taken back).
pub fn set_lock(dir: &Path, name: &str, locked: bool) -> io::Result<bool> {
    debug_assert!(is_chunk_name(name));
    let marker = dir.join(format!("{name}{LOCK_EXT}"));
    if !dir.join(name).is_file() {
        return Ok(false);
    }
    if locked {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&marker)?
            .sync_all()?;
    } else {
        match std::fs::remove_file(&marker) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    sync_dir(dir)?;
    // Retention may have deleted the chunk between the check and the marker.
    if !dir.join(name).is_file() {
        let _ = std::fs::remove_file(&marker);
        return Ok(false);
    }
    Ok(true)
}

/// One line of the events file (written by the events API).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventLine {
    /// When it happened.
    pub at: String,
    /// Its label.
    pub label: String,
    /// `"event"` or `"manual"`.
    pub trigger: String,
}

/// The events of `dir`'s events file at `[from, to]` (see the module docs for the bound).
/// Lines that do not parse (a line torn by a crash) are skipped.
pub fn events(
    dir: &Path,
    from: SystemTime,
    to: SystemTime,
) -> io::Result<Vec<(SystemTime, EventLine)>> {
    let mut f = match File::open(dir.join(EVENTS_FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let skip_first = len > MAX_EVENTS_BYTES;
    f.seek(SeekFrom::Start(len.saturating_sub(MAX_EVENTS_BYTES)))?;
    let mut out = Vec::new();
    let r = io::BufReader::new(f.take(MAX_EVENTS_BYTES));
    for (i, line) in r.split(b'\n').enumerate() {
        let line = line?;
        if (i == 0 && skip_first) || line.is_empty() {
            continue; // the cut line
        }
        let Ok(e) = serde_json::from_slice::<EventLine>(&line) else {
            continue;
        };
        let Ok(at) = crate::time::parse_api_time(&e.at, UNIX_EPOCH) else {
            continue;
        };
        if at >= from && at <= to {
            if out.len() == MAX_EVENTS {
                break;
            }
            out.push((at, e));
        }
    }
    Ok(out)
}

/// The playlist `EXTINF` of each segment in milliseconds, rounded so that every running sum
/// is the rounded running sum of the exact durations (the error never adds up).
pub fn extinf_ms(durations: impl Iterator<Item = Pts90k>) -> Vec<u64> {
    let mut total = 0u64;
    let mut shown = 0u64;
    durations
        .map(|d| {
            total += d.0;
            let now = (total + 45) / 90;
            let ms = now - shown;
            shown = now;
            ms
        })
        .collect()
}

#[cfg(test)]
mod tests;
