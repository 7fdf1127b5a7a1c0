//! `[record]`: continuous recording of the live segments to a disk (DESIGN §1b, the output
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

/// The allowed `[record] mode` names.
pub(crate) const RECORD_MODES: &[&str] = &["off", "continuous"];

/// What is recorded (`[record] mode`). `"events"` (recording around motion events, with
/// pre-roll) is a later step and refused until it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    /// No recording.
    #[default]
    Off,
    /// Every segment, in chunks of `chunk_minutes`.
    Continuous,
}

impl RecordMode {
    /// The lowercase name used in the TOML file.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordMode::Off => "off",
            RecordMode::Continuous => "continuous",
        }
    }
    /// The mode whose TOML name is `s`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "off" => Some(RecordMode::Off),
            "continuous" => Some(RecordMode::Continuous),
            _ => None,
        }
    }
}

/// `[record]`: where and how segments are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordSettings {
    /// Off or continuous.
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
        }
    }
}

impl RecordSettings {
    /// Whether anything is recorded.
    pub fn enabled(&self) -> bool {
        self.mode != RecordMode::Off
    }
}
