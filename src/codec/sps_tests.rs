//! Tests of [`Sps::parse`]: SPSs from openh264 and libx264, and synthetic ones for the paths
//! those encoders do not take (scaling lists, `pic_order_cnt_type` 1).

use super::*;

/// MSB-first bit writer with exp-Golomb codes, and emulation prevention on output.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn bit(&mut self, b: bool) {
        if self.bits % 8 == 0 {
            self.bytes.push(0);
        }
        if b {
            *self.bytes.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }
    fn bits(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }
    fn ue(&mut self, v: u32) {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros();
        self.bits(0, len - 1);
        for i in (0..len).rev() {
            self.bit((x >> i) & 1 == 1);
        }
    }
    fn se(&mut self, v: i32) {
        self.ue(if v > 0 {
            2 * v as u32 - 1
        } else {
            (-2 * v) as u32
        });
    }
    /// RBSP trailing bits, emulation prevention, NAL header 0x67.
    fn nal(mut self) -> Vec<u8> {
        self.bit(true);
        while self.bits % 8 != 0 {
            self.bit(false);
        }
        let mut out = vec![0x67];
        let mut zeros = 0;
        for b in self.bytes {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

/// libx264 (ffmpeg `-pix_fmt yuv420p -flags +ildct+ilme -x264-params interlaced=1`),
/// 720x576 High, field coded (frame_mbs_only_flag 0), emulation prevention bytes inside.
const X264_INTERLACED_576: [u8; 24] = [
    0x67, 0x64, 0x00, 0x1E, 0xAC, 0xD9, 0x40, 0xB4, 0x24, 0xD8, 0x08, 0x80, 0x00, 0x00, 0x03, 0x00,
    0x80, 0x00, 0x00, 0x19, 0x0F, 0x8A, 0x14, 0xCB,
];
/// libx264 1920x1080 4:4:4 (High 4:4:4 Predictive): crop unit 1 × 1, 8 rows cropped.
const X264_444_1080: [u8; 27] = [
    0x67, 0xF4, 0x00, 0x28, 0x91, 0x9B, 0x28, 0x0F, 0x00, 0x44, 0xFC, 0x4E, 0x02, 0x20, 0x00, 0x00,
    0x03, 0x00, 0x20, 0x00, 0x00, 0x07, 0x81, 0xE3, 0x06, 0x32, 0xC0,
];
/// libx264 640x360 4:2:2 (High 4:2:2): crop unit 2 × 1, 8 rows cropped.
const X264_422_360: [u8; 26] = [
    0x67, 0x7A, 0x00, 0x1E, 0xBC, 0xD9, 0x40, 0xA0, 0x2F, 0xF8, 0x9C, 0x04, 0x40, 0x00, 0x00, 0x03,
    0x00, 0x40, 0x00, 0x00, 0x0F, 0x03, 0xC5, 0x8B, 0x65, 0x80,
];

/// The SPS openh264 (as the project configures it) writes for a `w`×`h` picture.
fn openh264_sps(w: usize, h: usize) -> Vec<u8> {
    use crate::codec::h264::{NalIter, NAL_SPS};
    use ::openh264::encoder::{Encoder, EncoderConfig, UsageType};
    use ::openh264::formats::YUVBuffer;
    use ::openh264::OpenH264API;
    let cfg = EncoderConfig::new().usage_type(UsageType::CameraVideoRealTime);
    let mut enc = Encoder::with_api_config(OpenH264API::from_source(), cfg).unwrap();
    let yuv = YUVBuffer::new(w, h);
    let annexb = enc.encode(&yuv).unwrap().to_vec();
    let sps = NalIter::new(&annexb).find(|n| n.nal_type == NAL_SPS);
    sps.expect("openh264 writes an SPS before the first IDR")
        .bytes
        .to_vec()
}

#[test]
fn openh264_sizes_with_and_without_cropping() {
    for (w, h) in [(1280, 720), (640, 360), (320, 240), (1920, 1080)] {
        let nal = openh264_sps(w, h);
        let s = Sps::parse(&nal).unwrap();
        assert_eq!((s.width, s.height), (w as u32, h as u32), "{w}x{h}");
        assert_eq!(s.chroma_format_idc, 1);
        let cs = s.codec_string();
        assert_eq!(&cs.as_str()[..5], "avc1.");
        assert_eq!(
            u32::from_str_radix(&cs.as_str()[5..], 16).unwrap(),
            u32::from_be_bytes([0, nal[1], nal[2], nal[3]])
        );
    }
}

#[test]
fn libx264_field_coding_and_chroma_formats() {
    let s = Sps::parse(&X264_INTERLACED_576).unwrap();
    assert_eq!((s.profile_idc, s.level_idc), (100, 30));
    assert_eq!((s.width, s.height), (720, 576));
    assert_eq!(s.codec_string().as_str(), "avc1.64001E");
    let s = Sps::parse(&X264_444_1080).unwrap();
    assert_eq!((s.profile_idc, s.chroma_format_idc), (244, 3));
    assert_eq!((s.width, s.height), (1920, 1080));
    let s = Sps::parse(&X264_422_360).unwrap();
    assert_eq!((s.profile_idc, s.chroma_format_idc), (122, 2));
    assert_eq!((s.width, s.height), (640, 360));
    assert_eq!(s.codec_string().to_string(), "avc1.7A001E");
}

/// A High-profile SPS with scaling lists, pic_order_cnt_type 1 and cropping on all sides.
fn synthetic(poc_type: u32, frame_mbs_only: bool, lists: bool) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.bits(100, 8);
    w.bits(0, 8);
    w.bits(31, 8);
    w.ue(0); // sps id
    w.ue(1); // chroma_format_idc
    w.ue(2); // bit_depth_luma_minus8
    w.ue(2);
    w.bit(false);
    w.bit(lists);
    if lists {
        for i in 0..8 {
            w.bit(i % 3 != 2);
            if i % 3 != 2 {
                let n = if i < 6 { 16 } else { 64 };
                for j in 0..n {
                    // The last list ends early with nextScale 0 (delta back to 0).
                    if i == 7 && j == 10 {
                        w.se(-18);
                        break;
                    }
                    w.se(if j % 2 == 0 { 5 } else { -3 });
                }
            }
        }
    }
    w.ue(4); // log2_max_frame_num_minus4
    w.ue(poc_type);
    match poc_type {
        0 => w.ue(2),
        1 => {
            w.bit(false);
            w.se(-7);
            w.se(3);
            w.ue(3);
            for v in [1, -2, 300] {
                w.se(v);
            }
        }
        _ => {}
    }
    w.ue(4); // max_num_ref_frames
    w.bit(false);
    w.ue(1280 / 16 - 1);
    let map_units = if frame_mbs_only { 1088 / 16 } else { 1088 / 32 };
    w.ue(map_units - 1);
    w.bit(frame_mbs_only);
    if !frame_mbs_only {
        w.bit(true);
    }
    w.bit(true);
    w.bit(true); // frame_cropping_flag
    for c in [2, 6, 0, 4] {
        w.ue(c);
    }
    w.bit(false); // vui_parameters_present_flag
    w.nal()
}

#[test]
fn synthetic_scaling_lists_and_poc_types() {
    for poc in 0..3 {
        for lists in [false, true] {
            let s = Sps::parse(&synthetic(poc, true, lists)).unwrap();
            assert_eq!((s.width, s.height), (1280 - 16, 1088 - 8), "poc {poc}");
            assert_eq!((s.bit_depth_luma_minus8, s.level_idc), (2, 31));
            // Field coding doubles the vertical crop unit.
            let s = Sps::parse(&synthetic(poc, false, lists)).unwrap();
            assert_eq!((s.width, s.height), (1280 - 16, 1088 - 16), "poc {poc}");
        }
    }
}

#[test]
fn bad_input_is_an_error() {
    assert_eq!(Sps::parse(&[]), Err(SpsError::NotSps));
    assert_eq!(Sps::parse(&[0x68, 1, 2]), Err(SpsError::NotSps));
    let nal = synthetic(1, true, true);
    for n in 1..nal.len() - 1 {
        assert!(Sps::parse(&nal[..n]).is_err(), "cut at {n}");
    }
    assert_eq!(
        Sps::parse(&synthetic(3, true, false)),
        Err(SpsError::Invalid)
    );
    assert_eq!(
        Sps::parse(&[0x67, 66, 0, 30, 0, 0, 0, 0, 0x80]),
        Err(SpsError::Invalid)
    );
    // Only the first RBSP_MAX bytes are looked at.
    let mut long = vec![0x67, 66, 0xC0, 30];
    long.resize(1000, 0);
    assert_eq!(Sps::parse(&long), Err(SpsError::Invalid));
}

#[test]
fn unescape_drops_only_emulation_prevention() {
    let mut out = [0u8; 16];
    let n = unescape(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 3, 5], &mut out);
    assert_eq!(&out[..n], &[0, 0, 1, 0, 0, 0, 0, 3, 5]);
    let n = unescape(&[1, 2, 3, 4], &mut out[..2]);
    assert_eq!(&out[..n], &[1, 2]);
}
