//! The master playlist (RFC 8216 §4.3.4.2; Apple's authoring spec §2, §8): one
//! `EXT-X-STREAM-INF` per rendition, from the figures each rendition's mux thread measures.
//!
//! - `BANDWIDTH` is the peak segment bit rate (every byte of a segment, container included,
//!   over its EXTINF duration) of the segments the rendition's live window holds now, rounded
//!   up; `AVERAGE-BANDWIDTH` is the mean over the same segments. So both follow what the
//!   encoder really makes, not what it was asked for.
//! - `CODECS` comes from the SPS of the rendition's first IDR (`avc1.PPCCLL`, RFC 6381) and
//!   the AAC object type (`mp4a.40.2`); `RESOLUTION` and `FRAME-RATE` from its pictures.
//! - The playlist is offered only once every rendition still running has published a segment
//!   (before that [`Master::render`] says so and the server answers 503): a master that names
//!   a rendition with no media, or guesses its figures, would be untruthful.
//! - A rendition that stops (dropped when the encoders cannot keep up) leaves the playlist.
//!
//! Renditions are listed in configuration order (the top one first, which players start on),
//! the audio-only one last. The text is rendered on request (a few hundred bytes); the mux
//! threads only update counters under a mutex held for a few instructions, without allocating.

use std::fmt::Write as _;
use std::sync::Mutex;

use crate::codec::h264::NalIter;
use crate::codec::sps::{CodecString, Sps};
use crate::time::{Pts90k, HZ_90K};

/// Segments whose bit rate [`RenditionInfo`] remembers (the longest live window).
pub const METER_SEGMENTS: usize = super::MAX_WINDOW;

/// What one rendition is, as the master playlist describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionSpec {
    /// Its name (`/api/status`, logs).
    pub name: String,
    /// Its media playlist, relative to the master (`live.m3u8`, `v/360p/live.m3u8`).
    pub uri: String,
    /// Frame rate; `None` for the audio-only rendition. (The picture size comes from the
    /// SPS: a camera may deliver less than a variant asks for.)
    pub video: Option<u32>,
    /// The audio codec string (`mp4a.40.2`) when the rendition carries audio.
    pub audio_codec: Option<&'static str>,
}

#[derive(Debug)]
struct Meter {
    /// (bits, duration in 90 kHz ticks) of the last segments, a ring.
    segments: [(u64, u64); METER_SEGMENTS],
    next: usize,
    len: usize,
    window: usize,
    /// The codec string and picture size of the first SPS.
    codec: Option<(CodecString, u32, u32)>,
    stopped: bool,
}

/// One rendition's figures, updated by its mux thread and read by the HTTP server.
#[derive(Debug)]
pub struct RenditionInfo {
    /// What it is.
    pub spec: RenditionSpec,
    meter: Mutex<Meter>,
}

impl RenditionInfo {
    /// A rendition whose live window holds `window` segments.
    pub fn new(spec: RenditionSpec, window: usize) -> Self {
        RenditionInfo {
            spec,
            meter: Mutex::new(Meter {
                segments: [(0, 0); METER_SEGMENTS],
                next: 0,
                len: 0,
                window: window.clamp(1, METER_SEGMENTS),
                codec: None,
                stopped: false,
            }),
        }
    }

    fn meter(&self) -> std::sync::MutexGuard<'_, Meter> {
        self.meter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A video access unit was muxed: an IDR's SPS gives the codec string (once).
    pub fn video_au(&self, data: &[u8], key: bool) {
        if !key {
            return;
        }
        let mut m = self.meter();
        if m.codec.is_some() {
            return;
        }
        m.codec = NalIter::new(data)
            .find_map(|nal| Sps::parse(nal.bytes).ok())
            .map(|s| (s.codec_string(), s.width, s.height));
    }

    /// A segment of `bytes` lasting `duration` was published.
    pub fn segment(&self, bytes: u64, duration: Pts90k) {
        if duration.0 == 0 {
            return;
        }
        let mut m = self.meter();
        let (i, w) = (m.next, m.window);
        m.segments[i] = (bytes * 8, duration.0);
        m.next = (i + 1) % w;
        m.len = (m.len + 1).min(w);
    }

    /// The rendition has stopped for good: it leaves the master playlist.
    pub fn stop(&self) {
        self.meter().stopped = true;
    }

    /// Whether the rendition still runs.
    pub fn running(&self) -> bool {
        !self.meter().stopped
    }

    /// (peak, average) segment bit rate over the window, bits/s rounded up; `None` before the
    /// first segment.
    pub fn bandwidth(&self) -> Option<(u64, u64)> {
        let m = self.meter();
        let segs = &m.segments[..m.len];
        if segs.is_empty() {
            return None;
        }
        let rate = |bits: u64, ticks: u64| (bits * HZ_90K).div_ceil(ticks.max(1));
        let peak = segs.iter().map(|&(b, t)| rate(b, t)).max().unwrap_or(0);
        let (bits, ticks) = segs
            .iter()
            .fold((0, 0), |(b, t), &(sb, st)| (b + sb, t + st));
        Some((peak, rate(bits, ticks)))
    }

    /// The H.264 codec string and picture size, once an IDR has been seen.
    pub fn video_codec(&self) -> Option<(CodecString, u32, u32)> {
        self.meter().codec
    }
}

/// The renditions of a stream, top first.
#[derive(Debug, Default)]
pub struct Master {
    /// Every rendition, in master-playlist order.
    pub renditions: Vec<std::sync::Arc<RenditionInfo>>,
}

/// Why there is no master playlist to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterError {
    /// This rendition has not published a segment yet.
    Waiting(String),
    /// Every rendition has stopped.
    NoRendition,
}

impl Master {
    /// The master playlist text.
    pub fn render(&self) -> Result<String, MasterError> {
        let mut out = String::with_capacity(256 + 160 * self.renditions.len());
        out.push_str("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        let mut listed = 0;
        for r in self.renditions.iter().filter(|r| r.running()) {
            let waiting = || MasterError::Waiting(r.spec.name.clone());
            let (peak, avg) = r.bandwidth().ok_or_else(waiting)?;
            let mut codecs = String::new();
            let mut picture = None;
            if let Some(fps) = r.spec.video {
                let (codec, w, h) = r.video_codec().ok_or_else(waiting)?;
                codecs.push_str(codec.as_str());
                picture = Some((w, h, fps));
            }
            if let Some(a) = r.spec.audio_codec {
                if !codecs.is_empty() {
                    codecs.push(',');
                }
                codecs.push_str(a);
            }
            let _ = write!(
                out,
                "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={avg},CODECS=\"{codecs}\""
            );
            if let Some((w, h, fps)) = picture {
                let _ = write!(out, ",RESOLUTION={w}x{h},FRAME-RATE={fps}.000");
            }
            let _ = writeln!(out, "\n{}", r.spec.uri);
            listed += 1;
        }
        if listed == 0 {
            return Err(MasterError::NoRendition);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn spec(name: &str, video: Option<u32>) -> RenditionSpec {
        RenditionSpec {
            name: name.into(),
            uri: format!("v/{name}/live.m3u8"),
            video,
            audio_codec: Some("mp4a.40.2"),
        }
    }

    /// An IDR access unit with a Constrained Baseline level 3.0 SPS (640x360).
    const IDR_AU: &[u8] = &[
        0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5,
        0xC0, 0x44, 0, 0, 3, 0, 4, 0, 0, 3, 0, 0xF2, 0x3C, 0x58, 0xBA, 0x80, 0, 0, 0, 1, 0x65,
        0x88, 0x84,
    ];

    #[test]
    fn bandwidth_is_the_window_peak_and_mean_rounded_up() {
        let r = RenditionInfo::new(spec("a", Some(30)), 3);
        assert_eq!(r.bandwidth(), None);
        r.segment(100_000, Pts90k(2 * HZ_90K)); // 400 000 bit/s
        r.segment(50_001, Pts90k(HZ_90K)); // 400 008 bit/s
        assert_eq!(r.bandwidth(), Some((400_008, 400_003)));
        // Two more push the first out of the 3-segment window.
        r.segment(10_000, Pts90k(HZ_90K));
        r.segment(10_000, Pts90k(HZ_90K));
        assert_eq!(r.bandwidth(), Some((400_008, 186_670)));
    }

    #[test]
    fn master_waits_for_every_running_rendition_then_lists_them() {
        let top = Arc::new(RenditionInfo::new(spec("top", Some(30)), 6));
        let audio = Arc::new(RenditionInfo::new(spec("audio", None), 6));
        let m = Master {
            renditions: vec![top.clone(), audio.clone()],
        };
        assert_eq!(m.render(), Err(MasterError::Waiting("top".into())));
        top.segment(125_000, Pts90k(HZ_90K));
        assert_eq!(m.render(), Err(MasterError::Waiting("top".into())));
        top.video_au(IDR_AU, false);
        assert_eq!(top.video_codec(), None);
        top.video_au(IDR_AU, true);
        let (codec, w, h) = top.video_codec().unwrap();
        assert_eq!((codec.as_str(), w, h), ("avc1.42C01E", 640, 360));
        assert_eq!(m.render(), Err(MasterError::Waiting("audio".into())));
        audio.segment(12_000, Pts90k(HZ_90K));
        let text = m.render().unwrap();
        assert_eq!(
            text,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=1000000,\
             CODECS=\"avc1.42C01E,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=30.000\n\
             v/top/live.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=96000,AVERAGE-BANDWIDTH=96000,CODECS=\"mp4a.40.2\"\n\
             v/audio/live.m3u8\n"
        );
        audio.stop();
        assert!(!m.render().unwrap().contains("v/audio/"));
        top.stop();
        assert_eq!(m.render(), Err(MasterError::NoRendition));
    }
}
