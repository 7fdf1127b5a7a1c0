//! Runs the `hlscam` binary for an end-to-end test: on 127.0.0.1 port 0, its stderr echoed with
//! an `[hlscam]` prefix, the port it announces returned; killed (by its PID — only the process
//! the test started) and reaped when dropped.
//!
//! The caller passes `env!("CARGO_BIN_EXE_hlscam")`, so `scripts/cross_test.sh` still sees from
//! the test file itself that it runs the binary. Included with
//! `#[path = "support/hlscam_proc.rs"] mod hlscam_proc;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The running binary.
pub struct Hlscam(pub Child);

impl Drop for Hlscam {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin --config config --listen 127.0.0.1:0 extra…` with `env` added, and waits (up to
/// 60 s) for the port it announces.
pub fn start(bin: &str, config: &Path, extra: &[&str], env: &[(&str, &Path)]) -> (Hlscam, u16) {
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start hlscam");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("open http://127.0.0.1:").nth(1) {
                let port: u16 = rest.split('/').next().unwrap().parse().unwrap();
                let _ = tx.send(port);
            }
            eprintln!("[hlscam] {line}");
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("hlscam announced its port");
    (Hlscam(child), port)
}
