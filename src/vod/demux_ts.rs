//! MPEG-TS input (ISO/IEC 13818-1) read with the `mpeg2ts` crate: the PMT's stream types decide
//! whether the file is taken (0x1B H.264, 0x0F AAC in ADTS); PES packets with a video
//! `stream_id` become access units, audio PES are split into their ADTS frames, each with the
//! PTS that follows from the sample count. 33-bit timestamps are unwrapped.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use mpeg2ts::es::StreamType;
use mpeg2ts::pes::{PesPacketReader, ReadPesPacket};
use mpeg2ts::ts::{ReadTsPacket, TsPacketReader, TsPayload};

use super::{AudioSample, Demuxed, VideoSample, VodError};
use crate::codec::adts::AdtsFrames;
use crate::codec::h264::first_slice_is_idr;

/// Name of a PMT stream type in refusals.
fn stream_type_name(t: StreamType) -> String {
    match t {
        StreamType::H265 => "HEVC (H.265)".to_owned(),
        StreamType::Mpeg1Video | StreamType::Mpeg2Video => "MPEG-1/2 video".to_owned(),
        StreamType::Mpeg4H263BasedVideo => "MPEG-4 Part 2 video".to_owned(),
        StreamType::Mpeg1Audio | StreamType::Mpeg2HalvedSampleRateAudio => {
            "MP3 / MPEG audio".to_owned()
        }
        StreamType::DolbyDigitalUpToSixChannelAudio => "AC-3".to_owned(),
        StreamType::Mpeg2PacketizedData => "private data (Opus, AC-3, ...)".to_owned(),
        other => format!("{other:?} (stream_type 0x{:02X})", other as u8),
    }
}

/// Unwraps 33-bit timestamps into a monotonic-ish `i64` line.
#[derive(Default)]
struct Unwrap {
    last: Option<i64>,
    base: i64,
}

impl Unwrap {
    fn next(&mut self, raw: u64) -> i64 {
        const WRAP: i64 = 1 << 33;
        let mut v = raw as i64 + self.base;
        if let Some(last) = self.last {
            if v < last - WRAP / 2 {
                self.base += WRAP;
                v += WRAP;
            } else if v > last + WRAP / 2 && self.base >= WRAP {
                self.base -= WRAP;
                v -= WRAP;
            }
        }
        self.last = Some(v);
        v
    }
}

/// Checks the PMT of `path`: H.264 and/or AAC only.
fn check_codecs(path: &Path) -> Result<(), VodError> {
    let f = File::open(path).map_err(|e| VodError::Io(path.to_owned(), e))?;
    let mut r = TsPacketReader::new(BufReader::new(f));
    loop {
        let pkt = r
            .read_ts_packet()
            .map_err(|e| VodError::Format(format!("{}: bad MPEG-TS: {e}", path.display())))?;
        let Some(pkt) = pkt else {
            return Err(VodError::Format(format!("{}: no PMT", path.display())));
        };
        if let Some(TsPayload::Pmt(pmt)) = pkt.payload {
            let mut video = false;
            for es in &pmt.es_info {
                match es.stream_type {
                    StreamType::H264 => video = true,
                    StreamType::AdtsAac => {}
                    other => return Err(VodError::Codec(stream_type_name(other))),
                }
            }
            if !video {
                return Err(VodError::Format(format!(
                    "{}: no H.264 video stream",
                    path.display()
                )));
            }
            return Ok(());
        }
    }
}

/// Demuxes an MPEG-TS file.
pub fn demux(path: &Path) -> Result<Demuxed, VodError> {
    check_codecs(path)?;
    let f = File::open(path).map_err(|e| VodError::Io(path.to_owned(), e))?;
    let mut r = PesPacketReader::new(TsPacketReader::new(BufReader::new(f)));
    let bad = |e: mpeg2ts::Error| VodError::Format(format!("{}: bad MPEG-TS: {e}", path.display()));
    let mut out = Demuxed::default();
    let (mut vpts, mut vdts, mut apts) = (Unwrap::default(), Unwrap::default(), Unwrap::default());
    while let Some(pes) = r.read_pes_packet().map_err(bad)? {
        let id = pes.header.stream_id;
        let Some(pts) = pes.header.pts else {
            continue;
        };
        if id.is_video() {
            let pts = vpts.next(pts.as_u64());
            let dts = match pes.header.dts {
                Some(d) => vdts.next(d.as_u64()),
                None => vdts.next(pes.header.pts.map_or(0, |p| p.as_u64())),
            };
            let key = first_slice_is_idr(&pes.data);
            out.video.push(VideoSample {
                data: pes.data,
                pts,
                dts,
                key,
            });
        } else if id.is_audio() {
            let t0 = apts.next(pts.as_u64());
            let mut samples = 0i64;
            for frame in AdtsFrames::new(&pes.data) {
                let (h, bytes) = frame.map_err(|e| {
                    VodError::Format(format!("{}: bad ADTS audio: {e:?}", path.display()))
                })?;
                // Sample-exact: each frame's PTS from the samples before it in this PES.
                let rate = i64::from(h.sample_rate.max(1));
                let at = t0 + samples * 90_000 / rate;
                samples += i64::from(h.samples());
                out.audio.push(AudioSample {
                    data: bytes.to_vec(),
                    pts: at,
                    duration: t0 + samples * 90_000 / rate - at,
                });
            }
        }
    }
    Ok(out)
}
