//! Publishing to S3-compatible storage: moto's S3 server (an emulator from PyPI, installed by
//! `make test` into target/pydeps-s3) on 127.0.0.1 with IAM authentication on
//! (`INITIAL_NO_AUTH_ACTION_COUNT`: only the setup's first actions go unchecked), the real
//! binary paced to real time with a `[[publish]] kind = "s3"` target. Checked through the S3 API
//! by tests/publish/s3_check.py (boto3): the playlist and every object it names, their
//! `Content-Type` and `Cache-Control`, segments equal to the local ones, deletes of retired
//! segments, and that a wrong secret and an unsigned request are refused.

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/tools.rs"]
mod tools;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's server, stopped (by its PID) when dropped.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pydeps() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pydeps-s3")
}

fn check(args: &[&str]) -> String {
    tools::python("tests/publish/s3_check.py", "target/pydeps-s3", args, &[])
}

#[test]
fn s3_objects_types_and_deletes() {
    let t0 = Instant::now();
    let work = tools::fresh_dir("publish-s3");
    let out = tools::fresh_tmpfs_dir("publish-s3-out");
    let port = nginx::free_port();
    let moto = Moto(
        Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("PYTHONPATH", pydeps())
            // IAM authentication on after the 4 setup actions (user, key, policy, bucket).
            .env("INITIAL_NO_AUTH_ACTION_COUNT", "4")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server"),
    );
    let until = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "moto's server did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let creds = work.join("aws.credentials");
    let creds_s = creds.display().to_string();
    check(&["setup", &endpoint, &creds_s, "live"]);

    let cfg = work.join("hlscam.toml");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"testsrc\"\nwidth = 320\nheight = 240\nfps = 30\nbitrate_kbps = 400\n\
             [audio]\nsource = \"tone\"\n\
             [hls]\ndir = \"{}\"\nsegment_seconds = 1\nwindow = 6\nlow_latency = false\n\
             [[publish]]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nbucket = \"live\"\n\
             prefix = \"cams/nest\"\nregion = \"us-east-1\"\ncredentials_file = \"{creds_s}\"\n",
            out.display()
        ),
    )
    .unwrap();
    let (mut proc, hport) = hlscam_proc::start(
        env!("CARGO_BIN_EXE_hlscam"),
        &cfg,
        &["--duration", "18"],
        &[],
    );
    // The run ends by itself after 18 s of media (bounded wait).
    let until = Instant::now() + Duration::from_secs(60);
    let mut last_status = String::new();
    loop {
        if let Some(st) = proc.0.try_wait().unwrap() {
            assert!(st.success(), "hlscam exited with {st}");
            break;
        }
        let mut c = hlscam::publish::client::Conn::new("127.0.0.1", hport);
        let mut body = Vec::new();
        if let Ok(200) = c.request("GET", "/api/status", &[], b"", Some(&mut body)) {
            last_status = String::from_utf8_lossy(&body).into_owned();
        }
        assert!(Instant::now() < until, "hlscam did not finish");
        std::thread::sleep(Duration::from_millis(500));
    }
    let st: serde_json::Value = serde_json::from_str(&last_status).unwrap();
    let p = &st["publish"][0];
    eprintln!("publish status: {p}");
    assert_eq!(p["kind"], "s3");
    assert!(p["uploaded"].as_u64().unwrap() >= 20, "{p}");
    assert_eq!(p["failed"].as_u64(), Some(0), "{p}");
    assert!(p["deleted"].as_u64().unwrap() >= 2, "{p}");
    assert!(!p["target"].as_str().unwrap().contains("aws_secret"));
    let text = check(&[
        "verify",
        &endpoint,
        &creds_s,
        "live",
        "cams/nest/",
        &out.display().to_string(),
    ]);
    assert!(text.contains("\"errors\": []"), "{text}");
    drop(moto);
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("s3_objects_types_and_deletes: {:?}", t0.elapsed());
}
