//! The one streaming scanner behind export, verify, messages, the export
//! stamp and the writer's own tail check (opening a log to scan it is
//! `checked`'s job).
//!
//! It reads line by line with a reused buffer, so memory stays bounded by the
//! longest line, not the log. A bad line cannot be classified when it is
//! read: it is a *torn tail* if nothing valid follows it and a *corrupt
//! record* if something does. So bad lines wait in `pending` until the next
//! valid line (then they are corrupt) or the end of the file (then they are
//! the torn tail). The recovery mode only decides which records reach the
//! caller and whether the result is an error; the report is always complete.

use std::io::BufRead;
use std::path::Path;

use super::judge::Judge;
use super::lines::Lines;
use super::report::{Position, Recovery, Report};
use crate::error::{Error, Result};
use crate::record::Record;

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
