//! How convlog describes a session as JSON: the one vocabulary behind
//! `convlog ls --json`, `stats --json` and `verify --json`, and behind the
//! Python binding's `verify()`, so a script reads a session the same way
//! wherever it meets one.
//!
//! Every answer about one session starts with the keys of [`SessionHead`],
//! in that order (serde keeps a struct's field order, which a `json!` map
//! would sort away); each command adds its own keys after them, as
//! [`VerifyReport`] does for verify.

use std::path::Path;

use serde::Serialize;

use crate::read::{Damage, Report};
use crate::repair::{Repair, advice};
use crate::stats::{State, duration_secs, span};

/// Message counts, the same object wherever `--json` counts messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// User messages.
    pub user: u64,
    /// Agent messages.
    pub agent: u64,
    /// Both.
    pub total: u64,
}

impl Messages {
    /// The counts, with their total.
    pub fn new(user: u64, agent: u64) -> Messages {
        Messages {
            user,
            agent,
            total: user + agent,
        }
    }
}

/// Tool call and handoff counts, beside the message counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tools {
    /// Tool call records.
    pub calls: u64,
    /// Tool calls marked `error`.
    pub errors: u64,
    /// Handoff records.
    pub handoffs: u64,
}

impl Tools {
    /// The counts.
    pub fn new(calls: u64, errors: u64, handoffs: u64) -> Tools {
        Tools {
            calls,
            errors,
            handoffs,
        }
    }
}

/// The keys every `--json` answer about one session starts with, in this
/// order.
#[derive(Debug, Clone, Serialize)]
pub struct SessionHead<'a> {
    /// The log, as given.
    pub path: String,
    /// The session id from the header, if it is intact.
    pub session: Option<&'a str>,
    /// Ended, open or damaged.
    pub state: State,
    /// The first message's time.
    pub start: Option<&'a str>,
    /// The last message's time.
    pub stop: Option<&'a str>,
    /// From the first message to the last.
    pub duration_secs: Option<f64>,
    /// Messages per role.
    pub messages: Messages,
    /// Every damaged line.
    pub damage: &'a [Damage],
    /// After the keys every answer has always started with.
    pub tools: Tools,
}

impl<'a> SessionHead<'a> {
    /// The head for `path` as the reader's `report` describes it.
    pub fn new(path: &Path, report: &'a Report) -> SessionHead<'a> {
        let (start, stop) = span(report);
        SessionHead {
            path: path.display().to_string(),
            session: report.header.as_ref().map(|h| h.session.as_str()),
            state: State::of(report),
            start,
            stop,
            duration_secs: duration_secs(report),
            messages: Messages::new(report.user_messages, report.agent_messages),
            damage: &report.damage,
            tools: Tools::new(report.tool_calls, report.tool_errors, report.handoffs),
        }
    }
}

/// One log as `convlog verify --json` describes it: the session head (the
/// log as it is now), then its seqs, its bytes, the advice on what to do
/// next, and what a repair did (`null` when none was asked for).
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport<'a> {
    /// The keys every session answer starts with.
    #[serde(flatten)]
    pub head: SessionHead<'a>,
    /// First and last seq.
    pub seq: Seqs,
    /// The file's length, how much of it is valid, and the torn tail.
    pub bytes: Bytes,
    /// What to do next, if anything.
    pub advice: Option<String>,
    /// What `--repair` did, and what it found before it acted.
    pub repair: Option<RepairReport<'a>>,
}

impl<'a> VerifyReport<'a> {
    /// The answer for `path`, whose `report` is the log as it is now, and
    /// `repaired`, when a repair ran: what it did and the report it acted on.
    pub fn new(
        path: &Path,
        report: &'a Report,
        repaired: Option<(&'a Repair, &'a Report)>,
    ) -> VerifyReport<'a> {
        VerifyReport {
            head: SessionHead::new(path, report),
            seq: Seqs {
                first: report.first_seq,
                last: report.last_seq,
            },
            bytes: Bytes {
                file: report.file_len,
                valid: report.valid_len,
                torn: report.torn_bytes(),
            },
            advice: advice(path, report, repaired.map(|(rep, _)| rep)),
            repair: repaired.map(|(rep, found)| RepairReport::new(rep, found)),
        }
    }
}

/// First and last seq of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Seqs {
    /// The first message's seq.
    pub first: Option<u64>,
    /// The last valid record's seq.
    pub last: Option<u64>,
}

/// A log's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bytes {
    /// The file's length.
    pub file: u64,
    /// Up to the end of the last valid record.
    pub valid: u64,
    /// The torn tail's length, if there is one.
    pub torn: Option<u64>,
}

/// What a repair did, in the session vocabulary.
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport<'a> {
    /// `none`, `truncated` or `refused`.
    pub action: &'static str,
    /// Bytes cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Where the cut bytes were saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The lines of the mid-file damage a repair refuses to touch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<&'a [u64]>,
    /// The log as the repair found it.
    pub found: Found<'a>,
}

impl<'a> RepairReport<'a> {
    fn new(rep: &'a Repair, found: &'a Report) -> RepairReport<'a> {
        let mut j = RepairReport {
            action: "none",
            bytes: None,
            backup: None,
            lines: None,
            found: Found {
                state: State::of(found),
                damage: &found.damage,
            },
        };
        match rep {
            Repair::Clean => {}
            Repair::Truncated { bytes, backup } => {
                j.action = "truncated";
                j.bytes = Some(*bytes);
                j.backup = Some(backup.display().to_string());
            }
            Repair::Refused { lines } => {
                j.action = "refused";
                j.lines = Some(lines);
            }
        }
        j
    }
}

/// What a repair found before it acted.
#[derive(Debug, Clone, Serialize)]
pub struct Found<'a> {
    /// The state it found.
    pub state: State,
    /// The damage it found.
    pub damage: &'a [Damage],
}
