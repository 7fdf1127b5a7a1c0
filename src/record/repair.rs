//! Repair at start: makes every chunk in the recordings directory consistent with its index
//! after a crash or a power cut (DESIGN §2 item 20: the index only names bytes that were
//! fsynced, so the index is the truth and the chunk is cut to it).
//!
//! - Temporaries (`*.tmp`) are removed; an index without its chunk is removed.
//! - An index's torn or invalid tail (short record, CRC, offsets not contiguous, beyond the
//!   chunk's end) is dropped, and the chunk truncated to the end of its last indexed segment.
//! - A chunk without index (a crash between its creation and its first fsync, or a delete cut
//!   between the index and the chunk) is scanned ([`super::chunk::scan`]): segments beginning
//!   with PAT and an IDR video PES are indexed except the last one, which may be torn.
//! - A chunk left with no segment is deleted (index first).
//!
//! New index files are written as `*.tmp`, fsynced, renamed and the directory fsynced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::chunk::{is_chunk_name, scan, INDEX_EXT, TMP_EXT};
use super::index::{self, IndexRecord, FLAG_DISCONTINUITY, FLAG_REBUILT};
use super::retention::start_of;

/// What a repair did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Chunks looked at.
    pub chunks: usize,
    /// One line per change.
    pub changes: Vec<String>,
    /// Chunks changed (index rewritten or rebuilt, chunk truncated or deleted).
    pub repaired: usize,
}

/// fsyncs the directory `dir`.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn write_index(dir: &Path, name: &str, recs: &[IndexRecord]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}{INDEX_EXT}{TMP_EXT}"));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    let mut bytes = Vec::with_capacity(recs.len() * index::RECORD_LEN);
    for r in recs {
        bytes.extend_from_slice(&r.encode());
    }
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(format!("{name}{INDEX_EXT}")))?;
    sync_dir(dir)
}

/// Index records rebuilt from a chunk's bytes (see the module docs).
pub fn rebuild(name: &str, bytes: &[u8]) -> Vec<IndexRecord> {
    let found = scan(bytes);
    let t0 = start_of(name).unwrap_or(std::time::UNIX_EPOCH);
    let mut out: Vec<IndexRecord> = Vec::new();
    let keep = found.len().saturating_sub(1);
    let first_pts = found.first().and_then(|f| f.pts);
    for (i, f) in found.iter().take(keep).enumerate() {
        let (Some(pts), true) = (f.pts, f.idr) else {
            break;
        };
        let next = found[i + 1].pts.unwrap_or(pts);
        let since = pts.0.saturating_sub(first_pts.unwrap_or(pts).0);
        let wall = t0 + Duration::from_nanos(since.saturating_mul(100_000) / 9);
        out.push(IndexRecord {
            offset: f.offset,
            len: f.len as u32,
            duration: next.saturating_sub(pts),
            pts,
            wall_ns: wall
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64,
            seq: 0,
            flags: FLAG_REBUILT | if i == 0 { FLAG_DISCONTINUITY } else { 0 },
        });
    }
    out
}

fn delete(dir: &Path, name: &str) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(format!("{name}{INDEX_EXT}"))) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::remove_file(dir.join(name))
}

/// Repairs one chunk `name` in `dir`.
fn repair_chunk(dir: &Path, name: &str, report: &mut Report) -> std::io::Result<()> {
    let path = dir.join(name);
    let len = std::fs::metadata(&path)?.len();
    let idx = dir.join(format!("{name}{INDEX_EXT}"));
    let (recs, changed) = match std::fs::read(&idx) {
        Ok(bytes) => {
            let (mut recs, torn) = index::parse(&bytes);
            let before = recs.len();
            recs.retain(|r| r.end() <= len);
            let changed = torn || recs.len() != before;
            if changed {
                report.changes.push(format!(
                    "{name}: index tail dropped ({} of {} bytes valid, {} records kept)",
                    recs.len() * index::RECORD_LEN,
                    bytes.len(),
                    recs.len()
                ));
            }
            (recs, changed)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let recs = rebuild(name, &std::fs::read(&path)?);
            report.changes.push(format!(
                "{name}: index missing, rebuilt from the chunk ({} segments)",
                recs.len()
            ));
            (recs, true)
        }
        Err(e) => return Err(e),
    };
    let end = recs.last().map_or(0, IndexRecord::end);
    if recs.is_empty() {
        delete(dir, name)?;
        report
            .changes
            .push(format!("{name}: no whole segment indexed, deleted"));
        report.repaired += 1;
        return Ok(());
    }
    if changed {
        write_index(dir, name, &recs)?;
    }
    if len > end {
        let f = OpenOptions::new().write(true).open(&path)?;
        f.set_len(end)?;
        f.sync_all()?;
        report.changes.push(format!(
            "{name}: truncated from {len} to {end} bytes (end of its last indexed segment)"
        ));
    }
    if changed || len > end {
        report.repaired += 1;
    }
    Ok(())
}

/// Repairs the directory (see the module docs).
pub fn repair(dir: &Path) -> std::io::Result<Report> {
    let mut report = Report::default();
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for n in &names {
        if n.ends_with(TMP_EXT) {
            std::fs::remove_file(dir.join(n))?;
            report.changes.push(format!("{n}: temporary removed"));
        } else if let Some(chunk) = n.strip_suffix(INDEX_EXT) {
            if is_chunk_name(chunk) && !names.iter().any(|c| c == chunk) {
                std::fs::remove_file(dir.join(n))?;
                report
                    .changes
                    .push(format!("{n}: index without chunk removed"));
            }
        }
    }
    for n in names.iter().filter(|n| is_chunk_name(n)) {
        report.chunks += 1;
        repair_chunk(dir, n, &mut report)?;
    }
    if !report.changes.is_empty() {
        sync_dir(dir)?;
    }
    Ok(report)
}

/// `Pts90k` of a duration in seconds (fixtures).
#[cfg(test)]
fn secs(s: u64) -> crate::time::Pts90k {
    crate::time::Pts90k(s * 90_000)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::time::Pts90k;

    /// A fake segment: PAT, PMT, then a video PES start with RAI and `pts`, then `extra`
    /// packets of payload.
    fn segment(pts: u64, extra: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pkt = |pid: u16, pusi: bool, adapt_rai: bool, payload: &[u8]| {
            let mut p = [0xFFu8; 188];
            p[0] = 0x47;
            p[1] = (if pusi { 0x40 } else { 0 }) | (pid >> 8) as u8;
            p[2] = pid as u8;
            let mut at = 4;
            if adapt_rai {
                p[3] = 0x30;
                p[4] = 1;
                p[5] = 0x40;
                at = 6;
            } else {
                p[3] = 0x10;
            }
            p[at..at + payload.len()].copy_from_slice(payload);
            out.extend_from_slice(&p);
        };
        pkt(0, true, false, &[0, 0, 0xB0]);
        pkt(0x1000, true, false, &[0, 2, 0xB0]);
        let t = pts;
        let pes = [
            0,
            0,
            1,
            0xE0,
            0,
            0,
            0x80,
            0x80,
            5,
            0x21 | ((t >> 29) & 0x0E) as u8,
            (t >> 22) as u8,
            0x01 | ((t >> 14) & 0xFE) as u8,
            (t >> 7) as u8,
            0x01 | ((t << 1) & 0xFE) as u8,
        ];
        pkt(0x100, true, true, &pes);
        for _ in 0..extra {
            pkt(0x100, false, false, &[]);
        }
        out
    }

    /// A fresh, empty directory under the system temp dir for the record tests.
    pub(crate) fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hlscam-rec-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const NAME: &str = "20260528T202640Z.ts";

    fn records(segs: &[Vec<u8>]) -> Vec<IndexRecord> {
        let mut off = 0;
        segs.iter()
            .enumerate()
            .map(|(i, s)| {
                let r = IndexRecord {
                    offset: off,
                    len: s.len() as u32,
                    duration: secs(2),
                    pts: secs(1 + 2 * i as u64),
                    wall_ns: 0,
                    seq: i as u64,
                    flags: 0,
                };
                off += s.len() as u64;
                r
            })
            .collect()
    }

    #[test]
    fn torn_index_and_chunk_tails_are_cut_to_the_last_whole_segment() {
        let d = tmpdir("torn");
        let segs: Vec<Vec<u8>> = (0..3)
            .map(|i| segment(90_000 + i * 180_000, 5 + i as usize))
            .collect();
        let recs = records(&segs);
        let mut chunk: Vec<u8> = segs.concat();
        chunk.extend_from_slice(&[0xA5; 1000]); // a torn segment after the last fsync
        let mut idx: Vec<u8> = recs[..2].iter().flat_map(|r| r.encode()).collect();
        idx.extend_from_slice(&[0xA5; 30]); // a torn record
        std::fs::write(d.join(NAME), &chunk).unwrap();
        std::fs::write(d.join(format!("{NAME}.idx")), &idx).unwrap();
        std::fs::write(d.join("x.ts.idx.tmp"), b"junk").unwrap();
        let r = repair(&d).unwrap();
        assert_eq!((r.chunks, r.repaired), (1, 1), "{:?}", r.changes);
        assert!(!d.join("x.ts.idx.tmp").exists());
        let end = recs[1].end();
        assert_eq!(std::fs::read(d.join(NAME)).unwrap(), segs[..2].concat());
        assert_eq!(std::fs::metadata(d.join(NAME)).unwrap().len(), end);
        let (back, torn) = index::parse(&std::fs::read(d.join(format!("{NAME}.idx"))).unwrap());
        assert_eq!((back, torn), (recs[..2].to_vec(), false));
        // A second repair has nothing to do.
        let again = repair(&d).unwrap();
        assert!(again.changes.is_empty(), "{:?}", again.changes);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_missing_index_is_rebuilt_from_the_ts_without_the_last_segment() {
        let d = tmpdir("rebuild");
        let segs: Vec<Vec<u8>> = (0..4).map(|i| segment(90_000 + i * 180_000, 3)).collect();
        let mut chunk = segs.concat();
        chunk.extend_from_slice(&[0xA5; 77]);
        std::fs::write(d.join(NAME), &chunk).unwrap();
        let r = repair(&d).unwrap();
        assert_eq!(r.repaired, 1, "{:?}", r.changes);
        let (back, _) = index::parse(&std::fs::read(d.join(format!("{NAME}.idx"))).unwrap());
        assert_eq!(back.len(), 3);
        for (i, b) in back.iter().enumerate() {
            assert_eq!(b.offset, (i * segs[0].len()) as u64);
            assert_eq!(b.pts, Pts90k(90_000 + i as u64 * 180_000));
            assert_eq!(b.duration, secs(2));
            assert_ne!(b.flags & FLAG_REBUILT, 0);
        }
        assert_eq!(std::fs::read(d.join(NAME)).unwrap(), segs[..3].concat());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn chunks_with_nothing_whole_and_orphan_indexes_are_deleted() {
        let d = tmpdir("empty");
        std::fs::write(d.join(NAME), [0xA5; 500]).unwrap();
        std::fs::write(d.join(format!("{NAME}.idx")), []).unwrap();
        std::fs::write(d.join("20260101T000000Z.ts.idx"), [0xA5; 48]).unwrap();
        std::fs::write(d.join("notes.txt"), b"kept").unwrap();
        let r = repair(&d).unwrap();
        assert_eq!(r.repaired, 1, "{:?}", r.changes);
        let left: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["notes.txt"]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
