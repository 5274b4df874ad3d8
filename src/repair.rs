//! Repair: cut a torn tail, keeping the cut bytes, and nothing else.
//!
//! A torn tail is what an interrupted write leaves; cutting it loses nothing
//! that was ever acknowledged. Mid-file corruption is different: the bytes
//! changed after they were acknowledged, and no automatic fix is right, so
//! repair refuses and points at `--recovery skip-corrupt` instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::log::{fsutil, recover};
use crate::read::scan::{Position, Report};

/// What [`repair`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// Nothing was damaged; the file was not touched.
    Clean,
    /// The torn tail was cut; its bytes are in `backup`.
    #[allow(missing_docs)] // the fields' names say it
    Truncated {
        bytes: u64,
        /// Where the cut bytes were saved (`LOG.broken`, or `LOG.broken.N` if that exists).
        backup: PathBuf,
    },
    /// Mid-file damage was found; the file was not touched.
    Refused {
        /// Line numbers of the damage that is not a torn tail.
        lines: Vec<u64>,
    },
}

/// Repairs `log` under its exclusive lock (waiting up to `lock_timeout`).
/// Running it twice is the same as running it once. Returns what it did and
/// the report of the log as it was before.
pub fn repair(log: &Path, lock_timeout: Option<Duration>) -> Result<(Repair, Report)> {
    let file = fsutil::open_rw(log)?;
    fsutil::lock_exclusive(&file, log, lock_timeout)?;
    let result = repair_locked(log, &file);
    fsutil::unlock(&file, log);
    result
}

fn repair_locked(log: &Path, file: &std::fs::File) -> Result<(Repair, Report)> {
    let report = recover::scan_locked(log, file, Position::default(), None, |_| Ok(()))?;
    let lines: Vec<u64> = report.mid_file_damage().map(|d| d.line).collect();
    if !lines.is_empty() {
        return Ok((Repair::Refused { lines }, report));
    }
    let Some(bytes) = report.torn_bytes() else {
        return Ok((Repair::Clean, report));
    };
    let backup = recover::cut_torn_tail(log, file, report.valid_len, report.valid_len + bytes)?;
    file.sync_all().map_err(|e| Error::io(log, "fsync", e))?;
    Ok((Repair::Truncated { bytes, backup }, report))
}
