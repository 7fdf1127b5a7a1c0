//! The governor: when the encoders cannot keep up with every rendition, the lowest one still
//! running is stopped — and only it. A paced run (test pattern and tone in real time) with
//! three renditions, the last of whose encoder is made too slow for the frame rate: after the
//! overload window it is stopped and logged, its playlist disappears, the master playlist no
//! longer lists it and `/api/status` says so, while the other two go on publishing.

use hlscam::encode::aac::AacEncoder;
use hlscam::encode::openh264::OpenH264Encoder;
use hlscam::encode::{AudioEncoder, EncodeError, EncodedVideo, VideoEncoder};
use hlscam::hls::master::{Master, RenditionInfo, RenditionSpec};
use hlscam::hls::{HlsConfig, LiveShared};
use hlscam::pipeline::lanes::OVERLOAD_WINDOW;
use hlscam::pipeline::{Pipeline, PipelineConfig, Rendition};
use hlscam::source::testsrc::TestSource;
use hlscam::source::tone::ToneSource;
use hlscam::source::{AudioFormat, RawFrame, VideoFormat};
use hlscam::stats::Stats;
use hlscam::time::{Clock, Pts90k, SystemClock};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "support/tools.rs"]
mod tools;

/// openh264, but taking `delay` per picture: a board whose CPU is spent.
struct Slow(OpenH264Encoder, Duration);

impl VideoEncoder for Slow {
    fn name(&self) -> &str {
        "slow openh264"
    }
    fn encode(&mut self, frame: &RawFrame, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
        std::thread::sleep(self.1);
        self.0.encode(frame, out)
    }
    fn force_keyframe(&mut self) {
        self.0.force_keyframe()
    }
}

fn encoder(delay: Duration) -> hlscam::pipeline::EncoderFactory {
    Box::new(move |f: VideoFormat| {
        OpenH264Encoder::new(f, 200, f.fps, 1)
            .map(|e| Box::new(Slow(e, delay)) as Box<dyn VideoEncoder>)
    })
}

#[test]
fn an_overloaded_encoder_stops_the_lowest_rendition_only() {
    let dir = tools::fresh_dir("abr-governor");
    let fmt = VideoFormat {
        width: 320,
        height: 180,
        fps: 30,
    };
    let afmt = AudioFormat {
        sample_rate: 48_000,
        channels: 1,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let stats = Arc::new(Stats::new());
    let info = |name: &str| {
        Arc::new(RenditionInfo::new(
            RenditionSpec {
                name: name.into(),
                uri: format!("v/{name}/live.m3u8"),
                video: Some(30),
                audio_codec: Some("mp4a.40.2"),
            },
            6,
        ))
    };
    let infos = [info("top"), info("mid"), info("low")];
    let master = Master {
        renditions: infos.to_vec(),
    };
    let seconds = OVERLOAD_WINDOW.as_secs() + 4;
    let mut pipeline = Pipeline::new(
        PipelineConfig {
            hls: HlsConfig::new(dir.join("top"), 1, 6),
            duration: Some(Pts90k::from_millis(seconds * 1000)),
            fast: false,
            live: Some(LiveShared::new()),
        },
        stats.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    pipeline.first_rendition(fmt, Some(infos[0].clone()));
    let lane_stats = [Arc::new(Stats::new()), Arc::new(Stats::new())];
    stats.add_rendition(infos[0].clone(), stats.clone());
    for (i, s) in lane_stats.iter().enumerate() {
        stats.add_rendition(infos[i + 1].clone(), s.clone());
    }
    for (i, (name, delay)) in [("mid", 0u64), ("low", 0)].into_iter().enumerate() {
        pipeline.add_rendition(Rendition {
            name: name.into(),
            format: VideoFormat {
                width: 160 / (i as u32 + 1),
                height: 90 / (i as u32 + 1) / 2 * 2,
                fps: 30,
            },
            hls: HlsConfig::new(dir.join(name), 1, 6),
            live: Some(LiveShared::new()),
            // The middle one is the slow one: the lowest running (the last) is stopped all
            // the same, which gives its core back to the others.
            make_encoder: encoder(Duration::from_millis(if i == 0 { 70 } else { delay })),
            stats: lane_stats[i].clone(),
            info: Some(infos[i + 1].clone()),
        });
    }
    let video = Box::new(TestSource::new(fmt, clock.clone(), true));
    let audio = Box::new(ToneSource::new(afmt, clock, true));
    let aac: Box<dyn AudioEncoder> = Box::new(AacEncoder::new(afmt, 64).unwrap());
    let summary = pipeline
        .run(video, encoder(Duration::ZERO), Some((audio, aac)))
        .unwrap();
    assert!(summary.ended);

    // The lowest rendition was stopped, and only it.
    assert!(infos[0].running() && infos[1].running());
    assert!(!infos[2].running(), "the lowest rendition still runs");
    assert!(!dir.join("low/live.m3u8").exists(), "its playlist is gone");
    let text = master.render().unwrap();
    assert!(text.contains("v/top/") && text.contains("v/mid/"), "{text}");
    assert!(!text.contains("v/low/"), "{text}");
    let running: Vec<bool> = stats
        .snapshot()
        .renditions
        .iter()
        .map(|r| r.running)
        .collect();
    assert_eq!(running, [true, true, false]);
    // It published before it was stopped; the others to the end.
    assert!(lane_stats[1].segments.load(Ordering::Relaxed) >= 3);
    let top = stats.segments.load(Ordering::Relaxed);
    assert!(top >= seconds - 1, "top rendition: {top} segments");
    assert!(lane_stats[0].drops.load(Ordering::Relaxed) > 0);
    assert!(std::fs::read_to_string(dir.join("mid/live.m3u8"))
        .unwrap()
        .contains("#EXT-X-ENDLIST"));
    let _ = std::fs::remove_dir_all(&dir);
}
