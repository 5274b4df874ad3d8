//! The one rule for exit codes, and the tracker every command keeps.
//!
//! 0: done and every log read intact. 1: a finding (a damaged log, rejected
//! input, nothing matched). 2: an error (usage, a path that cannot be read,
//! not a log, I/O). A command given several paths goes on after a bad one
//! and answers for the rest; the worst outcome decides the code.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use convlog::{Error, Report};

/// What a command concluded, as a process exit code. Ordered, so the worst wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Ok = 0,
    Finding = 1,
    Error = 2,
}

impl Exit {
    /// Rejected input and damage are findings; everything else is an error.
    pub fn of(e: &Error) -> Exit {
        match e {
            Error::Ended { .. } | Error::Damaged { .. } => Exit::Finding,
            e if e.is_rejected_input() => Exit::Finding,
            _ => Exit::Error,
        }
    }

    /// A log the reader found damaged (a torn tail included) is a finding.
    pub fn of_damage(report: &Report) -> Exit {
        if report.is_intact() {
            Exit::Ok
        } else {
            Exit::Finding
        }
    }

    /// For a command that renders or ships what a log holds (`export`,
    /// `refresh`): a torn tail the recovery mode passed over is a write
    /// that was never acknowledged, so the answer is complete and the
    /// tail is only noted; damage inside the file is a finding.
    pub fn of_salvage(report: &Report) -> Exit {
        if report.mid_file_damage().next().is_none() {
            Exit::Ok
        } else {
            Exit::Finding
        }
    }
}

/// The worst outcome so far. Errors are printed here, once each, as one
/// line on stderr, so no command formats them its own way.
#[derive(Debug, Default)]
pub struct Tracker {
    worst: Option<Exit>,
    /// The files found by scanning a directory (not named by the user): one
    /// that is not a convlog log is a stray, skipped with a note.
    scanned: HashSet<PathBuf>,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Records an outcome without printing anything.
    pub fn record(&mut self, exit: Exit) {
        self.worst = Some(self.code().max(exit));
    }

    /// Records a finding whose explanation the caller printed.
    pub fn finding(&mut self) {
        self.record(Exit::Finding);
    }

    /// Prints an error and records it as [`Exit::of`] classifies it:
    /// rejected input is a finding, anything else an error.
    pub fn error(&mut self, e: &Error) {
        if self.skipped_stray(e) {
            return;
        }
        eprintln!("convlog: {e}");
        self.record(Exit::of(e));
    }

    /// Prints why a path or file could not be read, and records an error
    /// whatever its kind: the command has no answer for it.
    pub fn unreadable(&mut self, e: &Error) {
        if self.skipped_stray(e) {
            return;
        }
        eprintln!("convlog: {e}");
        self.record(Exit::Error);
    }

    /// Notes and passes over a file a directory scan found that is not a
    /// convlog log (`notes.jsonl` beside the logs), so that one stray file
    /// does not turn every scan of its directory into an error. Named
    /// explicitly, the same file is an error. A file that starts like a
    /// convlog line (a log of another format version, or one damaged
    /// throughout) is never a stray.
    fn skipped_stray(&self, e: &Error) -> bool {
        let Error::NotALog { path, reason } = e else {
            return false;
        };
        if !self.scanned.contains(path) || starts_like_a_log(path) {
            return false;
        }
        eprintln!(
            "convlog: skipped {}: not a convlog log ({reason})",
            path.display()
        );
        true
    }

    /// Records what the reader found: damage is a finding.
    pub fn damage(&mut self, report: &Report) {
        self.record(Exit::of_damage(report));
    }

    /// The exit code so far.
    pub fn code(&self) -> Exit {
        self.worst.unwrap_or(Exit::Ok)
    }

    /// The logs the paths name, each expanded as
    /// [`find_logs`](convlog::read::find_logs) does. A path that cannot
    /// be read is reported and skipped, so one typo does not hide the answer
    /// for the others (as ripgrep and fd do). A directory without logs is
    /// noted on stderr and is not an error.
    pub fn expand(&mut self, paths: &[PathBuf]) -> Vec<PathBuf> {
        let mut logs = Vec::new();
        for p in paths {
            match convlog::read::find_logs(std::slice::from_ref(p)) {
                Ok(found) if found.is_empty() => {
                    eprintln!("convlog: no logs found in {}", p.display());
                }
                Ok(found) => {
                    if std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
                        for log in &found {
                            note_non_utf8_name(log);
                        }
                        self.scanned.extend(found.iter().cloned());
                    }
                    logs.extend(found)
                }
                Err(e) => self.unreadable(&e),
            }
        }
        logs
    }
}

/// Says on stderr that a log a directory scan found has a file name that
/// is not UTF-8: the command reads it like any other, but shows its name
/// with U+FFFD in place of those bytes, so the exact name is given here,
/// as `convlog ship` gives it (quoted, those bytes as `\xNN`).
fn note_non_utf8_name(log: &Path) {
    if let Some(name) = log.file_name().filter(|n| n.to_str().is_none()) {
        eprintln!(
            "convlog: note: {}: the file name is not UTF-8 (exactly {name:?}); it is shown with U+FFFD in place of the bytes that are not",
            log.display()
        );
    }
}

/// Whether `path` begins as every convlog line does (`{"crc":"`).
fn starts_like_a_log(path: &Path) -> bool {
    let mut head = [0u8; convlog::line::PREFIX_HEAD.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == convlog::line::PREFIX_HEAD)
}
