use super::*;

/// Deterministic xorshift64 for the property loops.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// An even number in `2..=max` (`max` even).
    fn even(&mut self, max: u32) -> u32 {
        2 * (1 + (self.next() % (max as u64 / 2)) as u32)
    }
}

/// One plane scaled by the exact area average in `f64` (the definition, slowly): destination
/// `(x, y)` covers `[x*sw/dw, (x+1)*sw/dw) × [y*sh/dh, (y+1)*sh/dh)` of the source.
fn reference_plane(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let cover = |i: usize, s: usize, d: usize, j: usize| {
        let (lo, hi) = (
            i as f64 * s as f64 / d as f64,
            (i + 1) as f64 * s as f64 / d as f64,
        );
        ((j + 1) as f64).min(hi) - (j as f64).max(lo)
    };
    let range = |i: usize, s: usize, d: usize| (i * s / d)..((i + 1) * s).div_ceil(d);
    let mut out = vec![0u8; dw * dh];
    for y in 0..dh {
        for x in 0..dw {
            let (mut sum, mut area) = (0.0, 0.0);
            for j in range(y, sh, dh) {
                let wy = cover(y, sh, dh, j);
                for i in range(x, sw, dw) {
                    let wx = cover(x, sw, dw, i);
                    sum += wx * wy * src[j * sw + i] as f64;
                    area += wx * wy;
                }
            }
            out[y * dw + x] = (sum / area).round() as u8;
        }
    }
    out
}

/// The whole I420 picture by [`reference_plane`].
fn reference(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let (ys, cs) = (sw * sh, (sw / 2) * (sh / 2));
    let mut out = reference_plane(&src[..ys], sw, sh, dw, dh);
    for p in [&src[ys..ys + cs], &src[ys + cs..ys + 2 * cs]] {
        out.extend(reference_plane(p, sw / 2, sh / 2, dw / 2, dh / 2));
    }
    out
}

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed);
    (0..n).map(|_| r.next() as u8).collect()
}

fn scaled(src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32) -> Vec<u8> {
    let mut s = Scaler::new(sw, sh, dw, dh).unwrap();
    let mut out = vec![0u8; i420_len(dw, dh)];
    s.scale(src, &mut out);
    out
}

fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y)).max().unwrap()
}

#[test]
fn flat_colour_stays_flat() {
    for (sw, sh, dw, dh) in [
        (1280, 720, 640, 360),
        (1280, 720, 424, 240),
        (98, 62, 14, 10),
    ] {
        let ys = (sw * sh) as usize;
        let mut src = vec![77u8; i420_len(sw, sh)];
        src[ys..ys + ys / 4].fill(200);
        src[ys + ys / 4..].fill(3);
        let out = scaled(&src, sw, sh, dw, dh);
        let yd = (dw * dh) as usize;
        assert!(out[..yd].iter().all(|&p| p == 77), "{sw}x{sh}->{dw}x{dh} Y");
        assert!(out[yd..yd + yd / 4].iter().all(|&p| p == 200), "U");
        assert!(out[yd + yd / 4..].iter().all(|&p| p == 3), "V");
    }
}

#[test]
fn gradient_mean_is_preserved() {
    let (sw, sh) = (1280u32, 720u32);
    let mut src = vec![128u8; i420_len(sw, sh)];
    for (i, p) in src[..(sw * sh) as usize].iter_mut().enumerate() {
        let (x, y) = (i % sw as usize, i / sw as usize);
        *p = (16 + (x * 200 / sw as usize + y * 19 / sh as usize)) as u8;
    }
    let mean = |p: &[u8]| p.iter().map(|&v| v as f64).sum::<f64>() / p.len() as f64;
    let m0 = mean(&src[..(sw * sh) as usize]);
    for (dw, dh) in [(640, 360), (480, 270), (424, 240), (1278, 718), (2, 2)] {
        let out = scaled(&src, sw, sh, dw, dh);
        let m1 = mean(&out[..(dw * dh) as usize]);
        assert!((m0 - m1).abs() < 0.5, "{dw}x{dh}: mean {m1} vs {m0}");
    }
}

#[test]
fn same_size_is_identity() {
    let src = noise(i420_len(320, 180), 1);
    assert_eq!(scaled(&src, 320, 180, 320, 180), src);
    // Longer buffers than needed: only the picture's bytes are read and written.
    let mut s = Scaler::new(320, 180, 320, 180).unwrap();
    let mut long = src.clone();
    long.extend([9u8; 100]);
    let mut out = vec![5u8; src.len() + 10];
    s.scale(&long, &mut out);
    assert_eq!(out[..src.len()], src[..]);
    assert!(out[src.len()..].iter().all(|&p| p == 5));
}

#[test]
fn two_to_one_is_the_rounded_block_mean() {
    let src = noise(i420_len(64, 32), 2);
    let out = scaled(&src, 64, 32, 32, 16);
    for y in 0..16 {
        for x in 0..32 {
            let at = |dx, dy| src[(2 * y + dy) * 64 + 2 * x + dx] as u16;
            let m = (at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4;
            assert_eq!(out[y * 32 + x] as u16, m, "({x},{y})");
        }
    }
    assert!(max_diff(&out, &reference(&src, 64, 32, 32, 16)) <= 1);
}

#[test]
fn matches_the_exact_area_average() {
    for (sw, sh, dw, dh) in [
        (96, 54, 32, 18),  // 3:1
        (128, 72, 48, 26), // 8:3, odd chroma height
        (128, 72, 42, 24), // 1280x720 -> 424x240 shape
        (128, 72, 46, 24), // odd chroma width (23)
        (60, 40, 58, 38),  // barely smaller
        (64, 48, 64, 24),  // one axis the same
        (40, 40, 2, 2),    // 20:1
        (200, 10, 6, 10),  // wide taps (> 6): the general horizontal loop
    ] {
        let src = noise(i420_len(sw, sh), sw as u64 * 31 + dh as u64);
        let ours = scaled(&src, sw, sh, dw, dh);
        let r = reference(&src, sw as usize, sh as usize, dw as usize, dh as usize);
        let d = max_diff(&ours, &r);
        assert!(d <= 1, "{sw}x{sh}->{dw}x{dh}: off by {d}");
    }
}

#[test]
fn bad_sizes_are_errors() {
    for (sw, sh, dw, dh) in [
        (0, 720, 640, 360),
        (1280, 0, 640, 360),
        (1280, 720, 0, 360),
        (1280, 720, 640, 0),
        (1281, 720, 640, 360),
        (1280, 721, 640, 360),
        (1280, 720, 425, 240), // odd width
        (1280, 720, 424, 239),
        (1280, 720, 1282, 720), // upscale
        (1280, 720, 640, 722),
        (8194, 720, 640, 360), // too large
        (1280, 8194, 640, 360),
    ] {
        let e = Scaler::new(sw, sh, dw, dh).unwrap_err();
        assert!(!e.to_string().is_empty(), "{sw}x{sh}->{dw}x{dh}");
    }
    let e = Scaler::new(1280, 720, 425, 240).unwrap_err();
    assert!(e.to_string().contains("425"), "{e}");
    assert!(Scaler::new(1280, 720, 424, 240).is_ok());
    assert!(Scaler::new(8192, 8192, 2, 2).is_ok());
    // 426 is even (its chroma planes are 213 wide, which I420 allows): accepted.
    assert!(Scaler::new(1280, 720, 426, 240).is_ok());
}

#[test]
fn sizes_are_reported() {
    let s = Scaler::new(1920, 1080, 640, 360).unwrap();
    assert_eq!((s.src_size(), s.dst_size()), ((1920, 1080), (640, 360)));
}

#[test]
#[should_panic(expected = "source is")]
fn short_source_panics_clearly() {
    let mut s = Scaler::new(64, 64, 32, 32).unwrap();
    s.scale(&[0u8; 100], &mut [0u8; 32 * 32 * 3 / 2]);
}

#[test]
#[should_panic(expected = "destination is")]
fn short_destination_panics_clearly() {
    let mut s = Scaler::new(64, 64, 32, 32).unwrap();
    s.scale(&[0u8; 64 * 64 * 3 / 2], &mut [0u8; 100]);
}

/// Many random size pairs: no out-of-bounds access (a panic), every weight table sums to 1.0,
/// flat pictures stay flat, and noise stays within one level of the exact area average on the
/// small ones. Exactly sized buffers, so any read or write past the picture would panic.
#[test]
fn random_sizes_stay_in_bounds() {
    let mut r = Rng(0x5ca1e);
    for n in 0..300 {
        let max = if n % 10 == 0 { 1024 } else { 160 };
        let (sw, sh) = (r.even(max), r.even(max));
        let (dw, dh) = (r.even(sw), r.even(sh));
        let mut s = Scaler::new(sw, sh, dw, dh).unwrap();
        for p in [&s.luma, &s.chroma] {
            if let Mode::Box { h, v } = &p.mode {
                for (a, n) in [(h, p.sw), (v, p.sh)] {
                    for (w, &x0) in a.weights.chunks_exact(a.taps).zip(&a.start) {
                        assert_eq!(w.iter().map(|&w| w as u32).sum::<u32>(), 1 << WBITS);
                        assert!(x0 as usize + a.taps <= n);
                    }
                }
            }
        }
        let flat = vec![(n % 256) as u8; i420_len(sw, sh)];
        let mut out = vec![0u8; i420_len(dw, dh)];
        s.scale(&flat, &mut out);
        assert!(
            out.iter().all(|&p| p == (n % 256) as u8),
            "{sw}x{sh}->{dw}x{dh}"
        );
        if sw * sh <= 160 * 160 {
            let src = noise(flat.len(), n as u64 + 1);
            s.scale(&src, &mut out);
            let d = max_diff(&out, &reference(&src, sw as _, sh as _, dw as _, dh as _));
            assert!(d <= 1, "{sw}x{sh}->{dw}x{dh}: off by {d}");
        }
    }
}

/// The SIMD loops (x86_64, aarch64) give exactly the scalar code's integers; on other targets
/// they do nothing and the scalar code every pixel.
#[test]
fn simd_matches_scalar() {
    let mut r = Rng(77);
    for _ in 0..200 {
        let sw = 1 + (r.next() % 300) as usize;
        let taps = 1 + (r.next() % 9) as usize;
        let rows = noise(sw * taps, r.next());
        // Weights summing to at most 1.0, as the filter's do.
        let w: Vec<u16> = (0..taps)
            .map(|_| (r.next() % (1 << WBITS) as u64 / taps as u64) as u16)
            .collect();
        let (mut acc, mut want, mut got) = (vec![0; sw], vec![0; sw], vec![0; sw]);
        vertical(&rows, sw, 0, &w, &mut acc, &mut want);
        let done = simd::vertical(&rows, sw, &w, &mut got);
        assert_eq!(done % 16, 0);
        vertical(&rows, sw, done, &w, &mut acc, &mut got);
        assert_eq!(got, want, "sw {sw} taps {taps} (simd did {done})");
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert_eq!(done, sw / 16 * 16);
        }

        let dw = sw.div_ceil(2);
        let (r0, r1) = (noise(2 * dw, r.next()), noise(2 * dw, r.next()));
        let (mut want, mut got) = (vec![0u8; dw], vec![0u8; dw]);
        half_row(&r0, &r1, &mut want);
        let done = simd::half_row(&r0, &r1, &mut got);
        half_row(&r0[2 * done..], &r1[2 * done..], &mut got[done..]);
        assert_eq!(got, want, "dw {dw} (simd did {done})");

        // The horizontal pass on a real table (padded to 4 or 8 taps for ratios up to ~7) over a
        // Q7 row, against the scalar loop of any tap count.
        let dw = 1 + (r.next() % sw as u64) as u32;
        let h = Axis::new(sw as u32, dw, simd::h_taps);
        let row: Vec<u16> = (0..sw)
            .map(|_| (r.next() % (255 << 7) as u64) as u16)
            .collect();
        let (mut want, mut got) = (vec![0u8; dw as usize], vec![0u8; dw as usize]);
        horizontal_dyn(&row, h.taps, &h.start, &h.weights, &mut want);
        horizontal(&row, &h, &mut got);
        assert_eq!(got, want, "{sw} -> {dw}, {} taps", h.taps);
    }
}
