//! The recorder allocates nothing on the mux thread once warm: a counting global allocator
//! around 10 800 frames of video plus audio through HlsOutput into real files (tmpfs when
//! /dev/shm exists) with a [`Recorder`] consumer writing chunks into a second directory, first
//! in `mode = "continuous"`, then in `mode = "events"` with events (and a manual start/stop)
//! arming and expiring from another thread while the frames flow, the writer reading pre-roll
//! from the live ring. Its own test binary with a single test, so nothing else allocates on the
//! measured thread (the writer's and the arming thread's allocations are not counted: only the
//! mux thread's are the frame path's). Then clip export over the continuous recording, which
//! allocates per segment, never per sample.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
mod hls_support;
#[path = "support/tools.rs"]
mod tools;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hls_support::{t0, Synth};
use hlscam::config::{RecordMode, RecordSettings};
use hlscam::hls::{HlsConfig, HlsOutput};
use hlscam::publish::segment_capacity;
use hlscam::record::events::{Control, EVENTS_FILE};
use hlscam::record::index::{self, FLAG_EVENT};
use hlscam::record::{catalog, clip};
use hlscam::record::{RecordSetup, Recorder};
use hlscam::stats::Stats;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

/// Frames per second of the synthetic stream (2 s segments: an IDR every 60 frames).
const FPS: u64 = 30;

/// The wall clock of frame `f` (what the recorder's windows are in).
fn wall(f: u64) -> std::time::SystemTime {
    t0() + Duration::from_millis(f * 1000 / FPS)
}

/// What the arming thread does at a frame.
#[derive(Clone, Copy)]
enum Arm {
    Event,
    Start,
    Stop,
}

/// An "HTTP thread": arms `ctl` when the mux loop has reached each planned frame.
fn arming_thread(
    ctl: Arc<Control>,
    frame: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    plan: Vec<(u64, Arm)>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut next = 0;
        while next < plan.len() && !done.load(Ordering::SeqCst) {
            let f = frame.load(Ordering::SeqCst);
            if f >= plan[next].0 {
                match plan[next].1 {
                    Arm::Event => {
                        ctl.event("alloc", Some(2), Some(4), wall(f));
                    }
                    Arm::Start => {
                        ctl.start("manual", wall(f));
                    }
                    Arm::Stop => {
                        ctl.stop(wall(f));
                    }
                }
                next += 1;
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        next
    })
}

/// The index records of each chunk in `rec_dir`, by chunk name.
fn recorded(rec_dir: &std::path::Path) -> Vec<Vec<index::IndexRecord>> {
    let mut idx: Vec<_> = std::fs::read_dir(rec_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    idx.sort();
    idx.iter()
        .map(|p| {
            let (recs, torn) = index::parse(&std::fs::read(p).unwrap());
            assert!(!torn, "{}", p.display());
            recs
        })
        .collect()
}

/// 10 800 frames through HlsOutput with a recorder in `mode`, measured; returns the
/// recorder's figures, the recordings directory (to be removed by the caller) and the
/// arming actions done.
fn run(mode: RecordMode, plan: Vec<(u64, Arm)>) -> (Stats, std::path::PathBuf, usize) {
    let name = mode.as_str();
    let dir = tools::fresh_tmpfs_dir(&format!("record-alloc-live-{name}"));
    let rec_dir = tools::fresh_tmpfs_dir(&format!("record-alloc-rec-{name}"));
    let mut out = HlsOutput::open(HlsConfig::new(&dir, 2, 6)).unwrap();
    let settings = RecordSettings {
        mode,
        dir: rec_dir.clone(),
        chunk_minutes: 1,
        fsync_seconds: 1,
        ..RecordSettings::default()
    };
    let stats = Stats::new();
    let rec = Recorder::start(
        RecordSetup::new(&settings, segment_capacity(2000, 2)).with_live_ring(&dir, 12),
        &stats,
    );
    let ctl = rec.control().clone();
    out.add_consumer(Box::new(rec));
    let mut s = Synth::new(90_000 / FPS, 60);
    let mut frames = 0;
    while out.store().dir().join("seg0.ts").exists() || frames < 60 {
        s.step(&mut out, false).unwrap();
        frames += 1;
        assert!(frames < 2000, "ring never rotated");
    }
    let frame = Arc::new(AtomicU64::new(s.frame));
    let done = Arc::new(AtomicBool::new(false));
    let base = s.frame;
    let plan = plan.into_iter().map(|(f, a)| (base + f, a)).collect();
    let armer = arming_thread(ctl, frame.clone(), done.clone(), plan);
    let (published, allocs) = counting_alloc::measure(|| {
        let mut published = 0u64;
        for _ in 0..10_800 {
            if let Ok(Some(_)) = s.step(&mut out, false) {
                published += 1;
            }
            frame.store(s.frame, Ordering::SeqCst);
            if s.frame % 30 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        published
    });
    done.store(true, Ordering::SeqCst);
    let armed = armer.join().unwrap();
    assert_eq!(published, 180);
    assert_eq!(
        allocs, 0,
        "allocations on the mux thread with recording {name}"
    );
    out.finish(true).unwrap();
    drop(out);
    std::fs::remove_dir_all(&dir).unwrap();
    (stats, rec_dir, armed)
}

/// A writer that takes `.0` bytes, then fails like a closed socket.
struct Gone(usize);

impl std::io::Write for Gone {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.0);
        self.0 -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Clip export over the continuous recording: a 100 s and a 300 s clip (50 and 150 segments,
/// 30 pictures and ~47 audio frames a second) allocate for the packet reader's PAT/PMT tables
/// (repeated every 0.5 s or less: ~15 a second) and a fixed set, never per sample (one per
/// picture would add 30 a second); both runs (measuring and writing) give the same bytes; a
/// client that goes away stops the run.
fn clip_allocates_per_segment_only(rec_dir: &std::path::Path) {
    let far = std::time::UNIX_EPOCH + Duration::from_secs(1 << 40);
    let l = catalog::load(rec_dir, None, std::time::UNIX_EPOCH, far).unwrap();
    let first = catalog::wall(&l.chunks[0].records[1]);
    let mut per_second = Vec::new();
    for secs in [100u64, 300] {
        let to = first + Duration::from_secs(secs);
        let c = clip::plan(&l, rec_dir, first, to).unwrap();
        let (m, a1) = counting_alloc::measure(|| c.measure().unwrap());
        let (n, a2) = counting_alloc::measure(|| c.write(&m, &mut std::io::sink()).unwrap());
        assert_eq!(n, m.bytes, "both runs write the same bytes");
        // The video's length, or up to one audio frame (21.3 ms) more.
        let d = u64::from(m.duration_ms);
        assert!((secs * 1000..secs * 1000 + 22).contains(&d), "{m:?}");
        assert!(a1.abs_diff(a2) <= 2, "{a1} vs {a2}");
        // A client gone after the first 100 KB: the error comes back and the run stops at the
        // next segment instead of demuxing the rest (its allocations show how far it read).
        let mut gone = Gone(100_000);
        let (r, a3) = counting_alloc::measure(|| c.write(&m, &mut gone));
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
        assert!(
            a3 * 10 < a2,
            "{a3} allocations after the client left, {a2} in all"
        );
        assert!(a2 < 20 * secs, "{secs} s clip: {a2} allocations");
        per_second.push(a2 as f64 / secs as f64);
    }
    // Three times the samples, no more allocations per second (the fixed set shared out).
    assert!(per_second[1] <= per_second[0], "{per_second:?}");
}

#[test]
fn recorder_allocates_nothing_on_the_mux_thread() {
    let (_, n) = counting_alloc::measure(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1, "the counter works");

    let (stats, rec_dir, _) = run(RecordMode::Continuous, Vec::new());
    let snap = stats.snapshot().record.expect("registered in the status");
    // 180 segments of 2 s at chunk_minutes = 1: several chunks.
    assert!(snap.segments > 100, "segments recorded: {}", snap.segments);
    assert!(snap.chunks >= 6);
    assert_eq!(snap.state, "stopped");
    assert_eq!(snap.errors, 0, "{}", snap.last_error);
    clip_allocates_per_segment_only(&rec_dir);
    std::fs::remove_dir_all(&rec_dir).unwrap();

    // Events every 60 s of media (2 s before, 4 s after: 3 or 4 segments each), and a manual
    // recording of 40 s; nothing in between.
    let mut plan: Vec<(u64, Arm)> = (0..6).map(|k| (900 + k * 1800, Arm::Event)).collect();
    plan.insert(3, (5000, Arm::Start));
    plan.insert(4, (6000, Arm::Stop));
    let (stats, rec_dir, armed) = run(RecordMode::Events, plan);
    assert_eq!(armed, 8, "every arming happened while the frames flowed");
    let snap = stats.snapshot().record.expect("registered in the status");
    assert_eq!(snap.state, "stopped");
    assert_eq!(snap.errors, 0, "{}", snap.last_error);
    // One chunk per window: each event's [t − 2, t + 4] is 3 or 4 segments of 2 s, the manual
    // one 33 s + 5 s of pre-roll ≈ 20; far fewer than the 180 the stream had.
    let chunks = recorded(&rec_dir);
    assert_eq!(chunks.len(), 7, "one chunk per window");
    let n: usize = chunks.iter().map(Vec::len).sum();
    assert!(
        (6 * 3 + 18..=6 * 4 + 22).contains(&n),
        "segments recorded: {n}"
    );
    assert!(chunks.iter().flatten().all(|r| r.flags & FLAG_EVENT != 0));
    // Each window's recording begins at or before its start: the pre-roll came from the ring.
    let log = std::fs::read_to_string(rec_dir.join(EVENTS_FILE)).unwrap();
    assert_eq!(log.lines().count(), 8, "{log}");
    let froms: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["trigger"] == "event" || !v["to"].is_null())
        .map(|v| {
            let t = hlscam::time::parse_api_time(v["from"].as_str().unwrap(), t0()).unwrap();
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
        })
        .collect();
    assert_eq!(froms.len(), 7);
    for (recs, from) in chunks.iter().zip(&froms) {
        assert!(
            recs[0].wall_ns <= *from,
            "pre-roll: {} > {from}",
            recs[0].wall_ns
        );
        assert!(
            recs[0].wall_ns + 2_100_000_000 > *from,
            "whole segments only"
        );
    }
    std::fs::remove_dir_all(&rec_dir).unwrap();
}
