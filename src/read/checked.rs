//! The one checked reader: every reader that judges a whole log (export,
//! stats, verify) opens it here, once, and scans it once, so that each
//! follows the same rules: never through a symlink, and under the shared
//! lock when the answer is a verdict on the log.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::report::{Recovery, Report};
use super::scan::scan;
use crate::error::{Error, Result};
use crate::record::{Header, Record};

/// How a checked read treats a live writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Under a shared lock, waiting up to two seconds for one: a live
    /// writer holds the exclusive lock only while it writes a batch, so
    /// waiting means a batch in flight is never mistaken for a torn tail.
    /// A lock held for longer (a stuck process) does not stop the read.
    /// For the readers whose answer is a verdict on the log (verify, stats).
    WaitForBatch,
    /// No lock: a writer never waits for a reader. An export renders only
    /// the bytes its check judged, so a batch in flight is left out of it
    /// as a torn tail, never half-rendered.
    None,
}

/// How long a reader waits for a writer's batch.
const BATCH_WAIT: Duration = Duration::from_secs(2);

/// A log that was opened and scanned once: its file, still open, and what
/// the scan found (the header among it). The lock, if one was taken, is
/// released when the scan ends.
#[derive(Debug)]
pub struct Checked {
    path: PathBuf,
    file: File,
    report: Report,
}

impl Checked {
    /// Opens `path` (not following a symlink), scans it once under `mode`,
    /// handing each record the mode accepts to `visit`, and keeps the file
    /// open; the damage the mode does not accept is an [`Error::Damaged`].
    pub fn open<F>(path: &Path, mode: Recovery, lock: Lock, visit: F) -> Result<Checked>
    where
        F: FnMut(&Record<'_>) -> Result<()>,
    {
        let file = crate::fs::open_read(path)?;
        let locked = match lock {
            Lock::WaitForBatch => crate::fs::try_lock_shared_for(&file, path, BATCH_WAIT)?,
            Lock::None => false,
        };
        let report = scan(
            path,
            io::BufReader::with_capacity(1 << 16, &file),
            mode,
            visit,
        );
        if locked {
            crate::fs::unlock(&file, path);
        }
        Ok(Checked {
            path: path.to_path_buf(),
            file,
            report: report?,
        })
    }

    /// The header on line 1, when it is a valid one.
    pub fn header(&self) -> Option<&Header> {
        self.report.header.as_ref()
    }

    /// What the scan found.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The report, when the file is no longer needed.
    pub fn into_report(self) -> Report {
        self.report
    }

    /// Exactly the bytes the scan judged, to read again from the start of
    /// the same open file: what a writer appended since is not among them,
    /// so a second pass (rendering, iterating) covers what was checked.
    pub fn into_checked_bytes(self) -> Result<CheckedBytes> {
        let Checked {
            path,
            mut file,
            report,
        } = self;
        file.rewind().map_err(|e| Error::io(&path, "seek", e))?;
        Ok(io::BufReader::with_capacity(
            1 << 16,
            file.take(report.file_len),
        ))
    }
}

/// The bytes a [`Checked`] log's scan judged, read again.
pub type CheckedBytes = io::BufReader<io::Take<File>>;

/// Opens `path` (not following symlinks) and scans it, without a lock.
pub fn scan_file<F>(path: &Path, mode: Recovery, visit: F) -> Result<Report>
where
    F: FnMut(&Record<'_>) -> Result<()>,
{
    Checked::open(path, mode, Lock::None, visit).map(Checked::into_report)
}

/// Scans `path` with [`Recovery::SkipCorrupt`] and no visitor, waiting for
/// a writer's batch ([`Lock::WaitForBatch`]): the full report, for verify
/// and for callers that only want the facts.
pub fn inspect(path: &Path) -> Result<Report> {
    Checked::open(path, Recovery::SkipCorrupt, Lock::WaitForBatch, |_| Ok(()))
        .map(Checked::into_report)
}
