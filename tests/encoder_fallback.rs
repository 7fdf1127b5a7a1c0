//! A hardware encoder that dies mid-stream: the pipeline goes on with the software encoder, the
//! switch starts a new segment with `EXT-X-DISCONTINUITY` and an IDR, and every segment decodes.
//!
//! The "hardware" encoder is OpenH264 behind a wrapper that fails like a V4L2 M2M device that
//! vanished (ENODEV) from picture 40 on; the fallback is a second, independent OpenH264. The
//! stream runs through the real pipeline (`encode::fallback::hardware_first`, as `main.rs` wires
//! `encoder = "auto"`), the output is checked with m3u8-rs and ffmpeg.

#[path = "support/tools.rs"]
mod tools;

use hlscam::encode::fallback::{hardware_first, OpenEncoder};
use hlscam::encode::openh264::OpenH264Encoder;
use hlscam::encode::{EncodeError, EncodedVideo, VideoEncoder};
use hlscam::hls::HlsConfig;
use hlscam::pipeline::{Pipeline, PipelineConfig};
use hlscam::source::testsrc::TestSource;
use hlscam::source::{RawFrame, VideoFormat};
use hlscam::stats::Stats;
use hlscam::time::{Pts90k, SimClock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const FAIL_AT: u64 = 40;

/// OpenH264 that fails from picture `FAIL_AT` on, like an unplugged M2M device.
struct DyingHardware(OpenH264Encoder);

impl VideoEncoder for DyingHardware {
    fn name(&self) -> &str {
        "v4l2m2m:/dev/video-fake"
    }
    fn encode(&mut self, f: &RawFrame, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
        if f.seq >= FAIL_AT {
            return Err(EncodeError {
                msg: "VIDIOC_DQBUF: No such device (os error 19)".into(),
            });
        }
        self.0.encode(f, out)
    }
    fn force_keyframe(&mut self) {
        self.0.force_keyframe()
    }
}

#[test]
fn a_dying_hardware_encoder_hands_over_to_software_with_a_discontinuity() {
    let dir = tools::fresh_dir("encoder-fallback");
    let out = dir.join("out");
    let fmt = VideoFormat {
        width: 320,
        height: 240,
        fps: 30,
    };
    let hw: OpenEncoder = Arc::new(|f: VideoFormat| {
        Ok(Box::new(DyingHardware(OpenH264Encoder::new(f, 500, 30, 1)?)) as Box<dyn VideoEncoder>)
    });
    let sw: OpenEncoder = Arc::new(|f: VideoFormat| {
        Ok(Box::new(OpenH264Encoder::new(f, 500, 30, 1)?) as Box<dyn VideoEncoder>)
    });
    let stats = Arc::new(Stats::new());
    let mut hls = HlsConfig::new(out.clone(), 1, 10);
    hls.state_file = dir.join("state");
    hls.mux.audio_pid = None;
    let pipeline = Pipeline::new(
        PipelineConfig {
            hls,
            duration: Some(Pts90k::from_millis(4000)),
            fast: true,
            live: None,
        },
        stats.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    let clock = Arc::new(SimClock::at_2026());
    let video = Box::new(TestSource::new(fmt, clock, false));
    let factory = hardware_first(hw, sw, Some(stats.clone()));
    let summary = pipeline.run(video, factory, None).unwrap();
    assert!(summary.ended);

    // Every picture came out: the failed one re-encoded by the fallback, none lost.
    assert_eq!(stats.frames_out.load(Ordering::Relaxed), 120);
    assert_eq!(stats.encoder_fallbacks.load(Ordering::Relaxed), 1);
    assert_eq!(stats.snapshot().encoder, "openh264");

    let text = std::fs::read(out.join("live.m3u8")).unwrap();
    let pl = match m3u8_rs::parse_playlist_res(&text).unwrap() {
        m3u8_rs::Playlist::MediaPlaylist(p) => p,
        other => panic!("not a media playlist: {other:?}"),
    };
    assert!(pl.end_list);
    let disc: Vec<usize> = (0..pl.segments.len())
        .filter(|&i| pl.segments[i].discontinuity)
        .collect();
    assert_eq!(disc.len(), 1, "one switch, one discontinuity: {pl:?}");
    // The segment before the switch ends at picture FAIL_AT (1.333 s): it was cut early.
    let before: f32 = pl.segments[..disc[0]].iter().map(|s| s.duration).sum();
    assert!(
        (before - FAIL_AT as f32 / 30.0).abs() < 0.001,
        "media before the switch {before} s"
    );
    let total: f32 = pl.segments.iter().map(|s| s.duration).sum();
    assert!((total - 4.0).abs() < 0.001, "total {total} s");
    for s in &pl.segments {
        let p = out.join(&s.uri);
        let p = p.to_str().unwrap();
        tools::ffmpeg_clean(&["-i", p, "-f", "null", "-"]);
        assert!(tools::first_video_frame(p).starts_with("1,I"), "{p}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
