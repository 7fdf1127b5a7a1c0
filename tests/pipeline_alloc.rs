//! Zero allocation on the whole frame path, all threads together: test pattern → (drop-oldest
//! queue) → openh264 → channel → interleave → muxer → segmenter → ring, with tone → AAC beside it.
//!
//! A counting global allocator counts every Rust heap allocation in the process. The window
//! measured opens once the ring has rotated (warm) and closes before the run ends, while only
//! the pipeline's own threads run. Allocations inside the C/C++ codecs (openh264, fdk-aac) do
//! not go through Rust's allocator and are not seen here.

use hlscam::encode::aac::AacEncoder;
use hlscam::encode::openh264::OpenH264Encoder;
use hlscam::encode::{AudioEncoder, VideoEncoder};
use hlscam::fmp4::AudioParams;
use hlscam::hls::master::{RenditionInfo, RenditionSpec};
use hlscam::hls::{HlsConfig, LiveShared, PartPlan};
use hlscam::pipeline::{AudioOnlyRendition, Pipeline, PipelineConfig, Rendition};
use hlscam::source::testsrc::TestSource;
use hlscam::source::tone::ToneSource;
use hlscam::source::{AudioFormat, VideoFormat};
use hlscam::stats::Stats;
use hlscam::time::{Clock, Pts90k, SystemClock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/tools.rs"]
mod tools;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn steady_state_pipeline_does_not_allocate() {
    // LL-HLS (the default mode) in both containers: parts, frame-by-frame audio, playlists
    // published to the HTTP server's shared state; fMP4 with init segments from the real
    // encoder's parameter sets. Classic mode's output stage is covered by hls_alloc.rs.
    steady_state(false, false);
    steady_state(true, false);
    // Adaptive bitrate: the capture scaled for a second rendition at half the rate, audio
    // copied to it and to the audio-only rendition, every output with parts. (One test:
    // the counter is global, so no other test may run beside it.)
    steady_state(true, true);
}

fn steady_state(fmp4: bool, abr: bool) {
    let dir = tools::fresh_dir(match (fmp4, abr) {
        (_, true) => "pipe-alloc-abr",
        (true, false) => "pipe-alloc-fmp4",
        (false, false) => "pipe-alloc",
    });
    let fmt = VideoFormat {
        width: 160,
        height: 96,
        fps: 30,
    };
    let afmt = AudioFormat {
        sample_rate: 48_000,
        channels: 1,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let stats = Arc::new(Stats::new());
    let mut hls = HlsConfig::new(dir.clone(), 1, 6).with_parts(PartPlan::new(200, 30));
    if fmp4 {
        hls = hls.with_fmp4(Some(AudioParams {
            sample_rate: afmt.sample_rate,
            channels: afmt.channels as u8,
            object_type: 2,
        }));
    }
    hls.state_file = dir.join("state");
    let seconds = 120u64;
    let mut pipeline = Pipeline::new(
        PipelineConfig {
            hls,
            duration: Some(Pts90k::from_millis(seconds * 1000)),
            fast: true,
            live: Some(LiveShared::new()),
        },
        stats.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    // Latency figures on: their recording is on the frame path too.
    pipeline.latency_clock(clock.clone());
    let lane_stats = Arc::new(Stats::new());
    if abr {
        let info = |name: &str, video: Option<u32>| {
            Arc::new(RenditionInfo::new(
                RenditionSpec {
                    name: name.into(),
                    uri: format!("v/{name}/live.m3u8"),
                    video,
                    audio_codec: Some("mp4a.40.2"),
                },
                6,
            ))
        };
        pipeline.first_rendition(fmt, Some(info("top", Some(30))));
        let small = VideoFormat {
            width: 96,
            height: 64,
            fps: 15,
        };
        let mut cfg = HlsConfig::new(dir.join("v/small"), 1, 6).with_parts(PartPlan::new(200, 15));
        cfg = cfg.with_fmp4(Some(AudioParams {
            sample_rate: afmt.sample_rate,
            channels: afmt.channels as u8,
            object_type: 2,
        }));
        pipeline.add_rendition(Rendition {
            name: "small".into(),
            format: small,
            hls: cfg,
            live: Some(LiveShared::new()),
            make_encoder: Box::new(move |f: VideoFormat| {
                OpenH264Encoder::new(f, 100, f.fps, 1).map(|e| Box::new(e) as Box<dyn VideoEncoder>)
            }),
            stats: lane_stats.clone(),
            info: Some(info("small", Some(15))),
        });
        let mut audio_cfg =
            HlsConfig::new(dir.join("v/audio"), 1, 6).with_parts(PartPlan::audio(200, 48_000));
        audio_cfg.mux.video_pid = None;
        pipeline.add_audio_only(AudioOnlyRendition {
            hls: audio_cfg,
            live: Some(LiveShared::new()),
            stats: Arc::new(Stats::new()),
            info: Some(info("audio", None)),
        });
    }
    let video = Box::new(TestSource::new(fmt, clock.clone(), false));
    let audio = Box::new(ToneSource::new(afmt, clock, false));
    let aac: Box<dyn AudioEncoder> = Box::new(AacEncoder::new(afmt, 64).unwrap());
    let factory = Box::new(move |f: VideoFormat| {
        OpenH264Encoder::new(f, 300, f.fps, 1).map(|e| Box::new(e) as Box<dyn VideoEncoder>)
    });

    // Watcher: reads the counter when the ring is warm and again near the end.
    let s2 = stats.clone();
    let watcher = std::thread::spawn(move || {
        let wait_for = |n: u64| {
            for _ in 0..60_000 {
                if s2.segments.load(Ordering::Relaxed) >= n {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            false
        };
        assert!(wait_for(20), "ring never warmed up");
        let (a0, f0) = (counting_alloc::all(), s2.frames_out.load(Ordering::Relaxed));
        assert!(wait_for(110), "run stalled");
        let (a1, f1) = (counting_alloc::all(), s2.frames_out.load(Ordering::Relaxed));
        (a1 - a0, f1 - f0)
    });
    let summary = pipeline.run(video, factory, Some((audio, aac))).unwrap();
    let (allocs, frames) = watcher.join().unwrap();
    assert!(summary.ended);
    // Every encoded frame ended in a published segment and had its latency recorded.
    assert_eq!(
        stats.latency.count(),
        stats.frames_out.load(Ordering::Relaxed)
    );
    assert!(frames >= 2_500, "measured window covered {frames} frames");
    assert_eq!(
        allocs, 0,
        "{allocs} allocations over {frames} frames in steady state (fMP4: {fmp4})"
    );
    let ext = if fmp4 { "m4s" } else { "ts" };
    let pl = std::fs::read_to_string(dir.join("live.m3u8")).unwrap();
    assert!(pl.contains(&format!(".{ext}\n")), "{pl}");
    if abr {
        // The other renditions ran all along and numbered their segments alike.
        let last = |p: &str| {
            let t = std::fs::read_to_string(dir.join(p)).unwrap();
            t.lines()
                .rfind(|l| l.starts_with("seg"))
                .unwrap()
                .split('.')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(last("v/small/live.m3u8"), last("live.m3u8"));
        assert_eq!(last("v/audio/live.m3u8"), last("live.m3u8"));
        assert!(lane_stats.frames_out.load(Ordering::Relaxed) * 2 >= frames);
    }
    // The counter does see allocations (the check can fail).
    let before = counting_alloc::all();
    drop(std::hint::black_box(vec![1u8; 64]));
    assert!(counting_alloc::all() > before);
    let _ = std::fs::remove_dir_all(&dir);
}
