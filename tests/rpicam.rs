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
//! * reading frames and access units allocates nothing once running;
//! * `--list-cameras` (how `source = "auto"` finds a CSI camera) is parsed, none and a missing
//!   program told apart.
//!
//! The end-to-end runs of the binary are in `tests/rpicam_e2e.rs`. Nothing here runs a real
//! `rpicam-vid`: no Pi is attached to the test machines.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/rpicam_fake.rs"]
mod rpicam_fake;
#[path = "support/tools.rs"]
mod tools;

use hlscam::encode::EncodedVideo;
use hlscam::pipeline::EncodedVideoSource;
use hlscam::pool::Pool;
use hlscam::source::rpicam::{
    h264_args, list_cameras, supervised_rpicam_with, RpicamH264, RpicamSource,
};
use hlscam::source::supervisor::SimSleeper;
use hlscam::source::{RawFrame, SourceError, VideoFormat, VideoSource};
use hlscam::stats::Stats;
use hlscam::time::{Clock, SimClock, SystemClock};
use rpicam_fake::{pattern, wrapper};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

fn fmt(width: u32, height: u32, fps: u32) -> VideoFormat {
    VideoFormat { width, height, fps }
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

#[test]
fn list_cameras_finds_csi_cameras_and_tells_none_from_not_installed() {
    let dir = tools::fresh_dir("rpicam-list");
    let two = wrapper(&dir, "two", &[("FAKE_RPICAM_CAMERAS", "2".into())]);
    let cams = list_cameras(two.to_str().unwrap()).unwrap();
    assert_eq!(cams.len(), 2, "{cams:?}");
    assert!(cams[0].starts_with("0 : imx708 [4608x2592"), "{cams:?}");
    let none = wrapper(&dir, "none", &[("FAKE_RPICAM_CAMERAS", "0".into())]);
    assert!(list_cameras(none.to_str().unwrap()).unwrap().is_empty());
    let missing = dir.join("no-such-rpicam-vid");
    let e = list_cameras(missing.to_str().unwrap()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
