//! AWS Signature Version 4 for S3-compatible storage (AWS S3, Cloudflare R2, MinIO, Ceph RGW),
//! hand-written on the RustCrypto `hmac` and `sha2` crates, checked against the examples of the
//! AWS documentation (the SigV4 test suite's `get-vanilla`, the S3 "GET Object" and "PUT
//! Object" examples, and the signing-key derivation example) in the unit tests below.
//!
//! Why not a signing crate: the official `aws-sigv4` pulls in the smithy runtime and the
//! `http` types (several hundred KB on the board for four HMACs); the small ones are either
//! unmaintained or tied to an async client. The algorithm is short and fully pinned by the
//! AWS vectors.
//!
//! Requests are path-style (`http://endpoint/bucket/key`), signed with the `Authorization`
//! header and a signed payload hash (`x-amz-content-sha256`), so the object's bytes are covered
//! by the signature.

use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Access key, secret and optional session token. `Debug` shows the access key only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `aws_access_key_id`.
    pub access_key: String,
    /// `aws_secret_access_key` (never logged).
    pub secret: String,
    /// `aws_session_token` (temporary credentials), sent as `x-amz-security-token`.
    pub token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// From an AWS credentials file (`aws_access_key_id = …`, `aws_secret_access_key = …`,
    /// optional `aws_session_token`; `[section]` lines and `#` comments are ignored), or, with no
    /// file, from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`. The
    /// error never contains the secret.
    pub fn load(file: Option<&Path>) -> Result<Credentials, String> {
        let (mut ak, mut sk, mut tok) = (None, None, None);
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                for line in text.lines() {
                    let Some((k, v)) = line.split_once('=') else {
                        continue;
                    };
                    let v = v.trim().to_owned();
                    match k.trim() {
                        "aws_access_key_id" => ak = Some(v),
                        "aws_secret_access_key" => sk = Some(v),
                        "aws_session_token" => tok = Some(v),
                        _ => {}
                    }
                }
                if ak.is_none() || sk.is_none() {
                    return Err(format!(
                        "{} must have aws_access_key_id = … and aws_secret_access_key = … lines",
                        path.display()
                    ));
                }
            }
            None => {
                let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
                ak = var("AWS_ACCESS_KEY_ID");
                sk = var("AWS_SECRET_ACCESS_KEY");
                tok = var("AWS_SESSION_TOKEN");
                if ak.is_none() || sk.is_none() {
                    return Err(
                        "no credentials: set credentials_file, or AWS_ACCESS_KEY_ID and \
                                AWS_SECRET_ACCESS_KEY in the environment"
                            .to_owned(),
                    );
                }
            }
        }
        Ok(Credentials {
            access_key: ak.unwrap_or_default(),
            secret: sk.unwrap_or_default(),
            token: tok,
        })
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Hex SHA-256 of `data` (the `x-amz-content-sha256` of a payload).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The SigV4 signing key for `date` (`YYYYMMDD`), `region` and `service`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// `YYYYMMDDTHHMMSSZ` (the `x-amz-date` form) of `t`.
pub fn amz_date(t: SystemTime) -> String {
    crate::time::basic_utc(t)
}

/// URI-encodes a path (RFC 3986 unreserved characters and `/` kept), as S3 canonicalises it.
pub fn encode_path(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

/// One request to sign.
#[derive(Debug)]
pub struct ToSign<'a> {
    /// `GET`, `PUT`, `DELETE`, …
    pub method: &'a str,
    /// The URI-encoded path ([`encode_path`]).
    pub path: &'a str,
    /// The canonical query string ("" for none).
    pub query: &'a str,
    /// Every header to sign (names in any case; `host` and `x-amz-date` among them).
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the payload (or `UNSIGNED-PAYLOAD`).
    pub payload_hash: &'a str,
    /// `x-amz-date` value.
    pub amz_date: &'a str,
    /// Signing region.
    pub region: &'a str,
    /// Service name (`s3`).
    pub service: &'a str,
}

/// The canonical request of `r` (SigV4 task 1) and its signed-header list.
pub fn canonical_request(r: &ToSign<'_>) -> (String, String) {
    let mut hs: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), v)
        })
        .collect();
    hs.sort();
    let mut canon = format!("{}\n{}\n{}\n", r.method, r.path, r.query);
    for (k, v) in &hs {
        let _ = writeln!(canon, "{k}:{v}");
    }
    let signed: Vec<&str> = hs.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let _ = write!(canon, "\n{signed}\n{}", r.payload_hash);
    (canon, signed)
}

/// The `Authorization` header value for `r` signed with `c`.
pub fn authorization(c: &Credentials, r: &ToSign<'_>) -> String {
    let (canon, signed) = canonical_request(r);
    let date = &r.amz_date[..8.min(r.amz_date.len())];
    let scope = format!("{date}/{}/{}/aws4_request", r.region, r.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        r.amz_date,
        sha256_hex(canon.as_bytes())
    );
    let key = signing_key(&c.secret, date, r.region, r.service);
    let sig = hex(&hmac(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}",
        c.access_key
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn creds(ak: &str, sk: &str) -> Credentials {
        Credentials {
            access_key: ak.into(),
            secret: sk.into(),
            token: None,
        }
    }

    #[test]
    fn signing_key_of_the_aws_documentation() {
        // "Examples of how to derive a signing key for Signature Version 4".
        let k = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex(&k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn sigv4_test_suite_get_vanilla() {
        let r = ToSign {
            method: "GET",
            path: "/",
            query: "",
            headers: &[
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", "20150830T123600Z"),
            ],
            payload_hash: EMPTY_SHA,
            amz_date: "20150830T123600Z",
            region: "us-east-1",
            service: "service",
        };
        let (canon, signed) = canonical_request(&r);
        assert_eq!(
            canon,
            format!(
                "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
                 host;x-amz-date\n{EMPTY_SHA}"
            )
        );
        assert_eq!(signed, "host;x-amz-date");
        let c = creds("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(
            authorization(&c, &r),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn s3_documentation_get_object() {
        // S3 API reference, "Signature Calculations for the Authorization Header": GET Object.
        let r = ToSign {
            method: "GET",
            path: "/test.txt",
            query: "",
            headers: &[
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA),
                ("x-amz-date", "20130524T000000Z"),
            ],
            payload_hash: EMPTY_SHA,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
            service: "s3",
        };
        let c = documentation_keys();
        assert!(authorization(&c, &r).ends_with(
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ));
    }

    /// The key pair of the S3 API reference's signing examples.
    fn documentation_keys() -> Credentials {
        creds(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
    }

    #[test]
    fn s3_documentation_put_object() {
        // The same page: PUT Object "Welcome to Amazon S3." to /test$file.text.
        let body = b"Welcome to Amazon S3.";
        let hash = sha256_hex(body);
        assert_eq!(
            hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let path = encode_path("/test$file.text");
        assert_eq!(path, "/test%24file.text");
        let r = ToSign {
            method: "PUT",
            path: &path,
            query: "",
            headers: &[
                ("Host", "examplebucket.s3.amazonaws.com"),
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-content-sha256", hash.as_str()),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payload_hash: &hash,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
            service: "s3",
        };
        let c = documentation_keys();
        assert!(authorization(&c, &r).ends_with(
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        ));
    }

    #[test]
    fn amz_dates_and_credentials_files() {
        let t = UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 2013-05-24T00:00:00Z
        assert_eq!(amz_date(t), "20130524T000000Z");
        assert_eq!(amz_date(t + Duration::from_secs(3723)), "20130524T010203Z");
        let dir = std::env::temp_dir().join(format!("hlscam-creds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c");
        std::fs::write(
            &f,
            "[default]\naws_access_key_id = AK\n# note\naws_secret_access_key=SECRET/x\n",
        )
        .unwrap();
        let c = Credentials::load(Some(&f)).unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.secret.as_str()),
            ("AK", "SECRET/x")
        );
        assert!(!format!("{c:?}").contains("SECRET"));
        std::fs::write(&f, "aws_access_key_id = AK\n").unwrap();
        let e = Credentials::load(Some(&f)).unwrap_err();
        assert!(e.contains("aws_secret_access_key"), "{e}");
        assert!(Credentials::load(Some(&dir.join("missing")))
            .unwrap_err()
            .contains("cannot read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
