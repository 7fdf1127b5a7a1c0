//! Writing and walking ISO BMFF boxes (ISO/IEC 14496-12 §4.2 `Box`, `FullBox`).
//!
//! ```text
//! Box      size (u32, header included) | type (4 ASCII bytes) | body
//! FullBox  size | type | version (u8) | flags (u24) | body
//! ```
//! [`BoxWriter`] writes big-endian fields into a caller-provided buffer: [`BoxWriter::begin`]
//! leaves room for the size, [`BoxWriter::end`] patches it in once the body is written. A
//! write that does not fit is dropped and remembered (a sticky overflow, like `std::fmt`'s
//! error): every later write is dropped too and [`BoxWriter::finish`] returns
//! [`Fmp4Error::ScratchTooSmall`], so writers need no `?` per field and nothing panics.
//! [`BoxIter`] walks the boxes of a buffer (tests and tools); it never panics either.

use super::Fmp4Error;

/// A four-character box type.
pub type FourCc = [u8; 4];

/// Writes boxes into a borrowed buffer (see the module docs).
#[derive(Debug)]
pub struct BoxWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> BoxWriter<'a> {
    /// Writes from the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        BoxWriter {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A write did not fit (everything after it was dropped).
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The bytes written, or [`Fmp4Error::ScratchTooSmall`] when a write did not fit.
    pub fn finish(self) -> Result<&'a [u8], Fmp4Error> {
        if self.overflow {
            return Err(Fmp4Error::ScratchTooSmall);
        }
        let BoxWriter { buf, len, .. } = self;
        Ok(&buf[..len])
    }

    /// Appends `bytes` (dropped, and the overflow latched, when they do not fit).
    pub fn put(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    /// Appends a big-endian `u16`.
    pub fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    /// Appends the low 24 bits of `v`, big-endian.
    pub fn u24(&mut self, v: u32) {
        self.put(&v.to_be_bytes()[1..]);
    }

    /// Appends a big-endian `u32`.
    pub fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }

    /// Appends a big-endian `u64`.
    pub fn u64(&mut self, v: u64) {
        self.put(&v.to_be_bytes());
    }

    /// Appends a big-endian `i32`.
    pub fn i32(&mut self, v: i32) {
        self.put(&v.to_be_bytes());
    }

    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) {
        if self.overflow {
            return;
        }
        match self.buf.get_mut(self.len..self.len + n) {
            Some(dst) => {
                dst.fill(0);
                self.len += n;
            }
            None => self.overflow = true,
        }
    }

    /// Starts a box of type `fourcc`: returns its offset, to be handed to [`end`](Self::end)
    /// once its body is written.
    pub fn begin(&mut self, fourcc: &FourCc) -> usize {
        let start = self.len;
        self.u32(0);
        self.put(fourcc);
        start
    }

    /// Starts a full box (version and 24-bit flags after the type); see [`begin`](Self::begin).
    pub fn begin_full(&mut self, fourcc: &FourCc, version: u8, flags: u32) -> usize {
        let start = self.begin(fourcc);
        self.u8(version);
        self.u24(flags);
        start
    }

    /// Ends the box begun at `start`: writes its size (a box of 4 GiB or more latches the
    /// overflow; the writers here never produce one).
    pub fn end(&mut self, start: usize) {
        match u32::try_from(self.len - start.min(self.len)) {
            Ok(size) => self.patch_u32(start, size),
            Err(_) => self.overflow = true,
        }
    }

    /// Overwrites the 4 bytes at `at` (written earlier) with `v`.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        if self.overflow {
            return;
        }
        match self.buf[..self.len].get_mut(at..at + 4) {
            Some(dst) => dst.copy_from_slice(&v.to_be_bytes()),
            None => self.overflow = true,
        }
    }
}

/// One box found by [`BoxIter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxRef<'a> {
    /// The box type.
    pub fourcc: FourCc,
    /// The body (after the 8-byte header; a full box's version and flags are its first 4
    /// bytes).
    pub body: &'a [u8],
    /// The whole box, header included.
    pub whole: &'a [u8],
}

/// Iterator over consecutive boxes (32-bit sizes only). Stops at the end of the data or at
/// the first box whose size is below 8 or runs past the end.
#[derive(Debug, Clone)]
pub struct BoxIter<'a> {
    rest: &'a [u8],
}

impl<'a> BoxIter<'a> {
    /// Walks the boxes of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BoxIter { rest: data }
    }
}

impl<'a> Iterator for BoxIter<'a> {
    type Item = BoxRef<'a>;

    fn next(&mut self) -> Option<BoxRef<'a>> {
        let head = self.rest.get(..8)?;
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let fourcc = [head[4], head[5], head[6], head[7]];
        if size < 8 || size > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let (whole, rest) = self.rest.split_at(size);
        self.rest = rest;
        Some(BoxRef {
            fourcc,
            body: &whole[8..],
            whole,
        })
    }
}

/// The body of the box reached by following `path` through nested container boxes, e.g.
/// `find(moov, &[b"trak", b"mdia", b"mdhd"])` (first match at each level).
pub fn find<'a>(data: &'a [u8], path: &[&FourCc]) -> Option<&'a [u8]> {
    let mut at = data;
    for fourcc in path {
        at = BoxIter::new(at).find(|b| &b.fourcc == *fourcc)?.body;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_sizes_are_patched() {
        let mut buf = [0xA5u8; 64];
        let mut w = BoxWriter::new(&mut buf);
        let outer = w.begin(b"moov");
        let inner = w.begin_full(b"mvhd", 1, 0x020001);
        w.u16(0x0102);
        w.u24(0x030405);
        w.u64(6);
        w.i32(-1);
        w.zeros(2);
        w.end(inner);
        w.u8(9);
        w.end(outer);
        let out = w.finish().unwrap();
        assert_eq!(out.len(), 8 + 12 + 2 + 3 + 8 + 4 + 2 + 1);
        assert_eq!(&out[..8], &[0, 0, 0, 40, b'm', b'o', b'o', b'v']);
        assert_eq!(&out[8..20], b"\0\0\0\x1fmvhd\x01\x02\x00\x01");
        let mvhd = find(out, &[b"moov", b"mvhd"]).unwrap();
        assert_eq!(mvhd.len(), 4 + 19);
        assert_eq!(&mvhd[4..9], &[1, 2, 3, 4, 5]);
        assert_eq!(BoxIter::new(out).count(), 1);
        assert_eq!(find(out, &[b"moov", b"trak"]), None);
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        for cap in 0..24 {
            let mut buf = vec![0u8; cap];
            let mut w = BoxWriter::new(&mut buf);
            let s = w.begin(b"free");
            w.zeros(8);
            w.u32(7);
            w.end(s);
            w.patch_u32(100, 1);
            assert!(w.overflowed());
            assert_eq!(w.finish(), Err(Fmp4Error::ScratchTooSmall), "cap {cap}");
        }
        let mut buf = [0u8; 20];
        let mut w = BoxWriter::new(&mut buf);
        w.zeros(20);
        assert!(!w.overflowed() && w.len() == 20);
        w.u8(1);
        assert!(w.overflowed());
        assert_eq!(w.bytes().len(), 20);
    }

    #[test]
    fn iter_stops_at_bad_sizes() {
        let data = [
            0, 0, 0, 8, b'a', b'b', b'c', b'd', 0, 0, 0, 4, b'x', b'x', b'x', b'x',
        ];
        let v: Vec<_> = BoxIter::new(&data).map(|b| b.fourcc).collect();
        assert_eq!(v, [*b"abcd"]);
        assert_eq!(BoxIter::new(&data[..12]).count(), 1);
        let long = [0, 0, 0, 99, b'a', b'b', b'c', b'd'];
        assert_eq!(BoxIter::new(&long).count(), 0);
    }
}
