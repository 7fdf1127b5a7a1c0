//! CPU per frame of the capture converters at 1280x720: YUYV→I420, NV12→I420, and MJPEG
//! decoding (our zune-jpeg path straight to I420, and for comparison zune-jpeg and
//! jpeg-decoder decoding to interleaved YCbCr). The JPEG is made at run time by ffmpeg.
//!
//! `cargo bench --bench convert` (short: 20 samples, 2 s each).

use criterion::{criterion_group, criterion_main, Criterion};
use hlscam::source::convert::{nv12_to_i420, yuyv_to_i420, MjpegDecoder};
use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu;

const W: usize = 1280;
const H: usize = 720;

fn jpeg_720p() -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("hlscam-bench-{}.jpg", std::process::id()));
    let st = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={W}x{H}"))
        .args(["-frames:v", "1", "-q:v", "5"])
        .arg(&path)
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let v = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    v
}

fn cpu_per_frame(name: &str, n: u32, mut f: impl FnMut()) {
    f();
    let t0 = thread_cpu();
    for _ in 0..n {
        f();
    }
    let per = (thread_cpu() - t0) / n;
    println!(
        "cpu per frame 1280x720 {name}: {:.3} ms",
        per.as_secs_f64() * 1e3
    );
}

fn bench(c: &mut Criterion) {
    {
        let yuyv: Vec<u8> = (0..W * H * 2).map(|i| (i * 7 % 251) as u8).collect();
        let nv12: Vec<u8> = (0..W * H * 3 / 2).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = vec![0u8; W * H * 3 / 2];
        let jpeg = jpeg_720p();
        let mut dec = MjpegDecoder::new();
        cpu_per_frame("yuyv_to_i420", 300, || {
            yuyv_to_i420(black_box(&yuyv), W * 2, W, H, &mut out).unwrap()
        });
        cpu_per_frame("nv12_to_i420", 300, || {
            nv12_to_i420(black_box(&nv12), W, W, H, &mut out).unwrap()
        });
        cpu_per_frame("mjpeg_zune_to_i420", 100, || {
            dec.decode(black_box(&jpeg), W, H, &mut out).unwrap()
        });
        cpu_per_frame("mjpeg_jpeg_decoder_ycbcr", 100, || {
            let mut d = jpeg_decoder::Decoder::new(black_box(&jpeg[..]));
            d.set_color_transform(jpeg_decoder::ColorTransform::None);
            black_box(d.decode().unwrap());
        });
        println!("jpeg 1280x720 testsrc q5: {} bytes", jpeg.len());
    }
    let mut g = c.benchmark_group("convert_1280x720");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let yuyv: Vec<u8> = (0..W * H * 2).map(|i| (i * 7 % 251) as u8).collect();
    let nv12: Vec<u8> = (0..W * H * 3 / 2).map(|i| (i * 7 % 251) as u8).collect();
    let mut out = vec![0u8; W * H * 3 / 2];
    g.bench_function("yuyv_to_i420", |b| {
        b.iter(|| yuyv_to_i420(black_box(&yuyv), W * 2, W, H, &mut out).unwrap())
    });
    g.bench_function("nv12_to_i420", |b| {
        b.iter(|| nv12_to_i420(black_box(&nv12), W, W, H, &mut out).unwrap())
    });
    let jpeg = jpeg_720p();
    let mut dec = MjpegDecoder::new();
    g.bench_function("mjpeg_zune_to_i420", |b| {
        b.iter(|| dec.decode(black_box(&jpeg), W, H, &mut out).unwrap())
    });
    let mut ycc = vec![0u8; W * H * 3];
    g.bench_function("mjpeg_zune_ycbcr", |b| {
        b.iter(|| {
            use zune_jpeg::zune_core::{
                bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions,
            };
            let o = DecoderOptions::new_fast().jpeg_set_out_colorspace(ColorSpace::YCbCr);
            let mut d =
                zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(black_box(&jpeg[..])), o);
            d.decode_into(&mut ycc).unwrap();
        })
    });
    g.bench_function("mjpeg_jpeg_decoder_ycbcr", |b| {
        b.iter(|| {
            let mut d = jpeg_decoder::Decoder::new(black_box(&jpeg[..]));
            d.set_color_transform(jpeg_decoder::ColorTransform::None);
            black_box(d.decode().unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
