//! The one streaming scanner behind export, verify, messages, the export
//! stamp and the writer's own tail check.
//!
//! It reads line by line with a reused buffer, so memory stays bounded by the
//! longest line, not the log. A bad line cannot be classified when it is
//! read: it is a *torn tail* if nothing valid follows it and a *corrupt
//! record* if something does. So bad lines wait in `pending` until the next
//! valid line (then they are corrupt) or the end of the file (then they are
//! the torn tail). The recovery mode only decides which records reach the
//! caller and whether the result is an error; the report is always complete.

use std::fmt;
use std::io::{self, BufRead};
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::line::{self, LineError, MAX_LINE_BYTES};
use crate::record::{Header, Record};

/// How to treat damage, named after RocksDB's WAL recovery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Recovery {
    /// Ignore a torn tail (what a crash leaves); fail on anything else. The default.
    #[default]
    #[cfg_attr(
        feature = "cli",
        value(help = "Ignore a torn tail; fail on other damage")
    )]
    TolerateTail,
    /// Any damage at all is an error.
    #[cfg_attr(feature = "cli", value(help = "Fail on any damage"))]
    Absolute,
    /// Stop before the first damage and succeed with what came before it.
    #[cfg_attr(feature = "cli", value(help = "Stop before the first damage"))]
    PointInTime,
    /// Skip bad lines, keep going, and report what was skipped.
    #[cfg_attr(feature = "cli", value(help = "Skip damaged lines and report them"))]
    SkipCorrupt,
}

impl Recovery {
    /// The names accepted by [`FromStr`] and the CLI's `--recovery`.
    pub const NAMES: [&'static str; 4] =
        ["tolerate-tail", "absolute", "point-in-time", "skip-corrupt"];

    /// The mode's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Recovery::TolerateTail => "tolerate-tail",
            Recovery::Absolute => "absolute",
            Recovery::PointInTime => "point-in-time",
            Recovery::SkipCorrupt => "skip-corrupt",
        }
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Recovery {
    type Err = Error;
    fn from_str(s: &str) -> Result<Recovery> {
        Recovery::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| {
                [
                    Recovery::TolerateTail,
                    Recovery::Absolute,
                    Recovery::PointInTime,
                    Recovery::SkipCorrupt,
                ][i]
            })
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "unknown recovery mode {s:?}: expected one of: {}",
                    Recovery::NAMES.join(", ")
                ))
            })
    }
}

/// What kind of damage a line has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DamageKind {
    /// A bad line with nothing valid after it: what an interrupted write leaves.
    TornTail,
    /// A bad line with valid lines after it: the bytes changed after they were written.
    Corrupt,
    /// A valid record whose seq skips ahead with no bad line in between.
    SeqGap {
        /// The seq that should have come next.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// A valid record whose seq is not above the previous one.
    SeqRegression {
        /// The previous record's seq.
        previous: u64,
        /// The seq found.
        found: u64,
    },
    /// Line 1 is a valid record but not a header.
    MissingHeader,
    /// A valid record after the end record.
    AfterEnd,
}

impl DamageKind {
    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            DamageKind::TornTail => "torn tail",
            DamageKind::Corrupt => "corrupt record",
            DamageKind::SeqGap { .. } => "seq gap",
            DamageKind::SeqRegression { .. } => "seq regression",
            DamageKind::MissingHeader => "missing header",
            DamageKind::AfterEnd => "record after end",
        }
    }
}

/// One damaged line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Damage {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset where the line starts.
    pub offset: u64,
    /// Length of the line in bytes, including its newline if it has one.
    pub len: u64,
    /// Classification.
    #[serde(flatten)]
    pub kind: DamageKind,
    /// Human-readable detail (the decoder's complaint).
    pub reason: String,
}

impl Damage {
    /// True when a reader that skips damage leaves this line out. A seq gap
    /// and a missing header are reported at a valid record, which every mode
    /// that reads past the damage still delivers; what is missing there is
    /// the seq(s) before it, not the line.
    pub fn skips_record(&self) -> bool {
        !matches!(
            self.kind,
            DamageKind::SeqGap { .. } | DamageKind::MissingHeader
        )
    }

    /// The seqs a gap leaves out, as `seq 4` or `seqs 4–6`; `None` for other damage.
    pub fn missing_seqs(&self) -> Option<String> {
        match self.kind {
            DamageKind::SeqGap { expected, found } if found == expected + 1 => {
                Some(format!("seq {expected}"))
            }
            DamageKind::SeqGap { expected, found } => {
                Some(format!("seqs {expected}–{}", found - 1))
            }
            _ => None,
        }
    }
}

/// Where a scan starts: the beginning of the file, or a known-good boundary
/// (the writer rescans only what other processes appended since it last looked).
#[derive(Debug, Clone, Copy, Default)]
pub struct Position {
    /// Byte offset of a line start.
    pub offset: u64,
    /// Lines before that offset.
    pub line: u64,
    /// Seq of the last record before that offset, if any.
    pub prev_seq: Option<u64>,
}

/// Everything a scan learned about a log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The header, when line 1 is a valid one.
    pub header: Option<Header>,
    /// An end record was found.
    pub ended: bool,
    /// Valid message records.
    pub messages: u64,
    /// Valid message records of role `user`.
    pub user_messages: u64,
    /// Valid message records of role `agent`.
    pub agent_messages: u64,
    /// Message records handed to the caller under the recovery mode.
    pub delivered: u64,
    /// Valid tool call records.
    pub tool_calls: u64,
    /// Valid tool call records marked `error`.
    pub tool_errors: u64,
    /// Valid handoff records.
    pub handoffs: u64,
    /// Seq of the first valid message.
    pub first_seq: Option<u64>,
    /// Seq of the last valid record (message or end).
    pub last_seq: Option<u64>,
    /// Time of the first valid message.
    pub first_ts: Option<String>,
    /// Time of the last valid message.
    pub last_ts: Option<String>,
    /// Every damaged line, in file order.
    pub damage: Vec<Damage>,
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub file_len: u64,
    /// End of the last valid line: where a torn tail starts.
    pub valid_len: u64,
}

impl Report {
    /// Bytes in the torn tail, if there is one.
    pub fn torn_bytes(&self) -> Option<u64> {
        self.damage
            .iter()
            .any(|d| d.kind == DamageKind::TornTail)
            .then(|| self.file_len - self.valid_len)
    }

    /// Damage other than a torn tail.
    pub fn mid_file_damage(&self) -> impl Iterator<Item = &Damage> {
        self.damage
            .iter()
            .filter(|d| d.kind != DamageKind::TornTail)
    }

    /// True when nothing at all is damaged.
    pub fn is_intact(&self) -> bool {
        self.damage.is_empty()
    }
}

/// Reads lines with a reused buffer and a length cap.
///
/// A line that lies whole in the reader's buffer is handed out in place,
/// without a copy; its bytes are consumed from the reader at the next call.
/// Only a line that straddles a refill is copied into the reused buffer.
pub struct Lines<R> {
    r: R,
    buf: Vec<u8>,
    offset: u64,
    line: u64,
    /// Bytes of the line last returned in place, still to be consumed.
    pending: usize,
}

/// One line read by [`Lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of its first byte.
    pub offset: u64,
    /// Bytes it takes in the file, newline included.
    pub len: u64,
    /// It ends with a newline.
    pub complete: bool,
    /// It was longer than the cap; its bytes were not kept.
    pub too_long: bool,
}

impl<R: BufRead> Lines<R> {
    /// Reads from `r`, which is positioned at `pos`.
    pub fn new(r: R, pos: Position) -> Lines<R> {
        Lines {
            r,
            buf: Vec::with_capacity(1024),
            offset: pos.offset,
            line: pos.line,
            pending: 0,
        }
    }

    /// Offset after the last line returned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next line (without its newline) and where it was, or `None` at end of input.
    pub fn next_line(&mut self) -> io::Result<Option<(LineInfo, &[u8])>> {
        if self.pending > 0 {
            self.r.consume(self.pending);
            self.pending = 0;
        }
        // In place: the whole line, newline included, is already buffered.
        let whole = loop {
            match self.r.fill_buf() {
                Ok(a) => break memchr::memchr(b'\n', a).filter(|&i| i <= MAX_LINE_BYTES),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(i) = whole {
            self.pending = i + 1;
            self.line += 1;
            let info = LineInfo {
                line: self.line,
                offset: self.offset,
                len: self.pending as u64,
                complete: true,
                too_long: false,
            };
            self.offset += self.pending as u64;
            // The buffer is not empty, so this returns it again without reading.
            let avail = self.r.fill_buf()?;
            return Ok(Some((info, &avail[..i])));
        }
        self.buf.clear();
        let mut len = 0u64;
        let mut too_long = false;
        let complete = loop {
            let avail = match self.r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if len == 0 {
                    return Ok(None);
                }
                break false;
            }
            let (take, found) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i, true),
                None => (avail.len(), false),
            };
            if !too_long && self.buf.len() + take <= MAX_LINE_BYTES {
                self.buf.extend_from_slice(&avail[..take]);
            } else {
                too_long = true;
                self.buf.clear();
            }
            let used = take + usize::from(found);
            self.r.consume(used);
            len += used as u64;
            if found {
                break true;
            }
        };
        self.line += 1;
        let info = LineInfo {
            line: self.line,
            offset: self.offset,
            len,
            complete,
            too_long,
        };
        self.offset += len;
        Ok(Some((info, &self.buf)))
    }
}

/// Decodes one line as read by [`Lines`].
pub fn decode_line<'a>(info: &LineInfo, bytes: &'a [u8]) -> Result<Record<'a>, LineError> {
    if info.too_long {
        Err(LineError::TooLong)
    } else if !info.complete {
        Err(LineError::Incomplete)
    } else {
        line::decode(bytes)
    }
}

/// Scans a whole log from the start, handing each record the mode accepts
/// to `visit`, and returns the full report, or the damage the mode does not
/// accept as an [`Error::Damaged`]. `path` is only used in messages.
pub fn scan<R, F>(path: &Path, r: R, mode: Recovery, visit: F) -> Result<Report>
where
    R: BufRead,
    F: FnMut(&Record<'_>) -> Result<()>,
{
    scan_from(path, r, Position::default(), mode, visit)
}

/// Scans from `pos`, handing each record the mode accepts to `visit`, and
/// returns the full report, or the damage the mode does not accept as an
/// [`Error::Damaged`]. `path` is only used in messages.
pub fn scan_from<R, F>(
    path: &Path,
    r: R,
    pos: Position,
    mode: Recovery,
    mut visit: F,
) -> Result<Report>
where
    R: BufRead,
    F: FnMut(&Record<'_>) -> Result<()>,
{
    let mut lines = Lines::new(r, pos);
    let mut judge = Judge::new(pos, mode);
    while let Some((info, bytes)) = lines.next_line().map_err(|e| Error::io(path, "read", e))? {
        if let Some(rec) = judge.line(path, &info, bytes)? {
            visit(&rec)?;
        }
    }
    judge.finish(path, lines.offset())
}

/// The scan's judgement, one line at a time: what is damaged (a bad line
/// waits in `pending` until the next valid line or the end of the file says
/// which kind it is), which records the recovery mode delivers, and the
/// report. [`scan_from`] drives it with a visitor; an iterator such as
/// [`Messages`](super::messages::Messages) drives it one record at a time.
pub(crate) struct Judge {
    mode: Recovery,
    report: Report,
    pending: Vec<Damage>,
    prev_seq: Option<u64>,
    delivering: bool,
    any_valid: bool,
    first_problem: Option<String>,
    from_start: bool,
}

impl Judge {
    /// Judges lines read from `pos` on under `mode`.
    pub(crate) fn new(pos: Position, mode: Recovery) -> Judge {
        Judge {
            mode,
            report: Report {
                valid_len: pos.offset,
                ..Report::default()
            },
            pending: Vec::new(),
            prev_seq: pos.prev_seq,
            delivering: true,
            any_valid: false,
            first_problem: None,
            from_start: pos.offset == 0,
        }
    }

    /// Judges the next line: the record to hand on, if the mode delivers
    /// it. `path` is only used in messages.
    pub(crate) fn line<'a>(
        &mut self,
        path: &Path,
        info: &LineInfo,
        bytes: &'a [u8],
    ) -> Result<Option<Record<'a>>> {
        self.report.lines += 1;
        let rec = match decode_line(info, bytes) {
            Ok(rec) => rec,
            Err(e) => {
                if self.first_problem.is_none() {
                    self.first_problem = Some(e.to_string());
                }
                self.pending
                    .push(damage(info, DamageKind::TornTail, e.to_string()));
                if self.mode != Recovery::SkipCorrupt {
                    self.delivering = false;
                }
                return Ok(None);
            }
        };
        self.any_valid = true;
        let bad_between = !self.pending.is_empty();
        for mut d in self.pending.drain(..) {
            d.kind = DamageKind::Corrupt;
            self.report.damage.push(d);
        }

        let seq = rec.seq();
        let problem = match &rec {
            Record::Header(h) if self.from_start && info.line == 1 => {
                if h.version != crate::record::FORMAT_VERSION {
                    return Err(Error::NotALog {
                        path: path.to_path_buf(),
                        reason: format!(
                            "format version {} (this build reads version {})",
                            h.version,
                            crate::record::FORMAT_VERSION
                        ),
                    });
                }
                self.report.header = Some(h.clone());
                None
            }
            Record::Header(_) => Some((
                DamageKind::Corrupt,
                "a header after line 1".to_string(),
                true,
            )),
            _ if self.from_start && info.line == 1 => Some((
                DamageKind::MissingHeader,
                "line 1 is not a header".to_string(),
                false,
            )),
            _ if self.report.ended => Some((
                DamageKind::AfterEnd,
                "record after the end record".to_string(),
                true,
            )),
            _ => match self.prev_seq {
                Some(p) if seq <= p => Some((
                    DamageKind::SeqRegression {
                        previous: p,
                        found: seq,
                    },
                    format!("seq {seq} does not follow {p}"),
                    true,
                )),
                Some(p) if seq != p + 1 && !bad_between => Some((
                    DamageKind::SeqGap {
                        expected: p + 1,
                        found: seq,
                    },
                    if seq == p + 2 {
                        format!("seq {} is missing (seq {seq} follows {p})", p + 1)
                    } else {
                        format!(
                            "seqs {}–{} are missing (seq {seq} follows {p})",
                            p + 1,
                            seq - 1
                        )
                    },
                    false,
                )),
                _ => None,
            },
        };
        if let Some((kind, reason, skip_record)) = problem {
            self.report.damage.push(damage(info, kind, reason));
            if self.mode != Recovery::SkipCorrupt {
                self.delivering = false;
            }
            if skip_record {
                return Ok(None);
            }
        }
        if bad_between && self.mode != Recovery::SkipCorrupt {
            self.delivering = false;
        }

        self.prev_seq = Some(seq);
        self.report.valid_len = info.offset + info.len;
        self.report.last_seq = Some(seq);
        match &rec {
            Record::Message(m) => {
                self.report.messages += 1;
                match m.role {
                    crate::record::Role::User => self.report.user_messages += 1,
                    crate::record::Role::Agent => self.report.agent_messages += 1,
                }
                if self.report.first_seq.is_none() {
                    self.report.first_seq = Some(seq);
                    self.report.first_ts = Some(m.ts.to_string());
                }
                // Reuse the string: this runs for every message of the log.
                match &mut self.report.last_ts {
                    Some(last) => {
                        last.clear();
                        last.push_str(&m.ts);
                    }
                    None => self.report.last_ts = Some(m.ts.to_string()),
                }
            }
            Record::Tool(t) => {
                self.report.tool_calls += 1;
                self.report.tool_errors += u64::from(t.error);
            }
            Record::Handoff(_) => self.report.handoffs += 1,
            Record::End { .. } => self.report.ended = true,
            Record::Header(_) => {}
        }
        if !self.delivering {
            return Ok(None);
        }
        if matches!(rec, Record::Message(_)) {
            self.report.delivered += 1;
        }
        Ok(Some(rec))
    }

    /// The report once the input ended at `file_len`, or the damage the
    /// mode does not accept as an [`Error::Damaged`].
    pub(crate) fn finish(self, path: &Path, file_len: u64) -> Result<Report> {
        let mut report = self.report;
        let mut pending = self.pending;
        let mode = self.mode;
        report.damage.append(&mut pending);
        report.file_len = file_len;

        if self.from_start && !self.any_valid {
            return Err(Error::NotALog {
                path: path.to_path_buf(),
                reason: match self.first_problem {
                    None => "the file is empty".into(),
                    Some(why) => format!("no valid record in it (line 1: {why})"),
                },
            });
        }
        let unacceptable = match mode {
            Recovery::Absolute => report.damage.first(),
            Recovery::TolerateTail => report.mid_file_damage().next(),
            Recovery::PointInTime | Recovery::SkipCorrupt => None,
        };
        if let Some(d) = unacceptable {
            return Err(Error::Damaged {
                path: path.to_path_buf(),
                line: d.line,
                offset: d.offset,
                reason: format!(
                    "{}: {} (recovery mode {mode}; see `convlog verify`)",
                    d.kind.name(),
                    d.reason
                ),
            });
        }
        Ok(report)
    }
}

fn damage(info: &LineInfo, kind: DamageKind, reason: String) -> Damage {
    Damage {
        line: info.line,
        offset: info.offset,
        len: info.len,
        kind,
        reason,
    }
}

/// Opens `path` (not following symlinks) and scans it.
pub fn scan_file<F>(path: &Path, mode: Recovery, visit: F) -> Result<Report>
where
    F: FnMut(&Record<'_>) -> Result<()>,
{
    let file = crate::fs::open_read(path)?;
    scan(
        path,
        io::BufReader::with_capacity(1 << 16, file),
        mode,
        visit,
    )
}

/// Scans `path` with [`Recovery::SkipCorrupt`] and no visitor: the full
/// report, for verify and for callers that only want the facts.
///
/// It reads under a shared lock, waiting up to two seconds for one: a live
/// writer holds the exclusive lock only while it writes a batch, so waiting
/// means a batch in flight is never mistaken for a torn tail. A lock held for
/// longer (a stuck process) does not stop the inspection.
pub fn inspect(path: &Path) -> Result<Report> {
    let file = crate::fs::open_read(path)?;
    let locked = crate::fs::try_lock_shared_for(&file, path, std::time::Duration::from_secs(2))?;
    let report = scan(
        path,
        io::BufReader::with_capacity(1 << 16, &file),
        Recovery::SkipCorrupt,
        |_| Ok(()),
    );
    if locked {
        crate::fs::unlock(&file, path);
    }
    report
}
