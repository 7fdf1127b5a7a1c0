//! Real-device tests: only meaningful inside the vmtest VM (vivid, v4l2loopback, snd-aloop),
//! run by `tests/vm/run.sh` through `tests/vm/guest.sh` (which starts the MJPEG and tone
//! feeders). `harness = false`, `test = false`: plain `cargo test` does not build or run it.
//!
//! On a machine without `/dev/video*` it prints that it needs the VM and exits 0 — unless
//! `HLSCAM_IN_VM=1`, when a missing device is a failure.
//!
//! Prints one line per check and `vm: N passed, N failed`; exits 1 if any check failed.

use hlscam::pool::Pool;
use hlscam::source::alsa::AlsaSource;
use hlscam::source::devices::{list_devices, pick_video};
use hlscam::source::supervisor::SupervisedVideo;
use hlscam::source::testsrc::TestPattern;
use hlscam::source::v4l2::{resolve_device, PixelFormat, V4l2H264Source, V4l2Source};
use hlscam::source::{AudioFormat, AudioSource, RawFrame, SourceError, VideoFormat, VideoSource};
use hlscam::time::{Clock, Pts90k, SystemClock};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "m2m_vm/mod.rs"]
mod m2m_vm;

// Counts heap allocations (the M2M checks measure the encoder's steady state with it).
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static ALLOC: counting_alloc::Counting = counting_alloc::Counting;

type Check = Result<String, String>;

const VIVID: &str = "vivid-000-vid-cap";
const VIVID_OPTS: &[&str] = &[
    "n_devs=1",
    "node_types=0x1",
    "num_inputs=1",
    "input_types=0x0",
];

fn fmt(w: u32, h: u32, fps: u32) -> VideoFormat {
    VideoFormat {
        width: w,
        height: h,
        fps,
    }
}

fn sh(cmd: &str, args: &[&str]) -> Result<String, String> {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{cmd} {}: {} {}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn vivid_path() -> Result<String, String> {
    resolve_device(VIVID).map_err(|e| e.to_string())
}

/// Pulls `n` frames; returns them summarised (pts, format) and the measured fps.
fn pull(
    src: &mut dyn VideoSource,
    pool: &Pool,
    n: usize,
    clock: Option<&dyn Clock>,
) -> Result<(Vec<Pts90k>, f64, Option<RawFrame>), String> {
    let mut pts = Vec::new();
    let t0 = Instant::now();
    let mut last = None;
    for _ in 0..n {
        let f = src.next_frame(pool).map_err(|e| e.to_string())?;
        if let Some(c) = clock {
            // Stamped from the buffer's capture time: never after "now", and recent.
            let now = Pts90k::from_duration(c.monotonic());
            if f.pts > now || now.0 - f.pts.0 > 2 * 90_000 {
                return Err(format!("PTS {} vs clock {now}: not a capture time", f.pts));
            }
        }
        pts.push(f.pts);
        last = Some(f);
    }
    let secs = t0.elapsed().as_secs_f64();
    let fps = if pts.len() > 1 {
        (pts.len() - 1) as f64 * 90_000.0 / (pts[pts.len() - 1].0 - pts[0].0).max(1) as f64
    } else {
        0.0
    };
    let _ = secs;
    Ok((pts, fps, last))
}

fn strictly_increasing(p: &[Pts90k]) -> bool {
    p.windows(2).all(|w| w[1] > w[0])
}

/// vivid's default pattern is the 75 % colour bar (white, yellow, cyan, green, magenta, red,
/// blue, black) in limited-range BT.601: check each bar's centre on the middle row.
fn check_bars(f: &RawFrame) -> Result<String, String> {
    let (w, h) = (f.format.width as usize, f.format.height as usize);
    let (y, u, v) = f.planes();
    // name, Y, U, V (BT.601 limited, 75 % bars)
    let want: [(&str, i32, i32, i32); 8] = [
        ("white", 180, 128, 128),
        ("yellow", 162, 44, 142),
        ("cyan", 131, 156, 44),
        ("green", 112, 72, 58),
        ("magenta", 84, 184, 198),
        ("red", 65, 100, 212),
        ("blue", 35, 212, 114),
        ("black", 16, 128, 128),
    ];
    let row = h / 2;
    let mut got = Vec::new();
    let mut bad = Vec::new();
    for (i, (name, wy, wu, wv)) in want.iter().enumerate() {
        let x = (2 * i + 1) * w / 16;
        let py = y[row * w + x] as i32;
        let pu = u[(row / 2) * (w / 2) + x / 2] as i32;
        let pv = v[(row / 2) * (w / 2) + x / 2] as i32;
        got.push(format!("{name}={py}/{pu}/{pv}"));
        if (py - wy).abs() > 12 || (pu - wu).abs() > 16 || (pv - wv).abs() > 16 {
            bad.push(format!(
                "{name}: got Y/U/V {py}/{pu}/{pv}, want ~{wy}/{wu}/{wv}"
            ));
        }
    }
    if bad.is_empty() {
        Ok(got.join(" "))
    } else {
        Err(bad.join("; "))
    }
}

fn capture_format(pixel: PixelFormat, figures: &mut Vec<String>) -> Check {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let dev = vivid_path()?;
    let want = fmt(640, 360, 30);
    let mut src = V4l2Source::open_with_formats(&dev, want, &[pixel], clock.clone())
        .map_err(|e| e.to_string())?;
    if src.pixel_format() != pixel {
        return Err(format!("negotiated {:?}", src.pixel_format()));
    }
    if src.format() != want {
        return Err(format!(
            "format {:?} (fps must be the 30 we set; vivid starts at 5)",
            src.format()
        ));
    }
    let pool = Pool::new(4, want.i420_len());
    let (pts, fps, last) = pull(&mut src, &pool, 60, Some(&*clock))?;
    if !strictly_increasing(&pts) {
        return Err("PTS not strictly increasing".into());
    }
    let bars = check_bars(last.as_ref().ok_or("no frame")?)?;
    figures.push(format!(
        "fps vivid {} 640x360: {fps:.1} (drops {})",
        pixel.name(),
        src.drops()
    ));
    Ok(format!(
        "60 frames, {fps:.1} fps by PTS, drops {}, bars {bars}",
        src.drops()
    ))
}

fn default_prefers_yu12() -> Check {
    let src = V4l2Source::open(&vivid_path()?, fmt(640, 360, 30)).map_err(|e| e.to_string())?;
    if src.pixel_format() != PixelFormat::Yu12 {
        return Err(format!("picked {:?}", src.pixel_format()));
    }
    Ok("vivid offers YU12 and it was chosen".into())
}

fn mjpeg_loopback(figures: &mut Vec<String>) -> Check {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let want = fmt(640, 480, 30);
    let mut src =
        V4l2Source::open_with_formats("/dev/video10", want, &[PixelFormat::Mjpeg], clock.clone())
            .map_err(|e| e.to_string())?;
    let pool = Pool::new(4, want.i420_len());
    let (pts, fps, last) = pull(&mut src, &pool, 30, Some(&*clock))?;
    let f = last.ok_or("no frame")?;
    let (y, u, _) = f.planes();
    let (mn, mx) = y
        .iter()
        .fold((255u8, 0u8), |(a, b), &p| (a.min(p), b.max(p)));
    let umax = u.iter().copied().max().unwrap_or(0);
    if mx - mn < 100 || umax < 150 {
        return Err(format!(
            "decoded picture looks flat: Y {mn}..{mx}, U max {umax}"
        ));
    }
    if !strictly_increasing(&pts) {
        return Err("PTS not strictly increasing".into());
    }
    figures.push(format!(
        "fps v4l2loopback MJPG 640x480: {fps:.1} (ffmpeg feeder under TCG)"
    ));
    Ok(format!(
        "30 MJPEG frames decoded, Y {mn}..{mx}, {fps:.1} fps, drops {}",
        src.drops()
    ))
}

/// A producer process feeding a v4l2loopback node, killed (by its PID) on drop.
struct Feeder(std::process::Child);

impl Feeder {
    /// `ffmpeg -re -f lavfi -i testsrc=640x480@30 <codec args> -f v4l2 <dev>`, then waits
    /// until the node offers `fourcc`.
    fn start(dev: &str, codec: &[&str], fourcc: &str) -> Result<Feeder, String> {
        let child = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i"])
            .arg("testsrc=size=640x480:rate=30")
            .args(codec)
            .args(["-f", "v4l2", dev])
            .spawn()
            .map_err(|e| format!("ffmpeg: {e}"))?;
        let f = Feeder(child);
        for _ in 0..120 {
            let out = Command::new("v4l2-ctl")
                .args(["-d", dev, "--list-formats"])
                .output();
            if out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(fourcc)) {
                return Ok(f);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(format!("v4l2loopback never offered {fourcc}"))
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A camera's own H.264 (`encoder = "camera"`): ffmpeg's libx264 into v4l2loopback; read 30
/// access units, check IDRs and start codes, and decode them with ffmpeg.
fn h264_loopback() -> Check {
    // A second loopback node (run.sh loads v4l2loopback with devices=2): a node keeps the
    // format of its first producer for the rest of the boot.
    let _feeder = Feeder::start(
        "/dev/video11",
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            "15",
            "-pix_fmt",
            "yuv420p",
        ],
        "H264",
    )?;
    let mut src = V4l2H264Source::open_with_clock(
        "/dev/video11",
        fmt(640, 480, 30),
        Arc::new(SystemClock::new()),
    )
    .map_err(|e| e.to_string())?;
    let mut au = Vec::with_capacity(1 << 20);
    let mut all = Vec::new();
    let (mut keys, mut last) = (1, None);
    // Start at an IDR: the P-frames before the first one cannot be decoded.
    let mut skipped = 0;
    loop {
        let f = src.next_au(&mut au).map_err(|e| e.to_string())?;
        if f.key {
            break;
        }
        skipped += 1;
        if skipped > 60 {
            return Err("no IDR in 60 access units (GOP 15)".into());
        }
    }
    all.extend_from_slice(&au);
    for _ in 1..30 {
        let f = src.next_au(&mut au).map_err(|e| e.to_string())?;
        if !au.starts_with(&[0, 0, 0, 1]) && !au.starts_with(&[0, 0, 1]) {
            return Err(format!(
                "access unit without a start code: {:02x?}",
                &au[..au.len().min(8)]
            ));
        }
        if last.is_some_and(|l| f.pts <= l) {
            return Err("PTS not increasing".into());
        }
        last = Some(f.pts);
        keys += f.key as u32;
        all.extend_from_slice(&au);
    }
    if keys == 0 {
        return Err("no IDR in 30 access units (GOP 15)".into());
    }
    let path = "/tmp/hlscam-hw.h264";
    std::fs::write(path, &all).map_err(|e| e.to_string())?;
    let n = sh(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            path,
        ],
    )?;
    let decoded: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("ffprobe said {n:?}"))?;
    if decoded < 25 {
        return Err(format!("ffmpeg decoded only {decoded} of 30 access units"));
    }
    Ok(format!(
        "30 AUs from the first IDR ({skipped} skipped), {keys} IDR, {} bytes, ffprobe decoded {decoded} frames, drops {}",
        all.len(),
        src.drops()
    ))
}

fn mjpeg_loopback_fed(figures: &mut Vec<String>) -> Check {
    let _feeder = Feeder::start("/dev/video10", &["-c:v", "mjpeg", "-q:v", "5"], "MJPG")?;
    mjpeg_loopback(figures)
}

fn goertzel(x: &[f64], f: f64, rate: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * f / rate).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2) / x.len() as f64
}

fn audio_loopback(figures: &mut Vec<String>) -> Check {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let af = AudioFormat {
        sample_rate: 48_000,
        channels: 1,
    };
    let mut src =
        AlsaSource::open_with_clock("plughw:Loopback,1,0", af, clock).map_err(|e| e.to_string())?;
    let mut buf = vec![0i16; 1024];
    let mut all = Vec::new();
    let mut pts = Vec::new();
    for _ in 0..94 {
        pts.push(src.read(&mut buf).map_err(|e| e.to_string())?);
        all.extend(buf.iter().map(|&s| s as f64));
    }
    if !strictly_increasing(&pts) {
        return Err("audio PTS not strictly increasing".into());
    }
    let steps: Vec<u64> = pts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let (smin, smax) = (
        steps.iter().min().copied().unwrap_or(0),
        steps.iter().max().copied().unwrap_or(0),
    );
    if smin < 1900 || smax > 1940 {
        return Err(format!("PTS steps {smin}..{smax}, want 1920 ± 20"));
    }
    let tail = &all[all.len() / 2..];
    let rms = (tail.iter().map(|v| v * v).sum::<f64>() / tail.len() as f64).sqrt();
    let e440 = goertzel(tail, 440.0, 48_000.0);
    let e1k = goertzel(tail, 1000.0, 48_000.0);
    let e300 = goertzel(tail, 300.0, 48_000.0);
    if rms < 300.0 || e440 < 100.0 * e1k.max(e300) {
        return Err(format!(
            "no 440 Hz tone: rms {rms:.0}, E440 {e440:.3e}, E1000 {e1k:.3e}, E300 {e300:.3e}"
        ));
    }
    figures.push(format!(
        "audio loopback: rms {rms:.0}, 440 Hz / 1 kHz energy ratio {:.0}",
        e440 / e1k.max(1e-9)
    ));
    Ok(format!(
        "2 s captured, rms {rms:.0}, 440 Hz dominates ({:.1e}x), PTS step {smin}..{smax}, overruns {}",
        e440 / e1k.max(1e-9),
        src.overruns()
    ))
}

/// An overrun (the reader stalls 600 ms against a ~200 ms ALSA buffer) is recovered, counted,
/// and the lost time is filled with silence: PTS keep stepping by one buffer and stay on the
/// monotonic clock.
fn audio_overrun() -> Check {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let af = AudioFormat {
        sample_rate: 48_000,
        channels: 1,
    };
    let mut src = AlsaSource::open_with_clock("plughw:Loopback,1,0", af, clock.clone())
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0i16; 1024];
    let mut pts = Vec::new();
    for i in 0..60 {
        if i == 20 {
            std::thread::sleep(Duration::from_millis(600));
        }
        pts.push(src.read(&mut buf).map_err(|e| e.to_string())?);
    }
    let now = Pts90k::from_duration(clock.monotonic());
    let end = pts[pts.len() - 1] + Pts90k(1920);
    let lag_ms = (now.0 as i64 - end.0 as i64) / 90;
    let steps: Vec<u64> = pts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let (smin, smax) = (
        steps.iter().min().copied().unwrap_or(0),
        steps.iter().max().copied().unwrap_or(0),
    );
    if src.overruns() == 0 || src.silence_frames() < 9600 {
        return Err(format!(
            "overruns {}, silence {} frames",
            src.overruns(),
            src.silence_frames()
        ));
    }
    if smin < 1900 || smax > 1940 || !(-100..=300).contains(&lag_ms) {
        return Err(format!(
            "PTS steps {smin}..{smax}, end of audio {lag_ms} ms behind the clock"
        ));
    }
    Ok(format!(
        "{} overrun(s) recovered, {} frames of silence inserted, PTS steps {smin}..{smax}, end {lag_ms} ms behind the clock",
        src.overruns(),
        src.silence_frames()
    ))
}

fn supervised(label: &str, clock: Arc<dyn Clock>) -> SupervisedVideo {
    let want = fmt(640, 360, 30);
    let c2 = clock.clone();
    let opener = Box::new(move || {
        let dev = resolve_device(VIVID)?;
        let s = V4l2Source::open_with_formats(&dev, want, &[PixelFormat::Yuyv], c2.clone())?;
        Ok(Box::new(s) as Box<dyn VideoSource>)
    });
    SupervisedVideo::new(label, want, opener, Box::new(TestPattern::new(want)), clock)
}

/// Pulls frames until `pred(frame, live)` holds; at most `max` frames. Returns the frames
/// pulled and whether the predicate was met.
fn pull_until(
    sv: &mut SupervisedVideo,
    pool: &Pool,
    pts: &mut Vec<Pts90k>,
    max: usize,
    mut pred: impl FnMut(&RawFrame, bool) -> bool,
) -> Result<(usize, bool), String> {
    for i in 0..max {
        let f = sv
            .next_frame(pool)
            .map_err(|e| format!("supervisor returned an error: {e}"))?;
        pts.push(f.pts);
        if pred(&f, sv.is_live()) {
            return Ok((i + 1, true));
        }
    }
    Ok((max, false))
}

/// Unplug: vivid's `disconnect` control fails the stream (ENODEV); vivid re-registers the node
/// when its last user closes, so the supervisor's reopen brings it back by itself. Then a
/// real removal: disconnect, and `rmmod vivid` while the slate is up (our fd is closed then),
/// slate for a while ("GONE"), `modprobe vivid`, camera back.
fn disconnect_replug() -> Check {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let dev = vivid_path()?;
    let mut sv = supervised(&dev, clock);
    let pool = Pool::new(4, fmt(640, 360, 30).i420_len());
    let mut pts = Vec::new();
    pull_until(&mut sv, &pool, &mut pts, 10, |_, _| false)?;
    if !sv.is_live() {
        return Err("camera not live at start".into());
    }
    // 1. disconnect -> slate (discontinuity) -> camera back (discontinuity)
    sh("v4l2-ctl", &["-d", &dev, "-c", "disconnect=1"])?;
    let (n, ok) = pull_until(&mut sv, &pool, &mut pts, 300, |f, live| {
        !live && f.discontinuity
    })?;
    if !ok {
        return Err(format!(
            "no slate frame with discontinuity within {n} frames of the disconnect"
        ));
    }
    let mut slate1 = 1;
    let (_, back1) = pull_until(&mut sv, &pool, &mut pts, 300, |f, live| {
        if !live {
            slate1 += 1;
        }
        live && f.discontinuity
    })?;
    if !back1 {
        return Err(format!(
            "camera did not come back after the disconnect ({slate1} slate frames)"
        ));
    }
    // 2. disconnect + rmmod while the slate is up, modprobe later
    sh("v4l2-ctl", &["-d", &dev, "-c", "disconnect=1"])?;
    let (_, ok) = pull_until(&mut sv, &pool, &mut pts, 300, |_, live| !live)?;
    if !ok {
        return Err("no slate after the second disconnect".into());
    }
    sh("rmmod", &["vivid"])?;
    let mut slate2 = 0;
    pull_until(&mut sv, &pool, &mut pts, 45, |_, _| {
        slate2 += 1;
        false
    })?;
    let msg = sv.message().to_string();
    if sv.is_live() || !msg.contains("GONE") {
        return Err(format!(
            "with vivid removed: live {}, message {msg:?}",
            sv.is_live()
        ));
    }
    let mut args = vec!["vivid"];
    args.extend_from_slice(VIVID_OPTS);
    sh("modprobe", &args)?;
    let (after, back2) = pull_until(&mut sv, &pool, &mut pts, 900, |f, live| {
        live && f.discontinuity
    })?;
    if !back2 {
        return Err("camera never came back after modprobe".into());
    }
    pull_until(&mut sv, &pool, &mut pts, 10, |_, _| false)?;
    if !sv.is_live() {
        return Err("camera not live after modprobe".into());
    }
    if !strictly_increasing(&pts) {
        return Err("PTS not continuous across the switches".into());
    }
    Ok(format!(
        "disconnect: {slate1} slate frames then camera back; rmmod: {slate2}+ slate frames ({msg:?}), \
         camera back {after} frames after modprobe; {} frames, PTS strictly increasing",
        pts.len()
    ))
}

fn dropped_buffers() -> Check {
    let dev = vivid_path()?;
    let stats = Arc::new(hlscam::stats::Stats::new());
    let want = fmt(640, 360, 30);
    let mut src = V4l2Source::open_with_formats(
        &dev,
        want,
        &[PixelFormat::Yuyv],
        Arc::new(SystemClock::new()),
    )
    .map_err(|e| e.to_string())?
    .with_stats(stats.clone());
    sh(
        "v4l2-ctl",
        &["-d", &dev, "-c", "percentage_of_dropped_buffers=30"],
    )?;
    let pool = Pool::new(4, want.i420_len());
    let r = pull(&mut src, &pool, 40, None);
    let _ = sh(
        "v4l2-ctl",
        &["-d", &dev, "-c", "percentage_of_dropped_buffers=0"],
    );
    r?;
    let drops = src.drops();
    let counted = stats.drops.load(std::sync::atomic::Ordering::Relaxed);
    if drops == 0 || counted != drops {
        return Err(format!("drops {drops}, stats.drops {counted}"));
    }
    Ok(format!(
        "{drops} drops counted (sequence gaps) in 40 frames"
    ))
}

fn streamon_error() -> Check {
    let dev = vivid_path()?;
    let want = fmt(640, 360, 30);
    {
        // The button is latched until the next STREAMON: open a node first so it exists.
        sh(
            "v4l2-ctl",
            &["-d", &dev, "-c", "inject_vidioc_streamon_error=1"],
        )?;
    }
    let r = V4l2Source::open_with_formats(
        &dev,
        want,
        &[PixelFormat::Yuyv],
        Arc::new(SystemClock::new()),
    );
    let msg = match r {
        Ok(_) => return Err("STREAMON succeeded despite the injected error".into()),
        Err(e) => e.to_string(),
    };
    if !msg.contains("STREAMON") {
        return Err(format!("unclear error: {msg}"));
    }
    // Through the supervisor: the injected error costs one retry, then the camera streams.
    sh(
        "v4l2-ctl",
        &["-d", &dev, "-c", "inject_vidioc_streamon_error=1"],
    )?;
    let mut sv = supervised(&dev, Arc::new(SystemClock::new()));
    let pool = Pool::new(4, want.i420_len());
    let mut live_after = None;
    for i in 0..200 {
        sv.next_frame(&pool).map_err(|e| e.to_string())?;
        if sv.is_live() {
            live_after = Some(i);
            break;
        }
    }
    let i = live_after.ok_or("supervisor never recovered from the STREAMON error")?;
    // A fatal streaming error mid-stream: the supervisor shows the slate and reopens.
    sh(
        "v4l2-ctl",
        &["-d", &dev, "-c", "inject_fatal_streaming_error=1"],
    )?;
    let mut went_slate = false;
    let mut back = false;
    for _ in 0..300 {
        let f = sv.next_frame(&pool).map_err(|e| e.to_string())?;
        if !sv.is_live() {
            went_slate = true;
        } else if went_slate && f.discontinuity {
            back = true;
            break;
        }
    }
    if !went_slate || !back {
        return Err(format!(
            "fatal streaming error: slate {went_slate}, back {back}"
        ));
    }
    Ok(format!("open error {msg:?}; supervisor live after {i} slate frames; survived a fatal streaming error"))
}

fn listing() -> Check {
    let l = list_devices();
    let cam = l
        .cameras
        .iter()
        .find(|c| c.card.contains("vivid"))
        .ok_or_else(|| format!("vivid not listed: {}", l.to_table()))?;
    let yuyv = cam
        .formats
        .iter()
        .find(|f| f.fourcc == "YUYV")
        .ok_or("no YUYV")?;
    let s = yuyv
        .sizes
        .iter()
        .find(|s| (s.width, s.height) == (640, 360))
        .ok_or("no 640x360")?;
    if !s.fps.iter().any(|&r| (r - 30.0).abs() < 0.01) {
        return Err(format!("640x360 rates {:?} lack 30", s.fps));
    }
    if l.cameras
        .iter()
        .any(|c| c.card.contains("vicodec") || c.card.contains("vim2m"))
    {
        return Err("an M2M device is listed as a camera".into());
    }
    if l.encoders.iter().any(|e| e.name.contains("vicodec")) {
        return Err("vicodec (FWHT) listed as an H.264 encoder".into());
    }
    if !l
        .microphones
        .iter()
        .any(|m| m.device.starts_with("hw:Loopback,"))
    {
        return Err(format!("no Loopback microphone: {:?}", l.microphones));
    }
    let json = serde_json::to_string(&l).map_err(|e| e.to_string())?;
    println!("{}", l.to_table());
    Ok(format!(
        "{} cameras, {} microphones, {} encoders, json {} B",
        l.cameras.len(),
        l.microphones.len(),
        l.encoders.len(),
        json.len()
    ))
}

fn auto_pick() -> Check {
    let (src, why) = pick_video(
        "/dev/video-none",
        fmt(640, 360, 30),
        Arc::new(SystemClock::new()),
        None,
        || panic!("fell back to the test source although vivid is there"),
    );
    if !src.name().contains("/dev/video") || !why.contains("camera") {
        return Err(format!("picked {} because {why}", src.name()));
    }
    Ok(why)
}

fn main() {
    let in_vm = std::env::var("HLSCAM_IN_VM").as_deref() == Ok("1");
    let have_video = std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("video"))
        })
        .unwrap_or(false);
    if !have_video {
        if in_vm {
            eprintln!("hw: FAIL: HLSCAM_IN_VM=1 but there is no /dev/video* device");
            std::process::exit(1);
        }
        println!("hw: needs the vmtest VM (real V4L2/ALSA devices): run tests/vm/run.sh; nothing run here");
        return;
    }
    let _ = simplelog::SimpleLogger::init(log::LevelFilter::Info, simplelog::Config::default());
    let only = std::env::args().nth(1);
    let mut figures = Vec::new();
    let mut pass = 0;
    let mut fail = 0;
    let mut run = |name: &str, f: &mut dyn FnMut(&mut Vec<String>) -> Check| {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            return;
        }
        let t = Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut figures)))
            .unwrap_or_else(|p| {
                Err(format!(
                    "PANIC: {:?}",
                    p.downcast_ref::<&str>()
                        .or(p.downcast_ref::<String>().map(|s| &**s).as_ref())
                ))
            });
        match r {
            Ok(m) => {
                pass += 1;
                println!("PASS {name} ({:.1} s): {m}", t.elapsed().as_secs_f64());
            }
            Err(m) => {
                fail += 1;
                println!("FAIL {name} ({:.1} s): {m}", t.elapsed().as_secs_f64());
            }
        }
    };
    run("vivid_yuyv", &mut |f| capture_format(PixelFormat::Yuyv, f));
    run("vivid_nv12", &mut |f| capture_format(PixelFormat::Nv12, f));
    run("vivid_yu12", &mut |f| capture_format(PixelFormat::Yu12, f));
    run("default_prefers_yu12", &mut |_| default_prefers_yu12());
    run("mjpeg_loopback", &mut |f| mjpeg_loopback_fed(f));
    run("h264_loopback", &mut |_| h264_loopback());
    run("audio_loopback", &mut |f| audio_loopback(f));
    run("audio_overrun", &mut |_| audio_overrun());
    run("devices_listing", &mut |_| listing());
    run("auto_pick", &mut |_| auto_pick());
    run("dropped_buffers", &mut |_| dropped_buffers());
    run("streamon_error", &mut |_| streamon_error());
    run("m2m_vicodec", &mut |f| m2m_vm::m2m_vicodec(f));
    run("m2m_dmabuf", &mut |f| m2m_vm::m2m_dmabuf(f));
    run("m2m_unplug_fallback", &mut |f| {
        m2m_vm::m2m_unplug_fallback(f)
    });
    run("disconnect_replug", &mut |_| disconnect_replug());
    let _ = Duration::ZERO;
    let _: Option<SourceError> = None;
    for f in &figures {
        println!("figure: {f}");
    }
    println!("vm: {pass} passed, {fail} failed");
    std::process::exit(if fail == 0 && pass > 0 { 0 } else { 1 });
}
