//! The two segment formats HLS carries (RFC 8216bis §3): MPEG-TS and fragmented MP4 (CMAF).

use std::fmt;

/// Which container segments and parts are written in (`[hls] container`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// MPEG-2 Transport Stream (RFC 8216bis §3.1.1), `seg<N>.ts`.
    #[default]
    Ts,
    /// Fragmented MP4 / CMAF (RFC 8216bis §3.1.2): `init<G>.mp4` plus `seg<N>.m4s`, one
    /// `moof`+`mdat` per part.
    Fmp4,
}

impl Container {
    /// File name extension of segments and parts (without the dot).
    pub const fn ext(self) -> &'static str {
        match self {
            Container::Ts => "ts",
            Container::Fmp4 => "m4s",
        }
    }
    /// `Content-Type` of segments and parts.
    pub const fn content_type(self) -> &'static str {
        match self {
            Container::Ts => "video/mp2t",
            Container::Fmp4 => "video/iso.segment",
        }
    }
    /// The configuration name (`"ts"` / `"fmp4"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Container::Ts => "ts",
            Container::Fmp4 => "fmp4",
        }
    }
    /// The container a configuration name names.
    pub fn from_name(s: &str) -> Option<Container> {
        match s {
            "ts" => Some(Container::Ts),
            "fmp4" => Some(Container::Fmp4),
            _ => None,
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
