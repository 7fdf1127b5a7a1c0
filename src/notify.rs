//! systemd readiness and watchdog notifications (`sd_notify(3)`), without a crate.
//!
//! Protocol (systemd `sd_notify(3)`, "Notes" and `systemd.exec(5)` §Environment): the service
//! manager puts the path of a `AF_UNIX`/`SOCK_DGRAM` socket in `$NOTIFY_SOCKET`; a path starting
//! with `@` names a socket in the Linux abstract namespace (the `@` stands for the leading NUL
//! byte). Each datagram carries newline-separated `KEY=VALUE` assignments. We send:
//!
//! | call                      | datagram        | meaning for `Type=notify` units                      |
//! |---------------------------|-----------------|------------------------------------------------------|
//! | [`Notifier::ready`]       | `READY=1`       | start-up finished (hlscam: first segment published)  |
//! | [`Notifier::watchdog`]    | `WATCHDOG=1`    | keep-alive for `WatchdogSec=` (only while media flows)|
//! | [`Notifier::status`]      | `STATUS=<text>` | one-line status shown by `systemctl status`          |
//! | [`Notifier::stopping`]    | `STOPPING=1`    | shutdown has begun                                   |
//!
//! `$WATCHDOG_USEC` holds the watchdog timeout in microseconds and `$WATCHDOG_PID`, when set, the
//! PID the watchdog applies to (`sd_watchdog_enabled(3)`); [`Notifier::watchdog_interval`] returns
//! half the timeout, the ping period that function's documentation recommends.
//!
//! Outside systemd (`$NOTIFY_SOCKET` unset) [`Notifier::from_env`] returns `None`, so callers
//! write `if let Some(n) = &notifier { n.ready() }` and everything is a no-op.
//!
//! Sending never allocates and never blocks: the socket is created once, non-blocking, and
//! `STATUS=` text is assembled in a stack buffer. Send errors are logged at debug level and
//! otherwise ignored — a lost notification must not take the stream down (a lost watchdog ping is
//! covered by the next one).

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Longest `STATUS=` datagram we send, in bytes; longer text is cut at a UTF-8 boundary.
pub const MAX_STATUS_DATAGRAM: usize = 256;

/// Why a notification socket could not be set up (setup-time only).
#[derive(Debug)]
pub enum NotifyError {
    /// `$NOTIFY_SOCKET` is neither an absolute path nor an `@abstract` name (e.g. `vsock:`),
    /// or is too long for a `sockaddr_un`.
    BadAddress(String),
    /// Creating the datagram socket failed.
    Socket(io::Error),
}

impl fmt::Display for NotifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyError::BadAddress(a) => write!(f, "unsupported NOTIFY_SOCKET address {a:?}"),
            NotifyError::Socket(e) => write!(f, "cannot create notify socket: {e}"),
        }
    }
}

impl std::error::Error for NotifyError {}

/// A connection to the service manager's notification socket.
///
/// Cheap to share by reference between threads (`UnixDatagram` sends are thread-safe).
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    watchdog_timeout: Option<Duration>,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID`.
    ///
    /// Returns `None` when `$NOTIFY_SOCKET` is unset or empty (not started by systemd, or not a
    /// `Type=notify` unit), and also — after a warning — when it is unusable.
    pub fn from_env() -> Option<Notifier> {
        let socket = std::env::var_os("NOTIFY_SOCKET")?;
        let usec = std::env::var_os("WATCHDOG_USEC");
        let pid = std::env::var_os("WATCHDOG_PID");
        match Notifier::from_values(&socket, usec.as_deref(), pid.as_deref(), std::process::id()) {
            Ok(n) => Some(n),
            Err(NotifyError::BadAddress(a)) if a.is_empty() => None,
            Err(e) => {
                log::warn!("systemd notifications disabled: {e}");
                None
            }
        }
    }

    /// Builds a notifier from explicit values (what [`Notifier::from_env`] reads), for tests and
    /// for callers that manage the environment themselves.
    ///
    /// `watchdog_usec` and `watchdog_pid` follow `sd_watchdog_enabled(3)`: the watchdog is
    /// enabled only when the former is a positive integer and the latter is unset or equals
    /// `my_pid`. An empty `notify_socket` gives `BadAddress("")`.
    pub fn from_values(
        notify_socket: &OsStr,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        my_pid: u32,
    ) -> Result<Notifier, NotifyError> {
        let addr = parse_address(notify_socket)?;
        let sock = UnixDatagram::unbound().map_err(NotifyError::Socket)?;
        sock.set_nonblocking(true).map_err(NotifyError::Socket)?;
        let pid_matches = match watchdog_pid.and_then(|p| p.to_str()) {
            None => watchdog_pid.is_none(),
            Some(p) => p.trim().parse::<u32>().ok() == Some(my_pid),
        };
        let watchdog_timeout = if pid_matches {
            watchdog_usec
                .and_then(|u| u.to_str())
                .and_then(parse_watchdog_usec)
        } else {
            None
        };
        Ok(Notifier {
            sock,
            addr,
            watchdog_timeout,
        })
    }

    /// Sends `READY=1`: the service finished starting (hlscam: the first segment is published).
    pub fn ready(&self) {
        self.send_quiet(b"READY=1");
    }

    /// Sends `WATCHDOG=1`. Call at least every [`Notifier::watchdog_interval`], and only while
    /// media is flowing, so a wedged pipeline gets the unit restarted.
    pub fn watchdog(&self) {
        self.send_quiet(b"WATCHDOG=1");
    }

    /// Sends `STATUS=<s>` (shown by `systemctl status`). Newlines in `s` become spaces (a newline
    /// would start a new assignment); text beyond [`MAX_STATUS_DATAGRAM`] bytes is cut.
    pub fn status(&self, s: &str) {
        let mut buf = [0u8; MAX_STATUS_DATAGRAM];
        let n = status_datagram(s, &mut buf);
        self.send_quiet(&buf[..n]);
    }

    /// Sends `STOPPING=1`: the service is shutting down.
    pub fn stopping(&self) {
        self.send_quiet(b"STOPPING=1");
    }

    /// How often to call [`Notifier::watchdog`]: half of `$WATCHDOG_USEC`, or `None` when the
    /// unit has no watchdog (or it applies to another PID).
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog_timeout.map(|t| t / 2)
    }

    /// The full watchdog timeout from `$WATCHDOG_USEC` (systemd kills the service after this long
    /// without `WATCHDOG=1`), or `None` when the watchdog is off.
    pub fn watchdog_timeout(&self) -> Option<Duration> {
        self.watchdog_timeout
    }

    /// Sends one raw datagram of newline-separated `KEY=VALUE` assignments and reports errors.
    pub fn send(&self, datagram: &[u8]) -> io::Result<()> {
        let n = self.sock.send_to_addr(datagram, &self.addr)?;
        if n == datagram.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short datagram write",
            ))
        }
    }

    fn send_quiet(&self, datagram: &[u8]) {
        if let Err(e) = self.send(datagram) {
            log::debug!("sd_notify send failed: {e}");
        }
    }
}

/// Parses `$WATCHDOG_USEC` (a positive decimal count of microseconds) into the timeout.
/// Returns `None` for zero, garbage or an empty string, as `sd_watchdog_enabled(3)` does.
pub fn parse_watchdog_usec(s: &str) -> Option<Duration> {
    match s.trim().parse::<u64>() {
        Ok(0) | Err(_) => None,
        Ok(us) => Some(Duration::from_micros(us)),
    }
}

/// Turns `$NOTIFY_SOCKET` into a socket address: an absolute path, or `@name` for the abstract
/// namespace.
fn parse_address(raw: &OsStr) -> Result<SocketAddr, NotifyError> {
    let bytes = raw.as_bytes();
    let bad = || NotifyError::BadAddress(raw.to_string_lossy().into_owned());
    match bytes.first() {
        None => Err(NotifyError::BadAddress(String::new())),
        Some(b'/') => SocketAddr::from_pathname(raw).map_err(|_| bad()),
        Some(b'@') if bytes.len() > 1 => {
            SocketAddr::from_abstract_name(&bytes[1..]).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

/// Writes `STATUS=<s>` into `buf` (newlines → spaces, cut at a char boundary); returns the length.
fn status_datagram(s: &str, buf: &mut [u8]) -> usize {
    const KEY: &[u8] = b"STATUS=";
    buf[..KEY.len()].copy_from_slice(KEY);
    let mut n = KEY.len();
    for ch in s.chars() {
        let ch = if ch == '\n' || ch == '\r' { ' ' } else { ch };
        let len = ch.len_utf8();
        if n + len > buf.len() {
            break;
        }
        ch.encode_utf8(&mut buf[n..n + len]);
        n += len;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    static SEQ: AtomicU32 = AtomicU32::new(0);

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("hlscam-notify-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Receives one datagram (bounded wait) as text.
    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0xA5u8; 1024];
        let n = sock.recv(&mut buf).expect("datagram from Notifier");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn path_socket_receives_each_message() {
        let dir = TempDir::new();
        let path = dir.0.join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_values(path.as_os_str(), None, None, 1).unwrap();
        n.ready();
        assert_eq!(recv(&server), "READY=1");
        n.watchdog();
        assert_eq!(recv(&server), "WATCHDOG=1");
        n.status("streaming 1280x720@30");
        assert_eq!(recv(&server), "STATUS=streaming 1280x720@30");
        n.stopping();
        assert_eq!(recv(&server), "STOPPING=1");
        assert_eq!(n.watchdog_interval(), None);
    }

    #[test]
    fn abstract_socket_receives_ready() {
        let name = format!(
            "hlscam-notify-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let env = format!("@{name}");
        let n = Notifier::from_values(OsStr::new(&env), None, None, 1).unwrap();
        n.ready();
        assert_eq!(recv(&server), "READY=1");
        // No file may appear for an abstract socket.
        assert!(!std::path::Path::new(&env).exists());
    }

    #[test]
    fn status_sanitises_newlines_and_truncates_on_char_boundary() {
        let dir = TempDir::new();
        let path = dir.0.join("n.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_values(path.as_os_str(), None, None, 1).unwrap();
        n.status("a\nREADY=1\r\nb");
        assert_eq!(recv(&server), "STATUS=a READY=1  b");
        // 'é' is two bytes: 7 + 2 * 200 bytes does not fit in 256, cut lands on a boundary.
        let long = "é".repeat(200);
        n.status(&long);
        let got = recv(&server);
        assert_eq!(got.len(), MAX_STATUS_DATAGRAM - 1);
        assert_eq!(got.strip_prefix("STATUS=").unwrap().chars().count(), 124);
    }

    #[test]
    fn send_to_missing_socket_is_an_error_but_helpers_do_not_panic() {
        let dir = TempDir::new();
        let path = dir.0.join("absent.sock");
        let n = Notifier::from_values(path.as_os_str(), None, None, 1).unwrap();
        assert!(n.send(b"READY=1").is_err());
        n.ready();
        n.watchdog();
    }

    #[test]
    fn watchdog_usec_parsing() {
        assert_eq!(
            parse_watchdog_usec("20000000"),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            parse_watchdog_usec(" 1500 "),
            Some(Duration::from_micros(1500))
        );
        assert_eq!(parse_watchdog_usec("0"), None);
        assert_eq!(parse_watchdog_usec(""), None);
        assert_eq!(parse_watchdog_usec("-5"), None);
        assert_eq!(parse_watchdog_usec("20s"), None);
        assert_eq!(parse_watchdog_usec("18446744073709551616"), None);
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_and_honours_pid() {
        let dir = TempDir::new();
        let p = dir.0.join("w.sock");
        let usec = OsStr::new("20000000");
        let mk = |pid: Option<&str>, me: u32| {
            Notifier::from_values(p.as_os_str(), Some(usec), pid.map(OsStr::new), me).unwrap()
        };
        let n = mk(None, 42);
        assert_eq!(n.watchdog_timeout(), Some(Duration::from_secs(20)));
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(10)));
        assert_eq!(
            mk(Some("42"), 42).watchdog_interval(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(mk(Some("43"), 42).watchdog_interval(), None);
        assert_eq!(mk(Some("x"), 42).watchdog_interval(), None);
    }

    #[test]
    fn bad_addresses_are_rejected() {
        let e = |s: &str| Notifier::from_values(OsStr::new(s), None, None, 1).unwrap_err();
        assert!(matches!(e(""), NotifyError::BadAddress(a) if a.is_empty()));
        assert!(matches!(e("relative/path"), NotifyError::BadAddress(_)));
        assert!(matches!(e("vsock:2:1234"), NotifyError::BadAddress(_)));
        assert!(matches!(e("@"), NotifyError::BadAddress(_)));
        let long = format!("/{}", "x".repeat(200));
        assert!(matches!(e(&long), NotifyError::BadAddress(_)));
    }
}
