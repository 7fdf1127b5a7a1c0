//! The narrow device interface the M2M encoder needs ([`M2mDevice`]), in the terms of the
//! multi-planar V4L2 API with one memory plane per buffer (the `*_MPLANE` buffer types, as
//! bcm2835-codec requires; YU12 and the coded formats are single-plane formats there).
//!
//! The real implementation is [`V4l2M2m`](super::ioctl::V4l2M2m) (raw ioctls); unit tests drive
//! the encoder with a fake that records what was asked of it.

use std::io;
use std::time::Duration;

/// One of the two queues of a memory-to-memory device (dev-encoder.rst "Glossary": the
/// `OUTPUT` queue takes raw pictures, the `CAPTURE` queue returns coded data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Raw input (`V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE`).
    Output,
    /// Coded output (`V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE`).
    Capture,
}

impl Queue {
    /// 0 for `Output`, 1 for `Capture` (array index).
    pub fn idx(self) -> usize {
        match self {
            Queue::Output => 0,
            Queue::Capture => 1,
        }
    }
}

/// How a queue's buffers are backed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// Driver-allocated, mapped into our address space (`V4L2_MEMORY_MMAP`).
    Mmap,
    /// Imported from another device by file descriptor (`V4L2_MEMORY_DMABUF`).
    Dmabuf,
}

/// A single-plane format on one queue (what `VIDIOC_S_FMT`/`G_FMT` carry in
/// `v4l2_pix_format_mplane` with `num_planes = 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Format {
    /// Four-character code (`YU12`, `H264`, `FWHT`).
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels (for raw formats: the rows of the Y plane in the buffer).
    pub height: u32,
    /// Bytes per Y row (raw formats; 0 for coded formats).
    pub bytesperline: u32,
    /// Bytes per buffer.
    pub sizeimage: u32,
}

/// A buffer as queued or dequeued (its single plane flattened in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Buffer index in its queue.
    pub index: u32,
    /// Bytes of payload.
    pub bytesused: u32,
    /// Size of the plane (0 when queuing MMAP: the driver knows it).
    pub length: u32,
    /// Timestamp in microseconds; encoders copy it from `OUTPUT` to `CAPTURE` buffers, we use
    /// it as a tag to match them (dev-encoder.rst "Encoding").
    pub timestamp: u64,
    /// `V4L2_BUF_FLAG_*` bits.
    pub flags: u32,
    /// The DMABUF file descriptor (only for [`Memory::Dmabuf`] queues; -1 otherwise).
    pub fd: i32,
}

impl Buffer {
    /// A buffer `index` with nothing else set.
    pub fn new(index: u32) -> Buffer {
        Buffer {
            index,
            bytesused: 0,
            length: 0,
            timestamp: 0,
            flags: 0,
            fd: -1,
        }
    }
}

/// What [`M2mDevice::wait`] found ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready {
    /// A `CAPTURE` buffer can be dequeued (`POLLIN`).
    pub capture: bool,
    /// An `OUTPUT` buffer can be dequeued (`POLLOUT`).
    pub output: bool,
    /// An event is pending (`POLLPRI`).
    pub event: bool,
    /// `POLLERR`: e.g. nothing queued on a queue, or the capture queue is stopped.
    pub error: bool,
}

/// A codec command (`VIDIOC_ENCODER_CMD` / `VIDIOC_DECODER_CMD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `V4L2_ENC_CMD_STOP`: finish the queued pictures, then flag the last buffer
    /// (dev-encoder.rst "Drain").
    EncoderStop,
    /// `V4L2_DEC_CMD_STOP` (dev-decoder.rst "Drain").
    DecoderStop,
}

/// The operations a stateful M2M codec driver offers us, one method per ioctl family.
pub trait M2mDevice: Send {
    /// `VIDIOC_S_FMT` on `q`; returns what the driver accepted (it may change everything).
    fn set_format(&mut self, q: Queue, want: Format) -> io::Result<Format>;
    /// `VIDIOC_G_FMT` on `q`.
    fn get_format(&mut self, q: Queue) -> io::Result<Format>;
    /// `VIDIOC_S_PARM` on `OUTPUT` (time per frame 1/`fps`); returns the granted rate.
    fn set_frame_rate(&mut self, fps: u32) -> io::Result<u32>;
    /// `VIDIOC_S_CTRL`.
    fn set_control(&mut self, id: u32, value: i32) -> io::Result<()>;
    /// `VIDIOC_REQBUFS` (0 frees); MMAP buffers are also queried and mapped. Returns the
    /// number granted.
    fn request_buffers(&mut self, q: Queue, mem: Memory, count: u32) -> io::Result<u32>;
    /// The mapping of MMAP buffer `index` of `q` (empty if there is none).
    fn buffer(&self, q: Queue, index: u32) -> &[u8];
    /// The mapping of MMAP buffer `index` of `q`, writable (empty if there is none).
    fn buffer_mut(&mut self, q: Queue, index: u32) -> &mut [u8];
    /// `VIDIOC_QBUF`.
    fn queue(&mut self, q: Queue, b: &Buffer) -> io::Result<()>;
    /// `VIDIOC_DQBUF`, non-blocking: `None` when nothing is ready (`EAGAIN`).
    fn dequeue(&mut self, q: Queue) -> io::Result<Option<Buffer>>;
    /// `VIDIOC_STREAMON` / `VIDIOC_STREAMOFF`.
    fn stream(&mut self, q: Queue, on: bool) -> io::Result<()>;
    /// `VIDIOC_ENCODER_CMD` / `VIDIOC_DECODER_CMD`.
    fn command(&mut self, c: Command) -> io::Result<()>;
    /// `poll()` for up to `timeout`.
    fn wait(&mut self, timeout: Duration) -> io::Result<Ready>;
}
