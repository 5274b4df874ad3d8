//! # convlog
//!
//! The conversation log for voice agents: every user and agent message of a
//! session is one checksummed JSON line, appended under an exclusive file lock
//! and fdatasynced before it is acknowledged. Logs survive crashes, can be
//! verified and repaired, and render on demand as the documented
//! `{"conversation": [...]}` JSON of the original design.
//!
//! ```no_run
//! use convlog::{Message, Session};
//!
//! # async fn agent() -> convlog::Result<()> {
//! let log = Session::create("conversations")?;
//! let stt = log.clone(); // one handle for the STT path…
//! let tts = log.clone(); // …and one for the TTS path
//!
//! // Waits until the record is on disk:
//! stt.append(Message::user("नमस्कार, आप कैसे हैं?", "deepgram_stt")).await?;
//! // Or log without waiting, as the original plugins did:
//! tts.log(Message::agent("नमस्ते!", "cartesia_tts").turn("t1"));
//!
//! // Appends the end record and writes conversation_….json beside the log:
//! let ended = log.end().await?;
//! # Ok(()) }
//! ```
//!
//! The modules follow the data's path: [`record`] (what a log holds) →
//! [`line`](mod@line) (the checksummed line format) → [`log`] (the
//! session handle appending under the lock, its group commit, and the
//! durability rules) → [`read`] (the scanner, an
//! iterator of owned messages, following a live log, finding logs) and
//! [`repair`] → [`export`] (every output format, and the stamp that says
//! whether an export is fresh). Beside them: [`json`] escapes strings for
//! the line format and the exports alike, [`time`] parses and writes every
//! timestamp, and [`stats`] and [`import`] build on the reader and the writer.
//! The on-disk format is specified in [`format`](mod@format).

#![warn(missing_docs)]

pub mod error;
pub mod export;
pub mod import;
pub mod json;
pub mod line;
pub mod log;
pub mod read;
pub mod record;
pub mod repair;
#[cfg(feature = "postgres")]
pub mod ship;
pub mod stats;
pub mod time;

/// The line format's old path, kept until the curated API replaces the
/// public modules (the bench programs and the branches in flight still name it).
#[doc(hidden)]
pub use line as codec;

/// The scanner's and discovery's old paths, kept until the curated API:
/// the writer, the bench programs and the branches in flight still name them.
#[doc(hidden)]
pub use read::discover;
#[doc(hidden)]
pub use read::scan as reader;

/// The other formats' old path, kept until the curated API: the Python
/// binding's branch still names it.
#[doc(hidden)]
pub mod formats {
    pub use crate::export::{Format, escape_controls};
    pub use crate::export::{export_file as export_file_as, render as render_to};
}

/// The log modules' old paths, kept until the curated API: the CLI, the
/// tests, the benches and the Python binding still name them.
#[doc(hidden)]
pub use log::{commit as writer, fsutil, global, session};

#[doc = include_str!("../FORMAT.md")]
pub mod format {}

pub use error::{Error, Result};
pub use export::{ExportOptions, Format, TimestampStyle};
#[cfg(feature = "__test_hooks")]
#[doc(hidden)]
pub use log::commit::IoHooks;
pub use log::layout::export_path;
pub use log::session::{Ended, Options, Session};
pub use read::{Damage, DamageKind, Followed, Follower, LoggedMessage, Messages, Recovery, Report};
pub use record::{Message, Role};

/// The `format` field of every header.
pub const FORMAT_NAME: &str = "convlog";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
