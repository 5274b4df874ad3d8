//! Seams for the fuzz targets in `fuzz/` (the hidden `__fuzz` feature: not
//! API, no stability promise). Most parsers of untrusted bytes are public
//! already and the targets call them as any user would (`line::decode`,
//! `read::scan`, `repair::repair`, `import::parse_original`,
//! `Message::from_json`, `time::parse_ts`, `time::parse_time`). What is here
//! is crate-private, and a target needs it either to reach a parser users
//! only meet through a command (the shipper's reader), or as the second
//! opinion it checks a fast path against. Each function exposes one such
//! thing, no more, and the library's own modules never call this one.

use chrono::{DateTime, FixedOffset};

use crate::error::Result;
use crate::line::LineError;
use crate::record::Record;

/// A line that passed [`line::check`](crate::line::check), through both
/// decoders: the fast path's record (`None` when it declines the line) and
/// the general `serde_json` decoder's answer. Whenever the fast path
/// answers, the two must agree.
pub fn decode_both(line: &[u8]) -> (Option<Record<'_>>, Result<Record<'_>, LineError>) {
    crate::line::decode_both(line)
}

/// RFC 3339, or a naive date-time read as local time (`import`): the
/// instant, and whether the text was naive.
pub fn rfc3339_or_local(s: &str) -> Option<(DateTime<FixedOffset>, bool)> {
    crate::time::parse_rfc3339_or_local(s)
}

/// A producer's timestamp as `ingest` stores it.
pub fn input_timestamp(ts: &str) -> Result<String> {
    crate::time::parse_input_ts(ts.to_string())
}

/// A stored timestamp's wall clock as the export writes it, through the
/// export's fast path; and through a full parse (`None` when the text does
/// not parse). When both answer, they must agree.
pub fn wall_clock_both(ts: &str) -> (Result<String>, Option<String>) {
    let fast = crate::time::wall_clock_of(ts).map(|c| c.into_owned());
    let full = crate::time::parse_ts(ts)
        .ok()
        .map(|t| crate::time::wall_clock(&t));
    (fast, full)
}

/// What one pass of the shipper's reader over one log file hands the
/// database side, with no database: the seqs of the message rows it encoded
/// (in order), its notes and damage reports, and whether it reported the
/// file unreadable. `redact` turns every redaction kind on, as
/// `convlog ship --redact all` does.
#[cfg(feature = "postgres")]
pub fn ship_read_once(
    log: &std::path::Path,
    recovery: crate::Recovery,
    redact: bool,
) -> (Vec<u64>, Vec<String>, bool) {
    use crate::ship::read::{Item, ReadOptions, run};
    let opts = ReadOptions {
        done: Default::default(),
        resume: Default::default(),
        recovery,
        follow: false,
        poll: std::time::Duration::ZERO,
        notify: false,
        batch_rows: 1000,
        redact: if redact {
            crate::redact::Policy::all()
        } else {
            crate::redact::Policy::none()
        },
    };
    // Room for every item one pass can send, so the reader never waits on
    // this thread, which drains the channel only after it returns.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1 << 20);
    run(vec![log.to_path_buf()], opts, crate::ship::Stop::new(), tx);
    let (mut seqs, mut notes, mut unreadable) = (Vec::new(), Vec::new(), false);
    while let Ok(item) = rx.try_recv() {
        match item {
            Item::Batch(segs) => seqs.extend(segs.iter().flat_map(|s| s.seqs.iter().copied())),
            Item::Damaged { detail, .. } | Item::Note { detail, .. } => notes.push(detail),
            Item::Resumed => {}
            Item::Unreadable { detail, .. } => {
                unreadable = true;
                notes.push(detail);
            }
        }
    }
    (seqs, notes, unreadable)
}
