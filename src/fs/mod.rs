//! The ground floor every other module stands on: the durability rules for
//! files and directories, and every name convlog gives a file.
//!
//! Writing files beside a log follows the rules logs follow: tmp → fsync →
//! rename → fsync(dir), so a reader sees the old file or the new one, never
//! a mix, and a crash never leaves half a file in its place. That much is
//! public ([`write_atomic`], [`write_atomic_as`], [`ensure_shared_dir`]) so
//! that a tool writing beside a log can keep the same promise.
//!
//! Kept apart from the codec and the writer (as etcd keeps `fileutil` apart
//! from its WAL, and fjall its `file.rs` at the crate root) so that the
//! durability rules live in one place and nothing here knows what a record is:
//! - `open`: no-follow opens of regular files (and of the files beside a
//!   log, which may be links), new files 0600;
//! - `dir`: directories created 0700 and fsynced into their parents;
//! - `atomic`: replacing a file whole;
//! - `lock`: the `flock` discipline between the writer and readers;
//! - `layout`: every file name, and the parse of a log's name.

mod atomic;
mod dir;
pub(crate) mod layout;
mod lock;
mod open;

pub(crate) use atomic::write_atomic_with;
pub use atomic::{NewFileMode, write_atomic, write_atomic_as};
pub use dir::ensure_shared_dir;
pub(crate) use dir::{ensure_dir, sync_dir};
#[cfg(any(feature = "postgres", feature = "serve"))]
pub(crate) use layout::non_utf8_name;
pub(crate) use layout::parent_dir;
pub(crate) use lock::{lock_exclusive, same_file, try_lock_shared_for, unlock};
pub(crate) use open::{create_new, open_append, open_beside, open_read, open_rw};
