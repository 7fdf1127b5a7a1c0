//! V4L2 cameras (single-planar capture, mmap streaming): raw video to I420, and H.264 from
//! cameras that encode it themselves.
//!
//! Implements the V4L2 streaming I/O API (kernel `Documentation/userspace-api/media/v4l/mmap.rst`,
//! `vidioc-reqbufs.rst`, `vidioc-qbuf.rst`, `buffer.rst`, `vidioc-g-parm.rst`).
//!
//! * Negotiation prefers what the encoder takes without work: YU12, then NV12, YUYV and MJPEG
//!   (converted by the [`convert`] module), at the configured size; the frame rate is set
//!   with `VIDIOC_S_PARM` and what the driver granted is logged (and used as `format().fps`).
//! * Buffers: [`BUFFERS`] mmap buffers, each re-queued as soon as its picture is copied or
//!   converted into the caller's pool buffer; the data is sliced to `bytesused`.
//! * Time: the buffer's `CLOCK_MONOTONIC` timestamp (`V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC`) is
//!   converted once into media time: media time is the [`Clock::monotonic`] time of the clock
//!   given to [`V4l2Source::open_with_clock`] expressed in 90 kHz ticks (the offset between that
//!   clock and the kernel's monotonic clock is measured at open). [`V4l2Source::open`] uses
//!   [`KernelMonotonic`], i.e. media time is time since boot. Drivers without monotonic
//!   timestamps are stamped at dequeue time.
//! * Drops: gaps in the buffer `sequence` and buffers flagged `V4L2_BUF_FLAG_ERROR` are counted
//!   in [`V4l2Source::drops`] and, when attached with [`V4l2Source::with_stats`], in
//!   [`Stats::drops`].
//! * Unplug safety: the mmap ring is our own (raw ioctls through the `v4l` crate's exports), its
//!   `Drop` ignores `STREAMOFF`/`REQBUFS` errors, and the `v4l` device handle (whose `Drop`
//!   unwraps `close`) is dropped inside `catch_unwind`: an unplugged camera cannot panic the
//!   process. Errors map to [`SourceError::Gone`] (ENODEV, ENOENT, ENXIO), [`SourceError::Timeout`]
//!   (no buffer within [`V4l2Source::timeout`]) or [`SourceError::Io`].

use super::convert::{self, ConvertError, MjpegDecoder};
use super::{RawFrame, SourceError, VideoFormat, VideoSource};
use crate::pool::Pool;
use crate::stats::Stats;
use crate::time::{Clock, Pts90k};
use std::io;
use std::mem::ManuallyDrop;
use std::os::raw::c_void;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use v4l::format::FourCC;
use v4l::v4l2;
use v4l::v4l_sys;
use v4l::video::Capture as _;

/// Number of mmap buffers requested.
pub const BUFFERS: u32 = 4;

/// The kernel's `CLOCK_MONOTONIC` (time since boot) as a [`Clock`].
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelMonotonic;

/// Reads `CLOCK_MONOTONIC`.
pub fn kernel_monotonic() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Clock for KernelMonotonic {
    fn monotonic(&self) -> Duration {
        kernel_monotonic()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A pixel format we can capture, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Planar 4:2:0 (`YU12`), copied.
    Yu12,
    /// Semi-planar 4:2:0 (`NV12`), chroma de-interleaved.
    Nv12,
    /// Packed 4:2:2 (`YUYV`), converted.
    Yuyv,
    /// Motion-JPEG (`MJPG`), decoded.
    Mjpeg,
    /// H.264 elementary stream (`H264`), passed through.
    H264,
}

impl PixelFormat {
    /// Raw formats, best first.
    pub const RAW_PREFERENCE: [PixelFormat; 4] = [
        PixelFormat::Yu12,
        PixelFormat::Nv12,
        PixelFormat::Yuyv,
        PixelFormat::Mjpeg,
    ];

    /// The V4L2 four-character code.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            PixelFormat::Yu12 => *b"YU12",
            PixelFormat::Nv12 => *b"NV12",
            PixelFormat::Yuyv => *b"YUYV",
            PixelFormat::Mjpeg => *b"MJPG",
            PixelFormat::H264 => *b"H264",
        }
    }

    /// From a four-character code (`JPEG` counts as MJPEG).
    pub fn from_fourcc(f: [u8; 4]) -> Option<PixelFormat> {
        Some(match &f {
            b"YU12" => PixelFormat::Yu12,
            b"NV12" => PixelFormat::Nv12,
            b"YUYV" => PixelFormat::Yuyv,
            b"MJPG" | b"JPEG" => PixelFormat::Mjpeg,
            b"H264" => PixelFormat::H264,
            _ => return None,
        })
    }

    /// The four-character code as text.
    pub fn name(self) -> &'static str {
        match self {
            PixelFormat::Yu12 => "YU12",
            PixelFormat::Nv12 => "NV12",
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Mjpeg => "MJPG",
            PixelFormat::H264 => "H264",
        }
    }
}

/// Maps an I/O error of `what` on `dev` to a [`SourceError`].
pub(crate) fn source_err(dev: &str, what: &str, e: &io::Error) -> SourceError {
    let msg = format!("{dev}: {what}: {e}");
    match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENOENT) | Some(libc::ENXIO) => SourceError::Gone(msg),
        _ if e.kind() == io::ErrorKind::TimedOut => SourceError::Timeout(msg),
        _ => SourceError::Io(msg),
    }
}

/// Resolves a device given as a path (`/dev/video0`) or a card name (`vivid-000-vid-cap`, as in
/// `/sys/class/video4linux/videoN/name`) to a path.
pub fn resolve_device(device: &str) -> Result<String, SourceError> {
    if device.starts_with('/') {
        return Ok(device.to_string());
    }
    let mut nodes: Vec<_> = std::fs::read_dir("/sys/class/video4linux")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    nodes.sort_by_key(|n| {
        n.trim_start_matches("video")
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    for n in nodes {
        let name =
            std::fs::read_to_string(format!("/sys/class/video4linux/{n}/name")).unwrap_or_default();
        if name.trim() == device {
            return Ok(format!("/dev/{n}"));
        }
    }
    Err(SourceError::Gone(format!(
        "no V4L2 device named {device:?}"
    )))
}

/// One dequeued buffer.
#[derive(Debug, Clone, Copy)]
struct Dequeued {
    index: usize,
    bytesused: usize,
    flags: u32,
    timestamp: Option<Duration>,
    sequence: u32,
}

/// Our own mmap buffer ring (the `v4l` crate's stream panics in `Drop` on unplug errors).
struct Ring {
    fd: i32,
    bufs: Vec<(*mut u8, usize)>,
    streaming: bool,
}

// SAFETY: the mappings are owned by the ring and only touched through `&self`/`&mut self`.
unsafe impl Send for Ring {}

impl Ring {
    fn desc() -> v4l_sys::v4l2_buffer {
        // SAFETY: v4l2_buffer is plain old data; all-zero is a valid value.
        let mut b: v4l_sys::v4l2_buffer = unsafe { std::mem::zeroed() };
        b.type_ = v4l_sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b.memory = v4l_sys::v4l2_memory_V4L2_MEMORY_MMAP;
        b
    }

    fn new(fd: i32, count: u32) -> io::Result<Ring> {
        // SAFETY: zeroed POD, then a REQBUFS ioctl on our fd with a pointer to it.
        let mut req: v4l_sys::v4l2_requestbuffers = unsafe { std::mem::zeroed() };
        req.count = count;
        req.type_ = v4l_sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
        req.memory = v4l_sys::v4l2_memory_V4L2_MEMORY_MMAP;
        unsafe {
            v4l2::ioctl(
                fd,
                v4l2::vidioc::VIDIOC_REQBUFS,
                &mut req as *mut _ as *mut c_void,
            )?
        };
        let mut ring = Ring {
            fd,
            bufs: Vec::with_capacity(req.count as usize),
            streaming: false,
        };
        if req.count < 2 {
            return Err(io::Error::other(format!(
                "driver granted {} buffers",
                req.count
            )));
        }
        for i in 0..req.count {
            let mut b = Self::desc();
            b.index = i;
            // SAFETY: QUERYBUF fills the descriptor; mmap maps the buffer it describes.
            unsafe {
                v4l2::ioctl(
                    fd,
                    v4l2::vidioc::VIDIOC_QUERYBUF,
                    &mut b as *mut _ as *mut c_void,
                )?;
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    b.length as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    b.m.offset as libc::off_t,
                );
                if p == libc::MAP_FAILED {
                    return Err(io::Error::last_os_error());
                }
                ring.bufs.push((p as *mut u8, b.length as usize));
            }
        }
        Ok(ring)
    }

    fn queue(&mut self, index: usize) -> io::Result<()> {
        let mut b = Self::desc();
        b.index = index as u32;
        // SAFETY: QBUF with a descriptor we own.
        unsafe {
            v4l2::ioctl(
                self.fd,
                v4l2::vidioc::VIDIOC_QBUF,
                &mut b as *mut _ as *mut c_void,
            )
        }
    }

    fn start(&mut self) -> io::Result<()> {
        for i in 0..self.bufs.len() {
            self.queue(i)?;
        }
        let mut typ = v4l_sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
        // SAFETY: STREAMON takes a pointer to the buffer type.
        unsafe {
            v4l2::ioctl(
                self.fd,
                v4l2::vidioc::VIDIOC_STREAMON,
                &mut typ as *mut _ as *mut c_void,
            )?
        };
        self.streaming = true;
        Ok(())
    }

    /// Waits up to `timeout` for a filled buffer.
    fn dequeue(&mut self, timeout: Duration) -> io::Result<Dequeued> {
        let deadline = kernel_monotonic() + timeout;
        loop {
            let left = deadline.saturating_sub(kernel_monotonic());
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd we own.
            let r =
                unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if r == 0 {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no frame"));
            }
            let mut b = Self::desc();
            // SAFETY: DQBUF fills a descriptor we own.
            match unsafe {
                v4l2::ioctl(
                    self.fd,
                    v4l2::vidioc::VIDIOC_DQBUF,
                    &mut b as *mut _ as *mut c_void,
                )
            } {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    if left.is_zero() {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "no frame"));
                    }
                    // poll may flag an error while DQBUF has nothing yet: do not spin.
                    if pfd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            let index = b.index as usize;
            if index >= self.bufs.len() {
                return Err(io::Error::other("driver returned a bad buffer index"));
            }
            let mono = b.flags & v4l_sys::V4L2_BUF_FLAG_TIMESTAMP_MASK
                == v4l_sys::V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
            // time_t / suseconds_t are 32-bit on 32-bit ARM (older Pis): widen explicitly.
            #[allow(clippy::unnecessary_cast)]
            let ts = (b.timestamp.tv_sec as i64, b.timestamp.tv_usec as i64);
            let timestamp = (mono && ts.0 >= 0 && ts.1 >= 0 && (ts != (0, 0)))
                .then(|| Duration::new(ts.0 as u64, (ts.1 * 1000) as u32));
            let len = self.bufs[index].1;
            let used = b.bytesused as usize;
            return Ok(Dequeued {
                index,
                bytesused: if used == 0 || used > len { len } else { used },
                flags: b.flags,
                timestamp,
                sequence: b.sequence,
            });
        }
    }

    fn data(&self, d: &Dequeued) -> &[u8] {
        let (p, _) = self.bufs[d.index];
        // SAFETY: the mapping is `len` bytes long and lives as long as the ring; the buffer is
        // dequeued (owned by us) while this slice is used, and bytesused <= len.
        unsafe { std::slice::from_raw_parts(p, d.bytesused) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // Errors are expected here after an unplug (ENODEV, EIO): ignore them all.
        if self.streaming {
            let mut typ = v4l_sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
            // SAFETY: STREAMOFF on our fd.
            let _ = unsafe {
                v4l2::ioctl(
                    self.fd,
                    v4l2::vidioc::VIDIOC_STREAMOFF,
                    &mut typ as *mut _ as *mut c_void,
                )
            };
        }
        for &(p, len) in &self.bufs {
            // SAFETY: each pair is a live mapping created in `new`.
            unsafe { libc::munmap(p as *mut c_void, len) };
        }
        // SAFETY: zeroed POD; REQBUFS(0) frees the driver's buffers.
        let mut req: v4l_sys::v4l2_requestbuffers = unsafe { std::mem::zeroed() };
        req.type_ = v4l_sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
        req.memory = v4l_sys::v4l2_memory_V4L2_MEMORY_MMAP;
        let _ = unsafe {
            v4l2::ioctl(
                self.fd,
                v4l2::vidioc::VIDIOC_REQBUFS,
                &mut req as *mut _ as *mut c_void,
            )
        };
    }
}

/// An open device whose drop cannot panic.
pub(crate) struct Dev(ManuallyDrop<v4l::Device>);

impl Dev {
    pub(crate) fn open(path: &str) -> Result<Dev, SourceError> {
        v4l::Device::with_path(path)
            .map(|d| Dev(ManuallyDrop::new(d)))
            .map_err(|e| source_err(path, "open", &e))
    }
    pub(crate) fn fd(&self) -> i32 {
        self.0.handle().fd()
    }
}

impl std::ops::Deref for Dev {
    type Target = v4l::Device;
    fn deref(&self) -> &v4l::Device {
        &self.0
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here.
        let dev = unsafe { ManuallyDrop::take(&mut self.0) };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(dev)));
        if r.is_err() {
            log::warn!("v4l2: closing the device failed (ignored)");
        }
    }
}

/// What every V4L2 capture (raw or H.264) shares: device, ring, time mapping, drop counting.
struct Capture {
    // Field order matters: the ring is dropped (STREAMOFF, munmap) before the device is closed.
    ring: Ring,
    /// Kept open for the life of the capture (closed last).
    _dev: Dev,
    name: String,
    pixel: PixelFormat,
    width: usize,
    height: usize,
    stride: usize,
    fps: u32,
    clock: Arc<dyn Clock>,
    /// `clock.monotonic() - CLOCK_MONOTONIC`, ns.
    offset_ns: i128,
    last_seq: Option<u32>,
    last_pts: Option<Pts90k>,
    drops: u64,
    stats: Option<Arc<Stats>>,
    timeout: Duration,
    last_drop_log: Option<Duration>,
}

impl Capture {
    fn open(
        device: &str,
        want: VideoFormat,
        prefs: &[PixelFormat],
        clock: Arc<dyn Clock>,
    ) -> Result<Capture, SourceError> {
        let path = resolve_device(device)?;
        let dev = Dev::open(&path)?;
        let caps = dev
            .query_caps()
            .map_err(|e| source_err(&path, "QUERYCAP", &e))?;
        let flags = caps.capabilities;
        if !flags.contains(v4l::capability::Flags::VIDEO_CAPTURE) {
            return Err(SourceError::Io(format!(
                "{path} ({}) is not a single-planar capture device",
                caps.card
            )));
        }
        if flags
            .contains(v4l::capability::Flags::STREAMING)
            .then_some(())
            .is_none()
        {
            return Err(SourceError::Io(format!(
                "{path} does not support streaming I/O"
            )));
        }
        let offered: Vec<[u8; 4]> = dev
            .enum_formats()
            .map_err(|e| source_err(&path, "ENUM_FMT", &e))?
            .iter()
            .map(|d| d.fourcc.repr)
            .collect();
        let mut chosen = None;
        for &p in prefs {
            if !offered.contains(&p.fourcc()) {
                continue;
            }
            let mut f = v4l::Format::new(want.width, want.height, FourCC::new(&p.fourcc()));
            f.field_order = v4l::format::FieldOrder::Progressive;
            match dev.set_format(&f) {
                Ok(got) if got.fourcc.repr == p.fourcc() => {
                    chosen = Some((p, got));
                    break;
                }
                Ok(got) => log::debug!("{path}: asked {} got {}", p.name(), got.fourcc),
                Err(e) => return Err(source_err(&path, "S_FMT", &e)),
            }
        }
        let (pixel, got) = chosen.ok_or_else(|| {
            let list: Vec<String> = offered
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            SourceError::Io(format!(
                "{path} ({}): none of the formats we take ({}) is offered (it has {})",
                caps.card,
                prefs
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                list.join(", ")
            ))
        })?;
        if got.width % 2 == 1 || got.height % 2 == 1 || got.width == 0 || got.height == 0 {
            return Err(SourceError::Io(format!(
                "{path}: odd frame size {}x{}",
                got.width, got.height
            )));
        }
        if (got.width, got.height) != (want.width, want.height) {
            log::warn!(
                "{path}: asked {}x{}, driver granted {}x{}",
                want.width,
                want.height,
                got.width,
                got.height
            );
        }
        let fps = match dev.set_params(&v4l::video::capture::Parameters::with_fps(want.fps.max(1)))
        {
            Ok(p) if p.interval.numerator > 0 && p.interval.denominator > 0 => {
                let granted =
                    (p.interval.denominator as f64 / p.interval.numerator as f64).round() as u32;
                log::info!(
                    "{path}: asked {} fps, driver granted {}/{} s per frame ({granted} fps)",
                    want.fps,
                    p.interval.numerator,
                    p.interval.denominator
                );
                granted.max(1)
            }
            Ok(_) => want.fps,
            Err(e) => {
                log::warn!("{path}: S_PARM failed ({e}); assuming {} fps", want.fps);
                want.fps
            }
        };
        let fd = dev.fd();
        let ring = Ring::new(fd, BUFFERS).map_err(|e| source_err(&path, "REQBUFS/mmap", &e))?;
        let mut ring = ring;
        ring.start()
            .map_err(|e| source_err(&path, "STREAMON", &e))?;
        let offset_ns =
            clock.monotonic().as_nanos() as i128 - kernel_monotonic().as_nanos() as i128;
        log::info!(
            "{path} ({}, driver {}): capturing {} {}x{} stride {} at {fps} fps, {} buffers",
            caps.card,
            caps.driver,
            pixel.name(),
            got.width,
            got.height,
            got.stride,
            ring.bufs.len()
        );
        // A few frame times, but at least a second: a stalled camera is noticed quickly.
        let timeout = Duration::from_millis((4000 / fps.max(1) as u64).max(1000));
        Ok(Capture {
            ring,
            _dev: dev,
            name: format!("v4l2:{path}"),
            pixel,
            width: got.width as usize,
            height: got.height as usize,
            stride: got.stride as usize,
            fps,
            clock,
            offset_ns,
            last_seq: None,
            last_pts: None,
            drops: 0,
            stats: None,
            timeout,
            last_drop_log: None,
        })
    }

    fn count_drops(&mut self, n: u64, why: &str) {
        self.drops += n;
        if let Some(s) = &self.stats {
            Stats::add(&s.drops, n);
        }
        let now = self.clock.monotonic();
        if self
            .last_drop_log
            .map_or(true, |t| now.saturating_sub(t) >= Duration::from_secs(1))
        {
            self.last_drop_log = Some(now);
            log::warn!(
                "{}: {n} frame(s) dropped ({why}); {} dropped so far",
                self.name,
                self.drops
            );
        }
    }

    /// Dequeues the next good buffer (error-flagged buffers are re-queued and counted).
    fn next(&mut self) -> Result<Dequeued, SourceError> {
        for _ in 0..64 {
            let d = self
                .ring
                .dequeue(self.timeout)
                .map_err(|e| source_err(&self.name, "DQBUF", &e))?;
            if let Some(last) = self.last_seq {
                let gap = d.sequence.wrapping_sub(last).wrapping_sub(1);
                if gap > 0 && gap < 1 << 30 {
                    self.count_drops(gap as u64, "sequence gap");
                }
            }
            self.last_seq = Some(d.sequence);
            if d.flags & v4l_sys::V4L2_BUF_FLAG_ERROR != 0 {
                self.count_drops(1, "buffer flagged ERROR");
                self.requeue(d.index)?;
                continue;
            }
            return Ok(d);
        }
        Err(SourceError::Io(format!(
            "{}: 64 corrupted buffers in a row",
            self.name
        )))
    }

    fn requeue(&mut self, index: usize) -> Result<(), SourceError> {
        self.ring
            .queue(index)
            .map_err(|e| source_err(&self.name, "QBUF", &e))
    }

    /// Monotonic capture time (on our clock) of a dequeued buffer.
    fn captured(&self, d: &Dequeued) -> Duration {
        let now = self.clock.monotonic();
        match d.timestamp {
            Some(ts) => {
                let t = ts.as_nanos() as i128 + self.offset_ns;
                let t = Duration::from_nanos(t.max(0) as u64);
                // A timestamp in the future or older than the whole ring could hold at one
                // frame per second is not believable (a driver with its own clock): use now.
                if t > now || now - t > Duration::from_secs(30) {
                    now
                } else {
                    t
                }
            }
            None => now,
        }
    }

    /// Media time of a capture time, strictly after the previous frame's.
    fn pts_of(&mut self, captured: Duration) -> Pts90k {
        let mut pts = Pts90k::from_duration(captured);
        if let Some(last) = self.last_pts {
            if pts <= last {
                pts = Pts90k(last.0 + 1);
            }
        }
        self.last_pts = Some(pts);
        pts
    }

    fn wall_of(&self, captured: Duration) -> SystemTime {
        let now = self.clock.monotonic();
        self.clock.wall() - now.saturating_sub(captured)
    }
}

/// Test/debug aid (not a config key): a comma-separated list of raw four-character codes
/// (`YU12`, `NV12`, `YUYV`, `MJPG`), e.g. `HLSCAM_V4L2_FORMATS=YUYV`, restricts and orders the
/// formats [`V4l2Source::open_with_clock`] (hence `video.source = "v4l2"`) negotiates, so a
/// camera offering several can be captured in a chosen one. Unknown codes are ignored; an empty
/// or fully unknown list means no override.
pub const FORMATS_ENV: &str = "HLSCAM_V4L2_FORMATS";

/// The raw formats [`FORMATS_ENV`] asks for, if set (read at open, not per frame).
fn formats_override() -> Option<Vec<PixelFormat>> {
    parse_formats(&std::env::var(FORMATS_ENV).ok()?)
}

/// Parses a [`FORMATS_ENV`] value: known raw codes in order, `None` if there are none.
fn parse_formats(v: &str) -> Option<Vec<PixelFormat>> {
    let prefs: Vec<PixelFormat> = v
        .split(',')
        .filter_map(|c| <[u8; 4]>::try_from(c.trim().as_bytes()).ok())
        .filter_map(PixelFormat::from_fourcc)
        .filter(|p| *p != PixelFormat::H264)
        .collect();
    (!prefs.is_empty()).then_some(prefs)
}

/// A V4L2 camera delivering I420 pictures.
pub struct V4l2Source {
    cap: Capture,
    mjpeg: MjpegDecoder,
    seq: u64,
}

impl std::fmt::Debug for V4l2Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4l2Source")
            .field("name", &self.cap.name)
            .field("pixel", &self.cap.pixel)
            .field("format", &self.format())
            .finish()
    }
}

impl V4l2Source {
    /// Opens `device` (a path like `/dev/video0` or a card name) and negotiates `want`
    /// (size and rate), with media time = time since boot ([`KernelMonotonic`]).
    pub fn open(device: &str, want: VideoFormat) -> Result<V4l2Source, SourceError> {
        Self::open_with_clock(device, want, Arc::new(KernelMonotonic))
    }

    /// As [`open`](Self::open), with media time taken from `clock` (see the module docs).
    pub fn open_with_clock(
        device: &str,
        want: VideoFormat,
        clock: Arc<dyn Clock>,
    ) -> Result<V4l2Source, SourceError> {
        match formats_override() {
            Some(prefs) => {
                log::info!(
                    "{device}: {FORMATS_ENV} restricts the formats to {}",
                    prefs.iter().map(|p| p.name()).collect::<Vec<_>>().join(",")
                );
                Self::open_with_formats(device, want, &prefs, clock)
            }
            None => Self::open_with_formats(device, want, &PixelFormat::RAW_PREFERENCE, clock),
        }
    }

    /// As [`open_with_clock`](Self::open_with_clock), trying only `prefs` (raw formats, in
    /// order). Tests use it to force one format.
    pub fn open_with_formats(
        device: &str,
        want: VideoFormat,
        prefs: &[PixelFormat],
        clock: Arc<dyn Clock>,
    ) -> Result<V4l2Source, SourceError> {
        if prefs.contains(&PixelFormat::H264) {
            return Err(SourceError::Io("H.264 is read with V4l2H264Source".into()));
        }
        let cap = Capture::open(device, want, prefs, clock)?;
        Ok(V4l2Source {
            cap,
            mjpeg: MjpegDecoder::new(),
            seq: 0,
        })
    }

    /// Counts drops in `stats.drops` too.
    pub fn with_stats(mut self, stats: Arc<Stats>) -> Self {
        self.cap.stats = Some(stats);
        self
    }

    /// The pixel format negotiated with the camera.
    pub fn pixel_format(&self) -> PixelFormat {
        self.cap.pixel
    }

    /// Frames lost so far (sequence gaps and error-flagged buffers).
    pub fn drops(&self) -> u64 {
        self.cap.drops
    }

    /// How long [`next_frame`](VideoSource::next_frame) waits before [`SourceError::Timeout`].
    pub fn timeout(&self) -> Duration {
        self.cap.timeout
    }

    /// Changes the dequeue timeout.
    pub fn set_timeout(&mut self, t: Duration) {
        self.cap.timeout = t;
    }

    fn convert(&mut self, d: &Dequeued, out: &mut [u8]) -> Result<(), ConvertError> {
        let (w, h, s) = (self.cap.width, self.cap.height, self.cap.stride);
        let src = self.cap.ring.data(d);
        match self.cap.pixel {
            PixelFormat::Yu12 => convert::i420_copy(src, s.max(w), w, h, out),
            PixelFormat::Nv12 => convert::nv12_to_i420(src, s.max(w), w, h, out),
            PixelFormat::Yuyv => convert::yuyv_to_i420(src, s.max(2 * w), w, h, out),
            PixelFormat::Mjpeg => self.mjpeg.decode(src, w, h, out),
            PixelFormat::H264 => Err(ConvertError::BadJpeg),
        }
    }
}

impl VideoSource for V4l2Source {
    fn name(&self) -> &str {
        &self.cap.name
    }

    fn format(&self) -> VideoFormat {
        VideoFormat {
            width: self.cap.width as u32,
            height: self.cap.height as u32,
            fps: self.cap.fps,
        }
    }

    fn next_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError> {
        for _ in 0..16 {
            let d = self.cap.next()?;
            let Some(mut lease) = pool.try_take() else {
                self.cap.requeue(d.index)?;
                self.cap.count_drops(1, "no free pool buffer");
                return Err(SourceError::PoolExhausted);
            };
            let r = self.convert(&d, &mut lease);
            self.cap.requeue(d.index)?;
            if let Err(e) = r {
                if e == ConvertError::ShortOutput {
                    return Err(SourceError::Io(format!(
                        "{}: pool buffer too small: {e}",
                        self.cap.name
                    )));
                }
                self.cap.count_drops(1, "bad frame data");
                continue;
            }
            let captured = self.cap.captured(&d);
            self.seq += 1;
            return Ok(RawFrame {
                buf: lease,
                format: self.format(),
                pts: self.cap.pts_of(captured),
                captured,
                wall: self.cap.wall_of(captured),
                seq: self.seq,
                discontinuity: false,
            });
        }
        Err(SourceError::Io(format!(
            "{}: 16 undecodable frames in a row",
            self.cap.name
        )))
    }
}

/// One H.264 access unit read from a camera that encodes by itself.
#[derive(Debug, Clone, Copy)]
pub struct H264Frame {
    /// Media time of capture.
    pub pts: Pts90k,
    /// Monotonic capture time.
    pub captured: Duration,
    /// Wall-clock capture time.
    pub wall: SystemTime,
    /// IDR picture (buffer flagged `KEYFRAME` or an IDR NAL unit present).
    pub key: bool,
    /// Bytes written into the caller's buffer.
    pub len: usize,
}

/// A camera's own H.264 stream (`encoder = "camera"`): Annex B access units as the camera sends
/// them; the muxer adds AUD/SPS/PPS where needed.
pub struct V4l2H264Source {
    cap: Capture,
}

impl std::fmt::Debug for V4l2H264Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4l2H264Source")
            .field("name", &self.cap.name)
            .finish()
    }
}

impl V4l2H264Source {
    /// Opens `device` and negotiates H.264 at `want`; media time from `clock`.
    pub fn open_with_clock(
        device: &str,
        want: VideoFormat,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SourceError> {
        Ok(V4l2H264Source {
            cap: Capture::open(device, want, &[PixelFormat::H264], clock)?,
        })
    }

    /// Name for logs.
    pub fn name(&self) -> &str {
        &self.cap.name
    }

    /// Negotiated geometry and rate.
    pub fn format(&self) -> VideoFormat {
        VideoFormat {
            width: self.cap.width as u32,
            height: self.cap.height as u32,
            fps: self.cap.fps,
        }
    }

    /// Frames lost so far.
    pub fn drops(&self) -> u64 {
        self.cap.drops
    }

    /// Copies the next access unit into `out` (cleared first; its capacity is reused).
    pub fn next_au(&mut self, out: &mut Vec<u8>) -> Result<H264Frame, SourceError> {
        let d = self.cap.next()?;
        out.clear();
        out.extend_from_slice(self.cap.ring.data(&d));
        self.cap.requeue(d.index)?;
        let captured = self.cap.captured(&d);
        Ok(H264Frame {
            pts: self.cap.pts_of(captured),
            captured,
            wall: self.cap.wall_of(captured),
            key: d.flags & v4l_sys::V4L2_BUF_FLAG_KEYFRAME != 0
                || crate::codec::h264::first_slice_is_idr(out),
            len: out.len(),
        })
    }
}

impl crate::pipeline::EncodedVideoSource for V4l2H264Source {
    fn name(&self) -> &str {
        V4l2H264Source::name(self)
    }

    fn next_au(&mut self, out: &mut crate::encode::EncodedVideo) -> Result<(), SourceError> {
        let f = V4l2H264Source::next_au(self, &mut out.data)?;
        out.pts = f.pts;
        out.dts = f.pts;
        out.key = f.key;
        out.captured = f.captured;
        out.wall = f.wall;
        out.discontinuity = false;
        Ok(())
    }
}

/// The camera's own H.264, reopened with backoff when it fails or is unplugged (0.5 s doubling
/// to 8 s); the first access unit after a reopen is flagged as a discontinuity. There is no slate
/// on this path (no encoder to draw one): segments pause while the camera is away.
pub struct ReopeningH264 {
    device: String,
    want: VideoFormat,
    clock: Arc<dyn Clock>,
    cam: Option<V4l2H264Source>,
    name: String,
    backoff: Duration,
    reopened: bool,
}

impl ReopeningH264 {
    /// Opens `device` now (an error here is reported: the configuration names a camera that
    /// does not deliver H.264); later failures are retried.
    pub fn open(
        device: &str,
        want: VideoFormat,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SourceError> {
        let cam = V4l2H264Source::open_with_clock(device, want, clock.clone())?;
        Ok(ReopeningH264 {
            device: device.to_string(),
            want,
            name: cam.name().to_string(),
            clock,
            cam: Some(cam),
            backoff: super::supervisor::BACKOFF_MIN,
            reopened: false,
        })
    }
}

impl crate::pipeline::EncodedVideoSource for ReopeningH264 {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_au(&mut self, out: &mut crate::encode::EncodedVideo) -> Result<(), SourceError> {
        loop {
            let Some(cam) = self.cam.as_mut() else {
                std::thread::sleep(self.backoff);
                match V4l2H264Source::open_with_clock(&self.device, self.want, self.clock.clone()) {
                    Ok(c) => {
                        log::info!("{}: camera back", self.name);
                        self.cam = Some(c);
                        self.backoff = super::supervisor::BACKOFF_MIN;
                        self.reopened = true;
                    }
                    Err(e) => {
                        self.backoff = super::supervisor::next_backoff(self.backoff);
                        log::warn!("{}: {e}; retrying in {:?}", self.name, self.backoff);
                    }
                }
                continue;
            };
            match crate::pipeline::EncodedVideoSource::next_au(cam, out) {
                Ok(()) => {
                    out.discontinuity = std::mem::take(&mut self.reopened);
                    return Ok(());
                }
                Err(SourceError::End) => return Err(SourceError::End),
                Err(e) => {
                    log::warn!("{}: {e}; reopening", self.name);
                    self.cam = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_round_trip() {
        for p in PixelFormat::RAW_PREFERENCE {
            assert_eq!(PixelFormat::from_fourcc(p.fourcc()), Some(p));
        }
        assert_eq!(PixelFormat::from_fourcc(*b"JPEG"), Some(PixelFormat::Mjpeg));
        assert_eq!(PixelFormat::from_fourcc(*b"RGB3"), None);
    }

    #[test]
    fn formats_override_parsing() {
        assert_eq!(parse_formats("YUYV"), Some(vec![PixelFormat::Yuyv]));
        assert_eq!(
            parse_formats(" NV12, bogus,MJPG,H264"),
            Some(vec![PixelFormat::Nv12, PixelFormat::Mjpeg])
        );
        assert_eq!(parse_formats(""), None);
        assert_eq!(parse_formats("RGB3,H264"), None);
    }

    #[test]
    fn missing_device_is_gone() {
        let r = V4l2Source::open(
            "/dev/video-hlscam-none",
            VideoFormat {
                width: 640,
                height: 360,
                fps: 30,
            },
        );
        assert!(matches!(r, Err(SourceError::Gone(_))), "{r:?}");
    }
}
