//! Runs Debian's nginx as a test origin: `nginx -p PREFIX -c PREFIX/nginx.conf` in the
//! foreground (`daemon off`), config from `tests/publish/nginx.conf` with the prefix and a free
//! 127.0.0.1 port filled in, WebDAV writes behind Basic auth (`cam:{PLAIN}s3cret`). Stopped
//! with SIGQUIT/SIGTERM to the master's PID (only the process the test started) and reaped.
//!
//! Included with `#[path = "support/nginx.rs"] mod nginx;`.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user and password the origin accepts for writes.
pub const USER: &str = "cam";
/// See [`USER`].
pub const PASSWORD: &str = "s3cret";

/// A free port on 127.0.0.1 (bound and released; nginx binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One nginx, stopped when dropped.
pub struct Nginx {
    pub prefix: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Nginx {
    /// Lays out `prefix` (config, document root `www/`, temp dirs, password file) and starts.
    pub fn start(prefix: &Path) -> Nginx {
        let port = free_port();
        let conf = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/publish/nginx.conf"),
        )
        .unwrap()
        .replace("@PREFIX@", &prefix.display().to_string())
        .replace("@PORT@", &port.to_string());
        for d in ["www", "tmp", "logs"] {
            std::fs::create_dir_all(prefix.join(d)).unwrap();
        }
        std::fs::write(prefix.join("nginx.conf"), conf).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/publish/cors.conf"),
            prefix.join("cors.conf"),
        )
        .unwrap();
        std::fs::write(
            prefix.join("htpasswd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}\n"),
        )
        .unwrap();
        let mut n = Nginx {
            prefix: prefix.to_owned(),
            port,
            child: None,
        };
        n.restart();
        n
    }

    /// Starts nginx again on the same port and prefix (after [`Nginx::stop`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is installed (make test-deps installs Debian's nginx)");
        let child = Command::new(bin)
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(self.prefix.join("nginx.conf"))
            .arg("-e")
            .arg(self.prefix.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let log =
                    std::fs::read_to_string(self.prefix.join("error.log")).unwrap_or_default();
                panic!("nginx exited ({st}):\n{log}");
            }
            assert!(Instant::now() < until, "nginx did not listen in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops nginx (SIGTERM to its master, then waits; workers go with it).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
            unsafe {
                libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
            }
            let until = Instant::now() + Duration::from_secs(10);
            loop {
                if c.try_wait().unwrap().is_some() {
                    break;
                }
                if Instant::now() > until {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // The port is closed once the master is gone.
            let until = Instant::now() + Duration::from_secs(5);
            while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
