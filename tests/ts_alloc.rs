//! The muxer allocates nothing after `TsMuxer::new`: a counting global allocator watches
//! 12 000 video frames and their audio (1 to 5 ADTS frames per call) pass through it into a
//! fixed, reused sink.

use hlscam::codec::adts::write_adts_header;
use hlscam::media::{AudioAu, VideoAu};
use hlscam::time::Pts90k;
use hlscam::ts::{MuxConfig, PacketSink, TsMuxer, PACKET_LEN};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

/// A fixed ring of packet slots, overwritten in place; counts the slots handed out and
/// checksums each packet once the muxer has filled it (at the next call).
struct RingSink {
    buf: Box<[u8]>,
    at: usize,
    packets: u64,
    sum: u64,
}

impl PacketSink for RingSink {
    fn next_slot(&mut self) -> &mut [u8; PACKET_LEN] {
        if self.packets > 0 {
            let prev = (self.at + self.buf.len() - PACKET_LEN) % self.buf.len();
            let pkt = &self.buf[prev..prev + PACKET_LEN];
            self.sum = self
                .sum
                .wrapping_add(pkt[3] as u64 + pkt[PACKET_LEN - 1] as u64);
        }
        let at = self.at;
        self.at = (self.at + PACKET_LEN) % self.buf.len();
        self.packets += 1;
        (&mut self.buf[at..at + PACKET_LEN]).try_into().unwrap()
    }
}

#[test]
fn muxing_allocates_nothing_after_new() {
    // All inputs built up front.
    let sps_pps = [
        0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E, 0xAB, 0, 0, 0, 1, 0x68, 0xCE, 0x3C,
    ];
    let mut idr = sps_pps.to_vec();
    idr.extend_from_slice(&[0, 0, 1, 0x65]);
    idr.extend((0..40_000u32).map(|i| (i % 251) as u8 | 1));
    let mut p = vec![0, 0, 0, 1, 0x41];
    p.extend((0..8_300u32).map(|i| (i % 253) as u8 | 1));
    let idr_bare = [&[0u8, 0, 0, 1, 0x65][..], &idr[20..]].concat();
    // Five ADTS frames; audio AUs take 1..=5 of them in turn (one frame joins the pending PES,
    // 2..=4 frames are written as one PES straight from the AU, 5 frames exceed 100 ms).
    let mut aac = vec![0x5Au8; 5 * 256];
    let mut h = [0u8; 7];
    write_adts_header(&mut h, 1, 3, 1, 256);
    for f in aac.chunks_mut(256) {
        f[..7].copy_from_slice(&h);
    }

    let mut mux = TsMuxer::new(MuxConfig::default());
    let mut sink = RingSink {
        buf: vec![0; 1000 * PACKET_LEN].into_boxed_slice(),
        at: 0,
        packets: 0,
        sum: 0,
    };
    let mut audio_t = 0u64;
    let mut audio_calls = 0u64;
    let mut run = |mux: &mut TsMuxer, sink: &mut RingSink, from: u64, to: u64| {
        for i in from..to {
            let t = i * 3000;
            while audio_t < t {
                let frames = audio_calls % 5 + 1;
                audio_calls += 1;
                let a = AudioAu {
                    data: &aac[..frames as usize * 256],
                    pts: Pts90k(audio_t),
                };
                mux.push_audio(&a, sink).unwrap();
                audio_t += frames * 1920;
            }
            let key = i % 60 == 0;
            if key {
                mux.flush_audio(sink);
                mux.write_psi(sink);
            }
            // Alternate IDRs with and without in-band parameter sets.
            let data: &[u8] = match (key, i % 120 == 0) {
                (true, true) => &idr,
                (true, false) => &idr_bare,
                _ => &p,
            };
            let au = VideoAu {
                data,
                pts: Pts90k(t + 3000),
                dts: Pts90k(t),
                key,
            };
            mux.push_video(&au, sink).unwrap();
        }
    };
    run(&mut mux, &mut sink, 0, 120); // warm-up
                                      // Prove the counter counts on this thread.
    let (_, seen) = counting_alloc::measure(|| drop(std::hint::black_box(vec![1u8; 10])));
    assert_eq!(seen, 1);
    let ((), allocs) = counting_alloc::measure(|| run(&mut mux, &mut sink, 120, 12_120));
    assert_eq!(allocs, 0, "allocations while muxing");
    assert_eq!(sink.packets, mux.packets_written());
    assert!(sink.packets > 12_000 * 10, "{} packets", sink.packets);
    assert_ne!(sink.sum, 0);
}
