//! Catalog tests over a temporary directory of chunk and index files built from simulated
//! records (no recorder, no clock: wall times are arguments).

use super::*;
use crate::record::chunk::chunk_name;
use std::path::PathBuf;

const T0: u64 = 1_780_000_000; // 2026-05-28T20:26:40Z
const SEG: u64 = 180_000; // 2 s

/// A scratch directory (`repair`'s test helper), removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        Dir(crate::record::repair::tests::tmpdir(&format!("cat-{tag}")))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0 * 1000 + ms)
}

/// `n` contiguous 2 s records starting at wall `ms` (after T0) and PTS `pts`, 1000 bytes each.
fn run(ms: u64, pts: u64, n: u64, flags: u32) -> Vec<IndexRecord> {
    (0..n)
        .map(|i| IndexRecord {
            offset: i * 1000,
            len: 1000,
            duration: Pts90k(SEG),
            pts: Pts90k(pts + i * SEG),
            wall_ns: (T0 * 1000 + ms + i * 2000) * 1_000_000,
            seq: i,
            flags: if i == 0 { flags } else { 0 },
        })
        .collect()
}

/// Writes a chunk (named by its first record's wall clock) and its index.
fn write_chunk(dir: &Path, recs: &[IndexRecord]) -> String {
    let name = chunk_name(wall(&recs[0]), 0);
    let len = recs.last().map_or(0, |r| r.end());
    std::fs::write(dir.join(&name), vec![0x47u8; len as usize]).unwrap();
    let idx: Vec<u8> = recs.iter().flat_map(|r| r.encode()).collect();
    std::fs::write(dir.join(format!("{name}{INDEX_EXT}")), idx).unwrap();
    name
}

/// Two chunks of one run (contiguous), a 7 s hole, then a chunk of a new run (new PTS base).
fn fixture(d: &Dir) -> [String; 3] {
    let a = write_chunk(&d.0, &run(0, 90_000, 30, FLAG_DISCONTINUITY));
    let b = write_chunk(&d.0, &run(60_000, 90_000 + 30 * SEG, 30, 0));
    let c = write_chunk(&d.0, &run(127_000, 5_000_000, 10, FLAG_DISCONTINUITY));
    [a, b, c]
}

#[test]
fn spans_and_gaps_within_and_between_chunks() {
    let d = Dir::new("spans");
    let [a, b, c] = fixture(&d);
    let l = load(&d.0, Some(&c), at(0), at(200_000)).unwrap();
    assert_eq!(l.truncated, None);
    assert_eq!(l.chunks.len(), 3);
    assert!(l.chunks[2].growing && !l.chunks[0].growing);
    let s = l.chunks[0].span().unwrap();
    assert_eq!((s.start, s.end, s.bytes), (at(0), at(60_000), 30_000));
    assert!(!s.event && !s.unsynced);
    assert_eq!(spans_in(&l, at(0), at(200_000)), [0, 1, 2]);
    // Chunk boundaries of one run are no gap; the restart is.
    assert_eq!(gaps(&l, at(0), at(200_000)), [(at(120_000), at(127_000))]);
    // A range inside the first chunk sees one span and no gap.
    let l = load(&d.0, None, at(10_000), at(20_000)).unwrap();
    assert_eq!(l.chunks[0].info.name, a);
    assert_eq!(spans_in(&l, at(10_000), at(20_000)), [0]);
    assert!(gaps(&l, at(10_000), at(20_000)).is_empty());
    // A range in the hole: no span, the gap.
    let l = load(&d.0, None, at(121_000), at(125_000)).unwrap();
    assert!(spans_in(&l, at(121_000), at(125_000)).is_empty());
    assert_eq!(gaps(&l, at(121_000), at(125_000)).len(), 1);
    // A hole inside a chunk (dropped segments) is a gap too; a hole of 1 s or less is not.
    let mut recs = run(300_000, 9_000_000, 6, 0);
    for r in &mut recs[3..] {
        r.wall_ns += 4_000_000_000;
        r.pts.0 += 4 * 90_000;
    }
    recs[1].wall_ns += 900_000_000;
    write_chunk(&d.0, &recs);
    let l = load(&d.0, None, at(300_000), at(400_000)).unwrap();
    assert_eq!(
        gaps(&l, at(300_000), at(400_000)),
        [(at(306_000), at(310_000))]
    );
    let _ = b;
}

#[test]
fn vod_segments_mark_every_discontinuity() {
    let d = Dir::new("segs");
    let [a, b, c] = fixture(&d);
    let l = load(&d.0, None, at(0), at(200_000)).unwrap();
    let segs = segments(&l, at(0), at(200_000));
    assert_eq!(segs.len(), 70);
    assert_eq!(segs[0].chunk, a);
    assert_eq!(segs[30].chunk, b);
    assert_eq!(segs[60].chunk, c);
    let disc: Vec<usize> = (0..segs.len()).filter(|&i| segs[i].discontinuity).collect();
    assert_eq!(disc, [60], "only the restart, not the chunk boundary");
    // Overlap, not containment: 61 s .. 63 s touches the segments at 60 s and 62 s.
    let segs = segments(&l, at(61_000), at(63_000));
    assert_eq!(segs.len(), 2);
    assert_eq!(wall(&segs[0].rec), at(60_000));
    // Flags and PTS jumps without a wall-clock hole are discontinuities too.
    let r = run(0, 90_000, 3, 0);
    assert!(!breaks(&r[0], &r[1]));
    let mut step = r[1];
    step.flags = FLAG_CLOCK_STEP;
    assert!(breaks(&r[0], &step));
    let mut jump = r[1];
    jump.pts.0 += 90_000;
    assert!(breaks(&r[0], &jump));
    // A PTS that wraps at 2^33 continues.
    let mut before = r[0];
    before.pts = Pts90k(PTS_MOD - SEG / 2);
    let mut after = r[1];
    after.pts = Pts90k(SEG / 2);
    assert!(!breaks(&before, &after));
}

#[test]
fn load_reads_at_most_the_budget_and_only_chunks_in_range() {
    let d = Dir::new("budget");
    fixture(&d);
    let l = load_bounded(&d.0, None, at(0), at(200_000), 40).unwrap();
    assert_eq!(l.chunks.iter().map(|c| c.records.len()).sum::<usize>(), 40);
    assert_eq!(l.chunks.len(), 2);
    assert_eq!(l.truncated, Some(at(80_000)));
    assert_eq!(l.chunks[1].records.len(), 10);
    let l = load_bounded(&d.0, None, at(0), at(200_000), 60).unwrap();
    assert_eq!(l.truncated, Some(at(120_000)));
    // The third chunk alone: the first two end before `from`.
    let l = load(&d.0, None, at(130_000), at(200_000)).unwrap();
    assert_eq!(l.chunks.len(), 1);
    assert_eq!(l.chunks[0].records.len(), 10);
    // A range before the third chunk reads one record of it (where the gap ends), no more.
    let l = load(&d.0, None, at(70_000), at(80_000)).unwrap();
    assert_eq!(l.chunks.len(), 2);
    assert_eq!(l.chunks[1].records.len(), 1);
    assert_eq!(segments(&l, at(70_000), at(80_000)).len(), 6);
}

#[test]
fn days_split_at_midnight_and_summaries_read_first_and_last() {
    let d = Dir::new("days");
    fixture(&d);
    let all = Fs { dir: d.0.clone() }.chunks().unwrap();
    let s = summaries(&d.0, &all).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(
        (s[0].start, s[0].end, s[0].bytes),
        (at(0), at(60_000), 30_000)
    );
    let days_ = days(&s);
    assert_eq!(days_.len(), 1);
    assert_eq!(days_[0].0, T0 / 86_400);
    assert_eq!(days_[0].1, 70_000);
    assert!((days_[0].2 - 140.0).abs() < 1e-6);
    // 23:59:00 .. 00:01:00 UTC: 60 s on each day, bytes split in half.
    let midnight = (T0 / 86_400 + 1) * 86_400;
    let span = Summary {
        info: s[0].info.clone(),
        start: UNIX_EPOCH + Duration::from_secs(midnight - 60),
        end: UNIX_EPOCH + Duration::from_secs(midnight + 60),
        bytes: 1000,
    };
    let two = days(&[span]);
    assert_eq!(two.len(), 2);
    assert_eq!((two[0].1, two[1].1), (500, 500));
    assert!((two[0].2 - 60.0).abs() < 1e-9 && (two[1].2 - 60.0).abs() < 1e-9);
    // A torn last record: the full parse finds the last valid one.
    let name = &s[2].info.name;
    let idx = d.0.join(format!("{name}{INDEX_EXT}"));
    let mut bytes = std::fs::read(&idx).unwrap();
    bytes.extend_from_slice(&[0xA5; RECORD_LEN]);
    std::fs::write(&idx, bytes).unwrap();
    let (_, last) = first_last(&d.0, name).unwrap().unwrap();
    assert_eq!(last.seq, 9);
}

#[test]
fn locks_are_marker_files_and_listed() {
    let d = Dir::new("locks");
    let [a, ..] = fixture(&d);
    assert!(set_lock(&d.0, &a, true).unwrap());
    assert!(d.0.join(format!("{a}{LOCK_EXT}")).is_file());
    assert!(set_lock(&d.0, &a, true).unwrap(), "locking twice is fine");
    let l = load(&d.0, None, at(0), at(200_000)).unwrap();
    assert!(l.chunks[0].info.locked && !l.chunks[1].info.locked);
    assert!(set_lock(&d.0, &a, false).unwrap());
    assert!(!d.0.join(format!("{a}{LOCK_EXT}")).exists());
    assert!(!set_lock(&d.0, "20000101T000000Z.ts", true).unwrap());
    assert!(!d.0.join("20000101T000000Z.ts.lock").exists());
}

#[test]
fn events_skip_torn_and_foreign_lines() {
    let d = Dir::new("events");
    assert!(events(&d.0, at(0), at(1000)).unwrap().is_empty());
    let line = |ms: u64, label: &str| {
        format!(
            "{{\"at\":\"{}\",\"label\":\"{label}\",\"trigger\":\"event\",\"from\":\"{}\",\"to\":null}}\n",
            crate::time::rfc3339(at(ms)),
            crate::time::rfc3339(at(ms))
        )
    };
    let mut text = line(100, "door") + "not json\n" + &line(5000, "late") + &line(200, "bell");
    text.push_str("{\"at\":\"2026-05-28T20:2"); // torn by a crash
    std::fs::write(d.0.join(EVENTS_FILE), text).unwrap();
    let ev = events(&d.0, at(0), at(1000)).unwrap();
    let labels: Vec<&str> = ev.iter().map(|(_, e)| e.label.as_str()).collect();
    assert_eq!(labels, ["door", "bell"]);
    assert_eq!(ev[0].0, at(100));
    assert_eq!(ev[0].1.trigger, "event");
}

#[test]
fn extinf_rounding_never_adds_up() {
    // 3 × 1.0005 s: each alone would round to 1.001 (sum 3.003); the running sums give 3.002.
    let ms = extinf_ms([Pts90k(90_045); 3].into_iter());
    assert_eq!(ms.iter().sum::<u64>(), (3 * 90_045 + 45) / 90);
    let many = extinf_ms(std::iter::repeat(Pts90k(179_997)).take(1000));
    let exact_ms = 179_997.0 * 1000.0 / 90.0;
    assert!((many.iter().sum::<u64>() as f64 - exact_ms).abs() <= 0.5);
}
