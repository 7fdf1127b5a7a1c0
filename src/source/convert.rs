//! Camera pixel formats to tightly packed I420 (the encoder's input), written into a caller's
//! buffer without allocating.
//!
//! Layouts follow the V4L2 pixel format reference (kernel `Documentation/userspace-api/media/v4l/`):
//! `V4L2_PIX_FMT_YUV420` ("YU12", `pixfmt-yuv-planar.rst`), `V4L2_PIX_FMT_NV12`
//! (`pixfmt-yuv-planar.rst`), `V4L2_PIX_FMT_YUYV` (`pixfmt-packed-yuv.rst`) and Motion-JPEG
//! (`V4L2_PIX_FMT_MJPEG`, one baseline JPEG per buffer, ITU-T T.81 / JFIF).
//!
//! * Source rows may be padded: every converter takes the source `stride` (V4L2 `bytesperline`).
//! * The output is tightly packed I420: Y `w×h`, then U and V `w/2×h/2`; `w` and `h` are even.
//! * 4:2:2 → 4:2:0 averages the chroma of each pair of rows (rounding half up).
//! * JPEG's YCbCr is full range (JFIF); it is scaled to the limited "video" range (Y 16–235,
//!   C 16–240, ITU-R BT.601) that H.264 streams without `video_full_range_flag` mean.
//!
//! No function here panics on short or odd input: sizes are checked first and reported as a
//! `Copy` [`ConvertError`]. The inner loops use `chunks_exact` so the compiler can drop bounds
//! checks and vectorise them.

use std::fmt;

/// Why a conversion could not be done (a hot-path error: `Copy`, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertError {
    /// Width or height is zero or odd.
    BadSize,
    /// The source buffer is shorter than `stride × rows` needs (e.g. a truncated buffer).
    ShortInput,
    /// The destination is shorter than one I420 picture.
    ShortOutput,
    /// The JPEG could not be decoded.
    BadJpeg,
    /// The JPEG decoded to another size than the negotiated one.
    JpegSize {
        /// Decoded width.
        width: u32,
        /// Decoded height.
        height: u32,
    },
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::BadSize => write!(f, "width/height zero or odd"),
            ConvertError::ShortInput => write!(f, "source buffer too short"),
            ConvertError::ShortOutput => write!(f, "destination buffer too short"),
            ConvertError::BadJpeg => write!(f, "undecodable JPEG"),
            ConvertError::JpegSize { width, height } => {
                write!(f, "JPEG is {width}x{height}, not the negotiated size")
            }
        }
    }
}

impl std::error::Error for ConvertError {}

/// Bytes of a tightly packed I420 picture.
pub fn i420_len(w: usize, h: usize) -> usize {
    w * h + 2 * (w / 2) * (h / 2)
}

fn check(
    w: usize,
    h: usize,
    src_len: usize,
    need: usize,
    dst_len: usize,
) -> Result<(), ConvertError> {
    if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 {
        return Err(ConvertError::BadSize);
    }
    if src_len < need {
        return Err(ConvertError::ShortInput);
    }
    if dst_len < i420_len(w, h) {
        return Err(ConvertError::ShortOutput);
    }
    Ok(())
}

/// Bytes a strided plane of `rows` rows needs: the last row need not be padded.
fn plane_need(stride: usize, row_bytes: usize, rows: usize) -> usize {
    stride * (rows - 1) + row_bytes
}

/// Copies planar YU12 (I420) with Y stride `stride` (chroma stride `stride / 2`, as V4L2 defines
/// it for the single-planar format) into a tightly packed I420 picture.
pub fn i420_copy(
    src: &[u8],
    stride: usize,
    w: usize,
    h: usize,
    dst: &mut [u8],
) -> Result<(), ConvertError> {
    let cs = stride / 2;
    let (cw, ch) = (w / 2, h / 2);
    let y_len = stride * h;
    let need = y_len + cs * ch + plane_need(cs, cw, ch);
    check(w, h, src.len(), need, dst.len())?;
    if stride < w {
        return Err(ConvertError::ShortInput);
    }
    let (dy, dc) = dst.split_at_mut(w * h);
    let (du, dv) = dc.split_at_mut(cw * ch);
    copy_plane(&src[..y_len], stride, w, h, dy);
    copy_plane(&src[y_len..], cs, cw, ch, du);
    copy_plane(&src[y_len + cs * ch..], cs, cw, ch, &mut dv[..cw * ch]);
    Ok(())
}

fn copy_plane(src: &[u8], stride: usize, w: usize, h: usize, dst: &mut [u8]) {
    if stride == w {
        dst[..w * h].copy_from_slice(&src[..w * h]);
        return;
    }
    for (d, s) in dst[..w * h].chunks_exact_mut(w).zip(src.chunks(stride)) {
        d.copy_from_slice(&s[..w]);
    }
}

/// Converts NV12 (Y plane, then one interleaved CbCr plane, both with stride `stride`) to I420.
pub fn nv12_to_i420(
    src: &[u8],
    stride: usize,
    w: usize,
    h: usize,
    dst: &mut [u8],
) -> Result<(), ConvertError> {
    let ch = h / 2;
    let y_len = stride * h;
    let need = y_len + plane_need(stride, w, ch.max(1));
    check(w, h, src.len(), need, dst.len())?;
    if stride < w {
        return Err(ConvertError::ShortInput);
    }
    let cw = w / 2;
    let (dy, dc) = dst.split_at_mut(w * h);
    let (du, dv) = dc.split_at_mut(cw * ch);
    copy_plane(&src[..y_len], stride, w, h, dy);
    let uv = &src[y_len..];
    for ((row, u), v) in uv
        .chunks(stride)
        .take(ch)
        .zip(du.chunks_exact_mut(cw))
        .zip(dv[..cw * ch].chunks_exact_mut(cw))
    {
        for ((p, u), v) in row[..w].chunks_exact(2).zip(u.iter_mut()).zip(v.iter_mut()) {
            *u = p[0];
            *v = p[1];
        }
    }
    Ok(())
}

/// Converts packed YUYV 4:2:2 (`Y0 U Y1 V`, stride `stride`) to I420, averaging the chroma of
/// each pair of rows.
pub fn yuyv_to_i420(
    src: &[u8],
    stride: usize,
    w: usize,
    h: usize,
    dst: &mut [u8],
) -> Result<(), ConvertError> {
    let need = plane_need(stride, 2 * w, h);
    check(w, h, src.len(), need, dst.len())?;
    if stride < 2 * w {
        return Err(ConvertError::ShortInput);
    }
    let cw = w / 2;
    let (dy, dc) = dst.split_at_mut(w * h);
    let (du, dv) = dc.split_at_mut(cw * (h / 2));
    let rows = dy[..w * h].chunks_exact_mut(2 * w);
    let us = du.chunks_exact_mut(cw);
    let vs = dv.chunks_exact_mut(cw);
    for (i, ((yy, u), v)) in rows.zip(us).zip(vs).enumerate() {
        let r0 = &src[2 * i * stride..2 * i * stride + 2 * w];
        let r1 = &src[(2 * i + 1) * stride..(2 * i + 1) * stride + 2 * w];
        let (y0, y1) = yy.split_at_mut(w);
        yuyv_row_pair(r0, r1, y0, y1, u, v);
    }
    Ok(())
}

#[inline]
fn yuyv_row_pair(r0: &[u8], r1: &[u8], y0: &mut [u8], y1: &mut [u8], u: &mut [u8], v: &mut [u8]) {
    let it = r0
        .chunks_exact(4)
        .zip(r1.chunks_exact(4))
        .zip(y0.chunks_exact_mut(2))
        .zip(y1.chunks_exact_mut(2))
        .zip(u.iter_mut())
        .zip(v.iter_mut());
    for (((((a, b), ya), yb), u), v) in it {
        ya[0] = a[0];
        ya[1] = a[2];
        yb[0] = b[0];
        yb[1] = b[2];
        *u = ((a[1] as u16 + b[1] as u16 + 1) >> 1) as u8;
        *v = ((a[3] as u16 + b[3] as u16 + 1) >> 1) as u8;
    }
}

/// Full-range luma to limited range: `16 + y × 219 / 255`, rounded (fixed point, no table, so
/// the loop can vectorise).
#[inline(always)]
fn y_limited(y: u8) -> u8 {
    ((y as u32 * 56_284 + (16 << 16) + 32_768) >> 16) as u8
}

/// Full-range chroma to limited range: `128 + (c − 128) × 224 / 255`, rounded.
#[inline(always)]
fn c_limited(c: u32) -> u8 {
    ((c * 57_570 + 1_019_648 + 32_768) >> 16) as u8
}

/// Converts interleaved full-range YCbCr 4:4:4 (3 bytes per pixel, no padding) to limited-range
/// I420, averaging each 2×2 block of chroma.
fn ycc444_to_i420(src: &[u8], w: usize, h: usize, dst: &mut [u8]) {
    let cw = w / 2;
    let (dy, dc) = dst.split_at_mut(w * h);
    let (du, dv) = dc.split_at_mut(cw * (h / 2));
    let rows = dy[..w * h].chunks_exact_mut(2 * w);
    for (i, ((yy, u), v)) in rows
        .zip(du.chunks_exact_mut(cw))
        .zip(dv.chunks_exact_mut(cw))
        .enumerate()
    {
        let r0 = &src[2 * i * 3 * w..(2 * i + 1) * 3 * w];
        let r1 = &src[(2 * i + 1) * 3 * w..(2 * i + 2) * 3 * w];
        let (y0, y1) = yy.split_at_mut(w);
        let it = r0
            .chunks_exact(6)
            .zip(r1.chunks_exact(6))
            .zip(y0.chunks_exact_mut(2))
            .zip(y1.chunks_exact_mut(2))
            .zip(u.iter_mut())
            .zip(v.iter_mut());
        for (((((a, b), ya), yb), u), v) in it {
            ya[0] = y_limited(a[0]);
            ya[1] = y_limited(a[3]);
            yb[0] = y_limited(b[0]);
            yb[1] = y_limited(b[3]);
            let su = a[1] as u32 + a[4] as u32 + b[1] as u32 + b[4] as u32;
            let sv = a[2] as u32 + a[5] as u32 + b[2] as u32 + b[5] as u32;
            *u = c_limited((su + 2) >> 2);
            *v = c_limited((sv + 2) >> 2);
        }
    }
}

/// Decodes Motion-JPEG frames straight to I420.
///
/// Uses `zune-jpeg` asked for YCbCr output (no RGB round trip): the decoder upsamples chroma to
/// 4:4:4 into a scratch buffer kept here, which is then reduced to 4:2:0 and range-scaled.
/// The scratch buffer is allocated once per geometry; `zune-jpeg` itself allocates its decoder
/// state (Huffman tables, MCU rows) on every frame, so this path is *not* allocation-free.
pub struct MjpegDecoder {
    scratch: Vec<u8>,
}

impl Default for MjpegDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MjpegDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MjpegDecoder")
            .field("scratch", &self.scratch.len())
            .finish()
    }
}

impl MjpegDecoder {
    /// A decoder with no scratch space yet.
    pub fn new() -> Self {
        MjpegDecoder {
            scratch: Vec::new(),
        }
    }

    /// Decodes one JPEG of `w×h` pixels into the I420 buffer `dst`.
    pub fn decode(
        &mut self,
        jpeg: &[u8],
        w: usize,
        h: usize,
        dst: &mut [u8],
    ) -> Result<(), ConvertError> {
        use zune_jpeg::zune_core::bytestream::ZCursor;
        use zune_jpeg::zune_core::colorspace::ColorSpace;
        use zune_jpeg::zune_core::options::DecoderOptions;
        check(w, h, usize::MAX, 0, dst.len())?;
        let opts = DecoderOptions::new_fast()
            .jpeg_set_out_colorspace(ColorSpace::YCbCr)
            .set_max_width(8192)
            .set_max_height(8192);
        let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), opts);
        dec.decode_headers().map_err(|_| ConvertError::BadJpeg)?;
        let (dw, dh) = dec.dimensions().ok_or(ConvertError::BadJpeg)?;
        if dw != w || dh != h {
            return Err(ConvertError::JpegSize {
                width: dw as u32,
                height: dh as u32,
            });
        }
        let gray = dec.input_colorspace() == Some(ColorSpace::Luma);
        if gray {
            // A grey JPEG: decode luma into the Y plane, neutral chroma.
            let mut gopts = opts.jpeg_set_out_colorspace(ColorSpace::Luma);
            gopts = gopts.set_max_width(8192);
            let mut g = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), gopts);
            g.decode_into(&mut dst[..w * h])
                .map_err(|_| ConvertError::BadJpeg)?;
            for p in dst[..w * h].iter_mut() {
                *p = y_limited(*p);
            }
            dst[w * h..i420_len(w, h)].fill(128);
            return Ok(());
        }
        let need = w * h * 3;
        if self.scratch.len() != need {
            self.scratch.resize(need, 0);
        }
        dec.decode_into(&mut self.scratch)
            .map_err(|_| ConvertError::BadJpeg)?;
        if dec.output_colorspace() != Some(ColorSpace::YCbCr) {
            return Err(ConvertError::BadJpeg);
        }
        ycc444_to_i420(&self.scratch, w, h, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_two_by_two() {
        // Row 0: Y 10 20, U 100, V 200 ; row 1: Y 30 40, U 110, V 211.
        let src = [10, 100, 20, 200, 0xEE, 0xEE, 30, 110, 40, 211, 0xEE, 0xEE];
        let mut dst = [0xA5u8; 6];
        yuyv_to_i420(&src, 6, 2, 2, &mut dst).unwrap();
        assert_eq!(dst, [10, 20, 30, 40, 105, 206]);
    }

    #[test]
    fn range_scaling_matches_the_formula() {
        for i in 0..=255u8 {
            let y = (16.0 + i as f64 * 219.0 / 255.0).round() as i32;
            let c = (128.0 + (i as f64 - 128.0) * 224.0 / 255.0).round() as i32;
            assert!((y_limited(i) as i32 - y).abs() <= 1, "y {i}");
            assert!((c_limited(i as u32) as i32 - c).abs() <= 1, "c {i}");
        }
        assert_eq!((y_limited(0), y_limited(255)), (16, 235));
        assert_eq!(
            (c_limited(0), c_limited(128), c_limited(255)),
            (16, 128, 240)
        );
    }

    #[test]
    fn errors_not_panics() {
        let mut dst = [0u8; 6];
        assert_eq!(
            yuyv_to_i420(&[0; 7], 4, 2, 2, &mut dst),
            Err(ConvertError::ShortInput)
        );
        assert_eq!(
            yuyv_to_i420(&[0; 8], 4, 2, 2, &mut dst[..5]),
            Err(ConvertError::ShortOutput)
        );
        assert_eq!(
            nv12_to_i420(&[0; 8], 2, 3, 2, &mut dst),
            Err(ConvertError::BadSize)
        );
        assert_eq!(
            MjpegDecoder::new().decode(&[0xFF, 0xD8, 0, 0], 2, 2, &mut dst),
            Err(ConvertError::BadJpeg)
        );
    }
}
