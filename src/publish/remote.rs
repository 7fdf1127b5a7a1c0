//! The two kinds of origin behind one interface: [`HttpOrigin`] (a WebDAV directory: `PUT`
//! and `DELETE` under the target URL, optional Basic or bearer credentials) and [`S3Origin`]
//! (path-style object requests signed with SigV4). Object names are the local stream's
//! (`live.m3u8`, `seg<N>.ts`, `init<G>.mp4`), relative to the target's URL or prefix.

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use super::client::{Conn, Header, HttpError};
use super::s3::{self, Credentials, ToSign};
use crate::config::{publish::split_http_url, PublishKind, PublishTarget};

/// Why an object operation failed.
#[derive(Debug)]
pub enum RemoteError {
    /// No answer.
    Http(HttpError),
    /// An answer other than 2xx (and other than 404 for `DELETE`).
    Status(u16),
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::Http(e) => e.fmt(f),
            RemoteError::Status(s) => write!(f, "HTTP status {s}"),
        }
    }
}

/// What an object is: its `Content-Type` and `Cache-Control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectKind {
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache_control: &'static str,
}

/// `Cache-Control` of live playlists: short, so a CDN collapses requests but follows the
/// live edge.
pub const PLAYLIST_CACHE: &str = "max-age=1";
/// `Cache-Control` of media (segments, init segments): never change once written.
pub const MEDIA_CACHE: &str = "max-age=31536000, immutable";

/// One origin.
pub trait Remote: Send {
    /// Writes object `name` (replacing it).
    fn put(&mut self, name: &str, kind: ObjectKind, body: &[u8]) -> Result<(), RemoteError>;
    /// Removes object `name`; an object already gone is not an error.
    fn delete(&mut self, name: &str) -> Result<(), RemoteError>;
    /// Reads object `name` into `out`; `Ok(false)` when there is none.
    fn get(&mut self, name: &str, out: &mut Vec<u8>) -> Result<bool, RemoteError>;
    /// Bytes sent to the network so far.
    fn bytes_sent(&self) -> u64;
}

/// Builds the origin a target describes (reads its credentials now).
pub fn open(t: &PublishTarget) -> Result<Box<dyn Remote>, String> {
    let file = (!t.credentials_file.as_os_str().is_empty()).then_some(t.credentials_file.as_path());
    match t.kind {
        PublishKind::Http => Ok(Box::new(HttpOrigin::new(&t.url, file)?)),
        PublishKind::S3 => {
            let creds = Credentials::load(file)?;
            Ok(Box::new(S3Origin::new(t, creds)?))
        }
    }
}

/// How a target is named in logs and `/api/status` (no credentials).
pub fn describe(t: &PublishTarget) -> String {
    match t.kind {
        PublishKind::Http => t.url.clone(),
        PublishKind::S3 => format!("s3://{}/{} at {}", t.bucket, t.folder_prefix(), t.endpoint),
    }
}

/// A WebDAV origin directory.
pub struct HttpOrigin {
    conn: Conn,
    /// The directory's path, ending in `/`.
    base: String,
    /// `Authorization` value (never logged; `Debug` leaves it out).
    auth: Option<String>,
    path: String,
}

impl fmt::Debug for HttpOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOrigin")
            .field("conn", &self.conn)
            .field("base", &self.base)
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

/// The `Authorization` value a credentials file gives: `bearer TOKEN` → `Bearer TOKEN`,
/// `user:password` → Basic. The error never contains the file's content.
pub fn auth_header(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read credentials_file {}: {e}", file.display()))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    let lower = line.to_ascii_lowercase();
    if lower.starts_with("bearer ") {
        let token = line[7..].trim();
        if !token.is_empty() {
            return Ok(format!("Bearer {token}"));
        }
    } else if line.contains(':') {
        return Ok(format!("Basic {}", base64(line.as_bytes())));
    }
    Err(format!(
        "credentials_file {}: the first line must be user:password or bearer TOKEN",
        file.display()
    ))
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

impl HttpOrigin {
    /// The origin directory at `url` (`http://host[:port]/dir/`).
    pub fn new(url: &str, credentials: Option<&Path>) -> Result<HttpOrigin, String> {
        let (host, port, mut base) = split_http_url(url)?;
        if !base.ends_with('/') {
            base.push('/');
        }
        let auth = credentials.map(auth_header).transpose()?;
        Ok(HttpOrigin {
            conn: Conn::new(&host, port),
            base,
            auth,
            path: String::new(),
        })
    }

    fn send(
        &mut self,
        method: &str,
        name: &str,
        extra: &[Header<'_>],
        body: &[u8],
        out: Option<&mut Vec<u8>>,
    ) -> Result<u16, RemoteError> {
        self.path.clear();
        self.path.push_str(&self.base);
        self.path.push_str(name);
        let mut headers: Vec<Header<'_>> = extra.to_vec();
        if let Some(a) = &self.auth {
            headers.push(("Authorization", a.as_str()));
        }
        self.conn
            .request(method, &self.path, &headers, body, out)
            .map_err(RemoteError::Http)
    }
}

fn ok(status: u16) -> Result<(), RemoteError> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(RemoteError::Status(status))
    }
}

impl Remote for HttpOrigin {
    fn put(&mut self, name: &str, kind: ObjectKind, body: &[u8]) -> Result<(), RemoteError> {
        let h = [
            ("Content-Type", kind.content_type),
            ("Cache-Control", kind.cache_control),
        ];
        ok(self.send("PUT", name, &h, body, None)?)
    }
    fn delete(&mut self, name: &str) -> Result<(), RemoteError> {
        match self.send("DELETE", name, &[], b"", None)? {
            404 => Ok(()),
            s => ok(s),
        }
    }
    fn get(&mut self, name: &str, out: &mut Vec<u8>) -> Result<bool, RemoteError> {
        match self.send("GET", name, &[], b"", Some(out))? {
            404 => Ok(false),
            s => ok(s).map(|()| true),
        }
    }
    fn bytes_sent(&self) -> u64 {
        self.conn.bytes_sent
    }
}

/// A bucket (and prefix) of S3-compatible storage.
pub struct S3Origin {
    conn: Conn,
    /// `/bucket/prefix` (path-style), URI-encoded, ending in `/`.
    base: String,
    region: String,
    creds: Credentials,
}

impl fmt::Debug for S3Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Origin")
            .field("conn", &self.conn)
            .field("base", &self.base)
            .field("region", &self.region)
            .field("creds", &self.creds)
            .finish()
    }
}

impl S3Origin {
    /// The bucket and prefix of `t`, signed with `creds`.
    pub fn new(t: &PublishTarget, creds: Credentials) -> Result<S3Origin, String> {
        let (host, port, _) = split_http_url(&t.endpoint)?;
        Ok(S3Origin {
            conn: Conn::new(&host, port),
            base: s3::encode_path(&format!("/{}/{}", t.bucket, t.folder_prefix())),
            region: t.region_or_default().to_owned(),
            creds,
        })
    }

    fn send(
        &mut self,
        method: &str,
        name: &str,
        kind: Option<ObjectKind>,
        body: &[u8],
        out: Option<&mut Vec<u8>>,
    ) -> Result<u16, RemoteError> {
        let path = format!("{}{}", self.base, s3::encode_path(name));
        let hash = s3::sha256_hex(body);
        let date = s3::amz_date(SystemTime::now());
        let host = self.conn.host_header().to_owned();
        let mut signed: Vec<Header<'_>> = vec![
            ("host", host.as_str()),
            ("x-amz-content-sha256", hash.as_str()),
            ("x-amz-date", date.as_str()),
        ];
        if let Some(k) = kind {
            signed.push(("content-type", k.content_type));
            signed.push(("cache-control", k.cache_control));
        }
        if let Some(t) = &self.creds.token {
            signed.push(("x-amz-security-token", t.as_str()));
        }
        let auth = s3::authorization(
            &self.creds,
            &ToSign {
                method,
                path: &path,
                query: "",
                headers: &signed,
                payload_hash: &hash,
                amz_date: &date,
                region: &self.region,
                service: "s3",
            },
        );
        // `Host` is written by the connection itself.
        let mut headers: Vec<Header<'_>> = signed[1..].to_vec();
        headers.push(("Authorization", auth.as_str()));
        self.conn
            .request(method, &path, &headers, body, out)
            .map_err(RemoteError::Http)
    }
}

impl Remote for S3Origin {
    fn put(&mut self, name: &str, kind: ObjectKind, body: &[u8]) -> Result<(), RemoteError> {
        ok(self.send("PUT", name, Some(kind), body, None)?)
    }
    fn delete(&mut self, name: &str) -> Result<(), RemoteError> {
        match self.send("DELETE", name, None, b"", None)? {
            404 => Ok(()),
            s => ok(s),
        }
    }
    fn get(&mut self, name: &str, out: &mut Vec<u8>) -> Result<bool, RemoteError> {
        match self.send("GET", name, None, b"", Some(out))? {
            404 => Ok(false),
            s => ok(s).map(|()| true),
        }
    }
    fn bytes_sent(&self) -> u64 {
        self.conn.bytes_sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn credentials_files_give_basic_or_bearer() {
        let dir = std::env::temp_dir().join(format!("hlscam-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a");
        std::fs::write(&f, "# origin\nAladdin:open sesame\n").unwrap();
        assert_eq!(
            auth_header(&f).unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        std::fs::write(&f, "Bearer abc.def\n").unwrap();
        assert_eq!(auth_header(&f).unwrap(), "Bearer abc.def");
        std::fs::write(&f, "s3cr3t-no-colon\n").unwrap();
        let e = auth_header(&f).unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
        let o = HttpOrigin::new("http://127.0.0.1:9/cam", Some(&dir.join("missing")));
        assert!(o.unwrap_err().contains("cannot read credentials_file"));
        std::fs::write(&f, "u:secretpw\n").unwrap();
        let o = HttpOrigin::new("http://127.0.0.1:9/cam", Some(&f)).unwrap();
        assert_eq!(o.base, "/cam/");
        assert!(!format!("{o:?}").contains("secretpw"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
