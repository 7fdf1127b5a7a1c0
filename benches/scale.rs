//! CPU per frame of the I420 downscaler (`hlscam::scale::Scaler`) for the adaptive-bitrate
//! variants: 1280x720 → 640x360 (the 2:1 path), 1920x1080 → 640x360 (3:1) and 1280x720 →
//! 480x270 (8:3), both general box-filter ratios; and, in the same run, ffmpeg's swscale doing
//! the same work (`-vf scale=W:H:flags=area`, one thread) on the same picture: ffmpeg's CPU for
//! N frames piped in raw, less its CPU for a `-vf null` run of the same frames, per frame.
//!
//! `cargo bench --bench scale` (short: 20 samples, 2 s each).

use criterion::{criterion_group, criterion_main, Criterion};
use hlscam::scale::Scaler;
use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "support/cpu.rs"]
mod cpu;
#[path = "../tests/support/tools.rs"]
mod tools;
use cpu::{children_cpu, thread_cpu};

const CASES: [(u32, u32, u32, u32); 3] = [
    (1280, 720, 640, 360),
    (1920, 1080, 640, 360),
    (1280, 720, 480, 270),
];

/// Frames ffmpeg scales per run.
const FFMPEG_FRAMES: usize = 300;

fn i420_len(w: u32, h: u32) -> usize {
    hlscam::source::convert::i420_len(w as usize, h as usize)
}

/// ffmpeg's CPU for [`FFMPEG_FRAMES`] copies of `pic` (`w×h` I420 on its stdin) through `vf`.
fn ffmpeg_cpu(pic: &[u8], w: u32, h: u32, vf: &str) -> Duration {
    let t0 = children_cpu();
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-threads", "1"])
        .args([
            "-filter_threads",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg("-s")
        .arg(format!("{w}x{h}"))
        .args(["-i", "pipe:0", "-vf", vf, "-f", "null", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("ffmpeg");
    let mut stdin = child.stdin.take().unwrap();
    for _ in 0..FFMPEG_FRAMES {
        stdin.write_all(pic).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    children_cpu() - t0
}

fn bench(c: &mut Criterion) {
    for (sw, sh, dw, dh) in CASES {
        let pic = tools::testsrc2_i420(sw, sh);
        let mut out = vec![0u8; i420_len(dw, dh)];
        let mut s = Scaler::new(sw, sh, dw, dh).unwrap();
        // Best of 5 runs of 100 frames (the machine is shared: the least disturbed run).
        s.scale(&pic, &mut out);
        let run = |s: &mut Scaler, out: &mut [u8]| {
            let t0 = thread_cpu();
            for _ in 0..100 {
                s.scale(black_box(&pic), out);
            }
            (thread_cpu() - t0) / 100
        };
        let ours = (0..5).map(|_| run(&mut s, &mut out)).min().unwrap();
        // ffmpeg: the best of 5 runs of each, scaled minus null.
        let best = |vf: &str| (0..5).map(|_| ffmpeg_cpu(&pic, sw, sh, vf)).min().unwrap();
        let scaled = best(&format!("scale={dw}:{dh}:flags=area"));
        let null = best("null");
        let theirs = scaled.saturating_sub(null) / FFMPEG_FRAMES as u32;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "cpu per frame {sw}x{sh}->{dw}x{dh}: hlscam {:.3} ms ({:.1} % of a 30 fps frame), \
             ffmpeg swscale area {:.3} ms (its run {:.3} ms, -vf null {:.3} ms per frame): \
             ratio {:.2}",
            ms(ours),
            ms(ours) / (1000.0 / 30.0) * 100.0,
            ms(theirs),
            ms(scaled / FFMPEG_FRAMES as u32),
            ms(null / FFMPEG_FRAMES as u32),
            ours.as_secs_f64() / theirs.as_secs_f64(),
        );
    }
    let mut g = c.benchmark_group("scale_i420");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for (sw, sh, dw, dh) in CASES {
        let pic = tools::testsrc2_i420(sw, sh);
        let mut out = vec![0u8; i420_len(dw, dh)];
        let mut s = Scaler::new(sw, sh, dw, dh).unwrap();
        g.bench_function(format!("{sw}x{sh}_to_{dw}x{dh}"), |b| {
            b.iter(|| s.scale(black_box(&pic), &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
