//! `Scaler::scale` allocates nothing: a counting global allocator watches 6 pictures through
//! each path (2:1, 3:1, 8:3, an uneven ratio, the same size) after `Scaler::new`.

use hlscam::scale::Scaler;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

fn i420_len(w: u32, h: u32) -> usize {
    hlscam::source::convert::i420_len(w as usize, h as usize)
}

#[test]
fn scaling_allocates_nothing_after_new() {
    for (sw, sh, dw, dh) in [
        (1280, 720, 640, 360),
        (1920, 1080, 640, 360),
        (1280, 720, 480, 270),
        (1280, 720, 424, 240),
        (640, 360, 640, 360),
    ] {
        // Everything built up front: the scaler, the source picture, the destination.
        let mut s = Scaler::new(sw, sh, dw, dh).unwrap();
        // One byte more, so the picture can start at offset 0 or 1 (different content each time).
        let src: Vec<u8> = (0..i420_len(sw, sh) + 1)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut dst = vec![0u8; i420_len(dw, dh)];
        let (sum, n) = counting_alloc::measure(|| {
            let mut sum = 0u64;
            for k in 0..6 {
                s.scale(&src[k % 2..], &mut dst);
                sum += dst.iter().step_by(97).map(|&p| p as u64).sum::<u64>();
            }
            sum
        });
        assert_eq!(n, 0, "{sw}x{sh} -> {dw}x{dh}: {n} allocations in scale()");
        // The work was done (the pictures are not blank).
        assert!(sum > 0, "{sw}x{sh} -> {dw}x{dh}");
    }
}
