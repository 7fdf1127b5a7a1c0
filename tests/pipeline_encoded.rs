//! The camera-H.264 path (`encoder = "camera"`): a source that delivers encoded access units goes
//! through the pipeline without an encoder, and the muxer makes the stream HLS-ready — an AUD in
//! front of every access unit, SPS/PPS in front of every IDR although the "camera" sent them only
//! once. Real H.264 from ffmpeg (libx264) stands in for the camera; every segment is decoded by
//! ffmpeg and must start with a key frame.

#[path = "support/tools.rs"]
mod tools;

use hlscam::codec::h264::NalIter;
use hlscam::encode::EncodedVideo;
use hlscam::hls::HlsConfig;
use hlscam::pipeline::{EncodedVideoSource, Pipeline, PipelineConfig};
use hlscam::source::SourceError;
use hlscam::stats::Stats;
use hlscam::time::{Pts90k, SimClock};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Access units as a camera would send them: no AUD, SPS/PPS only before the first IDR.
struct FakeCamera {
    aus: Vec<(Vec<u8>, bool)>,
    next: usize,
    clock: SimClock,
}

impl EncodedVideoSource for FakeCamera {
    fn name(&self) -> &str {
        "fake-camera"
    }
    fn next_au(&mut self, out: &mut EncodedVideo) -> Result<(), SourceError> {
        let Some((au, key)) = self.aus.get(self.next) else {
            return Err(SourceError::End);
        };
        out.data.clear();
        out.data.extend_from_slice(au);
        out.pts = Pts90k(self.next as u64 * 3000);
        out.dts = out.pts;
        out.key = *key;
        out.captured = Duration::from_millis(self.next as u64 * 100 / 3);
        out.wall = hlscam::time::Clock::wall(&self.clock);
        out.discontinuity = false;
        self.next += 1;
        Ok(())
    }
}

/// Splits libx264's Annex B output (written with AUDs) into access units, dropping the AUDs and
/// every SPS/PPS after the first ones.
fn camera_aus(h264: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut aus: Vec<(Vec<u8>, bool)> = Vec::new();
    let mut seen_params = false;
    for nal in NalIter::new(h264) {
        match nal.nal_type {
            9 => aus.push((Vec::new(), false)),
            7 | 8 if seen_params => continue,
            t => {
                let au = aus.last_mut().expect("stream starts with an AUD");
                au.0.extend_from_slice(&[0, 0, 0, 1]);
                au.0.extend_from_slice(nal.bytes);
                if t == 5 {
                    au.1 = true;
                    seen_params = true;
                }
            }
        }
    }
    aus
}

#[test]
fn camera_h264_is_muxed_without_reencoding() {
    let dir = tools::fresh_dir("pipe-encoded");
    let raw = dir.join("cam.h264");
    let raw_s = raw.to_str().unwrap();
    tools::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-bf",
        "0",
        "-g",
        "30",
        "-keyint_min",
        "30",
        "-sc_threshold",
        "0",
        "-x264-params",
        "aud=1",
        "-bsf:v",
        "h264_mp4toannexb",
        "-f",
        "h264",
        raw_s,
    ]);
    let aus = camera_aus(&std::fs::read(&raw).unwrap());
    assert_eq!(aus.len(), 180);
    let params_in: usize = aus
        .iter()
        .map(|(a, _)| NalIter::new(a).filter(|n| n.nal_type == 7).count())
        .sum();
    assert_eq!(params_in, 1, "the fake camera sends SPS once");

    let out = dir.join("out");
    let mut hls = HlsConfig::new(out.clone(), 1, 6);
    hls.state_file = dir.join("state");
    hls.mux.audio_pid = None;
    let stats = Arc::new(Stats::new());
    let pipeline = Pipeline::new(
        PipelineConfig {
            hls,
            duration: None,
            fast: true,
            live: None,
        },
        stats.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    let cam = FakeCamera {
        aus,
        next: 0,
        clock: SimClock::at_2026(),
    };
    let summary = pipeline.run_encoded(Box::new(cam), None).unwrap();
    assert!(summary.ended);
    assert_eq!(summary.segments, 6, "one segment per 1 s GOP");
    assert_eq!(
        stats.frames_out.load(std::sync::atomic::Ordering::Relaxed),
        180
    );

    let playlist = std::fs::read_to_string(out.join("live.m3u8")).unwrap();
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    for k in 0..6 {
        let seg = out.join(format!("seg{k}.ts"));
        let p = seg.to_str().unwrap();
        tools::ffmpeg_clean(&["-i", p, "-f", "null", "-"]);
        let first = tools::first_video_frame(p);
        assert!(first.starts_with("1,I"), "seg{k}.ts starts with {first}");
        // Every access unit now starts with an AUD, and every IDR has SPS/PPS in front.
        let es = tools::ffmpeg(&[
            "-i",
            p,
            "-c:v",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            "-",
        ]);
        let types: Vec<u8> = NalIter::new(&es).map(|n| n.nal_type).collect();
        let auds = types.iter().filter(|&&t| t == 9).count();
        assert_eq!(auds, 30, "seg{k}.ts: one AUD per access unit");
        let idr = types.iter().position(|&t| t == 5).expect("an IDR");
        assert!(
            types[..idr].contains(&7) && types[..idr].contains(&8),
            "seg{k}.ts: {types:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
