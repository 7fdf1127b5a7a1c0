//! Test sources and software encoders, checked with independent tools: ffprobe/ffmpeg decode
//! what openh264 and fdk-aac produce; the test pattern and tone are checked sample by sample.

use hlscam::encode::aac::AacEncoder;
use hlscam::encode::openh264::OpenH264Encoder;
use hlscam::encode::{AudioEncoder, EncodedAudio, EncodedVideo, VideoEncoder};
use hlscam::pool::Pool;
use hlscam::source::testsrc::{TestPattern, TestSource};
use hlscam::source::tone::{ToneSource, BEEP_AMPLITUDE, TONE_AMPLITUDE};
use hlscam::source::{AudioFormat, AudioSource, SourceError, VideoFormat, VideoSource};
use hlscam::time::{Clock, Pts90k, SimClock};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

#[path = "support/tools.rs"]
mod tools;
#[path = "support/ts_check.rs"]
mod ts_check;
use ts_check::nal_types;

use tools::{ffmpeg, ffmpeg_clean};

fn vf(width: u32, height: u32, fps: u32) -> VideoFormat {
    VideoFormat { width, height, fps }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hlscam-media-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn mean(p: &[u8]) -> f64 {
    p.iter().map(|&b| b as u64).sum::<u64>() as f64 / p.len() as f64
}

fn unpaced(fmt: VideoFormat) -> (TestSource, Pool, SimClock) {
    let clock = SimClock::at_2026();
    let src = TestSource::new(fmt, Arc::new(clock.clone()), false);
    (src, Pool::new(2, fmt.i420_len()), clock)
}

// ---------------------------------------------------------------- test pattern

#[test]
fn flash_frames_are_exactly_index_mod_fps() {
    for fps in [30, 7, 25] {
        let fmt = vf(320, 240, fps);
        let (mut src, pool, _) = unpaced(fmt);
        let (mut flash_min, mut other_max) = (f64::MAX, 0f64);
        for i in 0..(3 * fps as u64 + 5) {
            let f = src.next_frame(&pool).unwrap();
            let m = mean(f.planes().0);
            if i % fps as u64 == 0 {
                flash_min = flash_min.min(m);
            } else {
                other_max = other_max.max(m);
            }
        }
        assert!(
            flash_min > other_max + 40.0,
            "fps {fps}: flash frames mean luma {flash_min:.1}, others up to {other_max:.1}"
        );
    }
}

#[test]
fn every_byte_is_written_and_in_range() {
    let fmt = vf(320, 240, 30);
    let mut p = TestPattern::new(fmt);
    let wall = SystemTime::UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
    for frame in [0u64, 1, 17, 30, 12345] {
        let mut a = vec![0xA5u8; fmt.i420_len()];
        let mut b = vec![0x5Au8; fmt.i420_len()];
        p.render(&mut a, fmt, frame, wall, Some("NO SIGNAL: CAMERA LOST"));
        p.render(&mut b, fmt, frame, wall, Some("NO SIGNAL: CAMERA LOST"));
        assert_eq!(
            a, b,
            "frame {frame}: some byte depends on the old buffer contents"
        );
        let y = 320 * 240;
        assert!(a[..y].iter().all(|&v| (16..=235).contains(&v)));
        assert!(a[y..].iter().all(|&v| (16..=240).contains(&v)));
        // The picture is not flat: bars and text, or (flash frames) white over the black panel.
        let distinct = (0..=255u8).filter(|v| a[..y].contains(v)).count();
        let want = if frame % 30 == 0 { 2 } else { 10 };
        assert!(
            distinct >= want,
            "frame {frame}: only {distinct} luma values"
        );
    }
}

#[test]
fn text_panel_changes_with_counter_and_clock() {
    let fmt = vf(1280, 720, 30);
    let mut p = TestPattern::new(fmt);
    let panel = p.flash_rows().end * 1280..1280 * 720;
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let mut a = vec![0u8; fmt.i420_len()];
    let mut b = vec![0u8; fmt.i420_len()];
    let mut c = vec![0u8; fmt.i420_len()];
    p.render(&mut a, fmt, 41, t0, None);
    p.render(&mut b, fmt, 42, t0, None);
    p.render(&mut c, fmt, 41, t0 + Duration::from_millis(7), None);
    let differ = |x: &[u8], y: &[u8]| x.iter().zip(y).filter(|(p, q)| p != q).count();
    assert!(
        differ(&a[panel.clone()], &b[panel.clone()]) > 100,
        "counter"
    );
    assert!(differ(&a[panel.clone()], &c[panel.clone()]) > 100, "clock");
    // Only the last millisecond digit changed (…00.000 → …00.007): the hours, minutes and
    // seconds (the left 8 characters of the clock line) are identical.
    let glyph_w = p.glyph_height() / 7 * 6;
    let clock_rows = panel.start..panel.start + 1280 * (p.glyph_height() + 22);
    let left = |v: &[u8]| -> Vec<u8> {
        v[clock_rows.clone()]
            .chunks(1280)
            .flat_map(|r| r[..8 * glyph_w].to_vec())
            .collect()
    };
    assert_eq!(left(&a), left(&c));
    // Glyphs are at least a tenth of the picture height at 720p.
    assert!(p.glyph_height() >= 72);
    // Moving picture: two consecutive non-flash frames differ above the panel.
    let top = 0..panel.start;
    assert!(differ(&a[top.clone()], &b[top]) > 1000);
    // The message line draws something where there is nothing without it.
    let mut d = vec![0u8; fmt.i420_len()];
    p.render(&mut d, fmt, 41, t0, Some("NO SIGNAL"));
    assert!(differ(&a[panel.clone()], &d[panel]) > 100, "message");
}

fn check_pts_sequence(fps: u32, frames: u64) {
    let fmt = vf(64, 48, fps);
    let (mut src, pool, clock) = unpaced(fmt);
    let start_wall = clock.wall();
    for i in 0..frames {
        let f = src.next_frame(&pool).unwrap();
        assert_eq!(
            f.pts,
            Pts90k(i * 90_000 / fps as u64),
            "fps {fps} frame {i}"
        );
        assert_eq!(f.seq, i);
        assert_eq!(f.discontinuity, i == 0);
        assert_eq!(f.wall, start_wall + f.pts.to_duration());
    }
    // After 10 000 frames media time is exactly frames/fps seconds: no drift.
    let f = src.next_frame(&pool).unwrap();
    assert_eq!(f.pts.0, frames * 90_000 / fps as u64);
}

#[test]
fn pts_exact_over_10000_frames() {
    check_pts_sequence(30, 10_000);
    check_pts_sequence(7, 10_000);
    check_pts_sequence(29, 10_000);
}

#[test]
fn paced_source_uses_clock_and_reports_pool_exhaustion() {
    let fmt = vf(64, 48, 10);
    let clock = SimClock::at_2026();
    let mut src = TestSource::new(fmt, Arc::new(clock.clone()), true);
    let pool = Pool::new(1, fmt.i420_len());
    // The sim clock is moved past each frame's due time first, so nothing sleeps.
    clock.advance(Duration::from_millis(5));
    let f0 = src.next_frame(&pool).unwrap();
    assert_eq!(f0.captured, Duration::from_millis(5));
    assert_eq!(f0.wall, clock.wall());
    // The single buffer is still leased: the next frame is dropped, its index skipped.
    clock.advance(Duration::from_millis(100));
    assert!(matches!(
        src.next_frame(&pool),
        Err(SourceError::PoolExhausted)
    ));
    drop(f0);
    clock.advance(Duration::from_millis(100));
    let f2 = src.next_frame(&pool).unwrap();
    assert_eq!((f2.seq, f2.pts), (2, Pts90k(18_000)));
    assert_eq!(f2.wall, clock.wall());
    assert_eq!(src.name(), "testsrc");
}

// ---------------------------------------------------------------- tone

#[test]
fn tone_beeps_on_whole_seconds_and_is_phase_continuous() {
    let rate = 48_000u64;
    let fmt = AudioFormat {
        sample_rate: rate as u32,
        channels: 2,
    };
    let clock: Arc<dyn Clock> = Arc::new(SimClock::at_2026());
    let mut a = ToneSource::new(fmt, clock.clone(), false);
    let mut b = ToneSource::new(fmt, clock, false);
    let beep = a.beep_len();
    assert_eq!(beep, 2400);
    // Three seconds in one read, and in odd-sized chunks: identical samples, exact PTS.
    let mut one = vec![0i16; 3 * rate as usize * 2];
    assert_eq!(a.read(&mut one).unwrap(), Pts90k(0));
    let mut chunked = Vec::new();
    let mut chunk = vec![0i16; 2 * 1000];
    let mut next = 0u64;
    while chunked.len() < one.len() {
        let pts = b.read(&mut chunk).unwrap();
        assert_eq!(pts, Pts90k(next * 90_000 / rate));
        next += 1000;
        chunked.extend_from_slice(&chunk);
    }
    assert_eq!(&chunked[..one.len()], &one[..]);
    let left: Vec<i16> = one.chunks(2).map(|c| c[0]).collect();
    assert!(one.chunks(2).all(|c| c[0] == c[1]));
    for k in 0..3u64 {
        let s = (k * rate) as usize;
        let beep_peak = left[s..s + beep as usize]
            .iter()
            .map(|v| v.unsigned_abs())
            .max();
        let rest_peak = left[s + beep as usize..s + rate as usize]
            .iter()
            .map(|v| v.unsigned_abs())
            .max();
        assert!(beep_peak.unwrap() as i32 > BEEP_AMPLITUDE as i32 * 9 / 10);
        assert!(rest_peak.unwrap() as i32 <= TONE_AMPLITUDE as i32);
        assert!(rest_peak.unwrap() as i32 > TONE_AMPLITUDE as i32 * 9 / 10);
    }
    // Phase continuity of the 440 Hz tone: no sample-to-sample jump larger than the sine's
    // steepest slope (2π·440/48000·A ≈ 0.058·A) outside the beep edges.
    let max_step = (TONE_AMPLITUDE as f64 * 0.06) as i32 + 2;
    for (j, w) in left.windows(2).enumerate() {
        let pos = (j as u64 + 1) % rate;
        if pos > beep && pos < rate - 1 {
            assert!((w[1] as i32 - w[0] as i32).abs() <= max_step, "jump at {j}");
        }
    }
}

// ---------------------------------------------------------------- openh264

#[test]
fn openh264_idr_period_sps_pps_and_ffprobe_decodes() {
    let fmt = vf(320, 240, 30);
    let frames = 91u64;
    let (mut src, pool, _) = unpaced(fmt);
    let mut enc = OpenH264Encoder::new(fmt, 300, 30, 1).unwrap();
    assert_eq!(enc.name(), "openh264");
    let mut out = EncodedVideo::with_capacity(64 * 1024);
    let mut stream = Vec::new();
    let mut keys = Vec::new();
    for i in 0..frames {
        let f = src.next_frame(&pool).unwrap();
        assert!(
            enc.encode(&f, &mut out).unwrap(),
            "frame {i} produced nothing"
        );
        assert_eq!((out.pts, out.dts), (f.pts, f.pts));
        assert_eq!((out.wall, out.discontinuity), (f.wall, i == 0));
        let types = nal_types(&out.data);
        if out.key {
            keys.push(i);
            let idr = types
                .iter()
                .position(|&t| t == 5)
                .expect("IDR slice in key AU");
            let sps = types.iter().position(|&t| t == 7).expect("SPS before IDR");
            let pps = types.iter().position(|&t| t == 8).expect("PPS before IDR");
            assert!(sps < pps && pps < idr, "frame {i}: NAL order {types:?}");
        } else {
            assert!(
                !types.contains(&5) && !types.contains(&7),
                "frame {i}: {types:?}"
            );
            assert!(
                types.contains(&1),
                "frame {i}: no non-IDR slice in {types:?}"
            );
        }
        stream.extend_from_slice(&out.data);
    }
    assert_eq!(keys, vec![0, 30, 60, 90]);

    // Bitrate over the 3 s run within a loose factor of the 300 kbps target.
    let kbps = stream.len() as f64 * 8.0 / (frames as f64 / 30.0) / 1000.0;
    println!("openh264 320x240@30 at 300 kbps target: {kbps:.0} kbps");
    assert!(kbps > 300.0 / 5.0 && kbps < 300.0 * 3.0, "{kbps} kbps");

    let path = tmp("idr.h264");
    std::fs::write(&path, &stream).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-f",
            "h264",
            "-show_frames",
            "-select_streams",
            "v",
        ])
        .args(["-show_entries", "frame=pict_type,key_frame", "-of", "csv"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(probe.status.success());
    assert!(
        probe.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let text = String::from_utf8(probe.stdout).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("frame")).collect();
    assert_eq!(
        rows.len() as u64,
        frames,
        "every picture decodes, none skipped"
    );
    let decoded_keys: Vec<u64> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.starts_with("frame,1"))
        .map(|(i, _)| i as u64)
        .collect();
    assert_eq!(decoded_keys, keys);
    for (i, r) in rows.iter().enumerate() {
        let want = if i % 30 == 0 { ",I" } else { ",P" };
        assert!(r.ends_with(want), "frame {i}: {r}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn openh264_force_keyframe() {
    let fmt = vf(160, 120, 30);
    let (mut src, pool, _) = unpaced(fmt);
    let mut enc = OpenH264Encoder::new(fmt, 200, 0, 1).unwrap();
    let mut out = EncodedVideo::with_capacity(16 * 1024);
    let mut keys = Vec::new();
    for i in 0..40u64 {
        if i == 17 {
            enc.force_keyframe();
        }
        let f = src.next_frame(&pool).unwrap();
        enc.encode(&f, &mut out).unwrap();
        if out.key {
            keys.push(i);
        }
    }
    assert_eq!(
        keys,
        vec![0, 17],
        "period 0: only the first and the forced IDR"
    );
}

/// LL-HLS needs an encoder that neither reorders nor looks ahead: every input frame comes out
/// of the same `encode` call, with its own timestamp, and DTS = PTS (no B-frames). Measured
/// delay: 0 frames. ffprobe confirms no B-frames in the stream.
#[test]
fn openh264_has_no_frame_delay_or_reordering() {
    let fmt = vf(320, 240, 30);
    let (mut src, pool, _) = unpaced(fmt);
    let mut enc = OpenH264Encoder::new(fmt, 300, 30, 1).unwrap();
    let mut out = EncodedVideo::with_capacity(64 * 1024);
    let mut stream = Vec::new();
    let mut delay_frames = 0;
    for _ in 0..60 {
        let f = src.next_frame(&pool).unwrap();
        let produced = enc.encode(&f, &mut out).unwrap();
        if !produced {
            delay_frames += 1;
            continue;
        }
        assert_eq!(out.pts, f.pts, "output belongs to this input");
        assert_eq!(out.dts, out.pts, "no reordering");
        stream.extend_from_slice(&out.data);
    }
    println!("openh264 encoder delay: {delay_frames} frames");
    assert_eq!(delay_frames, 0);
    let file = tmp("nodelay.h264");
    std::fs::write(&file, &stream).unwrap();
    let types = tools::ffprobe(&[
        "-show_entries",
        "frame=pict_type",
        "-of",
        "csv=p=0",
        file.to_str().unwrap(),
    ]);
    assert_eq!(types.lines().count(), 60);
    assert!(!types.contains('B'), "{types}");
    let _ = std::fs::remove_file(&file);
}

// ---------------------------------------------------------------- AAC

/// Encodes `seconds` of the tone; returns the ADTS stream, the PTS of its first frame and the
/// number of frames.
fn encode_tone(fmt: AudioFormat, seconds: u64) -> (Vec<u8>, Pts90k, u32) {
    let clock: Arc<dyn Clock> = Arc::new(SimClock::at_2026());
    let mut tone = ToneSource::new(fmt, clock, false);
    let mut enc = AacEncoder::new(fmt, 96).unwrap();
    assert_eq!(enc.frame_len(), 1024);
    let ch = fmt.channels as usize;
    let mut pcm = vec![0i16; 1024 * ch];
    let mut out = EncodedAudio::with_capacity(8192);
    let mut stream = Vec::new();
    let (mut first, mut frames, mut expect_next) = (None, 0u32, None);
    // Feed a little more than `seconds` so the delay does not cut the last beep short.
    let calls = (seconds * fmt.sample_rate as u64).div_ceil(1024) + 4;
    for _ in 0..calls {
        let pts = tone.read(&mut pcm).unwrap();
        if enc.encode(&pcm, pts, &mut out).unwrap() {
            if let Some(n) = expect_next {
                assert_eq!(out.pts, n, "output PTS continuous");
            }
            first.get_or_insert(out.pts);
            frames += out.frames;
            expect_next = Some(Pts90k(
                out.pts.0 + out.frames as u64 * 1024 * 90_000 / fmt.sample_rate as u64,
            ));
            // Each ADTS frame header: sync word 0xFFF, layer 0; profile AAC LC (1).
            assert_eq!((out.data[0], out.data[1] & 0xF6), (0xFF, 0xF0));
            assert_eq!(out.data[2] >> 6, 1);
            stream.extend_from_slice(&out.data);
        } else {
            assert_eq!((out.frames, out.data.len()), (0, 0));
        }
    }
    println!("aac {fmt:?}: codec delay {} samples", enc.delay_samples());
    (stream, first.unwrap(), frames)
}

fn check_aac(channels: u16) {
    let rate = 48_000u64;
    let fmt = AudioFormat {
        sample_rate: rate as u32,
        channels,
    };
    let (stream, first_pts, frames) = encode_tone(fmt, 3);
    let path = tmp(&format!("tone{channels}.aac"));
    std::fs::write(&path, &stream).unwrap();

    let p = path.to_str().unwrap();
    ffmpeg_clean(&["-i", p, "-f", "null", "-"]);
    let dec = ffmpeg(&["-i", p, "-f", "s16le", "-ac", "1", "-"]);
    let pcm: Vec<i16> = dec
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(
        pcm.len() as u64,
        frames as u64 * 1024,
        "every frame decodes"
    );
    let secs = pcm.len() as f64 / rate as f64;
    assert!((3.0..3.2).contains(&secs), "duration {secs} s");

    // Beep onsets: the first loud sample after at least half a second of quiet (or at the very
    // start). Media time of decoded sample j = first_pts + j/rate.
    let thr = (BEEP_AMPLITUDE as i32 + TONE_AMPLITUDE as i32) / 2;
    let mut onsets = Vec::new();
    let mut last_loud: Option<usize> = None;
    for (j, &s) in pcm.iter().enumerate() {
        if (s as i32).abs() > thr {
            if last_loud.map_or(true, |l| j - l > rate as usize / 2) {
                onsets.push(first_pts.0 + j as u64 * 90_000 / rate);
            }
            last_loud = Some(j);
        }
    }
    println!("aac {channels} ch: first PTS {first_pts}, beep onsets at {onsets:?} (90 kHz)");
    let frame_ticks = 1024 * 90_000 / rate; // 21.3 ms
    let seconds: Vec<u64> = onsets.iter().map(|&t| (t + 45_000) / 90_000).collect();
    assert!(seconds.contains(&1) && seconds.contains(&2), "{onsets:?}");
    for (&t, &k) in onsets.iter().zip(&seconds) {
        let err = t.abs_diff(k * 90_000);
        assert!(err <= frame_ticks, "onset {t} is {err} ticks from {k} s");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn aac_mono_decodes_with_beeps_on_time() {
    check_aac(1);
}

#[test]
fn aac_stereo_decodes_with_beeps_on_time() {
    check_aac(2);
}

#[test]
fn aac_rejects_bad_formats() {
    let three = AudioFormat {
        sample_rate: 48_000,
        channels: 3,
    };
    assert!(AacEncoder::new(three, 96).is_err());
    let odd = AudioFormat {
        sample_rate: 12_345,
        channels: 1,
    };
    assert!(AacEncoder::new(odd, 96).is_err());
}

// ---------------------------------------------------------------- speed figures

/// Prints render / encode costs (run with `--release --nocapture` for meaningful figures).
/// Nothing is asserted about time; the counts prove the work was done.
#[test]
fn speed_figures() {
    let n = if cfg!(debug_assertions) { 5 } else { 300 };
    let fmt = vf(1280, 720, 30);
    let mut p = TestPattern::new(fmt);
    let mut buf = vec![0u8; fmt.i420_len()];
    let wall = SystemTime::now();
    let t = Instant::now();
    for i in 0..n {
        p.render(&mut buf, fmt, i, wall, None);
    }
    let render_ns = t.elapsed().as_nanos() / n as u128;

    let (mut src, pool, _) = unpaced(fmt);
    let mut enc = OpenH264Encoder::new(fmt, 2000, 60, 1).unwrap();
    let mut out = EncodedVideo::with_capacity(512 * 1024);
    let mut encode_total = Duration::ZERO;
    let mut bytes = 0;
    for _ in 0..n {
        let f = src.next_frame(&pool).unwrap();
        let t = Instant::now();
        assert!(enc.encode(&f, &mut out).unwrap());
        encode_total += t.elapsed();
        bytes += out.data.len();
    }
    assert_eq!(enc.frames(), n);

    let afmt = AudioFormat {
        sample_rate: 48_000,
        channels: 2,
    };
    let clock: Arc<dyn Clock> = Arc::new(SimClock::at_2026());
    let mut tone = ToneSource::new(afmt, clock, false);
    let mut aac = AacEncoder::new(afmt, 128).unwrap();
    let mut pcm = vec![0i16; 2048];
    let mut aout = EncodedAudio::with_capacity(4096);
    let mut aac_total = Duration::ZERO;
    let mut aframes = 0;
    for _ in 0..n * 2 {
        let pts = tone.read(&mut pcm).unwrap();
        let t = Instant::now();
        aac.encode(&pcm, pts, &mut aout).unwrap();
        aac_total += t.elapsed();
        aframes += aout.frames;
    }
    assert!(aframes as u64 >= n * 2 - 4);
    println!(
        "speed ({}): testsrc 1280x720 render {render_ns} ns/frame; openh264 1280x720 1 thread \
         {:.2} ms/frame ({} kbps); aac 48k stereo {:.1} us/frame",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        encode_total.as_secs_f64() * 1000.0 / n as f64,
        bytes as u64 * 8 * 30 / n as usize as u64 / 1000,
        aac_total.as_secs_f64() * 1e6 / (n * 2) as f64,
    );
}

#[test]
fn aac_pts_follow_input_offset_and_gaps() {
    let rate = 48_000u64;
    let fmt = AudioFormat {
        sample_rate: rate as u32,
        channels: 1,
    };
    let mut enc = AacEncoder::new(fmt, 64).unwrap();
    let delay = enc.delay_samples();
    let pcm = vec![0i16; 1024];
    let mut out = EncodedAudio::with_capacity(4096);
    // Start just below the 33-bit wrap; after 100 calls the input jumps 1 s ahead (a capture gap).
    let base = (1u64 << 33) - 90_000;
    let gap = 90_000;
    let input_pts = |n: u64| base + n * 1024 * 90_000 / rate + if n >= 100 { gap } else { 0 };
    let mut produced = Vec::new();
    for n in 0..200u64 {
        if enc.encode(&pcm, Pts90k(input_pts(n)), &mut out).unwrap() {
            assert_eq!(out.frames, 1);
            produced.push(out.pts.0);
        }
    }
    // Output frame m starts at input sample m·1024 (priming dropped): input call m's PTS, as
    // long as the delay is whole frames (FDK AAC-LC: 2048).
    assert_eq!(delay % 1024, 0, "delay {delay}");
    let primed = (delay / 1024) as usize;
    assert_eq!(produced.len(), 200 - primed);
    for (m, &p) in produced.iter().enumerate() {
        assert_eq!(p, input_pts(m as u64), "output frame {m}");
    }
}

#[test]
fn paced_tone_uses_the_clock() {
    let clock = SimClock::at_2026();
    let fmt = AudioFormat {
        sample_rate: 8_000,
        channels: 1,
    };
    let mut tone = ToneSource::new(fmt, Arc::new(clock.clone()), true);
    let mut buf = vec![0i16; 800];
    // Each 100 ms chunk is due when its last sample is; the sim clock is already past it.
    for k in 0..5u64 {
        clock.advance(Duration::from_millis(100));
        assert_eq!(tone.read(&mut buf).unwrap(), Pts90k(k * 9_000));
    }
    assert_eq!(tone.name(), "tone");
    assert_eq!(tone.format(), fmt);
    assert!(
        tone.read(&mut [0i16; 3][..]).is_ok(),
        "mono takes any length"
    );
}
