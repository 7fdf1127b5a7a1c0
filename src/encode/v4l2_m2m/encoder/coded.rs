//! The `CAPTURE` side of [`M2mEncoder`]: coded buffers matched to inputs by timestamp, joined
//! into access units, stale ones dropped, the drain (dev-encoder.rst "Encoding" and "Drain").

use super::*;
use crate::codec::h264::AuLayout;

/// True when `data` holds an SPS and no slice: a codec-config buffer.
fn is_parameter_sets(data: &[u8]) -> bool {
    let l = AuLayout::scan(data);
    l.sps.is_some() && !l.has_vcl
}

/// How long a frame that exactly filled its last buffer waits for a continuation buffer.
const SPAN_GRACE: Duration = Duration::from_millis(20);

/// The access unit being assembled from one or more `CAPTURE` buffers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Assembly {
    tag: u64,
    key: bool,
    last_full: bool,
    parts: u32,
}

impl<D: M2mDevice> M2mEncoder<D> {
    /// Waits (up to the timeout) for the next complete access unit.
    pub(super) fn collect(&mut self, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
        let start = Instant::now();
        loop {
            if self.pump(out)? {
                return Ok(true);
            }
            if self.drained || (self.fifo.len == 0 && self.asm.is_none()) {
                return Ok(false);
            }
            if self.asm.is_none() && self.fifo.len <= self.lag {
                // Allowed to lag: the access unit comes with a later call (or the drain).
                return Ok(false);
            }
            let elapsed = start.elapsed();
            if elapsed >= self.timeout {
                if self.asm.is_some() {
                    self.finish(out);
                    return Ok(true);
                }
                return Err(self.timeout_err("waiting for coded data"));
            }
            let mut wait = self.timeout - elapsed;
            let spanning = self.asm.is_some_and(|a| a.last_full);
            if spanning {
                wait = wait.min(SPAN_GRACE);
            }
            let t0 = Instant::now();
            self.counters.waits += 1;
            let r = self.dev.wait(wait).map_err(|e| self.err("poll", e))?;
            if r.output {
                self.take_outputs()?;
            }
            if !r.capture {
                if spanning && self.held.is_none() && (t0.elapsed() >= wait || !r.output) {
                    // The frame exactly filled its last buffer and nothing followed.
                    self.finish(out);
                    return Ok(true);
                }
                if r.error {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }

    /// Takes `CAPTURE` buffers that are ready; true when `out` holds a complete access unit.
    fn pump(&mut self, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
        loop {
            if self.drained && self.held.is_none() {
                return Ok(false);
            }
            let b = match self.held.take() {
                Some(b) => b,
                None => match self.dev.dequeue(Queue::Capture) {
                    Ok(Some(b)) => b,
                    Ok(None) => return Ok(false),
                    Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                        // The last buffer was already dequeued.
                        self.drained = true;
                        if self.asm.is_some() {
                            self.finish(out);
                            return Ok(true);
                        }
                        return Ok(false);
                    }
                    Err(e) => return Err(self.err("DQBUF CAPTURE", e)),
                },
            };
            let last = b.flags & sys::V4L2_BUF_FLAG_LAST != 0;
            if let Some(a) = self.asm {
                if a.tag != b.timestamp && b.bytesused > 0 {
                    self.held = Some(b);
                    self.finish(out);
                    return Ok(true);
                }
            }
            let error = b.flags & sys::V4L2_BUF_FLAG_ERROR != 0;
            let known = b.bytesused > 0 && !error && self.fifo.contains(b.timestamp);
            if known {
                let data = self.dev.buffer(Queue::Capture, b.index);
                let used = (b.bytesused as usize).min(data.len());
                self.au.extend_from_slice(&data[..used]);
                let full = b.length > 0 && b.bytesused >= b.length;
                let key = b.flags & sys::V4L2_BUF_FLAG_KEYFRAME != 0;
                self.asm = Some(match self.asm {
                    Some(a) => Assembly {
                        tag: a.tag,
                        key: a.key || key,
                        last_full: full,
                        parts: a.parts + 1,
                    },
                    None => Assembly {
                        tag: b.timestamp,
                        key,
                        last_full: full,
                        parts: 1,
                    },
                });
            } else if error {
                self.counters.errors += 1;
            } else if b.bytesused > 0 {
                let data = self.dev.buffer(Queue::Capture, b.index);
                let data = &data[..(b.bytesused as usize).min(data.len())];
                if self.coded == CodedFormat::H264
                    && is_parameter_sets(data)
                    && self.header.len() + data.len() <= MAX_HEADER
                {
                    // A codec-config buffer (SPS/PPS only) without a picture's timestamp:
                    // kept for the next access unit rather than dropped.
                    self.header.extend_from_slice(data);
                    self.counters.headers += 1;
                } else {
                    self.counters.stale += 1;
                }
            }
            if !self.drained && !last {
                self.dev
                    .queue(Queue::Capture, &Buffer::new(b.index))
                    .map_err(|e| self.err("QBUF CAPTURE", e))?;
            }
            if last {
                self.counters.last_seen = true;
                self.drained = true;
                if self.asm.is_some() {
                    self.finish(out);
                    return Ok(true);
                }
                return Ok(false);
            }
            if known && !self.asm.is_some_and(|a| a.last_full) {
                self.finish(out);
                return Ok(true);
            }
        }
    }

    /// Moves the assembled access unit into `out` with its input's metadata.
    fn finish(&mut self, out: &mut EncodedVideo) {
        let Some(a) = self.asm.take() else {
            return;
        };
        let (meta, lost) = self.fifo.take(a.tag);
        self.counters.lost += lost;
        if a.parts > 1 {
            self.counters.spanned += 1;
        }
        let meta = meta.unwrap_or(InputMeta::EMPTY);
        out.data.clear();
        if !self.header.is_empty() && AuLayout::scan(&self.au).sps.is_none() {
            // The kept SPS/PPS go in front: one copy.
            out.data.extend_from_slice(&self.header);
            out.data.extend_from_slice(&self.au);
        } else {
            // The usual case: the assembled unit becomes the output, no copy (the two
            // buffers trade places, both keep their capacity).
            std::mem::swap(&mut out.data, &mut self.au);
        }
        self.header.clear();
        self.au.clear();
        out.key = a.key || self.coded.is_key(&out.data);
        out.pts = meta.pts;
        out.dts = meta.pts;
        out.captured = meta.captured;
        out.wall = meta.wall;
        out.discontinuity = meta.discontinuity;
        self.counters.frames_out += 1;
    }

    /// Drains the encoder (dev-encoder.rst "Drain"): `V4L2_ENC_CMD_STOP`, then every
    /// remaining access unit is handed to `sink` until a buffer flagged
    /// `V4L2_BUF_FLAG_LAST`. Returns the number of access units; the encoder then refuses
    /// further pictures.
    pub fn drain(&mut self, mut sink: impl FnMut(&EncodedVideo)) -> Result<u64, EncodeError> {
        if self.drained {
            return Ok(0);
        }
        self.dev
            .command(Command::EncoderStop)
            .map_err(|e| self.err("ENCODER_CMD STOP", e))?;
        let mut out = EncodedVideo::with_capacity(self.au.capacity());
        let mut n = 0;
        let start = Instant::now();
        loop {
            match self.pump(&mut out) {
                Ok(true) => {
                    n += 1;
                    sink(&out);
                    continue;
                }
                Ok(false) => {}
                Err(e) => break Err(e),
            }
            if self.drained {
                break Ok(n);
            }
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                break Err(self.timeout_err("draining (no LAST buffer)"));
            }
            self.counters.waits += 1;
            match self.dev.wait(left) {
                Ok(r) => {
                    if r.output {
                        if let Err(e) = self.take_outputs() {
                            break Err(e);
                        }
                    }
                    if r.error && !r.capture {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                Err(e) => break Err(self.err("poll", e)),
            }
        }
    }
}
