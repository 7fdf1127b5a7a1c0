//! The 188-byte transport stream packet and its adaptation field
//! (ISO/IEC 13818-1 §2.4.3.2 `transport_packet`, §2.4.3.4 `adaptation_field`).
//!
//! ```text
//! 0       sync_byte 0x47
//! 1-2     TEI(1) PUSI(1) priority(1) PID(13)
//! 3       scrambling(2) adaptation_field_control(2) continuity_counter(4)
//! 4       adaptation_field_length      (when adaptation_field_control has bit 1)
//! 5       discontinuity(1) random_access(1) es_priority(1) PCR_flag(1) OPCR(1) splice(1) private(1) ext(1)
//! 6-11    program_clock_reference: base(33) reserved(6) extension(9)   (when PCR_flag)
//! …       stuffing bytes 0xFF, then the payload
//! ```
//! [`Packet`] is a borrowed view in the style of smoltcp's `wire` module: [`Packet::new_checked`]
//! validates length and sync byte, after which no accessor panics. [`Header`] and
//! [`AdaptationField`] are the writable representations; their `emit` methods write into a
//! caller-provided buffer and panic only if that buffer is shorter than documented.

use crate::time::Pcr27M;

/// Length of a transport packet.
pub const PACKET_LEN: usize = super::PACKET_LEN;
/// Bytes after the 4-byte header: the payload of a packet without adaptation field.
pub const BODY_LEN: usize = PACKET_LEN - 4;
/// The first byte of every packet.
pub const SYNC_BYTE: u8 = 0x47;
/// The PID of the program association table.
pub const PID_PAT: u16 = 0x0000;
/// The null-packet PID.
pub const PID_NULL: u16 = 0x1FFF;

/// Byte offsets of the fixed fields.
pub mod field {
    /// `sync_byte`.
    pub const SYNC: usize = 0;
    /// Flags and PID (2 bytes).
    pub const PID: usize = 1;
    /// Scrambling, adaptation_field_control, continuity_counter.
    pub const CONTROL: usize = 3;
    /// `adaptation_field_length`.
    pub const AF_LEN: usize = 4;
    /// Adaptation field flags.
    pub const AF_FLAGS: usize = 5;
    /// The PCR inside the adaptation field (6 bytes).
    pub const PCR: core::ops::Range<usize> = 6..12;
}

/// `payload_unit_start_indicator` in byte 1.
const PUSI: u8 = 0x40;
/// Adaptation-field flag bits.
const AF_RAI: u8 = 0x40;
const AF_PCR: u8 = 0x10;

/// Why a buffer is not a transport packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// Not exactly 188 bytes.
    Length,
    /// First byte is not 0x47.
    Sync,
    /// The adaptation field runs past the packet.
    AdaptationLength,
    /// `adaptation_field_control` is the reserved value 00.
    ReservedControl,
}

/// A read (and, for `AsMut` buffers, write) view of one transport packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after checking length, sync byte, control bits and the adaptation field
    /// length; afterwards no accessor panics.
    pub fn new_checked(buffer: T) -> Result<Self, PacketError> {
        let p = Packet { buffer };
        let b = p.buffer.as_ref();
        if b.len() != PACKET_LEN {
            return Err(PacketError::Length);
        }
        if b[field::SYNC] != SYNC_BYTE {
            return Err(PacketError::Sync);
        }
        if p.adaptation_field_control() == 0 {
            return Err(PacketError::ReservedControl);
        }
        if p.has_adaptation() {
            let l = b[field::AF_LEN] as usize;
            let max = if p.has_payload() { 182 } else { 183 };
            if l > max {
                return Err(PacketError::AdaptationLength);
            }
        }
        Ok(p)
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `payload_unit_start_indicator`.
    pub fn pusi(&self) -> bool {
        self.buffer.as_ref()[field::PID] & PUSI != 0
    }

    /// The 13-bit PID.
    pub fn pid(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::PID] & 0x1F, b[field::PID + 1]])
    }

    /// `adaptation_field_control` (2 bits).
    pub fn adaptation_field_control(&self) -> u8 {
        (self.buffer.as_ref()[field::CONTROL] >> 4) & 0x03
    }

    /// An adaptation field is present.
    pub fn has_adaptation(&self) -> bool {
        self.adaptation_field_control() & 0b10 != 0
    }

    /// A payload is present.
    pub fn has_payload(&self) -> bool {
        self.adaptation_field_control() & 0b01 != 0
    }

    /// `continuity_counter`.
    pub fn cc(&self) -> u8 {
        self.buffer.as_ref()[field::CONTROL] & 0x0F
    }

    /// Bytes taken by the adaptation field including its length byte (0 when absent).
    pub fn adaptation_len(&self) -> usize {
        if self.has_adaptation() {
            1 + self.buffer.as_ref()[field::AF_LEN] as usize
        } else {
            0
        }
    }

    fn af_flags(&self) -> u8 {
        if self.adaptation_len() >= 2 {
            self.buffer.as_ref()[field::AF_FLAGS]
        } else {
            0
        }
    }

    /// `random_access_indicator`.
    pub fn random_access(&self) -> bool {
        self.af_flags() & AF_RAI != 0
    }

    /// The PCR as a 27 MHz value reduced to the wire's 33-bit base (`base × 300 + ext`).
    pub fn pcr(&self) -> Option<Pcr27M> {
        if self.af_flags() & AF_PCR == 0 || self.adaptation_len() < 8 {
            return None;
        }
        let b = &self.buffer.as_ref()[field::PCR];
        let v = u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]);
        Some(Pcr27M((v >> 15) * 300 + (v & 0x1FF)))
    }

    /// The payload (empty when absent).
    pub fn payload(&self) -> &[u8] {
        if !self.has_payload() {
            return &[];
        }
        let start = (4 + self.adaptation_len()).min(PACKET_LEN);
        &self.buffer.as_ref()[start..PACKET_LEN]
    }
}

/// The 4-byte packet header as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `payload_unit_start_indicator`: a PES packet or PSI section starts here.
    pub pusi: bool,
    /// PID (13 bits).
    pub pid: u16,
    /// An adaptation field follows the header.
    pub has_adaptation: bool,
    /// A payload is present.
    pub has_payload: bool,
    /// `continuity_counter` (4 bits).
    pub cc: u8,
}

impl Header {
    /// The four header bytes (one fixed-size store for the writer's hot loop).
    #[inline]
    pub const fn to_bytes(&self) -> [u8; 4] {
        let afc = ((self.has_adaptation as u8) << 1) | self.has_payload as u8;
        [
            SYNC_BYTE,
            ((self.pusi as u8) << 6) | ((self.pid >> 8) as u8 & 0x1F),
            self.pid as u8,
            (afc << 4) | (self.cc & 0x0F),
        ]
    }

    /// Writes bytes 0..4 of `buf`. Panics if `buf` is shorter than 4 bytes.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..4].copy_from_slice(&self.to_bytes());
    }

    /// Reads the header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Header {
        Header {
            pusi: p.pusi(),
            pid: p.pid(),
            has_adaptation: p.has_adaptation(),
            has_payload: p.has_payload(),
            cc: p.cc(),
        }
    }
}

/// An adaptation field as written: the flags hlscam uses, then stuffing to the requested size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdaptationField {
    /// `random_access_indicator`.
    pub random_access: bool,
    /// Program clock reference (unwrapped; reduced to 33 + 9 bits when written).
    pub pcr: Option<Pcr27M>,
}

impl AdaptationField {
    /// True when there is something to write besides stuffing.
    pub fn is_empty(&self) -> bool {
        !self.random_access && self.pcr.is_none()
    }

    /// The fewest bytes the field takes, length byte included: 1 for an empty field (only
    /// `adaptation_field_length = 0`), 2 with flags, 8 with a PCR.
    pub fn min_len(&self) -> usize {
        if self.pcr.is_some() {
            8
        } else if self.random_access {
            2
        } else {
            1
        }
    }

    /// Writes the field so that it fills exactly `buf` (length byte first, then flags, PCR and
    /// 0xFF stuffing). Panics if `buf.len() < self.min_len()` or `buf.len() > 184`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        assert!(buf.len() >= self.min_len() && buf.len() <= 184);
        buf[0] = (buf.len() - 1) as u8;
        if buf.len() == 1 {
            return;
        }
        buf[1] = ((self.random_access as u8) * AF_RAI) | ((self.pcr.is_some() as u8) * AF_PCR);
        let mut at = 2;
        if let Some(pcr) = self.pcr {
            let v = (pcr.base33() << 15) | (0x3F << 9) | pcr.ext9() as u64;
            buf[2..8].copy_from_slice(&v.to_be_bytes()[2..]);
            at = 8;
        }
        fill_stuffing(&mut buf[at..]);
    }
}

/// Fills `dst` (at most 256 bytes) with 0xFF stuffing as two fixed-size stores that overlap
/// (`K` bytes at the front, `K` at the back, `K` the power of two ≥ half the length), without
/// a `memset` call: the stuffing of a PES's last packet is usually a few dozen bytes, where
/// the call costs more than the stores (a loop of stores is turned back into the call).
#[inline(always)]
pub(crate) fn fill_stuffing(dst: &mut [u8]) {
    #[inline(always)]
    fn ends<const K: usize>(dst: &mut [u8]) {
        if let Some(first) = dst.first_chunk_mut::<K>() {
            *first = [0xFF; K];
        }
        if let Some(last) = dst.last_chunk_mut::<K>() {
            *last = [0xFF; K];
        }
    }
    match dst.len() {
        0..=3 => dst.iter_mut().for_each(|b| *b = 0xFF),
        4..=8 => ends::<4>(dst),
        9..=16 => ends::<8>(dst),
        17..=32 => ends::<16>(dst),
        33..=64 => ends::<32>(dst),
        65..=128 => ends::<64>(dst),
        _ => ends::<128>(dst),
    }
}

/// Writes the bytes after the header of a packet whose `payload` (shorter than [`BODY_LEN`])
/// ends the packet, behind an adaptation field of stuffing only (the same bytes as
/// `AdaptationField::default().emit` on the first `BODY_LEN - payload.len()` bytes). Panics
/// if `payload` is [`BODY_LEN`] bytes or longer.
#[inline]
pub fn emit_stuffed_body(body: &mut [u8; BODY_LEN], payload: &[u8]) {
    let af_len = BODY_LEN - payload.len();
    assert!(af_len > 0);
    // One fixed-size fill, then the variable parts on top of it.
    *body = [0xFF; BODY_LEN];
    body[0] = (af_len - 1) as u8;
    if af_len > 1 {
        body[1] = 0;
    }
    body[af_len..].copy_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MASK_33;

    #[test]
    fn header_bytes() {
        let mut b = [0xA5u8; PACKET_LEN];
        Header {
            pusi: true,
            pid: 0x100,
            has_adaptation: false,
            has_payload: true,
            cc: 0x1F,
        }
        .emit(&mut b);
        assert_eq!(b[..5], [0x47, 0x41, 0x00, 0x1F, 0xA5]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.pusi() && p.has_payload() && !p.has_adaptation());
        assert_eq!((p.pid(), p.cc()), (0x100, 0xF));
        assert_eq!(p.payload().len(), 184);
        Header {
            pusi: false,
            pid: 0x1FFF,
            has_adaptation: true,
            has_payload: false,
            cc: 3,
        }
        .emit(&mut b);
        assert_eq!(b[..4], [0x47, 0x1F, 0xFF, 0x23]);
    }

    #[test]
    fn adaptation_pcr_rai_stuffing() {
        let mut b = [0xA5u8; PACKET_LEN];
        Header {
            pusi: true,
            pid: 0x100,
            has_adaptation: true,
            has_payload: true,
            cc: 0,
        }
        .emit(&mut b);
        // PCR base 2^33 + 1 (wraps to 1), extension 299.
        let pcr = Pcr27M((MASK_33 + 2) * 300 + 299);
        AdaptationField {
            random_access: true,
            pcr: Some(pcr),
        }
        .emit(&mut b[4..14]);
        assert_eq!(
            b[4..15],
            [9, 0x50, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x2B, 0xFF, 0xFF, 0xA5]
        );
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.random_access());
        assert_eq!(p.pcr(), Some(Pcr27M(300 + 299)));
        assert_eq!(p.adaptation_len(), 10);
        assert_eq!(p.payload().len(), 174);

        let mut b = [0xA5u8; 4];
        AdaptationField::default().emit(&mut b[..1]);
        assert_eq!(b, [0, 0xA5, 0xA5, 0xA5]);
        AdaptationField::default().emit(&mut b[..3]);
        assert_eq!(b, [2, 0x00, 0xFF, 0xA5]);
        AdaptationField {
            random_access: true,
            pcr: None,
        }
        .emit(&mut b);
        assert_eq!(b, [3, 0x40, 0xFF, 0xFF]);
    }

    #[test]
    fn stuffed_body_matches_adaptation_field() {
        for n in [0usize, 1, 2, 100, 182, 183] {
            let payload: Vec<u8> = (0..n as u8).collect();
            let mut b = [0xA5u8; BODY_LEN];
            emit_stuffed_body(&mut b, &payload);
            let mut want = [0xA5u8; BODY_LEN];
            AdaptationField::default().emit(&mut want[..BODY_LEN - n]);
            want[BODY_LEN - n..].copy_from_slice(&payload);
            assert_eq!(b, want, "payload of {n}");
        }
        assert_eq!(emit_stuffed_len_183(), [0, 7]);
    }

    fn emit_stuffed_len_183() -> [u8; 2] {
        let mut b = [0xA5u8; BODY_LEN];
        emit_stuffed_body(&mut b, &[7u8; 183]);
        [b[0], b[1]]
    }

    #[test]
    fn checked_rejects() {
        let mut b = [0u8; PACKET_LEN];
        assert_eq!(
            Packet::new_checked(&b[..187]).unwrap_err(),
            PacketError::Length
        );
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), PacketError::Sync);
        Header {
            pusi: false,
            pid: 1,
            has_adaptation: true,
            has_payload: true,
            cc: 0,
        }
        .emit(&mut b);
        b[4] = 183;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            PacketError::AdaptationLength
        );
        b[3] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            PacketError::ReservedControl
        );
    }
}
