//! [`MemStore`]: an in-memory store for tests that records every operation and fails chosen ones.

use std::collections::BTreeMap;

use super::{
    parse_segment_name, HlsError, Listing, NameBuf, SegmentStore, StoreError, StoreOp,
    PLAYLIST_NAME,
};
use crate::hls::Container;

/// One recorded [`MemStore`] operation, in call order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// The temporary segment file created.
    Begin(u64),
    /// Segment now complete (renamed into place), with its size.
    Commit(u64, usize),
    /// Temporary segment deleted.
    Abort(u64),
    /// Segment deleted.
    Remove(u64),
    /// A part's temporary file created.
    BeginPart(u64, u32),
    /// Part complete (renamed into place), with its size.
    CommitPart(u64, u32, usize),
    /// A part's temporary file deleted.
    AbortPart(u64, u32),
    /// Part deleted.
    RemovePart(u64, u32),
    /// `init<G>.mp4` written, with its size.
    Init(u32, usize),
    /// `init<G>.mp4` deleted.
    RemoveInit(u32),
    /// Playlist replaced with this text.
    Playlist(String),
    /// State file replaced with this text.
    State(String),
}

/// In-memory store for tests: records every operation as a [`StoreEvent`], keeps the files in
/// a map, and fails chosen operations on demand (`ENOSPC`, `EIO`, ...).
#[derive(Debug)]
pub struct MemStore {
    /// Every operation so far (failed ones are not recorded, except `Abort`).
    pub events: Vec<StoreEvent>,
    /// Complete files by name (`seg<N>.ts`, `seg<N>.<K>.ts`, `init<G>.mp4`, `live.m3u8`).
    pub files: BTreeMap<String, Vec<u8>>,
    /// The saved state, if any.
    pub state: Option<Vec<u8>>,
    /// Media files are named for this container (default TS).
    pub container: Container,
    segment: Option<(u64, Vec<u8>)>,
    part: Option<(u64, u32, Vec<u8>)>,
    faults: Vec<(StoreOp, i32)>,
    /// While set, every `Begin` and `Write` fails with this errno (a full disk).
    pub fail_segment_io: Option<i32>,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore::new()
    }
}

impl MemStore {
    /// An empty store naming TS media.
    pub fn new() -> Self {
        MemStore::for_container(Container::Ts)
    }
    /// An empty store naming media for `container`.
    pub fn for_container(container: Container) -> Self {
        MemStore {
            events: Vec::new(),
            files: BTreeMap::new(),
            state: None,
            container,
            segment: None,
            part: None,
            faults: Vec::new(),
            fail_segment_io: None,
        }
    }
    /// Makes the next call of `op` fail with `errno` (queued; one fault per call).
    pub fn fail_next(&mut self, op: StoreOp, errno: i32) {
        self.faults.push((op, errno));
    }
    fn fault(&mut self, op: StoreOp, seq: u64) -> Result<(), StoreError> {
        if matches!(op, StoreOp::Begin | StoreOp::Write) {
            if let Some(errno) = self.fail_segment_io {
                return Err(StoreError::new(op, seq, errno));
            }
        }
        if let Some(i) = self.faults.iter().position(|f| f.0 == op) {
            let (_, errno) = self.faults.remove(i);
            return Err(StoreError::new(op, seq, errno));
        }
        Ok(())
    }
    /// Sequence numbers of the complete segments currently stored.
    pub fn segments(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .files
            .keys()
            .filter_map(|k| parse_segment_name(k, self.container))
            .collect();
        v.sort_unstable();
        v
    }
    /// The current playlist text.
    pub fn playlist(&self) -> Option<&str> {
        self.files
            .get(PLAYLIST_NAME)
            .map(|b| std::str::from_utf8(b).expect("playlist is UTF-8"))
    }
    /// Whether a temporary segment is open.
    pub fn has_part(&self) -> bool {
        self.segment.is_some()
    }
    fn name(&self, n: NameBuf) -> String {
        n.as_str().to_owned()
    }
}

fn append(open: Option<&mut Vec<u8>>, bytes: &[u8], seq: u64) -> Result<(), StoreError> {
    match open {
        Some(b) => {
            b.extend_from_slice(bytes);
            Ok(())
        }
        None => Err(StoreError::new(StoreOp::Write, seq, libc::EBADF)),
    }
}

impl SegmentStore for MemStore {
    fn begin_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.fault(StoreOp::Begin, seq)?;
        self.segment = Some((seq, Vec::new()));
        self.events.push(StoreEvent::Begin(seq));
        Ok(())
    }
    fn write_segment(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let seq = self.segment.as_ref().map_or(0, |p| p.0);
        self.fault(StoreOp::Write, seq)?;
        append(self.segment.as_mut().map(|s| &mut s.1), bytes, seq)
    }
    fn commit_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.fault(StoreOp::Commit, seq)?;
        match self.segment.take() {
            Some((s, b)) if s == seq => {
                self.events.push(StoreEvent::Commit(seq, b.len()));
                let name = self.name(NameBuf::segment(seq, self.container, false));
                self.files.insert(name, b);
                Ok(())
            }
            _ => Err(StoreError::new(StoreOp::Commit, seq, libc::ENOENT)),
        }
    }
    fn abort_segment(&mut self, seq: u64) {
        self.segment = None;
        self.events.push(StoreEvent::Abort(seq));
    }
    fn remove_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.fault(StoreOp::Remove, seq)?;
        let name = self.name(NameBuf::segment(seq, self.container, false));
        match self.files.remove(&name) {
            Some(_) => {
                self.events.push(StoreEvent::Remove(seq));
                Ok(())
            }
            None => Err(StoreError::new(StoreOp::Remove, seq, libc::ENOENT)),
        }
    }
    fn begin_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError> {
        self.fault(StoreOp::Begin, seq)
            .map_err(|e| e.in_part(part))?;
        self.part = Some((seq, part, Vec::new()));
        self.events.push(StoreEvent::BeginPart(seq, part));
        Ok(())
    }
    fn write_part(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let (seq, k) = self.part.as_ref().map_or((0, 0), |p| (p.0, p.1));
        self.fault(StoreOp::Write, seq).map_err(|e| e.in_part(k))?;
        append(self.part.as_mut().map(|p| &mut p.2), bytes, seq)
    }
    fn commit_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError> {
        self.fault(StoreOp::Commit, seq)
            .map_err(|e| e.in_part(part))?;
        match self.part.take() {
            Some((s, k, b)) if s == seq && k == part => {
                self.events.push(StoreEvent::CommitPart(seq, part, b.len()));
                let name = self.name(NameBuf::part(seq, part, self.container, false));
                self.files.insert(name, b);
                Ok(())
            }
            _ => Err(StoreError::new(StoreOp::Commit, seq, libc::ENOENT).in_part(part)),
        }
    }
    fn abort_part(&mut self, seq: u64, part: u32) {
        self.part = None;
        self.events.push(StoreEvent::AbortPart(seq, part));
    }
    fn remove_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError> {
        let name = self.name(NameBuf::part(seq, part, self.container, false));
        match self.files.remove(&name) {
            Some(_) => {
                self.events.push(StoreEvent::RemovePart(seq, part));
                Ok(())
            }
            None => Err(StoreError::new(StoreOp::Remove, seq, libc::ENOENT).in_part(part)),
        }
    }
    fn write_init(&mut self, gen: u32, bytes: &[u8]) -> Result<(), StoreError> {
        self.fault(StoreOp::Init, u64::from(gen))?;
        self.files
            .insert(self.name(NameBuf::init(gen, false)), bytes.to_vec());
        self.events.push(StoreEvent::Init(gen, bytes.len()));
        Ok(())
    }
    fn remove_init(&mut self, gen: u32) -> Result<(), StoreError> {
        match self.files.remove(&self.name(NameBuf::init(gen, false))) {
            Some(_) => {
                self.events.push(StoreEvent::RemoveInit(gen));
                Ok(())
            }
            None => Err(StoreError::new(
                StoreOp::Remove,
                u64::from(gen),
                libc::ENOENT,
            )),
        }
    }
    fn write_playlist(&mut self, text: &[u8]) -> Result<(), StoreError> {
        self.fault(StoreOp::Playlist, 0)?;
        let s = String::from_utf8(text.to_vec()).expect("playlist is UTF-8");
        self.files.insert(PLAYLIST_NAME.to_owned(), text.to_vec());
        self.events.push(StoreEvent::Playlist(s));
        Ok(())
    }
    fn write_state(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.fault(StoreOp::State, 0)?;
        self.state = Some(bytes.to_vec());
        self.events.push(StoreEvent::State(
            String::from_utf8_lossy(bytes).into_owned(),
        ));
        Ok(())
    }
    fn load_state(&mut self) -> Result<Option<Vec<u8>>, HlsError> {
        Ok(self.state.clone())
    }
    fn scan(&mut self) -> Result<Listing, HlsError> {
        let mut l = Listing::default();
        for k in self.files.keys() {
            super::classify(&mut l, k, self.container);
        }
        if let Some((seq, _)) = self.segment.take() {
            l.leftovers
                .push(self.name(NameBuf::segment(seq, self.container, true)));
        }
        if let Some((seq, k, _)) = self.part.take() {
            l.leftovers
                .push(self.name(NameBuf::part(seq, k, self.container, true)));
        }
        Ok(l)
    }
    fn remove_leftover(&mut self, name: &str) -> Result<(), HlsError> {
        self.files.remove(name);
        Ok(())
    }
    fn remove_playlist(&mut self) -> Result<(), HlsError> {
        self.files.remove(PLAYLIST_NAME);
        Ok(())
    }
}
