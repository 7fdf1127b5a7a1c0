//! Segmenting, muxing and writing (RFC 8216 §3.2 MPEG-TS segments, §4 the playlist).
//!
//! Video access units and audio frames are interleaved by time (video DTS against audio PTS)
//! into one [`TsMuxer`] for the whole run. A new segment starts at an IDR whose PTS is at least
//! `segment_seconds` after the start of the current one; before the cut the pending audio PES
//! is flushed, after it PAT and PMT are written. A segment's EXTINF is the time from its first
//! IDR's PTS to the next segment's (the last one: to the end of the last frame of either
//! track), in milliseconds, so the EXTINF sum is the media duration.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Demuxed, Summary, VodError, VodOptions, START_OFFSET};
use crate::media::{AudioAu, VideoAu};
use crate::time::Pts90k;
use crate::ts::{MuxConfig, TsMuxer};

/// Name of the playlist in OUTDIR.
pub const PLAYLIST: &str = "index.m3u8";
/// Name of the media file with `--single-file`.
pub const SINGLE_FILE: &str = "media.ts";

/// Name of segment `i` (one file per segment).
pub fn segment_name(i: usize) -> String {
    format!("seg{i:05}.ts")
}

/// One finished segment, as the playlist lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry {
    /// File (relative to OUTDIR).
    pub uri: String,
    /// Duration in 90 kHz ticks.
    pub duration: u64,
    /// Byte range in `uri` (`--single-file`): length, offset.
    pub range: Option<(u64, u64)>,
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), VodError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dst = dir.join(name);
    let io = |p: &PathBuf, e| VodError::Io(p.clone(), e);
    let mut f = fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    fs::rename(&tmp, &dst).map_err(|e| io(&dst, e))
}

/// Milliseconds of `ticks` (90 kHz), rounded to nearest.
fn millis(ticks: u64) -> u64 {
    (ticks + 45) / 90
}

/// The VOD playlist for `segments`.
pub fn playlist(segments: &[SegmentEntry]) -> String {
    let byterange = segments.iter().any(|s| s.range.is_some());
    let target = segments
        .iter()
        .map(|s| (millis(s.duration) + 500) / 1000)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut p = format!(
        "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n",
        if byterange { 4 } else { 3 }
    );
    for s in segments {
        let ms = millis(s.duration);
        p.push_str(&format!("#EXTINF:{}.{:03},\n", ms / 1000, ms % 1000));
        if let Some((len, off)) = s.range {
            p.push_str(&format!("#EXT-X-BYTERANGE:{len}@{off}\n"));
        }
        p.push_str(&s.uri);
        p.push('\n');
    }
    p.push_str("#EXT-X-ENDLIST\n");
    p
}

/// Packages `d` into `outdir` (created if missing); `progress` gets the fraction done.
pub fn package(
    d: &Demuxed,
    outdir: &Path,
    opts: &VodOptions,
    progress: &mut dyn FnMut(f64),
) -> Result<Summary, VodError> {
    if d.video.is_empty() {
        return Err(VodError::Format("the input has no video frames".to_owned()));
    }
    if !d.video[0].key {
        return Err(VodError::Format(
            "the video does not start with an IDR picture".to_owned(),
        ));
    }
    fs::create_dir_all(outdir).map_err(|e| VodError::Io(outdir.to_owned(), e))?;
    let vmin = d.video.iter().map(|v| v.dts.min(v.pts)).min().unwrap_or(0);
    let amin = d.audio.iter().map(|a| a.pts).min().unwrap_or(vmin);
    let shift = START_OFFSET.0 as i64 - vmin.min(amin);
    let t = |x: i64| Pts90k((x + shift).max(0) as u64);

    let mut cfg = MuxConfig::default();
    if d.audio.is_empty() {
        cfg.audio_pid = None;
    }
    let mut mux = TsMuxer::new(cfg);
    let mut segments: Vec<SegmentEntry> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut single: Vec<u8> = Vec::new();
    let mut bytes = 0u64;
    let min_len = i64::from(opts.segment_seconds.max(1)) * 90_000;
    // Start of the current segment (shifted 90 kHz); the first starts at the earliest sample.
    let first_start = d.video[0].pts.min(amin);
    let mut seg_start = first_start;
    let vend = d.video.iter().map(|v| v.pts).max().unwrap_or(0)
        + d.video
            .windows(2)
            .last()
            .map_or(3600, |w| w[1].dts - w[0].dts);
    let aend = d.audio.last().map_or(vend, |a| a.pts + a.duration);
    let end = vend.max(aend);
    let total = (end - first_start).max(1) as f64;

    let mut close = |buf: &mut Vec<u8>,
                     segments: &mut Vec<SegmentEntry>,
                     duration: i64|
     -> Result<(), VodError> {
        let i = segments.len();
        let len = buf.len() as u64;
        let (uri, range) = if opts.single_file {
            let off = single.len() as u64;
            single.extend_from_slice(buf);
            (SINGLE_FILE.to_owned(), Some((len, off)))
        } else {
            let name = segment_name(i);
            write_atomic(outdir, &name, buf)?;
            (name, None)
        };
        bytes += len;
        segments.push(SegmentEntry {
            uri,
            duration: duration.max(0) as u64,
            range,
        });
        buf.clear();
        Ok(())
    };

    mux.write_psi(&mut buf);
    let mut ai = 0;
    let mux_err = |e: crate::ts::MuxError| VodError::Mux(e.to_string());
    for (vi, v) in d.video.iter().enumerate() {
        if v.key && vi > 0 && v.pts - seg_start >= min_len {
            // Audio before the cut belongs to this segment.
            while ai < d.audio.len() && d.audio[ai].pts < v.pts {
                let a = &d.audio[ai];
                let au = AudioAu {
                    data: &a.data,
                    pts: t(a.pts),
                };
                mux.push_audio(&au, &mut buf).map_err(mux_err)?;
                ai += 1;
            }
            mux.flush_audio(&mut buf);
            close(&mut buf, &mut segments, v.pts - seg_start)?;
            progress((v.pts - first_start) as f64 / total);
            seg_start = v.pts;
            mux.write_psi(&mut buf);
        }
        while ai < d.audio.len() && d.audio[ai].pts <= v.dts {
            let a = &d.audio[ai];
            let au = AudioAu {
                data: &a.data,
                pts: t(a.pts),
            };
            mux.push_audio(&au, &mut buf).map_err(mux_err)?;
            ai += 1;
        }
        let au = VideoAu {
            data: &v.data,
            pts: t(v.pts),
            dts: t(v.dts),
            key: v.key,
        };
        mux.push_video(&au, &mut buf).map_err(mux_err)?;
    }
    for a in &d.audio[ai..] {
        let au = AudioAu {
            data: &a.data,
            pts: t(a.pts),
        };
        mux.push_audio(&au, &mut buf).map_err(mux_err)?;
    }
    mux.flush_audio(&mut buf);
    close(&mut buf, &mut segments, end - seg_start)?;
    if opts.single_file {
        write_atomic(outdir, SINGLE_FILE, &single)?;
    }
    write_atomic(outdir, PLAYLIST, playlist(&segments).as_bytes())?;
    progress(1.0);
    let duration = segments.iter().map(|s| millis(s.duration)).sum::<u64>() as f64 / 1000.0;
    Ok(Summary {
        segments: segments.len(),
        duration,
        bytes,
    })
}
