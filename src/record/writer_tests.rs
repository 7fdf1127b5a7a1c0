//! The writer with a simulated wall clock: steps forwards by years and backwards (chunk
//! names, flags, no byte lost or overwritten), an unsynchronised clock, and events mode
//! (due segments only, pre-roll from the live ring's files, a deleted one skipped).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::config::RecordSettings;
use crate::record::events::Recent;
use crate::record::index::{self, FLAG_CLOCK_STEP, FLAG_EVENT, FLAG_UNSYNCED};
use crate::record::{RecordStatus, Shared};

static SYNCED: AtomicBool = AtomicBool::new(true);

fn fake_synced() -> bool {
    SYNCED.load(Ordering::SeqCst)
}

fn fresh(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("hlscam-writer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn writer(dir: &Path, live: &Path, mode: RecordMode) -> (Writer, Arc<Shared>) {
    let settings = RecordSettings {
        mode,
        dir: dir.to_path_buf(),
        chunk_minutes: 5,
        fsync_seconds: 1,
        // Not about free space: a nearly full disk (CI after the cross builds) must not make
        // retention delete the chunks under test.
        min_free_percent: 0,
        ..RecordSettings::default()
    };
    let mut setup = RecordSetup::new(&settings, 1 << 20).with_live_ring(live, 12);
    setup.synced = fake_synced;
    let status = Arc::new(RecordStatus::new(dir.display().to_string()));
    let shared = Shared::new(Vec::new(), status, &setup);
    (Writer::new(shared.clone(), setup), shared)
}

/// A segment of `n` packets: a PAT first (what a repair cuts at), then packets whose bytes
/// name the segment.
fn seg_bytes(seq: u64, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * 188);
    for i in 0..n {
        let mut p = [(seq as u8) ^ (i as u8); 188];
        p[0] = 0x47;
        if i == 0 {
            p[1..4].copy_from_slice(&[0x40, 0x00, 0x10]);
        } else {
            p[1..4].copy_from_slice(&[0x01, 0x00, 0x10]);
        }
        v.extend_from_slice(&p);
    }
    v
}

fn done(seq: u64, wall: SystemTime, bytes: usize) -> SegmentDone {
    SegmentDone {
        seq,
        start: Pts90k(90_000 + seq * 180_000),
        duration: Pts90k(180_000),
        wall,
        discontinuity: false,
        bytes: bytes as u64,
        map: 0,
    }
}

fn seg(seq: u64, wall: SystemTime) -> SegBuf {
    let data = seg_bytes(seq, 3 + seq as usize % 4);
    SegBuf {
        done: done(seq, wall, data.len()),
        data,
        gap: false,
    }
}

/// The chunks in `dir` by name, each with its bytes and index records (which must cover it).
fn chunks(dir: &Path) -> Vec<(String, Vec<u8>, Vec<IndexRecord>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| is_chunk_name(n))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let data = std::fs::read(dir.join(&n)).unwrap();
            let idx = std::fs::read(dir.join(format!("{n}{INDEX_EXT}"))).unwrap();
            let (recs, torn) = index::parse(&idx);
            assert!(!torn, "{n}: torn index");
            assert_eq!(recs.last().map_or(0, |r| r.end()), data.len() as u64, "{n}");
            (n, data, recs)
        })
        .collect()
}

#[test]
fn clock_steps_forward_and_back_begin_new_chunks_and_keep_every_byte() {
    let dir = fresh("steps");
    let (mut w, _shared) = writer(&dir, &dir, RecordMode::Continuous);
    let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
    let y2026 = 1_796_601_600; // 2026-12-07T00:00:00Z
                               // Boot at 1970 (no RTC, no NTP): 3 segments unsynced. NTP steps the clock forward by 56
                               // years: 3 more. Then it steps back by 4 s, onto the second the 2026 chunk began at (its
                               // name is taken), and later back by 55 years.
    let mut walls = Vec::new();
    SYNCED.store(false, Ordering::SeqCst);
    for i in 0..3 {
        walls.push(at(10 + 2 * i));
    }
    let mut segs: Vec<SegBuf> = Vec::new();
    for (i, wall) in walls.iter().enumerate() {
        segs.push(seg(i as u64, *wall));
    }
    for s in &segs {
        w.record(s);
    }
    SYNCED.store(true, Ordering::SeqCst);
    let later = [
        (3, at(y2026)),
        (4, at(y2026 + 2)),
        (5, at(y2026 + 4)),
        // Back by 6 s + 2 s of media: the same second as seg3, whose chunk has that name.
        (6, at(y2026)),
        (7, at(y2026 + 2)),
        // Back by 55 years.
        (8, at(y2026 - 55 * 365 * 86_400)),
        (9, at(y2026 - 55 * 365 * 86_400 + 2)),
    ];
    for (seq, wall) in later {
        let s = seg(seq, wall);
        w.record(&s);
        segs.push(s);
    }
    w.close();
    let c = chunks(&dir);
    let names: Vec<&str> = c.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "19700101T000010Z.ts",
            "19711221T000000Z.ts", // 56 years − 55 × 365 days (leap days) after 1970
            "20261207T000000Z-1.ts",
            "20261207T000000Z.ts",
        ]
    );
    let seqs = |i: usize| c[i].2.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(0), [0, 1, 2]);
    assert_eq!(seqs(3), [3, 4, 5]);
    assert_eq!(seqs(2), [6, 7]);
    assert_eq!(seqs(1), [8, 9]);
    let flags = |i: usize| c[i].2.iter().map(|r| r.flags).collect::<Vec<_>>();
    let step = FLAG_CLOCK_STEP | FLAG_DISCONTINUITY;
    assert_eq!(flags(0), [FLAG_UNSYNCED; 3]);
    assert_eq!(flags(3), [step, 0, 0]);
    assert_eq!(flags(2), [step, 0]);
    assert_eq!(flags(1), [step, 0]);
    // Every byte, once, in recording order (seq order = the order the records say).
    let mut by_seq: Vec<(u64, Vec<u8>)> = Vec::new();
    for (_, data, recs) in &c {
        for r in recs {
            by_seq.push((r.seq, data[r.offset as usize..r.end() as usize].to_vec()));
        }
    }
    by_seq.sort_by_key(|(s, _)| *s);
    assert_eq!(by_seq.len(), segs.len());
    for ((s, bytes), want) in by_seq.iter().zip(&segs) {
        assert_eq!(*s, want.done.seq);
        assert_eq!(bytes, &want.data, "seg{s} intact");
    }
    // Wall clocks in the index are the clock's, steps and all.
    assert_eq!(c[3].2[0].wall_ns, y2026 * 1_000_000_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Events mode through the writer's loop: the mux thread's recent ring (segments 0..=11 of
/// 2 s; 0..=5 not queued, 6..=11 queued) and live ring files for 0..=5.
fn run_events(
    name: &str,
    delete: &[u64],
    no_disk: bool,
) -> (std::path::PathBuf, Vec<SegBuf>, Arc<Shared>) {
    let dir = fresh(name);
    let live = dir.join("live");
    std::fs::create_dir_all(&live).unwrap();
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let (w, shared) = writer(&rec, &live, RecordMode::Events);
    let t0 = 1_796_601_600;
    let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(t0 * 1000 + ms);
    let segs: Vec<SegBuf> = (0..12).map(|i| seg(i, at(2000 * i))).collect();
    for s in &segs[..6] {
        if !delete.contains(&s.done.seq) {
            std::fs::write(live.join(format!("seg{}.ts", s.done.seq)), &s.data).unwrap();
        }
    }
    // An event during seg6 with 5 s before and 4 s after: [7.5 s, 16.5 s] → seg3..=seg8.
    // A second one at 22.5 s with neither: seg11 alone.
    let ctl = shared.control.clone();
    ctl.event("door", None, Some(4), at(12_500));
    ctl.event("bell", Some(0), Some(0), at(22_500));
    {
        let mut q = shared.lock();
        for s in &segs {
            let queued = s.done.seq >= 6;
            let _ = q.recent.push_back(Recent {
                done: s.done,
                queued,
            });
            if queued {
                // As if the mux thread had found no free buffer for seg5: the writer reads it
                // from the ring, so seg6 follows it and no discontinuity is marked.
                q.jobs.push_back(SegBuf {
                    data: s.data.clone(),
                    done: s.done,
                    gap: s.done.seq == 6,
                });
            }
        }
        q.closed = true;
    }
    if no_disk {
        std::fs::remove_dir(&rec).unwrap();
    }
    w.run();
    (rec, segs, shared)
}

#[test]
fn events_mode_records_due_segments_only_with_preroll_from_the_live_ring() {
    let (rec, segs, _) = run_events("events", &[], false);
    let log = std::fs::read_to_string(rec.join(EVENTS_FILE)).unwrap();
    let c = chunks(&rec);
    let names: Vec<&str> = c.iter().map(|(n, _, _)| n.as_str()).collect();
    // Named by their first segments' wall clocks: seg3 at 6 s, seg11 at 22 s.
    assert_eq!(names, ["20261207T000006Z.ts", "20261207T000022Z.ts"]);
    let seqs: Vec<u64> = c[0].2.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        [3, 4, 5, 6, 7, 8],
        "whole segments covering [t − pre, t + post]"
    );
    assert_eq!(c[1].2.iter().map(|r| r.seq).collect::<Vec<_>>(), [11]);
    for (_, data, recs) in &c {
        for r in recs {
            assert_eq!(r.flags, FLAG_EVENT, "seg{}", r.seq);
            let want = &segs[r.seq as usize].data;
            assert_eq!(&data[r.offset as usize..r.end() as usize], &want[..]);
        }
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["label"], "door");
    assert_eq!(lines[0]["trigger"], "event");
    assert_eq!(lines[0]["at"], "2026-12-07T00:00:12.500Z");
    assert_eq!(lines[0]["from"], "2026-12-07T00:00:07.500Z");
    assert_eq!(lines[0]["to"], "2026-12-07T00:00:16.500Z");
    assert_eq!(lines[1]["label"], "bell");
    std::fs::remove_dir_all(rec.parent().unwrap()).unwrap();
}

#[test]
fn a_preroll_segment_the_live_ring_deleted_is_skipped() {
    let (rec, _, _) = run_events("events-deleted", &[3], false);
    let c = chunks(&rec);
    let seqs: Vec<u64> = c[0].2.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [4, 5, 6, 7, 8]);
    assert_eq!(c[0].0, "20261207T000008Z.ts");
    std::fs::remove_dir_all(rec.parent().unwrap()).unwrap();
}

#[test]
fn a_missing_disk_drops_each_due_segment_once_and_writes_nowhere() {
    let (rec, _, shared) = run_events("events-no-disk", &[], true);
    assert!(
        !rec.exists(),
        "nothing created in place of the missing directory"
    );
    // Due: seg3..=seg8 and seg11, each dropped once (not once per round of the writer).
    let st = shared.status.snapshot();
    assert_eq!((st.state, st.dropped, st.segments), ("stopped", 7, 0));
    // The event lines wait for the disk.
    assert_eq!(shared.control.take_lines().len(), 2);
    std::fs::remove_dir_all(rec.parent().unwrap()).unwrap();
}
