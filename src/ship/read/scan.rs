//! One log's new part: its header, what the reader remembers of the file
//! between scans, and the scan from there with the library's line reader
//! and judge into segments, judged under the recovery mode (held until the
//! judgement for a mode that ships nothing of a damaged log, unless a first
//! pass over a large part found it clean, so memory stays bounded).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::Recovery;
use crate::error::Error;
use crate::read::{DamageKind, Judge, Lines, Position, Report, decode_line, scan_from};
use crate::record::{Header, Record};
use crate::ship::Stop;
use crate::ship::encode::{encode_row, line_crc, stamp};
use crate::ship::resume::Shipped;

use super::segment::{Batcher, End, Item, Segment, SessionInfo};

/// A log's unread part beyond which a mode that refuses a log with damage
/// checks the whole part first, then ships it in batches as it reads again;
/// below it, the part is held in memory until its scan ends.
const PRESCAN_BYTES: u64 = 8 << 20;

/// What the reader is asked to do, and what the database already holds.
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

/// What the reader remembers of one file between scans.
#[derive(Default)]
pub(super) struct FileState {
    pub(super) pos: Position,
    pub(super) id: (u64, u64),
    /// (length, mtime in ns) at the last scan: unchanged means nothing new.
    pub(super) seen: (u64, i128),
    pub(super) session: Option<Arc<SessionInfo>>,
    /// The CRC of line 1 when it was read: another means another log was
    /// written over this one in place.
    pub(super) header_crc: Option<u32>,
    /// Shipped up to damage the mode stops at, or not a log: left alone
    /// until the file changes.
    pub(super) parked: bool,
    /// Records were skipped as damaged (`skip-corrupt`) since the scan
    /// from the start: the end is not recorded, so the session stays open
    /// in the database (and is read again) until a run ships it whole.
    pub(super) skipped: bool,
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
pub(super) fn session_info(log: &Path, h: Header) -> Arc<SessionInfo> {
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

/// Scans the unread part of `log` (`len` bytes long) from `st.pos`, as the
/// recovery mode asks: streamed in batches, or held until judged. Ok(false)
/// when the receiver is gone.
pub(super) fn scan_unread(
    log: &Path,
    file: &File,
    st: &mut FileState,
    opts: &ReadOptions,
    stop: &Stop,
    out: &mut Batcher,
    len: u64,
) -> Result<bool, Error> {
    let unread = len.saturating_sub(st.pos.offset);
    let refuses_damage = matches!(opts.recovery, Recovery::TolerateTail | Recovery::Absolute);
    let stream = !refuses_damage || unread > PRESCAN_BYTES && prescan_clean(log, file, st, opts);
    scan_new(log, file, st, opts, stop, out, stream)
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
