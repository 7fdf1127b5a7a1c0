//! Property-style test with a fixed seed: random frame rates, IDR spacings, start times (some
//! crossing the 33-bit wrap), target durations and audio on/off, with the driver honouring
//! `wants_keyframe` like the pipeline. Every segment, parsed by the independent `mpeg2ts` crate,
//! starts PAT, PMT, then a video PES with `random_access_indicator` whose access unit is AUD …
//! SPS, PPS, IDR; continuity counters run on across the concatenated segments; no segment
//! lasts more than target + 0.5 s; the EXTINF sum equals the media time.

mod hls_support;

use std::collections::HashMap;
use std::io::Cursor;

use hls_support::{make_adts, make_video_au, t0, AAC_TICKS};
use hlscam::hls::{HlsConfig, HlsOutput, MemStore};
use hlscam::media::{AudioAu, VideoAu};
use hlscam::time::{Pts90k, MASK_33};
use mpeg2ts::ts::{ReadTsPacket, TsPacketReader, TsPayload};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FRAME_TICKS: [u64; 9] = [9000, 7200, 6000, 3750, 3600, 3003, 3000, 1800, 1500];

fn nal_types(es: &[u8]) -> Vec<u8> {
    hlscam::codec::h264::NalIter::new(es)
        .map(|n| n.nal_type)
        .collect()
}

/// Checks one segment's start; returns its packets' (pid, cc, has_payload).
fn check_segment_start(seg: &[u8], name: &str) {
    assert_eq!(seg.len() % 188, 0);
    let mut r = TsPacketReader::new(Cursor::new(seg));
    let p0 = r.read_ts_packet().unwrap().unwrap();
    assert!(
        matches!(p0.payload, Some(TsPayload::Pat(_))),
        "{name}: PAT first"
    );
    let p1 = r.read_ts_packet().unwrap().unwrap();
    assert!(
        matches!(p1.payload, Some(TsPayload::Pmt(_))),
        "{name}: PMT second"
    );
    // The next packet with a payload on the video PID starts the IDR's PES.
    let mut es = Vec::new();
    let mut started = false;
    while let Some(p) = r.read_ts_packet().unwrap() {
        if p.header.pid.as_u16() != 0x100 {
            continue;
        }
        match p.payload {
            Some(TsPayload::PesStart(pes)) => {
                if started {
                    break;
                }
                assert!(
                    p.adaptation_field
                        .as_ref()
                        .is_some_and(|a| a.random_access_indicator),
                    "{name}: RAI on the IDR's first packet"
                );
                assert_eq!(pes.header.stream_id.as_u8(), 0xE0);
                started = true;
                es.extend_from_slice(&pes.data);
            }
            Some(TsPayload::PesContinuation(b)) if started => es.extend_from_slice(&b),
            None => {}
            other => panic!("{name}: unexpected video payload {other:?}"),
        }
    }
    assert!(started, "{name}: no video PES");
    let types = nal_types(&es);
    assert_eq!(types[0], 9, "{name}: AUD first: {types:?}");
    let idr = types.iter().position(|&t| t == 5).expect("IDR slice");
    assert!(
        types[..idr].contains(&7) && types[..idr].contains(&8),
        "{name}: {types:?}"
    );
}

fn check_cc(stream: &[u8]) -> usize {
    let mut last: HashMap<u16, u8> = HashMap::new();
    let mut n = 0;
    for pkt in stream.chunks(188) {
        assert_eq!(pkt[0], 0x47);
        let pid = u16::from_be_bytes([pkt[1] & 0x1F, pkt[2]]);
        let cc = pkt[3] & 0x0F;
        let has_payload = pkt[3] & 0x10 != 0;
        if let Some(&prev) = last.get(&pid) {
            let want = if has_payload { (prev + 1) & 0x0F } else { prev };
            assert_eq!(cc, want, "CC of PID {pid:#x} at packet {n}");
        }
        last.insert(pid, cc);
        n += 1;
    }
    n
}

#[test]
fn random_streams_keep_segment_invariants() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut segments_checked = 0;
    for case in 0..40 {
        let frame = FRAME_TICKS[rng.below(FRAME_TICKS.len() as u64) as usize];
        let target_secs = 1 + rng.below(4) as u32;
        let target = target_secs as u64 * 90_000;
        let base = if rng.below(3) == 0 {
            MASK_33 - rng.below(20 * 90_000)
        } else {
            rng.below(1 << 32)
        };
        let audio = rng.below(4) != 0;
        let max_gop = (3 * target / frame).max(2);
        let ctx = format!("case {case}: frame {frame}, target {target_secs}s, base {base}");

        let mut out =
            HlsOutput::with_store(HlsConfig::new("/unused", target_secs, 6), MemStore::new())
                .unwrap();
        let mut vbuf = Vec::new();
        let mut abuf = Vec::new();
        let frames = 12 * target / frame;
        let lead = rng.below(5); // non-IDR frames before the first IDR: dropped
        let mut next_idr = lead;
        let mut k = 0u64;
        let mut segs: Vec<(u64, Vec<u8>, Pts90k)> = Vec::new();
        for i in 0..frames {
            let pts = Pts90k(base + i * frame);
            while audio && base + k * AAC_TICKS <= pts.0 {
                make_adts(&mut abuf, 100 + rng.below(200) as usize);
                let apts = Pts90k(base + k * AAC_TICKS);
                out.push_audio(&AudioAu {
                    data: &abuf,
                    pts: apts,
                })
                .unwrap();
                k += 1;
            }
            let key = i == next_idr || (i > lead && out.wants_keyframe());
            if key {
                next_idr = i + 1 + rng.below(max_gop);
            }
            make_video_au(&mut vbuf, key, 200 + rng.below(3000) as usize, i as u8);
            let au = VideoAu {
                data: &vbuf,
                pts,
                dts: pts,
                key,
            };
            if let Some(p) = out.push_video(&au, t0() + pts.to_duration()).unwrap() {
                let bytes = out.store().files[&format!("seg{}.ts", p.seq)].clone();
                assert_eq!(bytes.len() as u64, p.bytes);
                segs.push((p.seq, bytes, p.duration));
            }
        }
        out.finish(true).unwrap();
        let last = *out.window().last().expect("something published");
        segs.push((
            last.seq,
            out.store().files[&format!("seg{}.ts", last.seq)].clone(),
            last.duration,
        ));

        let mut stream = Vec::new();
        let mut total = 0;
        for (i, (seq, bytes, dur)) in segs.iter().enumerate() {
            assert_eq!(*seq, i as u64, "{ctx}");
            assert!(
                dur.0 < target + 45_000,
                "{ctx}: seg{seq} lasts {dur} > target + 0.5 s"
            );
            check_segment_start(bytes, &format!("{ctx} seg{seq}"));
            stream.extend_from_slice(bytes);
            total += dur.0;
        }
        assert_eq!(
            total,
            (frames - lead) * frame,
            "{ctx}: EXTINF sum ≠ media time"
        );
        assert_eq!(out.segments_overlong(), 0, "{ctx}");
        assert_eq!(check_cc(&stream) as u64, out.packets_written(), "{ctx}");
        segments_checked += segs.len();
    }
    assert!(segments_checked > 400, "{segments_checked}");
}
