//! The fMP4 muxer allocates nothing after `Fmp4Muxer::new`: a counting global allocator
//! watches 3000 video access units and their audio (one to three ADTS frames per call) pass
//! through it, one fragment per 30 frames, into a sink that reuses its storage.

use hlscam::codec::adts::write_adts_header;
use hlscam::fmp4::{AudioParams, ByteSink, Fmp4Muxer, MuxerLimits};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

/// Keeps a checksum and a byte count; never stores (no growth).
struct SumSink {
    bytes: u64,
    sum: u64,
}

impl ByteSink for SumSink {
    fn put(&mut self, bytes: &[u8]) {
        self.bytes += bytes.len() as u64;
        self.sum = bytes
            .iter()
            .fold(self.sum, |s, &b| s.wrapping_mul(31).wrapping_add(b as u64));
    }
}

#[test]
fn muxing_allocates_nothing_after_new() {
    let mut idr = vec![0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E];
    idr.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80, 0, 0, 1, 0x65]);
    idr.extend((0..40_000u32).map(|i| (i % 251) as u8 | 1));
    let mut p = vec![0, 0, 0, 1, 0x41];
    p.extend((0..8_300u32).map(|i| (i % 253) as u8 | 1));
    let mut aac = vec![0x5Au8; 3 * 256];
    let mut h = [0u8; 7];
    write_adts_header(&mut h, 1, 3, 1, 256);
    for f in aac.chunks_mut(256) {
        f[..7].copy_from_slice(&h);
    }
    let audio = AudioParams {
        sample_rate: 48_000,
        channels: 1,
        object_type: 2,
    };
    let mut mux = Fmp4Muxer::new(Some(audio), MuxerLimits::default());
    let mut sink = SumSink { bytes: 0, sum: 0 };

    let ((), allocations) = counting_alloc::measure(|| {
        let mut audio_t = 0u64;
        let mut calls = 0usize;
        for i in 0..3000u64 {
            let t = i * 3000;
            if i > 0 && i % 30 == 0 {
                mux.fragment(t, &mut sink).unwrap();
            }
            let au = if i % 30 == 0 { &idr } else { &p };
            mux.push_video(au, t, t, i % 30 == 0).unwrap();
            while audio_t < t + 3000 {
                let n = calls % 3 + 1;
                calls += 1;
                mux.push_audio(&aac[..n * 256], audio_t).unwrap();
                audio_t += n as u64 * 1920;
            }
        }
        mux.fragment(3000 * 3000, &mut sink).unwrap();
    });
    assert_eq!(allocations, 0, "push_* and fragment allocated");
    assert!(sink.bytes > 3000 * 8_300 && sink.sum != 0);
    assert_eq!(mux.sequence_number(), 101);
}
