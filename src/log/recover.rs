//! Finding where a log stands, and recovering from a torn tail: shared by
//! opening a session, the commit path and `repair`.
//!
//! A crashed writer can leave a partial last line. Both the commit path
//! (before it appends after someone else's crash) and `convlog verify
//! --repair` find it with the same scan and cut it the same way: the torn
//! bytes are made durable under `LOG.broken` first, then the log is cut.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::layout;
use crate::read::{DamageKind, Position, Recovery, Report, scan_from};
use crate::record::Record;

/// Scans `file` from `pos` up to `end` (or to its end) with
/// [`Recovery::SkipCorrupt`], for a caller that holds the file's lock (or
/// tried to): the one scan behind opening a log, catching up before a
/// commit, and repair.
pub(crate) fn scan_locked<F>(
    path: &Path,
    file: &File,
    pos: Position,
    end: Option<u64>,
    visit: F,
) -> Result<Report>
where
    F: FnMut(&Record<'_>) -> Result<()>,
{
    let mut f = file;
    f.seek(SeekFrom::Start(pos.offset))
        .map_err(|e| Error::io(path, "seek", e))?;
    match end {
        Some(end) => scan_from(
            path,
            io::BufReader::new(f.take(end.saturating_sub(pos.offset))),
            pos,
            Recovery::SkipCorrupt,
            visit,
        ),
        None => scan_from(
            path,
            io::BufReader::new(f),
            pos,
            Recovery::SkipCorrupt,
            visit,
        ),
    }
}

/// A `known_len` no file has: the first batch's catch-up finds the file
/// "shorter" than that and rescans it from the start, under the exclusive lock.
const UNKNOWN_LEN: u64 = u64::MAX;

/// Where the log stood when it was opened: what the writer starts from.
pub(crate) struct OpenedAt {
    pub len: u64,
    pub lines: u64,
    pub last_seq: u64,
}

/// Reads an existing log to find where it stands, under a shared lock so a
/// concurrent batch is not seen half-written.
///
/// The shared lock is only *tried*: blocking on it would make
/// `Session::open_with` wait forever while another process holds the
/// exclusive lock, ignoring `Options::lock_timeout`. When the
/// lock is busy, the log is read without it and the writer starts from
/// [`UNKNOWN_LEN`], so its first batch rescans the whole file under the
/// exclusive lock (honouring the timeout) before assigning a seq; the
/// lockless read only serves the open-time checks (ended? session id?),
/// whose worst case is an `Error::Ended` from that first batch instead of
/// from `open`.
pub(crate) fn inspect_existing(path: &Path, file: &File) -> Result<(OpenedAt, Report)> {
    let locked = match file.try_lock_shared() {
        Ok(()) => true,
        Err(std::fs::TryLockError::WouldBlock) => false,
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, "lock", e)),
    };
    let result = scan_locked(path, file, Position::default(), None, |_| Ok(()));
    if locked {
        crate::fs::unlock(file, path);
    }
    let report = result?;
    let torn_lines = report
        .damage
        .iter()
        .filter(|d| d.kind == DamageKind::TornTail)
        .count() as u64;
    Ok((
        OpenedAt {
            // A torn tail is left for the first batch to cut under the
            // exclusive lock: `known_len` stops before it, so it is noticed.
            len: if locked {
                report.valid_len
            } else {
                UNKNOWN_LEN
            },
            lines: report.lines - torn_lines,
            last_seq: report.last_seq.unwrap_or(0),
        },
        report,
    ))
}

/// Cuts the bytes from `valid_len` to `len` off `file`, after saving them
/// durably (see [`save_broken`]). The caller holds the exclusive lock and
/// syncs the file afterwards: the commit path through its I/O seam, so a
/// failed sync breaks the writer.
pub(crate) fn cut_torn_tail(path: &Path, file: &File, valid_len: u64, len: u64) -> Result<PathBuf> {
    let mut torn = Vec::with_capacity(len.saturating_sub(valid_len) as usize);
    let mut f = file;
    f.seek(SeekFrom::Start(valid_len))
        .and_then(|_| f.take(len.saturating_sub(valid_len)).read_to_end(&mut torn))
        .map_err(|e| Error::io(path, "read torn tail", e))?;
    let backup = save_broken(path, &torn)?;
    file.set_len(valid_len)
        .map_err(|e| Error::io(path, "truncate torn tail", e))?;
    Ok(backup)
}

/// The name [`save_broken`] would keep torn bytes under now: the first of
/// `LOG.broken`, `LOG.broken.2`, … that does not exist, so advice names the
/// file a repair will write rather than one an earlier repair left.
pub(crate) fn next_broken_path(log: &Path) -> PathBuf {
    (1..=layout::MAX_BROKEN)
        .map(|n| layout::broken_path(log, n))
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| layout::broken_path(log, 1))
}

/// Keeps torn bytes under the first free name of `LOG.broken`,
/// `LOG.broken.2`, …, durable before anything is cut from the log.
///
/// They are written and synced under a temporary name and then hard-linked
/// into place (`link` fails if the name exists, so nothing is overwritten),
/// so a write that fails (a full disk) leaves no empty `LOG.broken` behind.
pub(crate) fn save_broken(log: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let dir = crate::fs::parent_dir(log);
    let first = layout::broken_path(log, 1);
    let tmp = layout::temp_path(dir, &layout::file_name(&first));
    let result = (|| {
        let mut f = crate::fs::create_new(&tmp).map_err(|e| Error::io(&first, "create", e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io(&first, "write", e))?;
        f.sync_all().map_err(|e| Error::io(&first, "fsync", e))?;
        for n in 1..=layout::MAX_BROKEN {
            let candidate = layout::broken_path(log, n);
            match std::fs::hard_link(&tmp, &candidate) {
                Ok(()) => return Ok(candidate),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&candidate, "link backup into place", e)),
            }
        }
        Err(Error::Internal(format!(
            "{}: no free backup name after {} tries; clean up old .broken files",
            log.display(),
            layout::MAX_BROKEN
        )))
    })();
    // The temporary name is only a staging area; removing it is tidy-up.
    let _ = std::fs::remove_file(&tmp);
    let saved = result?;
    crate::fs::sync_dir(dir)?;
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::repair::{Repair, repair};
    use crate::{Message, Options, Session};

    const CHILD_ENV: &str = "CONVLOG_RECOVER_FSIZE_CHILD";

    fn torn_log(dir: &Path) -> PathBuf {
        let opts = Options::default().echo(false).export_on_end(false);
        let s = Session::create_with(dir, opts).unwrap();
        s.append_blocking(Message::user("hello", "test")).unwrap();
        let path = s.path().to_path_buf();
        drop(s);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"seq\":2,\"kind\":\"msg\",\"torn").unwrap();
        path
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Not a test by itself: the child of `repair_on_a_full_disk_leaves_no_empty_backup`,
    /// which runs with no room to write anything. Without the variable it returns at once.
    #[test]
    #[ignore = "the body of a child process, run by repair_on_a_full_disk_leaves_no_empty_backup with --ignored"]
    fn full_disk_child() {
        let Some(log) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        crate::test_support::limit_file_size(0).unwrap();
        let e = repair(Path::new(&log), None).unwrap_err();
        println!("REPAIR FAILED AS EXPECTED: {e}");
    }

    #[test]
    fn repair_on_a_full_disk_leaves_no_empty_backup() {
        let dir = tempfile::tempdir().unwrap();
        let log = torn_log(dir.path());
        let before = std::fs::read(&log).unwrap();
        let listed = names(dir.path());

        let stdout =
            crate::test_support::run_child("log::recover::tests::full_disk_child", CHILD_ENV, &log);
        assert!(stdout.contains("REPAIR FAILED AS EXPECTED"), "{stdout}");

        // Nothing was cut, and no backup (empty or not) and no temporary file was left.
        assert_eq!(std::fs::read(&log).unwrap(), before);
        assert_eq!(names(dir.path()), listed);

        // With room again, the same repair works and keeps the torn bytes.
        let (done, _) = repair(&log, None).unwrap();
        let Repair::Truncated { backup, bytes } = done else {
            panic!("{done:?}");
        };
        assert_eq!(std::fs::read(&backup).unwrap().len() as u64, bytes);
        assert!(backup.to_string_lossy().ends_with(".jsonl.broken"));
    }
}
