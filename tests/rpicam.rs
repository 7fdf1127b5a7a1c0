//! `video.source = "rpicam"` against a stand-in for `rpicam-vid` (`tests/support/fake-rpicam-vid`)
//! that writes frames exactly in the documented `--codec yuv420` layout (stride padding filled
//! with 0xA5) or real H.264 from ffmpeg, and exits after a set number of frames:
//!
//! * the raw frames read by [`RpicamSource`] equal the stand-in's pattern with the padding gone,
//!   for widths that need padding (VC4 and Pi 5 alignments) and one that does not; a frame cut
//!   short by a crash is never delivered;
//! * supervised, every exit shows the slate, the helper is started again, the first frame after
//!   each switch carries `discontinuity`, and the frame counts add up;
//! * in H.264 mode the access units match ffprobe's own packet split, key flags sit on the IDRs,
//!   the stream decodes, and the first access unit after a restart carries `discontinuity`;
//! * end to end, the real `hlscam` binary with `video.source = "rpicam"` (raw, and with
//!   `encoder = "camera"`) serves over HTTP on 127.0.0.1 a playlist with
//!   `#EXT-X-DISCONTINUITY` after the helper's restart, and every segment decodes.
//!
//! Nothing here runs a real `rpicam-vid`: no Pi is attached to the test machines.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "http_util/mod.rs"]
mod http_util;
#[path = "support/tools.rs"]
mod tools;

use hlscam::encode::EncodedVideo;
use hlscam::pipeline::EncodedVideoSource;
use hlscam::pool::Pool;
use hlscam::source::rpicam::{h264_args, supervised_rpicam_with, RpicamH264, RpicamSource};
use hlscam::source::supervisor::SimSleeper;
use hlscam::source::{RawFrame, SourceError, VideoFormat, VideoSource};
use hlscam::stats::Stats;
use hlscam::time::{Clock, SimClock, SystemClock};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

fn fake() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-rpicam-vid")
}

/// A wrapper script in `dir` that runs the stand-in with `env` set (per-test settings without
/// touching this process's environment, which tests share).
fn wrapper(dir: &Path, name: &str, env: &[(&str, String)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let mut text = String::from("#!/bin/sh\n");
    for (k, v) in env {
        text.push_str(&format!("export {k}='{v}'\n"));
    }
    text.push_str(&format!("exec '{}' \"$@\"\n", fake().display()));
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn fmt(width: u32, height: u32, fps: u32) -> VideoFormat {
    VideoFormat { width, height, fps }
}

/// The stand-in's picture for frame `f` of run `r`, tightly packed I420.
fn pattern(w: usize, h: usize, f: usize, r: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(w * h * 3 / 2);
    for y in 0..h {
        v.extend((0..w).map(|x| ((3 * x + 5 * y + 7 * f + 11 * r) & 255) as u8));
    }
    for y in 0..h / 2 {
        v.extend((0..w / 2).map(|x| ((x + 2 * y + f) & 255) as u8));
    }
    for y in 0..h / 2 {
        v.extend((0..w / 2).map(|x| ((2 * x + y + 3 * f + r) & 255) as u8));
    }
    v
}

/// Reads frames until the source reports the helper gone; returns them (picture bytes).
fn read_all(src: &mut RpicamSource, pool: &Pool) -> (Vec<Vec<u8>>, SourceError) {
    let mut frames = Vec::new();
    let mut last = None;
    for _ in 0..1000 {
        match src.next_frame(pool) {
            Ok(f) => {
                assert!(last < Some(f.pts), "PTS strictly increase");
                last = Some(f.pts);
                frames.push(f.buf[..f.format.i420_len()].to_vec());
            }
            Err(e) => return (frames, e),
        }
    }
    panic!("the stand-in did not exit");
}

#[test]
fn raw_frames_lose_their_padding() {
    let dir = tools::fresh_dir("rpicam-raw");
    // (width, height, alignment, stride the stand-in pads to)
    for (w, h, align, stride) in [
        (100, 60, 64, 128),  // VC4, padded
        (128, 72, 64, 128),  // VC4, no padding
        (320, 36, 128, 384), // Pi 5, padded
        (1000, 8, 64, 1024), // VC4, padded
    ] {
        let n = 7;
        let script = wrapper(
            &dir,
            &format!("raw-{w}"),
            &[
                ("FAKE_RPICAM_FRAMES", n.to_string()),
                ("FAKE_RPICAM_PACE", "0".into()),
                ("FAKE_RPICAM_ALIGN", align.to_string()),
            ],
        );
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let want = fmt(w, h, 30);
        let mut src =
            RpicamSource::spawn_with(script.to_str().unwrap(), align, want, clock).unwrap();
        assert_eq!(src.layout().stride, stride);
        assert_eq!(
            src.layout().frame_len(),
            stride * h as usize * 3 / 2,
            "frame length {w}x{h}"
        );
        let pool = Pool::new(4, want.i420_len());
        let (frames, end) = read_all(&mut src, &pool);
        assert!(matches!(end, SourceError::Gone(_)), "{end:?}");
        assert_eq!(frames.len(), n, "{w}x{h}: every frame, no more");
        for (f, got) in frames.iter().enumerate() {
            assert!(
                *got == pattern(w as usize, h as usize, f, 0),
                "{w}x{h} frame {f} differs from the stand-in's picture"
            );
        }
        assert!(src.name().starts_with("rpicam:"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_frame_cut_short_is_never_delivered() {
    let dir = tools::fresh_dir("rpicam-partial");
    let script = wrapper(
        &dir,
        "partial",
        &[
            ("FAKE_RPICAM_FRAMES", "4".into()),
            ("FAKE_RPICAM_PACE", "0".into()),
            ("FAKE_RPICAM_PARTIAL", "1".into()),
        ],
    );
    let want = fmt(100, 60, 30);
    let mut src = RpicamSource::spawn_with(
        script.to_str().unwrap(),
        64,
        want,
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    let pool = Pool::new(2, want.i420_len());
    let (frames, end) = read_all(&mut src, &pool);
    assert_eq!(frames.len(), 4);
    match end {
        SourceError::Gone(msg) => assert!(msg.contains("exit status: 1"), "{msg}"),
        e => panic!("{e:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn supervised_restarts_show_the_slate_and_mark_discontinuities() {
    let dir = tools::fresh_dir("rpicam-restart");
    let per_run = 10;
    let script = wrapper(
        &dir,
        "restart",
        &[
            ("FAKE_RPICAM_FRAMES", per_run.to_string()),
            ("FAKE_RPICAM_PACE", "0".into()),
            ("FAKE_RPICAM_STATE", dir.join("runs").display().to_string()),
        ],
    );
    let clock = SimClock::at_2026();
    let stats = Arc::new(Stats::new());
    let want = fmt(100, 60, 30);
    let mut sv = supervised_rpicam_with(
        script.to_str().unwrap(),
        64,
        want,
        Arc::new(clock.clone()),
        Some(stats.clone()),
    )
    .with_sleeper(Box::new(SimSleeper(clock)));
    let pool = Pool::new(2, want.i420_len());
    // (live, discontinuity) per frame; the picture checked for live ones.
    let mut log: Vec<(bool, bool)> = Vec::new();
    let (mut run, mut in_run) = (0usize, 0usize);
    let mut losses = 0;
    let mut last_pts = None;
    for _ in 0..2000 {
        let f: RawFrame = sv
            .next_frame(&pool)
            .expect("a supervised source always delivers");
        assert!(last_pts < Some(f.pts));
        last_pts = Some(f.pts);
        let live = sv.is_live();
        if live {
            if log.last().is_some_and(|l| !l.0) {
                run += 1;
                in_run = 0;
            }
            assert!(
                f.buf[..want.i420_len()] == pattern(100, 60, in_run, run)[..],
                "run {run} frame {in_run}"
            );
            in_run += 1;
        } else {
            if log.last().is_some_and(|l| l.0) {
                losses += 1;
                assert_eq!(sv.message(), "NO SIGNAL: rpicam-vid GONE - RETRYING");
            }
            assert_eq!(f.format, want, "the slate keeps the geometry");
        }
        log.push((live, f.discontinuity));
        if losses == 3 {
            break;
        }
    }
    assert_eq!(losses, 3, "three runs ended within the bound");
    let live = log.iter().filter(|l| l.0).count();
    let slate = log.len() - live;
    assert_eq!(live, 3 * per_run, "every frame of the three runs, no more");
    assert!(slate >= 3, "slate between runs and after the last");
    // Discontinuity exactly on the first frame after each switch (not on the very first).
    let switches: Vec<usize> = (1..log.len())
        .filter(|&i| log[i].0 != log[i - 1].0)
        .collect();
    let flagged: Vec<usize> = (0..log.len()).filter(|&i| log[i].1).collect();
    assert_eq!(flagged, switches);
    assert_eq!(switches.len(), 5, "live→slate ×3, slate→live ×2");
    assert!(log[0].0, "the first frame comes from the helper");
    assert_eq!(stats.restarts.load(Ordering::Relaxed), 3);
    assert_eq!(std::fs::read_to_string(dir.join("runs")).unwrap(), "3");
    eprintln!(
        "supervised: {} frames ({live} from rpicam, {slate} slate), {} discontinuities, 3 restarts",
        log.len(),
        flagged.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn steady_state_reads_do_not_allocate() {
    let dir = tools::fresh_dir("rpicam-alloc");
    let script = wrapper(
        &dir,
        "alloc",
        &[
            ("FAKE_RPICAM_FRAMES", "40".into()),
            ("FAKE_RPICAM_PACE", "0".into()),
        ],
    );
    let prog = script.to_str().unwrap();
    let want = fmt(100, 60, 30);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    // Raw: a frame read from the pipe, unpadded into a pool buffer, stamped.
    let mut src = RpicamSource::spawn_with(prog, 64, want, clock.clone()).unwrap();
    let pool = Pool::new(2, want.i420_len());
    for _ in 0..5 {
        src.next_frame(&pool).unwrap();
    }
    let (frames, allocs) = counting_alloc::measure(|| {
        (0..30)
            .map(|_| src.next_frame(&pool).map(|f| f.seq).unwrap())
            .count()
    });
    assert_eq!((frames, allocs), (30, 0), "raw: frames read, allocations");
    // H.264: access units cut from the pipe into a reused buffer.
    let want = fmt(160, 120, 30);
    let mut h = RpicamH264::spawn_with(prog, h264_args(want, 10, 500, true), want, clock).unwrap();
    let mut out = EncodedVideo::with_capacity(1 << 16);
    for _ in 0..5 {
        h.next_au(&mut out).unwrap();
    }
    let (aus, allocs) = counting_alloc::measure(|| {
        (0..30)
            .map(|_| h.next_au(&mut out).map(|()| out.data.len()).unwrap())
            .count()
    });
    assert_eq!(
        (aus, allocs),
        (30, 0),
        "H.264: access units read, allocations"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// ffprobe's own packet sizes for an Annex B file (its H.264 parser splits access units).
fn ffprobe_packet_sizes(file: &str) -> Vec<usize> {
    tools::ffprobe(&[
        "-select_streams",
        "v:0",
        "-show_entries",
        "packet=size",
        "-of",
        "csv=p=0",
        file,
    ])
    .lines()
    .map(|l| l.trim().parse().unwrap())
    .collect()
}

#[test]
fn h264_passthrough_splits_access_units_and_restarts() {
    let dir = tools::fresh_dir("rpicam-h264");
    let per_run = 25;
    let script = wrapper(
        &dir,
        "h264",
        &[
            ("FAKE_RPICAM_FRAMES", per_run.to_string()),
            ("FAKE_RPICAM_PACE", "0".into()),
            ("FAKE_RPICAM_ARGS", dir.join("args").display().to_string()),
        ],
    );
    let want = fmt(160, 120, 30);
    let args = h264_args(want, 10, 500, true);
    let mut src = RpicamH264::spawn_with(
        script.to_str().unwrap(),
        args.clone(),
        want,
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    let mut out = EncodedVideo::with_capacity(1 << 16);
    let mut runs: Vec<Vec<(Vec<u8>, bool, bool)>> = vec![Vec::new()];
    let mut last_pts = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while runs.len() <= 2 {
        assert!(Instant::now() < deadline, "two runs within the bound");
        match src.next_au(&mut out) {
            Ok(()) => {
                assert!(last_pts < Some(out.pts));
                assert_eq!(out.pts, out.dts);
                last_pts = Some(out.pts);
                runs.last_mut()
                    .unwrap()
                    .push((out.data.clone(), out.key, out.discontinuity));
            }
            Err(SourceError::Gone(msg)) => {
                assert!(msg.contains("exit status: 0"), "{msg}");
                runs.push(Vec::new());
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    runs.pop();
    assert_eq!(
        std::fs::read_to_string(dir.join("args")).unwrap(),
        format!("{}\n{}\n", args.join(" "), args.join(" ")),
        "started twice with rpicam-vid's arguments"
    );
    let mut all = Vec::new();
    for (r, aus) in runs.iter().enumerate() {
        assert_eq!(
            aus.len(),
            per_run,
            "run {r}: every access unit, the last one too"
        );
        let keys: Vec<usize> = (0..aus.len()).filter(|&i| aus[i].1).collect();
        assert_eq!(keys, [0, 10, 20], "run {r}: IDR every --intra frames");
        let disc: Vec<usize> = (0..aus.len()).filter(|&i| aus[i].2).collect();
        assert_eq!(disc, if r == 0 { vec![] } else { vec![0] }, "run {r}");
        // The split agrees with ffprobe's H.264 parser, access unit for access unit.
        let file = dir.join(format!("run{r}.h264"));
        let bytes: Vec<u8> = aus.iter().flat_map(|a| a.0.iter().copied()).collect();
        std::fs::write(&file, &bytes).unwrap();
        let ours: Vec<usize> = aus.iter().map(|a| a.0.len()).collect();
        assert_eq!(
            ffprobe_packet_sizes(file.to_str().unwrap()),
            ours,
            "run {r}"
        );
        all.extend(bytes);
    }
    // Both runs, back to back, decode without an error: 50 pictures.
    let file = dir.join("all.h264");
    std::fs::write(&file, &all).unwrap();
    let decoded = tools::ffmpeg_clean(&["-i", file.to_str().unwrap(), "-f", "framemd5", "-"]);
    let pictures = String::from_utf8_lossy(&decoded)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert_eq!(pictures, 2 * per_run);
    eprintln!("h264: 2 runs × {per_run} access units, keys at 0/10/20, 1 discontinuity, {pictures} decoded");
    let _ = std::fs::remove_dir_all(&dir);
}

/// hlscam started by a test, killed (by its PID) and reaped when dropped.
struct Hlscam(Child);

impl Drop for Hlscam {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs hlscam with `config`, `HLSCAM_RPICAM_VID` = `helper`, and returns it with its address.
fn start_hlscam(config: &Path, helper: &Path, extra: &[&str]) -> (Hlscam, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hlscam"))
        .arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("HLSCAM_RPICAM_VID", helper)
        .env("HLSCAM_RPICAM_ALIGN", "64")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start hlscam");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("open http://127.0.0.1:").nth(1) {
                let port: u16 = rest.split('/').next().unwrap().parse().unwrap();
                let _ = tx.send(port);
            }
            eprintln!("[hlscam] {line}");
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("hlscam announced its port");
    (Hlscam(child), SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A finite paced run of hlscam on the stand-in exiting every 1.5 s: the finished playlist has
/// a discontinuity after a restart and every segment it lists decodes.
fn end_to_end(tag: &str, encoder: &str) {
    let dir = tools::fresh_tmpfs_dir(tag);
    let helper = wrapper(
        &dir,
        "helper",
        &[
            ("FAKE_RPICAM_FRAMES", "45".into()),
            ("FAKE_RPICAM_ALIGN", "64".into()),
            ("FAKE_RPICAM_ARGS", dir.join("args").display().to_string()),
        ],
    );
    let cfg = dir.join("hlscam.toml");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"rpicam\"\nencoder = \"{encoder}\"\nwidth = 160\nheight = 120\n\
             fps = 30\nbitrate_kbps = 400\n[audio]\nsource = \"none\"\n\
             [hls]\ndir = \"{}\"\nsegment_seconds = 1\nwindow = 20\n",
            dir.join("out").display()
        ),
    )
    .unwrap();
    let (_p, addr) = start_hlscam(&cfg, &helper, &["--duration", "7", "--linger", "60"]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let playlist = loop {
        let r = http_util::get(addr, "/live.m3u8");
        let text = String::from_utf8_lossy(&r.body).to_string();
        if r.status == 200 && text.contains("#EXT-X-ENDLIST") {
            break text;
        }
        assert!(Instant::now() < deadline, "no finished playlist in time");
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("{playlist}");
    let starts = std::fs::read_to_string(dir.join("args"))
        .unwrap()
        .lines()
        .count();
    assert!(starts >= 2, "rpicam-vid was restarted ({starts} starts)");
    let discontinuities = playlist.matches("#EXT-X-DISCONTINUITY\n").count();
    assert!(discontinuities >= 1, "a discontinuity after the restart");
    let segments: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".ts")).collect();
    assert!(segments.len() >= 4, "{playlist}");
    for name in &segments {
        let r = http_util::get(addr, &format!("/{name}"));
        assert_eq!(r.status, 200, "{name}");
        let file = dir.join(name);
        std::fs::write(&file, &r.body).unwrap();
        let f = file.to_str().unwrap();
        let streams = tools::stream_types(f);
        assert!(
            streams.contains("video") && !streams.contains("audio"),
            "{name}: {streams}"
        );
        let first = tools::first_video_frame(f);
        assert!(
            first.starts_with("1,I"),
            "{name} starts with an IDR: {first}"
        );
        tools::ffmpeg_clean(&["-i", f, "-f", "null", "-"]);
    }
    eprintln!(
        "{tag}: {starts} rpicam-vid starts, {} segments decoded, {discontinuities} discontinuities",
        segments.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn end_to_end_raw_restart_is_a_discontinuity() {
    end_to_end("rpicam-e2e-raw", "openh264");
}

#[test]
fn end_to_end_camera_h264_restart_is_a_discontinuity() {
    end_to_end("rpicam-e2e-h264", "camera");
}
