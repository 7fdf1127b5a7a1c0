//! Configuration: the TOML file (`hlscam.toml`), its defaults and its validation.
//!
//! The file has six sections, `[video]`, `[audio]`, `[hls]`, `[http]`, `[log]` and `[record]`
//! ([`record`]), any number of `[[publish]]` tables (origins to push the stream to,
//! [`publish`]) and up to four `[[variant]]` tables (adaptive bitrate, [`variant`]); every key is
//! optional and takes the `DEFAULT_*` value below when missing. `hlscam.example.toml` at the top of
//! the repository lists every key with its default, its allowed values and what it does.
//!
//! A bad file is refused before anything starts, with one line naming the file, the key, the line
//! and column of the offending value, and what is allowed:
//!
//! ```text
//! hlscam.toml: video.fps = 0 at line 7, column 7: must be 1..=120
//! hlscam.toml: unknown key video.fpz at line 3, column 1: allowed keys in [video] are source, ...
//! ```
//!
//! [`Settings`] holds configuration only (the gst-plugins-rs split: settings apart from runtime
//! state). It derives `serde::Deserialize` with `deny_unknown_fields` and `default`, but
//! [`Settings::parse`] reads the file through its own span-keeping walk (`parse.rs`) so every
//! error carries a position; the key table in `keys.rs` is the single list of keys used for
//! reading, validating and writing ([`Settings::to_toml`]). Columns count characters, 1-based.

mod array;
mod keys;
mod parse;
pub mod publish;
pub mod record;
pub mod variant;

pub use publish::{PublishKind, PublishTarget};
pub use record::{RecordMode, RecordSettings, MAX_CLIP_SECONDS, MAX_POST_SECONDS, MAX_PRE_SECONDS};
pub use variant::{VariantSettings, AUDIO_ONLY_NAME, MAX_VARIANTS};

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::hls::Container;

/// Default `[video] source`.
pub const DEFAULT_VIDEO_SOURCE: VideoSourceKind = VideoSourceKind::Auto;
/// Default `[video] device`.
pub const DEFAULT_VIDEO_DEVICE: &str = "/dev/video0";
/// Default `[video] width` in pixels.
pub const DEFAULT_WIDTH: u32 = 1280;
/// Default `[video] height` in pixels.
pub const DEFAULT_HEIGHT: u32 = 720;
/// Default `[video] fps` (frames per second).
pub const DEFAULT_FPS: u32 = 30;
/// Default `[video] encoder`.
pub const DEFAULT_ENCODER: EncoderKind = EncoderKind::Auto;
/// Default `[video] bitrate_kbps`.
pub const DEFAULT_VIDEO_BITRATE_KBPS: u32 = 2000;
/// Default `[video] threads` (0 = let the encoder choose).
pub const DEFAULT_THREADS: u32 = 0;
/// Default `[audio] source`.
pub const DEFAULT_AUDIO_SOURCE: AudioSourceKind = AudioSourceKind::Auto;
/// Default `[audio] device` (an ALSA PCM name).
pub const DEFAULT_AUDIO_DEVICE: &str = "default";
/// Default `[audio] sample_rate` in Hz.
pub const DEFAULT_SAMPLE_RATE: u32 = 48000;
/// Default `[audio] channels`.
pub const DEFAULT_CHANNELS: u16 = 1;
/// Default `[audio] bitrate_kbps`.
pub const DEFAULT_AUDIO_BITRATE_KBPS: u32 = 96;
/// Default `[hls] dir`, the segment ring directory (ideally on tmpfs).
pub const DEFAULT_HLS_DIR: &str = "/tmp/hlscam";
/// Default `[hls] segment_seconds`.
pub const DEFAULT_SEGMENT_SECONDS: u32 = 2;
/// Default `[hls] window` (segments listed in the live playlist).
pub const DEFAULT_WINDOW: usize = 6;
/// Default `[hls] low_latency`: LL-HLS parts (backward compatible: players that ignore the
/// tags play whole segments).
pub const DEFAULT_LOW_LATENCY: bool = true;
/// Default `[hls] part_ms` (rounded to whole frames).
pub const DEFAULT_PART_MS: u32 = 200;
/// Default `[hls] container`: fMP4 with LL-HLS, MPEG-TS for classic HLS (see
/// [`ContainerSetting::resolve`]).
pub const DEFAULT_CONTAINER: ContainerSetting = ContainerSetting::Auto;
/// Default `[hls] state_file`; empty means `<dir>/.hlscam-state`.
pub const DEFAULT_STATE_FILE: &str = "";
/// Default `[hls] audio_only`: an audio-only rendition beside the `[[variant]]`s.
pub const DEFAULT_AUDIO_ONLY: bool = true;
/// File name of the state file inside `[hls] dir` when `state_file` is empty.
pub const STATE_FILE_NAME: &str = ".hlscam-state";
/// Default `[http] listen` address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Default `[http] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default `[http] timeout_seconds`.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 10;
/// Default `[log] level`.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Allowed `[audio] sample_rate` values: the AAC-LC rates fdk-aac encodes.
pub const SAMPLE_RATES: [u32; 7] = [8000, 16000, 22050, 24000, 32000, 44100, 48000];
/// Allowed `[log] level` values, quietest first.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

macro_rules! kind_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vm])* $var),+
        }
        impl $name {
            /// Every variant, in the order the documentation lists them.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The lowercase name used in the TOML file.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
            /// The variant whose TOML name is `s` (exact, lowercase).
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

kind_enum! {
    /// Where video comes from (`[video] source`).
    VideoSourceKind {
        /// Probe: the V4L2 camera at `device` if it answers, else the first usable camera, else a CSI
        /// camera through `rpicam-vid`, else the test pattern.
        #[default]
        Auto = "auto",
        /// A V4L2 capture device (`[video] device`).
        V4l2 = "v4l2",
        /// `rpicam-vid` on a Raspberry Pi CSI camera (libcamera).
        Rpicam = "rpicam",
        /// The built-in moving test pattern.
        Testsrc = "testsrc",
    }
}

kind_enum! {
    /// Which H.264 encoder to use (`[video] encoder`).
    EncoderKind {
        /// V4L2 M2M hardware when present, else openh264.
        #[default]
        Auto = "auto",
        /// V4L2 memory-to-memory hardware encoder (e.g. bcm2835-codec).
        V4l2m2m = "v4l2m2m",
        /// The openh264 software encoder.
        Openh264 = "openh264",
        /// The camera's own H.264 output (requires `source = "v4l2"` or `"rpicam"`).
        Camera = "camera",
    }
}

kind_enum! {
    /// Segment container as configured (`[hls] container`).
    ContainerSetting {
        /// fMP4 when `low_latency` is on, MPEG-TS when it is off: hls.js plays LL-HLS fMP4
        /// closer to live than TS (median 0.80 s against 0.89 s) with 12 % fewer bytes, and
        /// classic HLS stays byte for byte what it was (README, "Container").
        #[default]
        Auto = "auto",
        /// MPEG-TS.
        Ts = "ts",
        /// Fragmented MP4 (CMAF).
        Fmp4 = "fmp4",
    }
}

impl ContainerSetting {
    /// The container written: `Auto` is fMP4 with LL-HLS and MPEG-TS without.
    pub fn resolve(self, low_latency: bool) -> Container {
        match self {
            ContainerSetting::Auto if low_latency => Container::Fmp4,
            ContainerSetting::Auto | ContainerSetting::Ts => Container::Ts,
            ContainerSetting::Fmp4 => Container::Fmp4,
        }
    }
}

kind_enum! {
    /// Where audio comes from (`[audio] source`).
    AudioSourceKind {
        /// ALSA `device` if it opens, else the built-in test tone.
        #[default]
        Auto = "auto",
        /// An ALSA capture PCM (`[audio] device`).
        Alsa = "alsa",
        /// The built-in test tone.
        Tone = "tone",
        /// No audio track.
        None = "none",
    }
}

/// `[video]`: capture and H.264 encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VideoSettings {
    /// Video source kind.
    pub source: VideoSourceKind,
    /// V4L2 device path (used by `v4l2` and `auto`).
    pub device: String,
    /// Frame width in pixels, even, 16..=3840.
    pub width: u32,
    /// Frame height in pixels, even, 16..=2160.
    pub height: u32,
    /// Frames per second, 1..=120.
    pub fps: u32,
    /// Encoder kind.
    pub encoder: EncoderKind,
    /// Target video bitrate in kbit/s, 100..=50000.
    pub bitrate_kbps: u32,
    /// Encoder threads, 0..=16 (0 = encoder's choice).
    pub threads: u32,
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            source: DEFAULT_VIDEO_SOURCE,
            device: DEFAULT_VIDEO_DEVICE.to_owned(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            fps: DEFAULT_FPS,
            encoder: DEFAULT_ENCODER,
            bitrate_kbps: DEFAULT_VIDEO_BITRATE_KBPS,
            threads: DEFAULT_THREADS,
        }
    }
}

/// `[audio]`: capture and AAC-LC encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioSettings {
    /// Audio source kind.
    pub source: AudioSourceKind,
    /// ALSA PCM name (used by `alsa` and `auto`).
    pub device: String,
    /// Sample rate in Hz, one of [`SAMPLE_RATES`].
    pub sample_rate: u32,
    /// Channels, 1..=2.
    pub channels: u16,
    /// Target AAC bitrate in kbit/s, 16..=320 and at most 6 bits per sample per channel.
    pub bitrate_kbps: u32,
}

impl Default for AudioSettings {
    fn default() -> Self {
        AudioSettings {
            source: DEFAULT_AUDIO_SOURCE,
            device: DEFAULT_AUDIO_DEVICE.to_owned(),
            sample_rate: DEFAULT_SAMPLE_RATE,
            channels: DEFAULT_CHANNELS,
            bitrate_kbps: DEFAULT_AUDIO_BITRATE_KBPS,
        }
    }
}

/// `[hls]`: segmenting and the segment ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HlsSettings {
    /// Output directory for `live.m3u8` and `seg<N>.ts` (non-empty; tmpfs recommended).
    pub dir: PathBuf,
    /// Target segment duration in seconds, 1..=10 (the encoder's IDR period).
    pub segment_seconds: u32,
    /// Segments listed in the live playlist, 6..=60.
    pub window: usize,
    /// LL-HLS partial segments, blocking playlist reload and preload hints.
    pub low_latency: bool,
    /// Partial segment duration in ms, 100..=1000 (rounded to whole frames).
    pub part_ms: u32,
    /// Segment container: MPEG-TS, fragmented MP4, or `auto` (see [`HlsSettings::container`]).
    pub container: ContainerSetting,
    /// Where the media sequence number persists across restarts; empty = `<dir>/.hlscam-state`.
    pub state_file: PathBuf,
    /// With `[[variant]]`s and audio: an audio-only rendition (`/v/audio/live.m3u8`) for very
    /// weak links.
    pub audio_only: bool,
}

impl Default for HlsSettings {
    fn default() -> Self {
        HlsSettings {
            dir: PathBuf::from(DEFAULT_HLS_DIR),
            segment_seconds: DEFAULT_SEGMENT_SECONDS,
            window: DEFAULT_WINDOW,
            low_latency: DEFAULT_LOW_LATENCY,
            part_ms: DEFAULT_PART_MS,
            container: DEFAULT_CONTAINER,
            state_file: PathBuf::from(DEFAULT_STATE_FILE),
            audio_only: DEFAULT_AUDIO_ONLY,
        }
    }
}

impl HlsSettings {
    /// The container segments and parts are written in.
    pub fn container(&self) -> Container {
        self.container.resolve(self.low_latency)
    }
}

/// `[http]`: the built-in HTTP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen address, `ADDR:PORT` (IPv6 as `[::]:8080`).
    pub listen: String,
    /// Simultaneous connections served, 1..=1024; more are refused.
    pub max_connections: usize,
    /// Socket read/write timeout in seconds, 1..=300.
    pub timeout_seconds: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: DEFAULT_LISTEN.to_owned(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
        }
    }
}

/// `[log]`: logging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// One of [`LOG_LEVELS`].
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: DEFAULT_LOG_LEVEL.to_owned(),
        }
    }
}

impl LogSettings {
    /// The level as a `log` filter; `None` if `level` is not one of [`LOG_LEVELS`].
    pub fn level_filter(&self) -> Option<log::LevelFilter> {
        match self.level.as_str() {
            "error" => Some(log::LevelFilter::Error),
            "warn" => Some(log::LevelFilter::Warn),
            "info" => Some(log::LevelFilter::Info),
            "debug" => Some(log::LevelFilter::Debug),
            "trace" => Some(log::LevelFilter::Trace),
            _ => None,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[video]`
    pub video: VideoSettings,
    /// `[audio]`
    pub audio: AudioSettings,
    /// `[hls]`
    pub hls: HlsSettings,
    /// `[http]`
    pub http: HttpSettings,
    /// `[log]`
    pub log: LogSettings,
    /// `[record]`: recording to disk (off by default).
    pub record: RecordSettings,
    /// `[[publish]]`: origins the live stream is pushed to (none by default).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<PublishTarget>,
    /// `[[variant]]`: the renditions of adaptive bitrate, top first (none: one rendition from
    /// `[video]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variant: Vec<VariantSettings>,
}

impl Settings {
    /// Reads, parses and validates the file at `path`. Errors name the file as given.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: Some(origin.clone()),
            subject: None,
            at: None,
            message: format!("cannot read the file: {e}"),
        })?;
        Settings::parse(&text, &origin)
    }

    /// Parses and validates TOML `text`; `origin` (usually the file name) prefixes errors.
    ///
    /// Missing keys take their defaults. When the text has several problems, the one nearest the
    /// start of the text is reported.
    pub fn parse(text: &str, origin: &str) -> Result<Settings, ConfigError> {
        parse::parse(text).map_err(|mut e| {
            e.origin = Some(origin.to_owned());
            e
        })
    }

    /// Checks every range and cross-field rule; the error names the key and its value (no
    /// position, no origin: use [`Settings::parse`] for those).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(p) = keys::problems(self).into_iter().next() {
            return Err(p.into_error(self, None));
        }
        let first = array::first_problem(&self.publish)
            .or_else(|| array::first_problem(&self.variant))
            .or_else(|| variant::cross_problems(self).into_iter().next());
        match first {
            None => Ok(()),
            Some((subject, message)) => Err(ConfigError::new(Some(subject), None, message)),
        }
    }

    /// The settings as TOML with every key of every section, which [`Settings::parse`] reads
    /// back to an equal `Settings`.
    pub fn to_toml(&self) -> String {
        keys::to_toml(self)
    }

    /// The container segments are written in: [`HlsSettings::container`], except that
    /// recording (which stores MPEG-TS) makes `container = "auto"` MPEG-TS.
    pub fn container(&self) -> Container {
        if self.record.enabled() {
            Container::Ts
        } else {
            self.hls.container()
        }
    }

    /// The state file path: `[hls] state_file`, or `<dir>/.hlscam-state` when that is empty.
    pub fn state_file(&self) -> PathBuf {
        if self.hls.state_file.as_os_str().is_empty() {
            self.hls.dir.join(STATE_FILE_NAME)
        } else {
            self.hls.state_file.clone()
        }
    }
}

/// A configuration error: one line naming where, which key, and what is allowed.
///
/// Display: `<origin>: <key> = <value> at line L, column C: <what is allowed>`; the parts that
/// do not apply are left out (e.g. `hlscam.toml: cannot read the file: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: Option<String>,
    subject: Option<String>,
    at: Option<(usize, usize)>,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(
        subject: Option<String>,
        at: Option<(usize, usize)>,
        message: String,
    ) -> Self {
        ConfigError {
            origin: None,
            subject,
            at,
            message,
        }
    }

    /// Replaces the origin (the file name, or `command line`).
    pub fn with_origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }

    /// The file name (or `command line`) the error came from, if known.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// What the error is about, e.g. `video.fps = 0` or `unknown key video.fpz`.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// 1-based (line, column) of the offending text, when it came from a file.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.at
    }

    /// What is wrong or allowed, e.g. `must be 1..=120`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = &self.origin {
            write!(f, "{o}: ")?;
        }
        match (&self.subject, self.at) {
            (Some(s), Some((l, c))) => write!(f, "{s} at line {l}, column {c}: ")?,
            (Some(s), None) => write!(f, "{s}: ")?,
            (None, Some((l, c))) => write!(f, "at line {l}, column {c}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}
