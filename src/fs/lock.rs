//! The `flock` discipline: one writer holds the exclusive lock, readers
//! wait a bounded time for a shared one, and a replaced log is noticed by
//! its (device, inode).

use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Takes the exclusive lock on `file`, waiting forever or up to `timeout`.
pub fn lock_exclusive(file: &File, path: &Path, timeout: Option<Duration>) -> Result<()> {
    let Some(timeout) = timeout else {
        return file.lock().map_err(|e| Error::io(path, "lock", e));
    };
    let start = Instant::now();
    if poll_lock(file, path, timeout, File::try_lock)? {
        return Ok(());
    }
    Err(Error::LockTimeout {
        path: path.to_path_buf(),
        waited: start.elapsed(),
    })
}

/// Tries for up to `timeout` to take a shared lock; `Ok(false)` if a writer
/// held the exclusive lock all that time. Readers use this to wait out a
/// batch in flight without letting a stuck process stop them.
pub fn try_lock_shared_for(file: &File, path: &Path, timeout: Duration) -> Result<bool> {
    poll_lock(file, path, timeout, File::try_lock_shared)
}

fn poll_lock(
    file: &File,
    path: &Path,
    timeout: Duration,
    try_lock: fn(&File) -> Result<(), fs::TryLockError>,
) -> Result<bool> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        match try_lock(file) {
            Ok(()) => return Ok(true),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(Error::io(path, "lock", e)),
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Releases the lock. An unlock failure is logged, not returned: the lock
/// also goes away when the descriptor closes, and the data is already durable.
pub fn unlock(file: &File, path: &Path) {
    if let Err(e) = file.unlock() {
        tracing::warn!(target: "convlog", "{}: unlock failed: {e}", path.display());
    }
}

/// (device, inode) of an open file and of the path, to notice a log that was
/// replaced underneath an open writer.
///
/// `open` is the open file's metadata, which the caller usually needs anyway
/// (the writer also takes the file's length from it), saving an `fstat`.
pub fn same_file(open: &fs::Metadata, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let a = open;
    match fs::symlink_metadata(path) {
        Ok(b) => Ok(a.dev() == b.dev() && a.ino() == b.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, "stat", e)),
    }
}
