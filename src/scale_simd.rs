//! The two hot loops of [`super`] in SIMD, 16 pixels at a time: SSE2 on x86_64 and NEON on
//! aarch64 (both part of those targets' baseline, so no run-time detection). Other targets
//! (armv7) do all the work in the scalar code.
//!
//! Why by hand: the release profile is `opt-level = "s"`, at which rustc turns LLVM's loop and
//! SLP vectorisers off, so the plain loops stay scalar (measured: the 1920x1080 → 640x360
//! vertical pass ran one pixel per iteration). Each function computes exactly the integers the
//! scalar code does (the same sums, the same rounding), handles whole 16-pixel blocks only and
//! returns how many pixels it did; the caller does the rest in scalar code. Every load and
//! store goes through a slice of at least the bytes it touches, taken with a bounds check.

/// Tap count the horizontal tables are padded to (zero weights) for [`horizontal`]: 4 for
/// tables of up to 4 taps, 8 for up to 8; more, and on scalar-only targets, as they are.
pub(super) fn h_taps(taps: usize) -> usize {
    match taps {
        _ if cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))) => taps,
        0..=4 => 4,
        5..=8 => 8,
        _ => taps,
    }
}

/// The vertical pass over columns `0..n` (returned, a multiple of 16): for each column `x`,
/// `mid[x] = (sum(k) w[k] * rows[k*sw + x] + 64) >> 7` (`rows` holds `w.len()` rows of `sw`).
#[cfg(target_arch = "x86_64")]
pub(super) fn vertical(rows: &[u8], sw: usize, w: &[u16], mid: &mut [u16]) -> usize {
    use std::arch::x86_64::*;
    let n = sw / 16 * 16;
    let taps = w.len();
    assert!(rows.len() >= taps * sw && mid.len() >= n && taps > 0);
    for x in (0..n).step_by(16) {
        // SAFETY: SSE2 is baseline on x86_64; every load reads 16 bytes of a row at
        // `k*sw + x` with `x + 16 <= sw` and `k < taps` (asserted above: inside `rows`), the
        // stores write 8 + 8 u16 at `mid[x..x + 16]` (`x + 16 <= n <= mid.len()`).
        unsafe {
            // Written out (no arrays or closures): at opt-level "s" those stay in memory.
            let z = _mm_setzero_si128();
            let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
            let mut k = 0;
            while k < taps {
                // Two rows a time, interleaved: pmaddwd gives a*w[k] + b*w[k+1] per pixel.
                // An odd last row pairs with itself at weight 0.
                let (k1, w1) = if k + 1 < taps {
                    (k + 1, w[k + 1])
                } else {
                    (k, 0)
                };
                let a = _mm_loadu_si128(rows[k * sw + x..][..16].as_ptr().cast());
                let b = _mm_loadu_si128(rows[k1 * sw + x..][..16].as_ptr().cast());
                let wv = _mm_set1_epi32(((w1 as i32) << 16) | w[k] as i32);
                let lo = _mm_unpacklo_epi8(a, b);
                let hi = _mm_unpackhi_epi8(a, b);
                a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi8(lo, z), wv));
                a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi8(lo, z), wv));
                a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi8(hi, z), wv));
                a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi8(hi, z), wv));
                k += 2;
            }
            let r = _mm_set1_epi32(1 << (super::VSHIFT - 1));
            let q0 = _mm_srli_epi32(_mm_add_epi32(a0, r), 7);
            let q1 = _mm_srli_epi32(_mm_add_epi32(a1, r), 7);
            let q2 = _mm_srli_epi32(_mm_add_epi32(a2, r), 7);
            let q3 = _mm_srli_epi32(_mm_add_epi32(a3, r), 7);
            // The values are at most 255 << 7 = 32640: the signed pack does not saturate.
            let out = &mut mid[x..x + 16];
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm_packs_epi32(q0, q1));
            _mm_storeu_si128(out[8..].as_mut_ptr().cast(), _mm_packs_epi32(q2, q3));
        }
    }
    n
}

/// See the x86_64 version.
#[cfg(target_arch = "aarch64")]
pub(super) fn vertical(rows: &[u8], sw: usize, w: &[u16], mid: &mut [u16]) -> usize {
    use std::arch::aarch64::*;
    let n = sw / 16 * 16;
    let taps = w.len();
    assert!(rows.len() >= taps * sw && mid.len() >= n);
    for x in (0..n).step_by(16) {
        // SAFETY: NEON is baseline on aarch64; every load reads 16 bytes of a row at
        // `k*sw + x` with `x + 16 <= sw` and `k < taps` (asserted above: inside `rows`), the
        // stores write 8 + 8 u16 at `mid[x..x + 16]` (`x + 16 <= n <= mid.len()`).
        unsafe {
            // Written out (no arrays): at opt-level "s" those stay in memory.
            let z = vdupq_n_u32(0);
            let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
            for (k, &wk) in w.iter().enumerate() {
                let p = vld1q_u8(rows[k * sw + x..][..16].as_ptr());
                let lo = vmovl_u8(vget_low_u8(p));
                let hi = vmovl_high_u8(p);
                a0 = vmlal_n_u16(a0, vget_low_u16(lo), wk);
                a1 = vmlal_high_n_u16(a1, lo, wk);
                a2 = vmlal_n_u16(a2, vget_low_u16(hi), wk);
                a3 = vmlal_high_n_u16(a3, hi, wk);
            }
            // vrshrn: (a + 64) >> 7, narrowed to u16 (at most 255 << 7).
            let out = &mut mid[x..x + 16];
            let q0 = vcombine_u16(vrshrn_n_u32::<7>(a0), vrshrn_n_u32::<7>(a1));
            let q1 = vcombine_u16(vrshrn_n_u32::<7>(a2), vrshrn_n_u32::<7>(a3));
            vst1q_u16(out.as_mut_ptr(), q0);
            vst1q_u16(out[8..].as_mut_ptr(), q1);
        }
    }
    n
}

/// No SIMD here: the scalar code does every column.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn vertical(_rows: &[u8], _sw: usize, _w: &[u16], _mid: &mut [u16]) -> usize {
    0
}

/// The 2:1 path over destination pixels `0..n` (returned, a multiple of 16): `d[x]` is the
/// rounded mean `(a + b + c + e + 2) >> 2` of the 2x2 block at `2x` of rows `r0`, `r1`.
#[cfg(target_arch = "x86_64")]
pub(super) fn half_row(r0: &[u8], r1: &[u8], d: &mut [u8]) -> usize {
    use std::arch::x86_64::*;
    let n = (d.len().min(r0.len() / 2).min(r1.len() / 2)) / 16 * 16;
    for x in (0..n).step_by(16) {
        // SAFETY: SSE2 is baseline on x86_64; the loads read 32 bytes of each row at `2x`
        // (`2x + 32 <= 2n <= len`), the store writes 16 bytes at `d[x..x + 16]` (`x + 16 <= n`).
        unsafe {
            let m = _mm_set1_epi16(0xff);
            let s = [&r0[2 * x..][..32], &r1[2 * x..][..32]];
            // Per row and 16-byte half: even + odd bytes as u16 (pairs of columns).
            let pair = |v: __m128i| _mm_add_epi16(_mm_and_si128(v, m), _mm_srli_epi16(v, 8));
            let half = |o: usize| {
                let a = _mm_loadu_si128(s[0][o..][..16].as_ptr().cast());
                let b = _mm_loadu_si128(s[1][o..][..16].as_ptr().cast());
                let sum = _mm_add_epi16(pair(a), pair(b));
                _mm_srli_epi16(_mm_add_epi16(sum, _mm_set1_epi16(2)), 2)
            };
            let out = _mm_packus_epi16(half(0), half(16));
            _mm_storeu_si128(d[x..x + 16].as_mut_ptr().cast(), out);
        }
    }
    n
}

/// See the x86_64 version.
#[cfg(target_arch = "aarch64")]
pub(super) fn half_row(r0: &[u8], r1: &[u8], d: &mut [u8]) -> usize {
    use std::arch::aarch64::*;
    let n = (d.len().min(r0.len() / 2).min(r1.len() / 2)) / 16 * 16;
    for x in (0..n).step_by(16) {
        // SAFETY: NEON is baseline on aarch64; the loads read 32 bytes of each row at `2x`
        // (`2x + 32 <= 2n <= len`), the store writes 16 bytes at `d[x..x + 16]` (`x + 16 <= n`).
        unsafe {
            let (a, b) = (&r0[2 * x..][..32], &r1[2 * x..][..32]);
            // Pairwise add long: the two columns of each block as u16, then the second row.
            let lo = vpadalq_u8(vpaddlq_u8(vld1q_u8(a.as_ptr())), vld1q_u8(b.as_ptr()));
            let hi = vpadalq_u8(
                vpaddlq_u8(vld1q_u8(a[16..].as_ptr())),
                vld1q_u8(b[16..].as_ptr()),
            );
            // vrshrn: (s + 2) >> 2, narrowed to u8.
            let out = vcombine_u8(vrshrn_n_u16::<2>(lo), vrshrn_n_u16::<2>(hi));
            vst1q_u8(d[x..x + 16].as_mut_ptr(), out);
        }
    }
    n
}

/// No SIMD here: the scalar code does every pixel.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn half_row(_r0: &[u8], _r1: &[u8], _d: &mut [u8]) -> usize {
    0
}

/// The horizontal pass over destination pixels `0..n` (returned, a multiple of 4; 0 unless
/// `taps` is 4 or 8): `d[i] = (sum(k < taps) weights[taps*i + k] * mid[start[i] + k] + 2^20)
/// >> 21`, as the scalar `horizontal_n`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(super) fn horizontal(
    mid: &[u16],
    taps: usize,
    start: &[u32],
    weights: &[u16],
    d: &mut [u8],
) -> usize {
    match taps {
        4 => blocks::<4, 16>(mid, start, weights, d, dot4x4),
        8 => blocks::<8, 32>(mid, start, weights, d, dot4x8),
        _ => 0,
    }
}

/// [`horizontal`] 4 pixels a time: `dot` gets their `T` source values each (arrays taken
/// here with bounds checks) and their `W = 4T` weights, and returns the 4 bytes.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn blocks<const T: usize, const W: usize>(
    mid: &[u16],
    start: &[u32],
    weights: &[u16],
    d: &mut [u8],
    dot: impl Fn([&[u16; T]; 4], &[u16; W]) -> u32,
) -> usize {
    let n = d.len().min(start.len()).min(weights.len() / T) / 4 * 4;
    let blocks = start[..n].chunks_exact(4).zip(weights.chunks_exact(W));
    for ((x0, w), d) in blocks.zip(d[..n].chunks_exact_mut(4)) {
        let px = |x: u32| -> &[u16; T] { mid[x as usize..][..T].try_into().unwrap() };
        let v = dot(
            [px(x0[0]), px(x0[1]), px(x0[2]), px(x0[3])],
            w.try_into().unwrap(),
        );
        d.copy_from_slice(&v.to_le_bytes());
    }
    n
}

/// Four destination pixels of 4 taps (4 source values each, their 16 weights), as 4 bytes.
#[cfg(target_arch = "x86_64")]
fn dot4x4(p: [&[u16; 4]; 4], w: &[u16; 16]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is baseline on x86_64; each 64-bit load reads the 4 u16 of an array of 4
    // (`p[j]`), each 128-bit load 8 u16 of `w` (16 long) at 0 and 8.
    unsafe {
        let ld = |p: &[u16; 4]| _mm_loadl_epi64(p.as_ptr().cast());
        let ab = _mm_unpacklo_epi64(ld(p[0]), ld(p[1]));
        let cd = _mm_unpacklo_epi64(ld(p[2]), ld(p[3]));
        // pmaddwd: [a01, a23, b01, b23] and [c01, c23, d01, d23] (pairs of taps).
        let r0 = _mm_castsi128_ps(_mm_madd_epi16(ab, _mm_loadu_si128(w.as_ptr().cast())));
        let r1 = _mm_castsi128_ps(_mm_madd_epi16(cd, _mm_loadu_si128(w[8..].as_ptr().cast())));
        // The even and the odd lanes of both, added: [a, b, c, d].
        let even = _mm_castps_si128(_mm_shuffle_ps::<0b10_00_10_00>(r0, r1));
        let odd = _mm_castps_si128(_mm_shuffle_ps::<0b11_01_11_01>(r0, r1));
        pack4(_mm_add_epi32(even, odd))
    }
}

/// The 4 sums of a pixel block rounded, shifted to 8 bits and packed into 4 bytes.
#[cfg(target_arch = "x86_64")]
fn pack4(s: std::arch::x86_64::__m128i) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is baseline on x86_64 (register operations only).
    unsafe {
        let r = _mm_set1_epi32(1 << (super::HSHIFT - 1));
        let q = _mm_srli_epi32(_mm_add_epi32(s, r), super::HSHIFT as i32);
        let b = _mm_packus_epi16(_mm_packs_epi32(q, q), _mm_setzero_si128());
        _mm_cvtsi128_si32(b) as u32
    }
}

/// Four destination pixels of 8 taps (8 source values each, their 32 weights), as 4 bytes.
#[cfg(target_arch = "x86_64")]
fn dot4x8(p: [&[u16; 8]; 4], w: &[u16; 32]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is baseline on x86_64; each load reads the 8 u16 of an array of 8 (`p[j]`)
    // or of `w[8j..8j + 8]` (`w` has 32).
    unsafe {
        let ld = |p: &[u16]| _mm_loadu_si128(p.as_ptr().cast());
        // pmaddwd: 4 partial sums per pixel (Q7 <= 32640 and weights <= 2^14 fit an i16).
        let r0 = _mm_madd_epi16(ld(p[0]), ld(&w[..8]));
        let r1 = _mm_madd_epi16(ld(p[1]), ld(&w[8..16]));
        let r2 = _mm_madd_epi16(ld(p[2]), ld(&w[16..24]));
        let r3 = _mm_madd_epi16(ld(p[3]), ld(&w[24..]));
        // Transpose-add: [sum r0, sum r1, sum r2, sum r3].
        let u01 = _mm_add_epi32(_mm_unpacklo_epi32(r0, r1), _mm_unpackhi_epi32(r0, r1));
        let u23 = _mm_add_epi32(_mm_unpacklo_epi32(r2, r3), _mm_unpackhi_epi32(r2, r3));
        pack4(_mm_add_epi32(
            _mm_unpacklo_epi64(u01, u23),
            _mm_unpackhi_epi64(u01, u23),
        ))
    }
}

/// See the x86_64 version.
#[cfg(target_arch = "aarch64")]
fn dot4x4(p: [&[u16; 4]; 4], w: &[u16; 16]) -> u32 {
    use std::arch::aarch64::*;
    // SAFETY: NEON is baseline on aarch64; each load reads the 4 u16 of an array of 4 (`p[j]`)
    // or of `w[4j..4j + 4]` (`w` has 16).
    unsafe {
        let dot = |j: usize| vmull_u16(vld1_u16(p[j].as_ptr()), vld1_u16(w[4 * j..].as_ptr()));
        pack4(vpaddq_u32(
            vpaddq_u32(dot(0), dot(1)),
            vpaddq_u32(dot(2), dot(3)),
        ))
    }
}

/// See the x86_64 version.
#[cfg(target_arch = "aarch64")]
fn dot4x8(p: [&[u16; 8]; 4], w: &[u16; 32]) -> u32 {
    use std::arch::aarch64::*;
    // SAFETY: NEON is baseline on aarch64; each load reads the 8 u16 of an array of 8 (`p[j]`)
    // or of `w[8j..8j + 8]` (`w` has 32).
    unsafe {
        let dot = |j: usize| {
            let (p, w) = (vld1q_u16(p[j].as_ptr()), vld1q_u16(w[8 * j..].as_ptr()));
            vmlal_high_u16(vmull_u16(vget_low_u16(p), vget_low_u16(w)), p, w)
        };
        // Pairwise adds: [sum 0, sum 1, sum 2, sum 3].
        pack4(vpaddq_u32(
            vpaddq_u32(dot(0), dot(1)),
            vpaddq_u32(dot(2), dot(3)),
        ))
    }
}

/// See the x86_64 version.
#[cfg(target_arch = "aarch64")]
fn pack4(s: std::arch::aarch64::uint32x4_t) -> u32 {
    use std::arch::aarch64::*;
    // SAFETY: NEON is baseline on aarch64 (register operations only).
    unsafe {
        let s = vaddq_u32(s, vdupq_n_u32(1 << (super::HSHIFT - 1)));
        let q = vmovn_u32(vshrq_n_u32::<21>(s));
        let b = vmovn_u16(vcombine_u16(q, q));
        vget_lane_u32::<0>(vreinterpret_u32_u8(b))
    }
}

/// No SIMD here: the scalar code does every pixel.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) fn horizontal(_mid: &[u16], _t: usize, _s: &[u32], _w: &[u16], _d: &mut [u8]) -> usize {
    0
}
