use super::adts::{scan_adts_general, AdtsScan, FRAME_TICKS};
use super::*;
use crate::codec::adts::{write_adts_header, AdtsHeader};
use crate::ts::packet::Packet;
use crate::ts::pes::PesPacket;
use crate::ts::pes::STREAM_ID_AUDIO;

/// (pid, pusi, payload) of every packet, through our own checked views.
fn packets(ts: &[u8]) -> Vec<(u16, bool, Vec<u8>)> {
    ts.chunks(PACKET_LEN)
        .map(|c| {
            let p = Packet::new_checked(c).unwrap();
            (p.pid(), p.pusi(), p.payload().to_vec())
        })
        .collect()
}

/// PES packets on `pid`, reassembled: (pts, dts, payload).
fn pes(ts: &[u8], pid: u16) -> Vec<(u64, Option<u64>, Vec<u8>)> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    for (p, start, payload) in packets(ts) {
        if p != pid || payload.is_empty() {
            continue;
        }
        if start {
            v.push(payload);
        } else {
            v.last_mut().unwrap().extend_from_slice(&payload);
        }
    }
    v.iter()
        .map(|b| {
            let p = PesPacket::new_checked(&b[..]).unwrap();
            (p.pts().unwrap(), p.dts(), p.payload().to_vec())
        })
        .collect()
}

const SPS: [u8; 5] = [0x67, 0x42, 0xC0, 0x1E, 0xAB];
const PPS: [u8; 3] = [0x68, 0xCE, 0x3C];

fn au(data: &[u8], t: u64, key: bool) -> VideoAu<'_> {
    VideoAu {
        data,
        pts: Pts90k(t),
        dts: Pts90k(t),
        key,
    }
}

#[test]
fn inserts_aud_and_parameter_sets_once() {
    let mut m = TsMuxer::new(MuxConfig::default());
    let mut out = Vec::new();
    let idr1 = [
        &[0, 0, 0, 1][..],
        &SPS,
        &[0, 0, 1],
        &PPS,
        &[0, 0, 1, 0x65, 0x88, 0x80],
    ]
    .concat();
    let p_frame = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x41, 0x9A];
    let idr2 = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x65, 0x88, 0x84];
    m.push_video(&au(&idr1, 9000, true), &mut out).unwrap();
    m.push_video(&au(&p_frame, 12000, false), &mut out).unwrap();
    m.push_video(&au(&idr2, 15000, true), &mut out).unwrap();
    let v = pes(&out, 0x100);
    assert_eq!(v.len(), 3);
    assert_eq!(
        v[0].2,
        [&AUD_NAL[..], &idr1].concat(),
        "AUD prepended, SPS/PPS kept once"
    );
    assert_eq!(v[1].2, p_frame, "AUD present: nothing added");
    let want = [
        &AUD_NAL[..],
        &START_CODE,
        &SPS,
        &START_CODE,
        &PPS,
        &idr2[6..],
    ]
    .concat();
    assert_eq!(v[2].2, want, "remembered SPS/PPS after the encoder's AUD");
    assert_eq!((v[2].0, v[2].1), (15000, None));
    // PAT, PMT first.
    let p = packets(&out);
    assert_eq!((p[0].0, p[1].0), (0, 0x1000));
}

#[test]
fn refuses_bad_input_without_writing() {
    let mut m = TsMuxer::new(MuxConfig {
        audio_pid: None,
        ..MuxConfig::default()
    });
    let mut out = Vec::new();
    let idr = [0, 0, 1, 0x65, 0x88];
    assert_eq!(
        m.push_video(&au(&idr, 0, true), &mut out),
        Err(MuxError::NoSpsPps)
    );
    assert_eq!(
        m.push_video(&au(&[], 0, false), &mut out),
        Err(MuxError::EmptyAccessUnit)
    );
    assert_eq!(
        m.push_video(&au(&[9, 9, 9], 0, false), &mut out),
        Err(MuxError::NotAnnexB)
    );
    let a = AudioAu {
        data: &[0xFF; 7],
        pts: Pts90k(0),
    };
    assert_eq!(
        m.push_audio(&a, &mut out),
        Err(MuxError::AudioPidNotConfigured)
    );
    let late = VideoAu {
        data: &idr,
        pts: Pts90k(0),
        dts: Pts90k(10),
        key: false,
    };
    assert_eq!(m.push_video(&late, &mut out), Err(MuxError::PtsBeforeDts));
    assert!(out.is_empty());
    m.push_video(&au(&idr[..], 100, false), &mut out).unwrap();
    assert_eq!(
        m.push_video(&au(&idr, 100, false), &mut out),
        Err(MuxError::TimestampBackwards)
    );
    let mut m = TsMuxer::new(MuxConfig::default());
    let a = AudioAu {
        data: &[0xFF, 0xF1, 0x50, 0x80, 0x01, 0xFF, 0xFC],
        pts: Pts90k(0),
    };
    assert_eq!(m.push_audio(&a, &mut out), Err(MuxError::BadAdts));
}

#[test]
fn audio_batches_within_bound_and_pcr_bridges_gaps() {
    let mut m = TsMuxer::new(MuxConfig::default());
    let mut out = Vec::new();
    let mut frame = [0x11u8; 200];
    let mut h = [0; 7];
    write_adts_header(&mut h, 1, 3, 1, 200); // 48 kHz: 1920 ticks per frame
    frame[..7].copy_from_slice(&h);
    for i in 0..20u64 {
        let a = AudioAu {
            data: &frame,
            pts: Pts90k(90_000 + i * 1920),
        };
        m.push_audio(&a, &mut out).unwrap();
    }
    m.flush_audio(&mut out);
    let a = pes(&out, 0x101);
    // 100 ms holds 4 frames of 21.3 ms (a fifth would end at 106.7 ms).
    assert_eq!(
        a.iter().map(|p| p.2.len() / 200).collect::<Vec<_>>(),
        [4, 4, 4, 4, 4]
    );
    assert_eq!(a[1].0, 90_000 + 4 * 1920);
    // Audio only: PCR-only packets on the video PID, ≤ 40 ms apart, each ≤ the pending PTS.
    let pcrs: Vec<u64> = out
        .chunks(PACKET_LEN)
        .filter_map(|c| Packet::new_checked(c).unwrap().pcr())
        .map(|p| p.0 / 300)
        .collect();
    assert!(pcrs.len() >= 8, "{pcrs:?}");
    assert!(pcrs.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 3600));
    let cc: Vec<u8> = out
        .chunks(PACKET_LEN)
        .map(|c| Packet::new_checked(c).unwrap())
        .filter(|p| p.pid() == 0x101)
        .map(|p| p.cc())
        .collect();
    assert!(cc.windows(2).all(|w| w[1] == (w[0] + 1) & 15));
}

/// `n` ADTS frames of `len` bytes at 48 kHz (1920 ticks each), frame `k` filled with `k`.
fn adts_frames(n: usize, len: usize) -> Vec<u8> {
    let mut h = [0; 7];
    write_adts_header(&mut h, 1, 3, 1, len);
    (0..n)
        .flat_map(|k| {
            let mut f = vec![k as u8; len];
            f[..7].copy_from_slice(&h);
            f
        })
        .collect()
}

#[test]
fn multi_frame_audio_au_is_one_pes_from_the_callers_bytes() {
    let mut m = TsMuxer::new(MuxConfig::default());
    let mut out = Vec::new();
    let four = adts_frames(4, 300); // 85.3 ms: one PES
    let five = adts_frames(5, 300); // 106.7 ms: four frames, then one pending
    let one = adts_frames(1, 300);
    let t0 = 900_000;
    let push = |m: &mut TsMuxer, out: &mut Vec<u8>, data: &[u8], t: u64| {
        let a = AudioAu {
            data,
            pts: Pts90k(t),
        };
        let before = m.packets_written();
        m.push_audio(&a, out).unwrap();
        m.packets_written() - before
    };
    // A whole-PES unit is written at once: PAT, PMT, a PCR, then 1 200 + 14 bytes of PES
    // in 7 packets.
    assert_eq!(push(&mut m, &mut out, &four, t0), 2 + 1 + 7);
    // A single frame waits (only PCR-only packets bridge the clock); the next whole-PES
    // unit writes it first.
    let before = out.len();
    assert!(push(&mut m, &mut out, &one, t0 + 4 * 1920) > 0);
    assert!(out[before..]
        .chunks(PACKET_LEN)
        .all(|c| Packet::new_checked(c).unwrap().pid() == 0x100));
    push(&mut m, &mut out, &four, t0 + 5 * 1920);
    // Too long for one PES: frame by frame, the fifth left pending until flushed.
    push(&mut m, &mut out, &five, t0 + 9 * 1920);
    m.flush_audio(&mut out);
    assert_eq!(m.packets_written() as usize * PACKET_LEN, out.len());

    let a = pes(&out, 0x101);
    let got: Vec<(u64, usize)> = a.iter().map(|p| (p.0, p.2.len() / 300)).collect();
    assert_eq!(
        got,
        [
            (t0, 4),
            (t0 + 4 * 1920, 1),
            (t0 + 5 * 1920, 4),
            (t0 + 9 * 1920, 4),
            (t0 + 13 * 1920, 1)
        ]
    );
    let all: Vec<u8> = a.iter().flat_map(|p| p.2.clone()).collect();
    assert_eq!(all, [&four[..], &one, &four, &five].concat());
    assert_eq!(a[0].2, four, "the unit's bytes unchanged");
    // Exact PES_packet_length on every audio PES.
    let mut starts = out
        .chunks(PACKET_LEN)
        .map(|c| Packet::new_checked(c).unwrap())
        .filter(|p| p.pid() == 0x101 && p.pusi());
    let lens: Vec<usize> = starts
        .by_ref()
        .map(|p| PesPacket::new_checked(p.payload()).unwrap().packet_length() as usize)
        .collect();
    assert_eq!(lens, a.iter().map(|p| p.2.len() + 8).collect::<Vec<_>>());
    // Continuity on the audio PID; every PCR at or before the PTS of every later PES.
    let mut cc = None;
    let mut last_pcr = None;
    for c in out.chunks(PACKET_LEN) {
        let p = Packet::new_checked(c).unwrap();
        if let Some(pcr) = p.pcr() {
            last_pcr = Some(pcr.0 / 300);
        }
        if p.pid() == 0x101 {
            if let Some(prev) = cc {
                assert_eq!(p.cc(), (prev + 1) & 15);
            }
            cc = Some(p.cc());
            if p.pusi() {
                let pts = PesPacket::new_checked(p.payload()).unwrap().pts().unwrap();
                assert!(
                    last_pcr.is_some_and(|pcr| pcr <= pts),
                    "{last_pcr:?} > {pts}"
                );
            }
        }
    }
}

#[test]
fn refused_multi_frame_au_writes_nothing() {
    let mut m = TsMuxer::new(MuxConfig::default());
    let mut out = Vec::new();
    let mut bad = adts_frames(3, 300);
    bad.truncate(800); // third frame cut short
    let a = AudioAu {
        data: &bad,
        pts: Pts90k(0),
    };
    assert_eq!(m.push_audio(&a, &mut out), Err(MuxError::BadAdts));
    assert!(out.is_empty());
    assert_eq!(m.packets_written(), 0);
}

#[test]
fn audio_writer_matches_general_writer() {
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
    let hdr = PesHeader {
        stream_id: STREAM_ID_AUDIO,
        pts: Pts90k(12_345),
        dts: None,
    };
    let no_pcr = PcrRun {
        first: Pts90k::ZERO,
        step: 0,
        count: 0,
        cap: hdr.pts,
    };
    let one_pcr = PcrRun {
        first: Pts90k(3_345),
        count: 1,
        ..no_pcr
    };
    for len in (1..560).chain([1838, 1839, 1840, 2000]) {
        for (run, af) in [
            (no_pcr, AdaptationField::default()),
            (
                one_pcr,
                AdaptationField {
                    random_access: false,
                    pcr: Some(Pts90k(3_345).to_pcr()),
                },
            ),
        ] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let (mut cc_a, mut cc_b) = (5u8, 5u8);
            let src = Gather::new(&[], &data[..len]);
            let na = write_pes(&mut a, 0x101, &mut cc_a, &hdr, src, af);
            let (nb, placed) = write_audio_pes(
                &mut b,
                audio_head_base(0x101),
                &mut cc_b,
                hdr.pts,
                &data[..len],
                run,
            );
            assert_eq!(a, b, "payload of {len}, {} PCR", run.count);
            assert_eq!((na, cc_a, placed), (nb, cc_b, run.count));
            assert_eq!(na as usize * PACKET_LEN, a.len());
        }
    }
}

#[test]
fn wide_moves_write_the_same_bytes() {
    // Whole units of 1–5 frames of varied sizes (short PES under one packet, PES of many
    // packets, PCR counts 1–3), single frames, gaps, and PSI due, in an audio-only
    // program and one with video: the same bytes with and without AVX2 moves.
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut units = vec![];
    let mut t = 90_000u64;
    for _ in 0..400 {
        let (n, len) = (1 + next(5) as usize, 9 + next(600) as usize);
        units.push((adts_frames(n, len), t));
        t += 1920 * n as u64 + if next(20) == 0 { 9_000 } else { 0 };
    }
    for cfg in [
        MuxConfig {
            video_pid: None,
            ..MuxConfig::default()
        },
        MuxConfig::default(),
    ] {
        let run = |wide: bool| {
            let mut m = TsMuxer::new(cfg);
            m.set_wide_moves(wide);
            let mut out = Vec::new();
            for (data, t) in &units {
                let au = AudioAu {
                    data,
                    pts: Pts90k(*t),
                };
                m.push_audio(&au, &mut out).unwrap();
            }
            m.flush_audio(&mut out);
            (out, m.wide_moves())
        };
        let (narrow, off) = run(false);
        let (wide, on) = run(true);
        assert!(!off);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(on, std::arch::is_x86_feature_detected!("avx2"));
        #[cfg(not(target_arch = "x86_64"))]
        assert!(!on, "wide moves are x86_64-only");
        assert!(narrow.len() > 400 * PACKET_LEN);
        assert!(narrow == wide, "AVX2 and baseline moves differ ({cfg:?})");
    }
}

#[test]
fn audio_writer_places_pcrs_in_its_first_packets() {
    let data: Vec<u8> = (0..1100u32).map(|i| (i * 13 % 251) as u8).collect();
    let run = PcrRun {
        first: Pts90k(1_000),
        step: 3_600,
        count: 3,
        cap: Pts90k(8_000),
    };
    for len in [1, 100, 162, 163, 338, 339, 500, 514, 515, 1024, 1100] {
        let mut out = Vec::new();
        let mut cc = 15;
        let (n, placed) = write_audio_pes(
            &mut out,
            audio_head_base(0x101),
            &mut cc,
            Pts90k(9_000),
            &data[..len],
            run,
        );
        assert_eq!(n as usize * PACKET_LEN, out.len());
        assert_eq!(cc as u64, (15 + n) % 16);
        let p: Vec<_> = out
            .chunks(PACKET_LEN)
            .map(|c| Packet::new_checked(c).unwrap())
            .collect();
        let pcrs: Vec<u64> = p
            .iter()
            .filter_map(|p| p.pcr())
            .map(|c| c.0 / 300)
            .collect();
        // Values from `first`, `step` apart, capped; one per packet from the first on.
        let want = [1_000, 4_600, 8_000];
        assert_eq!(placed as usize, p.len().min(3), "{len}");
        assert_eq!(pcrs, want[..placed as usize], "{len}");
        assert!(p.iter().take(3).all(|p| p.pcr().is_some()));
        assert!(p.iter().all(|p| p.pid() == 0x101 && p.has_payload()));
        let v = pes(&out, 0x101);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].0, &v[0].2[..]), (9_000, &data[..len]), "{len}");
    }
}

#[test]
fn pcr_only_packet_matches_the_general_writer() {
    let mut m = TsMuxer::new(MuxConfig::default());
    m.cc_video = 7;
    for t in [0u64, 1, 12_345_678, (1 << 33) - 1, (1 << 33) + 90_000] {
        let mut out = Vec::new();
        m.write_pcr_only(Pts90k(t), &mut out);
        let mut want = [0xA5u8; PACKET_LEN];
        let (head, body) = split_slot(&mut want);
        *head = Header {
            pusi: false,
            pid: 0x100,
            has_adaptation: true,
            has_payload: false,
            cc: 6,
        }
        .to_bytes();
        AdaptationField {
            random_access: false,
            pcr: Some(Pts90k(t).to_pcr()),
        }
        .emit(body);
        assert_eq!(out, want, "PCR {t}");
        assert_eq!(
            Packet::new_checked(&out[..]).unwrap().pcr().unwrap().0,
            Pts90k(t).to_pcr().0 % ((1 << 33) * 300)
        );
    }
}

/// The walk through the ADTS parser of `codec::adts` (what the fast walk must agree with).
fn checked_scan(data: &[u8]) -> Option<AdtsScan> {
    scan_adts_general(data)
}

#[test]
fn scan_adts_and_fits_ticks_match_the_checked_walk() {
    let good = adts_frames(5, 300);
    for end in [300, 600, 1500] {
        let s = scan_adts(&good[..end]).unwrap();
        assert_eq!(s.samples.get(), end as u64 / 300 * 1024);
        assert_eq!(
            (s.first_len, s.first_sri, s.first_blocks, s.last_sri),
            (300, 3, 1, 3)
        );
        assert_eq!(Some(s), checked_scan(&good[..end]));
    }
    for bad in [0, 6, 7, 299, 301, 602, 899, 1499] {
        assert!(scan_adts(&good[..bad]).is_none(), "{bad}");
        assert!(AdtsHeader::parse(&good[..bad]).is_err() || checked_scan(&good[..bad]).is_none());
    }
    // Each header check of the checked walk, on the first and the third frame: the same
    // verdict.
    let breaks: [(usize, u8); 6] = [
        (0, 0x00),
        (1, 0xF2),
        (2, 0x7C),
        (3, 0x43),
        (4, 0x00),
        (5, 0x00),
    ];
    for frame in [0, 600] {
        for (at, byte) in breaks {
            let mut broken = good.clone();
            broken[frame + at] = byte;
            assert_eq!(
                scan_adts(&broken),
                checked_scan(&broken),
                "frame at {frame}, byte {at} = {byte:#x}"
            );
            assert!(scan_adts(&broken).is_none(), "byte {at} = {byte:#x}");
        }
    }
    // A CRC header (9 bytes) with frame_length 8 is refused, 9 accepted.
    let mut crc = [0u8; 9];
    write_adts_header((&mut crc[..7]).try_into().unwrap(), 1, 3, 1, 9);
    crc[1] &= !1;
    assert_eq!(scan_adts(&crc), checked_scan(&crc));
    assert!(scan_adts(&crc).is_some());
    // frame_length 8: bits 12..3 in byte 4 (and byte 3's low bits), bits 2..0 (0) in byte 5.
    crc[4] = 8 >> 3;
    crc[5] &= 0x1F;
    assert_eq!(scan_adts(&crc[..8]), None);
    assert_eq!(checked_scan(&crc[..8]), None);
    // Mixed blocks per frame and rates: samples summed, last index reported.
    let mut mixed = adts_frames(2, 300);
    mixed[306] = 0xFC | 2; // second frame: 3 raw data blocks
    mixed[302] = (mixed[302] & !0x3C) | (4 << 2); // second frame: 44.1 kHz
    let s = scan_adts(&mixed).unwrap();
    assert_eq!(
        (s.samples.get(), s.last_sri, s.first_blocks),
        (4 * 1024, 4, 1)
    );
    assert_eq!(Some(s), checked_scan(&mixed));
    let mut h = [0u8; 7];
    for idx in 0..SAMPLE_RATES.len() as u8 {
        write_adts_header(&mut h, 1, idx, 1, 100);
        let hdr = AdtsHeader::parse(&h).unwrap();
        for samples in (0..20_000).step_by(512) {
            for max in [0, 1, 1919, 1920, 1921, 9000] {
                assert_eq!(
                    fits_ticks(samples, idx, Pts90k(max)),
                    samples_to_ticks(samples, &hdr) <= max,
                    "{samples} samples, index {idx}, max {max}"
                );
            }
        }
    }
}

/// A run of ADTS frames of the given lengths, each header from `tweak(index, header)`.
fn adts_run(lens: &[usize], tweak: impl Fn(usize, &mut [u8; 7])) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &len) in lens.iter().enumerate() {
        let mut h = [0; 7];
        write_adts_header(&mut h, 1, 3, 1, len);
        tweak(i, &mut h);
        out.extend_from_slice(&h);
        out.extend((7..len).map(|k| (k * 31 + i) as u8));
    }
    out
}

#[test]
fn fast_adts_walk_gives_the_general_walks_verdict() {
    let mut cases: Vec<Vec<u8>> = vec![
        // The pipeline's shape, and single frames.
        adts_run(&[256; 4], |_, _| {}),
        adts_run(&[256], |_, _| {}),
        // Header-only frames and 8-byte frames, first, inside and last.
        adts_run(&[7], |_, _| {}),
        adts_run(&[8], |_, _| {}),
        adts_run(&[7, 300, 8, 7], |_, _| {}),
        adts_run(&[300, 7], |_, _| {}),
        adts_run(&[300, 8], |_, _| {}),
        // Fields outside the compared ones may differ: buffer fullness, copyright bits.
        adts_run(&[200, 210, 220], |i, h| {
            h[3] |= (i as u8) << 2;
            h[5] &= 0xE0 | i as u8;
        }),
        // Compared fields that differ from the first frame's but are valid on their own:
        // rate, channels, profile, blocks, ID, CRC (the general walk accepts them).
        adts_run(&[200, 210], |i, h| {
            h[2] = (h[2] & !0x3C) | ((3 + i as u8) << 2)
        }),
        adts_run(&[200, 210], |i, h| {
            h[3] = (h[3] & 0x3F) | ((1 + i as u8) << 6)
        }),
        adts_run(&[200, 210], |i, h| {
            h[2] = (h[2] & 0x3F) | ((1 + i as u8) << 6)
        }),
        adts_run(&[200, 210, 220], |i, h| h[6] = 0xFC | i as u8),
        adts_run(&[200, 210], |i, h| h[1] ^= (i as u8) << 3),
        adts_run(&[200, 210], |i, h| h[1] &= !(i as u8)),
        adts_run(&[200, 210], |_, h| h[1] &= !1),
        // Refused: bad sync, layer, rate index, lengths, a cut frame.
        adts_run(&[200, 210], |i, h| h[0] ^= i as u8),
        adts_run(&[200, 210], |i, h| h[1] |= (i as u8) << 1),
        adts_run(&[200, 210], |i, h| h[2] |= (i as u8 * 13) << 2),
        adts_run(&[200, 6], |_, _| {}),
    ];
    let long = adts_run(&[256; 4], |_, _| {});
    cases.extend((1..long.len()).map(|n| long[..n].to_vec()));
    // Every rate index, layer, ID, protection_absent and profile in the first header (and
    // the same in the second), and one broken bit of each syncword byte.
    for sri in 0..16u8 {
        for bits in 0..16u8 {
            cases.push(adts_run(&[200, 210], |_, h| {
                h[1] = 0xF0 | (bits & 0x0F);
                h[2] = (h[2] & !0x3C) | (sri << 2) | (bits & 0x0C) << 4;
            }));
        }
    }
    for bit in 0..12 {
        let mut c = adts_run(&[200], |_, _| {});
        c[bit / 8] ^= 0x80 >> (bit % 8);
        cases.push(c);
    }
    let mut accepted = 0;
    for (i, c) in cases.iter().enumerate() {
        let fast = scan_adts(c);
        assert_eq!(fast, scan_adts_general(c), "case {i}");
        assert_eq!(fast, checked_scan(c), "case {i}");
        accepted += fast.is_some() as usize;
    }
    assert_eq!(
        scan_adts(&cases[0]).map(|s| (s.samples.get(), s.first_len)),
        Some((4096, 256))
    );
    assert!(accepted >= 15 + 13 * 4, "{accepted}");
}

#[test]
fn frame_ticks_table_matches_division() {
    let mut h = [0u8; 7];
    for idx in 0..SAMPLE_RATES.len() as u8 {
        write_adts_header(&mut h, 1, idx, 1, 100);
        for blocks in 0..4u8 {
            h[6] = 0xFC | blocks;
            let hdr = AdtsHeader::parse(&h).unwrap();
            assert_eq!(
                frame_ticks(hdr.sample_rate_index, hdr.blocks),
                samples_to_ticks(hdr.samples() as u64, &hdr),
                "index {idx}, {} blocks",
                blocks + 1
            );
        }
    }
    assert_eq!(FRAME_TICKS[3][0], 1920);
}

#[test]
fn continuity_survives_write_psi_and_last_packet_is_stuffed() {
    let mut m = TsMuxer::new(MuxConfig {
        audio_pid: None,
        ..MuxConfig::default()
    });
    let mut out = Vec::new();
    let big = [&[0, 0, 0, 1, 0x41][..], &[0x77; 1000]].concat();
    for i in 0..40u64 {
        if i % 10 == 0 {
            m.write_psi(&mut out);
        }
        m.push_video(&au(&big, 3000 * (i + 1), false), &mut out)
            .unwrap();
    }
    assert_eq!(m.packets_written() as usize, out.len() / PACKET_LEN);
    let mut last = None;
    for c in out.chunks(PACKET_LEN) {
        let p = Packet::new_checked(c).unwrap();
        if p.pid() == 0x100 {
            if let Some(l) = last {
                assert_eq!(p.cc(), (l + 1) & 15);
            }
            last = Some(p.cc());
            if p.pusi() {
                assert!(p.pcr().is_some());
            }
        }
    }
    let v = pes(&out, 0x100);
    assert!(v.iter().all(|p| p.2 == [&AUD_NAL[..], &big].concat()));
}
