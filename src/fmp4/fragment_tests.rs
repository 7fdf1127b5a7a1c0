//! Tests of [`Fmp4Muxer`]: the boxes of a fragment read back field by field.

use super::*;
use crate::codec::adts::write_adts_header;
use crate::fmp4::boxes::{find, BoxIter};

const LC_48K_MONO: AudioParams = AudioParams {
    sample_rate: 48_000,
    channels: 1,
    object_type: 2,
};

/// One `traf` read back.
#[derive(Debug)]
struct Traf {
    track: u32,
    tfhd_flags: u32,
    tfdt: u64,
    data_offset: u32,
    /// (duration, size, flags, composition offset); absent fields are 0.
    samples: Vec<(u32, u32, u32, i32)>,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

/// Reads a `moof` + `mdat` fragment: (sequence number, trafs, moof length, mdat payload).
fn parse(frag: &[u8]) -> (u32, Vec<Traf>, usize, &[u8]) {
    let boxes: Vec<_> = BoxIter::new(frag).collect();
    assert_eq!(boxes.len(), 2);
    assert_eq!((&boxes[0].fourcc, &boxes[1].fourcc), (b"moof", b"mdat"));
    assert_eq!(boxes[0].whole.len() + boxes[1].whole.len(), frag.len());
    let moof = boxes[0].body;
    let seq = be32(&find(moof, &[b"mfhd"]).unwrap()[4..]);
    let mut trafs = Vec::new();
    for traf in BoxIter::new(moof).filter(|b| &b.fourcc == b"traf") {
        let tfhd = find(traf.body, &[b"tfhd"]).unwrap();
        let tfdt = find(traf.body, &[b"tfdt"]).unwrap();
        assert_eq!(tfdt[0], 1, "tfdt version 1");
        let trun = find(traf.body, &[b"trun"]).unwrap();
        let flags = be32(trun) & 0xFF_FFFF;
        assert_eq!(flags & TRUN_DATA_OFFSET, TRUN_DATA_OFFSET);
        let n = be32(&trun[4..]) as usize;
        let mut at = 12;
        let mut samples = Vec::new();
        for _ in 0..n {
            let mut field = |bit: u32| {
                if flags & bit != 0 {
                    at += 4;
                    be32(&trun[at - 4..])
                } else {
                    0
                }
            };
            let d = field(TRUN_DURATION);
            let s = field(TRUN_SIZE);
            let f = field(TRUN_FLAGS);
            let c = field(TRUN_CTO) as i32;
            samples.push((d, s, f, c));
        }
        assert_eq!(at, trun.len(), "trun length matches its flags");
        trafs.push(Traf {
            track: be32(&tfhd[4..]),
            tfhd_flags: be32(tfhd) & 0xFF_FFFF,
            tfdt: u64::from_be_bytes(tfdt[4..12].try_into().unwrap()),
            data_offset: be32(&trun[8..]),
            samples,
        });
    }
    (seq, trafs, boxes[0].whole.len(), boxes[1].body)
}

/// An ADTS buffer of `n` mono 48 kHz frames whose raw payloads are `len` bytes of `fill + i`.
fn adts(n: usize, len: usize, fill: u8) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        let mut h = [0; 7];
        write_adts_header(&mut h, 1, 3, 1, 7 + len);
        v.extend_from_slice(&h);
        v.extend(std::iter::repeat(fill + i as u8).take(len));
    }
    v
}

#[test]
fn annexb_becomes_avcc_without_parameter_sets() {
    let mut m = Fmp4Muxer::new(None, MuxerLimits::default());
    let idr = [
        0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE, 0, 0, 1, 0x06, 5,
        0x80, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 1, 0x65, 0x11,
    ];
    m.push_video(&idr, 3000, 3000, true).unwrap();
    m.push_video(&[0, 0, 1, 0x41, 0x9A, 7], 6000, 6000, false)
        .unwrap();
    assert_eq!(m.video_samples(), 2);
    let mut out = Vec::new();
    let n = m.fragment(9000, &mut out).unwrap();
    assert_eq!(n, out.len());
    assert_eq!(m.video_samples(), 0);
    let (seq, trafs, moof_len, mdat) = parse(&out);
    assert_eq!(seq, 1);
    assert_eq!(trafs.len(), 1);
    let t = &trafs[0];
    assert_eq!((t.track, t.tfhd_flags, t.tfdt), (1, 0x02_0000, 3000));
    assert_eq!(t.data_offset as usize, moof_len + 8);
    assert_eq!(
        t.samples,
        [(3000, 20, FLAGS_SYNC, 0), (3000, 7, FLAGS_NON_SYNC, 0)]
    );
    #[rustfmt::skip]
    let want = [
        0, 0, 0, 3, 0x06, 5, 0x80,
        0, 0, 0, 3, 0x65, 0x88, 0x84,
        0, 0, 0, 2, 0x65, 0x11,
        0, 0, 0, 3, 0x41, 0x9A, 7,
    ];
    assert_eq!(mdat, want);
    assert_eq!(&out[t.data_offset as usize..], want);
    // Nothing waits: nothing written.
    assert_eq!(m.fragment(12_000, &mut out), Ok(0));
    assert_eq!(out.len(), n);
}

#[test]
fn composition_offsets_are_signed_and_durations_follow_dts() {
    let mut m = Fmp4Muxer::new(None, MuxerLimits::default());
    // I P B B with reordering: (pts, dts).
    let ts = [(3000, 0), (12_000, 3000), (6000, 6000), (9000, 9000)];
    for (i, &(pts, dts)) in ts.iter().enumerate() {
        m.push_video(&[0, 0, 1, 0x41, i as u8], pts, dts, i == 0)
            .unwrap();
    }
    assert_eq!(
        m.push_video(&[0, 0, 1, 0x41, 0], 0, 9000, false),
        Err(Fmp4Error::Timestamp),
        "DTS must increase"
    );
    assert_eq!(
        m.push_video(&[0, 0, 1, 0x09, 0xF0], 0, 20_000, false),
        Err(Fmp4Error::EmptyAccessUnit)
    );
    assert_eq!(m.fragment(9000, &mut Vec::new()), Err(Fmp4Error::Timestamp));
    let mut out = Vec::new();
    m.fragment(10_000, &mut out).unwrap();
    let (_, trafs, _, _) = parse(&out);
    let durs: Vec<_> = trafs[0].samples.iter().map(|s| s.0).collect();
    let ctos: Vec<_> = trafs[0].samples.iter().map(|s| s.3).collect();
    assert_eq!(durs, [3000, 3000, 3000, 1000]);
    assert_eq!(ctos, [3000, 9000, 0, 0]);
    let trun = find(&out, &[b"moof", b"traf", b"trun"]).unwrap();
    assert_eq!(trun[0], 1, "signed offsets: trun version 1");
    // A sample overlapping the last fragment is refused.
    assert_eq!(
        m.push_video(&[0, 0, 1, 0x41, 0], 9999, 9999, false),
        Err(Fmp4Error::Timestamp)
    );
    m.push_video(&[0, 0, 1, 0x41, 0], 11_000, 10_000, false)
        .unwrap();
    // pts − dts must fit the signed 32-bit offset.
    assert_eq!(
        m.push_video(&[0, 0, 1, 0x41, 0], 0, 5_000_000_000, false),
        Err(Fmp4Error::Timestamp)
    );
}

#[test]
fn audio_strips_adts_and_counts_samples() {
    let mut m = Fmp4Muxer::new(Some(LC_48K_MONO), MuxerLimits::default());
    // First audio PTS 1 s: the counter starts at 48 000.
    assert_eq!(m.push_audio(&adts(3, 10, 0x10), 90_000), Ok(3));
    assert_eq!(m.push_audio(&adts(1, 5, 0x20), 999_999), Ok(1));
    assert_eq!(m.push_audio(&[], 0), Ok(0));
    m.push_video(&[0, 0, 1, 0x65, 1, 2], 90_000, 90_000, true)
        .unwrap();
    let mut out = Vec::new();
    m.fragment(93_000, &mut out).unwrap();
    let (_, trafs, moof_len, mdat) = parse(&out);
    assert_eq!(trafs.len(), 2);
    let (v, a) = (&trafs[0], &trafs[1]);
    assert_eq!((a.track, a.tfdt), (2, 48_000));
    assert_eq!(a.samples.len(), 4);
    assert!(a.samples.iter().all(|s| s.0 == 1024));
    let sizes: Vec<_> = a.samples.iter().map(|s| s.1).collect();
    assert_eq!(sizes, [10, 10, 10, 5]);
    assert_eq!(v.data_offset as usize, moof_len + 8);
    assert_eq!(a.data_offset as usize, moof_len + 8 + 7);
    let audio = &out[a.data_offset as usize..];
    assert_eq!(audio.len(), 35);
    assert_eq!(
        (audio[0], audio[10], audio[20], audio[30]),
        (0x10, 0x11, 0x12, 0x20)
    );
    assert_eq!(&mdat[..7], &[0, 0, 0, 3, 0x65, 1, 2]);
    // The next fragment continues the counter whatever the PTS says; audio alone is fine.
    m.push_audio(&adts(2, 4, 0), 0).unwrap();
    out.clear();
    m.fragment(0, &mut out).unwrap();
    let (seq, trafs, _, _) = parse(&out);
    assert_eq!(seq, 2);
    assert_eq!((trafs.len(), trafs[0].track), (1, 2));
    assert_eq!(trafs[0].tfdt, 48_000 + 4 * 1024);
    assert_eq!(
        m.next_decode_times(),
        Timeline {
            video: Some(93_000),
            audio: Some(48_000 + 6 * 1024)
        }
    );
}

#[test]
fn bad_audio_is_refused_whole() {
    let mut m = Fmp4Muxer::new(Some(LC_48K_MONO), MuxerLimits::default());
    let mut data = adts(2, 10, 1);
    let mut h = [0; 7];
    write_adts_header(&mut h, 1, 4, 1, 17); // 44.1 kHz
    data.extend_from_slice(&h);
    data.extend_from_slice(&[0; 10]);
    assert_eq!(m.push_audio(&data, 0), Err(Fmp4Error::AdtsMismatch));
    assert_eq!(
        m.push_audio(&data[..30], 0),
        Err(Fmp4Error::Adts(crate::codec::adts::AdtsError::Truncated))
    );
    assert_eq!(m.audio_samples(), 0);
    assert_eq!(m.next_decode_times(), Timeline::default());
    let mut v = Fmp4Muxer::new(None, MuxerLimits::default());
    assert_eq!(
        v.push_audio(&adts(1, 3, 0), 0),
        Err(Fmp4Error::NoAudioTrack)
    );
}

#[test]
fn full_tables_refuse_and_keep_state() {
    let limits = MuxerLimits {
        max_video_samples: 2,
        max_audio_samples: 3,
        video_bytes: 20,
        audio_bytes: 25,
    };
    let mut m = Fmp4Muxer::new(Some(LC_48K_MONO), limits);
    let au = [0, 0, 1, 0x41, 1, 2, 3, 4, 5]; // 4 + 6 AVCC bytes
    m.push_video(&au, 0, 0, true).unwrap();
    let big = [0, 0, 1, 0x41, 1, 2, 3, 4, 5, 6, 7];
    assert_eq!(
        m.push_video(&big, 1, 1, false),
        Err(Fmp4Error::VideoDataFull)
    );
    m.push_video(&au, 1, 1, false).unwrap();
    assert_eq!(
        m.push_video(&au, 2, 2, false),
        Err(Fmp4Error::VideoSamplesFull)
    );
    assert_eq!(
        m.push_audio(&adts(4, 1, 0), 0),
        Err(Fmp4Error::AudioSamplesFull)
    );
    assert_eq!(
        m.push_audio(&adts(2, 13, 0), 0),
        Err(Fmp4Error::AudioDataFull)
    );
    assert_eq!(m.push_audio(&adts(2, 12, 0), 0), Ok(2));
    assert_eq!((m.video_samples(), m.audio_samples()), (2, 2));
    let mut out = Vec::new();
    m.fragment(2, &mut out).unwrap();
    let (_, trafs, _, mdat) = parse(&out);
    assert_eq!(mdat.len(), 20 + 24);
    assert_eq!(trafs[0].samples.len(), 2);
    // Room again.
    m.push_video(&au, 2, 2, true).unwrap();
    assert!(out.len() <= limits.moof_capacity() + 8 + 20 + 25);
}

#[test]
fn timeline_continues_across_a_restart() {
    let mut first = Fmp4Muxer::new(Some(LC_48K_MONO), MuxerLimits::default());
    let mut out = Vec::new();
    first
        .push_video(&[0, 0, 1, 0x65, 1], 500_000, 500_000, true)
        .unwrap();
    first.push_audio(&adts(2, 3, 0), 500_000).unwrap();
    first.fragment(503_000, &mut out).unwrap();
    first
        .push_video(&[0, 0, 1, 0x41, 1], 503_000, 503_000, false)
        .unwrap();
    // The waiting sample is what a restart loses: the next fragment starts at it.
    let saved = first.next_decode_times();
    assert_eq!(
        saved,
        Timeline {
            video: Some(503_000),
            audio: Some(266_667 + 2048) // 500 000 × 48 / 90, rounded
        }
    );
    assert_eq!(first.set_timeline(saved), Err(Fmp4Error::Timestamp));

    let mut second = Fmp4Muxer::new(Some(LC_48K_MONO), MuxerLimits::default());
    second.set_timeline(saved).unwrap();
    second.set_sequence_number(first.sequence_number());
    assert_eq!(second.next_decode_times(), saved);
    // The new run's clock starts near zero.
    second
        .push_video(&[0, 0, 1, 0x65, 1], 100, 100, true)
        .unwrap();
    second
        .push_video(&[0, 0, 1, 0x41, 1], 3100, 3100, false)
        .unwrap();
    second.push_audio(&adts(1, 3, 0), 50).unwrap();
    out.clear();
    second.fragment(6100, &mut out).unwrap();
    let (seq, trafs, _, _) = parse(&out);
    assert_eq!(seq, 2);
    assert_eq!(trafs[0].tfdt, 503_000);
    assert_eq!(trafs[0].samples[1].0, 3000);
    assert_eq!(trafs[1].tfdt, saved.audio.unwrap());
    assert_eq!(
        second.next_decode_times(),
        Timeline {
            video: Some(509_000),
            audio: Some(saved.audio.unwrap() + 1024)
        }
    );
}
