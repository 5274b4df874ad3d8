//! What every handle of a log and whoever commits for it share: the path,
//! the first failures, and the spare reply slots and field buffers recycled
//! between requests so that a steady stream of appends allocates nothing.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::lock;
use super::reply::Slots;

/// Spare buffers kept per log; beyond these, they are freed. Enough for
/// the groups of a burst of messages (a few hundred while one fdatasync
/// runs): a buffer freed here was mostly allocated by the appending thread
/// (an agent's event loop), and freeing it on this one hands its memory
/// back to the allocator, which returns it to the system, for that thread
/// to fault in again, page by page, on its next burst.
const SPARE_BUFS: usize = 512;
/// A field buffer larger than this is freed rather than kept (so the
/// spares of a log stay under 8 MiB, a few hundred KiB for messages of
/// ordinary length).
const SPARE_BUF_MAX: usize = 16 << 10;

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
    /// Field buffers the committer is done with, for the next appends to
    /// encode into.
    pub spare_bufs: Mutex<Vec<Vec<u8>>>,
}

impl LogState {
    pub fn new(path: PathBuf) -> LogState {
        LogState {
            slots: Arc::new(Slots::new(path.clone())),
            path,
            detached_error: Mutex::default(),
            poisoned: Mutex::default(),
            spare_bufs: Mutex::default(),
        }
    }

    pub fn poison_cause(&self) -> Option<String> {
        lock(&self.poisoned).clone()
    }

    /// An empty buffer to encode fields into, reused when one is spare.
    pub fn buffer(&self) -> Vec<u8> {
        lock(&self.spare_bufs).pop().unwrap_or_default()
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
            let mut spare = lock(&self.spare_bufs);
            let room = SPARE_BUFS.saturating_sub(spare.len()).min(bufs.len());
            spare.extend(bufs.drain(..room));
        }
        bufs.clear();
    }
}
