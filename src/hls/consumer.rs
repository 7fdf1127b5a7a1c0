//! The output stage's consumers: everything that takes the parts and segments the producer
//! makes (DESIGN §1b). The live ring (`live`) is the first; a recorder or an origin
//! publisher is one more implementation of [`Consumer`], added with
//! [`super::HlsOutput::add_consumer`], with no change to the producer or the muxers.
//!
//! Contract, in call order for each segment: [`Consumer::init`] when a new fMP4 initialisation
//! segment applies from the next segment on; [`Consumer::begin_segment`]; [`Consumer::data`]
//! any number of times with the segment's bytes in order (chunks of up to 64 KiB, always cut
//! at part boundaries); [`Consumer::part`] after the last byte of each LL-HLS part; then
//! [`Consumer::segment`] (the segment is the concatenation of every `data` chunk since
//! `begin_segment`) — also when the live store failed to keep it. [`Consumer::finish`]
//! ends the run. All calls happen on the mux thread with the frame path waiting: an
//! implementation that does slow or fallible I/O (disk, network) must hand the work to its own
//! thread behind a bounded queue and degrade itself (skip ahead, mark a discontinuity, report)
//! rather than block. The byte slices are only valid during the call.

use std::time::SystemTime;

use crate::time::Pts90k;

/// A segment that begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStart {
    /// Its sequence number in the live stream.
    pub seq: u64,
    /// PTS of its first video frame.
    pub pts: Pts90k,
    /// Wall clock of its first frame (`EXT-X-PROGRAM-DATE-TIME`).
    pub wall: SystemTime,
    /// Whether it begins a discontinuity.
    pub discontinuity: bool,
    /// Its fMP4 initialisation segment generation (0 for MPEG-TS).
    pub map: u32,
}

/// A finished LL-HLS partial segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartDone {
    /// Sequence number of its parent segment.
    pub seq: u64,
    /// Index within the parent.
    pub index: u32,
    /// PTS of its first video frame.
    pub start: Pts90k,
    /// Its duration.
    pub duration: Pts90k,
    /// Starts with an IDR.
    pub independent: bool,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A finished segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentDone {
    /// Its sequence number.
    pub seq: u64,
    /// PTS of its first video frame.
    pub start: Pts90k,
    /// Its EXTINF duration.
    pub duration: Pts90k,
    /// Wall clock of its first frame.
    pub wall: SystemTime,
    /// Whether it begins a discontinuity.
    pub discontinuity: bool,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its fMP4 initialisation segment generation (0 for MPEG-TS).
    pub map: u32,
}

/// One consumer of the output stage (see the module docs for the call order).
pub trait Consumer: Send {
    /// A new fMP4 initialisation segment `init<gen>.mp4` applies from the next segment.
    fn init(&mut self, gen: u32, bytes: &[u8]) {
        let _ = (gen, bytes);
    }
    /// A segment begins.
    fn begin_segment(&mut self, start: &SegmentStart) {
        let _ = start;
    }
    /// The next bytes of the open segment.
    fn data(&mut self, bytes: &[u8]);
    /// A part of the open segment is complete.
    fn part(&mut self, part: &PartDone) {
        let _ = part;
    }
    /// The open segment is complete.
    fn segment(&mut self, done: &SegmentDone) {
        let _ = done;
    }
    /// The run ends; `end_of_stream` when the stream is over (not just this process).
    fn finish(&mut self, end_of_stream: bool) {
        let _ = end_of_stream;
    }
}
