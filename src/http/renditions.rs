//! Adaptive bitrate over HTTP: the master playlist `/index.m3u8`, the renditions after the
//! first under `/v/<name>/` (their playlists and media, with the same rules as the first's at
//! `/`), and `EXT-X-RENDITION-REPORT`s in low-latency playlists (RFC 8216bis §4.4.5.4).
//!
//! - `/index.m3u8` is rendered from what each rendition's mux thread has measured
//!   ([`Master`]); before every running rendition has published a segment it answers `503`
//!   with `Retry-After: 1`, and `Cache-Control: no-cache` always (a rendition may stop).
//! - A rendition the governor stopped answers `404` for its playlist: players move to another
//!   (hls.js does on a level load error) and the master no longer lists it.
//! - Every LL playlist served ends with one report per other running rendition, so a player
//!   switching renditions can ask for the right part at once. Reports give the last part
//!   published (`LAST-MSN`, `LAST-PART`); their URIs are relative to the playlist they are in.
//!
//! Names under `/v/` are the configured `[[variant]]` names (`a-z`, `0-9`, `_`, `-`) and
//! `audio`; anything else is 404 before the filesystem is touched.

use std::path::PathBuf;
use std::sync::Arc;

use super::routes::{Reply, PLAYLIST};
use crate::hls::master::{Master, MasterError, RenditionInfo};
use crate::hls::LiveShared;

/// One rendition served under `/v/<name>/`.
#[derive(Debug)]
pub struct RenditionRoute {
    /// Its name in the URL.
    pub name: String,
    /// Its segment directory.
    pub dir: PathBuf,
    /// What its mux thread publishes.
    pub live: Arc<LiveShared>,
    /// Its figures (whether it still runs).
    pub info: Arc<RenditionInfo>,
}

/// Every rendition the server knows: the master playlist's list (the first rendition, served
/// at `/`, first) and the routes of the others.
#[derive(Debug, Default)]
pub struct Renditions {
    /// The master playlist's renditions.
    pub master: Master,
    /// The renditions under `/v/`.
    pub routes: Vec<RenditionRoute>,
    /// The first rendition's published state (for its reports in the others' playlists).
    pub first_live: Option<Arc<LiveShared>>,
}

impl Renditions {
    /// The route of rendition `name`, if there is one.
    pub fn route(&self, name: &str) -> Option<&RenditionRoute> {
        self.routes.iter().find(|r| r.name == name)
    }
}

/// Splits `/v/<name>/<file>` into its name and file; `None` for any other path or a name that
/// cannot be a rendition's.
pub fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v/")?;
    let (name, file) = rest.split_once('/')?;
    let ok = !name.is_empty()
        && name.len() <= 16
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    (ok && !file.contains('/')).then_some((name, file))
}

/// `GET /index.m3u8`.
pub fn master(r: &Renditions) -> Result<Vec<u8>, Reply> {
    match r.master.render() {
        Ok(text) => Ok(text.into_bytes()),
        Err(MasterError::Waiting(name)) => Err(Reply::message(
            503,
            format!("rendition {name} has not published a segment yet\n"),
        )
        .with("Retry-After", "1")
        .cors()),
        Err(MasterError::NoRendition) => Err(Reply::text(503, "no rendition is running\n")
            .with("Retry-After", "1")
            .cors()),
    }
}

/// Appends an `EXT-X-RENDITION-REPORT` for every other running LL rendition to `text`, the
/// playlist of rendition `current` (`None`: the first, at `/`). Nothing for classic playlists
/// or ones that have ended.
pub fn append_reports(text: &mut Vec<u8>, r: &Renditions, current: Option<&str>) {
    use std::io::Write as _;
    if !text.windows(15).any(|w| w == b"#EXT-X-PART-INF") || text.ends_with(b"#EXT-X-ENDLIST\n") {
        return;
    }
    let prefix = if current.is_some() { "../../" } else { "" };
    let others = r
        .first_live
        .iter()
        .filter(|_| current.is_some())
        .map(|l| (format!("{prefix}{PLAYLIST}"), l))
        .chain(
            r.routes
                .iter()
                .filter(|x| Some(x.name.as_str()) != current && x.info.running())
                .map(|x| (format!("{prefix}v/{}/{PLAYLIST}", x.name), &x.live)),
        );
    for (uri, live) in others {
        let Some(ll) = live.lock().ll else { continue };
        let (msn, part) = if ll.open_parts > 0 {
            (ll.open_seq, ll.open_parts - 1)
        } else if ll.last_parts > 0 && ll.open_seq > 0 {
            (ll.open_seq - 1, ll.last_parts - 1)
        } else {
            continue;
        };
        let _ = writeln!(
            text,
            "#EXT-X-RENDITION-REPORT:URI=\"{uri}\",LAST-MSN={msn},LAST-PART={part}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_v() {
        assert_eq!(split_path("/v/360p/live.m3u8"), Some(("360p", "live.m3u8")));
        assert_eq!(split_path("/v/a_b-1/seg3.ts"), Some(("a_b-1", "seg3.ts")));
        for bad in [
            "/v/",
            "/v/x",
            "/v//live.m3u8",
            "/v/X/live.m3u8",
            "/v/a/b/live.m3u8",
            "/v/abcdefghijklmnopq/live.m3u8",
            "/w/a/live.m3u8",
        ] {
            assert_eq!(split_path(bad), None, "{bad}");
        }
    }
}
