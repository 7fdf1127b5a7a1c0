//! Zero allocation once warm: a counting global allocator around ≥ 10 000 frames of video plus
//! audio through HlsOutput into real files (tmpfs when /dev/shm exists), after a warm-up of one
//! full ring rotation — in classic mode, in LL-HLS mode (200 ms part files, LL playlists
//! with delta updates published to a [`LiveShared`] as the HTTP server reads them), and in
//! LL-HLS with fMP4 (one `moof` + `mdat` per part) and in classic fMP4. Its own test binary,
//! with a single test, so nothing else allocates on the measured thread.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
mod hls_support;
#[path = "support/tools.rs"]
mod tools;

use hls_support::Synth;
use hlscam::fmp4::AudioParams;
use hlscam::hls::ring::total_slots;
use hlscam::hls::{HlsConfig, HlsOutput, LiveShared, PartPlan};

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn no_allocation_once_warm() {
    // The counter works.
    let (_, n) = counting_alloc::measure(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1);

    steady_state(HlsConfig::new(tools::fresh_tmpfs_dir("alloc"), 2, 6), false);
    let ll = HlsConfig::new(tools::fresh_tmpfs_dir("alloc-ll"), 2, 12)
        .with_parts(PartPlan::new(200, 30));
    steady_state(ll, true);
    let aac = Some(AudioParams {
        sample_rate: 48_000,
        channels: 1,
        object_type: 2,
    });
    let ll_fmp4 = HlsConfig::new(tools::fresh_tmpfs_dir("alloc-ll-fmp4"), 2, 12)
        .with_parts(PartPlan::new(200, 30))
        .with_fmp4(aac);
    steady_state(ll_fmp4, true);
    steady_state(
        HlsConfig::new(tools::fresh_tmpfs_dir("alloc-fmp4"), 2, 6).with_fmp4(aac),
        false,
    );
}

fn steady_state(cfg: HlsConfig, low_latency: bool) {
    let dir = cfg.dir.clone();
    let window = cfg.window;
    let ext = cfg.container.ext();
    let mut out = HlsOutput::open(cfg).unwrap();
    let live = LiveShared::new();
    out.share(live.clone());
    let mut s = Synth::new(3000, 60);

    // Warm-up: until the first retired segment has been deleted (a full ring rotation).
    let mut frames = 0;
    while out.store().dir().join(format!("seg0.{ext}")).exists() || frames < 60 {
        s.step(&mut out, false).unwrap();
        frames += 1;
        assert!(frames < 2000, "ring never rotated");
    }
    let published_before = out.segments_published();

    let ((published, errors), allocs) = counting_alloc::measure(|| {
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
    assert_eq!(
        allocs, 0,
        "allocations in the steady state (low latency: {low_latency})"
    );
    let published_pl = String::from_utf8(live.lock().full.clone()).unwrap();
    assert_eq!(
        published_pl.contains("#EXT-X-PART:"),
        low_latency,
        "{published_pl}"
    );
    if low_latency {
        assert!(
            out.parts_published() >= 180 * 10,
            "{} parts",
            out.parts_published()
        );
        assert!(
            !live.lock().delta.is_empty(),
            "a delta update is offered (window 12)"
        );
    }

    // The ring kept its size on disk.
    let segs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            let n = n.to_str().unwrap();
            // seg<N>.ts, not the parts seg<N>.<K>.ts
            n.starts_with("seg") && n.ends_with(ext) && n.matches('.').count() == 1
        })
        .count();
    assert!(segs < total_slots(window, 2), "{segs} segment files");
    assert!(segs >= window + 7);
    out.finish(true).unwrap();
    let pl = std::fs::read_to_string(dir.join("live.m3u8")).unwrap();
    assert!(pl.ends_with("#EXT-X-ENDLIST\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}
