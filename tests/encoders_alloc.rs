//! Steady-state allocation check for testsrc → openh264 and tone → AAC.
//!
//! A counting global allocator counts Rust-heap allocations made on the test's own thread while
//! armed. It sees every allocation made through Rust's allocator (our code, the crates' Rust
//! code); allocations made by the C/C++ codec libraries themselves (OpenH264's `new`, FDK's
//! `malloc`) do not go through it and are invisible here.

use hlscam::encode::aac::AacEncoder;
use hlscam::encode::openh264::OpenH264Encoder;
use hlscam::encode::{AudioEncoder, EncodedAudio, EncodedVideo, VideoEncoder};
use hlscam::pool::Pool;
use hlscam::source::testsrc::TestSource;
use hlscam::source::tone::ToneSource;
use hlscam::source::{AudioFormat, AudioSource, VideoFormat, VideoSource};
use hlscam::time::{Clock, SimClock};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = ARMED.try_with(|a| {
        if a.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
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

fn arm(on: bool) {
    ARMED.with(|a| a.set(on));
}

#[test]
fn no_allocation_in_steady_state() {
    let vfmt = VideoFormat {
        width: 320,
        height: 240,
        fps: 30,
    };
    let afmt = AudioFormat {
        sample_rate: 48_000,
        channels: 2,
    };
    let clock: Arc<dyn Clock> = Arc::new(SimClock::at_2026());
    let mut video = TestSource::new(vfmt, clock.clone(), false);
    video.set_message(Some("NO SIGNAL".to_string()));
    let pool = Pool::new(3, vfmt.i420_len());
    let mut venc = OpenH264Encoder::new(vfmt, 500, 30, 1).unwrap();
    let mut vout = EncodedVideo::with_capacity(256 * 1024);
    let mut tone = ToneSource::new(afmt, clock, false);
    let mut aenc = AacEncoder::new(afmt, 128).unwrap();
    let mut pcm = vec![0i16; aenc.frame_len() * 2];
    let mut aout = EncodedAudio::with_capacity(16 * 1024);

    let mut step = |vbytes: &mut usize, aframes: &mut u32| {
        let f = video.next_frame(&pool).unwrap();
        assert!(venc.encode(&f, &mut vout).unwrap());
        *vbytes += vout.data.len();
        drop(f);
        for _ in 0..2 {
            let pts = tone.read(&mut pcm).unwrap();
            aenc.encode(&pcm, pts, &mut aout).unwrap();
            *aframes += aout.frames;
        }
    };
    let (mut vbytes, mut aframes) = (0usize, 0u32);
    // Warm-up: encoder initialisation, first IDRs, output buffers reaching their size.
    for _ in 0..60 {
        step(&mut vbytes, &mut aframes);
    }
    let (v0, a0) = (vbytes, aframes);
    arm(true);
    for _ in 0..300 {
        step(&mut vbytes, &mut aframes);
    }
    arm(false);
    let allocs = COUNT.with(|c| c.get());
    // The work was done: 300 pictures with 10 IDRs, 600 AAC frames.
    assert!(vbytes - v0 > 300 * 50, "{} bytes", vbytes - v0);
    assert_eq!(aframes - a0, 600);
    assert_eq!(
        allocs, 0,
        "{allocs} heap allocations in 300 steady-state frames"
    );

    // The counter does count: one deliberate allocation while armed is seen.
    arm(true);
    let v = std::hint::black_box(Vec::<u8>::with_capacity(16));
    arm(false);
    drop(v);
    assert_eq!(COUNT.with(|c| c.get()), 1);
}
