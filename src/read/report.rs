//! What a scan reports: the recovery modes that decide what reaches the
//! caller, each damaged line and its kind, and the whole log's facts.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::record::Header;

/// How to treat damage, named after RocksDB's WAL recovery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recovery {
    /// Ignore a torn tail (what a crash leaves); fail on anything else. The default.
    #[default]
    TolerateTail,
    /// Any damage at all is an error.
    Absolute,
    /// Stop before the first damage and succeed with what came before it.
    PointInTime,
    /// Skip bad lines, keep going, and report what was skipped.
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
    /// Messages of role `user`: valid message records, less the later
    /// parts of a message split into several (see [`crate::parts`]).
    pub user_messages: u64,
    /// Messages of role `agent`, counted as `user_messages` are.
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
