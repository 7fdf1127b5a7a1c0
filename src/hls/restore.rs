//! Start-up: what to keep from an earlier run (setup only; allocates).
//!
//! Rules (RFC 8216 §6.2.2 and DESIGN §2 item 12):
//! - the saved window is adopted as far as its files still exist — the longest run of
//!   consecutive saved segments, ending at the live edge, whose files are present — so clients
//!   see the playlist continue across the restart;
//! - the next segment number is the maximum of the saved one and one past any `seg<N>.ts`
//!   found, so numbers never go back even when the state file is lost or corrupt (then the run
//!   starts fresh with a warning); a `.seg<N>.ts.part` was never listed, so its number may be
//!   reused;
//! - dropped window entries that carried `EXT-X-DISCONTINUITY` still advance the discontinuity
//!   sequence;
//! - every other `seg*.ts` and every `.part` is removed.

use super::error::HlsError;
use super::ring::{rounded_secs, SegmentEntry};
use super::state::{decode, Fmp4State, SavedState};
use super::store::SegmentStore;
use super::Container;

/// The outcome of looking at the directory and state file.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub media_seq: u64,
    pub disc_seq: u64,
    pub next_seq: u64,
    pub adopted: Vec<SegmentEntry>,
    /// Complete segments to delete (not adopted).
    pub remove: Vec<u64>,
    /// Other files to delete.
    pub leftovers: Vec<String>,
    /// Evidence of an earlier run: the first new segment carries EXT-X-DISCONTINUITY.
    pub previous_run: bool,
    /// fMP4: the saved initialisation generation and decode time (default when none).
    pub fmp4: Fmp4State,
    /// fMP4: initialisation segments still named by adopted segments (kept on disk).
    pub inits: Vec<u32>,
}

pub(super) fn plan<S: SegmentStore>(
    store: &mut S,
    target_secs: u32,
    window: usize,
    container: Container,
) -> Result<Plan, HlsError> {
    let mut listing = store.scan()?;
    listing.sort();
    let saved: Option<SavedState> = match store.load_state() {
        Ok(None) => None,
        Ok(Some(bytes)) => match decode(&bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                log::warn!("{e}; starting the HLS numbering afresh");
                None
            }
        },
        Err(e) => {
            log::warn!("{e}; starting the HLS numbering afresh");
            None
        }
    };
    let previous_run = saved.is_some()
        || !listing.segments.is_empty()
        || !listing.leftovers.is_empty()
        || listing.playlist;
    let highest_file = listing.segments.last().copied();
    let mut p = Plan {
        previous_run,
        leftovers: listing.leftovers.clone(),
        ..Plan::default()
    };
    let file_next = highest_file.map_or(0, |h| h.saturating_add(1));
    match saved {
        None => {
            p.next_seq = file_next;
            p.media_seq = p.next_seq;
        }
        Some(s) => {
            p.next_seq = s.next_seq.max(file_next);
            p.disc_seq = s.disc_seq;
            p.media_seq = s.media_seq;
            let fmp4 = s.fmp4;
            p.fmp4 = fmp4.unwrap_or_default();
            let mut entries = s.entries;
            // Only what still exists (with its initialisation segment, for fMP4), ends at the
            // live edge, fits the target and the window.
            let usable = |e: &SegmentEntry| {
                listing.segments.binary_search(&e.seq).is_ok()
                    && rounded_secs(e.duration) <= target_secs as u64
                    && match container {
                        Container::Ts => fmp4.is_none(),
                        Container::Fmp4 => {
                            fmp4.is_some() && listing.inits.binary_search(&e.map).is_ok()
                        }
                    }
            };
            let contiguous = s.media_seq + entries.len() as u64 == p.next_seq;
            let keep_from = if contiguous {
                let tail = entries.iter().rev().take_while(|e| usable(e)).count();
                entries.len() - tail.min(window)
            } else {
                entries.len()
            };
            for e in entries.drain(..keep_from) {
                p.media_seq = e.seq + 1;
                if e.discontinuity {
                    p.disc_seq += 1;
                }
            }
            if entries.is_empty() {
                p.media_seq = p.next_seq;
            }
            if s.target_secs != target_secs && !entries.is_empty() {
                log::info!(
                    "HLS target duration changed {}s → {}s; adopted segments still fit",
                    s.target_secs,
                    target_secs
                );
            }
            p.adopted = entries;
        }
    }
    p.remove = listing
        .segments
        .iter()
        .copied()
        .filter(|seq| p.adopted.iter().all(|e| e.seq != *seq))
        .collect();
    p.inits = p.adopted.iter().map(|e| e.map).collect();
    p.inits.dedup();
    for g in &listing.inits {
        if !p.inits.contains(g) {
            p.leftovers.push(format!("init{g}.mp4"));
        }
        // Generations never go back, even when the state file was lost.
        p.fmp4.next_init = p.fmp4.next_init.max(g.saturating_add(1));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::state::{encode, StateBuf};
    use crate::hls::store::MemStore;
    use crate::time::Pts90k;
    use std::time::UNIX_EPOCH;

    fn entry(seq: u64, disc: bool) -> SegmentEntry {
        SegmentEntry {
            seq,
            duration: Pts90k(180_000),
            pdt: UNIX_EPOCH,
            discontinuity: disc,
            map: 0,
        }
    }

    fn store_with(
        next: u64,
        media: u64,
        disc: u64,
        entries: &[SegmentEntry],
        files: &[u64],
    ) -> MemStore {
        let mut st = MemStore::new();
        let mut b = StateBuf::new();
        encode(&mut b, 2, next, media, disc, None, entries.iter()).unwrap();
        st.state = Some(b.as_bytes().to_vec());
        for f in files {
            st.files.insert(format!("seg{f}.ts"), vec![]);
        }
        st
    }

    #[test]
    fn fresh_directory() {
        let mut st = MemStore::new();
        let p = plan(&mut st, 2, 6, Container::Ts).unwrap();
        assert_eq!((p.next_seq, p.media_seq, p.disc_seq), (0, 0, 0));
        assert!(!p.previous_run && p.adopted.is_empty() && p.remove.is_empty());
    }

    #[test]
    fn adopts_existing_window_and_removes_the_rest() {
        let entries: Vec<_> = (10..16).map(|s| entry(s, s == 12)).collect();
        let mut st = store_with(16, 10, 1, &entries, &[3, 8, 9, 10, 11, 12, 13, 14, 15]);
        st.files.insert(".seg16.ts.part".into(), vec![]);
        let p = plan(&mut st, 2, 6, Container::Ts).unwrap();
        assert!(p.previous_run);
        assert_eq!(p.adopted, entries);
        assert_eq!(p.leftovers, vec![".seg16.ts.part".to_owned()]);
        assert_eq!((p.next_seq, p.media_seq, p.disc_seq), (16, 10, 1));
        assert_eq!(p.remove, vec![3, 8, 9]);
    }

    #[test]
    fn missing_files_shorten_the_window_and_count_discontinuities() {
        let entries: Vec<_> = (10..16).map(|s| entry(s, s == 11)).collect();
        let mut st = store_with(16, 10, 5, &entries, &[10, 11, 13, 14, 15]);
        let p = plan(&mut st, 2, 6, Container::Ts).unwrap();
        assert_eq!(
            p.adopted.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![13, 14, 15]
        );
        assert_eq!((p.media_seq, p.disc_seq, p.next_seq), (13, 6, 16));
        assert_eq!(p.remove, vec![10, 11]);
    }

    #[test]
    fn corrupt_state_takes_max_of_files() {
        let mut st = MemStore::new();
        st.state = Some(b"hlscam-hls-state 1\nnext".to_vec());
        st.files.insert("seg40.ts".into(), vec![]);
        st.files.insert("seg41.ts".into(), vec![]);
        let p = plan(&mut st, 2, 6, Container::Ts).unwrap();
        assert_eq!((p.next_seq, p.media_seq), (42, 42));
        assert!(p.previous_run && p.adopted.is_empty());
        assert_eq!(p.remove, vec![40, 41]);
    }

    #[test]
    fn state_behind_files_never_goes_back() {
        let entries: Vec<_> = (10..12).map(|s| entry(s, false)).collect();
        let mut st = store_with(12, 10, 0, &entries, &[10, 11, 30]);
        let p = plan(&mut st, 2, 6, Container::Ts).unwrap();
        assert_eq!((p.next_seq, p.media_seq), (31, 31));
        assert!(p.adopted.is_empty());
        assert_eq!(p.remove, vec![10, 11, 30]);
    }
}
