//! Host-side tests of the capture layer: pixel converters against hand-made references, MJPEG
//! decoding against ffmpeg's own decoder, the audio clock under 10 simulated hours of drift, and
//! the camera supervisor with a fault-injecting fake camera on a simulated clock.

use hlscam::pool::Pool;
use hlscam::source::audio_clock::AudioClock;
use hlscam::source::convert::{i420_copy, nv12_to_i420, yuyv_to_i420, ConvertError, MjpegDecoder};
use hlscam::source::supervisor::{
    GreySlate, SimSleeper, SupervisedVideo, BACKOFF_MAX, BACKOFF_MIN,
};
use hlscam::source::{RawFrame, SourceError, VideoFormat, VideoSource};
use hlscam::stats::Stats;
use hlscam::time::{Clock, Pts90k, SimClock};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "support/tools.rs"]
mod tools;

use tools::{ffmpeg, fresh_dir};

// ---------------------------------------------------------------- converters

/// 4×2 YUYV with 2 bytes of row padding (stride 10).
#[test]
fn yuyv_to_i420_reference() {
    #[rustfmt::skip]
    let src = [
        // Y0 U  Y1  V    Y2  U   Y3  V   pad
        10, 100, 11, 200, 12, 50, 13, 60, 0xEE, 0xEE,
        20, 102, 21, 203, 22, 51, 23, 61, 0xEE, 0xEE,
    ];
    let mut dst = [0xA5u8; 12 + 1];
    yuyv_to_i420(&src, 10, 4, 2, &mut dst[..12]).unwrap();
    // Y rows, then U (avg of rows, rounded up), then V.
    assert_eq!(
        &dst[..12],
        &[10, 11, 12, 13, 20, 21, 22, 23, 101, 51, 202, 61]
    );
    assert_eq!(dst[12], 0xA5, "nothing written past the picture");
}

#[test]
fn nv12_to_i420_reference() {
    #[rustfmt::skip]
    let src = [
        // Y plane 4x2, stride 6
        1, 2, 3, 4, 0xEE, 0xEE,
        5, 6, 7, 8, 0xEE, 0xEE,
        // UV plane 1 row: U0 V0 U1 V1
        90, 91, 92, 93, 0xEE, 0xEE,
    ];
    let mut dst = [0xA5u8; 13];
    nv12_to_i420(&src, 6, 4, 2, &mut dst[..12]).unwrap();
    assert_eq!(&dst[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 90, 92, 91, 93]);
    assert_eq!(dst[12], 0xA5);
}

#[test]
fn i420_copy_removes_stride_padding() {
    // 4x2, Y stride 6, chroma stride 3.
    #[rustfmt::skip]
    let src = [
        1, 2, 3, 4, 0xEE, 0xEE,
        5, 6, 7, 8, 0xEE, 0xEE,
        40, 41, 0xEE,
        50, 51,
    ];
    let mut dst = [0xA5u8; 13];
    i420_copy(&src, 6, 4, 2, &mut dst[..12]).unwrap();
    assert_eq!(&dst[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 40, 41, 50, 51]);
    assert_eq!(dst[12], 0xA5);
}

#[test]
fn converters_reject_short_buffers() {
    let mut dst = vec![0xA5u8; 640 * 360 * 3 / 2];
    let src = vec![0u8; 640 * 2 * 359];
    assert_eq!(
        yuyv_to_i420(&src, 1280, 640, 360, &mut dst),
        Err(ConvertError::ShortInput)
    );
    assert_eq!(
        nv12_to_i420(&src[..640 * 360], 640, 640, 360, &mut dst),
        Err(ConvertError::ShortInput)
    );
    assert!(dst.iter().all(|&b| b == 0xA5), "nothing written on error");
}

// ---------------------------------------------------------------- MJPEG vs ffmpeg

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

#[test]
fn mjpeg_decode_matches_ffmpeg() {
    let d = fresh_dir("capture-mjpeg");
    let (jpg, yuv) = (d.join("x.jpg"), d.join("ref.yuv"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240",
        "-frames:v",
        "1",
        jpg.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-i",
        jpg.to_str().unwrap(),
        "-pix_fmt",
        "yuv420p",
        "-f",
        "rawvideo",
        yuv.to_str().unwrap(),
    ]);
    let jpeg = std::fs::read(&jpg).unwrap();
    let reference = std::fs::read(&yuv).unwrap();
    let (w, h) = (320, 240);
    assert_eq!(reference.len(), w * h * 3 / 2);
    let mut out = vec![0xA5u8; w * h * 3 / 2];
    let mut dec = MjpegDecoder::new();
    dec.decode(&jpeg, w, h, &mut out).unwrap();
    let (py, pu, pv) = (
        psnr(&out[..w * h], &reference[..w * h]),
        psnr(&out[w * h..w * h * 5 / 4], &reference[w * h..w * h * 5 / 4]),
        psnr(&out[w * h * 5 / 4..], &reference[w * h * 5 / 4..]),
    );
    println!("MJPEG 320x240 vs ffmpeg yuv420p: PSNR Y {py:.1} dB, U {pu:.1} dB, V {pv:.1} dB");
    assert!(
        py > 35.0 && pu > 35.0 && pv > 35.0,
        "PSNR Y {py:.1} U {pu:.1} V {pv:.1}"
    );
    // Wrong size is an error, not a panic or garbage.
    assert_eq!(
        dec.decode(&jpeg, 640, 480, &mut vec![0u8; 640 * 480 * 3 / 2]),
        Err(ConvertError::JpegSize {
            width: 320,
            height: 240
        })
    );
    assert_eq!(
        dec.decode(&jpeg[..20], w, h, &mut out),
        Err(ConvertError::BadJpeg)
    );
    assert_eq!(
        dec.decode(b"not a jpeg at all", w, h, &mut out),
        Err(ConvertError::BadJpeg)
    );
    let _ = std::fs::remove_dir_all(&d);
}

// ---------------------------------------------------------------- audio clock

/// A sound card 0.1 % fast against the monotonic clock, read in 20 ms buffers for 10 simulated
/// hours with up to 4 ms of wake-up jitter: the PTS of every buffer stays within 1024 samples
/// of the true capture time, PTS strictly increase, and no step is more than 0.2 % off the
/// buffer's duration.
#[test]
fn audio_clock_tracks_drift_for_ten_hours() {
    let rate = 48_000u64;
    let true_rate = 48_048.0f64; // the card's real rate measured on the monotonic clock
    let frames = 960u64;
    let mut clock = AudioClock::new(rate as u32);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut jitter = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 4_000_000) as f64 // ns
    };
    let start = 5.0; // the card starts 5 s after the monotonic origin
    let buffers = 10 * 3600 * rate / frames;
    let mut last: Option<Pts90k> = None;
    let (mut worst, mut worst_step) = (0f64, 0u64);
    let nominal_step = frames * 90_000 / rate;
    for i in 0..buffers {
        let first = i * frames;
        let end_true = start + (first + frames) as f64 / true_rate;
        let now = Duration::from_nanos((end_true * 1e9 + jitter()) as u64);
        let pts = clock.stamp(first, frames, now);
        let true_first = start + first as f64 / true_rate;
        let err_samples = (pts.0 as f64 / 90_000.0 - true_first) * rate as f64;
        worst = worst.max(err_samples.abs());
        if let Some(l) = last {
            assert!(pts > l, "PTS not strictly increasing at buffer {i}");
            let step = pts.0 - l.0;
            worst_step = worst_step.max(step.abs_diff(nominal_step));
        }
        last = Some(pts);
    }
    println!("audio clock, 10 h at +0.1 %: worst error {worst:.1} samples, worst step deviation {worst_step} ticks");
    assert!(worst <= 1024.0, "A/V error {worst:.1} samples");
    assert!(
        worst_step <= nominal_step / 500 + 1,
        "PTS step off by {worst_step} ticks"
    );
}

// ---------------------------------------------------------------- supervisor

#[derive(Default)]
struct Plan {
    present: bool,
    fail_next: Option<fn(String) -> SourceError>,
    opens: Vec<Duration>,
    fmt: Option<VideoFormat>,
}

/// A camera on the simulated clock: each frame advances the clock by one frame period.
struct FakeCamera {
    plan: Arc<Mutex<Plan>>,
    clock: SimClock,
    fmt: VideoFormat,
}

impl VideoSource for FakeCamera {
    fn name(&self) -> &str {
        "fake:/dev/video0"
    }
    fn format(&self) -> VideoFormat {
        self.fmt
    }
    fn next_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError> {
        if let Some(f) = self.plan.lock().unwrap().fail_next.take() {
            self.clock.advance(Duration::from_millis(100));
            return Err(f("injected".into()));
        }
        self.clock
            .advance(Duration::from_nanos(1_000_000_000 / self.fmt.fps as u64));
        let mut buf = pool.try_take().ok_or(SourceError::PoolExhausted)?;
        buf[0] = 42; // marks a camera frame
        let now = self.clock.monotonic();
        Ok(RawFrame {
            buf,
            format: self.fmt,
            pts: Pts90k::from_duration(now),
            captured: now,
            wall: self.clock.wall(),
            seq: 0,
            discontinuity: false,
        })
    }
}

#[test]
fn supervisor_slate_backoff_and_switches() {
    let clock = SimClock::at_2026();
    let plan = Arc::new(Mutex::new(Plan::default()));
    let want = VideoFormat {
        width: 64,
        height: 36,
        fps: 30,
    };
    let cam_fmt = VideoFormat {
        width: 128,
        height: 72,
        fps: 30,
    };
    let (p2, c2) = (plan.clone(), clock.clone());
    let opener = Box::new(move || {
        let mut p = p2.lock().unwrap();
        p.opens.push(c2.monotonic());
        if !p.present {
            return Err(SourceError::Gone(
                "/dev/video0: open: No such file or directory".into(),
            ));
        }
        let fmt = p.fmt.unwrap_or(cam_fmt);
        Ok(Box::new(FakeCamera {
            plan: p2.clone(),
            clock: c2.clone(),
            fmt,
        }) as Box<dyn VideoSource>)
    });
    let stats = Arc::new(Stats::new());
    let mut sv = SupervisedVideo::new(
        "/dev/video0",
        want,
        opener,
        Box::new(GreySlate),
        Arc::new(clock.clone()),
    )
    .with_sleeper(Box::new(SimSleeper(clock.clone())))
    .with_stats(stats.clone());
    let pool = Pool::new(3, cam_fmt.i420_len());
    let mut all_pts = Vec::new();
    let mut next = |sv: &mut SupervisedVideo| {
        let f = sv.next_frame(&pool).expect("the supervisor never fails");
        all_pts.push(f.pts);
        (f.pts, f.discontinuity, f.buf[0] == 42, f.format)
    };

    // 1. Camera missing at start: 20 s of slate at 30 fps, with the configured geometry.
    let mut slate = Vec::new();
    while clock.monotonic() < Duration::from_secs(20) {
        let (pts, disc, cam, fmt) = next(&mut sv);
        assert!(
            !cam && fmt == want && !disc,
            "slate at start, no discontinuity on the first frame"
        );
        slate.push(pts);
    }
    assert_eq!(sv.message(), "NO SIGNAL: /dev/video0 GONE - RETRYING");
    assert!(
        slate.windows(2).all(|w| w[1].0 - w[0].0 == 3000),
        "slate paced at 30 fps"
    );
    assert_eq!(slate.len(), 601, "frames at 0, 1/30, ..., 20 s");
    let opens: Vec<f64> = plan
        .lock()
        .unwrap()
        .opens
        .iter()
        .map(|d| d.as_secs_f64())
        .collect();
    let gaps: Vec<f64> = opens
        .windows(2)
        .map(|w| ((w[1] - w[0]) * 10.0).round() / 10.0)
        .collect();
    assert_eq!(
        &gaps[..5],
        &[0.5, 1.0, 2.0, 4.0, 8.0],
        "exponential backoff: {gaps:?}"
    );
    assert!(
        gaps[5..].iter().all(|&g| g == BACKOFF_MAX.as_secs_f64()),
        "capped: {gaps:?}"
    );

    // 2. Camera plugged in: picked up at the next retry; first frame flagged, geometry changes.
    plan.lock().unwrap().present = true;
    let mut waited = 0;
    let first_live = loop {
        let f = next(&mut sv);
        if f.2 {
            break f;
        }
        waited += 1;
        assert!(
            waited <= 8 * 30 + 1,
            "camera not picked up within one max backoff"
        );
    };
    assert!(first_live.1, "slate -> camera sets discontinuity");
    assert_eq!(first_live.3, cam_fmt);
    assert_eq!(sv.format(), cam_fmt);
    for _ in 0..30 {
        let (_, disc, cam, _) = next(&mut sv);
        assert!(cam && !disc);
    }

    // 3. The camera fails (EIO): slate keeps the camera's geometry, retry after BACKOFF_MIN.
    plan.lock().unwrap().fail_next = Some(SourceError::Io);
    let opens_before = plan.lock().unwrap().opens.len();
    let (_, disc, cam, fmt) = next(&mut sv);
    assert!(
        !cam && disc && fmt == cam_fmt,
        "camera -> slate sets discontinuity, keeps geometry"
    );
    assert_eq!(sv.message(), "NO SIGNAL: /dev/video0 FAILED - RETRYING");
    let t_fail = clock.monotonic();
    let (_, disc, cam, _) = loop {
        let f = next(&mut sv);
        if f.2 {
            break f;
        }
        assert!(!f.1, "only the first slate frame is flagged");
    };
    assert!(cam && disc);
    let reopen = plan.lock().unwrap().opens[opens_before];
    assert!(
        reopen - t_fail <= BACKOFF_MIN + Duration::from_millis(34),
        "backoff was reset by good frames"
    );

    // 4. Timeout with a new geometry on reopen: format() shows it.
    let small = VideoFormat {
        width: 32,
        height: 18,
        fps: 30,
    };
    plan.lock().unwrap().fmt = Some(small);
    plan.lock().unwrap().fail_next = Some(SourceError::Timeout);
    let (_, disc, cam, _) = next(&mut sv);
    assert!(!cam && disc);
    assert!(sv.message().contains("NOT RESPONDING"));
    loop {
        let f = next(&mut sv);
        if f.2 {
            assert_eq!(f.3, small);
            break;
        }
    }
    assert_eq!(sv.format(), small);
    assert!(
        all_pts.windows(2).all(|w| w[1] > w[0]),
        "PTS strictly increasing throughout"
    );
    assert_eq!(stats.restarts.load(Ordering::Relaxed), 2);
}

/// A microphone that is missing at start is not fatal: the source streams silence at the right
/// times (the audio track never has holes) while the device is retried.
#[test]
fn missing_microphone_gives_timed_silence() {
    use hlscam::source::alsa::AlsaSource;
    use hlscam::source::{AudioFormat, AudioSource};
    use hlscam::time::SimClock;
    let clock = SimClock::at_2026();
    let fmt = AudioFormat {
        sample_rate: 48_000,
        channels: 1,
    };
    let mut src = AlsaSource::open_or_retry(
        "hw:hlscam-no-such-card,0",
        fmt,
        std::sync::Arc::new(clock.clone()),
    );
    assert!(!src.is_open());
    let mut buf = vec![0x5A5Ai16; 960];
    let mut last = None;
    for _ in 0..10 {
        clock.advance(std::time::Duration::from_millis(20));
        let pts = src.read(&mut buf).expect("silence, not an error");
        assert!(buf.iter().all(|&s| s == 0), "silence");
        if let Some(prev) = last {
            assert!(pts > prev, "PTS advance: {prev:?} then {pts:?}");
        }
        last = Some(pts);
        buf.fill(0x5A5A);
    }
    assert_eq!(src.silence_frames(), 9_600);
    assert!(!src.is_open());
}
