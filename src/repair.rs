//! Repair: cut a torn tail, keeping the cut bytes, and nothing else.
//!
//! A torn tail is what an interrupted write leaves; cutting it loses nothing
//! that was ever acknowledged. Mid-file corruption is different: the bytes
//! changed after they were acknowledged, and no automatic fix is right, so
//! repair refuses and points at `--recovery skip-corrupt` instead.
//!
//! ```
//! use std::io::Write;
//! use convlog::repair::{Repair, repair};
//! use convlog::{Message, Session};
//!
//! let dir = tempfile::tempdir()?;
//! let log = Session::create(dir.path())?;
//! log.append_blocking(Message::user("Hi!", "deepgram_stt"))?;
//! let path = log.path().to_path_buf();
//! drop(log);
//! // What a write cut short by a crash leaves: half a line.
//! std::fs::OpenOptions::new().append(true).open(&path)?.write_all(b"{\"crc\":\"0a1b")?;
//!
//! let (done, _report) = repair(&path, None)?;
//! let Repair::Truncated { bytes, backup } = done else { panic!("{done:?}") };
//! assert_eq!(bytes, 12);
//! assert_eq!(std::fs::read(backup)?, b"{\"crc\":\"0a1b");
//! assert!(convlog::read::inspect(&path)?.is_intact());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::log::recover;
use crate::read::{Position, Report};

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
    let file = crate::fs::open_rw(log)?;
    crate::fs::lock_exclusive(&file, log, lock_timeout)?;
    let result = repair_locked(log, &file);
    crate::fs::unlock(&file, log);
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

/// What to run next for a log in the state `r` describes, in the words
/// `convlog verify` and the Python binding's `verify` both print: salvage
/// around mid-file damage, or cut a torn tail (unless `repair` already did).
/// `None` when there is nothing to do.
pub fn advice(path: &Path, r: &Report, repair: Option<&Repair>) -> Option<String> {
    let p = path.display();
    if r.mid_file_damage().next().is_some() {
        let skipped: Vec<String> = r
            .mid_file_damage()
            .filter(|d| d.skips_record())
            .map(|d| d.line.to_string())
            .collect();
        let missing: Vec<String> = r.damage.iter().filter_map(|d| d.missing_seqs()).collect();
        let mut s = if skipped.is_empty() {
            format!(
                "`convlog export --recovery skip-corrupt {p}` exports all {} message{}",
                r.messages,
                if r.messages == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "`convlog export --recovery skip-corrupt {p}` salvages all but line{} {}",
                if skipped.len() == 1 { "" } else { "s" },
                skipped.join(", ")
            )
        };
        if !missing.is_empty() {
            s.push_str(&format!(
                "; {} never reached this file or was removed from it",
                missing.join(", ")
            ));
        }
        s.push_str("; --repair never touches mid-file damage");
        return Some(s);
    }
    match (r.torn_bytes(), repair) {
        (Some(_), Some(Repair::Truncated { .. })) => None,
        (Some(bytes), _) => Some(format!(
            "`convlog verify --repair {p}` is safe: only a torn tail was found \
             (what an interrupted write leaves); the {bytes} bytes are kept in {}",
            recover::next_broken_path(path).display()
        )),
        (None, _) => None,
    }
}
