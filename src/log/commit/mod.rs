//! The commit path: batching, the file lock, the tail check, write and sync.
//!
//! No thread belongs to a log. Requests go into the log's queue, and whoever
//! finds nobody committing becomes the *leader* (RocksDB's `WriteThread`,
//! LevelDB's writer queue): it takes everything queued, assigns seqs under
//! the exclusive lock, and does one `write` and one `fdatasync` for the whole
//! group (group commit). Requests queued meanwhile form the next group.
//!
//! Who leads depends on the caller. A blocking caller (the CLI, a Python
//! binding with the GIL released) leads on its own thread, so a lone caller
//! pays no hand-off at all; a blocking caller that finds a commit in flight
//! waits for it and then either has its answer or leads the next group. An
//! async caller must never hold a tokio worker through `fdatasync`, so when
//! it finds nobody committing it hands the log to a small process-wide pool
//! (one hand-off there, one completion back). The pool is bounded, so a process
//! with thousands of open logs has a few dozen writing threads, and different
//! logs' fdatasyncs still overlap on the disk.
//!
//! Seqs are assigned under the lock and not by callers because several
//! processes may append to one file: only there is the true last seq known.

//!
//! One job per file, in the order a request travels: `request` (what a
//! handle asks), `reply` (the slot its answer comes back through), `state`
//! (what handles and the committer share, and the spares they recycle),
//! `leader` (the queue, and who commits it), `pool` (the threads that lead
//! for async callers), `affinity` (keeping those off an event loop's CPU),
//! `writer` (one group's lock, write and sync),
//! `lock_notice` (announcing a long lock wait) and `hooks` (the disk seam
//! tests inject faults through).

use std::sync::Mutex;

mod affinity;
mod hooks;
mod leader;
mod lock_notice;
mod pool;
mod reply;
mod request;
mod state;
mod writer;

#[cfg(feature = "__test_hooks")]
pub use hooks::{IoHooks, RealIo};
#[cfg(not(feature = "__test_hooks"))]
pub(crate) use hooks::{IoHooks, RealIo};
pub(crate) use leader::{Log, open};
pub use pool::{MAX_POOL_THREADS, pool_threads};
pub(crate) use reply::{Answer, reply_pair};
pub(crate) use request::{Echo, Parts, Request, Rules};
pub(crate) use state::LogState;
pub(crate) use writer::CommitOptions;

/// Locks a mutex, recovering from poisoning: a panic elsewhere cannot leave
/// the data behind these mutexes half-updated in a way that matters (plain
/// options and queues whose every step is a single push or pop).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
