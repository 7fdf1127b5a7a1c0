//! What is plugged in: cameras, capture PCMs and H.264 encoders (`hlscam devices [--json]`), and
//! the `source = "auto"` choice.
//!
//! Cameras are `/dev/video*` nodes with single-planar `VIDEO_CAPTURE` and streaming in their
//! device caps that are not memory-to-memory devices (V4L2 `VIDIOC_QUERYCAP`), listed with
//! `VIDIOC_ENUM_FMT`, `VIDIOC_ENUM_FRAMESIZES` and `VIDIOC_ENUM_FRAMEINTERVALS`. Encoders are
//! openh264 (always) plus every multi-planar M2M node whose capture queue offers `H264` (a
//! stateful encoder; the same test `encoder = "auto"` uses,
//! `encode::v4l2_m2m::find_h264_encoder`). Capture PCMs come from each ALSA card's control
//! interface (`snd_ctl_pcm_next_device`, `snd_ctl_pcm_info`).
//!
//! The nodes of a Raspberry Pi's own camera pipeline are not cameras hlscam can stream from and
//! are skipped ([`is_pi_camera_pipeline`]): the CSI receivers (`unicam`, Pi 5 `rp1-cfe`) deliver
//! raw Bayer with no ISP, and the ISP nodes (`bcm2835-isp`, Pi 5 `pispbe`) only produce pictures
//! while libcamera feeds them. CSI camera modules are streamed through `rpicam-vid`
//! (`source = "rpicam"`).

use super::alsa::AlsaSource;
use super::v4l2::{PixelFormat, V4l2Source};
use super::{AudioFormat, AudioSource, SourceError, VideoFormat, VideoSource};
use crate::time::Clock;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Arc;
use v4l::video::Capture as _;

/// Everything found.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DeviceList {
    /// Video capture devices.
    pub cameras: Vec<Camera>,
    /// CSI camera modules `rpicam-vid --list-cameras` reports (`source = "rpicam"`), one line
    /// each as it prints them.
    pub csi_cameras: Vec<String>,
    /// ALSA capture PCMs.
    pub microphones: Vec<Microphone>,
    /// H.264 encoders.
    pub encoders: Vec<Encoder>,
}

/// One camera node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Camera {
    /// Device path (`/dev/video0`).
    pub path: String,
    /// Card name.
    pub card: String,
    /// Driver name.
    pub driver: String,
    /// Bus (`usb-…`, `platform:vivid-000`).
    pub bus: String,
    /// Pixel formats with their sizes and rates.
    pub formats: Vec<CameraFormat>,
}

/// One pixel format of a camera.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CameraFormat {
    /// Four-character code.
    pub fourcc: String,
    /// Driver's description.
    pub description: String,
    /// True when hlscam can capture it (YU12, NV12, YUYV, MJPG, H264).
    pub usable: bool,
    /// Discrete sizes with their frame rates (a stepwise range is listed by its corners).
    pub sizes: Vec<FrameSizeRates>,
}

/// One frame size and its rates.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FrameSizeRates {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Frames per second offered (a stepwise range is listed by its ends).
    pub fps: Vec<f64>,
}

/// One ALSA capture PCM.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Microphone {
    /// Device string for `[audio] device` (`hw:CARD,DEV`).
    pub device: String,
    /// Card name.
    pub card: String,
    /// PCM name.
    pub name: String,
}

/// One H.264 encoder.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Encoder {
    /// `openh264` or `v4l2m2m`.
    pub kind: String,
    /// Device path for hardware encoders, empty for software.
    pub path: String,
    /// Human-readable name.
    pub name: String,
}

/// `/dev/video*` nodes in numeric order.
pub(crate) fn video_nodes() -> Vec<String> {
    let mut v: Vec<(u32, String)> = std::fs::read_dir("/dev")
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let num = n.strip_prefix("video")?.parse::<u32>().ok()?;
                    Some((num, format!("/dev/{n}")))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

fn fps_of(f: v4l::Fraction) -> f64 {
    if f.numerator == 0 {
        0.0
    } else {
        (f.denominator as f64 / f.numerator as f64 * 100.0).round() / 100.0
    }
}

fn camera_formats(dev: &v4l::Device) -> Vec<CameraFormat> {
    use v4l::frameinterval::FrameIntervalEnum;
    use v4l::framesize::FrameSizeEnum;
    let mut out = Vec::new();
    for d in dev.enum_formats().unwrap_or_default() {
        let mut sizes = Vec::new();
        for fs in dev.enum_framesizes(d.fourcc).unwrap_or_default() {
            let dims: Vec<(u32, u32)> = match fs.size {
                FrameSizeEnum::Discrete(s) => vec![(s.width, s.height)],
                FrameSizeEnum::Stepwise(s) => {
                    vec![(s.min_width, s.min_height), (s.max_width, s.max_height)]
                }
            };
            for (w, h) in dims {
                let mut fps: Vec<f64> = Vec::new();
                for iv in dev.enum_frameintervals(d.fourcc, w, h).unwrap_or_default() {
                    match iv.interval {
                        FrameIntervalEnum::Discrete(f) => fps.push(fps_of(f)),
                        FrameIntervalEnum::Stepwise(s) => {
                            fps.push(fps_of(s.max));
                            fps.push(fps_of(s.min));
                        }
                    }
                }
                fps.sort_by(|a, b| b.total_cmp(a));
                fps.dedup();
                sizes.push(FrameSizeRates {
                    width: w,
                    height: h,
                    fps,
                });
            }
        }
        out.push(CameraFormat {
            fourcc: String::from_utf8_lossy(&d.fourcc.repr).into_owned(),
            description: d.description.clone(),
            usable: PixelFormat::from_fourcc(d.fourcc.repr).is_some(),
            sizes,
        });
    }
    out
}

/// True for a V4L2 driver of the Raspberry Pi's libcamera pipeline (see the module docs):
/// `unicam`, `rp1-cfe` (CSI receivers), `bcm2835-isp`, `pispbe` (ISPs).
pub fn is_pi_camera_pipeline(driver: &str) -> bool {
    matches!(driver, "unicam" | "rp1-cfe" | "bcm2835-isp" | "pispbe")
}

/// What kind of node a `/dev/video*` is.
enum Node {
    Camera(Camera),
    Encoder(Encoder),
    Other,
}

fn probe(path: &str) -> Node {
    // The v4l crate unwraps UTF-8 conversions of driver strings: never let that panic escape.
    std::panic::catch_unwind(|| probe_inner(path)).unwrap_or(Node::Other)
}

fn probe_inner(path: &str) -> Node {
    use v4l::capability::Flags;
    let Ok(dev) = super::v4l2::Dev::open(path) else {
        return Node::Other;
    };
    let Ok(caps) = dev.query_caps() else {
        return Node::Other;
    };
    let f = caps.capabilities;
    if is_pi_camera_pipeline(&caps.driver) {
        return Node::Other;
    }
    if f.intersects(Flags::VIDEO_M2M | Flags::VIDEO_M2M_MPLANE) {
        // Listed exactly when `encoder = "auto"` would use it.
        drop(dev);
        return match crate::encode::v4l2_m2m::h264_encoder_card(path) {
            Some(card) => Node::Encoder(Encoder {
                kind: "v4l2m2m".into(),
                path: path.into(),
                name: card,
            }),
            None => Node::Other,
        };
    }
    if f.contains(Flags::VIDEO_CAPTURE) && f.contains(Flags::STREAMING) {
        return Node::Camera(Camera {
            path: path.into(),
            card: caps.card.clone(),
            driver: caps.driver.clone(),
            bus: caps.bus.clone(),
            formats: camera_formats(&dev),
        });
    }
    Node::Other
}

fn microphones() -> Vec<Microphone> {
    let mut out = Vec::new();
    for card in alsa::card::Iter::new().flatten() {
        let idx = card.get_index();
        let cname = card.get_name().unwrap_or_default();
        let Ok(ctl) = alsa::Ctl::from_card(&card, false) else {
            continue;
        };
        let id = ctl
            .card_info()
            .ok()
            .and_then(|i| i.get_id().ok().map(str::to_string))
            .unwrap_or_else(|| idx.to_string());
        for dev in alsa::ctl::DeviceIter::new(&ctl) {
            if let Ok(info) = ctl.pcm_info(dev as u32, 0, alsa::Direction::Capture) {
                out.push(Microphone {
                    device: format!("hw:{id},{dev}"),
                    card: cname.clone(),
                    name: info.get_name().unwrap_or("").to_string(),
                });
            }
        }
    }
    out
}

/// Lists cameras, capture PCMs and encoders.
pub fn list_devices() -> DeviceList {
    let mut list = DeviceList {
        encoders: vec![Encoder {
            kind: "openh264".into(),
            path: String::new(),
            name: "OpenH264 (software)".into(),
        }],
        ..DeviceList::default()
    };
    for p in video_nodes() {
        match probe(&p) {
            Node::Camera(c) => list.cameras.push(c),
            Node::Encoder(e) => list.encoders.push(e),
            Node::Other => {}
        }
    }
    list.microphones = microphones();
    list.csi_cameras = super::rpicam::list_cameras(&super::rpicam::program()).unwrap_or_default();
    list
}

impl DeviceList {
    /// A human-readable table.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "CAMERAS");
        if self.cameras.is_empty() {
            let _ = writeln!(s, "  (none)");
        }
        for c in &self.cameras {
            let _ = writeln!(s, "  {:<14} {} [{}, {}]", c.path, c.card, c.driver, c.bus);
            for f in &c.formats {
                let mark = if f.usable { "" } else { " (not usable)" };
                let _ = writeln!(s, "    {} {}{mark}", f.fourcc, f.description);
                for z in &f.sizes {
                    let rates: Vec<String> = z.fps.iter().map(|r| format!("{r}")).collect();
                    let _ = writeln!(
                        s,
                        "      {}x{} @ {} fps",
                        z.width,
                        z.height,
                        rates.join("/")
                    );
                }
            }
        }
        if !self.csi_cameras.is_empty() {
            let _ = writeln!(s, "CSI CAMERAS (source = \"rpicam\", through rpicam-vid)");
            for c in &self.csi_cameras {
                let _ = writeln!(s, "  {c}");
            }
        }
        let _ = writeln!(s, "MICROPHONES");
        if self.microphones.is_empty() {
            let _ = writeln!(s, "  (none)");
        }
        for m in &self.microphones {
            let _ = writeln!(s, "  {:<14} {} - {}", m.device, m.card, m.name);
        }
        let _ = writeln!(s, "ENCODERS");
        for e in &self.encoders {
            let path = if e.path.is_empty() { "-" } else { &e.path };
            let _ = writeln!(s, "  {:<10} {:<14} {}", e.kind, path, e.name);
        }
        s
    }
}

/// `source = "auto"` for video: the configured `device` if it is a usable camera, else the first
/// usable camera among `/dev/video*` (capture-capable, not an M2M codec, offering a format we
/// take), else a CSI camera that `rpicam-vid --list-cameras` reports (streamed through
/// `rpicam-vid`, supervised), else `fallback()` (the test source). Returns the source and why it was chosen, and
/// logs that reason once.
pub fn pick_video(
    device: &str,
    want: VideoFormat,
    clock: Arc<dyn Clock>,
    stats: Option<Arc<crate::stats::Stats>>,
    fallback: impl FnOnce() -> Box<dyn VideoSource>,
) -> (Box<dyn VideoSource>, String) {
    let mut tried = Vec::new();
    let mut candidates = vec![device.to_string()];
    for p in video_nodes() {
        if p != device {
            candidates.push(p);
        }
    }
    for p in candidates {
        if p.starts_with('/') && !std::path::Path::new(&p).exists() {
            continue;
        }
        if let Node::Camera(c) = probe(&p) {
            if !c.formats.iter().any(|f| f.usable && f.fourcc != "H264") {
                tried.push(format!("{p}: no usable format"));
                continue;
            }
            match V4l2Source::open_with_clock(&p, want, clock.clone()) {
                Ok(src) => {
                    let why = format!(
                        "video source auto: camera {p} ({}), first usable camera",
                        c.card
                    );
                    log::info!("{why}");
                    // Probed and usable: hand it over supervised (slate + reopen on failure).
                    drop(src);
                    let sv = super::supervisor::supervised_camera(&p, want, clock, stats);
                    return (Box::new(sv), why);
                }
                Err(e) => tried.push(format!("{p}: {e}")),
            }
        }
    }
    // No V4L2 camera: a CSI camera module through rpicam-vid, if the Pi has one.
    let program = super::rpicam::program();
    match super::rpicam::list_cameras(&program) {
        Ok(cams) if !cams.is_empty() => {
            let why = format!(
                "video source auto: CSI camera {} through {program}, no usable V4L2 camera",
                cams[0]
            );
            log::info!("{why}");
            let sv = super::rpicam::supervised_rpicam(want, clock, stats);
            return (Box::new(sv), why);
        }
        Ok(_) => tried.push(format!("{program}: no CSI camera")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tried.push(format!("{program}: {e}")),
    }
    let why = if tried.is_empty() {
        "video source auto: test pattern, no camera found".to_string()
    } else {
        format!(
            "video source auto: test pattern, no usable camera ({})",
            tried.join("; ")
        )
    };
    log::info!("{why}");
    (fallback(), why)
}

/// `source = "auto"` for audio: the configured `device` if it opens, else the first capture PCM
/// (through `plughw:` so rate and channels are converted), else `fallback()` (the tone).
pub fn pick_audio(
    device: &str,
    fmt: AudioFormat,
    clock: Arc<dyn Clock>,
    fallback: impl FnOnce() -> Box<dyn AudioSource>,
) -> (Box<dyn AudioSource>, String) {
    let mut tried: Vec<String> = Vec::new();
    let mut candidates = vec![device.to_string()];
    for m in microphones() {
        candidates.push(format!("plug{}", m.device));
    }
    for d in candidates {
        match AlsaSource::open_with_clock(&d, fmt, clock.clone()) {
            Ok(src) => {
                let why = format!("audio source auto: microphone {d}");
                log::info!("{why}");
                return (Box::new(src), why);
            }
            Err(e) => tried.push(match e {
                SourceError::Gone(m) | SourceError::Io(m) | SourceError::Timeout(m) => m,
                other => other.to_string(),
            }),
        }
    }
    let why = format!(
        "audio source auto: tone, no usable microphone ({})",
        tried.join("; ")
    );
    log::info!("{why}");
    (fallback(), why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pi_camera_pipeline_nodes_are_not_cameras() {
        for d in ["unicam", "rp1-cfe", "bcm2835-isp", "pispbe"] {
            assert!(is_pi_camera_pipeline(d), "{d}");
        }
        for d in ["uvcvideo", "vivid", "v4l2 loopback", "bcm2835-codec", ""] {
            assert!(!is_pi_camera_pipeline(d), "{d}");
        }
    }

    #[test]
    fn table_and_json_of_a_fixed_list() {
        let l = DeviceList {
            cameras: vec![Camera {
                path: "/dev/video0".into(),
                card: "cam".into(),
                driver: "uvcvideo".into(),
                bus: "usb-1".into(),
                formats: vec![CameraFormat {
                    fourcc: "YUYV".into(),
                    description: "YUYV 4:2:2".into(),
                    usable: true,
                    sizes: vec![FrameSizeRates {
                        width: 640,
                        height: 480,
                        fps: vec![30.0, 15.0],
                    }],
                }],
            }],
            csi_cameras: vec!["0 : imx708 [4608x2592 10-bit RGGB] (/base/i2c@1/imx708@1a)".into()],
            microphones: vec![],
            encoders: vec![Encoder {
                kind: "openh264".into(),
                path: String::new(),
                name: "OpenH264 (software)".into(),
            }],
        };
        let t = l.to_table();
        assert!(
            t.contains("/dev/video0") && t.contains("640x480 @ 30/15 fps"),
            "{t}"
        );
        assert!(t.contains("MICROPHONES\n  (none)"), "{t}");
        assert!(
            t.contains("through rpicam-vid)\n  0 : imx708 [4608x2592"),
            "{t}"
        );
        let j = serde_json::to_value(&l).unwrap();
        assert_eq!(j["cameras"][0]["formats"][0]["sizes"][0]["fps"][0], 30.0);
        assert_eq!(j["encoders"][0]["kind"], "openh264");
        assert_eq!(j["csi_cameras"].as_array().map(Vec::len), Some(1));
    }
}
