//! Counters shared by the pipeline threads and read by `/api/status` and the periodic log line.
//!
//! Every counter is an atomic, so the frame path only does relaxed adds: no locks, no allocation.
//! The names of the source and encoder in use change rarely (start, fallback) and sit behind a
//! mutex that the frame path never touches.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::hls::master::RenditionInfo;
use crate::publish::status::{TargetSnapshot, TargetStatus};
use crate::record::{RecordSnapshot, RecordStatus};

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
    /// Switches from a failed hardware encoder to the software one.
    pub encoder_fallbacks: AtomicU64,
    /// Capture-to-downloadable latency of every published video frame.
    pub latency: LatencyHistogram,
    names: Mutex<Names>,
    /// The `[[publish]]` targets' figures (registered once at start).
    publish: Mutex<Vec<Arc<TargetStatus>>>,
    /// The recorder's figures, when `[record]` is on.
    record: Mutex<Option<Arc<RecordStatus>>>,
    /// The renditions (adaptive bitrate), top first: master-playlist figures and counters.
    renditions: Mutex<Vec<(Arc<RenditionInfo>, Arc<Stats>)>>,
}

/// One rendition's figures in `/api/status`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RenditionSnapshot {
    /// Its name (`[[variant]] name`, or `audio`).
    pub name: String,
    /// Its media playlist, relative to `/`.
    pub uri: String,
    /// False once it was stopped because the encoders could not keep up with every rendition.
    pub running: bool,
    /// Picture size from its SPS (`None`: audio only, or no picture yet).
    pub width: Option<u32>,
    /// See `width`.
    pub height: Option<u32>,
    /// Frame rate (`None`: audio only).
    pub fps: Option<u32>,
    /// The master playlist's `CODECS`, once known.
    pub codecs: Option<String>,
    /// Peak segment bit rate over the live window (the master's `BANDWIDTH`), bit/s.
    pub bandwidth: Option<u64>,
    /// Mean segment bit rate over the live window (`AVERAGE-BANDWIDTH`), bit/s.
    pub average_bandwidth: Option<u64>,
    /// Pictures encoded.
    pub frames_out: u64,
    /// Pictures (or audio batches) dropped because its encoder or muxer was behind.
    pub drops: u64,
    /// Segments published.
    pub segments: u64,
    /// Mean encode time per picture, ms.
    pub encode_ms_per_frame: f64,
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
    /// Switches from a failed hardware encoder to the software one.
    pub encoder_fallbacks: u64,
    /// Mean capture/convert (or test pattern) time per raw frame, microseconds.
    pub capture_us_per_frame: f64,
    /// Mean video encode time per encoded frame, microseconds.
    pub encode_us_per_frame: f64,
    /// AAC encode time per encoded video frame (same denominator as the others), microseconds.
    pub aac_us_per_frame: f64,
    /// Mux and segmentation time (publishing excluded) per encoded video frame, microseconds.
    pub mux_us_per_frame: f64,
    /// Publishing time (segment rename, playlist, state file, ring deletions) per encoded
    /// video frame, microseconds.
    pub publish_us_per_frame: f64,
    /// Video frames whose capture-to-downloadable latency was recorded.
    pub latency_frames: u64,
    /// Median time from a frame's capture to its segment being listed in the playlist, ms
    /// (upper edge of its histogram bucket; 0 before the first segment).
    pub latency_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub latency_p99_ms: f64,
    /// Largest recorded latency, ms (upper edge of its bucket).
    pub latency_max_ms: f64,
    /// One entry per `[[publish]]` target: uploaded, failed, queue depth, lag, last error.
    pub publish: Vec<TargetSnapshot>,
    /// The renditions, top first (one entry per `[[variant]]`, plus the audio-only one; a
    /// single entry without `[[variant]]`).
    pub renditions: Vec<RenditionSnapshot>,
    /// The recorder (state, bytes, segments, chunks, fsyncs, errors); absent when off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordSnapshot>,
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
            encoder_fallbacks: AtomicU64::new(0),
            latency: LatencyHistogram::new(),
            names: Mutex::new(Names::default()),
            publish: Mutex::new(Vec::new()),
            record: Mutex::new(None),
            renditions: Mutex::new(Vec::new()),
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

    /// Registers the recorder's figures.
    pub fn set_record(&self, r: Arc<RecordStatus>) {
        *self.record.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    }

    /// Adds a rendition's figures to the snapshot (`stats`: its own counters, or these for
    /// the first rendition).
    pub fn add_rendition(&self, info: Arc<RenditionInfo>, stats: Arc<Stats>) {
        self.renditions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((info, stats));
    }

    /// Mean encode time per picture out, ms (two decimals; 0 before the first).
    fn encode_ms_per_frame(&self) -> f64 {
        let frames = self.frames_out.load(Relaxed);
        if frames == 0 {
            return 0.0;
        }
        (self.encode_ns.load(Relaxed) as f64 / frames as f64 / 1e4).round() / 100.0
    }

    fn rendition_snapshots(&self) -> Vec<RenditionSnapshot> {
        let list = self.renditions.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .map(|(info, st)| {
                let codec = info.video_codec();
                let bw = info.bandwidth();
                let frames = st.frames_out.load(Relaxed);
                let mut codecs: Vec<&str> = codec.iter().map(|c| c.0.as_str()).collect();
                codecs.extend(info.spec.audio_codec);
                RenditionSnapshot {
                    name: info.spec.name.clone(),
                    uri: info.spec.uri.clone(),
                    running: info.running(),
                    width: codec.map(|c| c.1),
                    height: codec.map(|c| c.2),
                    fps: info.spec.video,
                    codecs: (!codecs.is_empty()).then(|| codecs.join(",")),
                    bandwidth: bw.map(|b| b.0),
                    average_bandwidth: bw.map(|b| b.1),
                    frames_out: frames,
                    drops: st.drops.load(Relaxed),
                    segments: st.segments.load(Relaxed),
                    encode_ms_per_frame: st.encode_ms_per_frame(),
                }
            })
            .collect()
    }

    /// Adds a publish target's figures to the snapshot.
    pub fn add_publish_target(&self, t: Arc<TargetStatus>) {
        self.publish
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(t);
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
            encode_ms_per_frame: self.encode_ms_per_frame(),
            restarts: self.restarts.load(Relaxed),
            encoder_fallbacks: self.encoder_fallbacks.load(Relaxed),
            capture_us_per_frame: per_frame_us(&self.capture_ns, self.frames_in.load(Relaxed)),
            encode_us_per_frame: per_frame_us(&self.encode_ns, frames_out),
            aac_us_per_frame: per_frame_us(&self.aac_ns, frames_out),
            mux_us_per_frame: per_frame_us(&self.mux_ns, frames_out),
            publish_us_per_frame: per_frame_us(&self.publish_ns, frames_out),
            latency_frames: self.latency.count(),
            latency_p50_ms: self.latency.quantile_ms(0.50),
            latency_p99_ms: self.latency.quantile_ms(0.99),
            latency_max_ms: self.latency.quantile_ms(1.0),
            publish: self
                .publish
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|t| t.snapshot())
                .collect(),
            renditions: self.rendition_snapshots(),
            record: self
                .record
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|r| r.snapshot()),
        }
    }

    /// One line with the cost of each stage per frame and its share of the total, and the
    /// latency figures: `stages: capture 812 µs/frame (14.2 %), encode … ; latency p50 … ms`.
    pub fn stage_summary(&self) -> String {
        let s = self.snapshot();
        let parts = [
            ("capture", s.capture_us_per_frame),
            ("encode", s.encode_us_per_frame),
            ("aac", s.aac_us_per_frame),
            ("mux", s.mux_us_per_frame),
            ("publish", s.publish_us_per_frame),
        ];
        let total: f64 = parts.iter().map(|p| p.1).sum::<f64>().max(1e-9);
        let mut line = String::from("stages:");
        for (i, (name, us)) in parts.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            line.push_str(&format!(
                "{sep}{name} {us:.1} µs/frame ({:.1} %)",
                us * 100.0 / total
            ));
        }
        line.push_str(&format!(
            "; total {total:.1} µs/frame over {} frames; latency capture→downloadable \
             p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} frames)",
            s.frames_out, s.latency_p50_ms, s.latency_p99_ms, s.latency_max_ms, s.latency_frames
        ));
        line
    }
}

fn per_frame_us(ns: &AtomicU64, frames: u64) -> f64 {
    if frames == 0 {
        return 0.0;
    }
    (ns.load(Relaxed) as f64 / frames as f64 / 100.0).round() / 10.0
}

/// Latency buckets of 1 ms below this many milliseconds.
const FINE_MS: u64 = 4096;
/// Width of the coarse buckets above [`FINE_MS`], ms.
const COARSE_STEP_MS: u64 = 64;
/// Coarse buckets (4.096 s to 20.48 s); anything later lands in the last, overflow bucket.
const COARSE: usize = 256;
const BUCKETS: usize = FINE_MS as usize + COARSE + 1;

/// A fixed histogram of latencies: 1 ms buckets up to 4.096 s, 64 ms buckets up to 20.48 s, one
/// overflow bucket. Recording is one relaxed atomic add (no lock, no allocation); quantiles are
/// read by scanning the buckets and reported as the bucket's upper edge (never optimistic).
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// Empty; allocates its buckets once, here.
    pub fn new() -> Self {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }

    /// Records one latency.
    pub fn record(&self, latency: Duration) {
        let ms = latency.as_millis().min(u64::MAX as u128) as u64;
        let i = if ms < FINE_MS {
            ms as usize
        } else {
            (FINE_MS as usize + ((ms - FINE_MS) / COARSE_STEP_MS) as usize).min(BUCKETS - 1)
        };
        self.buckets[i].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// The `q` quantile (0..=1) in milliseconds, as the upper edge of the bucket holding it;
    /// 0 when nothing was recorded. The overflow bucket reports its lower edge (20480 ms).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= rank {
                return bucket_upper_ms(i) as f64;
            }
        }
        bucket_upper_ms(BUCKETS - 1) as f64
    }
}

fn bucket_upper_ms(i: usize) -> u64 {
    if i < FINE_MS as usize {
        i as u64 + 1
    } else if i < BUCKETS - 1 {
        FINE_MS + (i as u64 - FINE_MS + 1) * COARSE_STEP_MS
    } else {
        FINE_MS + COARSE as u64 * COARSE_STEP_MS
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
        assert!(json.contains("\"latency_p99_ms\":0.0"));
    }

    #[test]
    fn stage_figures_per_frame() {
        let s = Stats::new();
        Stats::add(&s.frames_in, 10);
        Stats::add(&s.frames_out, 10);
        Stats::add(&s.capture_ns, 10 * 1_000_000);
        Stats::add(&s.encode_ns, 10 * 3_000_000);
        Stats::add(&s.aac_ns, 10 * 500_000);
        Stats::add(&s.mux_ns, 10 * 400_000);
        Stats::add(&s.publish_ns, 10 * 100_000);
        let snap = s.snapshot();
        assert_eq!(snap.capture_us_per_frame, 1000.0);
        assert_eq!(snap.encode_us_per_frame, 3000.0);
        assert_eq!(snap.aac_us_per_frame, 500.0);
        assert_eq!(snap.mux_us_per_frame, 400.0);
        assert_eq!(snap.publish_us_per_frame, 100.0);
        let line = s.stage_summary();
        assert!(line.starts_with("stages: capture 1000.0 µs/frame (20.0 %), encode 3000.0"));
        assert!(line.contains("publish 100.0 µs/frame (2.0 %)"), "{line}");
    }

    #[test]
    fn latency_quantiles_from_buckets() {
        let h = LatencyHistogram::new();
        assert_eq!(h.quantile_ms(0.5), 0.0);
        // 98 frames at 1.5 s .. 1.597 s, one at 2.05 s, one at 9 s.
        for i in 0..98u64 {
            h.record(Duration::from_millis(1500 + i));
        }
        h.record(Duration::from_millis(2050));
        h.record(Duration::from_millis(9000));
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_ms(0.5), 1550.0);
        assert_eq!(h.quantile_ms(0.99), 2051.0);
        // 9000 ms lies in the coarse bucket 8960..9024.
        assert_eq!(h.quantile_ms(1.0), 9024.0);
        h.record(Duration::from_secs(3600));
        assert_eq!(h.quantile_ms(1.0), 20480.0);
    }
}
