//! `[record]`: continuous or event recording of the live segments to a disk (DESIGN §1b, the output
//! stage's recorder; §2 item 20, the write order). The keys live in the one key table
//! (`keys.rs`); this module holds the section's type, defaults and cross-field rules.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default `[record] mode`.
pub const DEFAULT_RECORD_MODE: RecordMode = RecordMode::Off;
/// Default `[record] dir`.
pub const DEFAULT_RECORD_DIR: &str = "/var/lib/hlscam/rec";
/// Default `[record] chunk_minutes`.
pub const DEFAULT_CHUNK_MINUTES: u32 = 5;
/// Default `[record] max_bytes` (0 = no limit).
pub const DEFAULT_MAX_BYTES: u64 = 0;
/// Default `[record] max_age_days` (0 = no limit).
pub const DEFAULT_MAX_AGE_DAYS: u32 = 0;
/// Default `[record] min_free_percent`.
pub const DEFAULT_MIN_FREE_PERCENT: u32 = 5;
/// Default `[record] fsync_seconds`.
pub const DEFAULT_FSYNC_SECONDS: u32 = 10;
/// Default `[record] pre_seconds`: footage kept from before an event.
pub const DEFAULT_PRE_SECONDS: u32 = 5;
/// Default `[record] post_seconds`: footage recorded after an event.
pub const DEFAULT_POST_SECONDS: u32 = 10;
/// Largest `[record] pre_seconds`: the largest live ring holds `hls.window` (≤ 60) ×
/// `hls.segment_seconds` (≤ 10) = 600 s; the configured ring is checked too
/// ([`RecordSettings::pre_roll_limit`]).
pub const MAX_PRE_SECONDS: u32 = 600;
/// Largest `[record] post_seconds` (and `post` of one event): an hour. Longer recordings are
/// what `POST /api/record/start` is for, and a bound keeps a stray request from arming the
/// recorder for days.
pub const MAX_POST_SECONDS: u32 = 3600;
/// Default `[record] clip_max_seconds`: the longest clip `GET /api/clip.mp4` exports.
pub const DEFAULT_CLIP_MAX_SECONDS: u32 = 600;
/// Largest `[record] clip_max_seconds`: an hour (a clip is remuxed on the request's
/// connection thread, twice: once to measure it, once to send it).
pub const MAX_CLIP_SECONDS: u32 = 3600;

/// The allowed `[record] mode` names.
pub(crate) const RECORD_MODES: &[&str] = &["off", "continuous", "events"];

/// What is recorded (`[record] mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    /// No recording.
    #[default]
    Off,
    /// Every segment, in chunks of `chunk_minutes`.
    Continuous,
    /// Only the segments inside an armed window: `pre_seconds` before to `post_seconds`
    /// after each `POST /api/events`, and from `POST /api/record/start` to `stop`.
    Events,
}

impl RecordMode {
    /// The lowercase name used in the TOML file.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordMode::Off => "off",
            RecordMode::Continuous => "continuous",
            RecordMode::Events => "events",
        }
    }
    /// The mode whose TOML name is `s`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "off" => Some(RecordMode::Off),
            "continuous" => Some(RecordMode::Continuous),
            "events" => Some(RecordMode::Events),
            _ => None,
        }
    }
}

/// `[record]`: where and how segments are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordSettings {
    /// Off, continuous or events.
    pub mode: RecordMode,
    /// The recordings directory (must exist; its parents are never created).
    pub dir: PathBuf,
    /// Minutes per chunk file, 1..=60.
    pub chunk_minutes: u32,
    /// Most bytes kept (0 = no limit); oldest chunks are deleted first.
    pub max_bytes: u64,
    /// Oldest recording kept, days (0 = no limit), 0..=3650.
    pub max_age_days: u32,
    /// Free space kept on the file system, percent, 0..=50.
    pub min_free_percent: u32,
    /// Longest time between two fsyncs, seconds, 1..=300 (the most a power cut can lose).
    pub fsync_seconds: u32,
    /// Seconds of footage before an event, taken from the live ring, 0..=[`MAX_PRE_SECONDS`]
    /// and at most what the ring holds ([`RecordSettings::pre_roll_limit`]).
    pub pre_seconds: u32,
    /// Seconds recorded after an event, 0..=[`MAX_POST_SECONDS`].
    pub post_seconds: u32,
    /// Longest clip `GET /api/clip.mp4` exports, seconds, 1..=[`MAX_CLIP_SECONDS`].
    pub clip_max_seconds: u32,
}

impl Default for RecordSettings {
    fn default() -> Self {
        RecordSettings {
            mode: DEFAULT_RECORD_MODE,
            dir: PathBuf::from(DEFAULT_RECORD_DIR),
            chunk_minutes: DEFAULT_CHUNK_MINUTES,
            max_bytes: DEFAULT_MAX_BYTES,
            max_age_days: DEFAULT_MAX_AGE_DAYS,
            min_free_percent: DEFAULT_MIN_FREE_PERCENT,
            fsync_seconds: DEFAULT_FSYNC_SECONDS,
            pre_seconds: DEFAULT_PRE_SECONDS,
            post_seconds: DEFAULT_POST_SECONDS,
            clip_max_seconds: DEFAULT_CLIP_MAX_SECONDS,
        }
    }
}

impl RecordSettings {
    /// Whether anything is recorded.
    pub fn enabled(&self) -> bool {
        self.mode != RecordMode::Off
    }

    /// The most pre-roll the live ring can give: the `window` segments of `segment_seconds`
    /// it lists (segments that left the window linger a little longer, but not reliably).
    pub fn pre_roll_limit(window: usize, segment_seconds: u32) -> u32 {
        (window as u32).saturating_mul(segment_seconds)
    }
}
