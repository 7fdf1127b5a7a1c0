//! `[[publish]]`: the origins the live stream is pushed to (an HTTP origin taking WebDAV
//! `PUT`/`DELETE`, or S3-compatible object storage), any number of them, each one TOML table of
//! the array:
//!
//! ```toml
//! [[publish]]
//! kind = "http"                           # required: "http" | "s3"
//! url = "http://origin.example:8081/cam/"  # http: the origin directory (http:// only)
//! credentials_file = "/etc/hlscam/origin.secret"  # optional: "user:password" or "bearer TOKEN"
//!
//! [[publish]]
//! kind = "s3"
//! endpoint = "http://127.0.0.1:9000"      # s3: scheme, host and port (path-style requests)
//! bucket = "live"
//! prefix = "cam1/"                        # optional; a folder: "/" is added when missing
//! region = "us-east-1"                    # optional, default us-east-1
//! credentials_file = ""                   # optional: AWS credentials file, else the environment
//! ```
//!
//! Errors name the target by its index in the file (`publish[0].kind = "ftp" at line 3,
//! column 8: must be one of http, s3`). A key that belongs to the other kind is refused rather
//! than ignored. Only `http://` is accepted: TLS is not built in (see README "Publishing").

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Value;

use super::array::ArrayItem;

/// `kind` of a `[[publish]]` target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishKind {
    /// An HTTP origin directory taking `PUT` and `DELETE` (nginx WebDAV).
    Http,
    /// S3-compatible object storage (AWS Signature V4).
    S3,
}

impl PublishKind {
    /// The TOML name.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishKind::Http => "http",
            PublishKind::S3 => "s3",
        }
    }
    /// The kind whose TOML name is `s`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "http" => Some(PublishKind::Http),
            "s3" => Some(PublishKind::S3),
            _ => None,
        }
    }
}

/// Default `region` of an S3 target.
pub const DEFAULT_S3_REGION: &str = "us-east-1";
/// The keys of a `[[publish]]` table, in documentation order.
pub(crate) const PUBLISH_KEYS: [&str; 7] = [
    "kind",
    "url",
    "credentials_file",
    "endpoint",
    "bucket",
    "prefix",
    "region",
];

/// One `[[publish]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishTarget {
    /// Which protocol.
    pub kind: PublishKind,
    /// http: the origin directory, `http://host[:port]/path/`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Optional credentials file (http: `user:password` or `bearer TOKEN`; s3: an AWS
    /// credentials file with `aws_access_key_id` / `aws_secret_access_key`).
    #[serde(default, skip_serializing_if = "is_empty_path")]
    pub credentials_file: PathBuf,
    /// s3: `http://host[:port]` of the service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub endpoint: String,
    /// s3: the bucket.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    /// s3: key prefix (a folder; "" for the bucket's root).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// s3: the signing region ("" means [`DEFAULT_S3_REGION`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
}

fn is_empty_path(p: &Path) -> bool {
    p.as_os_str().is_empty()
}

impl PublishTarget {
    /// A target of `kind` with every other key unset.
    pub fn new(kind: PublishKind) -> Self {
        PublishTarget {
            kind,
            url: String::new(),
            credentials_file: PathBuf::new(),
            endpoint: String::new(),
            bucket: String::new(),
            prefix: String::new(),
            region: String::new(),
        }
    }

    /// The region with its default applied.
    pub fn region_or_default(&self) -> &str {
        if self.region.is_empty() {
            DEFAULT_S3_REGION
        } else {
            &self.region
        }
    }

    /// The prefix as a folder: "" or ending in `/`.
    pub fn folder_prefix(&self) -> String {
        let p = self.prefix.trim_start_matches('/');
        if p.is_empty() || p.ends_with('/') {
            p.to_owned()
        } else {
            format!("{p}/")
        }
    }
}

impl ArrayItem for PublishTarget {
    const NAME: &'static str = "publish";
    const ANCHOR: &'static str = "kind";
    const KEYS: &'static [&'static str] = &PUBLISH_KEYS;

    fn blank() -> Self {
        PublishTarget::new(PublishKind::Http)
    }

    fn required(key: &str) -> Option<&'static str> {
        (key == "kind").then_some("kind is required: \"http\" or \"s3\"")
    }

    fn written(&self, key: &str) -> bool {
        key == "kind" || self.get(key).as_str().is_some_and(|s| !s.is_empty())
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        problems(self)
    }

    fn get(&self, key: &str) -> Value {
        let s = |v: &str| Value::String(v.to_owned());
        match key {
            "kind" => s(self.kind.as_str()),
            "url" => s(&self.url),
            "credentials_file" => s(&self.credentials_file.to_string_lossy()),
            "endpoint" => s(&self.endpoint),
            "bucket" => s(&self.bucket),
            "prefix" => s(&self.prefix),
            _ => s(&self.region),
        }
    }

    fn set(&mut self, key: &str, value: &Value) -> Result<(), String> {
        let Some(text) = value.as_str() else {
            return Err(if key == "kind" {
                "must be one of http, s3".to_owned()
            } else {
                "must be a string".to_owned()
            });
        };
        match key {
            "kind" => {
                self.kind =
                    PublishKind::from_name(text).ok_or("must be one of http, s3".to_owned())?
            }
            "url" => self.url = text.to_owned(),
            "credentials_file" => self.credentials_file = text.into(),
            "endpoint" => self.endpoint = text.to_owned(),
            "bucket" => self.bucket = text.to_owned(),
            "prefix" => self.prefix = text.to_owned(),
            _ => self.region = text.to_owned(),
        }
        Ok(())
    }
}

/// `scheme://host[:port]/path` split up: `(host, port, path)` with the path starting with `/`.
/// Only `http` is accepted.
pub fn split_http_url(url: &str) -> Result<(String, u16, String), String> {
    if url.starts_with("https://") {
        return Err(
            "https:// is not supported (no TLS built in): use http://, e.g. to a \
                    TLS-terminating proxy on the board"
                .to_owned(),
        );
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "must start with http://".to_owned())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err("must not carry credentials: use credentials_file".to_owned());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("bad IPv6 address".to_owned())?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:_".contains(c))
    {
        return Err("must name a host: http://HOST[:PORT]/...".to_owned());
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or("port must be 1..=65535".to_owned())?,
    };
    if path.contains(['?', '#', ' ']) || path.contains("/../") || path.contains("/./") {
        return Err(
            "path must be a plain directory (no query, fragment, space, . or ..)".to_owned(),
        );
    }
    Ok((host.to_owned(), port, path.to_owned()))
}

/// Every rule `t` (target number `i`) breaks: `(key, message)`, in key order.
pub(crate) fn problems(t: &PublishTarget) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let other = |key: &'static str, v: &str, kind: &str, out: &mut Vec<(&'static str, String)>| {
        if !v.is_empty() {
            out.push((key, format!("only for kind = \"{kind}\"")));
        }
    };
    match t.kind {
        PublishKind::Http => {
            if t.url.is_empty() {
                out.push(("url", "is required for kind = \"http\"".to_owned()));
            } else if let Err(m) = split_http_url(&t.url) {
                out.push(("url", m));
            }
            other("endpoint", &t.endpoint, "s3", &mut out);
            other("bucket", &t.bucket, "s3", &mut out);
            other("prefix", &t.prefix, "s3", &mut out);
            other("region", &t.region, "s3", &mut out);
        }
        PublishKind::S3 => {
            other("url", &t.url, "http", &mut out);
            if t.endpoint.is_empty() {
                out.push(("endpoint", "is required for kind = \"s3\"".to_owned()));
            } else {
                match split_http_url(&t.endpoint) {
                    Err(m) => out.push(("endpoint", m)),
                    Ok((_, _, p)) if p != "/" => out.push((
                        "endpoint",
                        "must be http://HOST[:PORT] without a path (the bucket goes in bucket)"
                            .to_owned(),
                    )),
                    Ok(_) => {}
                }
            }
            let b = &t.bucket;
            if b.is_empty() {
                out.push(("bucket", "is required for kind = \"s3\"".to_owned()));
            } else if !(3..=63).contains(&b.len())
                || !b
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
                || b.starts_with(['.', '-'])
                || b.ends_with(['.', '-'])
            {
                out.push((
                    "bucket",
                    "must be 3..=63 characters of a-z, 0-9, '.' and '-' (S3 bucket naming)"
                        .to_owned(),
                ));
            }
            if !t
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
                || t.prefix.contains("//")
                || t.prefix.split('/').any(|s| s == "." || s == "..")
            {
                out.push((
                    "prefix",
                    "must be made of A-Z, a-z, 0-9, '/', '.', '_' and '-' (no empty, . or .. \
                     folders)"
                        .to_owned(),
                ));
            }
            if !t
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                out.push((
                    "region",
                    "must be a region name such as us-east-1".to_owned(),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_path() {
        assert_eq!(
            split_http_url("http://127.0.0.1:8081/live/cam/").unwrap(),
            ("127.0.0.1".into(), 8081, "/live/cam/".into())
        );
        assert_eq!(
            split_http_url("http://origin").unwrap(),
            ("origin".into(), 80, "/".into())
        );
        assert_eq!(
            split_http_url("http://[::1]:9000").unwrap(),
            ("::1".into(), 9000, "/".into())
        );
        assert!(split_http_url("https://x/").unwrap_err().contains("TLS"));
        assert!(split_http_url("ftp://x/").is_err());
        assert!(split_http_url("http://u:p@x/")
            .unwrap_err()
            .contains("credentials_file"));
        assert!(split_http_url("http://x:0/").is_err());
        assert!(split_http_url("http://x:99999/").is_err());
        assert!(split_http_url("http:///a").is_err());
        assert!(split_http_url("http://x/a/../b").is_err());
        assert!(split_http_url("http://x/a?b").is_err());
    }

    #[test]
    fn kinds_refuse_the_other_kinds_keys() {
        let mut t = PublishTarget::new(PublishKind::Http);
        t.url = "http://o/".into();
        assert!(problems(&t).is_empty());
        t.bucket = "b".into();
        assert_eq!(
            problems(&t),
            [("bucket", "only for kind = \"s3\"".to_owned())]
        );
        let mut s = PublishTarget::new(PublishKind::S3);
        assert_eq!(
            problems(&s).iter().map(|p| p.0).collect::<Vec<_>>(),
            ["endpoint", "bucket"]
        );
        s.endpoint = "http://127.0.0.1:9000".into();
        s.bucket = "live-1".into();
        assert!(problems(&s).is_empty());
        s.bucket = "Live".into();
        s.prefix = "a/../b".into();
        s.region = "US".into();
        s.url = "http://x/".into();
        assert_eq!(
            problems(&s).iter().map(|p| p.0).collect::<Vec<_>>(),
            ["url", "bucket", "prefix", "region"]
        );
        s.endpoint = "http://h:9000/path".into();
        assert!(problems(&s)[1].1.contains("without a path"));
    }

    #[test]
    fn prefix_is_a_folder_and_region_defaults() {
        let mut s = PublishTarget::new(PublishKind::S3);
        assert_eq!(s.folder_prefix(), "");
        assert_eq!(s.region_or_default(), "us-east-1");
        s.prefix = "/cams/nest".into();
        assert_eq!(s.folder_prefix(), "cams/nest/");
        s.prefix = "cams/".into();
        assert_eq!(s.folder_prefix(), "cams/");
    }
}
