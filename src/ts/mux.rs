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
use std::num::NonZeroU64;

use super::packet::{
    emit_stuffed_body, fill_stuffing, AdaptationField, Header, BODY_LEN, PACKET_LEN, PID_NULL,
    PID_PAT, SYNC_BYTE,
};
use super::pes::{PesHeader, MAX_PES_PACKET_LENGTH, STREAM_ID_AUDIO, STREAM_ID_VIDEO};
use super::psi::{EsRepr, PatRepr, PmtRepr, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264};
use crate::codec::adts::{AdtsFrames, AdtsHeader, SAMPLES_PER_BLOCK, SAMPLE_RATES};
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

/// What [`scan_adts`] found in an access unit. 16 bytes with a niche (`samples` is never 0),
/// so `Option<AdtsScan>` comes back in two registers rather than through memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AdtsScan {
    /// Samples per channel in all frames.
    samples: NonZeroU64,
    /// `frame_length` of the first frame (13 bits).
    first_len: u16,
    /// `sampling_frequency_index` of the first frame (below `SAMPLE_RATES.len()`).
    first_sri: u8,
    /// Raw data blocks of the first frame (1..=4).
    first_blocks: u8,
    /// `sampling_frequency_index` of the last frame.
    last_sri: u8,
}

impl AdtsScan {
    /// `samples` is at least one frame's 1024: `None` only for a count of 0, which no scan
    /// produces.
    #[inline(always)]
    fn new(
        samples: u64,
        first_len: usize,
        first_sri: u8,
        first_blocks: u8,
        last_sri: u8,
    ) -> Option<Self> {
        Some(AdtsScan {
            samples: NonZeroU64::new(samples)?,
            first_len: first_len as u16,
            first_sri,
            first_blocks,
            last_sri,
        })
    }
}

/// Header bits a frame must share with the first frame of its access unit for the fast walk
/// of [`scan_adts`] (as bits of the header's first 8 bytes read big-endian): syncword, ID,
/// layer, protection_absent, profile, sampling_frequency_index, channel_configuration, and
/// number_of_raw_data_blocks_in_frame (so the samples are frames × the first's).
const ADTS_FIXED_MASK: u64 = 0xFFFF_FDC0_0000_0300;

/// Checks that `data` is a run of complete ADTS frames: the checks of [`AdtsHeader::parse`]
/// and [`AdtsFrames`], with the same verdict and result as [`scan_adts_general`].
///
/// The first header is checked in full from one 8-byte big-endian load; every later header
/// is one 8-byte load, one masked compare with the first (the fields in
/// [`ADTS_FIXED_MASK`], which make it valid when the first is) and its `frame_length`
/// checked against the bytes left. Anything else (a frame that differs in those fields, a
/// bad length, a last frame shorter than 8 bytes, an access unit shorter than 8 bytes) goes
/// to [`scan_adts_general`], which decides.
#[inline(always)]
fn scan_adts(data: &[u8]) -> Option<AdtsScan> {
    let Some(h) = data.first_chunk::<8>() else {
        return scan_adts_general(data);
    };
    let first = u64::from_be_bytes(*h);
    let sri = (first >> 42) as u8 & 0x0F;
    // 7, or 9 with a CRC (protection_absent = 0).
    let header_len = 9 - 2 * ((first >> 48) as usize & 1);
    let first_len = (first >> 21) as usize & 0x1FFF;
    // The header's first 22 bits: syncword (21..10), ID, layer (8..7), protection_absent,
    // profile, sampling_frequency_index (3..0). Syncword all ones, layer 0 and index ≤ 12 in
    // one compare: index + 3 carries into bit 4 (masked to 0) exactly when the index is ≥ 13.
    const { assert!(SAMPLE_RATES.len() == 13) };
    let top = (first >> 42) as u32;
    if ((top & 0x3F_FD8F) + 3) & 0x3F_FD90 != 0x3F_FC00
        || first_len < header_len
        || first_len > data.len()
    {
        return scan_adts_general(data);
    }
    let mut rest = &data[first_len..];
    let mut frames = 1;
    while let Some(h) = rest.first_chunk::<8>() {
        let y = u64::from_be_bytes(*h);
        let len = (y >> 21) as usize & 0x1FFF;
        if (y ^ first) & ADTS_FIXED_MASK != 0 || len < header_len || len > rest.len() {
            return scan_adts_general(data);
        }
        frames += 1;
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return scan_adts_general(data);
    }
    let blocks = ((first >> 8) & 0x03) as u8 + 1;
    let samples = frames * blocks as u64 * SAMPLES_PER_BLOCK as u64;
    AdtsScan::new(samples, first_len, sri, blocks, sri)
}

/// [`scan_adts`] for any access unit, through [`AdtsHeader::parse`] and [`AdtsFrames`]: each
/// header checked on its own (frames may differ in rate or channels). The cold path: the fast
/// walk sends only what it cannot decide here.
#[inline(never)]
fn scan_adts_general(data: &[u8]) -> Option<AdtsScan> {
    let first = AdtsHeader::parse(data).ok()?;
    let mut samples = 0;
    let mut last_sri = 0;
    for r in AdtsFrames::new(data) {
        let (h, _) = r.ok()?;
        samples += h.samples() as u64;
        last_sri = h.sample_rate_index;
    }
    AdtsScan::new(
        samples,
        first.frame_length,
        first.sample_rate_index,
        first.blocks,
        last_sri,
    )
}

/// Whether `samples` at `SAMPLE_RATES[sri]` last at most `max` (`samples × 90 000 / rate ≤
/// max`, without the division).
#[inline]
fn fits_ticks(samples: u64, sri: u8, max: Pts90k) -> bool {
    samples * HZ_90K < (max.0 + 1) * SAMPLE_RATES[sri as usize] as u64
}

/// `samples × 90 000 / rate` for the sample rate of `h`.
fn samples_to_ticks(samples: u64, h: &AdtsHeader) -> u64 {
    samples * HZ_90K / h.sample_rate as u64
}

/// 90 kHz ticks of an ADTS frame of 1..=4 raw data blocks, per `sampling_frequency_index`:
/// a table lookup instead of a division for the usual one-frame access unit.
const FRAME_TICKS: [[u64; 4]; SAMPLE_RATES.len()] = {
    let mut t = [[0; 4]; SAMPLE_RATES.len()];
    let mut i = 0;
    while i < SAMPLE_RATES.len() {
        let mut b = 0;
        while b < 4 {
            t[i][b] = (b as u64 + 1) * SAMPLES_PER_BLOCK as u64 * HZ_90K / SAMPLE_RATES[i] as u64;
            b += 1;
        }
        i += 1;
    }
    t
};

/// Ticks of an ADTS frame of `blocks` (1..=4) raw data blocks at `SAMPLE_RATES[sri]`
/// (`sri` below `SAMPLE_RATES.len()`).
#[inline(always)]
fn frame_ticks(sri: u8, blocks: u8) -> u64 {
    FRAME_TICKS[sri as usize][blocks as usize - 1]
}

/// Splits a packet slot into its 4 header bytes and 184 following bytes.
#[inline(always)]
fn split_slot(slot: &mut [u8; PACKET_LEN]) -> (&mut [u8; 4], &mut [u8; BODY_LEN]) {
    let (head, body) = slot.split_at_mut(4);
    // Cannot fail: 188 = 4 + 184.
    (head.try_into().unwrap(), body.try_into().unwrap())
}

/// A read position in a PES payload: a few short `prefix` slices, then one contiguous `body`
/// (the bulk of the access unit, or the pending audio).
struct Gather<'a> {
    prefix: &'a [&'a [u8]],
    /// Offset in `prefix[0]`.
    off: usize,
    /// The part of the body not yet read.
    body: &'a [u8],
}

impl<'a> Gather<'a> {
    fn new(prefix: &'a [&'a [u8]], body: &'a [u8]) -> Self {
        Gather {
            prefix,
            off: 0,
            body,
        }
    }

    /// Bytes not yet read.
    fn len(&self) -> usize {
        self.prefix.iter().map(|p| p.len()).sum::<usize>() - self.off + self.body.len()
    }

    /// Fills `dst` from the current position. Panics if fewer bytes remain.
    fn fill(&mut self, mut dst: &mut [u8]) {
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
    fn fill_body(&mut self, dst: &mut [u8; BODY_LEN]) {
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
struct PcrRun {
    first: Pts90k,
    step: u64,
    count: u32,
    cap: Pts90k,
}

impl PcrRun {
    /// The `k`-th value.
    #[inline(always)]
    fn value(&self, k: u32) -> Pts90k {
        Pts90k(self.first.0 + k as u64 * self.step).min(self.cap)
    }
}

/// An adaptation field of exactly a PCR: length 7, `PCR_flag`, the 6 PCR bytes.
#[inline(always)]
fn pcr_adaptation(pcr: Pts90k) -> [u8; 8] {
    let f = pcr_field(pcr);
    [7, 0x10, f[0], f[1], f[2], f[3], f[4], f[5]]
}

/// Length of an audio PES header (PTS only).
const AUDIO_PES_HEADER_LEN: usize = 14;

/// The header of an audio PES with `payload_len` (at most [`AUDIO_PES_MAX`]) bytes: the bytes
/// [`PesHeader::emit`] writes for stream_id 0xC0 and a PTS only, built in registers.
#[inline(always)]
fn audio_pes_header(pts: Pts90k, payload_len: usize) -> [u8; AUDIO_PES_HEADER_LEN] {
    let (a, b) = audio_pes_header_words(pts, payload_len);
    let mut h = [0; AUDIO_PES_HEADER_LEN];
    h[..8].copy_from_slice(&a.to_be_bytes());
    h[6..].copy_from_slice(&b.to_be_bytes());
    h
}

/// [`audio_pes_header`] as two big-endian words for two 8-byte stores: bytes 0..8, and
/// bytes 6..14 (bytes 6 and 7, the flags, are in both).
#[inline(always)]
fn audio_pes_header_words(pts: Pts90k, payload_len: usize) -> (u64, u64) {
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
fn copy_fixed<const N: usize>(dst: &mut [u8], src: &[u8; N]) {
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
fn audio_head(base: u32, pusi: bool, af: bool, cc: u8) -> [u8; 4] {
    (base | (pusi as u32) << 14 | (0x10 | (af as u32) << 5 | cc as u32) << 24).to_le_bytes()
}

/// The bytes of a packet header on `pid` without flags or counter, as the little-endian
/// `u32` [`audio_head`] completes (the same bytes as [`Header::to_bytes`]).
#[inline(always)]
fn audio_head_base(pid: u16) -> u32 {
    u32::from_le_bytes([SYNC_BYTE, (pid >> 8) as u8 & 0x1F, pid as u8, 0])
}

/// Whether this CPU has AVX2 (x86_64, detected at run time: the build targets baseline
/// x86-64, SSE2 only). Off x86_64 there is one build: aarch64's NEON moves of 16 bytes go in
/// `ldp`/`stp` pairs already.
fn wide_moves_available() -> bool {
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
fn write_audio_pes(
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
fn write_audio_first_slow<'a>(
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
fn write_pes(
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

#[cfg(test)]
#[path = "mux_audio_only_tests.rs"]
mod audio_only_tests;

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
            assert!(
                AdtsHeader::parse(&good[..bad]).is_err() || checked_scan(&good[..bad]).is_none()
            );
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
}
