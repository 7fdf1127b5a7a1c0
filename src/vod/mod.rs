//! `hlscam vod INPUT OUTDIR`: packages an existing H.264 + AAC file (MPEG-TS or MP4) into a
//! video-on-demand HLS presentation (RFC 8216).
//!
//! ```text
//! INPUT ─► demux_ts / demux_mp4 ─► Demuxed (Annex B AUs, ADTS frames, 90 kHz) ─► package
//!          (mpeg2ts / mp4 crates)                                              TsMuxer ─► OUTDIR
//! ```
//!
//! * [`demux_ts`] reads MPEG-TS with the `mpeg2ts` crate; [`demux_mp4`] reads MP4 with the `mp4`
//!   crate and converts AVCC length-prefixed NAL units plus the `avcC` SPS/PPS to Annex B and
//!   raw AAC frames to ADTS ([`crate::codec::adts::write_adts_header`]).
//! * Any codec but H.264 video and AAC audio is refused ([`VodError::Codec`]) with the ffmpeg
//!   command that transcodes it.
//! * [`package`] cuts segments at IDR pictures, each at least `--segment-seconds` long (the last
//!   may be shorter; RFC 8216 §6.2.1), written as MPEG-TS by our own muxer
//!   ([`crate::ts::TsMuxer`]: AUD before every access unit, SPS/PPS before every IDR, PAT/PMT at
//!   every segment start, continuity counters continuing across segments). With
//!   `--single-file` every segment is a byte range of one `media.ts` (`EXT-X-BYTERANGE`,
//!   RFC 8216 §4.3.2.2, which needs `EXT-X-VERSION` 4, §7).
//! * The playlist `index.m3u8` (§4.3.3.5 `EXT-X-PLAYLIST-TYPE:VOD`, §4.3.3.1
//!   `EXT-X-TARGETDURATION` = the longest EXTINF rounded, §4.3.2.1 EXTINF in milliseconds,
//!   §4.3.5.1 `EXT-X-INDEPENDENT-SEGMENTS`, §4.3.3.4 `EXT-X-ENDLIST`) is written last; every file
//!   is written under a temporary name and renamed into place.
//! * The output depends only on the input and the options (no wall clock), so the same input
//!   gives byte-identical output. Timestamps keep their spacing; they are shifted so the
//!   earliest one sits at [`START_OFFSET`].

pub mod demux_mp4;
pub mod demux_ts;
pub mod package;

use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::time::Pts90k;

/// Where the earliest timestamp of the output lands (1.4 s, as ffmpeg's TS muxer).
pub const START_OFFSET: Pts90k = Pts90k(126_000);

/// The ffmpeg command that turns anything into input this command takes.
pub const TRANSCODE_HINT: &str =
    "transcode it first, e.g. ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4";

/// One H.264 access unit, Annex B, timestamps on the demuxer's own (unshifted) 90 kHz scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSample {
    /// Annex B bytes.
    pub data: Vec<u8>,
    /// Presentation time.
    pub pts: i64,
    /// Decoding time.
    pub dts: i64,
    /// An IDR picture.
    pub key: bool,
}

/// One ADTS frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSample {
    /// The frame with its ADTS header.
    pub data: Vec<u8>,
    /// Presentation time (90 kHz).
    pub pts: i64,
    /// Duration (90 kHz).
    pub duration: i64,
}

/// A whole input, demuxed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demuxed {
    /// Video access units in decoding order.
    pub video: Vec<VideoSample>,
    /// Audio frames in presentation order.
    pub audio: Vec<AudioSample>,
}

/// Options of `hlscam vod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VodOptions {
    /// Shortest segment (seconds); segments end at the first IDR at or after it.
    pub segment_seconds: u32,
    /// One `media.ts` with byte ranges instead of one file per segment.
    pub single_file: bool,
}

impl Default for VodOptions {
    fn default() -> Self {
        VodOptions {
            segment_seconds: 6,
            single_file: false,
        }
    }
}

/// Why packaging failed.
#[derive(Debug)]
pub enum VodError {
    /// The input could not be read.
    Io(PathBuf, io::Error),
    /// The input is not MPEG-TS or MP4, or is damaged.
    Format(String),
    /// A codec other than H.264 / AAC.
    Codec(String),
    /// The muxer refused an access unit.
    Mux(String),
}

impl fmt::Display for VodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VodError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            VodError::Format(m) => write!(f, "{m}"),
            VodError::Codec(c) => write!(
                f,
                "unsupported codec {c}: hlscam vod takes H.264 video and AAC audio; {TRANSCODE_HINT}"
            ),
            VodError::Mux(m) => write!(f, "cannot mux: {m}"),
        }
    }
}

impl std::error::Error for VodError {}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of segments.
    pub segments: usize,
    /// Sum of the EXTINF durations (seconds).
    pub duration: f64,
    /// Bytes of media written.
    pub bytes: u64,
}

/// The container of `head` (the first bytes of a file): `Some(true)` MPEG-TS, `Some(false)` MP4.
pub fn sniff(head: &[u8]) -> Option<bool> {
    if head.len() > 188 && head[0] == 0x47 && head[188] == 0x47 {
        Some(true)
    } else if head.len() >= 8 && matches!(&head[4..8], b"ftyp" | b"moov" | b"mdat" | b"free") {
        Some(false)
    } else {
        None
    }
}

/// Reads and demuxes `input` (MPEG-TS or MP4).
pub fn demux(input: &Path) -> Result<Demuxed, VodError> {
    let io = |e| VodError::Io(input.to_owned(), e);
    let mut head = [0u8; 256];
    let mut f = std::fs::File::open(input).map_err(io)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    drop(f);
    match sniff(&head[..n]) {
        Some(true) => demux_ts::demux(input),
        Some(false) => demux_mp4::demux(input),
        None => Err(VodError::Format(format!(
            "{}: neither MPEG-TS nor MP4; {TRANSCODE_HINT}",
            input.display()
        ))),
    }
}

/// `hlscam vod`: packages `input` into `outdir`, drawing a progress bar on stderr when it is a
/// terminal and printing a summary line; returns the exit status (0, or 1 with the error on
/// stderr).
pub fn run_cli(input: &Path, outdir: &Path, opts: &VodOptions) -> i32 {
    let started = Instant::now();
    let tty = io::stderr().is_terminal();
    let mut progress = |done: f64| {
        if tty {
            let width = 40;
            let fill = ((done.clamp(0.0, 1.0)) * width as f64).round() as usize;
            let bar: String = "#".repeat(fill) + &" ".repeat(width - fill);
            let _ = write!(io::stderr(), "\r[{bar}] {:3.0} %", done * 100.0);
        }
    };
    let result = demux(input).and_then(|d| package::package(&d, outdir, opts, &mut progress));
    if tty {
        eprintln!();
    }
    match result {
        Ok(s) => {
            eprintln!(
                "hlscam vod: {} segments, {:.3} s, {} bytes in {} ({:.2} s)",
                s.segments,
                s.duration,
                s.bytes,
                outdir.display(),
                started.elapsed().as_secs_f64()
            );
            0
        }
        Err(e) => {
            eprintln!("hlscam vod: {e}");
            1
        }
    }
}
