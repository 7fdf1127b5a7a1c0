//! `POST /api/events`, `POST /api/record/start` and `POST /api/record/stop` (issue 13, event
//! recording; [`crate::record::events`] does the arming and the event log).
//!
//! Bodies are JSON read by serde_json with unknown fields refused; an empty body is `{}`.
//! - `/api/events` `{"label":"door","pre":5,"post":10}` (all optional: label "event", `pre`
//!   and `post` from `[record] pre_seconds` / `post_seconds`; `pre` at most what the live ring
//!   holds, `post` at most [`MAX_POST_SECONDS`]) → 202 `{"label","from","to"}`, the event's
//!   window in RFC 3339 UTC.
//! - `/api/record/start` `{"label":"…"}` (optional, default "manual") and `/api/record/stop`
//!   (`{}` or empty) → 200 `{"recording":bool}`: whether footage after now is being recorded.
//! - 400 with a plain-text reason for bad JSON, unknown fields, wrong types or out-of-range
//!   values; 404 when recording is off.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::routes::{Body, Reply};
use crate::config::MAX_POST_SECONDS;
use crate::record::events::check_label;
use crate::record::RecordAccess;

/// Which of the three routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `POST /api/events`
    Event,
    /// `POST /api/record/start`
    Start,
    /// `POST /api/record/stop`
    Stop,
}

impl Action {
    /// The action a path names, if any.
    pub fn from_path(path: &str) -> Option<Action> {
        match path {
            "/api/events" => Some(Action::Event),
            "/api/record/start" => Some(Action::Start),
            "/api/record/stop" => Some(Action::Stop),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    label: Option<String>,
    pre: Option<u32>,
    post: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    label: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StopBody {}

#[derive(Serialize)]
struct EventAnswer<'a> {
    label: &'a str,
    from: String,
    to: String,
}

#[derive(Serialize)]
struct RecordingAnswer {
    recording: bool,
}

fn bad(why: String) -> Reply {
    let mut text = why.into_bytes();
    text.push(b'\n');
    Reply::new(400, Body::Bytes(text))
        .with("Content-Type", "text/plain; charset=utf-8")
        .with("Cache-Control", "no-store")
}

fn json<T: Serialize>(status: u16, v: &T) -> Reply {
    match serde_json::to_vec(v) {
        Ok(b) => Reply::new(status, Body::Bytes(b))
            .with("Content-Type", "application/json")
            .with("Cache-Control", "no-store")
            .with("Access-Control-Allow-Origin", "*"),
        Err(_) => Reply::text(500, "internal error\n"),
    }
}

/// The body as `T` (an empty body, or only white space, is `{}`).
fn parse<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| bad(format!("bad JSON body: {e}")))
}

fn label(l: Option<String>, default: &str) -> Result<String, Reply> {
    let l = l.unwrap_or_else(|| default.to_owned());
    check_label(&l).map_err(bad)?;
    Ok(l)
}

/// The reply to `action` with `body` at `now` (`record`: None when recording is off).
pub fn respond(
    action: Action,
    body: &[u8],
    record: Option<&RecordAccess>,
    now: SystemTime,
) -> Reply {
    let Some(rec) = record else {
        return Reply::text(404, "recording is off ([record] mode = \"off\")\n");
    };
    let ctl = &rec.control;
    let r = match action {
        Action::Event => parse::<EventBody>(body).and_then(|b| {
            let label = label(b.label, "event")?;
            if let Some(pre) = b.pre.filter(|p| *p > ctl.pre_limit()) {
                return Err(bad(format!(
                    "pre = {pre}: must be 0..={} (the seconds the live ring holds)",
                    ctl.pre_limit()
                )));
            }
            if let Some(post) = b.post.filter(|p| *p > MAX_POST_SECONDS) {
                return Err(bad(format!(
                    "post = {post}: must be 0..={MAX_POST_SECONDS} (use /api/record/start for longer)"
                )));
            }
            let a = ctl.event(&label, b.pre, b.post, now);
            Ok(json(
                202,
                &EventAnswer {
                    label: &label,
                    from: crate::time::rfc3339(a.from),
                    to: crate::time::rfc3339(a.to),
                },
            ))
        }),
        Action::Start => parse::<StartBody>(body).and_then(|b| {
            let label = label(b.label, "manual")?;
            let recording = ctl.start(&label, now);
            Ok(json(200, &RecordingAnswer { recording }))
        }),
        Action::Stop => parse::<StopBody>(body).map(|_| {
            let recording = ctl.stop(now);
            json(200, &RecordingAnswer { recording })
        }),
    };
    r.unwrap_or_else(|e| e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RecordMode, RecordSettings};
    use crate::record::events::Control;
    use crate::record::RecordStatus;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    fn access(mode: RecordMode) -> RecordAccess {
        let settings = RecordSettings {
            mode,
            ..RecordSettings::default()
        };
        RecordAccess {
            control: Arc::new(Control::detached(&settings)),
            status: Arc::new(RecordStatus::new("/tmp".into())),
            settings,
        }
    }

    fn text(r: &Reply) -> String {
        match &r.body {
            Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Body::Static(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    #[test]
    fn bodies_are_checked_and_answers_follow_the_contract() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_601_600);
        let a = access(RecordMode::Events);
        let r = respond(
            Action::Event,
            br#"{"label":"door","pre":3,"post":7}"#,
            Some(&a),
            now,
        );
        assert_eq!(r.status, 202);
        let v: serde_json::Value = serde_json::from_str(&text(&r)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"label": "door", "from": "2026-12-06T23:59:57.000Z",
                "to": "2026-12-07T00:00:07.000Z"})
        );
        // Defaults: label "event", pre 5, post 10.
        let r = respond(Action::Event, b"", Some(&a), now);
        let v: serde_json::Value = serde_json::from_str(&text(&r)).unwrap();
        assert_eq!(v["label"], "event");
        assert_eq!(v["to"], "2026-12-07T00:00:10.000Z");
        for (body, why) in [
            (&b"{"[..], "bad JSON body"),
            (br#"{"label":"x","speed":1}"#, "unknown field `speed`"),
            (br#"{"pre":-1}"#, "bad JSON body"),
            (br#"{"pre":"5"}"#, "bad JSON body"),
            (br#"{"pre":6}"#, "pre = 6: must be 0..=5"),
            (br#"{"post":3601}"#, "must be 0..=3600"),
            (br#"{"label":""}"#, "label must be"),
            (br#"[1]"#, "bad JSON body"),
        ] {
            let r = respond(Action::Event, body, Some(&a), now);
            assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
            assert!(
                text(&r).contains(why),
                "{}: {}",
                String::from_utf8_lossy(body),
                text(&r)
            );
        }
        let r = respond(Action::Start, br#"{"label":"porch"}"#, Some(&a), now);
        assert_eq!(
            (r.status, text(&r).as_str()),
            (200, r#"{"recording":true}"#)
        );
        let r = respond(Action::Stop, b"{}", Some(&a), now + Duration::from_secs(60));
        assert_eq!(
            (r.status, text(&r).as_str()),
            (200, r#"{"recording":false}"#)
        );
        let r = respond(Action::Stop, br#"{"label":"x"}"#, Some(&a), now);
        assert_eq!(r.status, 400);
        let lines = a.control.take_lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[2].contains(r#""label":"porch""#), "{}", lines[2]);
        // Off: 404.
        assert_eq!(respond(Action::Event, b"{}", None, now).status, 404);
        // Continuous: accepted and logged, always recording.
        let c = access(RecordMode::Continuous);
        assert_eq!(respond(Action::Event, b"{}", Some(&c), now).status, 202);
        let r = respond(Action::Stop, b"", Some(&c), now);
        assert_eq!(text(&r), r#"{"recording":true}"#);
    }
}
