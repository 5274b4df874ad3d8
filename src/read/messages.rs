//! A log's messages as an iterator of owned values.
//!
//! [`scan`](fn@super::scan) hands borrowed records to a callback, which
//! is what export and verify want: no allocation per record. A caller that
//! keeps messages (a binding, a shipper, a test) wants them by value and in
//! its own loop instead: [`messages`] gives exactly that, judged by the same
//! scanner under the same recovery modes.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use super::checked::{Checked, CheckedBytes, Lock};
use super::judge::Judge;
use super::lines::Lines;
use super::report::{Position, Recovery};
use crate::error::{Error, Result};
use crate::record::{Message, MessageRecord, Record, Role};

/// One message record as stored, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedMessage {
    /// Position in the file's sequence.
    pub seq: u64,
    /// RFC 3339 time as stored.
    pub ts: String,
    /// Who said it.
    pub role: Role,
    /// The text.
    pub content: String,
    /// Producer name.
    pub source: String,
    /// Turn id, if any.
    pub turn: Option<String>,
    /// Cut off while speaking.
    pub interrupted: bool,
    /// Speaker id, if any.
    pub speaker: Option<String>,
    /// Language tag, if any.
    pub lang: Option<String>,
    /// `meta` as the raw JSON object text it was stored as (numbers keep
    /// their exact spelling), if any.
    pub meta: Option<String>,
}

impl LoggedMessage {
    /// Copies a borrowed record.
    pub fn from_record(m: &MessageRecord<'_>) -> LoggedMessage {
        LoggedMessage {
            seq: m.seq,
            ts: m.ts.to_string(),
            role: m.role,
            content: m.content.to_string(),
            source: m.source.to_string(),
            turn: m.turn.as_deref().map(str::to_string),
            interrupted: m.interrupted,
            speaker: m.speaker.as_deref().map(str::to_string),
            lang: m.lang.as_deref().map(str::to_string),
            meta: m.meta.map(|raw| raw.get().to_string()),
        }
    }

    /// The timestamp, parsed.
    pub fn time(&self) -> Result<DateTime<FixedOffset>> {
        crate::time::parse_ts(&self.ts)
    }

    /// The message as a caller would append it again, with its stored time.
    pub fn to_message(&self) -> Result<Message> {
        let meta = match &self.meta {
            Some(raw) => Some(serde_json::from_str(raw).map_err(|e| {
                Error::InvalidInput(format!("meta of record {} is not JSON: {e}", self.seq))
            })?),
            None => None,
        };
        Ok(Message {
            role: self.role,
            content: self.content.clone(),
            source: self.source.clone(),
            turn: self.turn.clone(),
            interrupted: self.interrupted,
            speaker: self.speaker.clone(),
            lang: self.lang.clone(),
            meta,
            timestamp: Some(self.ts.clone()),
        })
    }
}

/// The messages of `log` that `mode` delivers, in file order.
///
/// The whole log is checked first, as the export checks it: a missing file,
/// a non-log or damage the mode refuses is an error here, before the first
/// message, never a short list that looks whole. Then the iterator reads the
/// same open file over exactly the bytes that were checked, one line at a
/// time, so memory stays bounded by the longest line.
///
/// ```no_run
/// for m in convlog::read::messages("conversations/conversation_20250818_143022.jsonl".as_ref(),
///                                  convlog::Recovery::TolerateTail)? {
///     let m = m?;
///     println!("[{}] {}", m.role.tag(), m.content);
/// }
/// # Ok::<(), convlog::Error>(())
/// ```
pub fn messages(log: &Path, mode: Recovery) -> Result<Messages> {
    let bytes = Checked::open(log, mode, Lock::None, |_| Ok(()))?.into_checked_bytes()?;
    Ok(Messages {
        path: log.to_path_buf(),
        lines: Lines::new(bytes, Position::default()),
        judge: Some(Judge::new(Position::default(), mode)),
    })
}

/// The iterator [`messages`] returns. The scanner judges each line again as
/// it goes; should that find an error (only possible if the checked bytes
/// were overwritten in place meanwhile), it is the last item.
pub struct Messages {
    path: PathBuf,
    lines: Lines<CheckedBytes>,
    /// `None` once the verdict is given.
    judge: Option<Judge>,
}

impl Messages {
    fn step(&mut self) -> Result<Option<LoggedMessage>> {
        loop {
            let Some(judge) = self.judge.as_mut() else {
                return Ok(None);
            };
            let next = self
                .lines
                .next_line()
                .map_err(|e| Error::io(&self.path, "read", e))?;
            let Some((info, bytes)) = next else {
                if let Some(judge) = self.judge.take() {
                    judge.finish(&self.path, self.lines.offset())?;
                }
                return Ok(None);
            };
            if let Some(Record::Message(m)) = judge.line(&self.path, &info, bytes)? {
                return Ok(Some(LoggedMessage::from_record(&m)));
            }
        }
    }
}

impl Iterator for Messages {
    type Item = Result<LoggedMessage>;

    fn next(&mut self) -> Option<Result<LoggedMessage>> {
        let next = self.step();
        if next.is_err() {
            // One error, then the end: the bytes after it were not judged.
            self.judge = None;
        }
        next.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::{Kind, end_fields, frame, header_fields, message_fields};
    use crate::record::Header;

    const TS: &str = "2025-08-18T14:30:22.123456+05:30";

    /// A log of `n` messages and an end record, framed by the real encoder.
    fn log_bytes(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let h = Header {
            version: crate::record::FORMAT_VERSION,
            session: "s".into(),
            created: TS.into(),
            redact: None,
        };
        frame(Kind::Header, 0, &header_fields(&h), &mut out);
        for seq in 1..=n {
            let m = Message::user(format!("message {seq}"), "stt")
                .turn(format!("t{seq}"))
                .meta(serde_json::from_str(r#"{"n":1.50}"#).unwrap());
            frame(Kind::Message, seq, &message_fields(&m, TS), &mut out);
        }
        frame(Kind::End, n + 1, &end_fields(TS), &mut out);
        out
    }

    /// Byte range of 1-based line `line`.
    fn line_range(bytes: &[u8], line: usize) -> std::ops::Range<usize> {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        starts[line - 1]..starts[line]
    }

    fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
        let p = dir.join("conversation_20250818_143022.jsonl");
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The seqs `scan` hands to a visitor under `mode`, or its error.
    fn scanned(log: &Path, mode: Recovery) -> std::result::Result<Vec<u64>, String> {
        let mut seqs = Vec::new();
        crate::read::scan_file(log, mode, |rec| {
            if let Record::Message(m) = rec {
                seqs.push(m.seq);
            }
            Ok(())
        })
        .map(|_| seqs)
        .map_err(|e| e.to_string())
    }

    fn iterated(log: &Path, mode: Recovery) -> std::result::Result<Vec<u64>, String> {
        messages(log, mode)
            .and_then(|it| it.map(|m| m.map(|m| m.seq)).collect())
            .map_err(|e| e.to_string())
    }

    const MODES: [Recovery; 4] = [
        Recovery::TolerateTail,
        Recovery::Absolute,
        Recovery::PointInTime,
        Recovery::SkipCorrupt,
    ];

    #[test]
    fn yields_every_message_owned_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = write(dir.path(), &log_bytes(3));
        let all: Vec<LoggedMessage> = messages(&log, Recovery::Absolute)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].seq, 2);
        assert_eq!(all[1].content, "message 2");
        assert_eq!(all[1].turn.as_deref(), Some("t2"));
        assert_eq!(all[1].ts, TS);
        // The stored spelling of a number is kept.
        assert_eq!(all[1].meta.as_deref(), Some(r#"{"n":1.50}"#));
        let again = all[1].to_message().unwrap();
        assert_eq!(again.content, "message 2");
        assert_eq!(again.timestamp.as_deref(), Some(TS));
    }

    /// Every recovery mode delivers through the iterator exactly what it
    /// delivers to a visitor, and refuses exactly what it refuses.
    #[test]
    fn agrees_with_the_scanner_on_damaged_logs() {
        let dir = tempfile::tempdir().unwrap();
        let clean = log_bytes(5);
        let mut corrupt = clean.clone();
        let mid = line_range(&clean, 3);
        corrupt[mid.start + 30] ^= 0x01;
        let mut torn = clean.clone();
        torn.truncate(line_range(&clean, 7).start + 10);
        let mut gap = Vec::new();
        for (i, l) in clean.split_inclusive(|b| *b == b'\n').enumerate() {
            if i != 2 {
                gap.extend_from_slice(l);
            }
        }
        for (name, bytes) in [
            ("clean", &clean),
            ("corrupt", &corrupt),
            ("torn", &torn),
            ("gap", &gap),
        ] {
            let log = write(dir.path(), bytes);
            for mode in MODES {
                assert_eq!(
                    iterated(&log, mode),
                    scanned(&log, mode),
                    "{name} under {mode}"
                );
            }
        }
        // And the cases differ, so the comparison above means something.
        let log = write(dir.path(), &corrupt);
        assert!(iterated(&log, Recovery::TolerateTail).is_err());
        assert_eq!(iterated(&log, Recovery::PointInTime), Ok(vec![1]));
        assert_eq!(iterated(&log, Recovery::SkipCorrupt), Ok(vec![1, 3, 4, 5]));
    }

    #[test]
    fn a_refused_log_fails_before_the_first_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = log_bytes(3);
        let last = line_range(&bytes, 4);
        bytes[last.start + 30] ^= 0x01;
        let log = write(dir.path(), &bytes);
        let err = messages(&log, Recovery::TolerateTail).err().unwrap();
        assert!(err.to_string().contains("line 4"), "{err}");
        std::fs::write(&log, b"not a log\n").unwrap();
        assert!(messages(&log, Recovery::SkipCorrupt).is_err());
    }
}
