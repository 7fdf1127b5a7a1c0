//! Per-target figures of a publisher, shared by its upload thread (writer), the mux thread
//! (queue depth, skips) and `/api/status` (reader). Counters are relaxed atomics; the last
//! error is a short string behind a mutex the frame path never takes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::stats::LatencyHistogram;

/// Live figures of one `[[publish]]` target.
#[derive(Debug)]
pub struct TargetStatus {
    /// `http` or `s3`.
    pub kind: &'static str,
    /// The target (URL, or bucket and prefix at the endpoint); no credentials.
    pub target: String,
    /// Objects written (segments, init segments, playlists).
    pub uploaded: AtomicU64,
    /// Requests that failed (each attempt counts).
    pub failed: AtomicU64,
    /// Segments never published on the origin (queue full, origin too slow or down, buffer
    /// too small).
    pub skipped: AtomicU64,
    /// Retired segments deleted from the origin.
    pub deleted: AtomicU64,
    /// Segments waiting for the upload thread.
    pub queue_depth: AtomicU64,
    /// How far the origin is behind the local stream now, ms: the age of the segment being
    /// uploaded, or the last segment's upload lag when idle.
    pub lag_ms: AtomicU64,
    /// Bytes sent to the origin (request heads and bodies).
    pub bytes_sent: AtomicU64,
    /// Segment bytes the origin acknowledged.
    pub media_bytes: AtomicU64,
    /// Time from a segment's local publication to the origin playlist naming it.
    pub lag: LatencyHistogram,
    last_error: Mutex<String>,
}

/// A copy of one target's figures, as `/api/status` serves it (`"publish": [...]`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetSnapshot {
    /// `http` or `s3`.
    pub kind: &'static str,
    /// The target.
    pub target: String,
    /// Objects written.
    pub uploaded: u64,
    /// Failed requests.
    pub failed: u64,
    /// Segments skipped.
    pub skipped: u64,
    /// Retired segments deleted.
    pub deleted: u64,
    /// Segments waiting.
    pub queue_depth: u64,
    /// Lag behind the local stream now, ms.
    pub lag_ms: u64,
    /// Median publication lag (local playlist → origin playlist), ms.
    pub lag_p50_ms: f64,
    /// 99th percentile of the same, ms.
    pub lag_p99_ms: f64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Segment bytes acknowledged.
    pub media_bytes: u64,
    /// The last error ("" when none yet).
    pub last_error: String,
}

impl TargetStatus {
    /// All zero.
    pub fn new(kind: &'static str, target: String) -> Self {
        TargetStatus {
            kind,
            target,
            uploaded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            lag_ms: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            media_bytes: AtomicU64::new(0),
            lag: LatencyHistogram::new(),
            last_error: Mutex::new(String::new()),
        }
    }

    /// Records the last error (upload thread only).
    pub fn set_error(&self, e: &str) {
        let mut l = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        l.clear();
        l.push_str(e);
    }

    /// Records one segment's publication lag.
    pub fn record_lag(&self, d: Duration) {
        self.lag.record(d);
        self.lag_ms
            .store(d.as_millis().min(u64::MAX as u128) as u64, Relaxed);
    }

    /// The figures now.
    pub fn snapshot(&self) -> TargetSnapshot {
        TargetSnapshot {
            kind: self.kind,
            target: self.target.clone(),
            uploaded: self.uploaded.load(Relaxed),
            failed: self.failed.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            deleted: self.deleted.load(Relaxed),
            queue_depth: self.queue_depth.load(Relaxed),
            lag_ms: self.lag_ms.load(Relaxed),
            lag_p50_ms: self.lag.quantile_ms(0.5),
            lag_p99_ms: self.lag.quantile_ms(0.99),
            bytes_sent: self.bytes_sent.load(Relaxed),
            media_bytes: self.media_bytes.load(Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}
