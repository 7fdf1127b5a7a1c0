//! Shared MPEG-TS checks of the integration tests, reading with the independent `mpeg2ts`
//! crate: NAL unit types of an access unit, and the first video access unit of a stretch of
//! TS packets.
//!
//! Included with `#[path = "support/ts_check.rs"] mod ts_check;`.
#![allow(dead_code)]

use mpeg2ts::pes::{PesPacketReader, ReadPesPacket};
use mpeg2ts::ts::TsPacketReader;

/// NAL unit types of an Annex B access unit, in order.
pub fn nal_types(au: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < au.len() {
        if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
            types.push(au[i + 3] & 0x1F);
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

/// NAL unit types of the first video PES in `ts` (whole 188-byte packets), read by `mpeg2ts`;
/// empty when there is none.
pub fn first_video_nal_types(ts: &[u8]) -> Vec<u8> {
    let mut r = PesPacketReader::new(TsPacketReader::new(ts));
    while let Ok(Some(pes)) = r.read_pes_packet() {
        if pes.header.stream_id.is_video() {
            return nal_types(&pes.data);
        }
    }
    Vec::new()
}
