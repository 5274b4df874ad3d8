//! The reading side of the shipper: a thread that finds logs, scans what is
//! new in each with the library's reader, and hands whole, checksummed
//! records on as binary COPY rows. It knows nothing of the database; the
//! database side decides what is already there.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use tokio::sync::mpsc;

use crate::Recovery;
use crate::error::Error;
use crate::read::find_logs;
use crate::read::{DamageKind, Position, scan_from};
use crate::record::{MessageRecord, Record};

use super::Stop;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The session a log holds, as its header and file name say.
#[derive(Debug)]
pub(crate) struct SessionInfo {
    pub id: String,
    pub log: PathBuf,
    pub log_name: String,
    pub created: String,
}

/// Consecutive records of one session, encoded as binary COPY tuples.
pub(crate) struct Segment {
    pub session: Arc<SessionInfo>,
    pub rows: Vec<u8>,
    /// Where each row starts in `rows`.
    pub starts: Vec<usize>,
    pub seqs: Vec<u64>,
    /// The end record, when this segment reaches it: (seq, ts).
    pub end: Option<(u64, String)>,
}

impl Segment {
    fn new(session: Arc<SessionInfo>) -> Segment {
        Segment {
            session,
            rows: Vec::new(),
            starts: Vec::new(),
            seqs: Vec::new(),
            end: None,
        }
    }

    /// The encoded bytes of rows `from..to`.
    pub fn bytes(&self, from: usize, to: usize) -> &[u8] {
        let a = self.starts.get(from).copied().unwrap_or(self.rows.len());
        let b = self.starts.get(to).copied().unwrap_or(self.rows.len());
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
    /// A file that cannot be shipped: not a log, unreadable.
    Unreadable {
        log: PathBuf,
        detail: String,
    },
}

pub(crate) struct ReadOptions {
    /// Sessions the database holds whole, ended: not read again.
    pub done: std::collections::HashSet<String>,
    pub recovery: Recovery,
    pub follow: bool,
    pub poll: Duration,
    pub batch_rows: usize,
}

#[derive(Default)]
struct FileState {
    pos: Position,
    id: (u64, u64),
    /// (length, mtime in ns) at the last scan: unchanged means nothing new.
    seen: (u64, i128),
    session: Option<Arc<SessionInfo>>,
    /// Shipped up to damage the mode stops at, or not a log: left alone
    /// until the file changes.
    parked: bool,
}

/// Runs until one pass is done (or, following, until `stop`), sending
/// batches on `tx`. Returns when the receiver is gone.
pub(crate) fn run(paths: Vec<PathBuf>, opts: ReadOptions, stop: Stop, tx: mpsc::Sender<Item>) {
    let mut files: HashMap<PathBuf, FileState> = HashMap::new();
    let mut batch: Vec<Segment> = Vec::new();
    let mut rows = 0usize;
    let send = |item: Item| tx.blocking_send(item).is_ok();
    let mut missing = false;
    loop {
        let logs = match find_logs(&paths) {
            Ok(l) => {
                missing = false;
                l
            }
            Err(_) if missing => Vec::new(),
            Err(e) => {
                // A directory that vanished while following: say so once and keep going.
                missing = true;
                if !send(Item::Unreadable {
                    log: e.path().map(Path::to_path_buf).unwrap_or_default(),
                    detail: e.to_string(),
                }) {
                    return;
                }
                Vec::new()
            }
        };
        for log in logs {
            if stop.is_stopped() {
                return;
            }
            let st = files.entry(log.clone()).or_default();
            let (segs, notes) = step(&log, st, &opts);
            for n in notes {
                if !send(n) {
                    return;
                }
            }
            for s in segs {
                rows += s.seqs.len().max(1);
                batch.push(s);
                if rows >= opts.batch_rows {
                    if !send(Item::Batch(std::mem::take(&mut batch))) {
                        return;
                    }
                    rows = 0;
                }
            }
        }
        if !batch.is_empty() {
            if !send(Item::Batch(std::mem::take(&mut batch))) {
                return;
            }
            rows = 0;
        }
        if !opts.follow {
            return;
        }
        if stop.sleep_blocking(opts.poll) {
            return;
        }
    }
}

/// The session id on line 1, if it is a valid header.
pub(crate) fn header_id(file: &File) -> Option<String> {
    use crate::read::{Lines, decode_line};
    let mut lines = Lines::new(BufReader::with_capacity(4096, file), Position::default());
    let (info, bytes) = lines.next_line().ok()??;
    match decode_line(&info, bytes).ok()? {
        Record::Header(h) => Some(h.session),
        _ => None,
    }
}

fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

/// Scans what is new in one log.
fn step(log: &Path, st: &mut FileState, opts: &ReadOptions) -> (Vec<Segment>, Vec<Item>) {
    let mut notes = Vec::new();
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
                notes.push(unreadable(e));
            }
            return (Vec::new(), notes);
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return (Vec::new(), vec![unreadable(Error::io(log, "stat", e))]),
    };
    let id = (meta.dev(), meta.ino());
    let seen = (meta.len(), mtime_ns(&meta));
    if st.id != id || meta.len() < st.pos.offset {
        // A new file, or one replaced or cut short: read it from the start;
        // the database's cursor keeps what was shipped from being doubled.
        *st = FileState {
            id,
            ..FileState::default()
        };
    } else if st.seen == seen {
        return (Vec::new(), notes);
    }
    st.seen = seen;
    if st.pos.offset == 0
        && !opts.done.is_empty()
        && header_id(&file).is_some_and(|id| opts.done.contains(&id))
    {
        // Shipped and ended: nothing can follow an end record.
        st.parked = true;
        return (Vec::new(), notes);
    }
    if st.parked {
        // Parked files are rescanned from the start when they change (a
        // repaired log, a log that was still being created).
        st.pos = Position::default();
        st.session = None;
        st.parked = false;
    }
    match scan_new(log, file, st, opts) {
        Ok((segs, mut more)) => {
            notes.append(&mut more);
            (segs, notes)
        }
        Err(e) => {
            st.parked = true;
            notes.push(unreadable(e));
            (Vec::new(), notes)
        }
    }
}

fn scan_new(
    log: &Path,
    mut file: File,
    st: &mut FileState,
    opts: &ReadOptions,
) -> Result<(Vec<Segment>, Vec<Item>), Error> {
    file.seek(SeekFrom::Start(st.pos.offset))
        .map_err(|e| Error::io(log, "seek", e))?;
    // Point-in-time delivers what precedes the first damage and reports all
    // of it, which is what every mode but skip-corrupt needs to decide on.
    let scan_mode = match opts.recovery {
        Recovery::SkipCorrupt => Recovery::SkipCorrupt,
        _ => Recovery::PointInTime,
    };
    let log_name = log
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut session = st.session.clone();
    let mut segs: Vec<Segment> = Vec::new();
    let seg_rows = opts.batch_rows.max(1);
    let report = scan_from(
        log,
        BufReader::with_capacity(1 << 16, file),
        st.pos,
        scan_mode,
        |rec| {
            match rec {
                Record::Header(h) => {
                    session = Some(Arc::new(SessionInfo {
                        id: h.session.clone(),
                        log: log.to_path_buf(),
                        log_name: log_name.clone(),
                        created: h.created.clone(),
                    }));
                    if let Some(s) = &session {
                        segs.push(Segment::new(s.clone()));
                    }
                }
                Record::Message(m) => {
                    let Some(s) = &session else { return Ok(()) };
                    if segs.last().is_none_or(|g| g.seqs.len() >= seg_rows) {
                        segs.push(Segment::new(s.clone()));
                    }
                    if let Some(g) = segs.last_mut() {
                        g.starts.push(g.rows.len());
                        g.seqs.push(m.seq);
                        encode_row(&mut g.rows, &s.id, m).map_err(|why| Error::Damaged {
                            path: log.to_path_buf(),
                            line: 0,
                            offset: 0,
                            reason: format!("record {}: {why}", m.seq),
                        })?;
                    }
                }
                // The shipped table holds messages; tool calls and handoffs
                // stay in the log (and its exports).
                Record::Tool(_) | Record::Handoff(_) => {}
                Record::End { seq, ts } => {
                    let Some(s) = &session else { return Ok(()) };
                    if segs.is_empty() {
                        segs.push(Segment::new(s.clone()));
                    }
                    if let Some(g) = segs.last_mut() {
                        g.end = Some((*seq, ts.to_string()));
                    }
                }
            }
            Ok(())
        },
    )?;
    let mut notes = Vec::new();
    if session.is_none() {
        st.parked = true;
        notes.push(Item::Unreadable {
            log: log.to_path_buf(),
            detail: format!(
                "{}: line 1 is not a valid header, so the log's session id is unknown (see `convlog verify`)",
                log.display()
            ),
        });
        return Ok((Vec::new(), notes));
    }
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
        notes.push(damaged(
            d,
            "nothing more of this log is shipped; --recovery point-in-time or skip-corrupt ships around it",
        ));
        st.parked = true;
        return Ok((Vec::new(), notes));
    }
    match opts.recovery {
        Recovery::PointInTime => {
            if let Some(d) = mid {
                notes.push(damaged(d, "shipped the records before it"));
                st.parked = true;
            }
        }
        Recovery::SkipCorrupt => {
            for d in report.mid_file_damage() {
                notes.push(damaged(d, "skipped"));
            }
        }
        _ => {}
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
    Ok((segs, notes))
}

fn put_len(buf: &mut Vec<u8>, len: usize) -> Result<(), String> {
    let len = i32::try_from(len).map_err(|_| "a field is over 2 GiB".to_string())?;
    buf.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_text(buf: &mut Vec<u8>, s: &str) -> Result<(), String> {
    put_len(buf, s.len())?;
    buf.extend_from_slice(s.as_bytes());
    Ok(())
}

fn put_opt(buf: &mut Vec<u8>, s: Option<&str>) -> Result<(), String> {
    match s {
        Some(s) => put_text(buf, s),
        None => {
            buf.extend_from_slice(&(-1i32).to_be_bytes());
            Ok(())
        }
    }
}

/// Appends one binary COPY tuple in the column order of
/// [`schema::MESSAGES`](super::schema::MESSAGES).
pub(crate) fn encode_row(
    buf: &mut Vec<u8>,
    session: &str,
    m: &MessageRecord<'_>,
) -> Result<(), String> {
    let t = DateTime::parse_from_rfc3339(&m.ts).map_err(|e| format!("timestamp: {e}"))?;
    let micros = t.timestamp_micros() - PG_EPOCH_MICROS;
    let seq = i64::try_from(m.seq).map_err(|_| "seq is over 2^63".to_string())?;
    buf.extend_from_slice(&(super::schema::MESSAGES.len() as i16).to_be_bytes());
    put_text(buf, session)?;
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&micros.to_be_bytes());
    buf.extend_from_slice(&4i32.to_be_bytes());
    buf.extend_from_slice(&t.offset().local_minus_utc().to_be_bytes());
    put_text(buf, m.role.as_str())?;
    put_text(buf, &m.content)?;
    put_text(buf, &m.source)?;
    put_opt(buf, m.turn.as_deref())?;
    buf.extend_from_slice(&1i32.to_be_bytes());
    buf.push(u8::from(m.interrupted));
    put_opt(buf, m.speaker.as_deref())?;
    put_opt(buf, m.lang.as_deref())?;
    match m.meta {
        Some(raw) => {
            // jsonb's binary form: a version byte, then the JSON text.
            put_len(buf, raw.get().len() + 1)?;
            buf.push(1);
            buf.extend_from_slice(raw.get().as_bytes());
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    Ok(())
}
