//! Muxing throughput (elementary-stream bytes in per second) against a plain `copy_from_slice`
//! of the same bytes: 2 Mb/s 30 fps H.264-like video (8.3 KB frames, a 40 KB IDR every 60) and
//! 96 kb/s AAC (256-byte ADTS frames at 48 kHz), into a sink that discards packets.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hlscam::codec::adts::write_adts_header;
use hlscam::media::{AudioAu, VideoAu};
use hlscam::time::Pts90k;
use hlscam::ts::{MuxConfig, PacketSink, TsMuxer, PACKET_LEN};
use std::time::Instant;

struct Discard(u64);
impl PacketSink for Discard {
    fn put(&mut self, pkt: &[u8; PACKET_LEN]) {
        self.0 = self.0.wrapping_add(black_box(pkt)[4] as u64);
    }
}

fn video_aus() -> Vec<(Vec<u8>, bool)> {
    (0..60)
        .map(|i| {
            let key = i == 0;
            let mut v = if key {
                vec![
                    0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E, 0xAB, 0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0, 0,
                    1, 0x65,
                ]
            } else {
                vec![0, 0, 0, 1, 0x41]
            };
            let n = if key { 40_000 } else { 8_300 };
            v.extend((0..n).map(|k: u32| (k % 251) as u8 | 1));
            (v, key)
        })
        .collect()
}

fn audio_frames() -> Vec<u8> {
    let mut data = vec![];
    for _ in 0..47 {
        let mut f = vec![0x5Au8; 256];
        let mut h = [0u8; 7];
        write_adts_header(&mut h, 1, 3, 1, 256);
        f[..7].copy_from_slice(&h);
        data.extend_from_slice(&f);
    }
    data
}

fn bench(c: &mut Criterion) {
    let video = video_aus();
    let video_bytes: u64 = video.iter().map(|(v, _)| v.len() as u64).sum();
    let audio = audio_frames();
    let mut g = c.benchmark_group("mux");

    g.throughput(Throughput::Bytes(video_bytes));
    let mut mux = TsMuxer::new(MuxConfig {
        audio_pid: None,
        ..MuxConfig::default()
    });
    let mut sink = Discard(0);
    let mut t = 0u64;
    g.bench_function("video_2mbps_gop60", |b| {
        b.iter(|| {
            for (au, key) in &video {
                t += 3000;
                let a = VideoAu {
                    data: au,
                    pts: Pts90k(t),
                    dts: Pts90k(t),
                    key: *key,
                };
                mux.push_video(&a, &mut sink).unwrap();
            }
        })
    });
    let mut dst = vec![0u8; 64 * 1024];
    g.bench_function("video_copy_reference", |b| {
        b.iter(|| {
            for (au, _) in &video {
                dst[..au.len()].copy_from_slice(au);
                black_box(&dst);
            }
        })
    });

    g.throughput(Throughput::Bytes(audio.len() as u64));
    let mut amux = TsMuxer::new(MuxConfig::default());
    let mut ta = 0u64;
    g.bench_function("audio_aac_96k", |b| {
        b.iter(|| {
            for f in audio.chunks(256) {
                ta += 1920;
                amux.push_audio(
                    &AudioAu {
                        data: f,
                        pts: Pts90k(ta),
                    },
                    &mut sink,
                )
                .unwrap();
            }
        })
    });
    g.bench_function("audio_copy_reference", |b| {
        b.iter(|| {
            for f in audio.chunks(256) {
                dst[..f.len()].copy_from_slice(f);
                black_box(&dst);
            }
        })
    });
    g.finish();

    // A direct ratio over a fixed amount of work (printed, not asserted).
    let rounds = 200;
    let ratio = |mux_once: &mut dyn FnMut(), copy_once: &mut dyn FnMut()| {
        let t0 = Instant::now();
        for _ in 0..rounds {
            mux_once();
        }
        let m = t0.elapsed();
        let t0 = Instant::now();
        for _ in 0..rounds {
            copy_once();
        }
        let c = t0.elapsed();
        c.as_secs_f64() / m.as_secs_f64()
    };
    let mut vm = TsMuxer::new(MuxConfig {
        audio_pid: None,
        ..MuxConfig::default()
    });
    let mut tv = 0u64;
    let r_video = ratio(
        &mut || {
            for (au, key) in &video {
                tv += 3000;
                let a = VideoAu {
                    data: au,
                    pts: Pts90k(tv),
                    dts: Pts90k(tv),
                    key: *key,
                };
                vm.push_video(&a, &mut sink).unwrap();
            }
        },
        &mut || {
            for (au, _) in &video {
                dst[..au.len()].copy_from_slice(au);
                black_box(&dst);
            }
        },
    );
    let mut am = TsMuxer::new(MuxConfig::default());
    let mut tb = 0u64;
    let r_audio = ratio(
        &mut || {
            for f in audio.chunks(256) {
                tb += 1920;
                am.push_audio(
                    &AudioAu {
                        data: f,
                        pts: Pts90k(tb),
                    },
                    &mut sink,
                )
                .unwrap();
            }
        },
        &mut || {
            for f in audio.chunks(256) {
                dst[..f.len()].copy_from_slice(f);
                black_box(&dst);
            }
        },
    );
    println!(
        "mux speed / copy speed: video {:.1} %, audio {:.1} %",
        r_video * 100.0,
        r_audio * 100.0
    );
    black_box(sink.0);
}

criterion_group!(benches, bench);
criterion_main!(benches);
