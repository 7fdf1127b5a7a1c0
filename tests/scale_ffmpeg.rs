//! `hlscam::scale::Scaler` against an independent scaler: ffmpeg's swscale with its area filter
//! (`-vf scale=W:H:flags=area`) scales the same lavfi `testsrc2` picture, and every plane of ours
//! must be within 35 dB PSNR of its (the test also prints the figures).

use hlscam::scale::Scaler;

#[path = "support/tools.rs"]
mod tools;

fn i420_len(w: u32, h: u32) -> usize {
    hlscam::source::convert::i420_len(w as usize, h as usize)
}

/// `pic` (I420 `sw×sh`, in the file `input`) scaled to `dw×dh` by ffmpeg's area filter.
fn ffmpeg_area(input: &str, sw: u32, sh: u32, dw: u32, dh: u32) -> Vec<u8> {
    let size = format!("{sw}x{sh}");
    let vf = format!("scale={dw}:{dh}:flags=area");
    #[rustfmt::skip]
    let raw = tools::ffmpeg(&[
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", &size, "-i", input,
        "-vf", &vf, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-",
    ]);
    assert_eq!(raw.len(), i420_len(dw, dh), "ffmpeg's {dw}x{dh} output");
    raw
}

/// PSNR in dB of two planes of 8-bit samples (infinite when equal).
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let mse = se / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// The Y, U, V planes of an I420 picture.
fn planes(p: &[u8], w: u32, h: u32) -> [&[u8]; 3] {
    let (y, c) = ((w * h) as usize, ((w / 2) * (h / 2)) as usize);
    [&p[..y], &p[y..y + c], &p[y + c..y + 2 * c]]
}

fn compare(sw: u32, sh: u32, dw: u32, dh: u32) {
    let dir = tools::fresh_dir(&format!("scale-{sw}x{sh}-{dw}x{dh}"));
    let pic = tools::testsrc2_i420(sw, sh);
    let input = dir.join("in.yuv");
    std::fs::write(&input, &pic).unwrap();
    let theirs = ffmpeg_area(input.to_str().unwrap(), sw, sh, dw, dh);
    let mut ours = vec![0u8; i420_len(dw, dh)];
    Scaler::new(sw, sh, dw, dh).unwrap().scale(&pic, &mut ours);
    let _ = std::fs::remove_dir_all(&dir);
    for (name, (a, b)) in ["Y", "U", "V"].iter().zip(
        planes(&ours, dw, dh)
            .into_iter()
            .zip(planes(&theirs, dw, dh)),
    ) {
        let db = psnr(a, b);
        let most = a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y)).max().unwrap();
        eprintln!(
            "{sw}x{sh} -> {dw}x{dh} {name}: PSNR {db:.2} dB against ffmpeg flags=area \
             (inf: identical), largest difference {most}"
        );
        assert!(
            db >= 35.0,
            "{sw}x{sh} -> {dw}x{dh} {name}: PSNR {db:.2} dB < 35"
        );
    }
    // And the picture is not trivially flat (a PSNR of two blank planes would prove nothing).
    let y = planes(&ours, dw, dh)[0];
    let (lo, hi) = (y.iter().min().unwrap(), y.iter().max().unwrap());
    assert!(hi - lo > 100, "testsrc2 has contrast: {lo}..{hi}");
}

#[test]
fn half_720p_matches_ffmpeg_area() {
    compare(1280, 720, 640, 360);
}

#[test]
fn third_1080p_matches_ffmpeg_area() {
    compare(1920, 1080, 640, 360);
}

#[test]
fn eight_thirds_720p_matches_ffmpeg_area() {
    compare(1280, 720, 480, 270);
}

#[test]
fn uneven_ratios_match_ffmpeg_area() {
    compare(1280, 720, 424, 240);
    compare(1920, 1080, 1280, 720);
}
