//! systemd notification protocol end to end: the real `hlscam` binary started the way
//! `Type=notify` + `WatchdogSec=` start it (`$NOTIFY_SOCKET`, `$WATCHDOG_USEC`), with this test
//! playing the service manager on a real `AF_UNIX` datagram socket. Checks that `READY=1` comes
//! once and only after the first segment is on disk, that `WATCHDOG=1` pings arrive while media
//! flows, and that `STOPPING=1` is the last message.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        // Only the process this test started, by its PID.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hlscam-notify-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_config(dir: &Path, out: &Path) -> PathBuf {
    let cfg = dir.join("hlscam.toml");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"testsrc\"\nwidth = 320\nheight = 240\nfps = 30\n\
             encoder = \"openh264\"\nbitrate_kbps = 300\n\
             [audio]\nsource = \"tone\"\n\
             [hls]\ndir = {:?}\nsegment_seconds = 1\nwindow = 6\ncontainer = \"ts\"\n",
            out.to_str().unwrap()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn ready_after_first_segment_watchdog_while_flowing_then_stopping() {
    let dir = tempdir("e2e");
    let out = dir.join("out");
    let cfg = write_config(&dir, &out);
    let sock_path = dir.join("notify.sock");
    let manager = UnixDatagram::bind(&sock_path).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();

    // 2 s watchdog: hlscam must ping well within it while frames flow.
    let mut child = Proc(
        Command::new(env!("CARGO_BIN_EXE_hlscam"))
            .arg("--config")
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0", "--duration", "4"])
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", "2000000")
            .env_remove("WATCHDOG_PID")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hlscam"),
    );

    let mut messages: Vec<String> = Vec::new();
    let mut seg0_present_at_ready = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut buf = [0xA5u8; 4096];
    let status = loop {
        match manager.recv(&mut buf) {
            Ok(n) => {
                let m = String::from_utf8(buf[..n].to_vec()).expect("UTF-8 datagram");
                if m == "READY=1" && seg0_present_at_ready.is_none() {
                    seg0_present_at_ready = Some(out.join("seg0.ts").is_file());
                }
                messages.push(m);
            }
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "recv: {e}"
            ),
        }
        if let Some(st) = child.0.try_wait().unwrap() {
            // Drain what was sent just before exit.
            while let Ok(n) = manager.recv(&mut buf) {
                messages.push(String::from_utf8(buf[..n].to_vec()).unwrap());
            }
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "hlscam did not finish: {messages:?}"
        );
    };

    assert!(
        status.success(),
        "hlscam exit {status:?}; messages {messages:?}"
    );
    let count = |m: &str| messages.iter().filter(|x| x.as_str() == m).count();
    assert_eq!(count("READY=1"), 1, "{messages:?}");
    assert_eq!(
        seg0_present_at_ready,
        Some(true),
        "READY=1 must follow the first published segment"
    );
    let ready_at = messages.iter().position(|m| m == "READY=1").unwrap();
    assert!(
        messages[ready_at..].iter().any(|m| m == "WATCHDOG=1"),
        "no WATCHDOG=1 while streaming: {messages:?}"
    );
    assert_eq!(messages.last().map(String::as_str), Some("STOPPING=1"));
    assert_eq!(count("STOPPING=1"), 1, "{messages:?}");
    // Every datagram is one of the assignments the protocol defines.
    for m in &messages {
        assert!(
            ["READY=1", "WATCHDOG=1", "STOPPING=1"].contains(&m.as_str())
                || m.starts_with("STATUS="),
            "unexpected datagram {m:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
