//! The container muxer behind the producer: MPEG-TS ([`TsMuxer`]) or fMP4/CMAF
//! ([`Fmp4Muxer`]) behind one interface, so [`super::HlsOutput`] cuts segments and parts the
//! same way for both.
//!
//! The producer calls, per segment: [`Muxer::segment_init`] with the segment's first access
//! unit (an IDR) before it opens the segment — fMP4 answers with a new initialisation segment
//! when the parameter sets changed (or none was written yet in this run); then
//! [`Muxer::begin_chunk`] at the start of the segment and of every part (TS: PAT + PMT, so a
//! part can start playback); the samples; and [`Muxer::end_chunk`] with the decode time
//! where the chunk ends, before a part or the segment is closed (TS: the pending audio PES;
//! fMP4: one `moof` + `mdat`). An fMP4 fragment is also cut after one second of video inside
//! a long part or a classic segment, so the fixed sample tables never fill.
//!
//! fMP4 timeline: `tfdt` starts at the first DTS, continues across parts and segments, and
//! after a discontinuity (source change) or a restart it continues from where the last
//! fragment ended ([`Fmp4Muxer::set_timeline`]), so decode times never go backwards even when
//! the capture clock does.

use heapless::Vec as HVec;

use super::HlsError;
use crate::codec::h264::{NalIter, NAL_PPS, NAL_SPS};
use crate::fmp4::{self, AudioParams, ByteSink, Fmp4Error, Fmp4Muxer, MuxerLimits, Timeline};
use crate::media::{AudioAu, VideoAu};
use crate::time::{Pts90k, HZ_90K};
use crate::ts::{MuxConfig, PacketSink, TsMuxer};

/// Longest SPS or PPS kept for the init segment.
const PARAM_SET_CAP: usize = 256;
/// Init segment scratch: ~700 bytes of boxes plus both parameter sets.
const INIT_CAP: usize = 2048;
/// Longest fMP4 fragment, in video media time.
const MAX_FRAGMENT: Pts90k = Pts90k(HZ_90K);

/// The output's container muxer (see the module docs).
#[derive(Debug)]
pub(super) enum Muxer {
    Ts(Box<TsMuxer>),
    Fmp4(Box<Fmp4Out>),
}

/// The fMP4 side: the fragment writer plus what the init segment needs.
#[derive(Debug)]
pub(super) struct Fmp4Out {
    mux: Fmp4Muxer,
    audio: Option<AudioParams>,
    sps: HVec<u8, PARAM_SET_CAP>,
    pps: HVec<u8, PARAM_SET_CAP>,
    init: Box<[u8]>,
    /// DTS (caller's timeline) of the open fragment's first video sample.
    frag_start: Option<Pts90k>,
    /// DTS of the last video sample pushed, and the distance to the one before it.
    last_dts: Option<Pts90k>,
    last_step: Pts90k,
}

/// What a sink both muxers write into provides.
pub(super) trait Sink: PacketSink + ByteSink {}
impl<T: PacketSink + ByteSink> Sink for T {}

impl Muxer {
    /// A TS muxer with `mux`, or an fMP4 one with an audio track when `audio` is given whose
    /// video decode time continues at `decode_end` (a previous run's, 0 for none).
    pub fn new(fmp4: bool, mux: MuxConfig, audio: Option<AudioParams>, decode_end: u64) -> Self {
        if !fmp4 {
            return Muxer::Ts(Box::new(TsMuxer::new(mux)));
        }
        let mut m = Fmp4Muxer::new(audio, MuxerLimits::default());
        if decode_end > 0 {
            // Cannot fail: nothing waits yet.
            let _ = m.set_timeline(timeline_at(decode_end, audio));
        }
        Muxer::Fmp4(Box::new(Fmp4Out {
            mux: m,
            audio,
            sps: HVec::new(),
            pps: HVec::new(),
            init: vec![0; INIT_CAP].into_boxed_slice(),
            frag_start: None,
            last_dts: None,
            last_step: Pts90k(HZ_90K / 30),
        }))
    }

    /// Before segment `au` begins (see the module docs): the bytes of a new initialisation
    /// segment when one is needed. An error means the segment cannot be decoded (no usable
    /// SPS/PPS) and must be dropped.
    pub fn segment_init(
        &mut self,
        au: &VideoAu,
        discontinuity: bool,
    ) -> Result<Option<&[u8]>, HlsError> {
        let Muxer::Fmp4(f) = self else {
            return Ok(None);
        };
        if discontinuity {
            let t = f.mux.next_decode_times();
            if t.video.is_some() {
                // Cannot fail: the previous segment's last fragment was written.
                let _ = f.mux.set_timeline(Timeline {
                    video: t.video,
                    audio: t.video.and_then(|v| timeline_at(v, f.audio).audio),
                });
            }
            f.last_dts = None;
        }
        let (mut sps, mut pps) = (None, None);
        for n in NalIter::new(au.data) {
            match n.nal_type {
                NAL_SPS => sps = Some(n.bytes),
                NAL_PPS => pps = Some(n.bytes),
                _ => {}
            }
        }
        let (Some(sps), Some(pps)) = (sps, pps) else {
            return if f.sps.is_empty() {
                Err(Fmp4Error::ParamSetLength.into())
            } else {
                Ok(None)
            };
        };
        if sps == &f.sps[..] && pps == &f.pps[..] {
            return Ok(None);
        }
        let params = fmp4::TrackParams {
            width: 0,
            height: 0,
            sps,
            pps,
            audio: f.audio,
            duration_ms: None,
        };
        let bytes = fmp4::write_init(&params, &mut f.init)?;
        f.sps.clear();
        f.pps.clear();
        f.sps
            .extend_from_slice(sps)
            .and_then(|()| f.pps.extend_from_slice(pps))
            .map_err(|_| Fmp4Error::ParamSetLength)?;
        Ok(Some(bytes))
    }

    /// The init segment [`Self::segment_init`] returned could not be stored: make the next
    /// segment try again.
    pub fn forget_init(&mut self) {
        if let Muxer::Fmp4(f) = self {
            f.sps.clear();
            f.pps.clear();
        }
    }

    /// A segment or part begins.
    pub fn begin_chunk(&mut self, out: &mut impl Sink) {
        if let Muxer::Ts(m) = self {
            m.write_psi(out);
        }
    }

    /// The open segment or part ends where the video sample with DTS `end` would begin.
    pub fn end_chunk(&mut self, end: Pts90k, out: &mut impl Sink) -> Result<(), HlsError> {
        match self {
            Muxer::Ts(m) => {
                m.flush_audio(out);
                Ok(())
            }
            Muxer::Fmp4(f) => f.fragment(end, out),
        }
    }

    /// Where the last video sample ends (its DTS plus the last frame distance), for a chunk
    /// closed without a following frame.
    pub fn video_end(&self, fallback: Pts90k) -> Pts90k {
        match self {
            Muxer::Fmp4(f) => f
                .last_dts
                .map_or(fallback, |d| fallback.max(d + f.last_step)),
            Muxer::Ts(_) => fallback,
        }
    }

    pub fn push_video(&mut self, au: &VideoAu, out: &mut impl Sink) -> Result<(), HlsError> {
        match self {
            Muxer::Ts(m) => Ok(m.push_video(au, out)?),
            Muxer::Fmp4(f) => {
                if f.frag_start
                    .is_some_and(|s| au.dts.saturating_sub(s) >= MAX_FRAGMENT)
                {
                    f.fragment(au.dts, out)?;
                }
                let push = |f: &mut Fmp4Out| f.mux.push_video(au.data, au.pts.0, au.dts.0, au.key);
                match push(f) {
                    Err(Fmp4Error::VideoSamplesFull | Fmp4Error::VideoDataFull)
                        if f.mux.video_samples() > 0 =>
                    {
                        f.fragment(au.dts, out)?;
                        push(f)?;
                    }
                    r => r?,
                }
                if let Some(last) = f.last_dts {
                    f.last_step = au.dts.saturating_sub(last).max(Pts90k(1));
                }
                f.last_dts = Some(au.dts);
                f.frag_start.get_or_insert(au.dts);
                Ok(())
            }
        }
    }

    pub fn push_audio(&mut self, au: &AudioAu, out: &mut impl Sink) -> Result<(), HlsError> {
        match self {
            Muxer::Ts(m) => Ok(m.push_audio(au, out)?),
            Muxer::Fmp4(f) => match f.mux.push_audio(au.data, au.pts.0) {
                Ok(_) => Ok(()),
                Err(Fmp4Error::NoAudioTrack) => Ok(()),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// TS packets written (0 for fMP4).
    pub fn packets_written(&self) -> u64 {
        match self {
            Muxer::Ts(m) => m.packets_written(),
            Muxer::Fmp4(_) => 0,
        }
    }

    /// fMP4: the video decode time the next fragment starts at (to persist for a restart).
    pub fn decode_end(&self) -> Option<u64> {
        match self {
            Muxer::Fmp4(f) => f.mux.next_decode_times().video,
            Muxer::Ts(_) => None,
        }
    }
}

impl Fmp4Out {
    fn fragment(&mut self, end: Pts90k, out: &mut impl Sink) -> Result<(), HlsError> {
        self.frag_start = None;
        self.mux.fragment(end.0, out)?;
        Ok(())
    }
}

/// The timeline that puts video at `video` (90 kHz) and audio at the same instant.
fn timeline_at(video: u64, audio: Option<AudioParams>) -> Timeline {
    Timeline {
        video: Some(video),
        audio: audio.map(|a| (u128::from(video) * u128::from(a.sample_rate) / 90_000) as u64),
    }
}
