//! Borrowed views of encoded media as they cross from the encoders into the muxer.
//!
//! These are the only types the core (muxer, segmenter) takes as input; they borrow the
//! encoder's reusable output buffers, so handing a frame on copies nothing and allocates nothing.

use crate::time::Pts90k;

/// One H.264 access unit in Annex B byte-stream form (start codes included).
#[derive(Debug, Clone, Copy)]
pub struct VideoAu<'a> {
    /// Annex B bytes: one or more NAL units, each behind a 3- or 4-byte start code.
    pub data: &'a [u8],
    /// Presentation time.
    pub pts: Pts90k,
    /// Decoding time (equal to `pts` for streams without B-frames).
    pub dts: Pts90k,
    /// True when the access unit is an IDR picture (a random-access point).
    pub key: bool,
}

/// One or more AAC frames, each with its ADTS header, in presentation order.
#[derive(Debug, Clone, Copy)]
pub struct AudioAu<'a> {
    /// ADTS bytes (one or more complete ADTS frames).
    pub data: &'a [u8],
    /// Presentation time of the first frame in `data`.
    pub pts: Pts90k,
}
