//! Input side of the encoder: what each queued picture carries ([`InputMeta`]), the
//! fixed-capacity FIFO that matches coded output back to it by timestamp (dev-encoder.rst
//! "Encoding", note on timestamps), and the YU12 layout of `OUTPUT` buffers
//! ([`InputLayout`], from the format the driver accepted; pixfmt-yuv-planar.rst).

use super::device::Format;
use crate::source::RawFrame;
use crate::time::Pts90k;
use std::time::{Duration, SystemTime};

/// Pictures that may be in flight inside the encoder (fixed FIFO capacity).
pub const FIFO_CAPACITY: usize = 32;

/// What an encoded picture inherits from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputMeta {
    /// Media time of capture.
    pub pts: Pts90k,
    /// Monotonic capture time.
    pub captured: Duration,
    /// Wall-clock capture time.
    pub wall: SystemTime,
    /// First picture after a source switch.
    pub discontinuity: bool,
}

impl InputMeta {
    pub(crate) const EMPTY: InputMeta = InputMeta {
        pts: Pts90k::ZERO,
        captured: Duration::ZERO,
        wall: SystemTime::UNIX_EPOCH,
        discontinuity: false,
    };

    /// The metadata of a raw frame.
    pub fn of(f: &RawFrame) -> InputMeta {
        InputMeta {
            pts: f.pts,
            captured: f.captured,
            wall: f.wall,
            discontinuity: f.discontinuity,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub(crate) tag: u64,
    pub(crate) meta: InputMeta,
}

/// Inputs queued and not yet matched with output, oldest first (fixed capacity ring).
pub(crate) struct Fifo {
    items: [InFlight; FIFO_CAPACITY],
    head: usize,
    pub(crate) len: usize,
}

impl Fifo {
    pub(crate) fn new() -> Fifo {
        Fifo {
            items: [InFlight {
                tag: 0,
                meta: InputMeta::EMPTY,
            }; FIFO_CAPACITY],
            head: 0,
            len: 0,
        }
    }
    /// Appends; returns true when the oldest entry had to be dropped to make room.
    pub(crate) fn push(&mut self, e: InFlight) -> bool {
        let evicted = self.len == FIFO_CAPACITY;
        if evicted {
            self.head = (self.head + 1) % FIFO_CAPACITY;
            self.len -= 1;
        }
        self.items[(self.head + self.len) % FIFO_CAPACITY] = e;
        self.len += 1;
        evicted
    }
    pub(crate) fn contains(&self, tag: u64) -> bool {
        (0..self.len).any(|i| self.items[(self.head + i) % FIFO_CAPACITY].tag == tag)
    }
    /// Removes `tag` and every older entry (inputs the encoder never answered); returns its
    /// metadata and the number of older entries dropped.
    pub(crate) fn take(&mut self, tag: u64) -> (Option<InputMeta>, u64) {
        if !self.contains(tag) {
            return (None, 0);
        }
        let mut dropped = 0;
        while self.len > 0 {
            let e = self.items[self.head];
            self.head = (self.head + 1) % FIFO_CAPACITY;
            self.len -= 1;
            if e.tag == tag {
                return (Some(e.meta), dropped);
            }
            dropped += 1;
        }
        (None, dropped)
    }
}

/// Where the Y, U and V planes go in an `OUTPUT` buffer, from the format the driver accepted
/// (its `bytesperline` may exceed the width: bcm2835-codec aligns YU12 rows to 64 bytes, and
/// its height may be rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLayout {
    /// Bytes per Y row.
    pub y_stride: usize,
    /// Bytes per U or V row.
    pub c_stride: usize,
    /// Offset of the U plane.
    pub u_offset: usize,
    /// Offset of the V plane.
    pub v_offset: usize,
    /// Bytes of one picture (the `bytesused` queued).
    pub len: usize,
}

impl InputLayout {
    /// The YU12 layout of an accepted format (rows = its height).
    pub fn of(f: &Format) -> InputLayout {
        let y_stride = (f.bytesperline as usize).max(f.width as usize);
        let rows = f.height as usize;
        let c_stride = y_stride.div_ceil(2);
        let c_rows = rows.div_ceil(2);
        let u_offset = y_stride * rows;
        let v_offset = u_offset + c_stride * c_rows;
        InputLayout {
            y_stride,
            c_stride,
            u_offset,
            v_offset,
            len: v_offset + c_stride * c_rows,
        }
    }

    /// Copies tightly packed I420 `w`×`h` from `src` into `dst` laid out as `self` (row by
    /// row when the strides differ, one copy per plane when they do not).
    pub fn copy_i420(&self, src: &[u8], w: usize, h: usize, dst: &mut [u8]) -> bool {
        let (cw, ch) = (w / 2, h / 2);
        if src.len() < w * h + 2 * cw * ch || dst.len() < self.len {
            return false;
        }
        let (y, rest) = src.split_at(w * h);
        let (u, v) = rest.split_at(cw * ch);
        copy_plane(y, w, h, &mut dst[..], self.y_stride);
        copy_plane(u, cw, ch, &mut dst[self.u_offset..], self.c_stride);
        copy_plane(v, cw, ch, &mut dst[self.v_offset..], self.c_stride);
        true
    }
}

fn copy_plane(src: &[u8], w: usize, h: usize, dst: &mut [u8], stride: usize) {
    if stride == w {
        dst[..w * h].copy_from_slice(&src[..w * h]);
        return;
    }
    for (row, s) in src.chunks_exact(w).take(h).enumerate() {
        dst[row * stride..row * stride + w].copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(tag: u64) -> InFlight {
        InFlight {
            tag,
            meta: InputMeta {
                pts: Pts90k(tag * 10),
                ..InputMeta::EMPTY
            },
        }
    }

    #[test]
    fn fifo_matches_by_tag_and_drops_older_entries() {
        let mut f = Fifo::new();
        for t in 1..=5 {
            assert!(!f.push(e(t)));
        }
        assert!(f.contains(3) && !f.contains(9));
        // 3 answered: 1 and 2 never will be.
        assert_eq!(f.take(3), (Some(e(3).meta), 2));
        assert_eq!(f.len, 2);
        assert_eq!(f.take(9), (None, 0), "an unknown tag leaves the FIFO alone");
        assert_eq!(f.len, 2);
        // Full: the oldest is evicted.
        for t in 6..(6 + FIFO_CAPACITY as u64 - 2) {
            assert!(!f.push(e(t)));
        }
        assert_eq!(f.len, FIFO_CAPACITY);
        assert!(f.push(e(100)));
        assert!(!f.contains(4) && f.contains(5) && f.contains(100));
    }

    #[test]
    fn layout_of_a_padded_format() {
        let l = InputLayout::of(&Format {
            fourcc: *b"YU12",
            width: 1920,
            height: 1088,
            bytesperline: 1920,
            sizeimage: 1920 * 1088 * 3 / 2,
        });
        assert_eq!(
            (l.y_stride, l.c_stride, l.u_offset),
            (1920, 960, 1920 * 1088)
        );
        assert_eq!(l.v_offset, 1920 * 1088 + 960 * 544);
        assert_eq!(l.len, 1920 * 1088 * 3 / 2);
        // bcm2835-codec style: 1000 px rows padded to 1024.
        let l = InputLayout::of(&Format {
            fourcc: *b"YU12",
            width: 1000,
            height: 500,
            bytesperline: 1024,
            sizeimage: 0,
        });
        assert_eq!(
            (l.y_stride, l.c_stride, l.u_offset),
            (1024, 512, 1024 * 500)
        );
        let src: Vec<u8> = (0..1000 * 500 * 3 / 2).map(|i| (i % 253) as u8).collect();
        let mut dst = vec![0xA5; l.len];
        assert!(l.copy_i420(&src, 1000, 500, &mut dst));
        assert_eq!(&dst[1024..2024], &src[1000..2000], "Y row 1");
        assert!(dst[2024..2048].iter().all(|&b| b == 0xA5), "Y padding");
        let u0 = 1000 * 500;
        assert_eq!(
            &dst[l.u_offset + 512..l.u_offset + 1012],
            &src[u0 + 500..u0 + 1000]
        );
        let v0 = u0 + 500 * 250;
        assert_eq!(&dst[l.v_offset..l.v_offset + 500], &src[v0..v0 + 500]);
        assert!(
            !l.copy_i420(&src[..100], 1000, 500, &mut dst),
            "short source refused"
        );
    }
}
