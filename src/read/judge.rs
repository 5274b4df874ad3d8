//! The scan's judgement of each line: damaged or not, which kind, whether
//! the recovery mode hands the record on, and what the report counts.

use std::path::Path;

use super::lines::{LineInfo, decode_line};
use super::report::{Damage, DamageKind, Position, Recovery, Report};
use crate::error::{Error, Result};
use crate::record::{FORMAT_VERSION, FORMAT_VERSION_REDACTED, Record, Role};

/// The scan's judgement, one line at a time: what is damaged (a bad line
/// waits in `pending` until the next valid line or the end of the file says
/// which kind it is), which records the recovery mode delivers, and the
/// report. [`scan_from`](super::scan_from) drives it with a visitor; an iterator such as
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
                self.hold(info, e.to_string());
                return Ok(None);
            }
        };
        self.any_valid = true;
        let bad_between = self.settle_pending();
        if let Some(problem) = self.problem(path, info, &rec, bad_between)? {
            self.report
                .damage
                .push(damage(info, problem.kind, problem.reason));
            self.stop_delivering();
            if problem.skip_record {
                return Ok(None);
            }
        }
        if bad_between {
            self.stop_delivering();
        }
        self.count(info, &rec);
        if !self.delivering {
            return Ok(None);
        }
        if matches!(rec, Record::Message(_)) {
            self.report.delivered += 1;
        }
        Ok(Some(rec))
    }

    /// A line that does not decode waits in `pending`: it is the torn tail
    /// unless a valid line follows it.
    fn hold(&mut self, info: &LineInfo, why: String) {
        if self.first_problem.is_none() {
            self.first_problem = Some(why.clone());
        }
        self.pending.push(damage(info, DamageKind::TornTail, why));
        self.stop_delivering();
    }

    /// A valid line came: the bad lines waiting before it were corrupt, not
    /// a torn tail. True if there were any.
    fn settle_pending(&mut self) -> bool {
        let bad_between = !self.pending.is_empty();
        for mut d in self.pending.drain(..) {
            d.kind = DamageKind::Corrupt;
            self.report.damage.push(d);
        }
        bad_between
    }

    /// Every mode but skip-corrupt delivers nothing after the first damage.
    fn stop_delivering(&mut self) {
        if self.mode != Recovery::SkipCorrupt {
            self.delivering = false;
        }
    }

    /// What is wrong with a record that decoded, judged by where it stands:
    /// the header on line 1 (a version this build cannot read is an error,
    /// not damage), a record after the end, a seq out of order.
    fn problem(
        &mut self,
        path: &Path,
        info: &LineInfo,
        rec: &Record<'_>,
        bad_between: bool,
    ) -> Result<Option<Problem>> {
        let first_line = self.from_start && info.line == 1;
        Ok(match rec {
            Record::Header(h) if first_line => {
                if !(FORMAT_VERSION..=FORMAT_VERSION_REDACTED).contains(&h.version) {
                    return Err(Error::NotALog {
                        path: path.to_path_buf(),
                        reason: format!(
                            "format version {} (this build reads versions {FORMAT_VERSION} and {FORMAT_VERSION_REDACTED})",
                            h.version,
                        ),
                    });
                }
                self.report.header = Some(h.clone());
                None
            }
            Record::Header(_) => Some(Problem::skip(
                DamageKind::Corrupt,
                "a header after line 1".to_string(),
            )),
            _ if first_line => Some(Problem {
                kind: DamageKind::MissingHeader,
                reason: "line 1 is not a header".to_string(),
                skip_record: false,
            }),
            _ if self.report.ended => Some(Problem::skip(
                DamageKind::AfterEnd,
                "record after the end record".to_string(),
            )),
            _ => self
                .prev_seq
                .and_then(|prev| seq_problem(prev, rec.seq(), bad_between)),
        })
    }

    /// Counts an accepted record into the report.
    fn count(&mut self, info: &LineInfo, rec: &Record<'_>) {
        let seq = rec.seq();
        self.prev_seq = Some(seq);
        self.report.valid_len = info.offset + info.len;
        self.report.last_seq = Some(seq);
        match rec {
            Record::Message(m) => {
                self.report.messages += 1;
                // The later parts of one message (see `parts`) are not more messages.
                if !crate::parts::marks(m.meta).continues() {
                    match m.role {
                        Role::User => self.report.user_messages += 1,
                        Role::Agent => self.report.agent_messages += 1,
                    }
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

/// Damage found in a record that decoded.
struct Problem {
    kind: DamageKind,
    reason: String,
    /// The record is not counted as the log's next one (a second header, a
    /// record after the end, a seq that goes back); a seq gap or a missing
    /// header still leaves the record itself good.
    skip_record: bool,
}

impl Problem {
    fn skip(kind: DamageKind, reason: String) -> Problem {
        Problem {
            kind,
            reason,
            skip_record: true,
        }
    }
}

/// A seq that goes back, or skips ahead. A gap right after bad lines is not
/// reported: the bad lines are the missing records, already reported as
/// corrupt.
fn seq_problem(prev: u64, seq: u64, bad_between: bool) -> Option<Problem> {
    if seq <= prev {
        return Some(Problem::skip(
            DamageKind::SeqRegression {
                previous: prev,
                found: seq,
            },
            format!("seq {seq} does not follow {prev}"),
        ));
    }
    if seq == prev + 1 || bad_between {
        return None;
    }
    Some(Problem {
        kind: DamageKind::SeqGap {
            expected: prev + 1,
            found: seq,
        },
        reason: if seq == prev + 2 {
            format!("seq {} is missing (seq {seq} follows {prev})", prev + 1)
        } else {
            format!(
                "seqs {}–{} are missing (seq {seq} follows {prev})",
                prev + 1,
                seq - 1
            )
        },
        skip_record: false,
    })
}
