//! [`M2mEncoder`]: the stateful encoder sequence of dev-encoder.rst over an [`M2mDevice`].

use super::device::{Buffer, Command, Format, M2mDevice, Memory, Queue};
use super::input::{Fifo, InFlight, InputLayout, InputMeta, FIFO_CAPACITY};
use super::ioctl::V4l2M2m;
use super::{cid, controls::h264_controls, CodedFormat};
use crate::encode::{EncodeError, EncodedVideo, VideoEncoder};
use crate::source::{RawFrame, VideoFormat};
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};
use v4l::v4l_sys as sys;

mod coded;
use coded::Assembly;

/// Raw (`OUTPUT`) buffers requested.
pub const OUTPUT_BUFFERS: u32 = 4;
/// Coded (`CAPTURE`) buffers requested.
pub const CAPTURE_BUFFERS: u32 = 4;
/// `sizeimage` asked for H.264 `CAPTURE` buffers: a 1080p IDR fits in one (bcm2835-codec's
/// default, 512–768 KiB, does not always).
pub const H264_CAPTURE_SIZEIMAGE: u32 = 1536 * 1024;
/// Most bytes of SPS/PPS kept from a codec-config buffer.
const MAX_HEADER: usize = 4096;

/// Counters of an encoder's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct M2mCounters {
    /// Pictures queued.
    pub frames_in: u64,
    /// Access units produced.
    pub frames_out: u64,
    /// `CAPTURE` buffers whose timestamp matched no queued input (dropped).
    pub stale: u64,
    /// Such buffers holding only SPS/PPS (H.264 codec config), kept and put in front of the
    /// next access unit.
    pub headers: u64,
    /// `CAPTURE` buffers flagged `V4L2_BUF_FLAG_ERROR` (dropped).
    pub errors: u64,
    /// Inputs that never produced output (overtaken by a later one).
    pub lost: u64,
    /// Access units that spanned more than one `CAPTURE` buffer.
    pub spanned: u64,
    /// `V4L2_BUF_FLAG_LAST` seen (the drain finished).
    pub last_seen: bool,
    /// `poll()` calls (a few per picture; many more would mean busy waiting).
    pub waits: u64,
}

/// A V4L2 stateful video encoder (H.264, or vicodec's FWHT for tests) behind
/// [`VideoEncoder`]. See the [module docs](super).
pub struct M2mEncoder<D: M2mDevice> {
    dev: D,
    name: String,
    coded: CodedFormat,
    fmt: VideoFormat,
    input: Format,
    layout: InputLayout,
    memory: Memory,
    n_out: u32,
    out_free: u32,
    fifo: Fifo,
    next_tag: u64,
    au: Vec<u8>,
    header: Vec<u8>,
    asm: Option<Assembly>,
    held: Option<Buffer>,
    force_key: bool,
    drained: bool,
    timeout: Duration,
    lag: usize,
    counters: M2mCounters,
}

impl M2mEncoder<V4l2M2m> {
    /// Opens the encoder at `path` for `fmt` pictures fed from pool buffers (mmap + copy),
    /// `bitrate_kbps`, an IDR every `gop_frames` pictures (H.264 only).
    pub fn open(
        path: &str,
        coded: CodedFormat,
        fmt: VideoFormat,
        bitrate_kbps: u32,
        gop_frames: u32,
    ) -> Result<Self, EncodeError> {
        Self::open_with(path, coded, fmt, bitrate_kbps, gop_frames, Memory::Mmap)
    }

    /// As [`open`](Self::open), with the `OUTPUT` queue in `memory` mode: [`Memory::Dmabuf`]
    /// takes pictures only through [`encode_dmabuf`](Self::encode_dmabuf).
    pub fn open_with(
        path: &str,
        coded: CodedFormat,
        fmt: VideoFormat,
        bitrate_kbps: u32,
        gop_frames: u32,
        memory: Memory,
    ) -> Result<Self, EncodeError> {
        let dev = V4l2M2m::open(path).map_err(|e| EncodeError {
            msg: format!("v4l2m2m:{path}: open: {e}"),
        })?;
        Self::with_device(
            dev,
            format!("v4l2m2m:{path}"),
            coded,
            fmt,
            bitrate_kbps,
            gop_frames,
            memory,
        )
    }
}

impl<D: M2mDevice> M2mEncoder<D> {
    /// Runs the initialization sequence (dev-encoder.rst "Initialization") on `dev`:
    /// `CAPTURE` format, `OUTPUT` format (YU12, what was accepted is kept), frame rate,
    /// controls, `REQBUFS` on both queues, all `CAPTURE` buffers queued, `STREAMON` both.
    pub fn with_device(
        mut dev: D,
        name: String,
        coded: CodedFormat,
        fmt: VideoFormat,
        bitrate_kbps: u32,
        gop_frames: u32,
        memory: Memory,
    ) -> Result<Self, EncodeError> {
        let (w, h) = (fmt.width, fmt.height);
        let fail = |what: &str, e: io::Error| EncodeError {
            msg: format!("{name}: {what}: {e}"),
        };
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 || fmt.fps == 0 {
            return Err(EncodeError {
                msg: format!("{name}: unsupported picture {w}x{h}@{}", fmt.fps),
            });
        }
        let want_cap = Format {
            fourcc: coded.fourcc(),
            width: w,
            height: h,
            bytesperline: 0,
            sizeimage: match coded {
                CodedFormat::H264 => H264_CAPTURE_SIZEIMAGE,
                CodedFormat::Fwht => 0,
            },
        };
        let got = dev
            .set_format(Queue::Capture, want_cap)
            .map_err(|e| fail("S_FMT CAPTURE", e))?;
        if got.fourcc != coded.fourcc() {
            return Err(EncodeError {
                msg: format!(
                    "{name}: the driver does not encode {} (offered {})",
                    String::from_utf8_lossy(&coded.fourcc()),
                    String::from_utf8_lossy(&got.fourcc)
                ),
            });
        }
        let input = dev
            .set_format(
                Queue::Output,
                Format {
                    fourcc: *b"YU12",
                    width: w,
                    height: h,
                    bytesperline: w,
                    sizeimage: 0,
                },
            )
            .map_err(|e| fail("S_FMT OUTPUT", e))?;
        if input.fourcc != *b"YU12" || input.width < w || input.height < h {
            return Err(EncodeError {
                msg: format!(
                    "{name}: wanted YU12 {w}x{h} input, the driver offers {} {}x{}",
                    String::from_utf8_lossy(&input.fourcc),
                    input.width,
                    input.height
                ),
            });
        }
        let layout = InputLayout::of(&input);
        if memory == Memory::Mmap && (input.sizeimage as usize) < layout.len {
            return Err(EncodeError {
                msg: format!(
                    "{name}: OUTPUT sizeimage {} < {} for stride {} × {} rows",
                    input.sizeimage, layout.len, layout.y_stride, input.height
                ),
            });
        }
        let coded_fmt = dev
            .get_format(Queue::Capture)
            .map_err(|e| fail("G_FMT CAPTURE", e))?;
        match dev.set_frame_rate(fmt.fps) {
            Ok(r) if r != fmt.fps => log::info!("{name}: frame rate {} granted as {r}", fmt.fps),
            Ok(_) => {}
            // vicodec has no S_PARM (ENOTTY): the rate is then only nominal.
            Err(e) => log::info!("{name}: S_PARM {} fps: {e} (ignored)", fmt.fps),
        }
        match coded {
            CodedFormat::H264 => {
                for (id, value, required) in h264_controls(fmt, bitrate_kbps, gop_frames) {
                    if let Err(e) = dev.set_control(id, value) {
                        if required {
                            return Err(fail(&format!("S_CTRL {id:#x}={value}"), e));
                        }
                        log::warn!("{name}: S_CTRL {id:#x}={value}: {e} (ignored)");
                    }
                }
            }
            CodedFormat::Fwht => {
                // vicodec's GOP_SIZE range is 1..=16.
                let gop = gop_frames.clamp(1, 16) as i32;
                if let Err(e) = dev.set_control(cid::GOP_SIZE, gop) {
                    log::warn!("{name}: GOP_SIZE={gop}: {e} (ignored)");
                }
            }
        }
        let n_out = dev
            .request_buffers(Queue::Output, memory, OUTPUT_BUFFERS)
            .map_err(|e| fail("REQBUFS OUTPUT", e))?
            .min(32);
        let n_cap = dev
            .request_buffers(Queue::Capture, Memory::Mmap, CAPTURE_BUFFERS)
            .map_err(|e| fail("REQBUFS CAPTURE", e))?;
        if n_out == 0 || n_cap == 0 {
            return Err(EncodeError {
                msg: format!("{name}: the driver granted {n_out} OUTPUT, {n_cap} CAPTURE buffers"),
            });
        }
        for i in 0..n_cap {
            dev.queue(Queue::Capture, &Buffer::new(i))
                .map_err(|e| fail("QBUF CAPTURE", e))?;
        }
        dev.stream(Queue::Output, true)
            .map_err(|e| fail("STREAMON OUTPUT", e))?;
        dev.stream(Queue::Capture, true)
            .map_err(|e| fail("STREAMON CAPTURE", e))?;
        let au_cap = (coded_fmt.sizeimage as usize).clamp(64 * 1024, 4 << 20);
        log::info!(
            "{name}: {} {w}x{h}@{} from YU12 stride {} rows {} ({:?}, {n_out} OUTPUT / {n_cap} CAPTURE buffers of {} B)",
            String::from_utf8_lossy(&coded.fourcc()),
            fmt.fps,
            layout.y_stride,
            input.height,
            memory,
            coded_fmt.sizeimage
        );
        Ok(M2mEncoder {
            dev,
            name,
            coded,
            fmt,
            input,
            layout,
            memory,
            n_out,
            out_free: if n_out >= 32 {
                u32::MAX
            } else {
                (1 << n_out) - 1
            },
            fifo: Fifo::new(),
            next_tag: 1,
            au: Vec::with_capacity(au_cap),
            header: Vec::with_capacity(MAX_HEADER),
            asm: None,
            held: None,
            force_key: false,
            drained: false,
            timeout: Duration::from_secs(2),
            lag: 0,
            counters: M2mCounters::default(),
        })
    }

    /// The `OUTPUT` format the driver accepted.
    pub fn input_format(&self) -> Format {
        self.input
    }

    /// Where the planes go in an `OUTPUT` buffer (a DMABUF must be laid out the same way).
    pub fn input_layout(&self) -> InputLayout {
        self.layout
    }

    /// How pictures reach the `OUTPUT` queue.
    pub fn input_memory(&self) -> Memory {
        self.memory
    }

    /// Counters so far.
    pub fn counters(&self) -> M2mCounters {
        self.counters
    }

    /// The device (tests inspect the fake).
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device, mutably (tests make the fake fail mid-stream).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// How long to wait for the encoder before failing (default 2 s).
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    /// Lets `encode` return `Ok(false)` instead of waiting while at most `frames` pictures
    /// are pending inside the encoder (default 0: wait for each picture's access unit, the
    /// lowest latency). For encoders that hold pictures back; the rest comes out with later
    /// calls or [`drain`](Self::drain).
    pub fn set_max_lag(&mut self, frames: usize) {
        self.lag = frames.min(FIFO_CAPACITY - 1);
    }

    fn err(&self, what: &str, e: io::Error) -> EncodeError {
        EncodeError {
            msg: format!("{}: {what}: {e}", self.name),
        }
    }

    fn timeout_err(&self, what: &str) -> EncodeError {
        self.err(
            what,
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing within {:?}", self.timeout),
            ),
        )
    }

    /// Dequeues the `OUTPUT` buffers the driver is done with (non-blocking). Also keeps
    /// `POLLOUT` from waking every wait for coded data.
    fn take_outputs(&mut self) -> Result<(), EncodeError> {
        while let Some(b) = self
            .dev
            .dequeue(Queue::Output)
            .map_err(|e| self.err("DQBUF OUTPUT", e))?
        {
            if b.index < self.n_out {
                self.out_free |= 1 << b.index;
            }
        }
        Ok(())
    }

    /// Dequeues finished `OUTPUT` buffers; waits until one is free, or with `wait_for`, until
    /// that one is back.
    fn reclaim(&mut self, wait_for: Option<u32>) -> Result<(), EncodeError> {
        let start = Instant::now();
        loop {
            self.take_outputs()?;
            let done = match wait_for {
                Some(i) => self.out_free & (1 << i) != 0,
                None => self.out_free != 0,
            };
            if done {
                return Ok(());
            }
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(self.timeout_err("waiting for a free OUTPUT buffer"));
            }
            self.counters.waits += 1;
            let r = self.dev.wait(left).map_err(|e| self.err("poll", e))?;
            if !r.output {
                // Woken by something else (coded data, an error): do not spin.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    fn free_slot(&mut self) -> Result<u32, EncodeError> {
        if self.drained {
            return Err(EncodeError {
                msg: format!("{}: encoder already drained", self.name),
            });
        }
        // Takes back finished buffers (waiting if none is free) so they are reused in order.
        self.reclaim(None)?;
        Ok(self.out_free.trailing_zeros())
    }

    /// Queues `OUTPUT` buffer `b` (payload already in place) for `meta`.
    fn submit(&mut self, mut b: Buffer, meta: InputMeta) -> Result<(), EncodeError> {
        if std::mem::take(&mut self.force_key) {
            match self.coded {
                CodedFormat::H264 => {
                    if let Err(e) = self.dev.set_control(cid::FORCE_KEY_FRAME, 1) {
                        log::warn!("{}: FORCE_KEY_FRAME: {e}", self.name);
                    }
                }
                CodedFormat::Fwht => {
                    log::debug!("{}: FWHT has no key-frame request (ignored)", self.name)
                }
            }
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        b.timestamp = tag;
        if self.fifo.push(InFlight { tag, meta }) {
            self.counters.lost += 1;
        }
        self.dev
            .queue(Queue::Output, &b)
            .map_err(|e| self.err("QBUF OUTPUT", e))?;
        self.out_free &= !(1 << b.index);
        self.counters.frames_in += 1;
        Ok(())
    }

    /// Encodes a picture held in a DMABUF (e.g. a camera buffer exported with
    /// [`export_buffer`](super::ioctl::export_buffer)) laid out as
    /// [`input_layout`](Self::input_layout): `bytesused` of `length` bytes. Only for an encoder
    /// opened with [`Memory::Dmabuf`]. Returns once the access unit is out and the buffer has
    /// been released by the encoder (the caller may then hand it back to the camera).
    pub fn encode_dmabuf(
        &mut self,
        fd: RawFd,
        bytesused: u32,
        length: u32,
        meta: InputMeta,
        out: &mut EncodedVideo,
    ) -> Result<bool, EncodeError> {
        out.data.clear();
        if self.memory != Memory::Dmabuf {
            return Err(EncodeError {
                msg: format!("{}: opened for MMAP input, not DMABUF", self.name),
            });
        }
        let idx = self.free_slot()?;
        let b = Buffer {
            index: idx,
            bytesused,
            length,
            timestamp: 0,
            flags: 0,
            fd,
        };
        self.submit(b, meta)?;
        let r = self.collect(out)?;
        self.reclaim(Some(idx))?;
        Ok(r)
    }

    fn encode_raw(
        &mut self,
        frame: &RawFrame,
        out: &mut EncodedVideo,
    ) -> Result<bool, EncodeError> {
        out.data.clear();
        if self.memory != Memory::Mmap {
            return Err(EncodeError {
                msg: format!("{}: opened for DMABUF input; use encode_dmabuf", self.name),
            });
        }
        let f = frame.format;
        if (f.width, f.height) != (self.fmt.width, self.fmt.height) {
            return Err(EncodeError {
                msg: format!(
                    "{}: frame {} is {}x{}, the encoder was set up for {}x{}",
                    self.name, frame.seq, f.width, f.height, self.fmt.width, self.fmt.height
                ),
            });
        }
        let idx = self.free_slot()?;
        let layout = self.layout;
        let dst = self.dev.buffer_mut(Queue::Output, idx);
        if !layout.copy_i420(&frame.buf, f.width as usize, f.height as usize, dst) {
            let have = dst.len();
            return Err(EncodeError {
                msg: format!(
                    "{}: frame {}: {} B source / {have} B buffer, need {} / {}",
                    self.name,
                    frame.seq,
                    frame.buf.len(),
                    f.i420_len(),
                    layout.len
                ),
            });
        }
        let b = Buffer {
            index: idx,
            bytesused: layout.len as u32,
            length: 0,
            timestamp: 0,
            flags: 0,
            fd: -1,
        };
        self.submit(b, InputMeta::of(frame))?;
        self.collect(out)
    }
}

impl<D: M2mDevice> VideoEncoder for M2mEncoder<D> {
    fn name(&self) -> &str {
        &self.name
    }

    fn encode(&mut self, frame: &RawFrame, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
        self.encode_raw(frame, out)
    }

    fn force_keyframe(&mut self) {
        self.force_key = true;
    }
}

/// The real encoder can be boxed as a `dyn VideoEncoder` (which requires `Send`).
const _: fn() = || {
    fn boxed<T: VideoEncoder + 'static>() {}
    boxed::<M2mEncoder<V4l2M2m>>();
};
