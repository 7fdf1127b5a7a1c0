//! CRC-32/MPEG-2 of PSI sections (ISO/IEC 13818-1 Annex A): polynomial 0x04C11DB7, initial
//! value 0xFFFFFFFF, no reflection, no final XOR. The 256-entry table is computed at compile
//! time; [`crc32_mpeg2`] neither allocates nor panics.

const POLY: u32 = 0x04C1_1DB7;

/// The byte-wise lookup table, built by a `const fn`.
pub static TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u32) << 24;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ POLY
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// CRC-32/MPEG-2 of `data`. A section followed by its own CRC has a CRC of 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc = (crc << 8) ^ TABLE[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
        assert_eq!(crc32_mpeg2(b""), 0xFFFF_FFFF);
        let mut s = *b"123456789\0\0\0\0";
        s[9..].copy_from_slice(&0x0376_E6E7u32.to_be_bytes());
        assert_eq!(crc32_mpeg2(&s), 0);
    }
}
