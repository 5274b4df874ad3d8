//! Taking a log's exclusive lock, and saying so when another process makes
//! the wait long: a caller stuck behind a lock is not left wondering.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::lock;
use crate::error::{Error, Result};

/// A lock wait this long is announced.
const LOCK_NOTICE: Duration = Duration::from_secs(1);

/// Takes the exclusive lock. A wait longer than a second is announced
/// (at WARN, which the CLI prints on stderr), so that a caller stuck
/// behind another process's lock is not left wondering.
///
/// Without a timeout the wait is a blocking `flock`, woken by the kernel
/// the moment the lock is free, and the notice comes from a watcher
/// thread. Polling with sleeps instead (as a timeout needs) cost several
/// processes appending to one log most of their throughput: a waiter
/// slept up to 20 ms past the moment the lock came free.
pub(super) fn lock_announced(file: &File, path: &Path, timeout: Option<Duration>) -> Result<()> {
    let Some(timeout) = timeout else {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, "lock", e)),
        }
        let _announce = LockWait::start(path);
        return file.lock().map_err(|e| Error::io(path, "lock", e));
    };
    if timeout <= LOCK_NOTICE {
        return crate::fs::lock_exclusive(file, path, Some(timeout));
    }
    let start = Instant::now();
    match crate::fs::lock_exclusive(file, path, Some(LOCK_NOTICE)) {
        Err(Error::LockTimeout { .. }) => {}
        done => return done,
    }
    tracing::warn!(
        target: "convlog",
        "{}: waiting for the lock, held by another process (giving up after {:.1} s)",
        path.display(), timeout.as_secs_f64()
    );
    let rest = timeout.saturating_sub(start.elapsed());
    match crate::fs::lock_exclusive(file, path, Some(rest)) {
        Err(Error::LockTimeout { path, .. }) => Err(Error::LockTimeout {
            path,
            waited: start.elapsed(),
        }),
        done => done,
    }
}

/// A blocking lock wait in progress, registered so the watcher thread can
/// announce it once it passes [`LOCK_NOTICE`]. Dropping it ends the wait.
struct LockWait(u64);

#[derive(Default)]
struct Waits {
    next: u64,
    /// (id, log, since, announced)
    list: Vec<(u64, PathBuf, Instant, bool)>,
    watcher: bool,
}

fn lock_waits() -> &'static Mutex<Waits> {
    static WAITS: OnceLock<Mutex<Waits>> = OnceLock::new();
    WAITS.get_or_init(Mutex::default)
}

impl LockWait {
    fn start(path: &Path) -> LockWait {
        let mut w = lock(lock_waits());
        w.next += 1;
        let id = w.next;
        w.list.push((id, path.to_path_buf(), Instant::now(), false));
        // One watcher per process, started by the first wait that ever
        // blocks; if it cannot start, waits simply go unannounced.
        if !w.watcher {
            w.watcher = std::thread::Builder::new()
                .name("convlog-lock-notice".into())
                .spawn(watch_lock_waits)
                .is_ok();
        }
        LockWait(id)
    }
}

impl Drop for LockWait {
    fn drop(&mut self) {
        lock(lock_waits()).list.retain(|w| w.0 != self.0);
    }
}

fn watch_lock_waits() {
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let mut w = lock(lock_waits());
        for (_, path, since, announced) in w.list.iter_mut() {
            if !*announced && since.elapsed() >= LOCK_NOTICE {
                *announced = true;
                tracing::warn!(
                    target: "convlog",
                    "{}: waiting for the lock, held by another process",
                    path.display()
                );
            }
        }
    }
}
