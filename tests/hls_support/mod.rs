//! Shared helpers of the `hls_*` integration tests: synthetic H.264-like access units and ADTS
//! frames, built into buffers allocated once, and a driver that interleaves them by timestamp.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hlscam::codec::adts::write_adts_header;
use hlscam::hls::{HlsError, HlsOutput, Published, SegmentStore};
use hlscam::media::{AudioAu, VideoAu};
use hlscam::time::Pts90k;

/// Audio frame duration at 48 kHz: 1024 samples = 1920 ticks.
pub const AAC_TICKS: u64 = 1920;

/// 2026-01-01T00:00:00Z.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

/// Fills `buf` with an Annex B access unit: AUD, then SPS + PPS + IDR slice when `key`, else a
/// non-IDR slice; `size` bytes of dummy slice payload (no start-code emulation).
pub fn make_video_au(buf: &mut Vec<u8>, key: bool, size: usize, tag: u8) {
    make_video_au_at_level(buf, key, size, tag, 0x1E);
}

/// [`make_video_au`] with the SPS's `level_idc` (a parameter-set change when it changes).
pub fn make_video_au_at_level(buf: &mut Vec<u8>, key: bool, size: usize, tag: u8, level: u8) {
    buf.clear();
    buf.extend_from_slice(&[0, 0, 0, 1, 0x09, 0xF0]);
    if key {
        buf.extend_from_slice(&[
            0, 0, 0, 1, 0x67, 0x42, 0xC0, level, 0xDA, 0x02, 0x80, 0xBF, 0xE5,
        ]);
        buf.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xCE, 0x3C, 0x80]);
        buf.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88, 0x84]);
    } else {
        buf.extend_from_slice(&[0, 0, 0, 1, 0x41, 0x9A, 0x02]);
    }
    let fill = 0xA5 ^ tag | 0x01;
    buf.resize(buf.len() + size, fill);
}

/// Fills `buf` with one ADTS frame (AAC LC, 48 kHz, mono) with `payload` dummy bytes.
pub fn make_adts(buf: &mut Vec<u8>, payload: usize) {
    buf.clear();
    let mut h = [0u8; 7];
    write_adts_header(&mut h, 1, 3, 1, 7 + payload);
    buf.extend_from_slice(&h);
    buf.resize(7 + payload, 0x5A);
}

/// Drives an [`HlsOutput`] with synthetic media: fixed frame duration, an IDR every `gop` frames
/// (0 = only the first and the forced ones), audio interleaved by timestamp.
pub struct Synth {
    pub frame_ticks: u64,
    pub gop: u64,
    pub base: Pts90k,
    pub frame: u64,
    pub audio_k: u64,
    pub audio: bool,
    pub honour_keyframe_requests: bool,
    pub audio_errors: u64,
    /// `level_idc` of the SPS in IDR access units.
    pub level: u8,
    vbuf: Vec<u8>,
    abuf: Vec<u8>,
}

impl Synth {
    pub fn new(frame_ticks: u64, gop: u64) -> Self {
        Synth {
            frame_ticks,
            gop,
            base: Pts90k(90_000),
            frame: 0,
            audio_k: 0,
            audio: true,
            honour_keyframe_requests: true,
            audio_errors: 0,
            level: 0x1E,
            vbuf: Vec::with_capacity(64 * 1024),
            abuf: Vec::with_capacity(1024),
        }
    }

    /// PTS of video frame `i`.
    pub fn pts(&self, i: u64) -> Pts90k {
        self.base + Pts90k(i * self.frame_ticks)
    }

    /// Pushes the audio due before the next video frame, then that frame. `key` forces an IDR.
    pub fn step<S: SegmentStore>(
        &mut self,
        out: &mut HlsOutput<S>,
        key: bool,
    ) -> Result<Option<Published>, HlsError> {
        let pts = self.pts(self.frame);
        if self.audio {
            loop {
                let apts = self.base + Pts90k(self.audio_k * AAC_TICKS);
                if apts > pts {
                    break;
                }
                make_adts(&mut self.abuf, 180 + (self.audio_k % 7) as usize * 10);
                if out
                    .push_audio(&AudioAu {
                        data: &self.abuf,
                        pts: apts,
                    })
                    .is_err()
                {
                    self.audio_errors += 1;
                }
                self.audio_k += 1;
            }
        }
        let key = key
            || (self.gop > 0 && self.frame % self.gop == 0)
            || self.frame == 0
            || (self.honour_keyframe_requests && out.wants_keyframe());
        let size = if key {
            6000
        } else {
            900 + (self.frame % 13) as usize * 50
        };
        make_video_au_at_level(&mut self.vbuf, key, size, self.frame as u8, self.level);
        let wall = t0() + Pts90k(self.frame * self.frame_ticks).to_duration();
        let au = VideoAu {
            data: &self.vbuf,
            pts,
            dts: pts,
            key,
        };
        self.frame += 1;
        out.push_video(&au, wall)
    }

    /// Runs `n` frames, returning what was published; panics on errors.
    pub fn run<S: SegmentStore>(&mut self, out: &mut HlsOutput<S>, n: u64) -> Vec<Published> {
        let mut v = Vec::new();
        for _ in 0..n {
            if let Some(p) = self.step(out, false).expect("push_video") {
                v.push(p);
            }
        }
        assert_eq!(self.audio_errors, 0);
        v
    }
}

/// Segment names listed in a playlist, in order.
pub fn playlist_segments(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            l.strip_prefix("seg")
                .and_then(|r| r.strip_suffix(".ts"))
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("bad URI {l}"))
        })
        .collect()
}
