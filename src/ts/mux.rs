//! The stateful MPEG-TS muxer: one program, H.264 video and optional AAC (ADTS) audio, written
//! as 188-byte packets into a caller's [`PacketSink`] (ISO/IEC 13818-1 §2.4, H.222.0 §2.14 for
//! AVC carriage, Apple HLS authoring rules for the in-band parameter sets).
//!
//! # Contract
//! * [`TsMuxer::new`] performs every allocation (the audio PES buffer); `push_*`, `flush_audio`
//!   and `write_psi` never allocate: each packet is written straight into the slot the sink
//!   hands out ([`PacketSink::next_slot`]), every byte of it exactly once, and the access unit
//!   is copied straight from the caller's slice (plus the remembered parameter sets) into those
//!   slots. Video bytes are therefore copied once, and so are the bytes of an audio access
//!   unit that forms a whole PES (the pipeline's batches of frames); single audio frames are
//!   copied twice (into the pending PES, whose length must be known before its first packet,
//!   then into packets).
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
//! An audio-only program (`video_pid: None`) carries the PCR on the audio PID (PCR_PID = the
//! audio PID, §2.4.4.9, as ffmpeg does for audio-only TS), in the adaptation fields of the
//! audio PES's own packets: the first packet of each PES carries `PTS − pcr_delay` (bridged
//! from the last PCR, never decreasing), and the next packets one more PCR per `pcr_interval`
//! of the PES's duration (capped at its PTS), so the next PES's PCR is again within
//! `pcr_interval`. Only a gap in the audio timeline (or a PES with fewer packets than PCRs)
//! needs adaptation-field-only packets, then on the audio PID.
//!
//! # Audio (`push_audio`)
//! Audio PES carry whole ADTS frames (stream_id 0xC0, PTS only, exact `PES_packet_length`)
//! and span at most `max_audio_pes`. Frame PTS inside one [`AudioAu`] follow the sample count
//! from `au.pts`.
//! * An access unit of several frames that spans at most `max_audio_pes` and fits the 16-bit
//!   `PES_packet_length` is written at once as one PES with PTS `au.pts`, straight from
//!   `au.data` (after the pending PES, if any, and the PCR bridged up to
//!   `au.pts − pcr_delay`).
//! * Any other frame is gathered into one pending PES. The pending PES is written (a) before
//!   adding a frame that would make it span more than `max_audio_pes` (or overflow
//!   `PES_packet_length`), (b) before a video AU whose PCR would pass the pending PES's PTS
//!   (DTS − pcr_delay > pending PTS), (c) before a whole-PES access unit, and (d) on
//!   [`TsMuxer::flush_audio`], which the segmenter calls before each cut.
//!
//! # PSI
//! [`TsMuxer::write_psi`] writes PAT then PMT at once (segment start). Before any PES whose
//! timestamp is `psi_interval` or more past the timestamp of the PES that followed the last
//! PAT/PMT, both are written again. PMT: PCR_PID = video PID (audio PID in an audio-only
//! program), stream types 0x1B and 0x0F.

use std::fmt;

use super::packet::{AdaptationField, Header, PACKET_LEN, PID_NULL, PID_PAT};
use super::pes::{PesHeader, MAX_PES_PACKET_LENGTH, STREAM_ID_VIDEO};
use super::psi::{EsRepr, PatRepr, PmtRepr, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264};
use crate::codec::adts::{AdtsFrames, SAMPLE_RATES};
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

#[path = "mux_adts.rs"]
mod adts;
#[path = "mux_packets.rs"]
mod packets;

use adts::{fits_ticks, frame_ticks, samples_to_ticks, scan_adts};
use packets::{
    audio_head_base, copy_fixed, split_slot, wide_moves_available, write_audio_pes, write_pes,
    Gather, PcrRun,
};

/// Where finished packets go. Infallible: a sink that does I/O latches its own error.
///
/// The muxer asks for storage with [`next_slot`](Self::next_slot) and writes the packet in
/// place, so payload bytes go from the caller's buffer to the sink's buffer in one copy.
pub trait PacketSink {
    /// Storage for the next packet, which is part of the output from this call on. Its bytes
    /// on return are unspecified (a sink may hand out reused storage); the caller must
    /// overwrite all 188 of them before it calls the sink again or gives up its borrow.
    fn next_slot(&mut self) -> &mut [u8; PACKET_LEN];

    /// Takes one complete 188-byte packet (copies it into [`next_slot`](Self::next_slot)).
    #[inline]
    fn put(&mut self, pkt: &[u8; PACKET_LEN]) {
        *self.next_slot() = *pkt;
    }
}

/// Appends packets. New slots are pre-filled with `0xA5`, so a writer that leaves a byte unset
/// shows up in tests.
impl PacketSink for Vec<u8> {
    fn next_slot(&mut self) -> &mut [u8; PACKET_LEN] {
        let at = self.len();
        self.extend_from_slice(&[0xA5; PACKET_LEN]);
        let slot: &mut [u8] = &mut self[at..];
        slot.try_into().expect("slot is one packet long")
    }

    fn put(&mut self, pkt: &[u8; PACKET_LEN]) {
        self.extend_from_slice(pkt);
    }
}

/// Muxer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxConfig {
    /// PID of the PMT (0x1000).
    pub pmt_pid: u16,
    /// PID of the H.264 stream, also the PCR PID (0x100); `None` for an audio-only program,
    /// whose PCR rides on the audio PID.
    pub video_pid: Option<u16>,
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
            video_pid: Some(0x100),
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
    /// `push_video` with `video_pid: None`.
    VideoPidNotConfigured,
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
            MuxError::VideoPidNotConfigured => "video pushed but no video PID configured",
            MuxError::TimestampBackwards => "timestamp went backwards",
            MuxError::PtsBeforeDts => "video PTS earlier than DTS",
        })
    }
}

impl std::error::Error for MuxError {}

/// The muxer. See the module documentation for the rules it keeps.
pub struct TsMuxer {
    cfg: MuxConfig,
    pcr_delay: Pts90k,
    /// `pcr_interval × (MAX_PCR_FILL + 1)`: a longer PCR gap is crossed in one step.
    pcr_jump: u64,
    pat: [u8; PACKET_LEN],
    pmt: [u8; PACKET_LEN],
    /// No video PID: the PCR rides in the audio packets' adaptation fields.
    audio_only: bool,
    /// A PCR-only packet on the PCR PID with counter and PCR 0, patched on each use.
    pcr_only: [u8; PACKET_LEN],
    cc_pat: u8,
    cc_pmt: u8,
    cc_video: u8,
    cc_audio: u8,
    /// PAT/PMT have been written at least once.
    psi_written: bool,
    /// PAT/PMT were written by `write_psi` and not yet stamped by a PES.
    psi_unstamped: bool,
    /// A PES with this timestamp or later needs PAT/PMT again (the timestamp of the PES that
    /// followed the last PAT/PMT, plus `psi_interval`).
    psi_due: Pts90k,
    last_pcr: Option<Pts90k>,
    last_video_dts: Option<Pts90k>,
    /// PTS of the last audio access unit (0 before the first: no PTS is below it).
    last_audio_pts: Pts90k,
    sps: heapless::Vec<u8, PARAM_SET_MAX>,
    pps: heapless::Vec<u8, PARAM_SET_MAX>,
    /// The pending audio PES payload: `audio_len` bytes of ADTS frames, written out as one
    /// contiguous run.
    audio: Box<[u8]>,
    audio_len: usize,
    audio_pts: Pts90k,
    /// End (PTS + duration) of the last frame in the pending PES.
    audio_end: Pts90k,
    /// `samples << 4 | sampling_frequency_index` of the last whole-PES access unit, and
    /// [`Self::au_shape`] of it.
    shape_key: u64,
    shape: (bool, u32),
    packets: u64,
    /// The audio PID's packet header word without flags or counter ([`audio_head_base`]).
    audio_head: u32,
    /// Whole audio access units are written by code compiled for AVX2 (x86_64 CPUs that
    /// have it): see [`Self::set_wide_moves`].
    wide_moves: bool,
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
        let mut streams = heapless::Vec::<EsRepr, 2>::new();
        if let Some(pid) = cfg.video_pid {
            let _ = streams.push(EsRepr {
                stream_type: STREAM_TYPE_H264,
                pid,
            });
        }
        if let Some(pid) = cfg.audio_pid {
            let _ = streams.push(EsRepr {
                stream_type: STREAM_TYPE_AAC_ADTS,
                pid,
            });
        }
        // The PCR is on the video PID; an audio-only program carries it on the audio PID
        // (§2.4.4.9: PCR_PID 0x1FFF when no PID carries one).
        let pcr_pid = cfg.video_pid.or(cfg.audio_pid).unwrap_or(PID_NULL);
        let pmt = psi_packet(cfg.pmt_pid, |b| {
            PmtRepr {
                program_number: cfg.program_number,
                pcr_pid,
                streams: &streams,
            }
            .emit(b)
        });
        let pcr_interval = Pts90k(cfg.pcr_interval.0.max(1));
        let mut pcr_only = [0u8; PACKET_LEN];
        let (head, body) = split_slot(&mut pcr_only);
        *head = Header {
            pusi: false,
            pid: pcr_pid,
            has_adaptation: true,
            has_payload: false,
            cc: 0,
        }
        .to_bytes();
        AdaptationField {
            random_access: false,
            pcr: Some(Pts90k::ZERO.to_pcr()),
        }
        .emit(body);
        TsMuxer {
            pcr_delay: cfg.max_audio_pes,
            audio_only: cfg.video_pid.is_none() && cfg.audio_pid.is_some(),
            pcr_jump: pcr_interval.0.saturating_mul(MAX_PCR_FILL + 1),
            cfg: MuxConfig {
                pcr_interval,
                ..cfg
            },
            pat,
            pmt,
            pcr_only,
            cc_pat: 0,
            cc_pmt: 0,
            cc_video: 0,
            cc_audio: 0,
            psi_written: false,
            psi_unstamped: false,
            psi_due: Pts90k::ZERO,
            last_pcr: None,
            last_video_dts: None,
            last_audio_pts: Pts90k::ZERO,
            sps: heapless::Vec::new(),
            pps: heapless::Vec::new(),
            audio: vec![0u8; AUDIO_PES_MAX].into_boxed_slice(),
            audio_len: 0,
            audio_pts: Pts90k::ZERO,
            audio_end: Pts90k::ZERO,
            // No (samples, index) key has all its low 4 bits set; a span of 0 has one PCR.
            shape_key: u64::MAX,
            shape: (false, 1),
            packets: 0,
            audio_head: audio_head_base(cfg.audio_pid.unwrap_or(PID_NULL)),
            wide_moves: wide_moves_available(),
        }
    }

    /// Whether whole audio access units are written with 32-byte vector moves (AVX2) where
    /// this CPU has them (the default) or with the baseline build's 16-byte SSE2 moves. The
    /// output bytes are the same either way; the switch is for comparing the two (tests,
    /// `benches/mux.rs`). Without AVX2, or off x86_64, the moves stay baseline.
    pub fn set_wide_moves(&mut self, on: bool) {
        self.wide_moves = on && wide_moves_available();
    }

    /// Whether audio is written with AVX2 moves (see [`Self::set_wide_moves`]).
    pub fn wide_moves(&self) -> bool {
        self.wide_moves
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
        // Copy the stored packet, then set its counter in the copy.
        let slot = out.next_slot();
        copy_fixed(slot, &self.pat);
        slot[3] = 0x10 | self.cc_pat;
        self.cc_pat = (self.cc_pat + 1) & 0x0F;
        let slot = out.next_slot();
        copy_fixed(slot, &self.pmt);
        slot[3] = 0x10 | self.cc_pmt;
        self.cc_pmt = (self.cc_pmt + 1) & 0x0F;
        self.packets += 2;
        self.psi_written = true;
        self.psi_unstamped = true;
    }

    /// Writes PAT/PMT if due before a PES with timestamp `t`, and stamps them.
    #[inline]
    fn psi_before_pes(&mut self, t: Pts90k, out: &mut impl PacketSink) {
        if !self.psi_unstamped {
            // Written before an earlier PES, or never (due at 0).
            if t < self.psi_due {
                return;
            }
            self.write_psi(out);
        }
        self.psi_unstamped = false;
        self.psi_due = t + self.cfg.psi_interval;
    }

    /// Writes an adaptation-field-only packet with a PCR on the PCR PID.
    fn write_pcr_only(&mut self, pcr: Pts90k, out: &mut impl PacketSink) {
        // No payload: the counter repeats the last one used (§2.4.3.3).
        // Copy the stored packet, then set its counter and PCR in the copy.
        let last_cc = if self.audio_only {
            self.cc_audio
        } else {
            self.cc_video
        };
        let cc = last_cc.wrapping_sub(1) & 0x0F;
        let slot = out.next_slot();
        copy_fixed(slot, &self.pcr_only);
        slot[3] |= cc;
        slot[6..12].copy_from_slice(&pcr_field(pcr));
        self.packets += 1;
        self.last_pcr = Some(pcr);
    }

    /// Brings the PCR to within `pcr_interval` of `target` with PCR-only packets; returns the
    /// PCR value to use for `target` (never below the last one).
    #[inline]
    fn bridge_pcr(&mut self, target: Pts90k, out: &mut impl PacketSink) -> Pts90k {
        let Some(last) = self.last_pcr else {
            return target;
        };
        if target > last + self.cfg.pcr_interval {
            self.fill_pcr_gap(last, target, out)
        } else {
            target.max(last)
        }
    }

    /// The gap-filling part of [`Self::bridge_pcr`], for `target > last + pcr_interval`.
    fn fill_pcr_gap(
        &mut self,
        mut last: Pts90k,
        target: Pts90k,
        out: &mut impl PacketSink,
    ) -> Pts90k {
        let step = self.cfg.pcr_interval;
        // More than MAX_PCR_FILL packets, i.e. (target − last − 1) / step > MAX_PCR_FILL, is a
        // timeline jump: no point in thousands of packets.
        if target.0 - last.0 > self.pcr_jump {
            last = Pts90k(target.0 - step.0);
        }
        while target > last + step {
            last = last + step;
            self.write_pcr_only(last, out);
        }
        target.max(last)
    }

    /// Muxes one H.264 access unit.
    pub fn push_video(&mut self, au: &VideoAu, out: &mut impl PacketSink) -> Result<(), MuxError> {
        let Some(video_pid) = self.cfg.video_pid else {
            return Err(MuxError::VideoPidNotConfigured);
        };
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
        if !self.psi_written {
            self.write_psi(out);
        }

        let target = au.dts.saturating_sub(self.pcr_delay);
        if self.audio_len > 0 && target > self.audio_pts {
            self.flush_audio(out);
        }
        let pcr = self.bridge_pcr(target, out);
        self.psi_before_pes(au.dts, out);

        // The PES payload is `prefix` (delimiter, inserted parameter sets) then `body`.
        let mut prefix: [&[u8]; 5] = [&[]; 5];
        let mut n = 0;
        let body = if layout.has_aud {
            prefix[0] = &au.data[..layout.after_aud];
            &au.data[layout.after_aud..]
        } else {
            prefix[0] = &AUD_NAL;
            au.data
        };
        n += 1;
        if need_sps {
            prefix[n] = &START_CODE;
            prefix[n + 1] = &self.sps;
            n += 2;
        }
        if need_pps {
            prefix[n] = &START_CODE;
            prefix[n + 1] = &self.pps;
            n += 2;
        }

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
            video_pid,
            &mut self.cc_video,
            &hdr,
            Gather::new(&prefix[..n], body),
            af,
        );
        self.last_pcr = Some(pcr);
        Ok(())
    }

    /// Muxes the ADTS frames of `au`: an access unit of several frames that fits one PES is
    /// written at once, straight from `au.data`; a single frame (or a unit too long for one
    /// PES) joins the pending audio PES. PES are written as the rules in the module
    /// documentation require.
    pub fn push_audio(&mut self, au: &AudioAu, out: &mut impl PacketSink) -> Result<(), MuxError> {
        if self.cfg.audio_pid.is_none() {
            return Err(MuxError::AudioPidNotConfigured);
        }
        if au.data.is_empty() {
            return Err(MuxError::EmptyAccessUnit);
        }
        if au.pts < self.last_audio_pts {
            return Err(MuxError::TimestampBackwards);
        }
        // Every frame is checked (and its samples counted) before any is taken, so nothing is
        // written for a refused unit.
        let scan = scan_adts(au.data).ok_or(MuxError::BadAdts)?;
        self.last_audio_pts = au.pts;
        if !self.psi_written {
            self.write_psi(out);
        }
        let single = scan.first_len as usize == au.data.len();
        let (fits, pcr_count) = if single {
            (false, 0)
        } else {
            self.au_shape(scan.samples.get(), scan.last_sri)
        };
        if single {
            let end = au.pts + Pts90k(frame_ticks(scan.first_sri, scan.first_blocks));
            self.add_audio_frame(au.pts, end, au.data, out);
        } else if fits && au.data.len() <= AUDIO_PES_MAX {
            // The whole unit is one PES: the same PES the per-frame path below would start
            // with nothing pending, written without the copy into the pending buffer.
            self.flush_audio(out);
            self.audio_pcr(au.pts, out);
            self.write_audio_unit(au.pts, pcr_count, au.data, out);
            return Ok(());
        } else {
            let mut samples: u64 = 0;
            for (h, frame) in AdtsFrames::new(au.data).flatten() {
                let pts = au.pts + Pts90k(samples_to_ticks(samples, &h));
                samples += h.samples() as u64;
                let end = au.pts + Pts90k(samples_to_ticks(samples, &h));
                self.add_audio_frame(pts, end, frame, out);
            }
        }
        self.audio_pcr(au.pts, out);
        Ok(())
    }

    /// Keeps the clock running through audio-only stretches of a program with video: brings
    /// the PCR up to `pts − pcr_delay`, but never past the pending PES's PTS. The target
    /// follows the AU's first PTS, not its later frames: the caller interleaves by that
    /// timestamp, so a video AU with a DTS below the later frames may still come. (In an
    /// audio-only program the audio PES carry the PCR themselves: nothing to do.)
    #[inline(always)]
    fn audio_pcr(&mut self, pts: Pts90k, out: &mut impl PacketSink) {
        if self.audio_only {
            return;
        }
        let target = pts.saturating_sub(self.pcr_delay);
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
    }

    /// Writes one audio PES of `data` with PTS `pts` (PAT/PMT first if due). In an audio-only
    /// program its packets also carry the PCR: the first packet `pts − pcr_delay` (bridged
    /// from the last PCR), then one more every `pcr_interval` of the PES's duration, so the
    /// next PES's PCR is within `pcr_interval`: `pcr_count` in all (from
    /// [`Self::pcr_count`]; unused with video).
    #[inline(always)]
    fn write_audio(&mut self, pts: Pts90k, pcr_count: u32, data: &[u8], out: &mut impl PacketSink) {
        self.psi_before_pes(pts, out);
        let mut run = PcrRun {
            first: Pts90k::ZERO,
            step: 0,
            count: 0,
            cap: pts,
        };
        if self.audio_only {
            run.first = self.bridge_pcr(pts.saturating_sub(self.pcr_delay), out);
            run.step = self.cfg.pcr_interval.0;
            run.count = pcr_count;
            self.last_pcr = Some(run.value(run.count - 1));
        }
        let (n, placed) = write_audio_pes(out, self.audio_head, &mut self.cc_audio, pts, data, run);
        self.packets += n;
        // A PES with fewer packets than PCRs: the rest follow in PCR-only packets.
        for k in placed..run.count {
            self.write_pcr_only(run.value(k), out);
        }
    }

    /// [`Self::write_audio`] for a whole access unit (the pipeline's shape: several frames
    /// per call), with AVX2 moves when [`Self::wide_moves`]: a PES is mostly payload copies
    /// of 176–184 bytes, 12 SSE2 moves each in the baseline x86-64 build, 6 with AVX2. The
    /// single-frame path stays baseline (measured no faster with AVX2: its copies are
    /// `memcpy` calls into the pending buffer).
    #[inline(always)]
    fn write_audio_unit(
        &mut self,
        pts: Pts90k,
        pcr_count: u32,
        data: &[u8],
        out: &mut impl PacketSink,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.wide_moves {
            // SAFETY: `wide_moves` is only true where `wide_moves_available` detected AVX2 on
            // this CPU, which is what calling an `avx2` target-feature function requires.
            return unsafe { self.write_audio_avx2(pts, pcr_count, data, out) };
        }
        self.write_audio(pts, pcr_count, data, out)
    }

    /// [`Self::write_audio`] compiled for AVX2 (see [`wide_moves_available`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn write_audio_avx2(
        &mut self,
        pts: Pts90k,
        pcr_count: u32,
        data: &[u8],
        out: &mut impl PacketSink,
    ) {
        self.write_audio(pts, pcr_count, data, out)
    }

    /// PCRs an audio PES lasting `span.0 / span.1` ticks carries in an audio-only program:
    /// ⌈duration / pcr_interval⌉, at least 1, at most [`MAX_PCR_FILL`].
    fn pcr_count(&self, span: (u64, u64)) -> u32 {
        let per_pcr = self.cfg.pcr_interval.0 * span.1;
        span.0.div_ceil(per_pcr).clamp(1, MAX_PCR_FILL) as u32
    }

    /// For an access unit of `samples` at `SAMPLE_RATES[sri]`: whether it lasts at most
    /// `max_audio_pes` (one PES), and [`Self::pcr_count`] of its duration. The pipeline sends
    /// the same shape again and again: the last one is kept.
    #[inline(always)]
    fn au_shape(&mut self, samples: u64, sri: u8) -> (bool, u32) {
        let key = samples << 4 | sri as u64;
        if key != self.shape_key {
            // Duration: samples × 90 000 / rate.
            let span = (samples * HZ_90K, SAMPLE_RATES[sri as usize] as u64);
            self.shape = (
                fits_ticks(samples, sri, self.cfg.max_audio_pes),
                self.pcr_count(span),
            );
            self.shape_key = key;
        }
        self.shape
    }

    /// Appends one ADTS frame spanning `pts..end` to the pending PES, writing that PES first
    /// when the frame would make it too long.
    #[inline]
    fn add_audio_frame(
        &mut self,
        pts: Pts90k,
        end: Pts90k,
        frame: &[u8],
        out: &mut impl PacketSink,
    ) {
        if self.audio_len > 0
            && (end.saturating_sub(self.audio_pts) > self.cfg.max_audio_pes
                || self.audio_len + frame.len() > AUDIO_PES_MAX)
        {
            self.flush_audio(out);
        }
        if self.audio_len == 0 {
            self.audio_pts = pts;
        }
        self.audio_end = end;
        self.audio[self.audio_len..][..frame.len()].copy_from_slice(frame);
        self.audio_len += frame.len();
    }

    /// Writes the pending audio PES, if any (before a segment cut).
    #[inline]
    pub fn flush_audio(&mut self, out: &mut impl PacketSink) {
        if self.audio_len > 0 {
            self.write_pending_audio(out);
        }
    }

    /// Writes the pending audio PES (not empty).
    #[inline(never)]
    fn write_pending_audio(&mut self, out: &mut impl PacketSink) {
        if self.cfg.audio_pid.is_none() {
            return;
        }
        // Lend the buffer out for the write (an empty boxed slice does not allocate).
        let buf = std::mem::take(&mut self.audio);
        let count = self.pcr_count((self.audio_end.saturating_sub(self.audio_pts).0, 1));
        self.write_audio(self.audio_pts, count, &buf[..self.audio_len], out);
        self.audio = buf;
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

/// The 6 PCR bytes of an adaptation field (§2.4.3.5: 33-bit base, 6 reserved bits, 9-bit
/// extension), as [`AdaptationField::emit`] writes them.
#[inline]
fn pcr_field(pcr: Pts90k) -> [u8; 6] {
    // A 90 kHz time is a 27 MHz one with extension 0 and base = the time itself.
    let v = (pcr.wire33() << 15) | (0x3F << 9);
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

#[cfg(test)]
#[path = "mux_audio_only_tests.rs"]
mod audio_only_tests;

#[cfg(test)]
#[path = "mux_tests.rs"]
mod tests;
