//! Clip export (issue 13 "clip export"): a time range of the recordings remuxed into one MP4
//! file, for `GET /api/clip.mp4` ([`crate::http::clip`]).
//!
//! ```text
//! catalog::segments(from, to) ─► Clip (pieces: chunk byte ranges, open files, output times)
//!   measure(): run into a byte counter ─► length, duration ─► Content-Length, file name
//!   write():   run again into the socket (the same bytes, the duration now in mvhd/mehd)
//! run: per piece mpeg2ts PES ─► Annex B access units, ADTS frames ─► Fmp4Muxer ─► ByteSink
//! ```
//!
//! - The recorded segments are read as they are (no decoding): each is a self-contained
//!   MPEG-TS segment beginning with PAT, PMT and an IDR, demuxed with the `mpeg2ts` crate. The
//!   output is fragmented MP4 ([`crate::fmp4`]: `ftyp` + `moov` with the duration in `mvhd`
//!   and `mehd`, then one `moof` + `mdat` per recorded segment, and more when a segment holds
//!   more than a fragment does), which browsers, phones, ffmpeg and VLC play.
//! - Cuts: the clip begins at the last IDR at or before `from` (it never starts on a picture
//!   that cannot be decoded, so it may begin up to one GOP early) and ends before the first
//!   picture at or after `to`; audio frames are kept from that IDR's time to the end.
//!   Recording times map to media times through each segment's index record: its first
//!   PTS at its wall-clock time.
//! - Timestamps: 33-bit PTS are read relative to each segment's first PTS. Segments that
//!   continue each other keep their PTS distance; after a break (a gap, a restart, a clock
//!   step: [`catalog::breaks`]) the next segment starts where the previous one ended, so the
//!   clip plays the recorded footage back to back. The first picture's decode time is 0.
//! - A clip needs one SPS for its whole length (the `avcC`): at an IDR whose SPS differs
//!   (the encoder was reconfigured) the clip ends.
//! - Both runs read the same bytes: the chunk files are opened once in [`plan`], so retention
//!   deleting one meanwhile changes nothing. The length and the duration come from the
//!   first run; the second one's bytes are checked against it by the HTTP layer.
//! - Memory: the muxer's fixed buffers ([`MuxerLimits`]), a read buffer and one PES per
//!   stream, reused for every segment; the clip is never held whole. No allocation per sample:
//!   only a few per segment (the packet reader's PAT/PMT tables), proven by
//!   tests/record_alloc.rs with the counting allocator.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use mpeg2ts::ts::{ReadTsPacket, TsPacketReader, TsPayload};

use super::catalog::{self, Loaded};
use super::index::IndexRecord;
use crate::codec::adts::AdtsFrames;
use crate::codec::h264::{first_slice_is_idr, NalIter, NAL_PPS, NAL_SPS};
use crate::fmp4::{write_init, AudioParams, ByteSink, Fmp4Error, Fmp4Muxer, MuxerLimits};
use crate::fmp4::{TrackParams, VIDEO_TIMESCALE};

const PTS_MOD: i64 = 1 << 33;
/// A fragment is cut at every IDR and after this much video (90 kHz), whichever comes first.
const FRAGMENT_MAX: i64 = 2 * 90_000;
/// Duration of the last picture when the clip runs to the end of the recording and it has
/// only one picture to measure from (90 kHz, one frame at 30 fps).
const LAST_FRAME_DEFAULT: i64 = 3_000;

/// Why a clip cannot be made.
#[derive(Debug)]
pub enum ClipError {
    /// Nothing is recorded in the range.
    Empty,
    /// A chunk could not be read.
    Io(io::Error),
    /// The recording is damaged or not what the recorder writes.
    Format(String),
}

impl std::fmt::Display for ClipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClipError::Empty => f.write_str("nothing recorded in this range"),
            ClipError::Io(e) => write!(f, "reading a chunk: {e}"),
            ClipError::Format(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClipError {}

impl From<io::Error> for ClipError {
    fn from(e: io::Error) -> Self {
        ClipError::Io(e)
    }
}

fn bad(what: impl std::fmt::Display) -> ClipError {
    ClipError::Format(format!("recording: {what}"))
}

/// One recorded segment of the clip.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Index into [`Clip::files`].
    file: usize,
    offset: u64,
    len: u64,
    /// The segment's first PTS (33 bits, from its index record).
    pts0: i64,
    /// Where `pts0` lands on the clip's running 90 kHz line.
    base: i64,
}

/// The IDR a clip begins with, and the track parameters, from the first segment.
#[derive(Debug, Clone)]
struct Start {
    /// PTS and DTS of the IDR on the running line.
    pts: i64,
    dts: i64,
    sps: Vec<u8>,
    pps: Vec<u8>,
    audio: Option<AudioParams>,
    /// Wall clock of the IDR.
    wall: SystemTime,
}

/// A planned clip: the segments, their files (open), the cut points.
#[derive(Debug)]
pub struct Clip {
    files: Vec<File>,
    pieces: Vec<Piece>,
    start: Start,
    /// End of the range on the running line: pictures and audio frames before it are kept.
    end: i64,
}

/// What the first run measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// Bytes of the MP4 file.
    pub bytes: u64,
    /// Its duration, milliseconds.
    pub duration_ms: u32,
}

/// Nanoseconds to 90 kHz ticks.
fn ticks(d: Duration) -> i64 {
    (d.as_nanos() * 9 / 100_000) as i64
}

/// `a − b` of two 33-bit timestamps, the short way round.
fn pts_diff(a: i64, b: i64) -> i64 {
    let d = (a - b).rem_euclid(PTS_MOD);
    if d >= PTS_MOD / 2 {
        d - PTS_MOD
    } else {
        d
    }
}

/// Plans the clip of `[from, to]` from the records `l` holds (read with
/// [`catalog::load`] for the same range); `dir` is the recordings directory.
pub fn plan(l: &Loaded, dir: &Path, from: SystemTime, to: SystemTime) -> Result<Clip, ClipError> {
    let segs = catalog::segments(l, from, to);
    let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
        return Err(ClipError::Empty);
    };
    let mut names: Vec<&str> = Vec::new();
    let mut files = Vec::new();
    let mut pieces: Vec<Piece> = Vec::with_capacity(segs.len());
    let mut prev: Option<(Piece, IndexRecord)> = None;
    for s in &segs {
        let file = match names.iter().position(|n| *n == s.chunk) {
            Some(i) => i,
            None => {
                files.push(File::open(dir.join(s.chunk))?);
                names.push(s.chunk);
                files.len() - 1
            }
        };
        let pts0 = s.rec.pts.0 as i64 % PTS_MOD;
        let base = match prev {
            None => 0,
            Some((p, r)) if s.discontinuity => p.base + r.duration.0 as i64,
            Some((p, _)) => p.base + pts_diff(pts0, p.pts0),
        };
        let piece = Piece {
            file,
            offset: s.rec.offset,
            len: u64::from(s.rec.len),
            pts0,
            base,
        };
        pieces.push(piece);
        prev = Some((piece, s.rec));
    }
    let from_line = ticks(
        from.duration_since(catalog::wall(&first.rec))
            .unwrap_or_default(),
    );
    let last_piece = pieces[pieces.len() - 1];
    let to_line = ticks(
        to.duration_since(catalog::wall(&last.rec))
            .unwrap_or_default(),
    )
    .min(last.rec.duration.0 as i64);
    Ok(Clip {
        start: find_start(&files[0], &pieces[0], from_line, catalog::wall(&first.rec))?,
        files,
        pieces,
        end: last_piece.base + to_line,
    })
}

/// One elementary-stream unit of a segment, timestamps on the running line.
enum Unit<'a> {
    Video {
        au: &'a [u8],
        pts: i64,
        dts: i64,
    },
    Audio {
        /// Whole ADTS frames.
        frames: &'a [u8],
        pts: i64,
    },
}

/// Reads `len` bytes of `file` from `offset` through a caller's buffer, without moving a
/// file position (the files are shared by the pieces of one clip).
struct At<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
    buf: &'a mut [u8],
    lo: usize,
    hi: usize,
}

impl Read for At<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.lo == self.hi {
            let want = (self.end - self.pos).min(self.buf.len() as u64) as usize;
            if want == 0 {
                return Ok(0);
            }
            let n = self.file.read_at(&mut self.buf[..want], self.pos)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "chunk shorter than its index",
                ));
            }
            self.pos += n as u64;
            (self.lo, self.hi) = (0, n);
        }
        let n = out.len().min(self.hi - self.lo);
        out[..n].copy_from_slice(&self.buf[self.lo..self.lo + n]);
        self.lo += n;
        Ok(n)
    }
}

/// A PES packet being gathered: its data and timestamps (33-bit).
#[derive(Debug, Default)]
struct Pes {
    pid: Option<u16>,
    data: Vec<u8>,
    pts: Option<u64>,
    dts: Option<u64>,
}

/// The buffers one clip run reuses for every piece: file reads, and the video and audio PES
/// being gathered (they grow to the largest PES once, then stay).
struct Buffers {
    read: Box<[u8]>,
    pes: [Pes; 2],
}

impl Buffers {
    fn new() -> Self {
        let pes = |cap| Pes {
            data: Vec::with_capacity(cap),
            ..Pes::default()
        };
        Buffers {
            read: vec![0; 64 << 10].into_boxed_slice(),
            pes: [pes(1 << 20), pes(64 << 10)],
        }
    }
}

/// Hands the gathered PES `pes` (of the video stream when `video`) to `f` as a unit and
/// empties it.
fn emit(
    pes: &mut Pes,
    video: bool,
    line: &dyn Fn(u64) -> i64,
    f: &mut dyn FnMut(Unit<'_>) -> Result<(), ClipError>,
) -> Result<(), ClipError> {
    let taken = pes.pts.take().map(|pts| (line(pts), pes.dts.take()));
    let r = match taken {
        Some((pts, dts)) if video => f(Unit::Video {
            au: &pes.data,
            pts,
            dts: dts.map_or(pts, line),
        }),
        Some((pts, _)) => f(Unit::Audio {
            frames: &pes.data,
            pts,
        }),
        None => Ok(()),
    };
    pes.data.clear();
    r
}

/// Demuxes one piece with the `mpeg2ts` crate's packet reader, gathering the PES packets in
/// `bufs` (not the crate's PES reader, which allocates a buffer per packet), and calls `f`
/// with each unit when the next PES of its stream begins, the last ones at the end.
fn demux(
    file: &File,
    p: &Piece,
    bufs: &mut Buffers,
    f: &mut dyn FnMut(Unit<'_>) -> Result<(), ClipError>,
) -> Result<(), ClipError> {
    let Buffers { read, pes } = bufs;
    for x in pes.iter_mut() {
        x.pid = None;
        x.pts = None;
        x.data.clear();
    }
    let at = At {
        file,
        pos: p.offset,
        end: p.offset + p.len,
        buf: read,
        lo: 0,
        hi: 0,
    };
    let mut r = TsPacketReader::new(at);
    let line = |raw: u64| p.base + pts_diff(raw as i64, p.pts0);
    loop {
        let pkt = match r.read_ts_packet() {
            Ok(Some(pkt)) => pkt,
            Ok(None) => break,
            // An I/O error of the chunk file comes wrapped in the crate's error.
            Err(e) => return Err(bad(format_args!("bad MPEG-TS in a recorded segment: {e}"))),
        };
        let pid = pkt.header.pid.as_u16();
        match pkt.payload {
            Some(TsPayload::PesStart(start)) => {
                let id = start.header.stream_id;
                let slot = if id.is_video() {
                    0
                } else if id.is_audio() {
                    1
                } else {
                    continue;
                };
                emit(&mut pes[slot], slot == 0, &line, f)?;
                let x = &mut pes[slot];
                x.pid = Some(pid);
                x.pts = start.header.pts.map(|t| t.as_u64());
                x.dts = start.header.dts.map(|t| t.as_u64());
                x.data.extend_from_slice(&start.data);
            }
            Some(TsPayload::PesContinuation(bytes)) => {
                if let Some(x) = pes.iter_mut().find(|x| x.pid == Some(pid)) {
                    x.data.extend_from_slice(&bytes);
                }
            }
            _ => {}
        }
    }
    let [v, a] = pes;
    emit(v, true, &line, f)?;
    emit(a, false, &line, f)
}

/// The parameter sets of an access unit.
fn param_sets(au: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut sps, mut pps) = (None, None);
    for n in NalIter::new(au) {
        match n.nal_type {
            NAL_SPS => sps = sps.or(Some(n.bytes)),
            NAL_PPS => pps = pps.or(Some(n.bytes)),
            _ => {}
        }
    }
    (sps, pps)
}

/// The last IDR of the first segment at or before `from` (its first IDR when `from` is
/// earlier), with the parameter sets it carries and the first audio frame's parameters; `wall`
/// is the segment's wall clock (where the running line's 0 is).
fn find_start(file: &File, p: &Piece, from: i64, wall: SystemTime) -> Result<Start, ClipError> {
    let mut best: Option<Start> = None;
    let mut audio = None;
    demux(file, p, &mut Buffers::new(), &mut |u| {
        match u {
            Unit::Video { au, pts, dts } => {
                // The first IDR, replaced by any later one still at or before `from`.
                let better = best
                    .as_ref()
                    .map_or(true, |b| pts <= from && (b.pts > from || pts > b.pts));
                if better && first_slice_is_idr(au) {
                    if let (Some(sps), Some(pps)) = param_sets(au) {
                        best = Some(Start {
                            pts,
                            dts,
                            sps: sps.to_vec(),
                            pps: pps.to_vec(),
                            audio: None,
                            wall: wall + Duration::from_nanos(pts.max(0) as u64 * 100_000 / 9),
                        });
                    }
                }
            }
            Unit::Audio { frames, .. } => {
                if audio.is_none() {
                    if let Some(Ok((h, _))) = AdtsFrames::new(frames).next() {
                        audio = Some(AudioParams::from_adts(&h));
                    }
                }
            }
        }
        Ok(())
    })?;
    let mut s = best.ok_or_else(|| bad("a segment without an IDR and its SPS/PPS"))?;
    s.audio = audio;
    Ok(s)
}

/// Counts bytes.
struct Counter(u64);

impl ByteSink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
}

/// Writes into an `io::Write`, keeping the first error (and writing nothing after it).
struct WriteSink<'a> {
    w: &'a mut dyn Write,
    err: Option<io::Error>,
}

impl ByteSink for WriteSink<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if self.err.is_none() {
            if let Err(e) = self.w.write_all(bytes) {
                self.err = Some(e);
            }
        }
    }

    fn failed(&self) -> bool {
        self.err.is_some()
    }
}

/// The muxing state of one run.
struct Run<'a> {
    mux: Fmp4Muxer,
    sink: &'a mut dyn ByteSink,
    start: &'a Start,
    end: i64,
    /// Whether the starting IDR was pushed; once video has ended (the first picture at or
    /// after the end, or a new SPS), where the last picture ends.
    started: bool,
    video_end: Option<i64>,
    /// DTS (running line) of the last two pictures pushed, and of the fragment's first.
    last_dts: Option<i64>,
    prev_dts: Option<i64>,
    fragment_dts: Option<i64>,
    /// Audio frames pushed, frames dropped (a fragment's table full without video to cut at).
    audio_frames: u64,
    audio_dropped: u64,
    first_audio: Option<i64>,
    bytes: u64,
}

impl Run<'_> {
    /// A file time (90 kHz, the first picture's DTS at 0) of a running-line time.
    fn file_time(&self, t: i64) -> u64 {
        (t - self.start.dts).max(0) as u64
    }

    fn fragment(&mut self, video_end: i64) -> Result<(), ClipError> {
        let end = self.file_time(video_end);
        let n = self.mux.fragment(end, self.sink).map_err(mux_err)?;
        self.bytes += n as u64;
        self.fragment_dts = None;
        Ok(())
    }

    fn video(&mut self, au: &[u8], pts: i64, dts: i64) -> Result<(), ClipError> {
        if self.video_end.is_some() {
            return Ok(());
        }
        let key = first_slice_is_idr(au);
        if !self.started {
            if !(key && pts == self.start.pts && dts == self.start.dts) {
                return Ok(());
            }
            self.started = true;
        } else if pts >= self.end
            || (key
                && param_sets(au)
                    .0
                    .is_some_and(|s| s != self.start.sps.as_slice()))
        {
            self.video_end = Some(dts);
            return Ok(());
        }
        if self.last_dts.is_some_and(|l| dts <= l) {
            return Err(bad("video decode times go backwards"));
        }
        let long = self.fragment_dts.is_some_and(|f| dts - f >= FRAGMENT_MAX);
        if self.mux.video_samples() > 0 && (key || long) {
            self.fragment(dts)?;
        }
        let (p, d) = (self.file_time(pts), self.file_time(dts));
        match self.mux.push_video(au, p, d, key) {
            Err(Fmp4Error::VideoSamplesFull | Fmp4Error::VideoDataFull)
                if self.mux.video_samples() > 0 =>
            {
                self.fragment(dts)?;
                self.mux.push_video(au, p, d, key).map_err(mux_err)?;
            }
            // An access unit of only parameter sets or SEI: nothing to show.
            Err(Fmp4Error::EmptyAccessUnit) => return Ok(()),
            r => r.map_err(mux_err)?,
        }
        self.fragment_dts.get_or_insert(dts);
        self.prev_dts = self.last_dts;
        self.last_dts = Some(dts);
        Ok(())
    }

    fn audio(&mut self, frames: &[u8], pts: i64) -> Result<(), ClipError> {
        let Some(params) = self.start.audio else {
            return Ok(());
        };
        let mut samples = 0i64;
        let rate = i64::from(params.sample_rate.max(1));
        for r in AdtsFrames::new(frames) {
            let (h, frame) = r.map_err(|e| bad(format_args!("bad ADTS audio: {e:?}")))?;
            let at = pts + samples * 90_000 / rate;
            samples += i64::from(h.samples());
            if at < self.start.pts || at >= self.end || AudioParams::from_adts(&h) != params {
                continue;
            }
            let t = self.file_time(at);
            let pushed = match self.mux.push_audio(frame, t) {
                Err(Fmp4Error::AudioSamplesFull | Fmp4Error::AudioDataFull)
                    if self.mux.video_samples() == 0 =>
                {
                    // An audio-only fragment (video_end is ignored without video samples).
                    self.fragment(self.start.dts)?;
                    self.mux.push_audio(frame, t)
                }
                r => r,
            };
            match pushed {
                Ok(_) => {
                    self.first_audio.get_or_insert(at);
                    self.audio_frames += 1;
                }
                Err(Fmp4Error::AudioSamplesFull | Fmp4Error::AudioDataFull) => {
                    self.audio_dropped += 1
                }
                Err(e) => return Err(mux_err(e)),
            }
        }
        Ok(())
    }
}

fn mux_err(e: Fmp4Error) -> ClipError {
    bad(format_args!("cannot remux: {e}"))
}

impl Clip {
    /// Wall clock of the clip's first picture.
    pub fn start_wall(&self) -> SystemTime {
        self.start.wall
    }

    /// Runs the remux into `sink`, the init segment with `duration_ms`; returns the bytes
    /// written and the duration (90 kHz).
    fn run(&self, duration_ms: u32, sink: &mut dyn ByteSink) -> Result<(u64, u64), ClipError> {
        let params = TrackParams {
            width: 0,
            height: 0,
            sps: &self.start.sps,
            pps: &self.start.pps,
            audio: self.start.audio,
            duration_ms: Some(duration_ms),
        };
        let mut scratch = vec![0u8; 4096 + self.start.sps.len() + self.start.pps.len()];
        let init = write_init(&params, &mut scratch).map_err(mux_err)?;
        sink.put(init);
        let mut run = Run {
            mux: Fmp4Muxer::new(self.start.audio, MuxerLimits::default()),
            bytes: init.len() as u64,
            sink,
            start: &self.start,
            end: self.end,
            started: false,
            video_end: None,
            last_dts: None,
            prev_dts: None,
            fragment_dts: None,
            audio_frames: 0,
            audio_dropped: 0,
            first_audio: None,
        };
        let mut bufs = Buffers::new();
        for p in &self.pieces {
            // Past the end (a segment's audio may begin a little before its first picture), or
            // the client is gone.
            if p.base > self.end + FRAGMENT_MAX || run.sink.failed() {
                break;
            }
            demux(&self.files[p.file], p, &mut bufs, &mut |u| match u {
                Unit::Video { au, pts, dts } => run.video(au, pts, dts),
                Unit::Audio { frames, pts } => run.audio(frames, pts),
            })?;
        }
        let last = run.last_dts.ok_or_else(|| bad("no picture in the range"))?;
        let frame = run.prev_dts.map_or(LAST_FRAME_DEFAULT, |p| last - p);
        let video_end = run.video_end.unwrap_or(last + frame);
        run.fragment(video_end)?;
        if run.audio_dropped > 0 {
            log::warn!(
                "clip: {} audio frames dropped (no picture for longer than a fragment holds)",
                run.audio_dropped
            );
        }
        let audio_end = run.first_audio.map_or(0, |a| {
            let rate = u64::from(self.start.audio.map_or(1, |p| p.sample_rate.max(1)));
            run.file_time(a) + run.audio_frames * 1024 * u64::from(VIDEO_TIMESCALE) / rate
        });
        Ok((run.bytes, run.file_time(video_end).max(audio_end)))
    }

    /// The first run: the file's length and duration, nothing written.
    pub fn measure(&self) -> Result<Measured, ClipError> {
        let (bytes, duration) = self.run(0, &mut Counter(0))?;
        Ok(Measured {
            bytes,
            duration_ms: u32::try_from(duration / 90).unwrap_or(u32::MAX),
        })
    }

    /// The second run: writes the file (`m` from [`measure`](Self::measure)) into `w`;
    /// returns the bytes written.
    pub fn write(&self, m: &Measured, w: &mut dyn Write) -> io::Result<u64> {
        let mut sink = WriteSink { w, err: None };
        let r = self.run(m.duration_ms, &mut sink);
        if let Some(e) = sink.err {
            return Err(e);
        }
        match r {
            Ok((bytes, _)) => Ok(bytes),
            Err(ClipError::Io(e)) => Err(e),
            Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_differences_wrap_at_33_bits() {
        assert_eq!(pts_diff(100, 40), 60);
        assert_eq!(pts_diff(40, 100), -60);
        assert_eq!(pts_diff(5, PTS_MOD - 5), 10);
        assert_eq!(pts_diff(PTS_MOD - 5, 5), -10);
        assert_eq!(ticks(Duration::from_millis(1500)), 135_000);
        assert_eq!(ticks(Duration::from_nanos(11_112)), 1);
    }
}
