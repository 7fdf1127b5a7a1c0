//! The init segment: `ftyp` + `moov` for H.264 on track 1 and optional AAC on track 2
//! (ISO/IEC 14496-12 §8.2–§8.8, 14496-15 §5.3 `avcC`, 14496-14 §5.6 + 14496-1 §7.2.6 `esds`,
//! 14496-3 §1.6.2.1 `AudioSpecificConfig`; CMAF ISO/IEC 23000-19 §7 for the brands).
//!
//! The sample tables in `stbl` are empty (`stts`, `stsc`, `stsz`, `stco` with no entries): all
//! samples come in fragments, described by `mvex`/`trex` (defaults all zero: every sample's
//! duration, size and flags are in its `trun`). Durations are 0 (unknown, live) unless the
//! caller knows the whole file's ([`TrackParams::duration_ms`], a clip): then `mvhd` carries it
//! and `mvex` begins with a `mehd` (§8.8.2, the movie fragments' total duration).

use super::boxes::BoxWriter;
use super::{Fmp4Error, AUDIO_TRACK_ID, VIDEO_TIMESCALE, VIDEO_TRACK_ID};
use crate::codec::adts::{AdtsHeader, SAMPLE_RATES};
use crate::codec::sps::Sps;

/// `ftyp` major brand (ISO BMFF 6th edition structure: `tfdt` v1, signed `trun` offsets).
pub const MAJOR_BRAND: [u8; 4] = *b"iso6";
/// `ftyp` compatible brands: ISO 6, CMAF track structure (`cmfc`), MP4 v1.
pub const COMPATIBLE_BRANDS: [[u8; 4]; 3] = [*b"iso6", *b"cmfc", *b"mp41"];
/// `mvhd` timescale (the movie has no duration; any value works).
pub const MOVIE_TIMESCALE: u32 = 1000;

/// The unity matrix of `mvhd`/`tkhd` (§8.2.2.3).
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];
/// ISO 639-2/T "und", packed as three 5-bit letters (§8.4.2.3).
const LANGUAGE_UND: u16 = 0x55C4;

/// The AAC track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioParams {
    /// Sampling frequency in Hz; also the track's timescale.
    pub sample_rate: u32,
    /// `channel_configuration` (1..=7; 7 is 7.1, eight channels).
    pub channels: u8,
    /// MPEG-4 audio object type (2 = AAC LC).
    pub object_type: u8,
}

impl AudioParams {
    /// The parameters an ADTS header describes (object type = `profile` + 1).
    pub fn from_adts(h: &AdtsHeader) -> Self {
        AudioParams {
            sample_rate: h.sample_rate,
            channels: h.channels,
            object_type: h.profile + 1,
        }
    }

    /// Writes the `AudioSpecificConfig` (§1.6.2.1: object type, frequency index or the 24-bit
    /// escape, channel configuration, GASpecificConfig all zero) into `out`; returns its length
    /// (2, or 5 with an explicit frequency).
    pub fn audio_specific_config(&self, out: &mut [u8; 5]) -> Result<usize, Fmp4Error> {
        if !(1..=30).contains(&self.object_type)
            || !(1..=7).contains(&self.channels)
            || self.sample_rate == 0
            || self.sample_rate > 0xFF_FFFF
        {
            return Err(Fmp4Error::AudioParams);
        }
        let (mut acc, mut bits) = (u64::from(self.object_type), 5usize);
        match SAMPLE_RATES.iter().position(|&r| r == self.sample_rate) {
            Some(i) => {
                acc = (acc << 4) | i as u64;
                bits += 4;
            }
            None => {
                acc = (acc << 28) | (0xF << 24) | u64::from(self.sample_rate);
                bits += 28;
            }
        }
        acc = (acc << 7) | (u64::from(self.channels) << 3);
        bits += 7;
        let len = bits.div_ceil(8);
        acc <<= len * 8 - bits;
        for (i, b) in out[..len].iter_mut().enumerate() {
            *b = (acc >> (8 * (len - 1 - i))) as u8;
        }
        Ok(len)
    }
}

/// What the init segment describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackParams<'a> {
    /// Display width for `tkhd`/`avc1`; 0 takes the SPS's (cropped) width.
    pub width: u32,
    /// Display height; 0 takes the SPS's.
    pub height: u32,
    /// The SPS NAL unit (header byte included, no start code).
    pub sps: &'a [u8],
    /// The PPS NAL unit (header byte included, no start code).
    pub pps: &'a [u8],
    /// The audio track, if any.
    pub audio: Option<AudioParams>,
    /// The duration of the whole file in milliseconds when it is known (a finished clip):
    /// written to `mvhd` and a `mehd` box. `None` for live (no `mehd`; `Some(0)` writes one
    /// of the same size, for a caller that measures the file before it knows the duration).
    pub duration_ms: Option<u32>,
}

/// Writes the init segment (`ftyp` + `moov`) into `scratch` and returns it. About 700 bytes
/// plus the SPS and PPS; [`Fmp4Error::ScratchTooSmall`] when `scratch` is shorter.
pub fn write_init<'a>(
    params: &TrackParams<'_>,
    scratch: &'a mut [u8],
) -> Result<&'a [u8], Fmp4Error> {
    let sps = Sps::parse(params.sps)?;
    for ps in [params.sps, params.pps] {
        if ps.is_empty() || ps.len() > usize::from(u16::MAX) {
            return Err(Fmp4Error::ParamSetLength);
        }
    }
    let mut asc = [0u8; 5];
    let asc_len = match &params.audio {
        Some(a) => a.audio_specific_config(&mut asc)?,
        None => 0,
    };
    let width = if params.width == 0 {
        sps.width
    } else {
        params.width
    };
    let height = if params.height == 0 {
        sps.height
    } else {
        params.height
    };
    if width > 0xFFFF || height > 0xFFFF {
        return Err(Fmp4Error::Sps(crate::codec::sps::SpsError::Invalid));
    }

    let mut w = BoxWriter::new(scratch);
    let ftyp = w.begin(b"ftyp");
    w.put(&MAJOR_BRAND);
    w.u32(0);
    for b in &COMPATIBLE_BRANDS {
        w.put(b);
    }
    w.end(ftyp);

    let moov = w.begin(b"moov");
    let mvhd = w.begin_full(b"mvhd", 0, 0);
    w.u32(0); // creation_time
    w.u32(0); // modification_time
    w.u32(MOVIE_TIMESCALE);
    w.u32(params.duration_ms.unwrap_or(0));
    w.u32(0x0001_0000); // rate 1.0
    w.u16(0x0100); // volume 1.0
    w.zeros(2 + 8);
    for m in MATRIX {
        w.u32(m);
    }
    w.zeros(24); // pre_defined
    w.u32(if params.audio.is_some() { 3 } else { 2 }); // next_track_ID
    w.end(mvhd);

    let trak = begin_trak(&mut w, VIDEO_TRACK_ID, width, height, false);
    let mdia = begin_mdia(&mut w, VIDEO_TIMESCALE, b"vide", b"hlscam video\0");
    let vmhd = w.begin_full(b"vmhd", 0, 1);
    w.zeros(8); // graphicsmode, opcolor
    w.end(vmhd);
    let stbl = begin_stbl(&mut w);
    let avc1 = w.begin(b"avc1");
    w.zeros(6);
    w.u16(1); // data_reference_index
    w.zeros(16); // pre_defined, reserved, pre_defined[3]
    w.u16(width as u16);
    w.u16(height as u16);
    w.u32(0x0048_0000); // 72 dpi
    w.u32(0x0048_0000);
    w.u32(0);
    w.u16(1); // frame_count
    w.zeros(32); // compressorname
    w.u16(0x0018); // depth
    w.u16(0xFFFF); // pre_defined -1
    let avcc = w.begin(b"avcC");
    w.u8(1); // configurationVersion
    w.put(&params.sps[1..4]); // profile, compatibility, level
    w.u8(0xFF); // reserved 6 bits, lengthSizeMinusOne 3
    w.u8(0xE1); // reserved 3 bits, one SPS
    w.u16(params.sps.len() as u16);
    w.put(params.sps);
    w.u8(1);
    w.u16(params.pps.len() as u16);
    w.put(params.pps);
    if matches!(sps.profile_idc, 100 | 110 | 122 | 144) {
        w.u8(0xFC | sps.chroma_format_idc);
        w.u8(0xF8 | sps.bit_depth_luma_minus8);
        w.u8(0xF8 | sps.bit_depth_chroma_minus8);
        w.u8(0); // numOfSequenceParameterSetExt
    }
    w.end(avcc);
    w.end(avc1);
    end_stbl(&mut w, stbl);
    w.end(mdia.0);
    w.end(mdia.1);
    w.end(trak);

    if let Some(a) = &params.audio {
        let trak = begin_trak(&mut w, AUDIO_TRACK_ID, 0, 0, true);
        let mdia = begin_mdia(&mut w, a.sample_rate, b"soun", b"hlscam audio\0");
        let smhd = w.begin_full(b"smhd", 0, 0);
        w.zeros(4); // balance, reserved
        w.end(smhd);
        let stbl = begin_stbl(&mut w);
        let mp4a = w.begin(b"mp4a");
        w.zeros(6);
        w.u16(1); // data_reference_index
        w.zeros(8);
        w.u16(if a.channels == 7 {
            8
        } else {
            u16::from(a.channels)
        });
        w.u16(16); // samplesize
        w.zeros(4); // pre_defined, reserved
                    // 16.16; rates above 65535 Hz do not fit (the mdhd timescale has the real rate).
        w.u32(if a.sample_rate <= 0xFFFF {
            a.sample_rate << 16
        } else {
            0
        });
        let esds = w.begin_full(b"esds", 0, 0);
        let dsi_len = 2 + asc_len as u8;
        let dcd_len = 13 + dsi_len;
        w.put(&[0x03, 3 + 2 + dcd_len + 3, 0, 0, 0]); // ES_Descriptor, ES_ID 0, flags 0
        w.put(&[0x04, dcd_len, 0x40, 0x15]); // DecoderConfigDescriptor: MPEG-4 audio, audio
        w.zeros(3 + 4 + 4); // bufferSizeDB, maxBitrate, avgBitrate (unknown)
        w.put(&[0x05, asc_len as u8]); // DecoderSpecificInfo
        w.put(&asc[..asc_len]);
        w.put(&[0x06, 1, 0x02]); // SLConfigDescriptor, predefined MP4
        w.end(esds);
        w.end(mp4a);
        end_stbl(&mut w, stbl);
        w.end(mdia.0);
        w.end(mdia.1);
        w.end(trak);
    }

    let mvex = w.begin(b"mvex");
    if let Some(ms) = params.duration_ms {
        let mehd = w.begin_full(b"mehd", 0, 0);
        w.u32(ms); // fragment_duration, movie timescale
        w.end(mehd);
    }
    let tracks: &[u32] = if params.audio.is_some() {
        &[VIDEO_TRACK_ID, AUDIO_TRACK_ID]
    } else {
        &[VIDEO_TRACK_ID]
    };
    for &id in tracks {
        let trex = w.begin_full(b"trex", 0, 0);
        w.u32(id);
        w.u32(1); // default_sample_description_index
        w.zeros(12); // default duration, size, flags
        w.end(trex);
    }
    w.end(mvex);
    w.end(moov);
    w.finish()
}

/// `trak` + `tkhd`; returns the `trak` start.
fn begin_trak(w: &mut BoxWriter<'_>, id: u32, width: u32, height: u32, audio: bool) -> usize {
    let trak = w.begin(b"trak");
    let tkhd = w.begin_full(b"tkhd", 0, 0x000003); // enabled, in movie
    w.u32(0); // creation_time
    w.u32(0); // modification_time
    w.u32(id);
    w.u32(0);
    w.u32(0); // duration
    w.zeros(8);
    w.u16(0); // layer
    w.u16(0); // alternate_group
    w.u16(if audio { 0x0100 } else { 0 }); // volume
    w.u16(0);
    for m in MATRIX {
        w.u32(m);
    }
    w.u32(width << 16);
    w.u32(height << 16);
    w.end(tkhd);
    trak
}

/// `mdia` + `mdhd` + `hdlr` + the start of `minf`; returns (`minf` start, `mdia` start).
fn begin_mdia(
    w: &mut BoxWriter<'_>,
    timescale: u32,
    handler: &[u8; 4],
    name: &[u8],
) -> (usize, usize) {
    let mdia = w.begin(b"mdia");
    let mdhd = w.begin_full(b"mdhd", 0, 0);
    w.u32(0);
    w.u32(0);
    w.u32(timescale);
    w.u32(0); // duration
    w.u16(LANGUAGE_UND);
    w.u16(0);
    w.end(mdhd);
    let hdlr = w.begin_full(b"hdlr", 0, 0);
    w.u32(0); // pre_defined
    w.put(handler);
    w.zeros(12);
    w.put(name);
    w.end(hdlr);
    let minf = w.begin(b"minf");
    (minf, mdia)
}

/// `dinf` (one self-contained `url `), then `stbl` + `stsd` with one entry to follow; returns
/// (`stsd` start, `stbl` start).
fn begin_stbl(w: &mut BoxWriter<'_>) -> (usize, usize) {
    let dinf = w.begin(b"dinf");
    let dref = w.begin_full(b"dref", 0, 0);
    w.u32(1);
    let url = w.begin_full(b"url ", 0, 1);
    w.end(url);
    w.end(dref);
    w.end(dinf);
    let stbl = w.begin(b"stbl");
    let stsd = w.begin_full(b"stsd", 0, 0);
    w.u32(1); // entry_count
    (stsd, stbl)
}

/// Ends `stsd`, writes the empty sample tables and ends `stbl`.
fn end_stbl(w: &mut BoxWriter<'_>, (stsd, stbl): (usize, usize)) {
    w.end(stsd);
    for (fourcc, fields) in [(b"stts", 1), (b"stsc", 1), (b"stsz", 2), (b"stco", 1)] {
        let b = w.begin_full(fourcc, 0, 0);
        w.zeros(4 * fields);
        w.end(b);
    }
    w.end(stbl);
}

#[cfg(test)]
mod tests {
    use super::super::boxes::{find, BoxIter};
    use super::*;

    /// libx264 640x360 Constrained Baseline SPS (cropped from 368 rows, with VUI) and PPS.
    const SPS: [u8; 25] = [
        0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x00, 0xA0, 0x2F, 0xF9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
        0x01, 0x00, 0x00, 0x03, 0x00, 0x3C, 0x0F, 0x16, 0x2E, 0x48,
    ];
    const PPS: [u8; 5] = [0x68, 0xCB, 0x83, 0xCB, 0x20];

    fn params(audio: Option<AudioParams>) -> TrackParams<'static> {
        TrackParams {
            width: 0,
            height: 0,
            sps: &SPS,
            pps: &PPS,
            audio,
            duration_ms: None,
        }
    }

    const LC_48K_STEREO: AudioParams = AudioParams {
        sample_rate: 48_000,
        channels: 2,
        object_type: 2,
    };

    #[test]
    fn audio_specific_config_bits() {
        let mut asc = [0; 5];
        assert_eq!(LC_48K_STEREO.audio_specific_config(&mut asc), Ok(2));
        assert_eq!(&asc[..2], &[0x11, 0x90]);
        let odd = AudioParams {
            sample_rate: 50_000,
            channels: 1,
            object_type: 2,
        };
        assert_eq!(odd.audio_specific_config(&mut asc), Ok(5));
        // 00010 1111 000000001100001101010000 0001 000
        assert_eq!(asc, [0x17, 0x80, 0x61, 0xA8, 0x08]);
        let bad = AudioParams {
            channels: 0,
            ..LC_48K_STEREO
        };
        assert_eq!(
            bad.audio_specific_config(&mut asc),
            Err(Fmp4Error::AudioParams)
        );
    }

    #[test]
    fn init_structure() {
        let sps = Sps::parse(&SPS).unwrap();
        assert_eq!((sps.width, sps.height), (640, 360));
        let mut scratch = [0u8; 2048];
        let init = write_init(&params(Some(LC_48K_STEREO)), &mut scratch).unwrap();
        let top: Vec<_> = BoxIter::new(init).map(|b| b.fourcc).collect();
        assert_eq!(top, [*b"ftyp", *b"moov"]);
        assert_eq!(
            BoxIter::new(init).map(|b| b.whole.len()).sum::<usize>(),
            init.len()
        );
        let ftyp = find(init, &[b"ftyp"]).unwrap();
        assert_eq!(ftyp, b"iso6\0\0\0\0iso6cmfcmp41");
        let moov = find(init, &[b"moov"]).unwrap();
        let kinds: Vec<_> = BoxIter::new(moov).map(|b| b.fourcc).collect();
        assert_eq!(kinds, [*b"mvhd", *b"trak", *b"trak", *b"mvex"]);
        let traks: Vec<_> = BoxIter::new(moov)
            .filter(|b| &b.fourcc == b"trak")
            .collect();
        let tkhd = find(traks[0].body, &[b"tkhd"]).unwrap();
        assert_eq!(&tkhd[12..16], &1u32.to_be_bytes());
        assert_eq!(&tkhd[76..84], &[0x02, 0x80, 0, 0, 0x01, 0x68, 0, 0]);
        let mdhd = find(traks[0].body, &[b"mdia", b"mdhd"]).unwrap();
        assert_eq!(&mdhd[12..16], &90_000u32.to_be_bytes());
        let mdhd = find(traks[1].body, &[b"mdia", b"mdhd"]).unwrap();
        assert_eq!(&mdhd[12..16], &48_000u32.to_be_bytes());
        let stsd = find(traks[0].body, &[b"mdia", b"minf", b"stbl", b"stsd"]).unwrap();
        let avc1 = find(&stsd[8..], &[b"avc1"]).unwrap();
        assert_eq!(&avc1[24..28], &[0x02, 0x80, 0x01, 0x68]);
        let avcc = find(&avc1[78..], &[b"avcC"]).unwrap();
        let mut want = vec![1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0, 25];
        want.extend_from_slice(&SPS);
        want.extend_from_slice(&[1, 0, 5]);
        want.extend_from_slice(&PPS);
        assert_eq!(avcc, &want[..]);
        let stsd = find(traks[1].body, &[b"mdia", b"minf", b"stbl", b"stsd"]).unwrap();
        let mp4a = find(&stsd[8..], &[b"mp4a"]).unwrap();
        assert_eq!(&mp4a[16..18], &[0, 2]);
        let esds = find(&mp4a[28..], &[b"esds"]).unwrap();
        assert_eq!(&esds[4..6], &[0x03, 25]);
        assert_eq!(&esds[esds.len() - 7..], &[0x05, 2, 0x11, 0x90, 0x06, 1, 2]);
        let mvex: Vec<_> = BoxIter::new(find(moov, &[b"mvex"]).unwrap())
            .map(|b| (b.fourcc, b.body[7]))
            .collect();
        assert_eq!(mvex, [(*b"trex", 1), (*b"trex", 2)]);
    }

    #[test]
    fn a_known_duration_fills_mvhd_and_a_mehd_of_fixed_size() {
        let mut scratch = [0u8; 2048];
        let live = write_init(&params(None), &mut scratch).unwrap().to_vec();
        let mut with = |ms| {
            let p = TrackParams {
                duration_ms: Some(ms),
                ..params(None)
            };
            write_init(&p, &mut scratch).unwrap().to_vec()
        };
        let (zero, clip) = (with(0), with(61_234));
        assert_eq!(
            zero.len(),
            clip.len(),
            "the size does not depend on the value"
        );
        assert_eq!(clip.len(), live.len() + 16, "one mehd box");
        let moov = find(&clip, &[b"moov"]).unwrap();
        let mvhd = find(moov, &[b"mvhd"]).unwrap();
        assert_eq!(&mvhd[12..20], &[0, 0, 3, 0xE8, 0, 0, 0xEF, 0x32]);
        let mvex: Vec<_> = BoxIter::new(find(moov, &[b"mvex"]).unwrap()).collect();
        assert_eq!(mvex[0].fourcc, *b"mehd");
        assert_eq!(mvex[0].body, &[0, 0, 0, 0, 0, 0, 0xEF, 0x32]);
        let live_moov = find(&live, &[b"moov"]).unwrap();
        assert!(BoxIter::new(find(live_moov, &[b"mvex"]).unwrap()).all(|b| &b.fourcc != b"mehd"));
    }

    #[test]
    fn video_only_and_errors() {
        let mut scratch = [0u8; 2048];
        let n = write_init(&params(None), &mut scratch).unwrap().len();
        let moov = find(&scratch[..n], &[b"moov"]).unwrap();
        assert_eq!(
            BoxIter::new(moov).filter(|b| &b.fourcc == b"trak").count(),
            1
        );
        for cap in [0, 10, 100, n - 1] {
            assert_eq!(
                write_init(&params(None), &mut scratch[..cap]),
                Err(Fmp4Error::ScratchTooSmall)
            );
        }
        let mut p = params(None);
        p.sps = &PPS;
        assert!(matches!(
            write_init(&p, &mut scratch),
            Err(Fmp4Error::Sps(_))
        ));
        let mut p = params(None);
        p.pps = &[];
        assert_eq!(write_init(&p, &mut scratch), Err(Fmp4Error::ParamSetLength));
    }
}
