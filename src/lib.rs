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
//! The modules follow the data's path: [`record`] → [`codec`] → [`writer`]
//! and [`session`] → [`reader`] and [`repair`] → [`export`] (with the other
//! output [`formats`]) and [`compact`]. Around them: [`stats`] and
//! [`import`] build on the reader and the writer, [`fsutil`] keeps the
//! durability rules in one place, and [`discover`] expands paths into logs.
//! The on-disk format is specified in [`format`](mod@format).

#![warn(missing_docs)]

pub mod codec;
pub mod compact;
pub mod discover;
pub mod error;
pub mod export;
pub mod formats;
pub mod fsutil;
pub mod global;
pub mod import;
pub mod reader;
pub mod record;
pub mod repair;
pub mod session;
#[cfg(feature = "postgres")]
pub mod ship;
pub mod stats;
pub mod writer;

#[doc = include_str!("../FORMAT.md")]
pub mod format {}

pub use error::{Error, Result};
pub use export::{ExportOptions, TimestampStyle};
pub use reader::{Damage, DamageKind, Recovery, Report};
pub use record::{Message, Role};
pub use session::{Ended, Options, Session, export_path};
pub use writer::IoHooks;

/// The `format` field of every header.
pub const FORMAT_NAME: &str = "convlog";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
