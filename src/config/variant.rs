//! `[[variant]]`: the renditions of adaptive bitrate streaming, any number up to
//! [`MAX_VARIANTS`], one TOML table each, the top one first:
//!
//! ```toml
//! [[variant]]
//! name = "720p"          # required: 1..=16 of a-z, 0-9, '_' and '-'; not "audio"
//! width = 1280           # required: even, ≤ [video] width
//! height = 720           # required: even, ≤ [video] height
//! fps = 30               # optional: divides [video] fps; 0 or missing = [video] fps
//! bitrate_kbps = 2500    # required: 100..=50000
//! encoder = "auto"       # optional: "auto" | "v4l2m2m" | "openh264"
//! ```
//!
//! The camera captures once at `[video]` size and rate; each variant scales and encodes its own
//! copy. With no `[[variant]]` the stream has one rendition made from `[video]` itself. Errors
//! name the table by its index (`variant[1].width = 1300 at line 12, column 9: must be even`);
//! rules that need `[video]` are checked once the whole file is read.

use serde::{Deserialize, Serialize};
use toml::Value;

use super::array::ArrayItem;
use super::{EncoderKind, Settings};

/// Most `[[variant]]` tables: each is one encoder running on the board.
pub const MAX_VARIANTS: usize = 4;
/// The name the audio-only rendition is served under (`/v/audio/`); no variant may take it.
pub const AUDIO_ONLY_NAME: &str = "audio";

/// The keys of a `[[variant]]` table, in documentation order.
const VARIANT_KEYS: [&str; 6] = ["name", "width", "height", "fps", "bitrate_kbps", "encoder"];

/// One `[[variant]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSettings {
    /// Its name in URLs (`/v/<name>/live.m3u8`) and in `/api/status`.
    pub name: String,
    /// Picture width, even, ≤ `[video] width`.
    pub width: u32,
    /// Picture height, even, ≤ `[video] height`.
    pub height: u32,
    /// Frames per second; 0 means `[video] fps`.
    #[serde(default)]
    pub fps: u32,
    /// Target video bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// Which encoder (`camera` is not allowed: a variant encodes scaled pictures).
    #[serde(default)]
    pub encoder: EncoderKind,
}

impl VariantSettings {
    /// The frame rate with `[video] fps` applied for 0.
    pub fn fps_or(&self, video_fps: u32) -> u32 {
        if self.fps == 0 {
            video_fps
        } else {
            self.fps
        }
    }
}

impl ArrayItem for VariantSettings {
    const NAME: &'static str = "variant";
    const ANCHOR: &'static str = "name";
    const KEYS: &'static [&'static str] = &VARIANT_KEYS;

    fn blank() -> Self {
        VariantSettings {
            name: String::new(),
            width: 0,
            height: 0,
            fps: 0,
            bitrate_kbps: 0,
            encoder: EncoderKind::Auto,
        }
    }

    fn required(key: &str) -> Option<&'static str> {
        match key {
            "name" => Some("name is required (used in the URL /v/<name>/live.m3u8)"),
            "width" => Some("width is required"),
            "height" => Some("height is required"),
            "bitrate_kbps" => Some("bitrate_kbps is required"),
            _ => None,
        }
    }

    fn written(&self, key: &str) -> bool {
        key != "fps" || self.fps != 0
    }

    fn get(&self, key: &str) -> Value {
        let int = |v: u32| Value::Integer(i64::from(v));
        match key {
            "name" => Value::String(self.name.clone()),
            "width" => int(self.width),
            "height" => int(self.height),
            "fps" => int(self.fps),
            "bitrate_kbps" => int(self.bitrate_kbps),
            _ => Value::String(self.encoder.as_str().to_owned()),
        }
    }

    fn set(&mut self, key: &str, value: &Value) -> Result<(), String> {
        if key == "name" || key == "encoder" {
            let Some(text) = value.as_str() else {
                return Err("must be a string".to_owned());
            };
            if key == "name" {
                self.name = text.to_owned();
            } else {
                self.encoder = match EncoderKind::from_name(text) {
                    Some(EncoderKind::Camera) | None => {
                        return Err("must be one of auto, v4l2m2m, openh264".to_owned())
                    }
                    Some(k) => k,
                };
            }
            return Ok(());
        }
        let n = value
            .as_integer()
            .ok_or_else(|| "must be an integer".to_owned())?;
        let n = u32::try_from(n).map_err(|_| "must not be negative".to_owned())?;
        match key {
            "width" => self.width = n,
            "height" => self.height = n,
            "fps" => self.fps = n,
            _ => self.bitrate_kbps = n,
        }
        Ok(())
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let n = &self.name;
        if n.is_empty()
            || n.len() > 16
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            out.push((
                "name",
                "must be 1..=16 characters of a-z, 0-9, '_' and '-'".to_owned(),
            ));
        } else if n == AUDIO_ONLY_NAME {
            out.push((
                "name",
                format!("\"{AUDIO_ONLY_NAME}\" is the audio-only rendition's name"),
            ));
        }
        for (key, v, max) in [("width", self.width, 3840), ("height", self.height, 2160)] {
            if !(16..=max).contains(&v) || v % 2 != 0 {
                out.push((key, format!("must be an even number in 16..={max}")));
            }
        }
        if self.fps > 120 {
            out.push(("fps", "must be 0..=120 (0 = [video] fps)".to_owned()));
        }
        if !(100..=50_000).contains(&self.bitrate_kbps) {
            out.push(("bitrate_kbps", "must be 100..=50000".to_owned()));
        }
        if self.encoder == EncoderKind::Camera {
            out.push((
                "encoder",
                "must be one of auto, v4l2m2m, openh264".to_owned(),
            ));
        }
        out
    }
}

/// The rules between the variants and the rest of the file, as (subject, message): sizes and
/// rates within the capture's, unique names, an encoder that makes pictures to scale.
pub(crate) fn cross_problems(s: &Settings) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let vs = &s.variant;
    if vs.is_empty() {
        return out;
    }
    let subject =
        |i: usize, key: &str| super::array::subject::<VariantSettings>(i, key, &vs[i].get(key));
    if vs.len() > MAX_VARIANTS {
        out.push((
            format!("variant[{MAX_VARIANTS}]"),
            format!("at most {MAX_VARIANTS} [[variant]] tables (each is one encoder)"),
        ));
    }
    if s.video.encoder == super::EncoderKind::Camera {
        out.push((
            "video.encoder = \"camera\"".to_owned(),
            "cannot feed [[variant]]s: they scale raw pictures (use auto, v4l2m2m or openh264)"
                .to_owned(),
        ));
    }
    for (i, v) in vs.iter().enumerate() {
        if v.width > s.video.width {
            out.push((
                subject(i, "width"),
                format!("must be at most video.width ({})", s.video.width),
            ));
        }
        if v.height > s.video.height {
            out.push((
                subject(i, "height"),
                format!("must be at most video.height ({})", s.video.height),
            ));
        }
        let fps = v.fps_or(s.video.fps);
        if fps > s.video.fps || (fps > 0 && s.video.fps % fps != 0) {
            out.push((
                subject(i, "fps"),
                format!(
                    "must divide video.fps ({}): frames are taken from the capture",
                    s.video.fps
                ),
            ));
        }
        if vs[..i].iter().any(|w| w.name == v.name) {
            out.push((
                subject(i, "name"),
                "is used by an earlier [[variant]]".to_owned(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, w: u32, h: u32) -> VariantSettings {
        VariantSettings {
            name: name.into(),
            width: w,
            height: h,
            fps: 0,
            bitrate_kbps: 800,
            encoder: EncoderKind::Auto,
        }
    }

    #[test]
    fn table_rules() {
        assert!(v("360p", 640, 360).problems().is_empty());
        let keys = |x: VariantSettings| x.problems().iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(keys(v("Big One", 641, 8)), ["name", "width", "height"]);
        assert_eq!(keys(v("audio", 640, 360)), ["name"]);
        let mut x = v("x", 640, 360);
        x.bitrate_kbps = 50;
        x.fps = 121;
        assert_eq!(keys(x), ["fps", "bitrate_kbps"]);
    }

    #[test]
    fn rules_against_the_capture() {
        let mut s = Settings {
            variant: vec![v("720p", 1280, 720), v("360p", 640, 360)],
            ..Settings::default()
        };
        assert!(cross_problems(&s).is_empty());
        s.variant[1].fps = 20;
        s.variant.push(v("720p", 1920, 720));
        let p = cross_problems(&s);
        let subjects: Vec<&str> = p.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "variant[1].fps = 20",
                "variant[2].width = 1920",
                "variant[2].name = \"720p\""
            ]
        );
        s.variant.truncate(1);
        s.video.encoder = EncoderKind::Camera;
        assert!(cross_problems(&s)[0].1.contains("scale raw pictures"));
    }
}
