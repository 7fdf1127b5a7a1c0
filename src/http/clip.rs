//! `GET /api/clip.mp4?from=&to=`: a recorded range as one MP4 file to download (the page's
//! clip Download), remuxed by [`crate::record::clip`].
//!
//! - `from` and `to` are required (the times [`parse_api_time`] reads); a range longer than
//!   `[record] clip_max_seconds` gets 400, one with nothing recorded 404.
//! - `200` with `Content-Type: video/mp4`, an exact `Content-Length` (the clip is remuxed
//!   once to measure it before the head is sent, then again into the socket; nothing is held
//!   in memory or written to disk) and `Content-Disposition: attachment;
//!   filename="hlscam-<UTC start>-<seconds>s.mp4"`. No byte ranges (`Accept-Ranges: none`).
//! - `HEAD` measures without sending.
//!
//! [`parse_api_time`]: crate::time::parse_api_time

use std::time::{Duration, SystemTime};

use super::recordings::{load, query_param, range};
use super::routes::{Body, Producer, Reply};
use crate::record::clip::{self, ClipError};
use crate::record::RecordAccess;
use crate::time::basic_utc;

/// The reply to `GET`/`HEAD /api/clip.mp4` (`target` with its query).
pub fn respond(target: &str, rec: &RecordAccess, now: SystemTime) -> Reply {
    if query_param(target, "from").is_none() || query_param(target, "to").is_none() {
        return Reply::text(400, "from and to are required\n").cors();
    }
    let (from, to) = match range(target, now) {
        Ok(r) => r,
        Err(msg) => return Reply::message(400, msg).cors(),
    };
    let max = rec.settings.clip_max_seconds;
    if to.duration_since(from).unwrap_or_default() > Duration::from_secs(u64::from(max)) {
        return Reply::message(
            400,
            format!("a clip is at most {max} s ([record] clip_max_seconds)\n"),
        )
        .cors();
    }
    let planned = load(rec, from, to)
        .map_err(ClipError::Io)
        .and_then(|l| clip::plan(&l, &rec.settings.dir, from, to))
        .and_then(|c| c.measure().map(|m| (c, m)));
    let (clip, measured) = match planned {
        Ok(x) => x,
        Err(ClipError::Empty) => {
            return Reply::text(404, "nothing recorded in this range\n").cors()
        }
        Err(e) => {
            log::warn!("http: clip: {e}");
            return Reply::message(500, format!("cannot export the clip: {e}\n")).cors();
        }
    };
    let name = format!(
        "hlscam-{}-{}s.mp4",
        basic_utc(clip.start_wall()),
        (measured.duration_ms + 500) / 1000
    );
    let len = measured.bytes;
    let producer = Producer(Box::new(move |w| clip.write(&measured, w)));
    Reply::new(200, Body::Stream { len, producer })
        .with("Content-Type", "video/mp4")
        .with(
            "Content-Disposition",
            &format!("attachment; filename=\"{name}\""),
        )
        .with("Cache-Control", "no-store")
        .with("Accept-Ranges", "none")
        .cors()
}
