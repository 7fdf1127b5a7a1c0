//! The `rpicam-vid` stand-in of the tests (`tests/support/fake-rpicam-vid`): per-test wrapper
//! scripts and the picture it draws.
//!
//! Included with `#[path = "support/rpicam_fake.rs"] mod rpicam_fake;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The stand-in script.
pub fn fake() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-rpicam-vid")
}

/// A wrapper script in `dir` that runs the stand-in with `env` set (per-test settings without
/// touching this process's environment, which tests share).
///
/// The executable is written by a child process (`install`), never by this one: a test thread
/// forking while this process held it open for writing would leave it "Text file busy"
/// (ETXTBSY) when a parallel test starts it (seen about once in 8 runs of `--test rpicam`).
pub fn wrapper(dir: &Path, name: &str, env: &[(&str, String)]) -> PathBuf {
    let mut text = String::from("#!/bin/sh\n");
    for (k, v) in env {
        text.push_str(&format!("export {k}='{v}'\n"));
    }
    text.push_str(&format!("exec '{}' \"$@\"\n", fake().display()));
    let p = dir.join(name);
    let text_file = dir.join(format!("{name}.text"));
    std::fs::write(&text_file, text).unwrap();
    let installed = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(&text_file)
        .arg(&p)
        .status()
        .unwrap();
    assert!(installed.success(), "install {}", p.display());
    p
}

/// The stand-in's picture for frame `f` of run `r`, tightly packed I420.
pub fn pattern(w: usize, h: usize, f: usize, r: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(w * h * 3 / 2);
    for y in 0..h {
        v.extend((0..w).map(|x| ((3 * x + 5 * y + 7 * f + 11 * r) & 255) as u8));
    }
    for y in 0..h / 2 {
        v.extend((0..w / 2).map(|x| ((x + 2 * y + f) & 255) as u8));
    }
    for y in 0..h / 2 {
        v.extend((0..w / 2).map(|x| ((2 * x + y + 3 * f + r) & 255) as u8));
    }
    v
}
