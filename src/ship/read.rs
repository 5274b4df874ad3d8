//! The reading side of the shipper: a thread that finds logs, scans what is
//! new in each with the library's line reader and judge, and hands whole,
//! checksummed records on as binary COPY rows, a batch at a time, so that
//! memory stays bounded by the batch size whatever the log's size. It knows
//! nothing of the database; the database side decides what is already there.

use std::collections::HashMap;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::Recovery;
use crate::error::Error;
use crate::read::find_logs;
use crate::read::{DamageKind, Judge, Lines, Position, Report, decode_line, scan_from};
use crate::record::{Header, Record};

use super::Stop;
use super::encode::{Stamp, encode_row, line_crc, stamp};
use super::resume::{self, Shipped};
use super::watch::{Wake, Watcher};

/// A log's unread part beyond which a mode that refuses a log with damage
/// checks the whole part first, then ships it in batches as it reads again;
/// below it, the part is held in memory until its scan ends.
const PRESCAN_BYTES: u64 = 8 << 20;

/// The session a log holds, as its header and file name say.
#[derive(Debug)]
pub(crate) struct SessionInfo {
    pub id: String,
    pub log: PathBuf,
    pub log_name: String,
    pub created: Stamp,
    /// The header's `created` as written.
    pub created_text: String,
}

/// The end record.
#[derive(Debug, Clone)]
pub(crate) struct End {
    pub seq: u64,
    pub ts: Stamp,
    pub text: String,
}

/// Consecutive records of one session from one log, encoded as binary COPY
/// tuples.
pub(crate) struct Segment {
    pub session: Arc<SessionInfo>,
    pub rows: Vec<u8>,
    /// Where each row starts in `rows`.
    pub starts: Vec<usize>,
    pub seqs: Vec<u64>,
    pub crcs: Vec<u32>,
    /// Rows stored with their line in `raw`.
    pub raw: Vec<bool>,
    /// The end record, when this segment reaches it.
    pub end: Option<End>,
}

impl Segment {
    fn new(session: Arc<SessionInfo>) -> Segment {
        Segment {
            session,
            rows: Vec::new(),
            starts: Vec::new(),
            seqs: Vec::new(),
            crcs: Vec::new(),
            raw: Vec::new(),
            end: None,
        }
    }

    /// The encoded bytes of row `i`.
    pub fn row(&self, i: usize) -> &[u8] {
        let a = self.starts.get(i).copied().unwrap_or(self.rows.len());
        let b = self.starts.get(i + 1).copied().unwrap_or(self.rows.len());
        &self.rows[a..b]
    }
}

/// What the reader hands to the database side.
pub(crate) enum Item {
    Batch(Vec<Segment>),
    /// Mid-file damage, reported under the recovery mode.
    Damaged {
        log: PathBuf,
        detail: String,
    },
    /// Worth saying, loses nothing.
    Note {
        log: PathBuf,
        detail: String,
    },
    /// An open log picked up just after its last shipped record.
    Resumed,
    /// A file that cannot be shipped: not a log, unreadable.
    Unreadable {
        log: PathBuf,
        detail: String,
    },
}

pub(crate) struct ReadOptions {
    /// Sessions the database holds whole, ended: not read again.
    pub done: HashSet<String>,
    /// Open sessions the database holds whole up to a record: read from
    /// just after it when the log holds it intact.
    pub resume: HashMap<String, Shipped>,
    pub recovery: Recovery,
    pub follow: bool,
    pub poll: Duration,
    /// Wake on inotify rather than polling (see `watch`).
    pub notify: bool,
    pub batch_rows: usize,
    pub redact: crate::redact::Policy,
}

#[derive(Default)]
struct FileState {
    pos: Position,
    id: (u64, u64),
    /// (length, mtime in ns) at the last scan: unchanged means nothing new.
    seen: (u64, i128),
    session: Option<Arc<SessionInfo>>,
    /// The CRC of line 1 when it was read: another means another log was
    /// written over this one in place.
    header_crc: Option<u32>,
    /// Shipped up to damage the mode stops at, or not a log: left alone
    /// until the file changes.
    parked: bool,
    /// Records were skipped as damaged (`skip-corrupt`) since the scan
    /// from the start: the end is not recorded, so the session stays open
    /// in the database (and is read again) until a run ships it whole.
    skipped: bool,
}

/// Gathers segments into batches of about `batch_rows` rows and sends them.
struct Batcher<'a> {
    tx: &'a mpsc::Sender<Item>,
    batch: Vec<Segment>,
    rows: usize,
    limit: usize,
}

impl Batcher<'_> {
    /// False when the receiver is gone.
    fn send(&self, item: Item) -> bool {
        self.tx.blocking_send(item).is_ok()
    }

    fn push(&mut self, seg: Segment) -> bool {
        self.rows += seg.seqs.len().max(1);
        self.batch.push(seg);
        self.rows < self.limit || self.flush()
    }

    fn flush(&mut self) -> bool {
        self.rows = 0;
        let batch = std::mem::take(&mut self.batch);
        batch.is_empty() || self.send(Item::Batch(batch))
    }
}

/// Runs until one pass is done (or, following, until `stop`), sending
/// batches on `tx`. Returns when the receiver is gone.
///
/// Following, a pass after the first looks only at the files the watcher
/// names (and lists the directories again only when names changed), so an
/// idle run over thousands of logs does no work between writes.
pub(crate) fn run(paths: Vec<PathBuf>, opts: ReadOptions, stop: Stop, tx: mpsc::Sender<Item>) {
    let mut files: HashMap<PathBuf, FileState> = HashMap::new();
    let mut out = Batcher {
        tx: &tx,
        batch: Vec::new(),
        rows: 0,
        limit: opts.batch_rows.max(1),
    };
    let mut watcher = None;
    if opts.follow {
        let (w, notes) = Watcher::new(&paths, opts.poll, opts.notify);
        for (log, detail) in notes {
            if !out.send(Item::Note { log, detail }) {
                return;
            }
        }
        watcher = Some(w);
    }
    let mut wake = Wake::All;
    let mut missing = false;
    loop {
        let (only, list) = match wake {
            Wake::Stop => return,
            Wake::All => (None, true),
            Wake::Some { files, names } => (Some(files), names),
        };
        let logs = if list {
            match find_logs(&paths) {
                Ok(l) => {
                    missing = false;
                    l
                }
                Err(_) if missing => Vec::new(),
                Err(e) => {
                    // A directory that vanished while following: say so once and keep going.
                    missing = true;
                    if !out.send(Item::Unreadable {
                        log: e.path().map(Path::to_path_buf).unwrap_or_default(),
                        detail: e.to_string(),
                    }) {
                        return;
                    }
                    Vec::new()
                }
            }
        } else {
            let mut l: Vec<PathBuf> = only.iter().flatten().cloned().collect();
            l.sort();
            l
        };
        for log in logs {
            if stop.is_stopped() {
                return;
            }
            // Told which files changed: the others are as they were; a new
            // name is a log only if the listing above found it.
            if let Some(only) = &only
                && (files.contains_key(&log) && !only.contains(&log)
                    || !list && !files.contains_key(&log))
            {
                continue;
            }
            let st = files.entry(log.clone()).or_default();
            if !step(&log, st, &opts, &stop, &mut out) {
                return;
            }
        }
        if !out.flush() {
            return;
        }
        let Some(w) = &mut watcher else { return };
        wake = w.wait(&stop);
    }
}

/// Line 1 of `file` if it is a valid header, and the line's CRC.
pub(crate) fn header_of(file: &File) -> Option<(Header, u32)> {
    let mut lines = Lines::new(BufReader::with_capacity(4096, file), Position::default());
    let (info, bytes) = lines.next_line().ok()??;
    let crc = line_crc(bytes);
    match decode_line(&info, bytes).ok()? {
        Record::Header(h) => Some((h, crc)),
        _ => None,
    }
}

/// The session `log` holds, as its header `h` says.
fn session_info(log: &Path, h: Header) -> Arc<SessionInfo> {
    Arc::new(SessionInfo {
        created: stamp(&h.created),
        id: h.session,
        log: log.to_path_buf(),
        log_name: log
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        created_text: h.created,
    })
}

fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

/// Ships what is new in one log. False when the receiver is gone.
fn step(
    log: &Path,
    st: &mut FileState,
    opts: &ReadOptions,
    stop: &Stop,
    out: &mut Batcher,
) -> bool {
    let unreadable = |e: Error| Item::Unreadable {
        log: log.to_path_buf(),
        detail: e.to_string(),
    };
    let file = match crate::fs::open_read(log) {
        Ok(f) => f,
        Err(e) => {
            // Reported once per change, not on every poll.
            let meta = std::fs::symlink_metadata(log).ok();
            let seen = meta.map(|m| (m.len(), mtime_ns(&m))).unwrap_or_default();
            if !st.parked || st.seen != seen {
                st.parked = true;
                st.seen = seen;
                return out.send(unreadable(e));
            }
            return true;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return out.send(unreadable(Error::io(log, "stat", e))),
    };
    let id = (meta.dev(), meta.ino());
    let seen = (meta.len(), mtime_ns(&meta));
    if st.id == id && st.seen == seen {
        return true;
    }
    let header = header_of(&file);
    let replaced = st.header_crc.is_some() && header.as_ref().map(|h| h.1) != st.header_crc;
    if st.id != id || meta.len() < st.pos.offset || replaced {
        // A new file, or one replaced, cut short or written over with
        // another log: read it from the start as a new log; the database's
        // cursor keeps what was shipped from being doubled.
        *st = FileState {
            id,
            ..FileState::default()
        };
    }
    st.seen = seen;
    if st.pos.offset == 0
        && let Some((h, _)) = &header
        && opts.done.contains(&h.session)
    {
        // Shipped and ended: nothing can follow an end record.
        st.parked = true;
        st.header_crc = header.map(|h| h.1);
        return true;
    }
    if st.parked {
        // Parked files are rescanned from the start when they change (a
        // repaired log, a log that was still being created).
        st.pos = Position::default();
        st.session = None;
        st.parked = false;
        st.skipped = false;
    }
    st.header_crc = header.as_ref().map(|h| h.1);
    if st.pos.offset == 0
        && let Some((h, _)) = header
        && let Some(want) = opts.resume.get(&h.session)
        && let Some(pos) = resume::find(&file, meta.len(), *want)
    {
        // Shipped up to `pos`, and the database holds all before it.
        st.pos = pos;
        st.session = Some(session_info(log, h));
        if !out.send(Item::Resumed) {
            return false;
        }
    }
    let unread = meta.len().saturating_sub(st.pos.offset);
    let refuses_damage = matches!(opts.recovery, Recovery::TolerateTail | Recovery::Absolute);
    let stream = !refuses_damage || unread > PRESCAN_BYTES && prescan_clean(log, &file, st, opts);
    match scan_new(log, &file, st, opts, stop, out, stream) {
        Ok(alive) => alive,
        Err(e) => {
            st.parked = true;
            out.send(unreadable(e))
        }
    }
}

/// A first pass over a large unread part for the modes that ship nothing of
/// a log with damage: true when the part may be shipped while it is read.
/// When it may not, the second pass finds the same damage and reports it.
fn prescan_clean(log: &Path, file: &File, st: &FileState, opts: &ReadOptions) -> bool {
    let mut f = file;
    if f.seek(SeekFrom::Start(st.pos.offset)).is_err() {
        return false;
    }
    let report = scan_from(
        log,
        BufReader::with_capacity(1 << 16, f),
        st.pos,
        Recovery::PointInTime,
        |_| Ok(()),
    );
    report.is_ok_and(|r| {
        r.mid_file_damage().next().is_none()
            && (opts.follow || opts.recovery != Recovery::Absolute || r.torn_bytes().is_none())
    })
}

/// Scans from `st.pos`, sending segments through `out` as they fill when
/// `stream`, or holding them until the scan has judged the whole part.
/// Ok(false) when the receiver is gone.
fn scan_new(
    log: &Path,
    mut file: &File,
    st: &mut FileState,
    opts: &ReadOptions,
    stop: &Stop,
    out: &mut Batcher,
    stream: bool,
) -> Result<bool, Error> {
    file.seek(SeekFrom::Start(st.pos.offset))
        .map_err(|e| Error::io(log, "seek", e))?;
    // Point-in-time delivers what precedes the first damage and reports all
    // of it, which is what every mode but skip-corrupt needs to decide on.
    let scan_mode = match opts.recovery {
        Recovery::SkipCorrupt => Recovery::SkipCorrupt,
        _ => Recovery::PointInTime,
    };
    let mut session = st.session.clone();
    let mut held: Vec<Segment> = Vec::new();
    let mut cur: Option<Segment> = None;
    let seg_rows = opts.batch_rows.max(1);
    let mut lines = Lines::new(BufReader::with_capacity(1 << 16, file), st.pos);
    let mut judge = Judge::new(st.pos, scan_mode);
    let mut n = 0u64;
    while let Some((info, bytes)) = lines.next_line().map_err(|e| Error::io(log, "read", e))? {
        n += 1;
        if n.is_multiple_of(4096) && stop.is_stopped() {
            return Ok(true);
        }
        let Some(rec) = judge.line(log, &info, bytes)? else {
            continue;
        };
        let full = match rec {
            Record::Header(h) => {
                let s = session_info(log, h);
                session = Some(s.clone());
                cur.replace(Segment::new(s))
            }
            Record::Message(m) => {
                let Some(s) = &session else { continue };
                let g = cur.get_or_insert_with(|| Segment::new(s.clone()));
                g.starts.push(g.rows.len());
                g.seqs.push(m.seq);
                let crc = line_crc(bytes);
                g.crcs.push(crc);
                // Redacted on the way out; the line itself (kept in `raw`
                // when a column cannot hold a value exactly) is then not sent.
                let (m, bytes) = match opts.redact.redact(&m.content) {
                    Some(r) => {
                        let mut m = m;
                        m.content = std::borrow::Cow::Owned(r.text);
                        (m, &b""[..])
                    }
                    None => (m, bytes),
                };
                let raw = encode_row(&mut g.rows, &s.id, &m, crc, bytes).map_err(|why| {
                    Error::Damaged {
                        path: log.to_path_buf(),
                        line: info.line,
                        offset: info.offset,
                        reason: format!("record {}: {why}", m.seq),
                    }
                })?;
                g.raw.push(raw);
                if g.seqs.len() >= seg_rows {
                    cur.take()
                } else {
                    None
                }
            }
            // The shipped table holds messages; tool calls and handoffs
            // stay in the log (and its exports).
            Record::Tool(_) | Record::Handoff(_) => continue,
            Record::End { seq, ts } => {
                let Some(s) = &session else { continue };
                let g = cur.get_or_insert_with(|| Segment::new(s.clone()));
                g.end = Some(End {
                    seq,
                    ts: stamp(&ts),
                    text: ts.into_owned(),
                });
                None
            }
        };
        if let Some(seg) = full {
            if stream {
                if !out.push(seg) {
                    return Ok(false);
                }
            } else {
                held.push(seg);
            }
        }
    }
    held.extend(cur.take());
    let report = judge.finish(log, lines.offset())?;
    if session.is_none() {
        st.parked = true;
        return Ok(out.send(Item::Unreadable {
            log: log.to_path_buf(),
            detail: format!(
                "{}: line 1 is not a valid header, so the log's session id is unknown (see `convlog verify`)",
                log.display()
            ),
        }));
    }
    let (notes, refused) = judge_damage(log, &report, opts);
    for note in notes {
        if !out.send(note) {
            return Ok(false);
        }
    }
    if refused {
        st.parked = true;
        return Ok(true);
    }
    st.skipped |= report.mid_file_damage().next().is_some();
    for mut seg in held {
        if st.skipped {
            seg.end = None;
        }
        if !out.push(seg) {
            return Ok(false);
        }
    }
    if opts.recovery == Recovery::PointInTime && report.mid_file_damage().next().is_some() {
        st.parked = true;
    }
    let torn_lines = report
        .damage
        .iter()
        .filter(|d| d.kind == DamageKind::TornTail)
        .count() as u64;
    st.pos = Position {
        offset: report.valid_len,
        line: st.pos.line + report.lines - torn_lines,
        prev_seq: report.last_seq.or(st.pos.prev_seq),
    };
    st.session = session;
    Ok(true)
}

/// What to say about a scan's damage under the recovery mode, and whether
/// the mode refuses the log.
fn judge_damage(log: &Path, report: &Report, opts: &ReadOptions) -> (Vec<Item>, bool) {
    let damaged = |d: &crate::read::Damage, what: &str| Item::Damaged {
        log: log.to_path_buf(),
        detail: format!(
            "{}: line {} (byte {}): {}: {} (recovery mode {}: {what})",
            log.display(),
            d.line,
            d.offset,
            d.kind.name(),
            d.reason,
            opts.recovery
        ),
    };
    let mid = report.mid_file_damage().next();
    let torn = report
        .damage
        .iter()
        .find(|d| d.kind == DamageKind::TornTail);
    let refuse = match opts.recovery {
        Recovery::TolerateTail => mid,
        Recovery::Absolute => mid.or(if opts.follow { None } else { torn }),
        _ => None,
    };
    if let Some(d) = refuse {
        let what = "nothing more of this log is shipped; --recovery point-in-time or skip-corrupt ships around it";
        return (vec![damaged(d, what)], true);
    }
    let mut notes = Vec::new();
    match opts.recovery {
        Recovery::PointInTime => {
            notes.extend(mid.map(|d| damaged(d, "shipped the records before it")))
        }
        Recovery::SkipCorrupt => {
            notes.extend(report.mid_file_damage().map(|d| damaged(d, "skipped")));
        }
        _ => {}
    }
    if !opts.follow
        && let (Some(d), Some(bytes)) = (torn, report.torn_bytes())
    {
        // Following, a torn tail is a write in flight and is waited out.
        notes.push(Item::Note {
            log: log.to_path_buf(),
            detail: format!(
                "{}: line {} (byte {}): a torn tail of {bytes} bytes (a write in flight, or one cut off by a crash) was not shipped; a later run ships it once it is whole, and `convlog verify` says more",
                log.display(),
                d.line,
                d.offset
            ),
        });
    }
    (notes, false)
}
