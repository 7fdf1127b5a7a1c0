//! The table of every configuration key: how to read it from a TOML value, how to write it back,
//! and what values it allows. Reading ([`super::parse`]), validation ([`problems`]) and writing
//! ([`to_toml`]) all walk this one table, so a key cannot be known to one and missing from another.

use std::net::SocketAddr;

use toml::Value;

use super::record::{
    RecordMode, RecordSettings, MAX_CLIP_SECONDS, MAX_POST_SECONDS, MAX_PRE_SECONDS, RECORD_MODES,
};
use super::{
    AudioSourceKind, ConfigError, ContainerSetting, EncoderKind, Settings, VideoSourceKind,
    LOG_LEVELS, SAMPLE_RATES,
};

/// The sections, in file order.
pub(crate) const SECTIONS: [&str; 6] = ["video", "audio", "hls", "http", "log", "record"];

pub(crate) const VIDEO_SOURCES: &[&str] = &["auto", "v4l2", "rpicam", "testsrc"];
pub(crate) const ENCODERS: &[&str] = &["auto", "v4l2m2m", "openh264", "camera"];
pub(crate) const AUDIO_SOURCES: &[&str] = &["auto", "alsa", "tone", "none"];
pub(crate) const CONTAINERS: &[&str] = &["auto", "ts", "fmp4"];

/// What values a key takes.
pub(crate) enum Kind {
    /// An integer in `min..=max`, even when `even`.
    Int { min: i64, max: i64, even: bool },
    /// One of the sample rates.
    Rate,
    /// One of these names.
    Names(&'static [&'static str]),
    /// Any string (emptiness is a cross-field rule).
    Str,
    /// A path; `non_empty` forbids "".
    Path { non_empty: bool },
    /// A socket address `ADDR:PORT`.
    Addr,
    /// `true` or `false`.
    Bool,
}

/// Why a TOML value could not be stored.
pub(crate) enum Reject {
    /// Wrong TOML type (e.g. a string for an integer).
    Type,
    /// Right type, but a value the field cannot hold.
    Range,
}

/// One key of one section.
pub(crate) struct Key {
    pub section: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    pub get: fn(&Settings) -> Value,
    pub set: fn(&mut Settings, &Value) -> Result<(), Reject>,
}

fn int<T: TryFrom<i64>>(v: &Value) -> Result<T, Reject> {
    match v {
        Value::Integer(i) => T::try_from(*i).map_err(|_| Reject::Range),
        _ => Err(Reject::Type),
    }
}

fn text(v: &Value) -> Result<&str, Reject> {
    v.as_str().ok_or(Reject::Type)
}

fn name<T>(v: &Value, f: fn(&str) -> Option<T>) -> Result<T, Reject> {
    f(text(v)?).ok_or(Reject::Range)
}

fn ival<T: TryInto<i64>>(x: T) -> Value {
    Value::Integer(x.try_into().unwrap_or(i64::MAX))
}

fn boolean(v: &Value) -> Result<bool, Reject> {
    v.as_bool().ok_or(Reject::Type)
}

fn sval(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn pval(p: &std::path::Path) -> Value {
    Value::String(p.to_string_lossy().into_owned())
}

const fn range(min: i64, max: i64) -> Kind {
    Kind::Int {
        min,
        max,
        even: false,
    }
}

/// Every key, in file order.
pub(crate) static KEYS: &[Key] = &[
    Key {
        section: "video",
        name: "source",
        kind: Kind::Names(VIDEO_SOURCES),
        get: |s| sval(s.video.source.as_str()),
        set: |s, v| {
            s.video.source = name(v, VideoSourceKind::from_name)?;
            Ok(())
        },
    },
    Key {
        section: "video",
        name: "device",
        kind: Kind::Str,
        get: |s| sval(&s.video.device),
        set: |s, v| {
            s.video.device = text(v)?.to_owned();
            Ok(())
        },
    },
    Key {
        section: "video",
        name: "width",
        kind: Kind::Int {
            min: 16,
            max: 3840,
            even: true,
        },
        get: |s| ival(s.video.width),
        set: |s, v| {
            s.video.width = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "video",
        name: "height",
        kind: Kind::Int {
            min: 16,
            max: 2160,
            even: true,
        },
        get: |s| ival(s.video.height),
        set: |s, v| {
            s.video.height = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "video",
        name: "fps",
        kind: range(1, 120),
        get: |s| ival(s.video.fps),
        set: |s, v| {
            s.video.fps = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "video",
        name: "encoder",
        kind: Kind::Names(ENCODERS),
        get: |s| sval(s.video.encoder.as_str()),
        set: |s, v| {
            s.video.encoder = name(v, EncoderKind::from_name)?;
            Ok(())
        },
    },
    Key {
        section: "video",
        name: "bitrate_kbps",
        kind: range(100, 50000),
        get: |s| ival(s.video.bitrate_kbps),
        set: |s, v| {
            s.video.bitrate_kbps = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "video",
        name: "threads",
        kind: range(0, 16),
        get: |s| ival(s.video.threads),
        set: |s, v| {
            s.video.threads = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "audio",
        name: "source",
        kind: Kind::Names(AUDIO_SOURCES),
        get: |s| sval(s.audio.source.as_str()),
        set: |s, v| {
            s.audio.source = name(v, AudioSourceKind::from_name)?;
            Ok(())
        },
    },
    Key {
        section: "audio",
        name: "device",
        kind: Kind::Str,
        get: |s| sval(&s.audio.device),
        set: |s, v| {
            s.audio.device = text(v)?.to_owned();
            Ok(())
        },
    },
    Key {
        section: "audio",
        name: "sample_rate",
        kind: Kind::Rate,
        get: |s| ival(s.audio.sample_rate),
        set: |s, v| {
            s.audio.sample_rate = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "audio",
        name: "channels",
        kind: range(1, 2),
        get: |s| ival(s.audio.channels),
        set: |s, v| {
            s.audio.channels = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "audio",
        name: "bitrate_kbps",
        kind: range(16, 320),
        get: |s| ival(s.audio.bitrate_kbps),
        set: |s, v| {
            s.audio.bitrate_kbps = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "dir",
        kind: Kind::Path { non_empty: true },
        get: |s| pval(&s.hls.dir),
        set: |s, v| {
            s.hls.dir = text(v)?.into();
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "segment_seconds",
        kind: range(1, 10),
        get: |s| ival(s.hls.segment_seconds),
        set: |s, v| {
            s.hls.segment_seconds = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "window",
        kind: range(6, 60),
        get: |s| ival(s.hls.window),
        set: |s, v| {
            s.hls.window = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "low_latency",
        kind: Kind::Bool,
        get: |s| Value::Boolean(s.hls.low_latency),
        set: |s, v| {
            s.hls.low_latency = boolean(v)?;
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "part_ms",
        kind: range(100, 1000),
        get: |s| ival(s.hls.part_ms),
        set: |s, v| {
            s.hls.part_ms = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "container",
        kind: Kind::Names(CONTAINERS),
        get: |s| sval(s.hls.container.as_str()),
        set: |s, v| {
            s.hls.container = name(v, ContainerSetting::from_name)?;
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "audio_only",
        kind: Kind::Bool,
        get: |s| Value::Boolean(s.hls.audio_only),
        set: |s, v| {
            s.hls.audio_only = boolean(v)?;
            Ok(())
        },
    },
    Key {
        section: "hls",
        name: "state_file",
        kind: Kind::Path { non_empty: false },
        get: |s| pval(&s.hls.state_file),
        set: |s, v| {
            s.hls.state_file = text(v)?.into();
            Ok(())
        },
    },
    Key {
        section: "http",
        name: "listen",
        kind: Kind::Addr,
        get: |s| sval(&s.http.listen),
        set: |s, v| {
            s.http.listen = text(v)?.to_owned();
            Ok(())
        },
    },
    Key {
        section: "http",
        name: "max_connections",
        kind: range(1, 1024),
        get: |s| ival(s.http.max_connections),
        set: |s, v| {
            s.http.max_connections = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "http",
        name: "timeout_seconds",
        kind: range(1, 300),
        get: |s| ival(s.http.timeout_seconds),
        set: |s, v| {
            s.http.timeout_seconds = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "log",
        name: "level",
        kind: Kind::Names(&LOG_LEVELS),
        get: |s| sval(&s.log.level),
        set: |s, v| {
            s.log.level = text(v)?.to_owned();
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "mode",
        kind: Kind::Names(RECORD_MODES),
        get: |s| sval(s.record.mode.as_str()),
        set: |s, v| {
            s.record.mode = name(v, RecordMode::from_name)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "dir",
        kind: Kind::Path { non_empty: true },
        get: |s| pval(&s.record.dir),
        set: |s, v| {
            s.record.dir = text(v)?.into();
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "chunk_minutes",
        kind: range(1, 60),
        get: |s| ival(s.record.chunk_minutes),
        set: |s, v| {
            s.record.chunk_minutes = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "max_bytes",
        kind: range(0, i64::MAX),
        get: |s| ival(s.record.max_bytes),
        set: |s, v| {
            s.record.max_bytes = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "max_age_days",
        kind: range(0, 3650),
        get: |s| ival(s.record.max_age_days),
        set: |s, v| {
            s.record.max_age_days = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "min_free_percent",
        kind: range(0, 50),
        get: |s| ival(s.record.min_free_percent),
        set: |s, v| {
            s.record.min_free_percent = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "fsync_seconds",
        kind: range(1, 300),
        get: |s| ival(s.record.fsync_seconds),
        set: |s, v| {
            s.record.fsync_seconds = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "pre_seconds",
        kind: range(0, MAX_PRE_SECONDS as i64),
        get: |s| ival(s.record.pre_seconds),
        set: |s, v| {
            s.record.pre_seconds = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "post_seconds",
        kind: range(0, MAX_POST_SECONDS as i64),
        get: |s| ival(s.record.post_seconds),
        set: |s, v| {
            s.record.post_seconds = int(v)?;
            Ok(())
        },
    },
    Key {
        section: "record",
        name: "clip_max_seconds",
        kind: range(1, MAX_CLIP_SECONDS as i64),
        get: |s| ival(s.record.clip_max_seconds),
        set: |s, v| {
            s.record.clip_max_seconds = int(v)?;
            Ok(())
        },
    },
];

/// The key `section.name`, if there is one.
pub(crate) fn find(section: &str, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.section == section && k.name == name)
}

/// The keys of `section`, comma-separated, in file order.
pub(crate) fn names_in(section: &str) -> String {
    let names: Vec<&str> = KEYS
        .iter()
        .filter(|k| k.section == section)
        .map(|k| k.name)
        .collect();
    names.join(", ")
}

fn one_of<T: ToString>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(T::to_string).collect();
    format!("must be one of {}", items.join(", "))
}

const ADDR_HELP: &str = "ADDR:PORT such as 0.0.0.0:8080 or [::]:8080";

impl Kind {
    /// The message for a value of the wrong TOML type.
    pub(crate) fn type_message(&self) -> String {
        match self {
            Kind::Int { min, max, .. } => format!("must be an integer {min}..={max}"),
            Kind::Rate => one_of(&SAMPLE_RATES),
            Kind::Names(names) => one_of(names),
            Kind::Str => "must be a string".to_owned(),
            Kind::Path { .. } => "must be a string (a path)".to_owned(),
            Kind::Addr => format!("must be a string {ADDR_HELP}"),
            Kind::Bool => "must be true or false".to_owned(),
        }
    }

    /// The message for a value of the right type that is not allowed.
    pub(crate) fn range_message(&self) -> String {
        match self {
            Kind::Int { min, max, .. } => format!("must be {min}..={max}"),
            _ => self.type_message(),
        }
    }

    /// Checks a stored value; `None` when allowed.
    fn check(&self, v: &Value) -> Option<String> {
        match (self, v) {
            (Kind::Int { min, max, even }, Value::Integer(i)) => {
                if i < min || i > max {
                    Some(self.range_message())
                } else if *even && i % 2 != 0 {
                    Some("must be even".to_owned())
                } else {
                    None
                }
            }
            (Kind::Rate, Value::Integer(i)) => {
                (!SAMPLE_RATES.iter().any(|r| i64::from(*r) == *i)).then(|| self.range_message())
            }
            (Kind::Names(names), Value::String(s)) => {
                (!names.contains(&s.as_str())).then(|| self.range_message())
            }
            (Kind::Path { non_empty: true }, Value::String(s)) if s.is_empty() => {
                Some("must not be empty".to_owned())
            }
            (Kind::Addr, Value::String(s)) => s
                .parse::<SocketAddr>()
                .err()
                .map(|_| format!("must be {ADDR_HELP}")),
            _ => None,
        }
    }
}

/// `value` as TOML text. (`Value`'s own `Display` writes a datetime as serde's private one-key
/// table, so datetimes are written here directly.)
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::Datetime(d) => d.to_string(),
        _ => value.to_string(),
    }
}

/// A rule broken by a key's current value.
pub(crate) struct Problem {
    pub key: &'static Key,
    pub message: String,
}

impl Problem {
    /// `section.key = value` — the subject of an error message.
    pub(crate) fn subject(key: &Key, value: &Value) -> String {
        format!("{}.{} = {}", key.section, key.name, render(value))
    }

    pub(crate) fn into_error(self, s: &Settings, at: Option<(usize, usize)>) -> ConfigError {
        let subject = Problem::subject(self.key, &(self.key.get)(s));
        ConfigError::new(Some(subject), at, self.message)
    }

    /// As [`Problem::into_error`] for a key the file leaves at its default: the subject says so.
    pub(crate) fn into_default_error(self, s: &Settings) -> ConfigError {
        let subject = Problem::subject(self.key, &(self.key.get)(s));
        ConfigError::new(Some(format!("{subject} (default)")), None, self.message)
    }
}

fn key(section: &str, name: &str) -> &'static Key {
    find(section, name).expect("key in table")
}

/// Every rule `s` breaks: per-key ranges in file order, then cross-field rules.
pub(crate) fn problems(s: &Settings) -> Vec<Problem> {
    let mut out: Vec<Problem> = KEYS
        .iter()
        .filter_map(|k| {
            k.kind
                .check(&(k.get)(s))
                .map(|message| Problem { key: k, message })
        })
        .collect();
    if s.video.encoder == EncoderKind::Camera
        && !matches!(
            s.video.source,
            VideoSourceKind::V4l2 | VideoSourceKind::Rpicam
        )
    {
        out.push(Problem {
            key: key("video", "encoder"),
            message: "requires video.source = \"v4l2\" (a camera that outputs H.264) or \
                      \"rpicam\" (rpicam-vid's H.264)"
                .to_owned(),
        });
    }
    if s.video.source == VideoSourceKind::V4l2 && s.video.device.is_empty() {
        out.push(Problem {
            key: key("video", "device"),
            message: "must not be empty when video.source = \"v4l2\"".to_owned(),
        });
    }
    if s.audio.source == AudioSourceKind::Alsa && s.audio.device.is_empty() {
        out.push(Problem {
            key: key("audio", "device"),
            message: "must not be empty when audio.source = \"alsa\"".to_owned(),
        });
    }
    let (rate, ch) = (s.audio.sample_rate, s.audio.channels);
    if SAMPLE_RATES.contains(&rate) && (1..=2).contains(&ch) {
        // AAC-LC: at most 6144 bits per channel per 1024-sample frame = 6 bits/sample/channel.
        let max_kbps = 6 * rate * u32::from(ch) / 1000;
        if s.audio.bitrate_kbps > max_kbps {
            let chs = if ch == 1 { "1 channel" } else { "2 channels" };
            out.push(Problem {
                key: key("audio", "bitrate_kbps"),
                message: format!(
                    "must be at most {max_kbps} at {rate} Hz with {chs} \
                     (AAC-LC carries at most 6 bits per sample per channel)"
                ),
            });
        }
    }
    if s.hls.low_latency && s.hls.part_ms >= s.hls.segment_seconds.saturating_mul(1000) {
        out.push(Problem {
            key: key("hls", "part_ms"),
            message: format!(
                "must be shorter than hls.segment_seconds ({} s) when hls.low_latency = true",
                s.hls.segment_seconds
            ),
        });
    }
    if s.record.enabled() && s.hls.container == ContainerSetting::Fmp4 {
        out.push(Problem {
            key: key("hls", "container"),
            message: format!(
                "must be \"ts\" or \"auto\" when record.mode = \"{}\" (recordings are \
                 MPEG-TS; \"auto\" then writes MPEG-TS)",
                s.record.mode.as_str()
            ),
        });
    }
    let ring = RecordSettings::pre_roll_limit(s.hls.window, s.hls.segment_seconds);
    if s.record.mode == RecordMode::Events && s.record.pre_seconds > ring {
        out.push(Problem {
            key: key("record", "pre_seconds"),
            message: format!(
                "must be at most {ring} (the live ring holds hls.window = {} × \
                 hls.segment_seconds = {} s of pre-roll); lower it or raise hls.window",
                s.hls.window, s.hls.segment_seconds
            ),
        });
    }
    // The window rule of RFC 8216 §6.2.2 / Apple's authoring spec (≥ 6 segments and ≥ 3 target
    // durations) follows from window ≥ 6: 6 × s ≥ 3 × (s + 1) for every s ≥ 1.
    out
}

/// Writes every key of every section as TOML.
pub(crate) fn to_toml(s: &Settings) -> String {
    let mut out = String::new();
    for section in SECTIONS {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("[{section}]\n"));
        for k in KEYS.iter().filter(|k| k.section == section) {
            out.push_str(&format!("{} = {}\n", k.name, (k.get)(s)));
        }
    }
    out.push_str(&super::array::to_toml(&s.publish));
    out.push_str(&super::array::to_toml(&s.variant));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_lists_match_the_enums() {
        let v: Vec<&str> = VideoSourceKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(v, VIDEO_SOURCES);
        let e: Vec<&str> = EncoderKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(e, ENCODERS);
        let a: Vec<&str> = AudioSourceKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(a, AUDIO_SOURCES);
        for c in CONTAINERS {
            assert_eq!(ContainerSetting::from_name(c).map(|c| c.as_str()), Some(*c));
        }
        for m in RECORD_MODES {
            assert_eq!(RecordMode::from_name(m).map(|m| m.as_str()), Some(*m));
        }
    }

    #[test]
    fn every_key_round_trips_through_get_and_set() {
        let d = Settings::default();
        for k in KEYS {
            let mut s = Settings::default();
            assert!(
                (k.set)(&mut s, &(k.get)(&d)).is_ok(),
                "{}.{}",
                k.section,
                k.name
            );
            assert_eq!(s, d);
        }
        assert_eq!(KEYS.len(), 35);
        for s in SECTIONS {
            assert!(KEYS.iter().any(|k| k.section == s));
        }
    }

    #[test]
    fn setters_reject_wrong_types_and_unstorable_values() {
        let mut s = Settings::default();
        let fps = key("video", "fps");
        assert!(matches!((fps.set)(&mut s, &sval("x")), Err(Reject::Type)));
        assert!(matches!(
            (fps.set)(&mut s, &Value::Integer(-1)),
            Err(Reject::Range)
        ));
        let src = key("video", "source");
        assert!(matches!(
            (src.set)(&mut s, &sval("webcam")),
            Err(Reject::Range)
        ));
        assert!(matches!(
            (src.set)(&mut s, &Value::Integer(1)),
            Err(Reject::Type)
        ));
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn problems_in_table_order_then_cross_field() {
        let mut s = Settings::default();
        s.http.max_connections = 0;
        s.video.fps = 0;
        s.video.encoder = EncoderKind::Camera;
        let p: Vec<(&str, String)> = problems(&s)
            .into_iter()
            .map(|p| (p.key.name, p.message))
            .collect();
        assert_eq!(
            p,
            [
                ("fps", "must be 1..=120".to_owned()),
                ("max_connections", "must be 1..=1024".to_owned()),
                (
                    "encoder",
                    "requires video.source = \"v4l2\" (a camera that outputs H.264) or \
                     \"rpicam\" (rpicam-vid's H.264)"
                        .to_owned()
                ),
            ]
        );
    }
}
