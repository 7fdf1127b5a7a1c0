//! A minimal V4L2 **stateful decoder** client (dev-decoder.rst), multi-planar, MMAP on both
//! queues, one coded frame per `OUTPUT` buffer. It exists to check the encoder end to end
//! against vicodec's stateful FWHT decoder in the VM (`tests/hw.rs`); it is not used by the
//! streaming pipeline.
//!
//! Sequence (dev-decoder.rst "Initialization"): `S_FMT` on `OUTPUT` with the coded format,
//! subscribe to `V4L2_EVENT_SOURCE_CHANGE`, `REQBUFS` + `STREAMON` on `OUTPUT`, queue coded
//! data until the source-change event, then `G_FMT` on `CAPTURE` (the decoded format the
//! stream needs), `REQBUFS` + `STREAMON` on `CAPTURE` ("Capture Setup"). "Decoding": coded
//! buffers in, pictures out with the timestamp of the buffer they came from. "Drain":
//! `V4L2_DEC_CMD_STOP`, dequeue until `V4L2_BUF_FLAG_LAST`.

use super::device::{Buffer, Command, Format, M2mDevice, Memory, Queue};
use super::ioctl::V4l2M2m;
use super::CodedFormat;
use std::io;
use std::time::{Duration, Instant};
use v4l::v4l_sys as sys;

/// Coded (`OUTPUT`) buffers requested.
const OUTPUT_BUFFERS: u32 = 4;
/// Picture (`CAPTURE`) buffers requested.
const CAPTURE_BUFFERS: u32 = 4;

/// A decoded picture handed to the caller: (timestamp of its coded buffer, the `CAPTURE`
/// format, the picture's bytes laid out as that format says).
pub type PictureSink<'a> = dyn FnMut(u64, &Format, &[u8]) + 'a;

/// A stateful decoder on a V4L2 M2M node.
pub struct M2mDecoder {
    dev: V4l2M2m,
    n_out: u32,
    out_free: u32,
    cap_fmt: Option<Format>,
    timeout: Duration,
    last_seen: bool,
}

impl std::fmt::Debug for M2mDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("M2mDecoder")
            .field("dev", &self.dev)
            .field("cap_fmt", &self.cap_fmt)
            .finish()
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl M2mDecoder {
    /// Opens the decoder at `path` for a `coded` stream of `width`×`height` pictures.
    pub fn open(path: &str, coded: CodedFormat, width: u32, height: u32) -> io::Result<M2mDecoder> {
        let mut dev = V4l2M2m::open(path)?;
        let f = dev.set_format(
            Queue::Output,
            Format {
                fourcc: coded.fourcc(),
                width,
                height,
                bytesperline: 0,
                sizeimage: 0,
            },
        )?;
        if f.fourcc != coded.fourcc() {
            return Err(io::Error::other(format!(
                "{path}: decoder took {} for {}",
                String::from_utf8_lossy(&f.fourcc),
                String::from_utf8_lossy(&coded.fourcc())
            )));
        }
        dev.subscribe_source_change()?;
        let n_out = dev
            .request_buffers(Queue::Output, Memory::Mmap, OUTPUT_BUFFERS)?
            .min(32);
        dev.stream(Queue::Output, true)?;
        Ok(M2mDecoder {
            dev,
            n_out,
            out_free: (1u32 << n_out) - 1,
            cap_fmt: None,
            timeout: Duration::from_secs(5),
            last_seen: false,
        })
    }

    /// The decoded-picture format, once known.
    pub fn picture_format(&self) -> Option<Format> {
        self.cap_fmt
    }

    /// True once a `V4L2_BUF_FLAG_LAST` buffer was dequeued.
    pub fn last_seen(&self) -> bool {
        self.last_seen
    }

    /// Dequeues the coded buffers the driver is done with (non-blocking).
    fn take_outputs(&mut self) -> io::Result<()> {
        while let Some(b) = self.dev.dequeue(Queue::Output)? {
            if b.index < self.n_out {
                self.out_free |= 1 << b.index;
            }
        }
        Ok(())
    }

    fn reclaim(&mut self) -> io::Result<()> {
        let start = Instant::now();
        loop {
            self.take_outputs()?;
            if self.out_free != 0 {
                return Ok(());
            }
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(timed_out("no OUTPUT buffer came back"));
            }
            let r = self.dev.wait(left)?;
            if !r.output {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Waits for the source-change event and sets up the `CAPTURE` queue.
    fn capture_setup(&mut self) -> io::Result<()> {
        let start = Instant::now();
        loop {
            match self.dev.dequeue_event()? {
                Some(t) if t == sys::V4L2_EVENT_SOURCE_CHANGE => break,
                Some(_) => continue,
                None => {}
            }
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(timed_out("no source-change event"));
            }
            let r = self.dev.wait(left.min(Duration::from_millis(50)))?;
            if !r.event {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let f = self.dev.get_format(Queue::Capture)?;
        let n = self
            .dev
            .request_buffers(Queue::Capture, Memory::Mmap, CAPTURE_BUFFERS)?;
        for i in 0..n {
            self.dev.queue(Queue::Capture, &Buffer::new(i))?;
        }
        self.dev.stream(Queue::Capture, true)?;
        self.cap_fmt = Some(f);
        Ok(())
    }

    /// Takes ready pictures; returns how many went to `sink`.
    fn pump(&mut self, sink: &mut PictureSink<'_>) -> io::Result<u32> {
        let mut n = 0;
        let Some(f) = self.cap_fmt else {
            return Ok(0);
        };
        while !self.last_seen {
            let b = match self.dev.dequeue(Queue::Capture) {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    self.last_seen = true;
                    break;
                }
                Err(e) => return Err(e),
            };
            if b.bytesused > 0 && b.flags & sys::V4L2_BUF_FLAG_ERROR == 0 {
                let data = self.dev.buffer(Queue::Capture, b.index);
                let used = (b.bytesused as usize).min(data.len());
                sink(b.timestamp, &f, &data[..used]);
                n += 1;
            }
            if b.flags & sys::V4L2_BUF_FLAG_LAST != 0 {
                self.last_seen = true;
                break;
            }
            self.dev.queue(Queue::Capture, &Buffer::new(b.index))?;
        }
        Ok(n)
    }

    /// Queues one coded frame `au` tagged `timestamp` and waits (up to 5 s) until at least one
    /// picture has come out; returns the pictures handed to `sink`.
    pub fn decode(
        &mut self,
        au: &[u8],
        timestamp: u64,
        sink: &mut PictureSink<'_>,
    ) -> io::Result<u32> {
        self.reclaim()?;
        let idx = self.out_free.trailing_zeros();
        let dst = self.dev.buffer_mut(Queue::Output, idx);
        if dst.len() < au.len() {
            return Err(io::Error::other(format!(
                "coded frame of {} B > OUTPUT buffer of {} B",
                au.len(),
                dst.len()
            )));
        }
        dst[..au.len()].copy_from_slice(au);
        let b = Buffer {
            index: idx,
            bytesused: au.len() as u32,
            length: 0,
            timestamp,
            flags: 0,
            fd: -1,
        };
        self.dev.queue(Queue::Output, &b)?;
        self.out_free &= !(1 << idx);
        if self.cap_fmt.is_none() {
            self.capture_setup()?;
        }
        let start = Instant::now();
        loop {
            let n = self.pump(sink)?;
            if n > 0 || self.last_seen {
                return Ok(n);
            }
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(timed_out("no decoded picture"));
            }
            let r = self.dev.wait(left)?;
            if r.output {
                self.take_outputs()?;
            }
            if r.error && !r.capture {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Drains: `V4L2_DEC_CMD_STOP`, pictures to `sink` until `V4L2_BUF_FLAG_LAST`.
    pub fn drain(&mut self, sink: &mut PictureSink<'_>) -> io::Result<u32> {
        self.dev.command(Command::DecoderStop)?;
        let start = Instant::now();
        let mut n = 0;
        while !self.last_seen {
            n += self.pump(sink)?;
            if self.last_seen {
                break;
            }
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(timed_out("no LAST buffer after DEC_CMD_STOP"));
            }
            let r = self.dev.wait(left)?;
            if r.output {
                self.take_outputs()?;
            }
            if r.error && !r.capture {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(n)
    }
}
