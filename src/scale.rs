//! Provisional I420 scaler (nearest sample); replaced by the area-averaging one.
#![allow(missing_docs)]

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleError(pub String);
impl std::fmt::Display for ScaleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ScaleError {}

pub struct Scaler {
    src: (u32, u32),
    dst: (u32, u32),
}

impl Scaler {
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Result<Scaler, ScaleError> {
        if dst_w > src_w || dst_h > src_h || dst_w == 0 || dst_h == 0 || dst_w % 2 + dst_h % 2 > 0 {
            return Err(ScaleError(format!(
                "cannot scale {src_w}x{src_h} to {dst_w}x{dst_h}"
            )));
        }
        Ok(Scaler {
            src: (src_w, src_h),
            dst: (dst_w, dst_h),
        })
    }
    pub fn src_size(&self) -> (u32, u32) {
        self.src
    }
    pub fn dst_size(&self) -> (u32, u32) {
        self.dst
    }
    pub fn scale(&mut self, src: &[u8], dst: &mut [u8]) {
        let (sw, sh) = (self.src.0 as usize, self.src.1 as usize);
        let (dw, dh) = (self.dst.0 as usize, self.dst.1 as usize);
        let plane = |s: &[u8], d: &mut [u8], sw: usize, sh: usize, dw: usize, dh: usize| {
            for y in 0..dh {
                let sy = y * sh / dh;
                for x in 0..dw {
                    d[y * dw + x] = s[sy * sw + x * sw / dw];
                }
            }
        };
        let (sy, dy) = (sw * sh, dw * dh);
        let (sc, dc) = (sy / 4, dy / 4);
        plane(&src[..sy], &mut dst[..dy], sw, sh, dw, dh);
        plane(
            &src[sy..sy + sc],
            &mut dst[dy..dy + dc],
            sw / 2,
            sh / 2,
            dw / 2,
            dh / 2,
        );
        plane(
            &src[sy + sc..sy + 2 * sc],
            &mut dst[dy + dc..dy + 2 * dc],
            sw / 2,
            sh / 2,
            dw / 2,
            dh / 2,
        );
    }
}
