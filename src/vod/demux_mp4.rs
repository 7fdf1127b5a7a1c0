//! MP4 input (ISO/IEC 14496-12/-14/-15) read with the `mp4` crate: the `avc1` track's samples
//! (AVCC, length-prefixed NAL units) become Annex B access units with the `avcC` SPS/PPS in
//! front of every sync sample; the `mp4a` track's raw AAC frames get ADTS headers. Times are
//! rescaled from the track timescale to 90 kHz (PTS = DTS + composition offset, `ctts`).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use mp4::{MediaType, Mp4Reader, Mp4Track, TrackType};

use super::{AudioSample, Demuxed, VideoSample, VodError};
use crate::codec::adts::write_adts_header;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// `t` in `timescale` units, in 90 kHz (rounded down; exact for the usual 90000 / 12800 /
/// 48000 timescales at sample boundaries).
fn to_90k(t: i64, timescale: u32) -> i64 {
    (i128::from(t) * 90_000 / i128::from(timescale.max(1))) as i64
}

/// The media time the track's edit list starts at (`elst`, ISO/IEC 14496-12 §8.6.6: the
/// B-frame delay of video, the encoder priming of AAC), in the track timescale; 0 without one.
/// Empty edits (`media_time` = −1) are skipped.
fn edit_start(t: &Mp4Track) -> i64 {
    t.trak
        .edts
        .as_ref()
        .and_then(|e| e.elst.as_ref())
        .and_then(|l| {
            l.entries
                .iter()
                .find(|e| e.media_time != u64::MAX && e.media_time != u64::from(u32::MAX))
        })
        .map_or(0, |e| e.media_time as i64)
}

/// The codec of a track, for refusals, from its sample entry.
fn codec_name(t: &Mp4Track) -> String {
    let stsd = &t.trak.mdia.minf.stbl.stsd;
    match t.media_type() {
        Ok(MediaType::H265) => "HEVC (H.265)".to_owned(),
        Ok(MediaType::VP9) => "VP9".to_owned(),
        Ok(MediaType::TTXT) => "timed text".to_owned(),
        Ok(m) => m.to_string(),
        Err(_) if stsd.mp4a.is_some() => "non-AAC audio in mp4a".to_owned(),
        Err(_) => {
            let handler = t.trak.mdia.hdlr.handler_type.to_string();
            format!("other than H.264/AAC in a '{handler}' track (sample entry not avc1/mp4a)")
        }
    }
}

/// Converts one AVCC sample (4-byte lengths) to Annex B, with `params` (SPS, PPS) first.
fn avcc_to_annexb(sample: &[u8], params: &[&[u8]], out: &mut Vec<u8>) -> Result<(), String> {
    for p in params {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(p);
    }
    let mut rest = sample;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err("truncated NAL length".to_owned());
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        rest = &rest[4..];
        if len > rest.len() {
            return Err("NAL length past the sample".to_owned());
        }
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
    }
    Ok(())
}

/// Demuxes an MP4 file: its first H.264 track and its first AAC track.
pub fn demux(path: &Path) -> Result<Demuxed, VodError> {
    let io = |e| VodError::Io(path.to_owned(), e);
    let f = File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    let bad = |e: mp4::Error| VodError::Format(format!("{}: bad MP4: {e}", path.display()));
    let mut mp4 = Mp4Reader::read_header(BufReader::new(f), size).map_err(bad)?;
    if mp4.is_fragmented() {
        return Err(VodError::Format(format!(
            "{}: fragmented MP4 is not supported; remux it: ffmpeg -i IN -c copy OUT.mp4",
            path.display()
        )));
    }
    // Track ids in order, so the choice does not depend on HashMap order.
    let mut ids: Vec<u32> = mp4.tracks().keys().copied().collect();
    ids.sort_unstable();
    let (mut video, mut audio) = (None, None);
    for id in ids {
        let t = &mp4.tracks()[&id];
        match t.track_type() {
            Ok(TrackType::Video) => {
                if !matches!(t.media_type(), Ok(MediaType::H264)) {
                    return Err(VodError::Codec(codec_name(t)));
                }
                video.get_or_insert(id);
            }
            Ok(TrackType::Audio) => {
                let aac = matches!(t.media_type(), Ok(MediaType::AAC))
                    && t.trak.mdia.minf.stbl.stsd.mp4a.as_ref().is_some_and(|m| {
                        m.esds
                            .as_ref()
                            .is_some_and(|e| e.es_desc.dec_config.object_type_indication == 0x40)
                    });
                if !aac {
                    return Err(VodError::Codec(codec_name(t)));
                }
                audio.get_or_insert(id);
            }
            _ => {}
        }
    }
    let Some(vid) = video else {
        return Err(VodError::Format(format!(
            "{}: no H.264 video track",
            path.display()
        )));
    };
    let mut out = Demuxed::default();

    let t = &mp4.tracks()[&vid];
    let scale = t.timescale();
    let edit = edit_start(t);
    let sps = t.sequence_parameter_set().map_err(bad)?.to_vec();
    let pps = t.picture_parameter_set().map_err(bad)?.to_vec();
    let n = t.sample_count();
    for i in 1..=n {
        let Some(s) = mp4.read_sample(vid, i).map_err(bad)? else {
            continue;
        };
        let dts = s.start_time as i64 - edit;
        let pts = dts + i64::from(s.rendering_offset);
        let mut data = Vec::with_capacity(s.bytes.len() + 64);
        let params: &[&[u8]] = if s.is_sync { &[&sps, &pps] } else { &[] };
        avcc_to_annexb(&s.bytes, params, &mut data)
            .map_err(|m| VodError::Format(format!("{}: sample {i}: {m}", path.display())))?;
        out.video.push(VideoSample {
            data,
            pts: to_90k(pts, scale),
            dts: to_90k(dts, scale),
            key: s.is_sync,
        });
    }

    if let Some(aid) = audio {
        let t = &mp4.tracks()[&aid];
        let scale = t.timescale();
        let edit = edit_start(t);
        let profile = (t.audio_profile().map_err(bad)? as u8).saturating_sub(1);
        let freq = t.sample_freq_index().map_err(bad)? as u8;
        let chans = t.channel_config().map_err(bad)? as u8;
        let n = t.sample_count();
        for i in 1..=n {
            let Some(s) = mp4.read_sample(aid, i).map_err(bad)? else {
                continue;
            };
            let len = s.bytes.len() + 7;
            if len > 0x1FFF {
                return Err(VodError::Format(format!(
                    "{}: AAC frame {i} too long for ADTS",
                    path.display()
                )));
            }
            let mut h = [0u8; 7];
            write_adts_header(&mut h, profile, freq, chans, len);
            let mut data = Vec::with_capacity(len);
            data.extend_from_slice(&h);
            data.extend_from_slice(&s.bytes);
            let start = s.start_time as i64 - edit;
            let pts = to_90k(start, scale);
            out.audio.push(AudioSample {
                data,
                pts,
                duration: to_90k(start + i64::from(s.duration), scale) - pts,
            });
        }
    }
    Ok(out)
}
