//! I420 downscaling for adaptive bitrate: one camera picture scaled once per variant.
//!
//! An area-averaging (box) filter: each destination pixel is the mean of the source area it
//! covers, every source pixel weighted by the part of it that lies inside that area. Sizes are
//! even; the chroma planes are scaled like luma at their half sizes.
//!
//! * Tables (per plane and axis: first source pixel and fixed-point weights of each destination
//!   pixel) and the two row buffers are allocated in [`Scaler::new`]; [`Scaler::scale`] never
//!   allocates.
//! * General ratios are separable: a vertical pass sums the covered source rows into a `u32`
//!   row (weights Q14, summing to exactly 2^14), rounded to a Q7 `u16` row; a horizontal pass
//!   sums that row's covered columns (weights Q14) into the destination. A pixel is within one
//!   level of the exact area average (tested against an `f64` reference).
//! * Exact 2:1 in both axes (1280x720 → 640x360) takes a fast path: the rounded mean of each
//!   2x2 block (what the general filter gives there, to within its rounding).
//! * The same size in both axes is a plain copy.
//!
//! The vertical pass, the horizontal pass (tables of up to 4 or 8 taps, padded to 4 or 8 with
//! zero weights) and the 2:1 path are SIMD on x86_64 (SSE2) and aarch64 (NEON), in
//! `src/scale_simd.rs`: the release profile's `opt-level = "s"` turns the compiler's
//! vectorisers off. They compute the same integers as the scalar code, which does the remaining
//! pixels and everything on other targets (armv7); the scalar loops walk contiguous rows with
//! `zip`/`chunks_exact` (no bounds checks inside), with the tap count a compile-time constant
//! for the common counts.

use std::fmt;

#[path = "scale_simd.rs"]
mod simd;

/// Largest width or height accepted.
pub const MAX_DIM: u32 = 8192;

/// Fixed-point bits of the weights (a weight of 1.0 is `1 << WBITS`).
const WBITS: u32 = 14;
/// Bits dropped from the vertical sum to make the Q7 `u16` row (at most `255 << 7`, so it
/// also fits an `i16`, which the SSE2 code packs to).
const VSHIFT: u32 = WBITS - 7;
/// Bits dropped from the horizontal sum to make the 8-bit pixel.
const HSHIFT: u32 = WBITS + 7;

/// Why a [`Scaler`] cannot be made for the sizes asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleError(pub String);

impl fmt::Display for ScaleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scaler: {}", self.0)
    }
}

impl std::error::Error for ScaleError {}

/// Bytes of a tightly packed I420 picture of `w×h` (even sizes).
fn i420_len(w: u32, h: u32) -> usize {
    let (w, h) = (w as usize, h as usize);
    w * h + 2 * (w / 2) * (h / 2)
}

/// The box filter of one axis: destination pixel `i` is
/// `sum(k < taps) weights[i*taps + k] * src[start[i] + k]`, the weights summing to `1 << WBITS`.
struct Axis {
    start: Vec<u32>,
    weights: Vec<u16>,
    taps: usize,
}

impl Axis {
    /// Box weights for `src` → `dst` pixels (`dst <= src`). In units where a source pixel is
    /// `dst` long and a destination pixel `src` long, destination `i` covers
    /// `[i*src, (i+1)*src)` and source `j` covers `[j*dst, (j+1)*dst)`: the overlaps are exact
    /// integers, each destination's summing to `src`.
    ///
    /// The tap count is `pad(taps needed)` (more taps are zero weights), at most `src`.
    fn new(src: u32, dst: u32, pad: fn(usize) -> usize) -> Axis {
        let (s, d) = (src as u64, dst as u64);
        let span = |i: u64| ((i * s) / d, ((i + 1) * s).div_ceil(d)); // covered source pixels
        let taps = (0..d).map(|i| span(i).1 - span(i).0).max().unwrap_or(1) as usize;
        let taps = pad(taps).min(src as usize);
        let mut start = Vec::with_capacity(dst as usize);
        let mut weights = vec![0u16; dst as usize * taps];
        let one = 1u64 << WBITS;
        for (i, w) in (0..d).zip(weights.chunks_exact_mut(taps)) {
            let (j0, j1) = span(i);
            // Keep `start + taps` inside the row: the taps past the span are zero weights, so
            // near the right edge the span is moved to the end of the window.
            let first = j0.min(s - taps as u64);
            let (lo, hi) = (i * s, (i + 1) * s);
            // Each weight is the difference of the rounded running sums of the overlaps, so
            // the weights are exact to 1/2^WBITS each and sum to exactly 1.0.
            let q = |cover: u64| (cover * one + s / 2) / s;
            let mut cover = 0;
            for j in j0..j1 {
                let ov = ((j + 1) * d).min(hi) - (j * d).max(lo);
                w[(j - first) as usize] = (q(cover + ov) - q(cover)) as u16;
                cover += ov;
            }
            start.push(first as u32);
        }
        Axis {
            start,
            weights,
            taps,
        }
    }
}

/// How one plane is scaled.
enum Mode {
    /// Same size: copy.
    Copy,
    /// Exactly half in both axes: the mean of each 2x2 block.
    Half,
    /// Any other ratio: the separable box filter.
    Box { h: Axis, v: Axis },
}

/// One plane's geometry and filter.
struct Plane {
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    mode: Mode,
}

impl Plane {
    fn new(sw: u32, sh: u32, dw: u32, dh: u32) -> Plane {
        let mode = if (sw, sh) == (dw, dh) {
            Mode::Copy
        } else if sw == 2 * dw && sh == 2 * dh {
            Mode::Half
        } else {
            Mode::Box {
                h: Axis::new(sw, dw, simd::h_taps),
                v: Axis::new(sh, dh, |t| t),
            }
        };
        Plane {
            sw: sw as usize,
            sh: sh as usize,
            dw: dw as usize,
            dh: dh as usize,
            mode,
        }
    }

    /// Scales `src` (`sw×sh`) into `dst` (`dw×dh`); `acc` and `mid` hold at least `sw` values.
    fn scale(&self, src: &[u8], dst: &mut [u8], acc: &mut [u32], mid: &mut [u16]) {
        let src = &src[..self.sw * self.sh];
        let dst = &mut dst[..self.dw * self.dh];
        match &self.mode {
            Mode::Copy => dst.copy_from_slice(src),
            Mode::Half => {
                for (d, two) in dst
                    .chunks_exact_mut(self.dw)
                    .zip(src.chunks_exact(2 * self.sw))
                {
                    let (r0, r1) = two.split_at(self.sw);
                    let done = simd::half_row(r0, r1, d);
                    half_row(&r0[2 * done..], &r1[2 * done..], &mut d[done..]);
                }
            }
            Mode::Box { h, v } => {
                let acc = &mut acc[..self.sw];
                let mid = &mut mid[..self.sw];
                let vw = v.weights.chunks_exact(v.taps);
                for ((d, &y0), w) in dst.chunks_exact_mut(self.dw).zip(&v.start).zip(vw) {
                    let at = y0 as usize * self.sw;
                    let rows = &src[at..at + v.taps * self.sw];
                    let done = simd::vertical(rows, self.sw, w, mid);
                    vertical(rows, self.sw, done, w, acc, mid);
                    horizontal(mid, h, d);
                }
            }
        }
    }
}

/// One destination row of the 2:1 path: the rounded mean of each 2x2 block of `r0`/`r1`.
fn half_row(r0: &[u8], r1: &[u8], d: &mut [u8]) {
    for ((d, a), b) in d.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
        let s = a[0] as u16 + a[1] as u16 + b[0] as u16 + b[1] as u16;
        *d = ((s + 2) >> 2) as u8;
    }
}

/// The vertical pass over columns `from..sw`: the weighted sum of the `w.len()` rows of `rows`
/// (zero weights skipped) into `acc`, then rounded to Q7 into `mid`.
fn vertical(rows: &[u8], sw: usize, from: usize, w: &[u16], acc: &mut [u32], mid: &mut [u16]) {
    if from == sw {
        return;
    }
    let (acc, mid) = (&mut acc[from..sw], &mut mid[from..sw]);
    let mut rows = rows.chunks_exact(sw).map(|r| &r[from..]);
    let first = rows.next().expect("the filter's rows lie inside the plane");
    let w0 = w[0] as u32;
    for (a, &p) in acc.iter_mut().zip(first) {
        *a = w0 * p as u32;
    }
    for (row, &wk) in rows.zip(&w[1..]) {
        if wk == 0 {
            continue;
        }
        let wk = wk as u32;
        for (a, &p) in acc.iter_mut().zip(row) {
            *a += wk * p as u32;
        }
    }
    for (m, &a) in mid.iter_mut().zip(acc.iter()) {
        *m = ((a + (1 << (VSHIFT - 1))) >> VSHIFT) as u16;
    }
}

/// The horizontal pass over one Q7 row: SIMD for 4- and 8-tap tables (see [`Axis::new`]), then the
/// scalar code, with the tap count made a constant for the common counts.
fn horizontal(mid: &[u16], h: &Axis, d: &mut [u8]) {
    let done = simd::horizontal(mid, h.taps, &h.start, &h.weights, d);
    let (start, weights, d) = (
        &h.start[done..],
        &h.weights[done * h.taps..],
        &mut d[done..],
    );
    match h.taps {
        1 => horizontal_n::<1>(mid, start, weights, d),
        2 => horizontal_n::<2>(mid, start, weights, d),
        3 => horizontal_n::<3>(mid, start, weights, d),
        4 => horizontal_n::<4>(mid, start, weights, d),
        5 => horizontal_n::<5>(mid, start, weights, d),
        6 => horizontal_n::<6>(mid, start, weights, d),
        8 => horizontal_n::<8>(mid, start, weights, d),
        t => horizontal_dyn(mid, t, start, weights, d),
    }
}

/// `d[i] = (sum(k < T) weights[i*T + k] * mid[start[i] + k] + 2^20) >> 21`.
fn horizontal_n<const T: usize>(mid: &[u16], start: &[u32], weights: &[u16], d: &mut [u8]) {
    for ((d, &x0), w) in d.iter_mut().zip(start).zip(weights.chunks_exact(T)) {
        let px: &[u16; T] = mid[x0 as usize..x0 as usize + T].try_into().unwrap();
        let w: &[u16; T] = w.try_into().unwrap();
        let mut s = 1u32 << (HSHIFT - 1);
        for k in 0..T {
            s += w[k] as u32 * px[k] as u32;
        }
        *d = (s >> HSHIFT) as u8;
    }
}

/// [`horizontal_n`] for any tap count `t`.
fn horizontal_dyn(mid: &[u16], t: usize, start: &[u32], weights: &[u16], d: &mut [u8]) {
    for ((d, &x0), w) in d.iter_mut().zip(start).zip(weights.chunks_exact(t)) {
        let px = &mid[x0 as usize..x0 as usize + t];
        let s = px
            .iter()
            .zip(w)
            .fold(1u32 << (HSHIFT - 1), |s, (&p, &w)| s + w as u32 * p as u32);
        *d = (s >> HSHIFT) as u8;
    }
}

/// A downscaler of tightly packed I420 (Y `w×h`, then U, V `(w/2)×(h/2)`), as
/// [`crate::source::RawFrame`] holds, from one fixed size to another.
pub struct Scaler {
    src: (u32, u32),
    dst: (u32, u32),
    luma: Plane,
    chroma: Plane,
    acc: Vec<u32>,
    mid: Vec<u16>,
}

impl fmt::Debug for Scaler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, d) = (self.src, self.dst);
        write!(f, "Scaler({}x{} -> {}x{})", s.0, s.1, d.0, d.1)
    }
}

impl Scaler {
    /// A scaler from `src_w×src_h` to `dst_w×dst_h`, its tables and row buffers allocated here.
    ///
    /// Errors: a zero or odd size, a destination larger than the source in either axis, a size
    /// above 8192.
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Result<Scaler, ScaleError> {
        for (what, v) in [
            ("source width", src_w),
            ("source height", src_h),
            ("destination width", dst_w),
            ("destination height", dst_h),
        ] {
            if v == 0 || v % 2 == 1 || v > MAX_DIM {
                return Err(ScaleError(format!(
                    "{what} {v} must be even and in 2..={MAX_DIM}"
                )));
            }
        }
        if dst_w > src_w || dst_h > src_h {
            return Err(ScaleError(format!(
                "{dst_w}x{dst_h} is larger than {src_w}x{src_h} in an axis (only downscaling)"
            )));
        }
        Ok(Scaler {
            src: (src_w, src_h),
            dst: (dst_w, dst_h),
            luma: Plane::new(src_w, src_h, dst_w, dst_h),
            chroma: Plane::new(src_w / 2, src_h / 2, dst_w / 2, dst_h / 2),
            acc: vec![0; src_w as usize],
            mid: vec![0; src_w as usize],
        })
    }

    /// The source size `(width, height)`.
    pub fn src_size(&self) -> (u32, u32) {
        self.src
    }

    /// The destination size `(width, height)`.
    pub fn dst_size(&self) -> (u32, u32) {
        self.dst
    }

    /// Scales one I420 picture `src` into `dst` (the first I420-length bytes of each are used).
    /// Never allocates. The same size is a plain copy.
    ///
    /// # Panics
    /// If `src` is shorter than one source I420 picture or `dst` than one destination picture
    /// (checked first, in every build, with a message saying which and by how much).
    pub fn scale(&mut self, src: &[u8], dst: &mut [u8]) {
        let (sl, dl) = (
            i420_len(self.src.0, self.src.1),
            i420_len(self.dst.0, self.dst.1),
        );
        assert!(
            src.len() >= sl,
            "Scaler::scale: source is {} bytes, an I420 {}x{} picture needs {sl}",
            src.len(),
            self.src.0,
            self.src.1
        );
        assert!(
            dst.len() >= dl,
            "Scaler::scale: destination is {} bytes, an I420 {}x{} picture needs {dl}",
            dst.len(),
            self.dst.0,
            self.dst.1
        );
        let (sy, rest) = src[..sl].split_at(self.luma.sw * self.luma.sh);
        let (su, sv) = rest.split_at(rest.len() / 2);
        let (dy, rest) = dst[..dl].split_at_mut(self.luma.dw * self.luma.dh);
        let (du, dv) = rest.split_at_mut(rest.len() / 2);
        let (acc, mid) = (&mut self.acc[..], &mut self.mid[..]);
        self.luma.scale(sy, dy, acc, mid);
        self.chroma.scale(su, du, acc, mid);
        self.chroma.scale(sv, dv, acc, mid);
    }
}

#[cfg(test)]
#[path = "scale_tests.rs"]
mod tests;
