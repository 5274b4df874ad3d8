//! What a run reports while it goes ([`Event`]) and what it did in the end
//! ([`Summary`]): the caller decides how to show them.

use std::path::Path;
use std::time::Duration;

/// What happened while shipping, for the caller to report.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The database went away, hung, or refused work for a reason that may
    /// pass; retrying with backoff. Sent once per outage.
    Outage {
        /// Where.
        target: &'a str,
        /// What happened, in words (e.g. "the database's disk is full").
        what: &'static str,
        /// The first error of the outage.
        reason: String,
    },
    /// Shipping resumed after an outage.
    Recovered {
        /// Where.
        target: &'a str,
        /// How long the outage lasted.
        after: Duration,
    },
    /// The database rejected a record. Nothing after it in that session is
    /// shipped from this log in this run; other sessions go on.
    #[allow(missing_docs)] // the fields' names say it
    Rejected {
        log: &'a Path,
        /// Its session id.
        session: &'a str,
        /// The record (0 for the header, i.e. the session row).
        seq: u64,
        /// The database's reason.
        reason: String,
    },
    /// Two copies of one session differ: this log's record `seq` is not the
    /// one the database holds (or `seq` 0: the header's `created`). Nothing
    /// more of the session is shipped from this log.
    #[allow(missing_docs)] // the fields' names say it
    Conflict {
        log: &'a Path,
        session: &'a str,
        /// The copy already shipped: another file of this run, or the
        /// database's row (its `log_name` and `host`).
        other: String,
        /// The first seq that differs.
        seq: u64,
        /// What differs, as a phrase.
        what: String,
    },
    /// Another file holds the same session with identical records (a backup
    /// copy, a log named through two paths): its records were shipped once.
    #[allow(missing_docs)] // the fields' names say it
    Copy {
        log: &'a Path,
        session: &'a str,
        /// The copy already shipped, as for [`Event::Conflict`].
        other: String,
        /// What differs between the two besides the records (the file
        /// name, the host), if anything.
        differs: Option<String>,
    },
    /// Damage in a log, and what `--recovery` made of it.
    #[allow(missing_docs)] // the fields' names say it
    Damaged {
        log: &'a Path,
        /// Where and what, as one sentence.
        detail: String,
    },
    /// Something worth saying about a log that loses nothing (a torn tail
    /// waiting for its writer, a file name that is not UTF-8).
    #[allow(missing_docs)] // the fields' names say it
    Note {
        log: &'a Path,
        /// As one sentence.
        detail: String,
    },
    /// A file that cannot be shipped (not a convlog log, unreadable).
    #[allow(missing_docs)] // the fields' names say it
    Unreadable {
        log: &'a Path,
        /// Why, as one sentence.
        detail: String,
    },
}

/// What a run shipped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Messages inserted.
    pub messages: u64,
    /// Messages found already in the database (same checksum) and skipped.
    pub already: u64,
    /// Logs not read at all: their session is in the database whole and ended.
    pub complete: u64,
    /// Open logs read from just after their last shipped record (the
    /// database holds every record before it), not from the start.
    pub resumed: u64,
    /// Sessions inserted.
    pub sessions: u64,
    /// End records shipped.
    pub ended: u64,
    /// Messages stored with their line kept in `raw`, because a column
    /// could not hold a value exactly (see SHIP.md).
    pub encoded: u64,
    /// Records the database rejected (one per affected session).
    pub rejected: u64,
    /// Sessions whose copies differ.
    pub conflicts: u64,
    /// Logs with damage reported.
    pub damaged: u64,
    /// Files that could not be shipped.
    pub unreadable: u64,
}

impl Summary {
    /// True when nothing was rejected, conflicting, damaged or unreadable.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.conflicts == 0 && self.damaged == 0 && self.unreadable == 0
    }
}
