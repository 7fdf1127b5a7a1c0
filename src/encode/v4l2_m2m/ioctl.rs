//! [`M2mDevice`] over raw multi-planar V4L2 ioctls (`v4l::v4l2::ioctl` and the `v4l` crate's
//! bindgen types), plus `VIDIOC_EXPBUF` ([`export_buffer`]) and source-change events for the
//! decoder.
//!
//! Kernel references: `buffer.rst` (`v4l2_buffer`, `v4l2_plane`), `vidioc-reqbufs.rst`,
//! `vidioc-qbuf.rst`, `vidioc-expbuf.rst`, `vidioc-encoder-cmd.rst`, `vidioc-dqevent.rst`,
//! `pixfmt-v4l2-mplane.rst`. Unplug safety: every error is returned, `Drop` ignores them.

use super::device::{Buffer, Command, Format, M2mDevice, Memory, Queue, Ready};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::c_void;
use std::time::Duration;
use v4l::v4l2;
use v4l::v4l2::vidioc::_IOC_TYPE;
use v4l::v4l_sys as sys;

/// `_IOC(dir, 'V', nr, size)` for the ioctls the `v4l` crate does not list (asm-generic
/// encoding: x86, ARM, arm64, RISC-V).
const fn ioc(dir: u32, nr: u32, size: usize) -> _IOC_TYPE {
    ((dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr) as _IOC_TYPE
}
const VIDIOC_DQEVENT: _IOC_TYPE = ioc(2, 89, std::mem::size_of::<sys::v4l2_event>());
const VIDIOC_SUBSCRIBE_EVENT: _IOC_TYPE =
    ioc(1, 90, std::mem::size_of::<sys::v4l2_event_subscription>());
const VIDIOC_DECODER_CMD: _IOC_TYPE = ioc(3, 96, std::mem::size_of::<sys::v4l2_decoder_cmd>());

fn buf_type(q: Queue) -> u32 {
    match q {
        Queue::Output => sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
        Queue::Capture => sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
    }
}

fn memory(m: Memory) -> u32 {
    match m {
        Memory::Mmap => sys::v4l2_memory_V4L2_MEMORY_MMAP,
        Memory::Dmabuf => sys::v4l2_memory_V4L2_MEMORY_DMABUF,
    }
}

/// One ioctl on `fd` with a pointer to `arg`.
///
/// # Safety
/// `req` must be an ioctl whose argument is a `T`.
unsafe fn xioctl<T>(fd: RawFd, req: _IOC_TYPE, arg: &mut T) -> io::Result<()> {
    v4l2::ioctl(fd, req, arg as *mut T as *mut c_void)
}

/// Exports buffer `index` of a queue of type `buf_type` (a `V4L2_BUF_TYPE_*` value, e.g. a
/// camera's `VIDEO_CAPTURE`) as a DMABUF file descriptor (`VIDIOC_EXPBUF`, plane 0).
pub fn export_buffer(fd: RawFd, buf_type: u32, index: u32) -> io::Result<OwnedFd> {
    // SAFETY: zeroed POD; EXPBUF fills `fd`.
    let mut e: sys::v4l2_exportbuffer = unsafe { std::mem::zeroed() };
    e.type_ = buf_type;
    e.index = index;
    e.flags = (libc::O_RDWR | libc::O_CLOEXEC) as u32;
    unsafe { xioctl(fd, v4l2::vidioc::VIDIOC_EXPBUF, &mut e)? };
    // SAFETY: the kernel gave us a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(e.fd) })
}

/// A V4L2 memory-to-memory device node driven through the multi-planar API.
pub struct V4l2M2m {
    fd: OwnedFd,
    path: String,
    mem: [Memory; 2],
    maps: [Vec<(*mut u8, usize)>; 2],
    streaming: [bool; 2],
}

// SAFETY: the mappings belong to this value and are only reached through `&self`/`&mut self`.
unsafe impl Send for V4l2M2m {}

impl std::fmt::Debug for V4l2M2m {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4l2M2m").field("path", &self.path).finish()
    }
}

impl V4l2M2m {
    /// Opens `path` (read-write, non-blocking).
    pub fn open(path: &str) -> io::Result<V4l2M2m> {
        let c = std::ffi::CString::new(path).map_err(io::Error::other)?;
        // SAFETY: a NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(V4l2M2m {
            // SAFETY: fresh descriptor from open().
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_string(),
            mem: [Memory::Mmap; 2],
            maps: [Vec::new(), Vec::new()],
            streaming: [false; 2],
        })
    }

    /// The file descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The card name (`VIDIOC_QUERYCAP`).
    pub fn card(&self) -> io::Result<String> {
        // SAFETY: zeroed POD filled by QUERYCAP.
        let mut c: sys::v4l2_capability = unsafe { std::mem::zeroed() };
        unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_QUERYCAP, &mut c)? };
        let n = c.card.iter().position(|&b| b == 0).unwrap_or(c.card.len());
        Ok(String::from_utf8_lossy(&c.card[..n]).into_owned())
    }

    /// Pixel formats offered on `q` (`VIDIOC_ENUM_FMT`).
    pub fn formats(&self, q: Queue) -> Vec<[u8; 4]> {
        let mut out = Vec::new();
        for index in 0..64 {
            // SAFETY: zeroed POD filled by ENUM_FMT.
            let mut d: sys::v4l2_fmtdesc = unsafe { std::mem::zeroed() };
            d.index = index;
            d.type_ = buf_type(q);
            if unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_ENUM_FMT, &mut d) }.is_err() {
                break;
            }
            out.push(d.pixelformat.to_le_bytes());
        }
        out
    }

    /// Subscribes to `V4L2_EVENT_SOURCE_CHANGE` (stateful decoders, dev-decoder.rst
    /// "Initialization" step 5).
    pub fn subscribe_source_change(&mut self) -> io::Result<()> {
        // SAFETY: zeroed POD.
        let mut s: sys::v4l2_event_subscription = unsafe { std::mem::zeroed() };
        s.type_ = sys::V4L2_EVENT_SOURCE_CHANGE;
        unsafe { xioctl(self.fd(), VIDIOC_SUBSCRIBE_EVENT, &mut s) }
    }

    /// `VIDIOC_DQEVENT`: the type of the next pending event, `None` if there is none.
    pub fn dequeue_event(&mut self) -> io::Result<Option<u32>> {
        // SAFETY: zeroed POD filled by DQEVENT.
        let mut e: sys::v4l2_event = unsafe { std::mem::zeroed() };
        match unsafe { xioctl(self.fd(), VIDIOC_DQEVENT, &mut e) } {
            Ok(()) => Ok(Some(e.type_)),
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn unmap(&mut self, q: Queue) {
        for (p, len) in self.maps[q.idx()].drain(..) {
            // SAFETY: a live mapping created by `request_buffers`.
            unsafe { libc::munmap(p as *mut c_void, len) };
        }
    }

    fn fmt_of(f: &sys::v4l2_format) -> Format {
        // SAFETY: the union was filled for an MPLANE type, so `pix_mp` is the active member;
        // fields of the packed struct are copied out, never referenced.
        let p = unsafe { f.fmt.pix_mp };
        let pf = p.plane_fmt[0];
        Format {
            fourcc: { p.pixelformat }.to_le_bytes(),
            width: p.width,
            height: p.height,
            bytesperline: pf.bytesperline,
            sizeimage: pf.sizeimage,
        }
    }
}

impl M2mDevice for V4l2M2m {
    fn set_format(&mut self, q: Queue, want: Format) -> io::Result<Format> {
        // SAFETY: zeroed POD; S_FMT reads and rewrites it.
        let mut f: sys::v4l2_format = unsafe { std::mem::zeroed() };
        f.type_ = buf_type(q);
        // SAFETY: writing plain integers into the `pix_mp` member of a zeroed union.
        unsafe {
            f.fmt.pix_mp.width = want.width;
            f.fmt.pix_mp.height = want.height;
            f.fmt.pix_mp.pixelformat = u32::from_le_bytes(want.fourcc);
            f.fmt.pix_mp.field = sys::v4l2_field_V4L2_FIELD_NONE;
            f.fmt.pix_mp.num_planes = 1;
            f.fmt.pix_mp.plane_fmt[0].bytesperline = want.bytesperline;
            f.fmt.pix_mp.plane_fmt[0].sizeimage = want.sizeimage;
        }
        unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_S_FMT, &mut f)? };
        // SAFETY: as above.
        let planes = unsafe { f.fmt.pix_mp.num_planes };
        if planes != 1 {
            return Err(io::Error::other(format!(
                "{}: the driver wants {planes} memory planes for {}; only 1 is supported",
                self.path,
                String::from_utf8_lossy(&want.fourcc)
            )));
        }
        Ok(Self::fmt_of(&f))
    }

    fn get_format(&mut self, q: Queue) -> io::Result<Format> {
        // SAFETY: zeroed POD filled by G_FMT.
        let mut f: sys::v4l2_format = unsafe { std::mem::zeroed() };
        f.type_ = buf_type(q);
        unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_G_FMT, &mut f)? };
        Ok(Self::fmt_of(&f))
    }

    fn set_frame_rate(&mut self, fps: u32) -> io::Result<u32> {
        // SAFETY: zeroed POD; the `output` member is the one for OUTPUT queues.
        let mut p: sys::v4l2_streamparm = unsafe { std::mem::zeroed() };
        p.type_ = buf_type(Queue::Output);
        unsafe {
            p.parm.output.timeperframe.numerator = 1;
            p.parm.output.timeperframe.denominator = fps.max(1);
            xioctl(self.fd(), v4l2::vidioc::VIDIOC_S_PARM, &mut p)?;
            let t = p.parm.output.timeperframe;
            Ok(t.denominator.checked_div(t.numerator).unwrap_or(fps))
        }
    }

    fn set_control(&mut self, id: u32, value: i32) -> io::Result<()> {
        let mut c = sys::v4l2_control { id, value };
        // SAFETY: S_CTRL with a v4l2_control.
        unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_S_CTRL, &mut c) }
    }

    fn request_buffers(&mut self, q: Queue, mem: Memory, count: u32) -> io::Result<u32> {
        self.unmap(q);
        // SAFETY: zeroed POD; REQBUFS.
        let mut r: sys::v4l2_requestbuffers = unsafe { std::mem::zeroed() };
        r.count = count;
        r.type_ = buf_type(q);
        r.memory = memory(mem);
        unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_REQBUFS, &mut r)? };
        self.mem[q.idx()] = mem;
        if mem == Memory::Mmap {
            for i in 0..r.count {
                // SAFETY: zeroed PODs; QUERYBUF fills the plane we point it at; mmap maps
                // the buffer it describes.
                let mut plane: sys::v4l2_plane = unsafe { std::mem::zeroed() };
                let mut b: sys::v4l2_buffer = unsafe { std::mem::zeroed() };
                b.index = i;
                b.type_ = buf_type(q);
                b.memory = memory(mem);
                b.length = 1;
                b.m.planes = &mut plane;
                unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_QUERYBUF, &mut b)? };
                let len = plane.length as usize;
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        self.fd(),
                        plane.m.mem_offset as libc::off_t,
                    )
                };
                if p == libc::MAP_FAILED {
                    return Err(io::Error::last_os_error());
                }
                self.maps[q.idx()].push((p as *mut u8, len));
            }
        }
        Ok(r.count)
    }

    fn buffer(&self, q: Queue, index: u32) -> &[u8] {
        match self.maps[q.idx()].get(index as usize) {
            // SAFETY: a live mapping of `len` bytes owned by self.
            Some(&(p, len)) => unsafe { std::slice::from_raw_parts(p, len) },
            None => &[],
        }
    }

    fn buffer_mut(&mut self, q: Queue, index: u32) -> &mut [u8] {
        match self.maps[q.idx()].get(index as usize) {
            // SAFETY: a live mapping of `len` bytes owned by self, borrowed mutably once.
            Some(&(p, len)) => unsafe { std::slice::from_raw_parts_mut(p, len) },
            None => &mut [],
        }
    }

    fn queue(&mut self, q: Queue, buf: &Buffer) -> io::Result<()> {
        // SAFETY: zeroed PODs; QBUF reads the plane through the pointer while we hold it.
        let mut plane: sys::v4l2_plane = unsafe { std::mem::zeroed() };
        plane.bytesused = buf.bytesused;
        plane.length = buf.length;
        let mem = self.mem[q.idx()];
        if mem == Memory::Dmabuf {
            plane.m.fd = buf.fd;
        }
        let mut b: sys::v4l2_buffer = unsafe { std::mem::zeroed() };
        b.index = buf.index;
        b.type_ = buf_type(q);
        b.memory = memory(mem);
        b.field = sys::v4l2_field_V4L2_FIELD_NONE;
        b.flags = buf.flags;
        b.timestamp.tv_sec = (buf.timestamp / 1_000_000) as _;
        b.timestamp.tv_usec = (buf.timestamp % 1_000_000) as _;
        b.length = 1;
        b.m.planes = &mut plane;
        unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_QBUF, &mut b) }
    }

    fn dequeue(&mut self, q: Queue) -> io::Result<Option<Buffer>> {
        // SAFETY: zeroed PODs; DQBUF fills the plane we point it at.
        let mut plane: sys::v4l2_plane = unsafe { std::mem::zeroed() };
        let mut b: sys::v4l2_buffer = unsafe { std::mem::zeroed() };
        b.type_ = buf_type(q);
        b.memory = memory(self.mem[q.idx()]);
        b.length = 1;
        b.m.planes = &mut plane;
        match unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_DQBUF, &mut b) } {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(None),
            Err(e) => return Err(e),
        }
        // time_t / suseconds_t are 32-bit on 32-bit ARM: widen explicitly.
        #[allow(clippy::unnecessary_cast)]
        let (s, us) = (b.timestamp.tv_sec as i64, b.timestamp.tv_usec as i64);
        Ok(Some(Buffer {
            index: b.index,
            bytesused: plane.bytesused,
            length: plane.length,
            timestamp: (s.max(0) as u64) * 1_000_000 + us.max(0) as u64,
            flags: b.flags,
            // SAFETY: reading the integer member of the union.
            fd: if self.mem[q.idx()] == Memory::Dmabuf {
                unsafe { plane.m.fd }
            } else {
                -1
            },
        }))
    }

    fn stream(&mut self, q: Queue, on: bool) -> io::Result<()> {
        let mut t = buf_type(q) as i32;
        let req = if on {
            v4l2::vidioc::VIDIOC_STREAMON
        } else {
            v4l2::vidioc::VIDIOC_STREAMOFF
        };
        // SAFETY: STREAMON/OFF take a pointer to the buffer type.
        unsafe { xioctl(self.fd(), req, &mut t)? };
        self.streaming[q.idx()] = on;
        Ok(())
    }

    fn command(&mut self, c: Command) -> io::Result<()> {
        match c {
            Command::EncoderStop => {
                // SAFETY: zeroed POD; ENCODER_CMD.
                let mut e: sys::v4l2_encoder_cmd = unsafe { std::mem::zeroed() };
                e.cmd = sys::V4L2_ENC_CMD_STOP;
                unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_ENCODER_CMD, &mut e) }
            }
            Command::DecoderStop => {
                // SAFETY: zeroed POD; DECODER_CMD.
                let mut d: sys::v4l2_decoder_cmd = unsafe { std::mem::zeroed() };
                d.cmd = sys::V4L2_DEC_CMD_STOP;
                unsafe { xioctl(self.fd(), VIDIOC_DECODER_CMD, &mut d) }
            }
        }
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<Ready> {
        let mut p = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLIN | libc::POLLOUT | libc::POLLPRI,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd we own.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(Ready::default());
            }
            return Err(e);
        }
        Ok(Ready {
            capture: p.revents & libc::POLLIN != 0,
            output: p.revents & libc::POLLOUT != 0,
            event: p.revents & libc::POLLPRI != 0,
            error: p.revents & (libc::POLLERR | libc::POLLHUP) != 0,
        })
    }
}

impl Drop for V4l2M2m {
    fn drop(&mut self) {
        // Errors are expected after an unplug (ENODEV, EIO): ignore them all.
        for q in [Queue::Output, Queue::Capture] {
            if self.streaming[q.idx()] {
                let _ = self.stream(q, false);
            }
            self.unmap(q);
            // SAFETY: zeroed POD; REQBUFS(0) frees the driver's buffers.
            let mut r: sys::v4l2_requestbuffers = unsafe { std::mem::zeroed() };
            r.type_ = buf_type(q);
            r.memory = memory(self.mem[q.idx()]);
            let _ = unsafe { xioctl(self.fd(), v4l2::vidioc::VIDIOC_REQBUFS, &mut r) };
        }
    }
}
