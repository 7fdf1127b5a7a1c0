//! Counters shared by the pipeline threads and read by `/api/status` and the periodic log line.
//!
//! Every counter is an atomic, so the frame path only does relaxed adds: no locks, no allocation.
//! The names of the source and encoder in use change rarely (start, fallback) and sit behind a
//! mutex that the frame path never touches.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Instant;

/// Live counters of one hlscam process.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    /// Raw video frames produced by the source.
    pub frames_in: AtomicU64,
    /// Video frames encoded.
    pub frames_out: AtomicU64,
    /// Raw frames dropped (encoder behind, or camera sequence gaps).
    pub drops: AtomicU64,
    /// Audio frames (AAC) encoded.
    pub audio_frames: AtomicU64,
    /// Encoded video bytes.
    pub video_bytes: AtomicU64,
    /// Encoded audio bytes.
    pub audio_bytes: AtomicU64,
    /// Total nanoseconds spent in the video encoder.
    pub encode_ns: AtomicU64,
    /// Total nanoseconds spent producing raw frames (capture/convert or test pattern).
    pub capture_ns: AtomicU64,
    /// Total nanoseconds spent in the AAC encoder.
    pub aac_ns: AtomicU64,
    /// Total nanoseconds spent muxing and segmenting.
    pub mux_ns: AtomicU64,
    /// Total nanoseconds spent publishing (rename, playlist write, ring cleanup).
    pub publish_ns: AtomicU64,
    /// Segments published.
    pub segments: AtomicU64,
    /// HTTP connections currently open.
    pub clients: AtomicU64,
    /// HTTP requests served.
    pub requests: AtomicU64,
    /// Source restarts / discontinuities.
    pub restarts: AtomicU64,
    names: Mutex<Names>,
}

#[derive(Debug, Clone, Default)]
struct Names {
    source: String,
    audio_source: String,
    encoder: String,
}

/// A copy of the counters at one moment, as served by `/api/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    /// Seconds since start.
    pub uptime_s: f64,
    /// Video source in use.
    pub source: String,
    /// Audio source in use.
    pub audio_source: String,
    /// Video encoder in use.
    pub encoder: String,
    /// Raw frames in.
    pub frames_in: u64,
    /// Encoded frames out.
    pub frames_out: u64,
    /// Average encoded frames per second since start.
    pub fps: f64,
    /// Raw frames dropped.
    pub drops: u64,
    /// Average bitrate (audio + video) since start, kbit/s.
    pub bitrate_kbps: f64,
    /// Segments published.
    pub segments: u64,
    /// Open HTTP connections.
    pub clients: u64,
    /// Mean encode time per frame, milliseconds.
    pub encode_ms_per_frame: f64,
    /// Source restarts.
    pub restarts: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// All zero, uptime starting now.
    pub fn new() -> Self {
        Stats {
            started: Instant::now(),
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            audio_frames: AtomicU64::new(0),
            video_bytes: AtomicU64::new(0),
            audio_bytes: AtomicU64::new(0),
            encode_ns: AtomicU64::new(0),
            capture_ns: AtomicU64::new(0),
            aac_ns: AtomicU64::new(0),
            mux_ns: AtomicU64::new(0),
            publish_ns: AtomicU64::new(0),
            segments: AtomicU64::new(0),
            clients: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            names: Mutex::new(Names::default()),
        }
    }

    /// Adds `n` to a counter (relaxed; for the frame path).
    #[inline]
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Records which sources and encoder are in use.
    pub fn set_names(&self, source: &str, audio_source: &str, encoder: &str) {
        let mut n = self.names.lock().unwrap_or_else(|e| e.into_inner());
        n.source = source.to_string();
        n.audio_source = audio_source.to_string();
        n.encoder = encoder.to_string();
    }

    /// Records a change of video encoder (e.g. a hardware fallback).
    pub fn set_encoder(&self, encoder: &str) {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).encoder = encoder.to_string();
    }

    /// Records a change of video source (e.g. camera lost, slate shown).
    pub fn set_source(&self, source: &str) {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).source = source.to_string();
    }

    /// Seconds since start.
    pub fn uptime_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let up = self.uptime_s().max(1e-9);
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let frames_out = self.frames_out.load(Relaxed);
        let bytes = self.video_bytes.load(Relaxed) + self.audio_bytes.load(Relaxed);
        Snapshot {
            uptime_s: (up * 1000.0).round() / 1000.0,
            source: names.source,
            audio_source: names.audio_source,
            encoder: names.encoder,
            frames_in: self.frames_in.load(Relaxed),
            frames_out,
            fps: ((frames_out as f64 / up) * 100.0).round() / 100.0,
            drops: self.drops.load(Relaxed),
            bitrate_kbps: ((bytes as f64 * 8.0 / 1000.0 / up) * 10.0).round() / 10.0,
            segments: self.segments.load(Relaxed),
            clients: self.clients.load(Relaxed),
            encode_ms_per_frame: if frames_out == 0 {
                0.0
            } else {
                (self.encode_ns.load(Relaxed) as f64 / frames_out as f64 / 1e4).round() / 100.0
            },
            restarts: self.restarts.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reflects_counters() {
        let s = Stats::new();
        Stats::add(&s.frames_out, 30);
        Stats::add(&s.encode_ns, 30 * 5_000_000);
        Stats::add(&s.drops, 2);
        s.set_names("testsrc", "tone", "openh264");
        let snap = s.snapshot();
        assert_eq!(snap.frames_out, 30);
        assert_eq!(snap.drops, 2);
        assert_eq!(snap.encoder, "openh264");
        assert!((snap.encode_ms_per_frame - 5.0).abs() < 1e-9);
        let json = serde_json::to_string(&snap).unwrap();
        assert!(json.contains("\"source\":\"testsrc\""));
    }
}
