//! The stateful MPEG-TS muxer: one program, H.264 video and optional AAC (ADTS) audio, written
//! as 188-byte packets into a caller's [`PacketSink`] (ISO/IEC 13818-1 §2.4, H.222.0 §2.14 for
//! AVC carriage, Apple HLS authoring rules for the in-band parameter sets).
//!
//! # Contract
//! * [`TsMuxer::new`] performs every allocation (the audio PES buffer); `push_*`, `flush_audio`
//!   and `write_psi` never allocate: each packet is built in a stack `[u8; 188]` and handed to
//!   the sink, the access unit is copied straight from the caller's slice (plus the remembered
//!   parameter sets) into packets.
//! * One muxer lives for the whole run, so continuity counters (per PID, incremented only on
//!   packets with payload, §2.4.3.3) and the PCR continue across segment boundaries.
//! * Timestamps are unwrapped [`Pts90k`]; only the writers reduce them to 33 bits.
//!
//! # Video (`push_video`)
//! Each access unit becomes one PES (stream_id 0xE0, PTS + DTS when they differ,
//! `PES_packet_length` exact when it fits in 16 bits, else 0). An AUD NAL
//! (`00 00 00 01 09 F0`) is prepended when the encoder did not start the AU with one. SPS and
//! PPS are remembered (fixed storage of [`PARAM_SET_MAX`] bytes each) from the last AU that
//! carried them and inserted right after the AUD of every IDR that lacks them; an IDR with no
//! parameter set ever seen is refused with [`MuxError::NoSpsPps`]. The first packet of every
//! video PES carries a PCR, and for IDRs also `random_access_indicator` (so RAI on the PCR PID
//! always sits in a packet with a PCR, §2.4.3.5).
//!
//! # Clock (PCR)
//! The PCR is on the video PID and runs a fixed `pcr_delay = max_audio_pes` behind the media
//! time: the PCR written with a video PES is `DTS − pcr_delay` (never decreasing). That lead is
//! what lets audio frames wait in the pending PES for up to `max_audio_pes` while every PES
//! still reaches the decoder before its PTS (PCR ≤ every PTS/DTS written after it, given the
//! caller interleaves by timestamp). When consecutive PCRs would be more than `pcr_interval`
//! apart — video slower than 25 fps, or audio-only stretches — adaptation-field-only packets
//! on the video PID carry intermediate PCRs (at most [`MAX_PCR_FILL`] per gap; a longer gap is a
//! timeline jump and is crossed in one step).
//!
//! # Audio (`push_audio`)
//! ADTS frames (stream_id 0xC0, PTS only, exact `PES_packet_length`) are gathered into one
//! pending PES. The pending PES is written (a) before adding a frame that would make it span
//! more than `max_audio_pes` (or overflow 16-bit `PES_packet_length`), (b) before a video AU
//! whose PCR would pass the pending PES's PTS (DTS − pcr_delay > pending PTS), and (c) on
//! [`TsMuxer::flush_audio`], which the segmenter calls before each cut. Frame PTS inside one
//! [`AudioAu`] follow the sample count from `au.pts`.
//!
//! # PSI
//! [`TsMuxer::write_psi`] writes PAT then PMT at once (segment start). Before any PES whose
//! timestamp is `psi_interval` or more past the timestamp of the PES that followed the last
//! PAT/PMT, both are written again. PMT: PCR_PID = video PID, stream types 0x1B and 0x0F.

use std::fmt;

use super::packet::{AdaptationField, Header, PACKET_LEN, PID_PAT};
use super::pes::{PesHeader, MAX_PES_PACKET_LENGTH, STREAM_ID_AUDIO, STREAM_ID_VIDEO};
use super::psi::{EsRepr, PatRepr, PmtRepr, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264};
use crate::codec::adts::AdtsFrames;
use crate::codec::h264::{AuLayout, AUD_NAL};
use crate::media::{AudioAu, VideoAu};
use crate::time::{Pts90k, HZ_90K};

/// Largest SPS or PPS (without start code) the muxer remembers.
pub const PARAM_SET_MAX: usize = 1024;
/// Most PCR-only packets written to bridge one gap.
pub const MAX_PCR_FILL: u64 = 250;
/// Largest audio PES payload: `PES_packet_length` (16 bits) minus the 8 header bytes it counts.
pub const AUDIO_PES_MAX: usize = MAX_PES_PACKET_LENGTH - 8;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Where finished packets go. Infallible: a sink that does I/O latches its own error.
pub trait PacketSink {
    /// Takes one complete 188-byte packet.
    fn put(&mut self, pkt: &[u8; PACKET_LEN]);
}

impl PacketSink for Vec<u8> {
    fn put(&mut self, pkt: &[u8; PACKET_LEN]) {
        self.extend_from_slice(pkt);
    }
}

/// Muxer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxConfig {
    /// PID of the PMT (0x1000).
    pub pmt_pid: u16,
    /// PID of the H.264 stream, also the PCR PID (0x100).
    pub video_pid: u16,
    /// PID of the AAC stream (0x101); `None` for video only.
    pub audio_pid: Option<u16>,
    /// `program_number` (1).
    pub program_number: u16,
    /// Longest audio PES, and the PCR's lead over DTS (100 ms).
    pub max_audio_pes: Pts90k,
    /// Longest media time between PAT/PMT repeats (0.5 s).
    pub psi_interval: Pts90k,
    /// Longest media time between PCRs (40 ms).
    pub pcr_interval: Pts90k,
}

impl Default for MuxConfig {
    fn default() -> Self {
        MuxConfig {
            pmt_pid: 0x1000,
            video_pid: 0x100,
            audio_pid: Some(0x101),
            program_number: 1,
            max_audio_pes: Pts90k::from_millis(100),
            psi_interval: Pts90k::from_millis(500),
            pcr_interval: Pts90k::from_millis(40),
        }
    }
}

/// Why an access unit was refused. Nothing was written for a refused unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MuxError {
    /// The access unit has no bytes.
    EmptyAccessUnit,
    /// Video data does not begin with an Annex B start code.
    NotAnnexB,
    /// An IDR without SPS/PPS, and none seen before.
    NoSpsPps,
    /// Audio data is not a sequence of complete ADTS frames.
    BadAdts,
    /// `push_audio` with `audio_pid: None`.
    AudioPidNotConfigured,
    /// Video DTS not after the previous one, or audio PTS before the previous one.
    TimestampBackwards,
    /// Video PTS earlier than its DTS.
    PtsBeforeDts,
}

impl fmt::Display for MuxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MuxError::EmptyAccessUnit => "empty access unit",
            MuxError::NotAnnexB => "video access unit does not start with an Annex B start code",
            MuxError::NoSpsPps => "IDR without SPS/PPS and none seen before",
            MuxError::BadAdts => "audio is not a sequence of complete ADTS frames",
            MuxError::AudioPidNotConfigured => "audio pushed but no audio PID configured",
            MuxError::TimestampBackwards => "timestamp went backwards",
            MuxError::PtsBeforeDts => "video PTS earlier than DTS",
        })
    }
}

impl std::error::Error for MuxError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PsiState {
    /// Never written: write before the first packet.
    Never,
    /// Written by `write_psi`; stamped by the next PES.
    Unstamped,
    /// Last written before the PES with this timestamp.
    At(Pts90k),
}

/// The muxer. See the module documentation for the rules it keeps.
pub struct TsMuxer {
    cfg: MuxConfig,
    pcr_delay: Pts90k,
    pat: [u8; PACKET_LEN],
    pmt: [u8; PACKET_LEN],
    cc_pat: u8,
    cc_pmt: u8,
    cc_video: u8,
    cc_audio: u8,
    psi: PsiState,
    last_pcr: Option<Pts90k>,
    last_video_dts: Option<Pts90k>,
    last_audio_pts: Option<Pts90k>,
    sps: heapless::Vec<u8, PARAM_SET_MAX>,
    pps: heapless::Vec<u8, PARAM_SET_MAX>,
    audio: Box<[u8]>,
    audio_len: usize,
    audio_pts: Pts90k,
    packets: u64,
}

impl fmt::Debug for TsMuxer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsMuxer")
            .field("cfg", &self.cfg)
            .field("packets", &self.packets)
            .field("last_pcr", &self.last_pcr)
            .field("pending_audio", &self.audio_len)
            .finish()
    }
}

fn psi_packet(pid: u16, section: impl FnOnce(&mut [u8]) -> usize) -> [u8; PACKET_LEN] {
    let mut p = [0xFFu8; PACKET_LEN];
    Header {
        pusi: true,
        pid,
        has_adaptation: false,
        has_payload: true,
        cc: 0,
    }
    .emit(&mut p);
    p[4] = 0; // pointer_field
    section(&mut p[5..]);
    p
}

impl TsMuxer {
    /// A muxer with `cfg`; allocates its audio buffer here and never again.
    pub fn new(cfg: MuxConfig) -> Self {
        let pat = psi_packet(PID_PAT, |b| {
            PatRepr {
                transport_stream_id: 1,
                program_number: cfg.program_number,
                pmt_pid: cfg.pmt_pid,
            }
            .emit(b)
        });
        let video = EsRepr {
            stream_type: STREAM_TYPE_H264,
            pid: cfg.video_pid,
        };
        let streams_av;
        let streams_v;
        let streams: &[EsRepr] = match cfg.audio_pid {
            Some(pid) => {
                streams_av = [
                    video,
                    EsRepr {
                        stream_type: STREAM_TYPE_AAC_ADTS,
                        pid,
                    },
                ];
                &streams_av
            }
            None => {
                streams_v = [video];
                &streams_v
            }
        };
        let pmt = psi_packet(cfg.pmt_pid, |b| {
            PmtRepr {
                program_number: cfg.program_number,
                pcr_pid: cfg.video_pid,
                streams,
            }
            .emit(b)
        });
        TsMuxer {
            pcr_delay: cfg.max_audio_pes,
            cfg: MuxConfig {
                pcr_interval: Pts90k(cfg.pcr_interval.0.max(1)),
                ..cfg
            },
            pat,
            pmt,
            cc_pat: 0,
            cc_pmt: 0,
            cc_video: 0,
            cc_audio: 0,
            psi: PsiState::Never,
            last_pcr: None,
            last_video_dts: None,
            last_audio_pts: None,
            sps: heapless::Vec::new(),
            pps: heapless::Vec::new(),
            audio: vec![0u8; AUDIO_PES_MAX].into_boxed_slice(),
            audio_len: 0,
            audio_pts: Pts90k::ZERO,
            packets: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &MuxConfig {
        &self.cfg
    }

    /// Packets written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Writes PAT then PMT now (call at every segment start, after [`Self::flush_audio`]).
    pub fn write_psi(&mut self, out: &mut impl PacketSink) {
        self.pat[3] = 0x10 | self.cc_pat;
        self.cc_pat = (self.cc_pat + 1) & 0x0F;
        out.put(&self.pat);
        self.pmt[3] = 0x10 | self.cc_pmt;
        self.cc_pmt = (self.cc_pmt + 1) & 0x0F;
        out.put(&self.pmt);
        self.packets += 2;
        self.psi = PsiState::Unstamped;
    }

    /// Writes PAT/PMT if due before a PES with timestamp `t`, and stamps them.
    fn psi_before_pes(&mut self, t: Pts90k, out: &mut impl PacketSink) {
        match self.psi {
            PsiState::Never => self.write_psi(out),
            PsiState::At(s) if t >= s + self.cfg.psi_interval => self.write_psi(out),
            _ => {}
        }
        if self.psi == PsiState::Unstamped {
            self.psi = PsiState::At(t);
        }
    }

    /// Writes an adaptation-field-only packet with a PCR on the video PID.
    fn write_pcr_only(&mut self, pcr: Pts90k, out: &mut impl PacketSink) {
        let mut p = [0u8; PACKET_LEN];
        // No payload: the counter repeats the last one used (§2.4.3.3).
        let cc = self.cc_video.wrapping_sub(1) & 0x0F;
        Header {
            pusi: false,
            pid: self.cfg.video_pid,
            has_adaptation: true,
            has_payload: false,
            cc,
        }
        .emit(&mut p);
        AdaptationField {
            random_access: false,
            pcr: Some(pcr.to_pcr()),
        }
        .emit(&mut p[4..]);
        out.put(&p);
        self.packets += 1;
        self.last_pcr = Some(pcr);
    }

    /// Brings the PCR to within `pcr_interval` of `target` with PCR-only packets; returns the
    /// PCR value to use for `target` (never below the last one).
    fn bridge_pcr(&mut self, target: Pts90k, out: &mut impl PacketSink) -> Pts90k {
        let Some(mut last) = self.last_pcr else {
            return target;
        };
        let step = self.cfg.pcr_interval;
        if target > last + step {
            let gaps = (target.0 - last.0 - 1) / step.0;
            if gaps > MAX_PCR_FILL {
                // A timeline jump: no point in thousands of packets.
                last = Pts90k(target.0 - step.0);
            }
            while target > last + step {
                last = last + step;
                self.write_pcr_only(last, out);
            }
        }
        target.max(last)
    }

    /// Muxes one H.264 access unit.
    pub fn push_video(&mut self, au: &VideoAu, out: &mut impl PacketSink) -> Result<(), MuxError> {
        if au.data.is_empty() {
            return Err(MuxError::EmptyAccessUnit);
        }
        if matches!(self.last_video_dts, Some(d) if au.dts <= d) {
            return Err(MuxError::TimestampBackwards);
        }
        if au.pts < au.dts {
            return Err(MuxError::PtsBeforeDts);
        }
        let layout = AuLayout::scan(au.data);
        if !layout.starts_with_start_code {
            return Err(MuxError::NotAnnexB);
        }
        remember(&mut self.sps, layout.sps.map(|(a, b)| &au.data[a..b]));
        remember(&mut self.pps, layout.pps.map(|(a, b)| &au.data[a..b]));
        let need_sps = au.key && layout.sps.is_none();
        let need_pps = au.key && layout.pps.is_none();
        if (need_sps && self.sps.is_empty()) || (need_pps && self.pps.is_empty()) {
            return Err(MuxError::NoSpsPps);
        }
        self.last_video_dts = Some(au.dts);
        if self.psi == PsiState::Never {
            self.write_psi(out);
        }

        let target = au.dts.saturating_sub(self.pcr_delay);
        if self.audio_len > 0 && target > self.audio_pts {
            self.flush_audio(out);
        }
        let pcr = self.bridge_pcr(target, out);
        self.psi_before_pes(au.dts, out);

        let mut parts: [&[u8]; 6] = [&[]; 6];
        let mut n = 0;
        let rest = if layout.has_aud {
            parts[0] = &au.data[..layout.after_aud];
            &au.data[layout.after_aud..]
        } else {
            parts[0] = &AUD_NAL;
            au.data
        };
        n += 1;
        if need_sps {
            parts[n] = &START_CODE;
            parts[n + 1] = &self.sps;
            n += 2;
        }
        if need_pps {
            parts[n] = &START_CODE;
            parts[n + 1] = &self.pps;
            n += 2;
        }
        parts[n] = rest;
        n += 1;

        let hdr = PesHeader {
            stream_id: STREAM_ID_VIDEO,
            pts: au.pts,
            dts: Some(au.dts),
        };
        let af = AdaptationField {
            random_access: au.key,
            pcr: Some(pcr.to_pcr()),
        };
        self.packets += write_pes(
            out,
            self.cfg.video_pid,
            &mut self.cc_video,
            &hdr,
            &parts[..n],
            af,
        );
        self.last_pcr = Some(pcr);
        Ok(())
    }

    /// Adds the ADTS frames of `au` to the pending audio PES, writing PES as the rules in the
    /// module documentation require.
    pub fn push_audio(&mut self, au: &AudioAu, out: &mut impl PacketSink) -> Result<(), MuxError> {
        if self.cfg.audio_pid.is_none() {
            return Err(MuxError::AudioPidNotConfigured);
        }
        if au.data.is_empty() {
            return Err(MuxError::EmptyAccessUnit);
        }
        if matches!(self.last_audio_pts, Some(p) if au.pts < p) {
            return Err(MuxError::TimestampBackwards);
        }
        if AdtsFrames::new(au.data).any(|r| r.is_err()) {
            return Err(MuxError::BadAdts);
        }
        self.last_audio_pts = Some(au.pts);
        if self.psi == PsiState::Never {
            self.write_psi(out);
        }
        let mut samples: u64 = 0;
        for (h, frame) in AdtsFrames::new(au.data).flatten() {
            let rate = h.sample_rate as u64;
            let pts = au.pts + Pts90k(samples * HZ_90K / rate);
            samples += h.samples() as u64;
            let end = au.pts + Pts90k(samples * HZ_90K / rate);
            if self.audio_len > 0
                && (end.saturating_sub(self.audio_pts) > self.cfg.max_audio_pes
                    || self.audio_len + frame.len() > AUDIO_PES_MAX)
            {
                self.flush_audio(out);
            }
            if self.audio_len == 0 {
                self.audio_pts = pts;
            }
            self.audio[self.audio_len..self.audio_len + frame.len()].copy_from_slice(frame);
            self.audio_len += frame.len();
        }
        // Keep the clock running through audio-only stretches. The target follows the AU's
        // first PTS, not its later frames: the caller interleaves by that timestamp, so a
        // video AU with a DTS below the later frames may still come.
        let target = au.pts.saturating_sub(self.pcr_delay);
        let target = if self.audio_len > 0 {
            target.min(self.audio_pts)
        } else {
            target
        };
        if self.last_pcr.is_none() {
            self.write_pcr_only(target, out);
        } else {
            self.bridge_pcr(target, out);
        }
        Ok(())
    }

    /// Writes the pending audio PES, if any (before a segment cut).
    pub fn flush_audio(&mut self, out: &mut impl PacketSink) {
        let (Some(pid), true) = (self.cfg.audio_pid, self.audio_len > 0) else {
            return;
        };
        let pts = self.audio_pts;
        self.psi_before_pes(pts, out);
        let hdr = PesHeader {
            stream_id: STREAM_ID_AUDIO,
            pts,
            dts: None,
        };
        let parts: [&[u8]; 1] = [&self.audio[..self.audio_len]];
        self.packets += write_pes(
            out,
            pid,
            &mut self.cc_audio,
            &hdr,
            &parts,
            AdaptationField::default(),
        );
        self.audio_len = 0;
    }
}

/// Copies a parameter set into fixed storage; one too large to keep clears the storage so a
/// stale set is never inserted.
fn remember(store: &mut heapless::Vec<u8, PARAM_SET_MAX>, nal: Option<&[u8]>) {
    if let Some(nal) = nal {
        store.clear();
        let _ = store.extend_from_slice(nal);
    }
}

/// Splits a PES (header + the concatenation of `parts`) into packets on `pid`; `af` goes into
/// the first packet; the last packet is padded through its adaptation field. Returns the
/// number of packets written.
fn write_pes(
    out: &mut impl PacketSink,
    pid: u16,
    cc: &mut u8,
    hdr: &PesHeader,
    parts: &[&[u8]],
    af: AdaptationField,
) -> u64 {
    let payload_len: usize = parts.iter().map(|p| p.len()).sum();
    let mut remaining = hdr.len() + payload_len;
    let mut idx = 0;
    let mut off = 0;
    let mut first = true;
    let mut count = 0;
    while remaining > 0 {
        let mut p = [0u8; PACKET_LEN];
        let field = if first {
            af
        } else {
            AdaptationField::default()
        };
        let min_af = if field.is_empty() { 0 } else { field.min_len() };
        let room = 184 - min_af;
        let (af_len, take) = if remaining >= room {
            (min_af, room)
        } else {
            (184 - remaining, remaining)
        };
        Header {
            pusi: first,
            pid,
            has_adaptation: af_len > 0,
            has_payload: true,
            cc: *cc,
        }
        .emit(&mut p);
        if af_len > 0 {
            field.emit(&mut p[4..4 + af_len]);
        }
        let mut at = 4 + af_len;
        if first {
            hdr.emit(&mut p[at..], payload_len);
            at += hdr.len();
        }
        // Gather the elementary-stream bytes for the rest of the packet.
        let mut dst = &mut p[at..4 + af_len + take];
        while !dst.is_empty() {
            let src = &parts[idx][off..];
            let k = src.len().min(dst.len());
            dst[..k].copy_from_slice(&src[..k]);
            dst = &mut dst[k..];
            off += k;
            if off == parts[idx].len() {
                idx += 1;
                off = 0;
            }
        }
        out.put(&p);
        remaining -= take;
        *cc = (*cc + 1) & 0x0F;
        first = false;
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::adts::write_adts_header;
    use crate::ts::packet::Packet;
    use crate::ts::pes::PesPacket;

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
}
