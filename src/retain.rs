//! Retention and erasure: which files make up a session, when it last
//! spoke, and removing all of them, never while a writer holds it.
//!
//! A writer takes the log's lock for each batch, not for the session's
//! life, so a session without an end record may have a live writer between
//! two messages: only ended sessions are removed by age, and the lock is
//! held while their files go, so no batch lands in a file being removed.
//!
//! A session's age is the time of its last record (its end record, once
//! ended), read from the log itself, not the file's mtime: a copy, a backup
//! restore or a `touch` changes the mtime of a conversation that took place
//! months ago.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use crate::error::{Error, Result};
use crate::export::Format;
use crate::fs::layout::{export_path, file_name, stamp_path};
use crate::fs::{self as fsutil, parent_dir};
use crate::time::parse_ts;

/// What retention needs to know about one session log.
#[derive(Debug, Clone)]
pub struct SessionAge {
    /// The log.
    pub log: PathBuf,
    /// Its session id, when its header is intact.
    pub session: Option<String>,
    /// Its last record's time (end record, last message, or the header's creation).
    pub last: Option<DateTime<FixedOffset>>,
    /// It has an end record.
    pub ended: bool,
    /// Valid message records in it.
    pub messages: u64,
}

/// Reads `log` once for its id, last record time and message count.
pub fn session_age(log: &Path) -> Result<SessionAge> {
    let s = crate::stats::session_stats(log)?;
    let header = s.report.header.clone();
    let last = s
        .end_ts
        .clone()
        .or_else(|| s.stop().map(str::to_string))
        .or_else(|| header.as_ref().map(|h| h.created.clone()))
        .and_then(|ts| parse_ts(&ts).ok());
    Ok(SessionAge {
        log: log.to_path_buf(),
        session: header.map(|h| h.session),
        last,
        ended: s.report.ended,
        messages: s.report.messages,
    })
}

/// An age as `prune --older-than` takes it: a whole number and a unit,
/// `s`, `m`, `h`, `d` or `w` (`30d`, `12h`, `2w`).
pub fn parse_age(s: &str) -> Result<Duration> {
    let bad = || {
        Error::InvalidInput(format!(
            "{s:?} is not an age: give a whole number and a unit, s, m, h, d or w (e.g. 30d, 12h, 2w)"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(bad)
}

/// Every file of the session whose log is `log` that exists: its exports
/// in each format (`NAME.json`, `.md`, `.txt`, `.csv`, `.srt`, `.vtt`),
/// their stamps, `LOG.broken*` and temporary files left by a crash, and
/// the log itself, last.
pub fn session_files(log: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for f in Format::ALL {
        if f == Format::Jsonl {
            continue;
        }
        let export = log.with_extension(f.extension());
        files.push(stamp_path(&export));
        files.push(export);
    }
    debug_assert!(files.contains(&export_path(log)));
    let dir = parent_dir(log);
    let name = file_name(log);
    let stem = name.trim_end_matches(".jsonl").to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "list", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "list", e))?;
        let other = entry.file_name().to_string_lossy().into_owned();
        let broken = other.starts_with(&format!("{name}.broken"));
        let temp = other.starts_with(&format!(".{stem}.")) && other.contains(".tmp");
        if broken || temp {
            files.push(entry.path());
        }
    }
    files.retain(|p| p.symlink_metadata().is_ok());
    files.sort();
    files.dedup();
    files.push(log.to_path_buf());
    Ok(files)
}

/// Why a session was not removed.
#[derive(Debug)]
pub enum Kept {
    /// A writer holds its lock: the session is open.
    Open,
    /// It has no end record (read under the lock), so a writer may append
    /// to it at any moment; or the file at the path was replaced since it
    /// was opened.
    NotEnded,
    /// Removing it failed.
    Failed(Error),
}

/// Removes every file of the session (see [`session_files`]), the log
/// last, holding the log's lock throughout so that no writer can open it
/// meanwhile; then fsyncs the directory. Returns the files removed.
///
/// Only an ended session is removed, and that is checked again under the
/// lock, on the file the lock is held on, whatever the caller read before:
/// a writer locks per batch, not per session, so a log without an end
/// record is open between two batches.
pub fn remove_session(log: &Path) -> std::result::Result<Vec<PathBuf>, Kept> {
    let file = fsutil::open_read(log).map_err(Kept::Failed)?;
    let _held = hold(&file, log)?;
    if !ended_here(&file, log).map_err(Kept::Failed)? {
        return Err(Kept::NotEnded);
    }
    let files = session_files(log).map_err(Kept::Failed)?;
    let mut removed = Vec::new();
    for f in files {
        match std::fs::remove_file(&f) {
            Ok(()) => removed.push(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Kept::Failed(Error::io(&f, "remove", e))),
        }
    }
    fsutil::sync_dir(parent_dir(log)).map_err(Kept::Failed)?;
    Ok(removed)
}

/// True when `file` (locked by the caller) is still the file at `log` and
/// its last record is an end record.
fn ended_here(file: &File, log: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata().map_err(|e| Error::io(log, "stat", e))?;
    let named = std::fs::symlink_metadata(log).map_err(|e| Error::io(log, "stat", e))?;
    if (held.dev(), held.ino()) != (named.dev(), named.ino()) {
        return Ok(false);
    }
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    let report = crate::read::scan(log, reader, crate::read::Recovery::SkipCorrupt, |_| Ok(()))?;
    Ok(report.ended)
}

/// True when a writer holds `log`'s lock now.
pub fn is_open(log: &Path) -> Result<bool> {
    let file = fsutil::open_read(log)?;
    match hold(&file, log) {
        Ok(_) => Ok(false),
        Err(Kept::Open) => Ok(true),
        Err(Kept::NotEnded) => Ok(false),
        Err(Kept::Failed(e)) => Err(e),
    }
}

/// The log's exclusive lock, taken without waiting, released on drop.
fn hold<'a>(file: &'a File, log: &Path) -> std::result::Result<Held<'a>, Kept> {
    match file.try_lock() {
        Ok(()) => Ok(Held(file)),
        Err(TryLockError::WouldBlock) => Err(Kept::Open),
        Err(TryLockError::Error(e)) => Err(Kept::Failed(Error::io(log, "lock", e))),
    }
}

struct Held<'a>(&'a File);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_age("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_age("2w").unwrap(), Duration::from_secs(14 * 86_400));
        for bad in [
            "",
            "30",
            "d",
            "30x",
            "-3d",
            "3.5d",
            "30 days",
            "99999999999999999999w",
        ] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
