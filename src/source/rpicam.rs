//! CSI cameras through `rpicam-vid` (libcamera): its raw I420 frames into our encoder, or its own
//! H.264 passed through.
//!
//! A CSI camera module on a Pi has no usable V4L2 capture node of its own (unicam gives raw
//! Bayer; the ISP is driven by libcamera), so `video.source = "rpicam"` runs the Raspberry Pi
//! helper `rpicam-vid` and reads its standard output:
//!
//! * [`RpicamSource`] (any encoder): `rpicam-vid --codec yuv420 -t 0 -n --width W --height H
//!   --framerate F --flush -o -` ([`raw_args`]), one padded I420 frame read per
//!   [`next_frame`](VideoSource::next_frame), the padding dropped on the copy into the pool
//!   buffer, stamped by the frame count as in the H.264 mode below (a pipe carries no sensor
//!   timestamps, and arrival times jitter with the scheduler). [`supervised_rpicam`] wraps it in the [`SupervisedVideo`] slate/backoff/
//!   discontinuity machinery the V4L2 camera uses: when `rpicam-vid` exits, the slate shows
//!   `NO SIGNAL: rpicam-vid GONE - RETRYING` and the helper is started again.
//! * [`RpicamH264`] (`encoder = "camera"`): `rpicam-vid --codec h264 --inline --profile baseline
//!   --intra G -b BPS … -o -` ([`h264_args`]; plus `--libav-format h264` on boards without the
//!   `bcm2835-codec` hardware encoder, i.e. the Pi 5), the byte stream cut into access units by
//!   [`AuSplitter`]; restarted with backoff when it exits, the first access unit after a restart
//!   flagged as a discontinuity.
//!
//! The program is `rpicam-vid` from `PATH`, or the path in the environment variable
//! [`PROGRAM_ENV`] (`HLSCAM_RPICAM_VID`; tests point it at a stand-in). Its standard error goes to
//! our log, line by line, prefixed `rpicam-vid[pid]:`. It runs in its own process group (a
//! terminal's Ctrl-C reaches hlscam, which then stops it) and is killed and reaped, by its PID,
//! when the source is dropped; if hlscam dies first, its next write fails with `EPIPE`.
//!
//! # What `--codec yuv420 -o -` writes (established from the sources, not from a Pi)
//!
//! * `Encoder::Create` makes a `NullEncoder` for `yuv420` (rpicam-apps `encoder/encoder.cpp`),
//!   which hands every buffer to the output unchanged, `length` = the whole buffer
//!   (`encoder/null_encoder.cpp`); `RPiCamEncoder::EncodeBuffer` passes the first mapped span of
//!   the video stream's buffer and its size (`core/rpicam_encoder.hpp`); `-o -` writes it to
//!   standard output. One frame = one whole buffer, nothing in between.
//! * The video stream is `formats::YUV420` at `--width`×`--height` (`ConfigureVideo`,
//!   `core/rpicam_app.cpp`). Planes sharing one dmabuf are mapped as one span whose size is the
//!   sum of the plane lengths (same file). libcamera splits a single V4L2 plane into colour
//!   planes with the chroma stride = luma stride / 2 and each plane `stride × ceil(rows)`
//!   long (`V4L2VideoDevice::createBuffer`, `src/libcamera/v4l2_videodevice.cpp`;
//!   `PixelFormatInfo::planeSize`, `formats.cpp`). So a frame is Y: `H` rows of `stride` bytes,
//!   then U and V: `H/2` rows of `stride/2` bytes each — `stride × H × 3/2` bytes, the bytes
//!   past `W` (resp. `W/2`) in every row being padding ([`PaddedI420`]).
//! * The stride is not printed, so it is computed from the width, per ISP:
//!   - Pi 0–4 (VC4, `bcm2835-isp`): `bytesperline = ALIGN(width, 64)` for YUV420
//!     (`bytesperline_align = 64`, `get_bytesperline`, `bcm2835-isp-fmts.h` /
//!     `bcm2835-v4l2-isp.c` in the Raspberry Pi kernel);
//!   - Pi 5 (PiSP): the chroma stride is `ALIGN(width/2, 64)` (`compute_optimal_stride` with
//!     `PISP_BACK_END_OUTPUT_MAX_ALIGN`, libpisp `utils.cpp`) and the luma stride twice that
//!     (`computeOptimalStride`, libcamera `pipeline/rpi/pisp/pisp.cpp`), i.e. `ALIGN(width, 128)`.
//!
//!   [`Isp::detect`] tells them apart by the device tree (`brcm,bcm2712` is a Pi 5); the
//!   environment variable [`ALIGN_ENV`] (`HLSCAM_RPICAM_ALIGN`, a power of two) overrides it.
//!   A libcamera that adjusted the requested size would make the frames another length: the
//!   size libcamera reports on standard error (`configuring streams: (0) WxH-YUV420`) is
//!   compared with the configured one and a mismatch is logged as a warning.
//!
//! # The H.264 mode
//!
//! `--inline` repeats SPS/PPS before every I-frame; `--intra` sets the GOP (the segment length
//! in frames); `--profile baseline` keeps B-frames out (the Pi 5's software encoder, libx264
//! through libav, uses one B-frame otherwise — rpicam-apps `encoder/libav_encoder.cpp`), so
//! decode order is presentation order and PTS = DTS. The Pi 5 needs `--libav-format h264` for
//! an elementary stream on standard output (no format can be guessed from `-`). PTS are the
//! frame count × frame period from the arrival time of the first access unit (arrival itself
//! jitters with the encoder's latency, and comes in bursts after a stall), re-anchored to the
//! arrival time when they fall more than [`DRIFT_MAX`] behind it (frames dropped by the camera
//! or a rate below the nominal one; a camera cannot run ahead of its fixed frame duration, so
//! timestamps ahead of arrival are a burst and are kept). When the helper exits with status 0
//! the access unit in progress is whole and is handed out; after a crash or a kill it is
//! dropped (its end cannot be told from a truncation).
//!
//! References: Raspberry Pi documentation, camera software, `rpicam-vid` and its video options
//! (`codec`, `inline`, `intra`, `profile`, `framerate`, `low-latency`), and the rpicam-apps,
//! libcamera, libpisp and kernel sources named above. Nothing here has run on a real Pi: the
//! tests use a stand-in that writes this layout.

use super::convert::{self, ConvertError};
use super::supervisor::{next_backoff, Opener, SupervisedVideo, BACKOFF_MIN};
use super::{RawFrame, SourceError, VideoFormat, VideoSource};
use crate::codec::annexb::AuSplitter;
use crate::encode::EncodedVideo;
use crate::pipeline::EncodedVideoSource;
use crate::pool::Pool;
use crate::stats::Stats;
use crate::time::{Clock, Pts90k, HZ_90K};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// Environment variable naming the program to run instead of `rpicam-vid` from `PATH` (a test
/// stand-in, a wrapper script, a build of rpicam-apps elsewhere).
pub const PROGRAM_ENV: &str = "HLSCAM_RPICAM_VID";
/// Environment variable overriding the stride alignment in bytes (a power of two, e.g. `64` for
/// VC4 boards, `128` for the Pi 5) when the detection by [`Isp::detect`] is wrong.
pub const ALIGN_ENV: &str = "HLSCAM_RPICAM_ALIGN";
/// The program run by default (found on `PATH`).
pub const DEFAULT_PROGRAM: &str = "rpicam-vid";
/// The label on the slate and in logs.
pub const LABEL: &str = DEFAULT_PROGRAM;
/// How long the first frame may take (libcamera starts the camera and the ISP; no slate is
/// shown meanwhile, so this is kept short).
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any later frame may take before the helper counts as stuck (and is restarted).
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(3);
/// How far count-based H.264 timestamps may fall behind arrival times before re-anchoring.
pub const DRIFT_MAX: Pts90k = Pts90k::from_millis(500);

/// Media time of frames from a fixed-rate camera that arrive through a pipe, raw or encoded
/// (see the module docs): frame count × frame period from the first arrival, re-anchored when
/// that falls more than [`DRIFT_MAX`] behind arrival, strictly increasing.
#[derive(Debug)]
struct FrameClock {
    fps: u64,
    /// Frames stamped since the start (or [`FrameClock::restart`]).
    frames: u64,
    anchor: Option<Pts90k>,
    last: Option<Pts90k>,
}

impl FrameClock {
    fn new(fps: u32) -> Self {
        FrameClock {
            fps: u64::from(fps.max(1)),
            frames: 0,
            anchor: None,
            last: None,
        }
    }

    /// The helper restarted: count again from its first frame (still after the last stamp).
    fn restart(&mut self) {
        self.frames = 0;
        self.anchor = None;
    }

    /// Media time of the frame that arrived at `now`.
    fn stamp(&mut self, now: Duration, name: &str) -> Pts90k {
        let offset = self.frames * HZ_90K / self.fps;
        let arrival = Pts90k::from_duration(now);
        let anchor = *self
            .anchor
            .get_or_insert(Pts90k(arrival.0.saturating_sub(offset)));
        let mut pts = Pts90k(anchor.0 + offset);
        if arrival.0 > pts.0 + DRIFT_MAX.0 {
            log::debug!("{name}: timestamps re-anchored ({pts} vs {arrival})");
            self.anchor = Some(Pts90k(arrival.0.saturating_sub(offset)));
            pts = arrival;
        }
        if let Some(last) = self.last {
            if pts <= last {
                pts = Pts90k(last.0 + 1);
            }
        }
        self.last = Some(pts);
        self.frames += 1;
        pts
    }
}

/// The program to run: [`PROGRAM_ENV`] if set and not empty, else [`DEFAULT_PROGRAM`].
pub fn program() -> String {
    std::env::var(PROGRAM_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PROGRAM.to_string())
}

/// The image signal processor behind libcamera, which decides the stride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isp {
    /// Pi 0–4 (`bcm2835-isp`): luma stride `ALIGN(width, 64)`.
    Vc4,
    /// Pi 5 (PiSP back end): luma stride `2 × ALIGN(width/2, 64)`.
    Pisp,
}

impl Isp {
    /// Reads `/proc/device-tree/compatible` (VC4 when absent: not a Pi 5).
    pub fn detect() -> Isp {
        Isp::from_compatible(&std::fs::read("/proc/device-tree/compatible").unwrap_or_default())
    }

    /// From the NUL-separated device-tree `compatible` list: BCM2712 is the Pi 5.
    pub fn from_compatible(dt: &[u8]) -> Isp {
        if dt.split(|&b| b == 0).any(|c| c == b"brcm,bcm2712") {
            Isp::Pisp
        } else {
            Isp::Vc4
        }
    }

    /// The luma stride alignment in bytes (for even widths).
    pub fn stride_align(self) -> usize {
        match self {
            Isp::Vc4 => 64,
            Isp::Pisp => 128,
        }
    }
}

/// The stride alignment to use: [`ALIGN_ENV`] when it holds a power of two up to 4096, else
/// the detected ISP's.
pub fn stride_align() -> usize {
    std::env::var(ALIGN_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|a| a.is_power_of_two() && *a <= 4096)
        .unwrap_or_else(|| Isp::detect().stride_align())
}

/// The layout of one `--codec yuv420` frame on the pipe (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaddedI420 {
    /// Width in pixels (even).
    pub width: usize,
    /// Height in pixels (even).
    pub height: usize,
    /// Luma bytes per row; chroma rows are `stride / 2`.
    pub stride: usize,
}

impl PaddedI420 {
    /// The layout of a `width`×`height` frame with the luma stride aligned to `align` bytes.
    pub fn new(width: usize, height: usize, align: usize) -> Self {
        let align = align.max(2);
        PaddedI420 {
            width,
            height,
            stride: width.div_ceil(align) * align,
        }
    }

    /// Bytes of one frame: `stride × H` + 2 × `stride/2 × H/2`.
    pub fn frame_len(&self) -> usize {
        self.stride * self.height + 2 * (self.stride / 2) * self.height.div_ceil(2)
    }

    /// Copies the picture of `src` (one frame) into `dst` as tightly packed I420.
    pub fn unpad(&self, src: &[u8], dst: &mut [u8]) -> Result<(), ConvertError> {
        convert::i420_copy(src, self.stride, self.width, self.height, dst)
    }
}

/// The arguments of the raw mode.
pub fn raw_args(want: VideoFormat) -> Vec<String> {
    let mut a = vec!["--codec".to_string(), "yuv420".to_string()];
    a.extend(common_args(want));
    a
}

/// The arguments of the H.264 mode: `intra` frames per GOP, `bitrate_kbps`, and whether the
/// board has the hardware encoder (else `--libav-format h264` is added, for the Pi 5).
pub fn h264_args(
    want: VideoFormat,
    intra: u32,
    bitrate_kbps: u32,
    hw_encoder: bool,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "--codec",
        "h264",
        "--inline",
        "--profile",
        "baseline",
        "--intra",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(intra.max(1).to_string());
    a.push("-b".to_string());
    a.push((u64::from(bitrate_kbps) * 1000).to_string());
    if !hw_encoder {
        a.push("--libav-format".to_string());
        a.push("h264".to_string());
    }
    a.extend(common_args(want));
    a
}

fn common_args(want: VideoFormat) -> Vec<String> {
    let mut a: Vec<String> = ["-t", "0", "-n", "--width"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.push(want.width.to_string());
    a.push("--height".to_string());
    a.push(want.height.to_string());
    a.push("--framerate".to_string());
    a.push(want.fps.max(1).to_string());
    a.extend(["--flush", "-o", "-"].iter().map(|s| s.to_string()));
    a
}

/// True when the board has bcm2835-codec's H.264 encoder ([`find_h264_encoder`]): the hardware
/// encoder rpicam-apps uses for `--codec h264` (`h264_codec_select`, `encoder/encoder.cpp`;
/// absent on the Pi 5).
///
/// [`find_h264_encoder`]: crate::encode::v4l2_m2m::find_h264_encoder
pub fn has_hw_h264_encoder() -> bool {
    crate::encode::v4l2_m2m::find_h264_encoder()
        .is_some_and(|(_, card)| card.starts_with("bcm2835-codec"))
}

/// The size in a libcamera `configuring streams: (0) WxH-FORMAT…` line, if it is one.
pub fn configured_size(line: &str) -> Option<(u32, u32)> {
    let rest = line.split("configuring streams: (0) ").nth(1)?;
    let size = rest.split('-').next()?;
    let (w, h) = size.split_once('x')?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

/// The helper's standard output, read with a deadline per read (`poll(2)` first).
struct Pipe {
    out: ChildStdout,
    timeout: Duration,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pfd = libc::pollfd {
            fd: self.out.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = self.timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd we own, for a descriptor we own.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        if r == 0 {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no data"));
        }
        self.out.read(buf)
    }
}

/// A running `rpicam-vid` (or stand-in): killed and reaped on drop.
struct Helper {
    child: Child,
    pipe: Pipe,
    pid: u32,
}

impl Helper {
    /// Starts `program args…`; its standard error is logged by a thread of its own.
    fn spawn(program: &str, args: &[String], want: VideoFormat) -> Result<Helper, SourceError> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                let msg = format!(
                    "{program}: cannot start: {e} (install rpicam-apps or set {PROGRAM_ENV})"
                );
                match e.kind() {
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => {
                        SourceError::Gone(msg)
                    }
                    _ => SourceError::Io(msg),
                }
            })?;
        let pid = child.id();
        let out = child.stdout.take().expect("stdout is piped");
        if let Some(err) = child.stderr.take() {
            let spawned = std::thread::Builder::new()
                .name("rpicam-log".into())
                .spawn(move || log_lines(err, pid, want));
            if let Err(e) = spawned {
                log::warn!("rpicam-vid[{pid}]: its messages are not logged: {e}");
            }
        }
        log::info!("started {program} (pid {pid}) {}", args.join(" "));
        Ok(Helper {
            child,
            pipe: Pipe {
                out,
                timeout: START_TIMEOUT,
            },
            pid,
        })
    }

    /// Why the output ended — the exit status once the process is gone (waits up to 2 s) — and
    /// whether it was a clean exit (status 0: everything it wrote is complete).
    fn ended(&mut self) -> (String, bool) {
        for _ in 0..100 {
            match self.child.try_wait() {
                Ok(Some(status)) => return (format!("exited ({status})"), status.success()),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return (format!("closed its output (wait: {e})"), false),
            }
        }
        ("closed its output".to_string(), false)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Our own child, by its PID (std's kill/wait act on exactly this process).
        let _ = self.child.kill();
        let _ = self.child.wait();
        log::debug!("rpicam-vid[{}] stopped", self.pid);
    }
}

/// Logs the helper's standard error, one line at a time; warns when libcamera configured
/// another size than asked for.
fn log_lines(err: std::process::ChildStderr, pid: u32, want: VideoFormat) {
    for line in BufReader::new(err).lines().map_while(Result::ok) {
        if let Some((w, h)) = configured_size(&line) {
            if (w, h) != (want.width, want.height) {
                log::warn!(
                    "rpicam-vid[{pid}]: libcamera configured {w}x{h}, not the {}x{} asked for: \
                     frames will not be read right (use a size the camera offers)",
                    want.width,
                    want.height
                );
            }
        }
        let l = line.trim_end();
        if l.contains("ERROR") || l.contains("error") {
            log::warn!("rpicam-vid[{pid}]: {l}");
        } else if !l.is_empty() {
            log::info!("rpicam-vid[{pid}]: {l}");
        }
    }
}

/// Raw I420 frames from `rpicam-vid --codec yuv420` (see the module docs).
pub struct RpicamSource {
    helper: Helper,
    layout: PaddedI420,
    fmt: VideoFormat,
    clock: Arc<dyn Clock>,
    /// One padded frame, allocated at start.
    scratch: Vec<u8>,
    name: String,
    seq: u64,
    stamps: FrameClock,
}

impl std::fmt::Debug for RpicamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpicamSource")
            .field("pid", &self.helper.pid)
            .field("layout", &self.layout)
            .finish()
    }
}

impl RpicamSource {
    /// Starts `program` for `want`, rows padded to `align` (the helper's stride, see
    /// [`stride_align`]); media time from `clock`.
    pub fn spawn_with(
        program: &str,
        align: usize,
        want: VideoFormat,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SourceError> {
        if want.width == 0 || want.height == 0 || want.width % 2 == 1 || want.height % 2 == 1 {
            return Err(SourceError::Io(format!(
                "rpicam: {}x{}: width and height must be even and non-zero",
                want.width, want.height
            )));
        }
        let layout = PaddedI420::new(want.width as usize, want.height as usize, align);
        let helper = Helper::spawn(program, &raw_args(want), want)?;
        Ok(RpicamSource {
            helper,
            layout,
            fmt: want,
            clock,
            scratch: vec![0; layout.frame_len()],
            name: format!("rpicam:{program}"),
            seq: 0,
            stamps: FrameClock::new(want.fps),
        })
    }

    /// The frame layout read from the pipe.
    pub fn layout(&self) -> PaddedI420 {
        self.layout
    }
}

impl VideoSource for RpicamSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn format(&self) -> VideoFormat {
        self.fmt
    }

    fn next_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError> {
        self.helper.pipe.timeout = if self.seq == 0 {
            START_TIMEOUT
        } else {
            FRAME_TIMEOUT
        };
        // Rows without padding are already packed I420: read straight into a pool buffer (one
        // copy). With padding (or no free buffer) through `scratch`, then `unpad`; a frame is
        // read whole either way, so a full pool still costs exactly one frame.
        let mut direct = if self.layout.stride == self.layout.width {
            pool.try_take()
                .filter(|b| b.len() == self.layout.frame_len())
        } else {
            None
        };
        let read = match direct.as_mut() {
            Some(buf) => self.helper.pipe.read_exact(buf),
            None => self.helper.pipe.read_exact(&mut self.scratch),
        };
        if let Err(e) = read {
            // A partial frame is dropped with the helper (the supervisor restarts it).
            return Err(match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    SourceError::Gone(format!("{}: {}", self.name, self.helper.ended().0))
                }
                io::ErrorKind::TimedOut => SourceError::Timeout(format!(
                    "{}: no whole frame within {:?}",
                    self.name, self.helper.pipe.timeout
                )),
                _ => SourceError::Io(format!("{}: read: {e}", self.name)),
            });
        }
        let captured = self.clock.monotonic();
        let buf = match direct {
            Some(buf) => buf,
            None => {
                let mut buf = pool.try_take().ok_or(SourceError::PoolExhausted)?;
                self.layout
                    .unpad(&self.scratch, &mut buf)
                    .map_err(|e| SourceError::Io(format!("{}: pool buffer: {e}", self.name)))?;
                buf
            }
        };
        let pts = self.stamps.stamp(captured, &self.name);
        self.seq += 1;
        Ok(RawFrame {
            buf,
            format: self.fmt,
            pts,
            captured,
            wall: self.clock.wall(),
            seq: self.seq,
            discontinuity: false,
        })
    }
}

/// How long `rpicam-vid --list-cameras` may take (libcamera enumerates the sensors).
pub const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// The CSI cameras `program --list-cameras` reports, one line each as it prints them
/// (`0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)`); empty when it
/// says `No cameras available!`. `Err` when the program cannot be run (not installed: the
/// error's kind is [`io::ErrorKind::NotFound`]), fails or takes longer than [`LIST_TIMEOUT`]
/// (then it is killed).
pub fn list_cameras(program: &str) -> io::Result<Vec<String>> {
    let mut child = Command::new(program)
        .arg("--list-cameras")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut out = String::new();
    // The listing is a few hundred bytes: it fits the pipe, so reading after the exit is safe.
    let deadline = std::time::Instant::now() + LIST_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{program} --list-cameras took over {LIST_TIMEOUT:?}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut out)?;
    }
    if status.code() == Some(127) {
        // The shell's (and qemu-user's) "command not found".
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{program}: not found"),
        ));
    }
    if !status.success() {
        return Err(io::Error::other(format!(
            "{program} --list-cameras: {status}"
        )));
    }
    Ok(parse_camera_list(&out))
}

/// The camera lines of a `--list-cameras` listing (`N : sensor [...] (path)`).
pub fn parse_camera_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            let digits = l.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && l[digits..].starts_with(" : ")
        })
        .map(str::to_string)
        .collect()
}

/// The usual wiring of `video.source = "rpicam"`: [`RpicamSource`] supervised — the test
/// pattern as slate while `rpicam-vid` is down, restarts with backoff, discontinuity on each
/// switch — with restarts counted in `stats` when given.
pub fn supervised_rpicam(
    want: VideoFormat,
    clock: Arc<dyn Clock>,
    stats: Option<Arc<Stats>>,
) -> SupervisedVideo {
    supervised_rpicam_with(&program(), stride_align(), want, clock, stats)
}

/// As [`supervised_rpicam`] with the program and the stride alignment given.
pub fn supervised_rpicam_with(
    program: &str,
    align: usize,
    want: VideoFormat,
    clock: Arc<dyn Clock>,
    stats: Option<Arc<Stats>>,
) -> SupervisedVideo {
    let (prog, c) = (program.to_string(), clock.clone());
    let opener: Opener = Box::new(move || {
        let src = RpicamSource::spawn_with(&prog, align, want, c.clone())?;
        Ok(Box::new(src) as Box<dyn VideoSource>)
    });
    let slate = Box::new(super::testsrc::TestPattern::new(want));
    let sv = SupervisedVideo::new(LABEL, want, opener, slate, clock);
    match stats {
        Some(s) => sv.with_stats(s),
        None => sv,
    }
}

/// `rpicam-vid`'s own H.264 (`encoder = "camera"`), restarted when it exits (see the module
/// docs). There is no slate on this path (no encoder to draw one): segments pause while it is
/// down, and the first access unit after a restart carries `discontinuity`.
pub struct RpicamH264 {
    program: String,
    args: Vec<String>,
    fmt: VideoFormat,
    clock: Arc<dyn Clock>,
    helper: Option<Helper>,
    splitter: AuSplitter,
    name: String,
    backoff: Duration,
    restarted: bool,
    /// Media time; its `frames` counts access units since the helper (re)started.
    stamps: FrameClock,
    /// The helper exited cleanly after its last access unit was handed out: reported next.
    exited: Option<String>,
}

impl std::fmt::Debug for RpicamH264 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpicamH264")
            .field("name", &self.name)
            .field("running", &self.helper.is_some())
            .finish()
    }
}

impl RpicamH264 {
    /// Starts [`program`] with [`h264_args`] (`intra` frames per GOP, `bitrate_kbps`,
    /// `--libav-format h264` when [`has_hw_h264_encoder`] is false). An error here (the program
    /// cannot be started) is reported; later exits are restarts.
    pub fn spawn(
        want: VideoFormat,
        intra: u32,
        bitrate_kbps: u32,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SourceError> {
        let args = h264_args(want, intra, bitrate_kbps, has_hw_h264_encoder());
        Self::spawn_with(&program(), args, want, clock)
    }

    /// As [`spawn`](Self::spawn) with the program and its arguments given.
    pub fn spawn_with(
        program: &str,
        args: Vec<String>,
        want: VideoFormat,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SourceError> {
        let helper = Helper::spawn(program, &args, want)?;
        Ok(Self::with_helper(program, args, want, clock, Some(helper)))
    }

    /// The state of a source running `helper` (none yet: started on the first read).
    fn with_helper(
        program: &str,
        args: Vec<String>,
        want: VideoFormat,
        clock: Arc<dyn Clock>,
        helper: Option<Helper>,
    ) -> Self {
        RpicamH264 {
            program: program.to_string(),
            args,
            fmt: want,
            clock,
            helper,
            splitter: AuSplitter::new(1 << 20),
            name: format!("rpicam-h264:{program}"),
            backoff: BACKOFF_MIN,
            restarted: false,
            stamps: FrameClock::new(want.fps),
            exited: None,
        }
    }

    /// Media time of the access unit that arrived at `now` (see the module docs).
    fn stamp(&mut self, now: Duration) -> Pts90k {
        self.stamps.stamp(now, &self.name)
    }

    fn lost(&mut self, e: SourceError) -> SourceError {
        // Quick failures back off (a camera that is not there); a run that delivered restarts
        // soon.
        self.backoff = if self.stamps.frames == 0 {
            next_backoff(self.backoff)
        } else {
            BACKOFF_MIN
        };
        self.helper = None;
        self.restarted = true;
        e
    }
}

impl EncodedVideoSource for RpicamH264 {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_au(&mut self, out: &mut EncodedVideo) -> Result<(), SourceError> {
        if let Some(why) = self.exited.take() {
            let e = SourceError::Gone(format!("{}: {why}; restarting", self.name));
            return Err(self.lost(e));
        }
        if self.helper.is_none() {
            std::thread::sleep(self.backoff);
            let helper =
                Helper::spawn(&self.program, &self.args, self.fmt).map_err(|e| self.lost(e))?;
            log::info!("{}: restarted", self.name);
            self.helper = Some(helper);
            self.splitter.reset();
            self.stamps.restart();
        }
        let Some(helper) = self.helper.as_mut() else {
            return Err(SourceError::Io(format!("{}: not running", self.name)));
        };
        helper.pipe.timeout = if self.stamps.frames == 0 {
            START_TIMEOUT
        } else {
            FRAME_TIMEOUT
        };
        let info = match self.splitter.next_au(&mut helper.pipe, &mut out.data) {
            Ok(Some(info)) => info,
            Ok(None) => {
                // End of output. After a clean exit the last access unit is whole; after a
                // crash or a kill it may be cut short, and is dropped.
                let (why, clean) = helper.ended();
                match self.splitter.finish(&mut out.data).filter(|_| clean) {
                    Some(info) => {
                        self.exited = Some(why);
                        info
                    }
                    None => {
                        let e = SourceError::Gone(format!("{}: {why}; restarting", self.name));
                        return Err(self.lost(e));
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                let e = SourceError::Timeout(format!("{}: no data; restarting", self.name));
                return Err(self.lost(e));
            }
            Err(e) => {
                let e = SourceError::Io(format!("{}: {e}; restarting", self.name));
                return Err(self.lost(e));
            }
        };
        let now = self.clock.monotonic();
        let pts = self.stamp(now);
        out.pts = pts;
        out.dts = pts;
        out.key = info.key;
        out.captured = now;
        out.wall = self.clock.wall();
        out.discontinuity = std::mem::take(&mut self.restarted);
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn camera_list_lines_are_picked_out() {
        let text = "Available cameras\n-----------------\n\
            0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)\n\
            \x20   Modes: 'SRGGB10_CSI2P' : 1536x864 [120.13 fps - (768, 432)/3072x1728 crop]\n\
            \x20                            2304x1296 [56.03 fps - (0, 0)/4608x2592 crop]\n\
            \n\
            1 : imx219 [3280x2464 8-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@80000/imx219@10)\n";
        assert_eq!(
            parse_camera_list(text),
            [
                "0 : imx708 [4608x2592 10-bit RGGB] (/base/soc/i2c0mux/i2c@1/imx708@1a)",
                "1 : imx219 [3280x2464 8-bit RGGB] (/base/axi/pcie@120000/rp1/i2c@80000/imx219@10)"
            ]
        );
        assert!(parse_camera_list("No cameras available!\n").is_empty());
    }

    use super::*;

    fn fmt(w: u32, h: u32, fps: u32) -> VideoFormat {
        VideoFormat {
            width: w,
            height: h,
            fps,
        }
    }

    #[test]
    fn strides_per_isp() {
        // VC4: ALIGN(width, 64); PiSP: 2 × ALIGN(width / 2, 64).
        for (w, vc4, pisp) in [
            (64, 64, 128),
            (100, 128, 128),
            (640, 640, 640),
            (1280, 1280, 1280),
            (1296, 1344, 1408),
            (1920, 1920, 1920),
            (1000, 1024, 1024),
            (320, 320, 384),
        ] {
            assert_eq!(
                PaddedI420::new(w, 2, Isp::Vc4.stride_align()).stride,
                vc4,
                "{w}"
            );
            let chroma = (w / 2).div_ceil(64) * 64;
            assert_eq!(2 * chroma, pisp, "{w}");
            assert_eq!(
                PaddedI420::new(w, 2, Isp::Pisp.stride_align()).stride,
                pisp,
                "{w}"
            );
        }
        let l = PaddedI420::new(100, 10, 64);
        assert_eq!(l.frame_len(), 128 * 10 + 2 * 64 * 5);
    }

    #[test]
    fn unpad_drops_the_padding() {
        let l = PaddedI420::new(4, 2, 8);
        // Y rows of 8 (4 picture + 4 padding), U and V one row of 4 (2 + 2).
        let src = [
            1, 2, 3, 4, 0xA5, 0xA5, 0xA5, 0xA5, 5, 6, 7, 8, 0xA5, 0xA5, 0xA5, 0xA5, 9, 10, 0xA5,
            0xA5, 11, 12, 0xA5, 0xA5,
        ];
        assert_eq!(src.len(), l.frame_len());
        let mut dst = [0xA5u8; 12];
        l.unpad(&src, &mut dst).unwrap();
        assert_eq!(dst, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn device_tree_detection() {
        assert_eq!(
            Isp::from_compatible(b"raspberrypi,5-model-b\0brcm,bcm2712\0"),
            Isp::Pisp
        );
        assert_eq!(
            Isp::from_compatible(b"raspberrypi,4-model-b\0brcm,bcm2711\0"),
            Isp::Vc4
        );
        assert_eq!(Isp::from_compatible(b""), Isp::Vc4);
    }

    #[test]
    fn arguments() {
        assert_eq!(
            raw_args(fmt(1280, 720, 30)).join(" "),
            "--codec yuv420 -t 0 -n --width 1280 --height 720 --framerate 30 --flush -o -"
        );
        assert_eq!(
            h264_args(fmt(640, 480, 25), 50, 2000, true).join(" "),
            "--codec h264 --inline --profile baseline --intra 50 -b 2000000 -t 0 -n --width 640 \
             --height 480 --framerate 25 --flush -o -"
        );
        assert!(h264_args(fmt(640, 480, 25), 50, 2000, false)
            .join(" ")
            .contains("-b 2000000 --libav-format h264 -t 0"));
    }

    #[test]
    fn libcamera_size_line() {
        assert_eq!(
            configured_size(
                "[0:01:02.3] [1234]  INFO Camera camera.cpp:1183 configuring streams: (0) \
                 1280x720-YUV420/Rec709 (1) 1536x864-BGGR_PISP_COMP1/RAW"
            ),
            Some((1280, 720))
        );
        assert_eq!(configured_size("Mode selection for 1280:720:12:P"), None);
    }

    #[test]
    fn missing_program_is_gone() {
        let clock: Arc<dyn Clock> = Arc::new(crate::time::SimClock::at_2026());
        let r = RpicamSource::spawn_with("/nonexistent/rpicam-vid", 64, fmt(64, 36, 30), clock);
        // Natively the spawn itself fails; under qemu-user the exec failure only shows as a
        // child exiting with 127, so the first read reports the helper gone.
        let r = r.and_then(|mut src| {
            let pool = Pool::new(1, fmt(64, 36, 30).i420_len());
            src.next_frame(&pool).map(|_| src)
        });
        assert!(matches!(r, Err(SourceError::Gone(_))), "{r:?}");
    }

    #[test]
    fn jittered_arrivals_get_one_frame_period_each() {
        // Raw frames arriving through the pipe ±16 ms around the nominal instant (a loaded
        // board): the stamps stay exactly 1/30 s apart, so no two frames share a frame slot.
        let mut c = FrameClock::new(30);
        let t0 = Duration::from_secs(5);
        for n in 0..300u64 {
            let jitter = [0i64, 16, -16, 9, -9][n as usize % 5];
            let at = t0 + Duration::from_micros(n * 33_333) + Duration::from_millis(20);
            let at = Duration::from_micros((at.as_micros() as i64 + jitter * 1000) as u64);
            assert_eq!(
                c.stamp(at, "test"),
                Pts90k(450_000 + 1_800 + n * 3_000),
                "frame {n}"
            );
        }
        // After a restart the count starts again from the next arrival, still increasing.
        c.restart();
        let last = c.stamp(Duration::from_secs(20), "test");
        assert_eq!(last, Pts90k(1_800_000));
        assert!(c.stamp(Duration::from_secs(20), "test") > last);
    }

    #[test]
    fn h264_timestamps_follow_the_frame_count() {
        let clock: Arc<dyn Clock> = Arc::new(crate::time::SimClock::at_2026());
        let mut s = RpicamH264::with_helper("", Vec::new(), fmt(64, 36, 30), clock, None);
        let t0 = Duration::from_secs(10);
        assert_eq!(s.stamp(t0), Pts90k(900_000));
        // Bursty arrival: still one frame period apart.
        assert_eq!(s.stamp(t0), Pts90k(903_000));
        assert_eq!(s.stamp(t0 + Duration::from_millis(120)), Pts90k(906_000));
        // A burst of 20 after a stall: ahead of arrival (by up to 0.58 s), the count is kept.
        for n in 3..23 {
            let pts = s.stamp(t0 + Duration::from_millis(150));
            assert_eq!(pts, Pts90k(900_000 + n * 3000));
        }
        // The camera dropped frames: behind arrival by 1.2 s, re-anchored to it.
        assert_eq!(s.stamp(t0 + Duration::from_secs(2)), Pts90k(1_080_000));
        assert_eq!(s.stamp(t0 + Duration::from_millis(2033)), Pts90k(1_083_000));
    }
}
