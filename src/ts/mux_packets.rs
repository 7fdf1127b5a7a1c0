//! How the muxer turns a PES into 188-byte packets in the sink's slots: the generic PES writer
//! ([`write_pes`], video and PSI-free payloads, through a [`Gather`] of prefix slices and one
//! body) and the audio PES writer with its PCR runs and fixed header words
//! ([`write_audio_pes`], optionally with AVX2 moves). Part of [`super`] (the muxer).

use super::super::packet::{
    emit_stuffed_body, fill_stuffing, AdaptationField, Header, BODY_LEN, PACKET_LEN, SYNC_BYTE,
};
use super::super::pes::{PesHeader, STREAM_ID_AUDIO};
use super::{pcr_field, PacketSink};
use crate::time::Pts90k;

/// Splits a packet slot into its 4 header bytes and 184 following bytes.
#[inline(always)]
pub(super) fn split_slot(slot: &mut [u8; PACKET_LEN]) -> (&mut [u8; 4], &mut [u8; BODY_LEN]) {
    let (head, body) = slot.split_at_mut(4);
    // Cannot fail: 188 = 4 + 184.
    (head.try_into().unwrap(), body.try_into().unwrap())
}

/// A read position in a PES payload: a few short `prefix` slices, then one contiguous `body`
/// (the bulk of the access unit, or the pending audio).
pub(super) struct Gather<'a> {
    pub(super) prefix: &'a [&'a [u8]],
    /// Offset in `prefix[0]`.
    pub(super) off: usize,
    /// The part of the body not yet read.
    pub(super) body: &'a [u8],
}

impl<'a> Gather<'a> {
    pub(super) fn new(prefix: &'a [&'a [u8]], body: &'a [u8]) -> Self {
        Gather {
            prefix,
            off: 0,
            body,
        }
    }

    /// Bytes not yet read.
    pub(super) fn len(&self) -> usize {
        self.prefix.iter().map(|p| p.len()).sum::<usize>() - self.off + self.body.len()
    }

    /// Fills `dst` from the current position. Panics if fewer bytes remain.
    pub(super) fn fill(&mut self, mut dst: &mut [u8]) {
        while let (false, [part, rest @ ..]) = (dst.is_empty(), self.prefix) {
            let src = &part[self.off..];
            let k = src.len().min(dst.len());
            dst[..k].copy_from_slice(&src[..k]);
            dst = &mut dst[k..];
            self.off += k;
            if self.off == part.len() {
                self.prefix = rest;
                self.off = 0;
            }
        }
        let (src, rest) = self.body.split_at(dst.len());
        dst.copy_from_slice(src);
        self.body = rest;
    }

    /// Fills a whole packet body: one fixed-size copy once past the prefix.
    #[inline(always)]
    pub(super) fn fill_body(&mut self, dst: &mut [u8; BODY_LEN]) {
        match (self.prefix, self.body.split_first_chunk::<BODY_LEN>()) {
            ([], Some((src, rest))) => {
                *dst = *src;
                self.body = rest;
            }
            _ => self.fill(dst),
        }
    }
}

/// PCR values an audio PES carries (audio-only programs): `count` values from `first`, `step`
/// apart, none above `cap`.
#[derive(Debug, Clone, Copy)]
pub(super) struct PcrRun {
    pub(super) first: Pts90k,
    pub(super) step: u64,
    pub(super) count: u32,
    pub(super) cap: Pts90k,
}

impl PcrRun {
    /// The `k`-th value.
    #[inline(always)]
    pub(super) fn value(&self, k: u32) -> Pts90k {
        Pts90k(self.first.0 + k as u64 * self.step).min(self.cap)
    }
}

/// An adaptation field of exactly a PCR: length 7, `PCR_flag`, the 6 PCR bytes.
#[inline(always)]
pub(super) fn pcr_adaptation(pcr: Pts90k) -> [u8; 8] {
    let f = pcr_field(pcr);
    [7, 0x10, f[0], f[1], f[2], f[3], f[4], f[5]]
}

/// Length of an audio PES header (PTS only).
pub(super) const AUDIO_PES_HEADER_LEN: usize = 14;

/// The header of an audio PES with `payload_len` (at most [`AUDIO_PES_MAX`]) bytes: the bytes
/// [`PesHeader::emit`] writes for stream_id 0xC0 and a PTS only, built in registers.
#[inline(always)]
pub(super) fn audio_pes_header(pts: Pts90k, payload_len: usize) -> [u8; AUDIO_PES_HEADER_LEN] {
    let (a, b) = audio_pes_header_words(pts, payload_len);
    let mut h = [0; AUDIO_PES_HEADER_LEN];
    h[..8].copy_from_slice(&a.to_be_bytes());
    h[6..].copy_from_slice(&b.to_be_bytes());
    h
}

/// [`audio_pes_header`] as two big-endian words for two 8-byte stores: bytes 0..8, and
/// bytes 6..14 (bytes 6 and 7, the flags, are in both).
#[inline(always)]
pub(super) fn audio_pes_header_words(pts: Pts90k, payload_len: usize) -> (u64, u64) {
    // packet_start_code_prefix, stream_id, PES_packet_length, '10' + flags, PTS_DTS_flags.
    let len = (AUDIO_PES_HEADER_LEN - 6 + payload_len) as u64 & 0xFFFF;
    let a = 0x0000_0100_0000_8480 | (STREAM_ID_AUDIO as u64) << 32 | len << 16;
    // Flags, PES_header_data_length 5, then the PTS (§2.4.3.7): '0010', PTS[32..30], marker,
    // PTS[29..15], marker, PTS[14..0], marker.
    let v = pts.wire33();
    let b = 0x8480_0500_0000_0000
        | 0x21_0001_0001
        | (v >> 30 & 0x07) << 33
        | (v >> 15 & 0x7FFF) << 17
        | (v & 0x7FFF) << 1;
    (a, b)
}

/// Copies `N` (at most 192) bytes as fixed-size pieces of at most 64 bytes. The release
/// profile optimises for size, where a fixed-size copy above 64 bytes becomes a `memcpy`
/// call; pieces of 64 bytes or less are inlined as a few vector moves.
#[inline(always)]
pub(super) fn copy_fixed<const N: usize>(dst: &mut [u8], src: &[u8; N]) {
    const { assert!(N <= 192) };
    let dst = &mut dst[..N];
    if N > 128 {
        dst[..64].copy_from_slice(&src[..64]);
        dst[64..128].copy_from_slice(&src[64..128]);
        dst[128..].copy_from_slice(&src[128..]);
    } else if N > 64 {
        dst[..64].copy_from_slice(&src[..64]);
        dst[64..].copy_from_slice(&src[64..]);
    } else {
        dst.copy_from_slice(src);
    }
}

/// The 4 header bytes of an audio packet on the PID of `base` (from
/// [`audio_head_base`]), with payload, as one `u32` store: `pusi`, an adaptation field if
/// `af`, counter `cc`.
#[inline(always)]
pub(super) fn audio_head(base: u32, pusi: bool, af: bool, cc: u8) -> [u8; 4] {
    (base | (pusi as u32) << 14 | (0x10 | (af as u32) << 5 | cc as u32) << 24).to_le_bytes()
}

/// The bytes of a packet header on `pid` without flags or counter, as the little-endian
/// `u32` [`audio_head`] completes (the same bytes as [`Header::to_bytes`]).
#[inline(always)]
pub(super) fn audio_head_base(pid: u16) -> u32 {
    u32::from_le_bytes([SYNC_BYTE, (pid >> 8) as u8 & 0x1F, pid as u8, 0])
}

/// Whether this CPU has AVX2 (x86_64, detected at run time: the build targets baseline
/// x86-64, SSE2 only). Off x86_64 there is one build: aarch64's NEON moves of 16 bytes go in
/// `ldp`/`stp` pairs already.
pub(super) fn wide_moves_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Writes one audio PES (stream_id 0xC0, PTS only, exact `PES_packet_length`) of the ADTS
/// frames in `data` (1 to [`AUDIO_PES_MAX`] bytes). Its first packets carry the PCRs of `pcrs`
/// in their adaptation fields, one each, as far as there are packets; the last packet is
/// padded through its adaptation field. Every packet is a `u32` header store, at most one
/// 8-byte PCR field and, but for short PES, one fixed-size payload copy (the last packet's
/// is the 184 bytes that end `data`, under its adaptation field). Returns the number of
/// packets written and of PCRs placed.
#[inline(always)]
pub(super) fn write_audio_pes(
    out: &mut impl PacketSink,
    base: u32,
    cc_store: &mut u8,
    pts: Pts90k,
    data: &[u8],
    pcrs: PcrRun,
) -> (u64, u32) {
    const PCR_BODY: usize = BODY_LEN - 8;
    const FIRST: usize = BODY_LEN - AUDIO_PES_HEADER_LEN;
    const FIRST_PCR: usize = FIRST - 8;
    // Header words with payload (and adaptation field); the counter is added in its bits.
    let h_full = base | 0x10 << 24;
    let h_af = h_full | 0x20 << 24;
    let cc0 = *cc_store;
    let (pes_a, pes_b) = audio_pes_header_words(pts, data.len());

    // First packet: the first PCR if any, the PES header, payload; stuffing if short.
    let slot = out.next_slot();
    let (mut rest, mut placed) = match pcrs.count > 0 {
        true if data.len() >= FIRST_PCR => {
            let (first, rest) = data.split_at(FIRST_PCR);
            slot[..4].copy_from_slice(&audio_head(base, true, true, cc0));
            slot[4..12].copy_from_slice(&pcr_adaptation(pcrs.value(0)));
            slot[12..20].copy_from_slice(&pes_a.to_be_bytes());
            slot[18..26].copy_from_slice(&pes_b.to_be_bytes());
            copy_fixed::<FIRST_PCR>(&mut slot[26..], first.try_into().unwrap());
            (rest, 1)
        }
        false if data.len() >= FIRST => {
            let (first, rest) = data.split_at(FIRST);
            slot[..4].copy_from_slice(&audio_head(base, true, false, cc0));
            slot[4..12].copy_from_slice(&pes_a.to_be_bytes());
            slot[10..18].copy_from_slice(&pes_b.to_be_bytes());
            copy_fixed::<FIRST>(&mut slot[18..], first.try_into().unwrap());
            (rest, 0)
        }
        _ => {
            let pcr0 = (pcrs.count > 0).then(|| pcrs.value(0));
            write_audio_first_slow(slot, base, cc0, pts, data, pcr0)
        }
    };
    // The next counter, in bits 24..28 of the header word.
    let mut ccw = ((cc0 as u32 + 1) & 0x0F) << 24;
    let next_cc = |ccw: u32| (ccw + (1 << 24)) & 0x0F << 24;
    let mut packets = 1;

    // Packets with a PCR while more than a packet of payload is left.
    let mut pcr = pcrs.first.0 + placed as u64 * pcrs.step;
    while placed < pcrs.count {
        let Some((src, tail)) = rest.split_first_chunk::<PCR_BODY>() else {
            break;
        };
        let slot = out.next_slot();
        slot[..4].copy_from_slice(&(h_af | ccw).to_le_bytes());
        slot[4..12].copy_from_slice(&pcr_adaptation(Pts90k(pcr).min(pcrs.cap)));
        copy_fixed(&mut slot[12..], src);
        rest = tail;
        placed += 1;
        pcr += pcrs.step;
        ccw = next_cc(ccw);
        packets += 1;
    }
    // Full packets: a header store and one fixed-size copy each.
    if placed == pcrs.count {
        while let Some((src, tail)) = rest.split_first_chunk::<BODY_LEN>() {
            let slot = out.next_slot();
            slot[..4].copy_from_slice(&(h_full | ccw).to_le_bytes());
            copy_fixed(&mut slot[4..], src);
            rest = tail;
            ccw = next_cc(ccw);
            packets += 1;
        }
    }
    // The last packet: stuffing (and a PCR, if one is left) in its adaptation field.
    if !rest.is_empty() {
        let (head, body) = split_slot(out.next_slot());
        *head = (h_af | ccw).to_le_bytes();
        let af_len = BODY_LEN - rest.len();
        if placed < pcrs.count {
            AdaptationField {
                random_access: false,
                pcr: Some(pcrs.value(placed).to_pcr()),
            }
            .emit(&mut body[..af_len]);
            body[af_len..].copy_from_slice(rest);
            placed += 1;
        } else if let Some(tail) = data.last_chunk::<BODY_LEN>() {
            // The 184 bytes that end the payload, then the adaptation field over their front:
            // `AdaptationField::default().emit(&mut body[..af_len])`, open-coded (as a call
            // it made the 4-frame AAC bench 9 % slower).
            copy_fixed(body, tail);
            body[0] = (af_len - 1) as u8;
            if af_len > 1 {
                body[1] = 0;
                fill_stuffing(&mut body[2..af_len]);
            }
        } else {
            emit_stuffed_body(body, rest);
        }
        ccw = next_cc(ccw);
        packets += 1;
    }
    *cc_store = (ccw >> 24) as u8;
    (packets, placed)
}

/// The first packet of [`write_audio_pes`] for a PES too short to fill it (stuffing in the
/// adaptation field). Returns the payload left and the PCRs placed (0 or 1). (Handing such a
/// PES to [`write_pes`] instead gives the same bytes but pulled the general writer into the
/// hot function: the 4-frame AAC bench measured 3.5 % slower.)
#[inline(never)]
pub(super) fn write_audio_first_slow<'a>(
    slot: &mut [u8; PACKET_LEN],
    base: u32,
    cc: u8,
    pts: Pts90k,
    data: &'a [u8],
    pcr0: Option<Pts90k>,
) -> (&'a [u8], u32) {
    let af_min = if pcr0.is_some() { 8 } else { 0 };
    let take = data.len().min(BODY_LEN - AUDIO_PES_HEADER_LEN - af_min);
    let af_len = BODY_LEN - AUDIO_PES_HEADER_LEN - take;
    let (head, body) = split_slot(slot);
    *head = audio_head(base, true, af_len > 0, cc);
    if af_len > 0 {
        AdaptationField {
            random_access: false,
            pcr: pcr0.map(Pts90k::to_pcr),
        }
        .emit(&mut body[..af_len]);
    }
    let (pes_head, payload) = body[af_len..].split_at_mut(AUDIO_PES_HEADER_LEN);
    pes_head.copy_from_slice(&audio_pes_header(pts, data.len()));
    let (first, rest) = data.split_at(take);
    payload.copy_from_slice(first);
    (rest, pcr0.is_some() as u32)
}

/// Splits a PES (header + the payload in `src`) into packets on `pid`; `af` goes into the
/// first packet; the last packet is padded through its adaptation field. Every byte of every
/// slot is written once. Returns the number of packets written.
pub(super) fn write_pes(
    out: &mut impl PacketSink,
    pid: u16,
    cc_store: &mut u8,
    hdr: &PesHeader,
    mut src: Gather,
    af: AdaptationField,
) -> u64 {
    let payload_len = src.len();
    let mut cc = *cc_store;
    let header = |pusi, has_adaptation, cc| {
        Header {
            pusi,
            pid,
            has_adaptation,
            has_payload: true,
            cc,
        }
        .to_bytes()
    };

    // First packet: adaptation field (PCR/RAI, or stuffing when the PES is short), PES header.
    let hdr_len = hdr.len();
    let min_af = if af.is_empty() { 0 } else { af.min_len() };
    let take = payload_len.min(BODY_LEN - min_af - hdr_len);
    let af_len = BODY_LEN - hdr_len - take;
    let (head, body) = split_slot(out.next_slot());
    *head = header(true, af_len > 0, cc);
    if af_len > 0 {
        af.emit(&mut body[..af_len]);
    }
    let body = &mut body[af_len..];
    hdr.emit(body, payload_len);
    src.fill(&mut body[hdr_len..]);
    cc = (cc + 1) & 0x0F;
    let mut remaining = payload_len - take;
    let mut count = 1;

    // Full packets: header and one 184-byte copy each.
    while remaining >= BODY_LEN {
        let (head, body) = split_slot(out.next_slot());
        *head = header(false, false, cc);
        src.fill_body(body);
        cc = (cc + 1) & 0x0F;
        remaining -= BODY_LEN;
        count += 1;
    }

    // Last packet: stuffing in the adaptation field, then the rest of the payload.
    if remaining > 0 {
        let af_len = BODY_LEN - remaining;
        let (head, body) = split_slot(out.next_slot());
        *head = header(false, true, cc);
        AdaptationField::default().emit(&mut body[..af_len]);
        src.fill(&mut body[af_len..]);
        cc = (cc + 1) & 0x0F;
        count += 1;
    }
    *cc_store = cc;
    count
}
