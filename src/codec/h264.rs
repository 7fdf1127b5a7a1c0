//! H.264 Annex B byte streams (ITU-T H.264 Annex B "Byte stream format", §7.3.1 NAL unit syntax).
//!
//! A byte stream is a sequence of NAL units, each behind a start code `00 00 01` (or the 4-byte
//! form `00 00 00 01`, the `zero_byte` + start code of Annex B.1). [`NalIter`] walks them without
//! copying; trailing zero bytes (`trailing_zero_8bits`) are not part of a NAL unit and are
//! stripped. No function here panics on any input.

/// Non-IDR coded slice.
pub const NAL_SLICE: u8 = 1;
/// Coded slice data partition A.
pub const NAL_SLICE_DPA: u8 = 2;
/// Coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// Supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// Sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// Picture parameter set.
pub const NAL_PPS: u8 = 8;
/// Access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// The access unit delimiter the muxer inserts: 4-byte start code, `nal_unit_type` 9,
/// `primary_pic_type` 7 ("any slice type") and the RBSP stop bit (H.264 §7.3.2.4).
pub const AUD_NAL: [u8; 6] = [0, 0, 0, 1, 0x09, 0xF0];

/// True for the VCL NAL unit types (coded slices, 1..=5).
pub const fn is_vcl(nal_type: u8) -> bool {
    matches!(nal_type, 1..=5)
}

/// Finds the next start code at or after `from`.
///
/// Returns `(position of its first byte, length)`; the length is 4 when the `00 00 01` is
/// preceded by another zero byte (at or after `from`), else 3.
pub fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from.checked_add(2)?;
    while i < data.len() {
        let b = data[i];
        if b > 1 {
            i += 3;
        } else if b == 1 && data[i - 1] == 0 && data[i - 2] == 0 {
            let start = i - 2;
            return if start > from && data[start - 1] == 0 {
                Some((start - 1, 4))
            } else {
                Some((start, 3))
            };
        } else {
            i += 1;
        }
    }
    None
}

/// One NAL unit, borrowed from the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nal<'a> {
    /// `nal_unit_type` (low 5 bits of the first byte).
    pub nal_type: u8,
    /// The NAL unit, header byte included, start code and trailing zero bytes excluded.
    pub bytes: &'a [u8],
}

/// Iterator over the NAL units of an Annex B byte stream (3- and 4-byte start codes).
///
/// Bytes before the first start code are skipped; empty NAL units are skipped.
#[derive(Debug, Clone)]
pub struct NalIter<'a> {
    data: &'a [u8],
    /// Offset of the first byte after the current start code, or `None` when finished.
    next: Option<usize>,
}

impl<'a> NalIter<'a> {
    /// Starts iterating `data`.
    pub fn new(data: &'a [u8]) -> Self {
        let next = find_start_code(data, 0).map(|(p, l)| p + l);
        NalIter { data, next }
    }
}

impl<'a> Iterator for NalIter<'a> {
    type Item = Nal<'a>;

    fn next(&mut self) -> Option<Nal<'a>> {
        loop {
            let begin = self.next?;
            let end = match find_start_code(self.data, begin) {
                Some((p, l)) => {
                    self.next = Some(p + l);
                    p
                }
                None => {
                    self.next = None;
                    self.data.len()
                }
            };
            let mut bytes = &self.data[begin..end];
            while let [rest @ .., 0] = bytes {
                bytes = rest;
            }
            if let Some(&h) = bytes.first() {
                return Some(Nal {
                    nal_type: h & 0x1F,
                    bytes,
                });
            }
        }
    }
}

/// True when the byte stream contains an IDR slice.
pub fn is_idr(annexb: &[u8]) -> bool {
    NalIter::new(annexb).any(|n| n.nal_type == NAL_IDR)
}

/// True when the first coded slice of `au` is an IDR slice (every slice of an IDR picture is,
/// §7.4.1.2.4): only the NAL unit headers in front of it are read, not the slice data.
pub fn first_slice_is_idr(au: &[u8]) -> bool {
    let mut at = 0;
    while let Some((p, len)) = find_start_code(au, at) {
        at = p + len;
        let Some(&h) = au.get(at) else {
            return false;
        };
        if is_vcl(h & 0x1F) {
            return h & 0x1F == NAL_IDR;
        }
    }
    false
}

/// Where the parameter sets and the delimiter sit in one access unit, found by scanning only
/// the NAL units in front of the first coded slice (H.264 §7.4.1.2.3 puts AUD, SPS, PPS and SEI
/// there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuLayout {
    /// The first NAL unit is an access unit delimiter.
    pub has_aud: bool,
    /// Byte offset in the access unit just past the delimiter NAL (0 when there is none): the
    /// place to insert parameter sets.
    pub after_aud: usize,
    /// Range of the (last) SPS NAL, without start code.
    pub sps: Option<(usize, usize)>,
    /// Range of the (last) PPS NAL, without start code.
    pub pps: Option<(usize, usize)>,
    /// A coded slice was found.
    pub has_vcl: bool,
    /// The data begins with a start code.
    pub starts_with_start_code: bool,
}

impl AuLayout {
    /// Scans `au` up to its first coded slice.
    pub fn scan(au: &[u8]) -> AuLayout {
        let mut l = AuLayout::default();
        let Some((p0, len0)) = find_start_code(au, 0) else {
            return l;
        };
        l.starts_with_start_code = p0 == 0;
        let mut begin = p0 + len0;
        let mut first = true;
        while begin < au.len() {
            let nal_type = au[begin] & 0x1F;
            if is_vcl(nal_type) {
                l.has_vcl = true;
                return l;
            }
            let next = find_start_code(au, begin);
            let mut end = next.map_or(au.len(), |(p, _)| p);
            while end > begin && au[end - 1] == 0 {
                end -= 1;
            }
            match nal_type {
                NAL_AUD if first => {
                    l.has_aud = true;
                    l.after_aud = next.map_or(au.len(), |(p, _)| p);
                }
                NAL_SPS => l.sps = Some((begin, end)),
                NAL_PPS => l.pps = Some((begin, end)),
                _ => {}
            }
            first = false;
            match next {
                Some((p, len)) => begin = p + len,
                None => break,
            }
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idr_detection() {
        assert!(first_slice_is_idr(&[
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x65, 0x88
        ]));
        assert!(!first_slice_is_idr(&[
            0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x41, 0x9a
        ]));
        assert!(!first_slice_is_idr(&[0, 0, 1]));
    }

    #[test]
    fn iterates_mixed_start_codes() {
        let s = [
            0xAA, 0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 0, 1, 0x68, 3, 0, 0, 1,
            0x65, 9, 9,
        ];
        let v: Vec<_> = NalIter::new(&s).collect();
        assert_eq!(v.len(), 4);
        assert_eq!(
            v[0],
            Nal {
                nal_type: 9,
                bytes: &[0x09, 0xF0]
            }
        );
        assert_eq!(
            v[1],
            Nal {
                nal_type: 7,
                bytes: &[0x67, 1, 2]
            }
        );
        assert_eq!(
            v[2],
            Nal {
                nal_type: 8,
                bytes: &[0x68, 3]
            }
        );
        assert_eq!(
            v[3],
            Nal {
                nal_type: 5,
                bytes: &[0x65, 9, 9]
            }
        );
        assert!(is_idr(&s));
        assert!(!is_idr(&s[..20]));
        assert_eq!(NalIter::new(&[0, 0, 1]).count(), 0);
        assert_eq!(NalIter::new(&[1, 2, 3]).count(), 0);
    }

    #[test]
    fn layout_finds_parameter_sets() {
        let s = [
            0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 0,
        ];
        let l = AuLayout::scan(&s);
        assert!(l.has_aud && l.has_vcl && l.starts_with_start_code);
        assert_eq!(l.after_aud, 6);
        assert_eq!(l.sps, Some((9, 12)));
        assert_eq!(l.pps, Some((16, 18)));
        let l = AuLayout::scan(&s[6..]);
        assert!(!l.has_aud);
        assert_eq!(l.after_aud, 0);
        assert!(!AuLayout::scan(&[7, 7]).starts_with_start_code);
    }
}
