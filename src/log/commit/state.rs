//! What every handle of a log and whoever commits for it share: the path,
//! the first failures, and the spare reply slots and field buffers recycled
//! between requests so that a steady stream of appends allocates nothing
//! (the field buffers in one process-wide pool, which outlives the logs).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::lock;
use super::reply::Slots;

/// Spare field buffers kept in the process; beyond these, they are freed.
/// Enough for the groups of a burst of messages (a few hundred while one
/// fdatasync runs), and kept when a log closes: a buffer freed here was
/// mostly allocated by an appending thread (an agent's event loop), and
/// freeing it on the committing thread hands its memory back to the
/// allocator, which returns it to the system, for the appending thread to
/// fault in again, page by page, on its next burst or its next log.
const SPARE_BUFS: usize = 512;
/// A field buffer larger than this is freed rather than kept (so the
/// spares stay under 8 MiB, a few hundred KiB for messages of ordinary
/// length).
const SPARE_BUF_MAX: usize = 16 << 10;

/// The process's spare field buffers.
static SPARE_FIELD_BUFS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// State shared between the handles and whoever commits.
pub(crate) struct LogState {
    pub path: PathBuf,
    /// The first failure of a request nobody awaited, or the one that broke
    /// the writer, for [`Session::last_error`](crate::Session::last_error).
    pub detached_error: Mutex<Option<String>>,
    /// Set once the writer is broken; read by callers to fail fast.
    pub poisoned: Mutex<Option<String>>,
    /// The answer slots awaited requests are answered through.
    pub slots: Arc<Slots>,
}

impl LogState {
    pub fn new(path: PathBuf) -> LogState {
        LogState {
            slots: Arc::new(Slots::new(path.clone())),
            path,
            detached_error: Mutex::default(),
            poisoned: Mutex::default(),
        }
    }

    pub fn poison_cause(&self) -> Option<String> {
        lock(&self.poisoned).clone()
    }

    /// An empty buffer to encode fields into, reused when one is spare.
    pub fn buffer(&self) -> Vec<u8> {
        lock(&SPARE_FIELD_BUFS).pop().unwrap_or_default()
    }

    /// Keeps what it can of `bufs` as spares. The buffers are cleared, and
    /// those not kept freed, outside the lock the appending threads take for
    /// each message: the lock is held for one move per kept buffer.
    pub(super) fn recycle_buffers(&self, bufs: &mut Vec<Vec<u8>>) {
        bufs.retain(|b| b.capacity() <= SPARE_BUF_MAX);
        for b in bufs.iter_mut() {
            b.clear();
        }
        {
            let mut spare = lock(&SPARE_FIELD_BUFS);
            let room = SPARE_BUFS.saturating_sub(spare.len()).min(bufs.len());
            spare.extend(bufs.drain(..room));
        }
        bufs.clear();
    }
}
