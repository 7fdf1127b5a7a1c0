//! A hardware encoder with a software understudy: when the primary encoder fails at run time the
//! stream goes on with the fallback, and the switch is marked for the playlist.
//!
//! [`FallbackEncoder`] wraps a primary [`VideoEncoder`] (the V4L2 M2M hardware encoder) and a
//! factory for the fallback (OpenH264). On the primary's first error it:
//!
//! 1. logs the failure and the switch, once (`hardware encoder … failed: …; switching to the
//!    software encoder`);
//! 2. drops the primary (closing the device) and builds the fallback for the same geometry;
//! 3. forces an IDR on the fallback and encodes the failed picture with it, so at most the
//!    pictures still in flight inside the hardware are lost;
//! 4. flags the first access unit out of the fallback with `discontinuity`, so the segment it
//!    starts carries `EXT-X-DISCONTINUITY` (RFC 8216 §4.3.2.3: the encoder, and with it the
//!    SPS/PPS and timestamps' origin, changed);
//! 5. records the new encoder name in [`Stats`] and raises [`Stats::encoder_fallbacks`], and sets
//!    the shared `failed` flag so a later rebuild (geometry change) goes straight to software.
//!
//! The switch happens at most once per wrapper; a fallback that cannot be built is an encode
//! error for that picture and is retried on the next one.
//!
//! [`hardware_first`] is the pipeline's [`EncoderFactory`] for `encoder = "auto"` /
//! `"v4l2m2m"`: the hardware encoder wrapped as above while it works, the software one once it
//! has failed (at start, or later) — the pipeline calls the factory again only when the
//! geometry changes, and a hardware encoder that failed once is not tried again.

use super::{EncodeError, EncodedVideo, VideoEncoder};
use crate::pipeline::EncoderFactory;
use crate::source::{RawFrame, VideoFormat};
use crate::stats::Stats;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Builds the fallback encoder (called once, at the switch).
pub type MakeFallback = Box<dyn FnMut() -> Result<Box<dyn VideoEncoder>, EncodeError> + Send>;

/// Builds an encoder for a geometry.
pub type OpenEncoder =
    Arc<dyn Fn(VideoFormat) -> Result<Box<dyn VideoEncoder>, EncodeError> + Send + Sync>;

/// The hardware encoder `hw` with `sw` as its understudy (see the module docs); the switch is
/// reported in `stats`.
pub fn hardware_first(
    hw: OpenEncoder,
    sw: OpenEncoder,
    stats: Option<Arc<Stats>>,
) -> EncoderFactory {
    let failed = Arc::new(AtomicBool::new(false));
    Box::new(move |fmt: VideoFormat| {
        if !failed.load(Ordering::SeqCst) {
            match hw(fmt) {
                Ok(primary) => {
                    let sw = sw.clone();
                    let wrapped =
                        FallbackEncoder::new(primary, Box::new(move || sw(fmt)), failed.clone());
                    return Ok(Box::new(match &stats {
                        Some(s) => wrapped.with_stats(s.clone()),
                        None => wrapped,
                    }));
                }
                Err(e) => {
                    failed.store(true, Ordering::SeqCst);
                    log::warn!(
                        "hardware encoder could not start for {}x{}@{}: {e}; using the software \
                         encoder",
                        fmt.width,
                        fmt.height,
                        fmt.fps
                    );
                    if let Some(s) = &stats {
                        Stats::add(&s.encoder_fallbacks, 1);
                    }
                }
            }
        }
        let e = sw(fmt)?;
        if let Some(s) = &stats {
            s.set_encoder(e.name());
        }
        Ok(e)
    })
}

/// See the module docs.
pub struct FallbackEncoder {
    primary: Option<Box<dyn VideoEncoder>>,
    fallback: Option<Box<dyn VideoEncoder>>,
    make_fallback: MakeFallback,
    failed: Arc<AtomicBool>,
    stats: Option<Arc<Stats>>,
    /// The next access unit out of the fallback starts a new run of media.
    mark_next: bool,
    /// A keyframe was requested while neither encoder was ready.
    want_key: bool,
}

impl FallbackEncoder {
    /// Wraps `primary`; `make_fallback` builds the software encoder when it fails; `failed` is
    /// set at the switch (shared with the factory that built this wrapper).
    pub fn new(
        primary: Box<dyn VideoEncoder>,
        make_fallback: MakeFallback,
        failed: Arc<AtomicBool>,
    ) -> Self {
        FallbackEncoder {
            primary: Some(primary),
            fallback: None,
            make_fallback,
            failed,
            stats: None,
            mark_next: false,
            want_key: false,
        }
    }

    /// Reports the switch in `stats` (encoder name, `encoder_fallbacks`).
    pub fn with_stats(mut self, stats: Arc<Stats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// True once the primary has failed and the fallback took over.
    pub fn switched(&self) -> bool {
        self.primary.is_none()
    }

    fn switch(&mut self, why: &EncodeError) {
        let from = self
            .primary
            .take()
            .map(|p| p.name().to_string())
            .unwrap_or_default();
        self.failed.store(true, Ordering::SeqCst);
        self.mark_next = true;
        self.want_key = true;
        if let Some(s) = &self.stats {
            Stats::add(&s.encoder_fallbacks, 1);
        }
        log::warn!(
            "hardware encoder {from} failed: {why}; switching to the software encoder (the next \
             segment is marked with EXT-X-DISCONTINUITY)"
        );
    }
}

impl VideoEncoder for FallbackEncoder {
    fn name(&self) -> &str {
        match (&self.primary, &self.fallback) {
            (Some(p), _) => p.name(),
            (None, Some(f)) => f.name(),
            (None, None) => "none",
        }
    }

    fn encode(&mut self, frame: &RawFrame, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
        if let Some(p) = &mut self.primary {
            match p.encode(frame, out) {
                Ok(v) => return Ok(v),
                Err(e) => self.switch(&e),
            }
        }
        let f = match &mut self.fallback {
            Some(f) => f,
            slot @ None => {
                // Retried once per picture until it works (e.g. a transient allocation failure).
                let f = (self.make_fallback)().inspect_err(|e| {
                    log::error!("the software encoder could not be built: {e}");
                })?;
                log::info!("video encoder now {}", f.name());
                if let Some(s) = &self.stats {
                    s.set_encoder(f.name());
                }
                slot.insert(f)
            }
        };
        if std::mem::take(&mut self.want_key) {
            f.force_keyframe();
        }
        let produced = f.encode(frame, out)?;
        if produced && std::mem::take(&mut self.mark_next) {
            out.discontinuity = true;
        }
        Ok(produced)
    }

    fn force_keyframe(&mut self) {
        match (&mut self.primary, &mut self.fallback) {
            (Some(p), _) => p.force_keyframe(),
            (None, Some(f)) => f.force_keyframe(),
            (None, None) => self.want_key = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::Pool;
    use crate::source::VideoFormat;
    use crate::time::Pts90k;
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    /// Writes its name and the frame's sequence number; fails from picture `fail_at` on.
    struct Fake {
        name: &'static str,
        fail_at: Option<u64>,
        forced: Arc<Mutex<Vec<(&'static str, u64)>>>,
        key_next: bool,
    }

    impl VideoEncoder for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn encode(&mut self, f: &RawFrame, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
            if self.fail_at.is_some_and(|n| f.seq >= n) {
                return Err(EncodeError {
                    msg: "VIDIOC_DQBUF: No such device (os error 19)".into(),
                });
            }
            out.data.clear();
            out.data.extend_from_slice(self.name.as_bytes());
            out.pts = f.pts;
            out.key = std::mem::take(&mut self.key_next);
            out.discontinuity = f.discontinuity;
            Ok(true)
        }
        fn force_keyframe(&mut self) {
            self.key_next = true;
            self.forced.lock().unwrap().push((self.name, 0));
        }
    }

    fn frame(pool: &Pool, seq: u64) -> RawFrame {
        let format = VideoFormat {
            width: 4,
            height: 2,
            fps: 30,
        };
        RawFrame {
            buf: pool.try_take().unwrap(),
            format,
            pts: Pts90k(seq * 3000),
            captured: Duration::ZERO,
            wall: SystemTime::UNIX_EPOCH,
            seq,
            discontinuity: false,
        }
    }

    #[test]
    fn switches_once_with_an_idr_and_a_discontinuity() {
        let forced = Arc::new(Mutex::new(Vec::new()));
        let primary = Fake {
            name: "v4l2m2m:/dev/video11",
            fail_at: Some(3),
            forced: forced.clone(),
            key_next: false,
        };
        let builds = Arc::new(Mutex::new(0));
        let (b, fz) = (builds.clone(), forced.clone());
        let failed = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::new());
        let mut enc = FallbackEncoder::new(
            Box::new(primary),
            Box::new(move || {
                *b.lock().unwrap() += 1;
                Ok(Box::new(Fake {
                    name: "openh264",
                    fail_at: None,
                    forced: fz.clone(),
                    key_next: false,
                }) as Box<dyn VideoEncoder>)
            }),
            failed.clone(),
        )
        .with_stats(stats.clone());
        let pool = Pool::new(1, 12);
        let mut out = EncodedVideo::with_capacity(64);
        let mut seen = Vec::new();
        for seq in 0..6 {
            assert!(enc.encode(&frame(&pool, seq), &mut out).unwrap());
            seen.push((
                String::from_utf8(out.data.clone()).unwrap(),
                out.pts,
                out.key,
                out.discontinuity,
            ));
        }
        let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "v4l2m2m:/dev/video11",
                "v4l2m2m:/dev/video11",
                "v4l2m2m:/dev/video11",
                "openh264",
                "openh264",
                "openh264"
            ]
        );
        // The failed picture itself is encoded by the fallback, as an IDR that opens a new run.
        assert_eq!(seen[3].1, Pts90k(9000));
        assert!(seen[3].2 && seen[3].3, "IDR + discontinuity: {:?}", seen[3]);
        assert!(!seen[4].2 && !seen[4].3);
        assert!(seen[..3].iter().all(|s| !s.3));
        assert_eq!(*builds.lock().unwrap(), 1);
        assert!(failed.load(Ordering::SeqCst) && enc.switched());
        assert_eq!(enc.name(), "openh264");
        assert_eq!(stats.snapshot().encoder, "openh264");
        assert_eq!(stats.encoder_fallbacks.load(Ordering::Relaxed), 1);
        assert_eq!(forced.lock().unwrap().as_slice(), &[("openh264", 0)]);
    }

    #[test]
    fn keyframe_requests_go_to_the_encoder_in_use() {
        let forced = Arc::new(Mutex::new(Vec::new()));
        let fz = forced.clone();
        let mut enc = FallbackEncoder::new(
            Box::new(Fake {
                name: "hw",
                fail_at: Some(1),
                forced: forced.clone(),
                key_next: false,
            }),
            Box::new(move || {
                Ok(Box::new(Fake {
                    name: "sw",
                    fail_at: None,
                    forced: fz.clone(),
                    key_next: false,
                }) as Box<dyn VideoEncoder>)
            }),
            Arc::new(AtomicBool::new(false)),
        );
        let pool = Pool::new(1, 12);
        let mut out = EncodedVideo::with_capacity(64);
        enc.force_keyframe();
        enc.encode(&frame(&pool, 0), &mut out).unwrap();
        assert!(out.key);
        enc.encode(&frame(&pool, 1), &mut out).unwrap();
        enc.force_keyframe();
        enc.encode(&frame(&pool, 2), &mut out).unwrap();
        assert!(out.key && !out.discontinuity);
        assert_eq!(
            forced.lock().unwrap().as_slice(),
            &[("hw", 0), ("sw", 0), ("sw", 0)]
        );
    }

    fn opener(
        name: &'static str,
        fail_at: Option<u64>,
        opens: Arc<Mutex<Vec<String>>>,
    ) -> OpenEncoder {
        Arc::new(move |fmt: VideoFormat| {
            opens
                .lock()
                .unwrap()
                .push(format!("{name} {}x{}", fmt.width, fmt.height));
            if name == "broken-hw" {
                return Err(EncodeError {
                    msg: "VIDIOC_S_FMT: Invalid argument (os error 22)".into(),
                });
            }
            Ok(Box::new(Fake {
                name,
                fail_at,
                forced: Arc::new(Mutex::new(Vec::new())),
                key_next: false,
            }) as Box<dyn VideoEncoder>)
        })
    }

    #[test]
    fn the_factory_stops_trying_hardware_once_it_failed() {
        let opens = Arc::new(Mutex::new(Vec::new()));
        let stats = Arc::new(Stats::new());
        let mut f = hardware_first(
            opener("hw", Some(2), opens.clone()),
            opener("sw", None, opens.clone()),
            Some(stats.clone()),
        );
        let pool = Pool::new(1, 12);
        let mut out = EncodedVideo::with_capacity(64);
        let fmt = frame(&pool, 0).format;
        let mut enc = f(fmt).unwrap();
        assert_eq!(enc.name(), "hw");
        for seq in 0..3 {
            enc.encode(&frame(&pool, seq), &mut out).unwrap();
        }
        assert_eq!(enc.name(), "sw");
        // A geometry change rebuilds: straight to software, hardware is not reopened.
        let wide = VideoFormat { width: 8, ..fmt };
        assert_eq!(f(wide).unwrap().name(), "sw");
        assert_eq!(
            opens.lock().unwrap().as_slice(),
            ["hw 4x2", "sw 4x2", "sw 8x2"]
        );
        assert_eq!(stats.encoder_fallbacks.load(Ordering::Relaxed), 1);
        assert_eq!(stats.snapshot().encoder, "sw");
    }

    #[test]
    fn hardware_that_cannot_start_means_software_from_the_first_picture() {
        let opens = Arc::new(Mutex::new(Vec::new()));
        let stats = Arc::new(Stats::new());
        let mut f = hardware_first(
            opener("broken-hw", None, opens.clone()),
            opener("sw", None, opens.clone()),
            Some(stats.clone()),
        );
        let pool = Pool::new(1, 12);
        let fmt = frame(&pool, 0).format;
        assert_eq!(f(fmt).unwrap().name(), "sw");
        assert_eq!(f(fmt).unwrap().name(), "sw");
        assert_eq!(
            opens.lock().unwrap().as_slice(),
            ["broken-hw 4x2", "sw 4x2", "sw 4x2"]
        );
        assert_eq!(stats.encoder_fallbacks.load(Ordering::Relaxed), 1);
        assert_eq!(stats.snapshot().encoder, "sw");
    }

    #[test]
    fn a_fallback_that_cannot_be_built_is_an_error_and_retried() {
        let attempts = Arc::new(Mutex::new(0));
        let a = attempts.clone();
        let mut enc = FallbackEncoder::new(
            Box::new(Fake {
                name: "hw",
                fail_at: Some(0),
                forced: Arc::new(Mutex::new(Vec::new())),
                key_next: false,
            }),
            Box::new(move || {
                *a.lock().unwrap() += 1;
                Err(EncodeError {
                    msg: "openh264: out of memory".into(),
                })
            }),
            Arc::new(AtomicBool::new(false)),
        );
        let pool = Pool::new(1, 12);
        let mut out = EncodedVideo::with_capacity(64);
        let e = enc.encode(&frame(&pool, 0), &mut out).unwrap_err();
        assert_eq!(e.msg, "openh264: out of memory");
        assert!(enc.encode(&frame(&pool, 1), &mut out).is_err());
        assert_eq!(*attempts.lock().unwrap(), 2);
        assert_eq!(enc.name(), "none");
    }
}
