//! Cutting an H.264 Annex B byte stream read from a pipe into access units.
//!
//! Implements the access-unit boundary rule of ITU-T H.264 §7.4.1.2.3 ("Order of NAL units and
//! coded pictures and association to access units") for streams without arbitrary slice order:
//! after the last VCL NAL unit of a primary coded picture, the first of any of
//!
//! * an access unit delimiter (type 9), SPS (7), PPS (8), SEI (6) or the reserved types 14..=18,
//! * the first VCL NAL unit of the next primary coded picture — a coded slice (types 1..=5)
//!   whose `first_mb_in_slice` is 0 (§7.4.3; `ue(v)` 0 is the single bit `1`, so the top bit of
//!   the byte after the NAL header is set)
//!
//! starts a new access unit. The detection of the first VCL NAL unit of a picture by
//! `first_mb_in_slice == 0` is the one §7.4.1.2.4 allows for streams whose slices come in
//! order (camera encoders: the Pi's `bcm2835-codec`, libx264).
//!
//! [`AuSplitter`] reads from any [`Read`] into one buffer allocated up front and hands each
//! access unit out by copying it into the caller's reusable `Vec` (its capacity kept), so it does
//! not allocate in steady state; the buffer grows (doubling, up to [`MAX_AU`]) only for an
//! access unit larger than it. The bytes of an access unit are passed on as they came (start
//! codes, parameter sets, SEI); bytes before the first start code are dropped. At end of input
//! the access unit in progress is *not* delivered by [`AuSplitter::next_au`] — its end cannot
//! be told from a truncation (a helper killed mid-write) — unless the caller asks for it with
//! [`AuSplitter::finish`].

use super::h264::{find_start_code, is_vcl, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SEI, NAL_SPS};
use std::io::{self, Read};

/// Largest access unit accepted (the buffer never grows past this): 16 MiB.
pub const MAX_AU: usize = 16 << 20;

/// True when a NAL unit of `nal_type`, whose first byte after the header is `next`, begins a new
/// access unit, given that the access unit in progress already holds a VCL NAL unit
/// (`seen_vcl`). See the module docs (H.264 §7.4.1.2.3).
pub fn starts_access_unit(nal_type: u8, next: u8, seen_vcl: bool) -> bool {
    if !seen_vcl {
        return false;
    }
    match nal_type {
        NAL_AUD | NAL_SPS | NAL_PPS | NAL_SEI | 14..=18 => true,
        t if is_vcl(t) => next & 0x80 != 0,
        _ => false,
    }
}

/// What [`AuSplitter::next_au`] delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuInfo {
    /// Bytes written to the caller's buffer.
    pub len: usize,
    /// The access unit holds an IDR slice (NAL type 5).
    pub key: bool,
    /// NAL units in it.
    pub nals: u32,
}

/// Splits a byte stream into access units (see the module docs).
#[derive(Debug)]
pub struct AuSplitter {
    /// Read buffer; `buf[..filled]` holds data.
    buf: Vec<u8>,
    filled: usize,
    /// Offset of the current access unit's first byte (its first start code).
    begin: usize,
    /// The start-code search resumes here.
    scan: usize,
    /// A start code has been seen (bytes before the first one are dropped).
    synced: bool,
    seen_vcl: bool,
    key: bool,
    nals: u32,
    eof: bool,
}

impl AuSplitter {
    /// A splitter whose buffer holds `capacity` bytes to begin with (a few access units).
    pub fn new(capacity: usize) -> Self {
        AuSplitter {
            buf: vec![0; capacity.clamp(64, MAX_AU)],
            filled: 0,
            begin: 0,
            scan: 0,
            synced: false,
            seen_vcl: false,
            key: false,
            nals: 0,
            eof: false,
        }
    }

    /// Forgets all buffered data and state (a new stream follows); the buffer is kept.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.begin = 0;
        self.scan = 0;
        self.synced = false;
        self.seen_vcl = false;
        self.key = false;
        self.nals = 0;
        self.eof = false;
    }

    /// The size of the read buffer now.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Reads from `r` until one whole access unit is buffered and copies it into `out` (cleared
    /// first). `Ok(None)` at end of input (the unfinished access unit is kept for
    /// [`finish`](Self::finish)). Read errors are returned as they are (`TimedOut` from a reader
    /// with a deadline leaves the splitter able to continue).
    pub fn next_au(&mut self, r: &mut dyn Read, out: &mut Vec<u8>) -> io::Result<Option<AuInfo>> {
        loop {
            if let Some(info) = self.scan_buffered(out) {
                return Ok(Some(info));
            }
            if self.eof {
                return Ok(None);
            }
            self.make_room()?;
            match r.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Hands out what is buffered as the last access unit, if it holds a coded slice (for inputs
    /// known to end on an access-unit boundary, such as a file). Resets the splitter.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Option<AuInfo> {
        // Account for NAL units not scanned yet (their headers arrived with the last bytes).
        while let Some((p, l)) = find_start_code(&self.buf[..self.filled], self.scan) {
            let h = p + l;
            if h >= self.filled {
                break;
            }
            self.note_nal(self.buf[h] & 0x1F);
            self.scan = h + 1;
        }
        let info = (self.synced && self.seen_vcl).then(|| {
            out.clear();
            out.extend_from_slice(&self.buf[self.begin..self.filled]);
            AuInfo {
                len: out.len(),
                key: self.key,
                nals: self.nals,
            }
        });
        self.reset();
        info
    }

    fn note_nal(&mut self, nal_type: u8) {
        self.seen_vcl |= is_vcl(nal_type);
        self.key |= nal_type == NAL_IDR;
        self.nals += 1;
    }

    /// Looks for the next access-unit boundary in the buffered data.
    fn scan_buffered(&mut self, out: &mut Vec<u8>) -> Option<AuInfo> {
        while let Some((p, l)) = find_start_code(&self.buf[..self.filled], self.scan) {
            let h = p + l;
            // The header byte and the one after it decide; wait for them (a NAL unit cut
            // short by the end of input is judged on its header alone).
            if h + 1 >= self.filled && !(self.eof && h < self.filled) {
                // Resume at this start code once more bytes are in.
                self.scan = self.scan.max(p.saturating_sub(1));
                return None;
            }
            let nal_type = self.buf[h] & 0x1F;
            let next = self.buf.get(h + 1).copied().unwrap_or(0);
            if !self.synced {
                self.synced = true;
                self.begin = p;
            } else if starts_access_unit(nal_type, next, self.seen_vcl) {
                out.clear();
                out.extend_from_slice(&self.buf[self.begin..p]);
                let info = AuInfo {
                    len: out.len(),
                    key: self.key,
                    nals: self.nals,
                };
                self.begin = p;
                self.seen_vcl = false;
                self.key = false;
                self.nals = 0;
                self.note_nal(nal_type);
                self.scan = h + 1;
                return Some(info);
            }
            self.note_nal(nal_type);
            self.scan = h + 1;
        }
        // No start code in what is buffered: later searches need only look at the tail (a
        // start code may be cut by the end of the data; 4 bytes keep a zero_byte with it).
        let tail = self.filled.saturating_sub(4);
        if tail > self.scan {
            self.scan = tail;
        }
        if !self.synced {
            // Nothing to keep before the first start code but a possible partial one.
            self.drop_front(tail);
        }
        None
    }

    /// Moves the current access unit to the front of the buffer, growing it when the access
    /// unit fills it all.
    fn make_room(&mut self) -> io::Result<()> {
        if self.filled < self.buf.len() {
            return Ok(());
        }
        if self.begin > 0 {
            self.drop_front(self.begin);
            return Ok(());
        }
        if self.buf.len() >= MAX_AU {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("H.264 access unit larger than {MAX_AU} bytes"),
            ));
        }
        let grown = (self.buf.len() * 2).min(MAX_AU);
        self.buf.resize(grown, 0);
        Ok(())
    }

    /// Discards the first `n` buffered bytes.
    fn drop_front(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
        self.begin = self.begin.saturating_sub(n);
        self.scan = self.scan.saturating_sub(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands the data out `chunk` bytes per read.
    struct Chunked<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Three access units as a camera sends them: SPS+PPS+IDR (two slices), P (two slices),
    /// AUD+SEI+P; a junk byte in front, 3- and 4-byte start codes.
    const STREAM: &[u8] = &[
        0x77, // junk before the first start code
        0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1E, // SPS
        0, 0, 0, 1, 0x68, 0xCE, 0x38, 0x80, // PPS
        0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33, // IDR slice, first_mb 0
        0, 0, 1, 0x65, 0x05, 0x22, // IDR slice, first_mb != 0 (same picture)
        0, 0, 0, 1, 0x41, 0x9A, 0x02, // P slice, first_mb 0: new AU
        0, 0, 1, 0x41, 0x01, 0x11, // P slice, first_mb != 0
        0, 0, 0, 1, 0x09, 0xF0, // AUD: new AU
        0, 0, 1, 0x06, 0x05, 0x01, 0x80, // SEI
        0, 0, 1, 0x41, 0x9B, 0x07, // P slice, first_mb 0 (after AUD: same AU)
        0, 0, 0, 1, 0x41, 0x9C, 0x08, // P slice, first_mb 0: new AU (cut at the end)
    ];

    /// An access unit's bytes and what the splitter said of it.
    type Au = (Vec<u8>, AuInfo);

    fn split(chunk: usize, cap: usize) -> (Vec<Au>, Option<Au>) {
        let mut s = AuSplitter::new(cap);
        let mut r = Chunked {
            data: STREAM,
            chunk,
        };
        let mut out = vec![0xA5; 3];
        let mut aus = Vec::new();
        while let Some(info) = s.next_au(&mut r, &mut out).unwrap() {
            assert_eq!(info.len, out.len());
            aus.push((out.clone(), info));
        }
        let last = s.finish(&mut out).map(|i| (out.clone(), i));
        (aus, last)
    }

    #[test]
    fn boundaries_follow_the_standard_rule() {
        for chunk in [1, 2, 3, 5, 7, 64, 4096] {
            for cap in [64, 4096] {
                let (aus, last) = split(chunk, cap);
                assert_eq!(aus.len(), 3, "chunk {chunk} cap {cap}");
                assert_eq!(aus[0].0, STREAM[1..32].to_vec());
                assert_eq!(
                    aus[0].1,
                    AuInfo {
                        len: 31,
                        key: true,
                        nals: 4
                    }
                );
                assert_eq!(aus[1].0, STREAM[32..45].to_vec());
                assert_eq!((aus[1].1.key, aus[1].1.nals), (false, 2));
                assert_eq!(aus[2].0, STREAM[45..64].to_vec());
                assert_eq!((aus[2].1.key, aus[2].1.nals), (false, 3));
                let (bytes, info) = last.expect("the tail is handed out by finish");
                assert_eq!(bytes, STREAM[64..].to_vec());
                assert_eq!((info.key, info.nals), (false, 1));
            }
        }
    }

    #[test]
    fn rule_table() {
        // Nothing starts a new AU before the first slice of the current one.
        assert!(!starts_access_unit(NAL_SPS, 0, false));
        assert!(!starts_access_unit(1, 0x80, false));
        for t in [NAL_AUD, NAL_SPS, NAL_PPS, NAL_SEI, 14, 18] {
            assert!(starts_access_unit(t, 0, true), "type {t}");
        }
        assert!(starts_access_unit(5, 0x88, true));
        assert!(!starts_access_unit(5, 0x05, true));
        assert!(!starts_access_unit(12, 0xFF, true)); // filler data stays
        assert!(!starts_access_unit(10, 0xFF, true)); // end of sequence stays
    }

    #[test]
    fn junk_only_and_empty_inputs_give_nothing() {
        let mut s = AuSplitter::new(64);
        let mut out = Vec::new();
        let junk = [0x55u8; 1000];
        let mut r = Chunked {
            data: &junk,
            chunk: 100,
        };
        assert_eq!(s.next_au(&mut r, &mut out).unwrap(), None);
        assert_eq!(s.capacity(), 64, "junk does not grow the buffer");
        assert_eq!(s.finish(&mut out), None);
        let mut r = Chunked {
            data: &[],
            chunk: 1,
        };
        assert_eq!(s.next_au(&mut r, &mut out).unwrap(), None);
    }

    #[test]
    fn large_access_units_grow_the_buffer_once() {
        let mut data = vec![0, 0, 0, 1, 0x65, 0x88];
        data.resize(data.len() + 10_000, 0x11);
        data.extend_from_slice(&[0, 0, 0, 1, 0x41, 0x9A, 0x01]);
        data.extend_from_slice(&[0, 0, 0, 1, 0x41, 0x9A, 0x02]);
        let mut s = AuSplitter::new(256);
        let mut r = Chunked {
            data: &data,
            chunk: 300,
        };
        let mut out = Vec::new();
        let a = s.next_au(&mut r, &mut out).unwrap().unwrap();
        assert_eq!((a.len, a.key), (10_006, true));
        assert_eq!(out[..], data[..10_006]);
        let b = s.next_au(&mut r, &mut out).unwrap().unwrap();
        assert_eq!((b.len, b.key), (7, false));
        assert!(s.capacity() >= 10_006 && s.capacity() <= 4 * 10_006);
        assert_eq!(s.next_au(&mut r, &mut out).unwrap(), None);
    }

    #[test]
    fn reset_starts_a_new_stream() {
        let mut s = AuSplitter::new(128);
        let mut out = Vec::new();
        let mut r = Chunked {
            data: &STREAM[..45],
            chunk: 8,
        };
        assert!(s.next_au(&mut r, &mut out).unwrap().is_some());
        s.reset();
        let mut r = Chunked {
            data: STREAM,
            chunk: 8,
        };
        let a = s.next_au(&mut r, &mut out).unwrap().unwrap();
        assert_eq!(out, STREAM[1..32].to_vec());
        assert!(a.key);
    }
}
