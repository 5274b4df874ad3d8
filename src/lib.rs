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
//! #[tokio::main]
//! async fn main() -> convlog::Result<()> {
//!     // The original design's console lines: `[USER] …` / `[AGENT] …` at INFO.
//!     tracing_subscriber::fmt().with_target(false).init();
//!
//!     // Creates conversations/conversation_YYYYMMDD_HHMMSS.jsonl (0600, directory 0700).
//!     let log = Session::create("conversations")?;
//!     let stt = log.clone(); // a cheap handle for the STT path…
//!     let tts = log.clone(); // …and one for the TTS path
//!
//!     // Resolves once the record is written and fdatasynced; concurrent appends share one sync.
//!     stt.append(Message::user("नमस्कार, आप कैसे हैं?", "deepgram_stt")).await?;
//!
//!     // Or log without waiting for durability, as the original plugins did. It never blocks on the
//!     // disk and never panics; a failure is logged through tracing and kept in `last_error()`.
//!     tts.log(Message::agent("नमस्ते!", "cartesia_tts").turn("t1").lang("hi"));
//!     tts.log(Message::agent("मैं ठीक हूँ, धन्यवाद।", "cartesia_tts").turn("t1"));
//!
//!     // Appends the end record and renders conversation_….json beside the log.
//!     let ended = log.end().await?;
//!     println!("export: {:?}", ended.export);
//!     Ok(())
//! }
//! ```
//!
//! ## What is public, and why
//!
//! The root re-exports what a voice agent needs: [`Session`] and its
//! [`Options`], the [`Message`] it logs, the [`Error`] it gets back, and what
//! reading a log reports ([`Report`], [`Damage`], [`Recovery`]). A few
//! namespaces are API in their own right, one per thing a user does with a
//! log: [`read`] it back (scan, iterate, follow, discover), [`export`] it to
//! the other formats, [`repair`] it, [`import`] an original-design file,
//! summarise it ([`stats`]), describe it as JSON ([`describe`], the
//! vocabulary of every `--json` answer about a session), parse and write its timestamps ([`time`]), keep
//! a process-wide handle ([`global`]), write beside it durably ([`fs`]),
//! ship it to PostgreSQL (`ship`, behind the `postgres` feature), and look at
//! the types a scan yields ([`record`]). The on-disk format is specified in
//! [`format`](mod@format).
//!
//! [`line`](mod@line), the codec, is public too: the format is documented so
//! that other tools can write and check logs, and the crate's own integration
//! tests and benchmarks, which sit outside the library like any such tool,
//! build logs line by line with it (damaged ones included). Everything else,
//! the group commit, creating and recovering a log file, the file system
//! primitives and the JSON string escaper, is private: it can change without
//! breaking anyone. [`fs`] is public only in its atomic replace and its
//! shared directories; its opens, locks and names stay inside.
//!
//! ## Floors
//!
//! A record's path reads top to bottom, and no module reaches back up to a
//! higher one (`modgraph.py src` checks it, folder by folder and file by
//! file). At the top, what takes whole sessions: [`global`], [`import`]
//! (which writes through a session and checks the result against its
//! export) and the viewer (`serve`); then the session handle, which ends a
//! session by rendering its export; then what answers about whole logs:
//! [`retain`] and `search` over [`export`], [`export`] over [`stats`]
//! (its HTML page shows the summary stats computes), [`describe`] over
//! [`stats`] and [`repair`]; then [`stats`], [`repair`], the writer (`log`) and the
//! shipper (`ship`), all over [`read`], whose scanner also recovers a log
//! the writer opens; then the codec ([`line`](mod@line)), [`parts`],
//! [`redact`], [`record`] and [`time`]; and at the bottom [`fs`] and the
//! error type, which know nothing of records.

#![warn(missing_docs)]

pub mod describe;
mod error;
pub mod export;
pub mod fs;
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;
pub mod global;
pub mod import;
mod json_escape;
pub mod line;
mod log;
pub mod parts;
pub mod read;
pub mod record;
pub mod redact;
pub mod repair;
pub mod retain;
#[cfg(feature = "search")]
pub mod search;
#[cfg(feature = "serve")]
pub mod serve;
mod session;
#[cfg(feature = "postgres")]
pub mod ship;
pub mod stats;
pub mod time;

#[doc = include_str!("../FORMAT.md")]
pub mod format {}

pub use error::{Error, Result};
pub use export::{ExportOptions, Format, TimestampStyle};
pub use fs::layout::export_path;
#[cfg(feature = "__test_hooks")]
#[doc(hidden)]
pub use log::commit::{IoHooks, RealIo};
pub use read::{Damage, DamageKind, Followed, Follower, LoggedMessage, Messages, Recovery, Report};
pub use record::{
    Entry, FORMAT_NAME, FORMAT_VERSION, FORMAT_VERSION_REDACTED, Handoff, Message, Role, ToolCall,
};
pub use session::{
    DEFAULT_MAX_CONTENT_BYTES, Ended, MAX_CONTENT_LIMIT, Options, Prepared, Session,
};

#[cfg(test)]
mod test_support;
