//! Zero allocation once warm: a counting global allocator around ≥ 10 000 frames of video plus
//! audio through HlsOutput into real files (tmpfs when /dev/shm exists), after a warm-up of one
//! full ring rotation. Its own test binary, with a single test, so nothing else allocates on
//! the measured thread.

mod hls_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use hls_support::Synth;
use hlscam::hls::ring::total_slots;
use hlscam::hls::{HlsConfig, HlsOutput};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if MEASURING.with(|m| m.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        System.realloc(p, l, n)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn measure<T>(f: impl FnOnce() -> T) -> (T, u64) {
    ALLOCS.store(0, Ordering::SeqCst);
    MEASURING.with(|m| m.set(true));
    let r = f();
    MEASURING.with(|m| m.set(false));
    (r, ALLOCS.load(Ordering::SeqCst))
}

#[test]
fn no_allocation_once_warm() {
    // The counter works.
    let (_, n) = measure(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1);

    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("hlscam-alloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut out = HlsOutput::open(HlsConfig::new(&dir, 2, 6)).unwrap();
    let mut s = Synth::new(3000, 60);

    // Warm-up: until the first retired segment has been deleted (a full ring rotation).
    let mut frames = 0;
    while out.store().dir().join("seg0.ts").exists() || frames < 60 {
        s.step(&mut out, false).unwrap();
        frames += 1;
        assert!(frames < 2000, "ring never rotated");
    }
    let published_before = out.segments_published();

    let ((published, errors), allocs) = measure(|| {
        let mut published = 0u64;
        let mut errors = 0u64;
        for _ in 0..10_800 {
            match s.step(&mut out, false) {
                Ok(Some(_)) => published += 1,
                Ok(None) => {}
                Err(_) => errors += 1,
            }
        }
        (published, errors)
    });
    assert_eq!(errors, 0);
    assert_eq!(s.audio_errors, 0);
    assert_eq!(published, 180, "10 800 frames at 30 fps in 2 s segments");
    assert_eq!(out.segments_published(), published_before + published);
    assert_eq!(allocs, 0, "allocations in the steady state");

    // The ring kept its size on disk.
    let segs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            let n = n.to_str().unwrap();
            n.starts_with("seg") && n.ends_with(".ts")
        })
        .count();
    assert!(segs < total_slots(6, 2), "{segs} segment files");
    assert!(segs >= 6 + 7);
    out.finish(true).unwrap();
    let pl = std::fs::read_to_string(dir.join("live.m3u8")).unwrap();
    assert!(pl.ends_with("#EXT-X-ENDLIST\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}
