//! The recorder allocates nothing on the mux thread once warm: a counting global allocator
//! around 10 800 frames of video plus audio through HlsOutput into real files (tmpfs when
//! /dev/shm exists) with a [`Recorder`] consumer writing chunks into a second directory. Its
//! own test binary with a single test, so nothing else allocates on the measured thread (the
//! writer thread's allocations are not counted: only the mux thread's are the frame path's).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
mod hls_support;
#[path = "support/tools.rs"]
mod tools;

use std::sync::atomic::Ordering;

use hls_support::Synth;
use hlscam::config::RecordSettings;
use hlscam::hls::{HlsConfig, HlsOutput};
use hlscam::publish::segment_capacity;
use hlscam::record::{RecordSetup, Recorder};
use hlscam::stats::Stats;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn recorder_allocates_nothing_on_the_mux_thread() {
    let (_, n) = counting_alloc::measure(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1, "the counter works");

    let dir = tools::fresh_tmpfs_dir("record-alloc-live");
    let rec_dir = tools::fresh_tmpfs_dir("record-alloc-rec");
    let mut out = HlsOutput::open(HlsConfig::new(&dir, 2, 6)).unwrap();
    let settings = RecordSettings {
        dir: rec_dir.clone(),
        chunk_minutes: 1,
        fsync_seconds: 1,
        ..RecordSettings::default()
    };
    let stats = Stats::new();
    let rec = Recorder::start(
        RecordSetup::new(&settings, segment_capacity(2000, 2)),
        &stats,
    );
    let status = rec.status().clone();
    out.add_consumer(Box::new(rec));
    let mut s = Synth::new(3000, 60);
    let mut frames = 0;
    while out.store().dir().join("seg0.ts").exists() || frames < 60 {
        s.step(&mut out, false).unwrap();
        frames += 1;
        assert!(frames < 2000, "ring never rotated");
    }
    let (published, allocs) = counting_alloc::measure(|| {
        let mut published = 0u64;
        for _ in 0..10_800 {
            if let Ok(Some(_)) = s.step(&mut out, false) {
                published += 1;
            }
            if s.frame % 30 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        published
    });
    assert_eq!(published, 180);
    assert_eq!(allocs, 0, "allocations on the mux thread with recording on");
    out.finish(true).unwrap();
    drop(out);
    let written = status.segments.load(Ordering::SeqCst);
    assert!(written > 100, "segments recorded: {written}");
    // 180 segments of 2 s at chunk_minutes = 1: several chunks.
    assert!(status.chunks.load(Ordering::SeqCst) >= 6);
    let snap = stats.snapshot().record.expect("registered in the status");
    assert_eq!(snap.state, "stopped");
    assert_eq!(snap.errors, 0, "{}", snap.last_error);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&rec_dir).unwrap();
}
