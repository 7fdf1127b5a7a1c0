//! What the origin holds, as the upload thread knows it: the segments the origin has
//! acknowledged (its playlist window), the retired ones waiting for their deletion, and the
//! playlist rendered from them with [`crate::hls::playlist::render`].
//!
//! Rules (RFC 8216 §6.2.1–6.2.2; DESIGN §2 items 12–13):
//! - Only acknowledged segments are listed, so the origin's playlist never names a missing
//!   object; in fMP4 a segment is only acknowledged after its `init<G>.mp4` is.
//! - The origin numbers its own segments: `EXT-X-MEDIA-SEQUENCE` counts the origin's list, so
//!   the implicit sequence numbers stay consecutive even where segments were skipped (the URI is
//!   still the local name `seg<N>`); a skipped run of segments, or a new process, is marked
//!   `EXT-X-DISCONTINUITY`, and `EXT-X-DISCONTINUITY-SEQUENCE` counts the discontinuities
//!   removed from the list.
//! - The list keeps `window` segments (the local window): a segment leaving it is deleted once
//!   its duration plus the playlist's duration have passed (§6.2.2).
//! - A new process continues the numbers of the playlist the origin already has
//!   ([`Origin::resync`]) and deletes the objects that playlist named once their retention is
//!   over, so the origin's numbering never goes back.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::hls::playlist::{render, PlaylistBuf, PlaylistHeader};
use crate::hls::ring::SegmentEntry;
use crate::hls::Container;
use crate::time::Pts90k;

/// Longest list of pending deletions; beyond it the oldest is forgotten (and logged).
pub const MAX_PENDING_DELETES: usize = 512;

/// A deletion waiting for its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// When it may go.
    pub due: Instant,
    /// The object.
    pub name: String,
    /// The local sequence number, for objects of this run.
    pub seq: Option<u64>,
}

/// The origin's playlist state.
#[derive(Debug)]
pub struct Origin {
    target_secs: u32,
    window: usize,
    container: Container,
    entries: VecDeque<SegmentEntry>,
    /// `EXT-X-MEDIA-SEQUENCE` of `entries[0]` (of the next entry while empty).
    first_num: u64,
    disc_seq: u64,
    last_seq: Option<u64>,
    /// The next entry begins a discontinuity (first after a resync).
    mark_next: bool,
    /// The lowest local sequence number this run uploaded.
    run_first: Option<u64>,
    retired: VecDeque<Retired>,
    /// The init segment generation the origin has (fMP4).
    pub init_acked: Option<u32>,
    /// Deletions forgotten because too many were pending.
    pub forgotten: u64,
}

impl Origin {
    /// An empty origin for a stream of `target_secs` targets and a `window` of segments.
    pub fn new(target_secs: u32, window: usize, container: Container) -> Origin {
        Origin {
            target_secs,
            window,
            container,
            entries: VecDeque::with_capacity(window + 1),
            first_num: 0,
            disc_seq: 0,
            last_seq: None,
            mark_next: false,
            run_first: None,
            retired: VecDeque::new(),
            init_acked: None,
            forgotten: 0,
        }
    }

    /// Continues after the playlist `text` the origin already has (an earlier process's):
    /// numbers above it, a discontinuity first, and its segments deleted after retention.
    pub fn resync(&mut self, text: &str, now: Instant) {
        let mut media_seq = 0u64;
        let mut disc = 0u64;
        let (mut count, mut tags, mut total) = (0u64, 0u64, 0f64);
        let mut names = Vec::new();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                media_seq = v.trim().parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
                disc = v.trim().parse().unwrap_or(0);
            } else if line == "#EXT-X-DISCONTINUITY" {
                tags += 1;
            } else if let Some(v) = line.strip_prefix("#EXTINF:") {
                total += v
                    .split(',')
                    .next()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0.0);
            } else if !line.starts_with('#') && !line.is_empty() {
                count += 1;
                if !line.contains(['/', ':']) {
                    names.push(line.to_owned());
                }
            }
        }
        self.first_num = self.first_num.max(media_seq + count);
        self.disc_seq = self.disc_seq.max(disc + tags);
        self.mark_next = true;
        // Each may still be fetched for its duration plus the playlist's: at most
        // 2 × the playlist's duration plus one target.
        let keep = Duration::from_secs_f64(2.0 * total + f64::from(self.target_secs));
        for name in names {
            self.push_retired(Retired {
                due: now + keep,
                name,
                seq: None,
            });
        }
    }

    /// A segment the origin acknowledged. Returns whether it starts a discontinuity there.
    pub fn append(&mut self, mut e: SegmentEntry, now: Instant) -> bool {
        let gap = self.last_seq.is_some_and(|l| e.seq != l + 1);
        e.discontinuity |= gap || std::mem::take(&mut self.mark_next);
        if self.entries.is_empty() && self.last_seq.is_none() && self.first_num < e.seq {
            // The first segment of a fresh origin takes the local number.
            self.first_num = e.seq;
        }
        self.run_first = Some(self.run_first.map_or(e.seq, |f| f.min(e.seq)));
        self.entries.push_back(e);
        self.last_seq = Some(e.seq);
        while self.entries.len() > self.window {
            // The longest playlist that held `old`: the one before `e` was added.
            let listed = self
                .entries
                .iter()
                .fold(Pts90k(0), |a, x| a + x.duration)
                .saturating_sub(e.duration);
            let old = self.entries.pop_front().expect("longer than the window");
            self.first_num += 1;
            if old.discontinuity {
                self.disc_seq += 1;
            }
            let keep = (old.duration + listed).to_duration();
            self.push_retired(Retired {
                due: now + keep,
                name: self.segment_name(old.seq),
                seq: Some(old.seq),
            });
        }
        e.discontinuity
    }

    fn push_retired(&mut self, r: Retired) {
        if self.retired.len() >= MAX_PENDING_DELETES {
            self.retired.pop_front();
            self.forgotten += 1;
        }
        self.retired.push_back(r);
    }

    /// `seg<N>.<ext>`.
    pub fn segment_name(&self, seq: u64) -> String {
        format!("seg{seq}.{}", self.container.ext())
    }

    /// The next deletion that is due at `now`, if any (taken off the list; put it back with
    /// [`Origin::retry_delete`] when it fails). An object of an earlier run that this run
    /// has since written again is not deleted.
    pub fn due(&mut self, now: Instant) -> Option<Retired> {
        loop {
            let r = self.retired.front()?;
            if r.due > now {
                return None;
            }
            let r = self.retired.pop_front()?;
            if r.seq.is_none() && self.written_by_this_run(&r.name) {
                continue;
            }
            return Some(r);
        }
    }

    fn written_by_this_run(&self, name: &str) -> bool {
        let seq = name
            .strip_prefix("seg")
            .and_then(|r| r.split('.').next())
            .and_then(|n| n.parse::<u64>().ok());
        match (seq, self.run_first, self.last_seq) {
            (Some(s), Some(a), Some(b)) => (a..=b).contains(&s),
            _ => false,
        }
    }

    /// A deletion that failed: tried again a little later.
    pub fn retry_delete(&mut self, mut r: Retired, after: Duration) {
        r.due += after;
        self.push_retired(r);
    }

    /// When the next deletion is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.retired.front().map(|r| r.due)
    }

    /// Pending deletions.
    pub fn pending_deletes(&self) -> usize {
        self.retired.len()
    }

    /// Whether no segment is listed yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last segment listed.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// The playlist, into `buf` (cleared here).
    pub fn render(&self, buf: &mut PlaylistBuf, endlist: bool) {
        buf.clear();
        let h = PlaylistHeader {
            target_secs: self.target_secs,
            media_seq: self.first_num,
            disc_seq: self.disc_seq,
            endlist,
            container: self.container,
        };
        // Cannot fail: the buffer holds MAX_WINDOW segments at their longest.
        let _ = render(buf, &h, self.entries.iter());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn entry(seq: u64) -> SegmentEntry {
        SegmentEntry {
            seq,
            duration: Pts90k::from_millis(1000),
            pdt: UNIX_EPOCH + Duration::from_secs(1_767_225_600 + seq),
            discontinuity: false,
            map: 0,
        }
    }

    fn lines(o: &Origin) -> Vec<String> {
        let mut b = PlaylistBuf::new();
        o.render(&mut b, false);
        b.lines()
            .filter(|l| !l.starts_with("#EXT-X-PROGRAM") && !l.starts_with("#EXTINF"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn window_numbers_gaps_and_retention() {
        let t0 = Instant::now();
        let mut o = Origin::new(1, 6, Container::Ts);
        for s in 10..16 {
            assert!(!o.append(entry(s), t0));
        }
        assert!(o.due(t0 + Duration::from_secs(100)).is_none());
        // 16 and 17 were skipped: 18 is a discontinuity, numbered 16 on the origin.
        assert!(o.append(entry(18), t0));
        assert!(!o.append(entry(19), t0));
        let l = lines(&o);
        assert_eq!(l[3], "#EXT-X-MEDIA-SEQUENCE:12");
        assert_eq!(l[4], "#EXT-X-DISCONTINUITY-SEQUENCE:0");
        let uris: Vec<&str> = l
            .iter()
            .filter(|l| !l.starts_with('#'))
            .map(|s| s.as_str())
            .collect();
        assert_eq!(
            uris,
            ["seg12.ts", "seg13.ts", "seg14.ts", "seg15.ts", "seg18.ts", "seg19.ts"]
        );
        assert_eq!(l.iter().filter(|l| *l == "#EXT-X-DISCONTINUITY").count(), 1);
        // seg10 left the list: deleted after 1 s + the 6 s playlist it was in.
        assert!(o.due(t0 + Duration::from_millis(6_999)).is_none());
        assert_eq!(o.due(t0 + Duration::from_secs(7)).unwrap().name, "seg10.ts");
        assert_eq!(o.due(t0 + Duration::from_secs(7)).unwrap().name, "seg11.ts");
        assert!(o.due(t0 + Duration::from_secs(7)).is_none());
        // Once the discontinuity leaves the list, the discontinuity sequence counts it.
        for s in 20..25 {
            o.append(entry(s), t0);
        }
        let l = lines(&o);
        assert_eq!(l[3], "#EXT-X-MEDIA-SEQUENCE:17");
        assert_eq!(l[4], "#EXT-X-DISCONTINUITY-SEQUENCE:1");
        assert!(!l.contains(&"#EXT-X-DISCONTINUITY".to_owned()));
    }

    #[test]
    fn resync_continues_an_earlier_runs_numbers() {
        let t0 = Instant::now();
        let old = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:40\n\
                   #EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-DISCONTINUITY\n#EXTINF:1.000,\nseg90.ts\n\
                   #EXTINF:1.000,\nseg91.ts\n";
        let mut o = Origin::new(1, 6, Container::Ts);
        o.resync(old, t0);
        // A new process whose local numbering restarted at 0.
        assert!(o.append(entry(0), t0));
        let l = lines(&o);
        assert_eq!(l[3], "#EXT-X-MEDIA-SEQUENCE:42");
        assert_eq!(l[4], "#EXT-X-DISCONTINUITY-SEQUENCE:3");
        assert_eq!(l[6], "#EXT-X-DISCONTINUITY");
        let later = t0 + Duration::from_secs(60);
        assert_eq!(o.due(later).unwrap().name, "seg90.ts");
        assert_eq!(o.due(later).unwrap().name, "seg91.ts");
        // An old name this run wrote again is kept.
        let mut o = Origin::new(1, 6, Container::Ts);
        o.resync(old, t0);
        o.append(entry(90), t0);
        o.append(entry(91), t0);
        assert!(o.due(later).is_none());
    }
}
