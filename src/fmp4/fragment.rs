//! The stateful fragment writer: samples in, one `moof` + `mdat` per [`Fmp4Muxer::fragment`]
//! out (ISO/IEC 14496-12 §8.8 movie fragments, §8.8.12 `tfdt`, §8.8.8 `trun`).
//!
//! # Contract
//! * [`Fmp4Muxer::new`] performs every allocation: the per-fragment sample tables, the video
//!   and audio payload buffers and the `moof` scratch, all fixed ([`MuxerLimits`]).
//!   `push_*` and `fragment` never allocate; a sample that does not fit is refused with a
//!   `*Full` error (write a fragment, then push it again) and a refused sample leaves the muxer
//!   as it was.
//! * Video (`push_video`): the Annex B access unit is copied once, as AVCC (each NAL unit
//!   behind a 4-byte big-endian length, ISO/IEC 14496-15 §5.3.2), without its AUD, SPS and PPS
//!   NAL units (the parameter sets live in the init segment's `avcC`). Timestamps are 90 kHz;
//!   DTS must increase. Sample durations are the differences of consecutive DTS; the last
//!   sample's duration is `video_end_dts − its DTS`, so the caller passes the next access
//!   unit's DTS (or the segment end) to `fragment`. Composition offsets `pts − dts` go into a
//!   version 1 (signed) `trun`. Sample flags: sync samples `sample_depends_on = 2`
//!   (0x02000000), others `depends_on = 1` + `is_non_sync_sample` (0x01010000).
//! * Audio (`push_audio`): whole ADTS frames, one raw data block each (1024 samples); the
//!   headers are stripped and the raw AAC stored. The audio decode time is a sample counter in
//!   the track's timescale (the sample rate), started from the first audio PTS and then
//!   advanced by 1024 per frame, never re-derived from later PTS: `tfdt` is continuous by
//!   construction (a drift between the audio clock and the PTS is the caller's concern).
//! * Timeline: without [`Fmp4Muxer::set_timeline`], the video `tfdt` is the caller's DTS as
//!   given. [`Fmp4Muxer::next_decode_times`] gives the decode times the next fragment of each
//!   track starts at; a caller persists them and hands them to `set_timeline` after a restart,
//!   after which the first video sample pushed is mapped to the saved video time (later DTS
//!   keep their distance from it) and audio continues the saved counter. The two tracks are
//!   mapped independently: give both values, and expect the new run's first video and audio
//!   samples to land on the saved times whatever their PTS distance (an A/V offset at the
//!   restart of up to one frame; a caller that cares signals a discontinuity).
//! * Output per fragment: `moof` (`mfhd` with a sequence number from 1, one `traf` per track
//!   with samples: `tfhd` default-base-is-moof, `tfdt` v1, `trun` with `data_offset`), then one
//!   `mdat` holding the video samples then the audio samples.

use super::boxes::BoxWriter;
use super::init::AudioParams;
use super::{ByteSink, Fmp4Error, AUDIO_TRACK_ID, VIDEO_TIMESCALE, VIDEO_TRACK_ID};
use crate::codec::adts::{AdtsFrames, SAMPLES_PER_BLOCK};
use crate::codec::h264::{NalIter, NAL_AUD, NAL_PPS, NAL_SPS};

/// `sample_flags` of a sync sample: `sample_depends_on` = 2 (does not depend on others).
pub const FLAGS_SYNC: u32 = 0x0200_0000;
/// `sample_flags` of any other sample: `sample_depends_on` = 1, `sample_is_non_sync_sample`.
pub const FLAGS_NON_SYNC: u32 = 0x0101_0000;
/// `tfhd` flag `default-base-is-moof` (data offsets count from the `moof`'s first byte).
pub const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data offset, then per sample duration, size, flags, composition offset.
pub const TRUN_DATA_OFFSET: u32 = 0x000001;
/// See [`TRUN_DATA_OFFSET`].
pub const TRUN_DURATION: u32 = 0x000100;
/// See [`TRUN_DATA_OFFSET`].
pub const TRUN_SIZE: u32 = 0x000200;
/// See [`TRUN_DATA_OFFSET`].
pub const TRUN_FLAGS: u32 = 0x000400;
/// See [`TRUN_DATA_OFFSET`].
pub const TRUN_CTO: u32 = 0x000800;

/// Fixed `moof` bytes: `moof` + `mfhd` headers.
const MOOF_FIXED: usize = 8 + 16;
/// Fixed bytes of one `traf`: its header, `tfhd` (track ID only), `tfdt` v1, `trun` header
/// with `sample_count` and `data_offset`.
const TRAF_FIXED: usize = 8 + 16 + 20 + 20;

/// The fixed capacities of one fragment, chosen at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxerLimits {
    /// Most video samples (access units) in one fragment.
    pub max_video_samples: usize,
    /// Most audio samples (AAC frames) in one fragment.
    pub max_audio_samples: usize,
    /// Bytes of video payload (AVCC) one fragment holds.
    pub video_bytes: usize,
    /// Bytes of raw AAC one fragment holds.
    pub audio_bytes: usize,
}

impl Default for MuxerLimits {
    /// 10 s at 30 fps and 13.6 s of 48 kHz audio; 2 MiB of video, 256 KiB of audio.
    fn default() -> Self {
        MuxerLimits {
            max_video_samples: 300,
            max_audio_samples: 640,
            video_bytes: 2 << 20,
            audio_bytes: 256 << 10,
        }
    }
}

impl MuxerLimits {
    /// The largest `moof` these limits allow, in bytes.
    pub const fn moof_capacity(&self) -> usize {
        MOOF_FIXED + 2 * TRAF_FIXED + 16 * self.max_video_samples + 8 * self.max_audio_samples
    }
}

/// The decode times (in each track's timescale) at which the next fragment of each track
/// starts; `None` while not known yet (no sample seen and none set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Video, 90 kHz.
    pub video: Option<u64>,
    /// Audio, in samples at the audio sample rate.
    pub audio: Option<u64>,
}

/// One video sample of the fragment being gathered.
#[derive(Debug, Clone, Copy, Default)]
struct VideoSample {
    /// Decode time on the track timeline (after the timeline mapping).
    dts: u64,
    size: u32,
    cto: i32,
    key: bool,
}

/// Gathers samples and writes fragments (see the module docs).
#[derive(Debug)]
pub struct Fmp4Muxer {
    audio: Option<AudioParams>,
    video: Box<[VideoSample]>,
    n_video: usize,
    video_data: Box<[u8]>,
    video_len: usize,
    audio_sizes: Box<[u32]>,
    n_audio: usize,
    audio_data: Box<[u8]>,
    audio_len: usize,
    moof: Box<[u8]>,
    /// `mfhd.sequence_number` of the next fragment.
    seq: u32,
    /// Added to the caller's DTS to give the track decode time; fixed by the first video
    /// sample after construction or `set_timeline`.
    video_offset: Option<i128>,
    /// Decode time the first video sample after `set_timeline` is mapped to.
    video_base: Option<u64>,
    /// Decode time the next video fragment starts at (end of the last one written).
    video_next: Option<u64>,
    /// Decode time of the first audio sample of the fragment being gathered.
    audio_next: Option<u64>,
}

impl Fmp4Muxer {
    /// A muxer for a video track and, when `audio` is given, an audio track (the parameters
    /// of [`super::write_init`]); every buffer is allocated here, sized by `limits`.
    pub fn new(audio: Option<AudioParams>, limits: MuxerLimits) -> Self {
        let audio_samples = if audio.is_some() {
            limits.max_audio_samples
        } else {
            0
        };
        Fmp4Muxer {
            audio,
            video: vec![VideoSample::default(); limits.max_video_samples].into_boxed_slice(),
            n_video: 0,
            video_data: vec![0; limits.video_bytes].into_boxed_slice(),
            video_len: 0,
            audio_sizes: vec![0; audio_samples].into_boxed_slice(),
            n_audio: 0,
            audio_data: vec![
                0;
                if audio.is_some() {
                    limits.audio_bytes
                } else {
                    0
                }
            ]
            .into_boxed_slice(),
            audio_len: 0,
            moof: vec![0; limits.moof_capacity()].into_boxed_slice(),
            seq: 1,
            video_offset: None,
            video_base: None,
            video_next: None,
            audio_next: None,
        }
    }

    /// Video samples waiting for the next fragment.
    pub fn video_samples(&self) -> usize {
        self.n_video
    }

    /// Audio samples waiting for the next fragment.
    pub fn audio_samples(&self) -> usize {
        self.n_audio
    }

    /// The `mfhd.sequence_number` the next fragment gets (1 for the first).
    pub fn sequence_number(&self) -> u32 {
        self.seq
    }

    /// Sets the sequence number of the next fragment (continuing a previous run's).
    pub fn set_sequence_number(&mut self, seq: u32) {
        self.seq = seq;
    }

    /// The decode times the next fragment of each track starts at: the first waiting sample's,
    /// else the end of the last fragment written (or what [`set_timeline`](Self::set_timeline)
    /// set). Samples not yet written are lost on a restart, so these are the values to persist.
    pub fn next_decode_times(&self) -> Timeline {
        let video = match self.n_video {
            0 => self.video_next.or(self.video_base),
            _ => Some(self.video[0].dts),
        };
        Timeline {
            video,
            audio: self.audio_next,
        }
    }

    /// Continues a saved timeline (from [`next_decode_times`](Self::next_decode_times)): the
    /// next video sample pushed gets decode time `t.video` (later ones keep their DTS distance
    /// from it), the next audio sample `t.audio`. `None` leaves a track's timeline as it is.
    /// Refused with [`Fmp4Error::Timestamp`] while samples wait for a fragment.
    pub fn set_timeline(&mut self, t: Timeline) -> Result<(), Fmp4Error> {
        if self.n_video > 0 || self.n_audio > 0 {
            return Err(Fmp4Error::Timestamp);
        }
        if let Some(v) = t.video {
            self.video_base = Some(v);
            self.video_offset = None;
            self.video_next = Some(v);
        }
        if let Some(a) = t.audio {
            self.audio_next = Some(a);
        }
        Ok(())
    }

    /// Adds one video access unit (Annex B, start codes included) with its 90 kHz PTS and DTS;
    /// `keyframe` marks a sync sample (an IDR).
    pub fn push_video(
        &mut self,
        annexb_au: &[u8],
        pts90k: u64,
        dts90k: u64,
        keyframe: bool,
    ) -> Result<(), Fmp4Error> {
        if self.n_video == self.video.len() {
            return Err(Fmp4Error::VideoSamplesFull);
        }
        let kept = |t: u8| !matches!(t, NAL_AUD | NAL_SPS | NAL_PPS);
        let size: usize = NalIter::new(annexb_au)
            .filter(|n| kept(n.nal_type))
            .map(|n| 4 + n.bytes.len())
            .sum();
        if size == 0 {
            return Err(Fmp4Error::EmptyAccessUnit);
        }
        let end = self.video_len + size;
        if end > self.video_data.len() {
            return Err(Fmp4Error::VideoDataFull);
        }
        let size = u32::try_from(size).map_err(|_| Fmp4Error::VideoDataFull)?;
        let cto = i32::try_from(i128::from(pts90k) - i128::from(dts90k))
            .map_err(|_| Fmp4Error::Timestamp)?;
        let offset = self.video_offset.unwrap_or_else(|| match self.video_base {
            Some(base) => i128::from(base) - i128::from(dts90k),
            None => 0,
        });
        let dts = u64::try_from(i128::from(dts90k) + offset).map_err(|_| Fmp4Error::Timestamp)?;
        let floor = match self.n_video {
            0 => self.video_next,
            n => Some(self.video[n - 1].dts + 1),
        };
        if floor.is_some_and(|f| dts < f) {
            return Err(Fmp4Error::Timestamp);
        }
        self.video_offset = Some(offset);
        self.video_base = None;
        let mut at = self.video_len;
        for nal in NalIter::new(annexb_au).filter(|n| kept(n.nal_type)) {
            let n = nal.bytes.len();
            self.video_data[at..at + 4].copy_from_slice(&(n as u32).to_be_bytes());
            self.video_data[at + 4..at + 4 + n].copy_from_slice(nal.bytes);
            at += 4 + n;
        }
        self.video_len = end;
        self.video[self.n_video] = VideoSample {
            dts,
            size,
            cto,
            key: keyframe,
        };
        self.n_video += 1;
        Ok(())
    }

    /// Adds the ADTS frames in `adts_frames` (one or more, whole) as audio samples; `pts90k`
    /// is the first frame's PTS, used only to start the audio timeline. Returns the frames
    /// added. Every frame must match the track's parameters and carry one raw data block.
    pub fn push_audio(&mut self, adts_frames: &[u8], pts90k: u64) -> Result<usize, Fmp4Error> {
        let params = self.audio.ok_or(Fmp4Error::NoAudioTrack)?;
        let (mut frames, mut bytes) = (0, 0);
        for r in AdtsFrames::new(adts_frames) {
            let (h, _) = r?;
            if h.blocks != 1
                || h.sample_rate != params.sample_rate
                || h.channels != params.channels
                || h.profile + 1 != params.object_type
            {
                return Err(Fmp4Error::AdtsMismatch);
            }
            frames += 1;
            bytes += h.frame_length - h.header_len;
        }
        if frames == 0 {
            return Ok(0);
        }
        if self.n_audio + frames > self.audio_sizes.len() {
            return Err(Fmp4Error::AudioSamplesFull);
        }
        if self.audio_len + bytes > self.audio_data.len() {
            return Err(Fmp4Error::AudioDataFull);
        }
        if self.audio_next.is_none() {
            let rate = u128::from(params.sample_rate);
            let t = (u128::from(pts90k) * rate + u128::from(VIDEO_TIMESCALE / 2))
                / u128::from(VIDEO_TIMESCALE);
            self.audio_next = Some(t as u64);
        }
        // Checked above: every frame is whole and valid.
        for (h, frame) in AdtsFrames::new(adts_frames).flatten() {
            let raw = &frame[h.header_len..];
            self.audio_data[self.audio_len..self.audio_len + raw.len()].copy_from_slice(raw);
            self.audio_len += raw.len();
            self.audio_sizes[self.n_audio] = raw.len() as u32;
            self.n_audio += 1;
        }
        Ok(frames)
    }

    /// Writes the waiting samples as one `moof` + `mdat` into `sink` and empties the tables;
    /// returns the bytes written (0, and nothing written, when no sample waits).
    /// `video_end_dts90k` is the DTS (caller's timeline) where the last video sample ends:
    /// the next access unit's DTS; it must be after the last sample's DTS (ignored when no
    /// video sample waits).
    pub fn fragment(
        &mut self,
        video_end_dts90k: u64,
        sink: &mut dyn ByteSink,
    ) -> Result<usize, Fmp4Error> {
        if self.n_video == 0 && self.n_audio == 0 {
            return Ok(0);
        }
        let video = &self.video[..self.n_video];
        let video_end = match (video.last(), self.video_offset) {
            (Some(last), Some(off)) => {
                let end = u64::try_from(i128::from(video_end_dts90k) + off)
                    .map_err(|_| Fmp4Error::Timestamp)?;
                if end <= last.dts {
                    return Err(Fmp4Error::Timestamp);
                }
                let durations = video.windows(2).map(|w| w[1].dts - w[0].dts);
                if durations
                    .chain([end - last.dts])
                    .any(|d| d > u64::from(u32::MAX))
                {
                    return Err(Fmp4Error::Timestamp);
                }
                Some(end)
            }
            _ => None,
        };
        let audio_start = self.audio_next.unwrap_or(0);
        let mdat_payload = (self.video_len + self.audio_len) as u64;
        let mdat_header = if mdat_payload + 8 > u64::from(u32::MAX) {
            16
        } else {
            8
        };

        let mut w = BoxWriter::new(&mut self.moof);
        let moof = w.begin(b"moof");
        let mfhd = w.begin_full(b"mfhd", 0, 0);
        w.u32(self.seq);
        w.end(mfhd);
        let mut video_offset_at = None;
        if let (Some(first), Some(end)) = (video.first(), video_end) {
            let traf = begin_traf(&mut w, VIDEO_TRACK_ID, first.dts);
            let flags = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | TRUN_CTO;
            let trun = w.begin_full(b"trun", 1, flags);
            w.u32(video.len() as u32);
            video_offset_at = Some(w.len());
            w.u32(0);
            for (i, s) in video.iter().enumerate() {
                let next = video.get(i + 1).map_or(end, |n| n.dts);
                w.u32((next - s.dts) as u32);
                w.u32(s.size);
                w.u32(if s.key { FLAGS_SYNC } else { FLAGS_NON_SYNC });
                w.i32(s.cto);
            }
            w.end(trun);
            w.end(traf);
        }
        let mut audio_offset_at = None;
        if self.n_audio > 0 {
            let traf = begin_traf(&mut w, AUDIO_TRACK_ID, audio_start);
            let trun = w.begin_full(b"trun", 0, TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE);
            w.u32(self.n_audio as u32);
            audio_offset_at = Some(w.len());
            w.u32(0);
            for &size in &self.audio_sizes[..self.n_audio] {
                w.u32(SAMPLES_PER_BLOCK);
                w.u32(size);
            }
            w.end(trun);
            w.end(traf);
        }
        w.end(moof);
        let data_start = (w.len() + mdat_header) as u64;
        let video_data_offset = data_start;
        let audio_data_offset = data_start + self.video_len as u64;
        for (at, v) in [
            (video_offset_at, video_data_offset),
            (audio_offset_at, audio_data_offset),
        ] {
            if let Some(at) = at {
                let v = u32::try_from(v).map_err(|_| Fmp4Error::VideoDataFull)?;
                w.patch_u32(at, v);
            }
        }
        let moof = w.finish()?;

        sink.put(moof);
        let mut header = [0u8; 16];
        let total = if mdat_header == 8 {
            header[..4].copy_from_slice(&((mdat_payload + 8) as u32).to_be_bytes());
            header[4..8].copy_from_slice(b"mdat");
            mdat_payload + 8
        } else {
            header[..4].copy_from_slice(&1u32.to_be_bytes());
            header[4..8].copy_from_slice(b"mdat");
            header[8..].copy_from_slice(&(mdat_payload + 16).to_be_bytes());
            mdat_payload + 16
        };
        sink.put(&header[..mdat_header]);
        sink.put(&self.video_data[..self.video_len]);
        sink.put(&self.audio_data[..self.audio_len]);
        let written = moof.len() + total as usize;

        self.seq = self.seq.wrapping_add(1);
        if video_end.is_some() {
            self.video_next = video_end;
        }
        if self.n_audio > 0 {
            self.audio_next =
                Some(audio_start + self.n_audio as u64 * u64::from(SAMPLES_PER_BLOCK));
        }
        self.n_video = 0;
        self.video_len = 0;
        self.n_audio = 0;
        self.audio_len = 0;
        Ok(written)
    }
}

/// Starts a `traf` with its `tfhd` (default-base-is-moof) and `tfdt` (version 1); returns the
/// `traf` start.
fn begin_traf(w: &mut BoxWriter<'_>, track_id: u32, decode_time: u64) -> usize {
    let traf = w.begin(b"traf");
    let tfhd = w.begin_full(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
    w.u32(track_id);
    w.end(tfhd);
    let tfdt = w.begin_full(b"tfdt", 1, 0);
    w.u64(decode_time);
    w.end(tfdt);
    traf
}

#[cfg(test)]
#[path = "fragment_tests.rs"]
mod tests;
