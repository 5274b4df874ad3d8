//! Reading logs back: one scanner, and what is built on it.
//!
//! - `scan`: the streaming scanner that judges every line (torn tail,
//!   corruption, seq gaps) under a [`Recovery`] mode and reports it all,
//!   built from `lines` (the line splitter), `judge` (each line's verdict)
//!   and `report` (what it found);
//! - `checked`: the one entry point that opens a log (never through a
//!   symlink), scans it once, under the shared lock when asked, and hands
//!   back the open file and the report (header included): export, stats
//!   and verify read through it;
//! - `header`: a log's header without a scan;
//! - `messages`: a log's messages as an iterator of owned values, for
//!   callers that want them without a callback over borrowed records;
//! - `follow`: the records a live log gains as they arrive (`tail -f`);
//! - `discover`: which paths a command was given are logs.
//!
//! ```
//! use convlog::{Message, Recovery, Session, read};
//!
//! let dir = tempfile::tempdir()?;
//! let log = Session::create(dir.path())?;
//! log.append_blocking(Message::user("Hi!", "deepgram_stt"))?;
//! log.append_blocking(Message::agent("Hello!", "cartesia_tts"))?;
//!
//! // What state the file is in, without reading its messages out.
//! let report = read::inspect(log.path())?;
//! assert!(report.is_intact() && report.messages == 2);
//!
//! // Its messages, as owned values, after the whole log was checked.
//! let contents: Vec<String> = read::messages(log.path(), Recovery::TolerateTail)?
//!     .map(|m| m.map(|m| m.content))
//!     .collect::<convlog::Result<_>>()?;
//! assert_eq!(contents, ["Hi!", "Hello!"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checked;
mod discover;
pub(crate) mod follow;
mod header;
mod judge;
mod lines;
mod messages;
mod report;
mod scan;

pub use checked::{Checked, CheckedBytes, Lock, inspect, scan_file};
pub use discover::find_logs;
pub use follow::{Followed, Follower, POLL};
pub use header::read_header;
// Only the shipper reads lines outside this module: it keeps each line's
// CRC and, for values PostgreSQL cannot hold, the line itself.
#[cfg(feature = "postgres")]
pub(crate) use judge::Judge;
#[cfg(feature = "postgres")]
pub(crate) use lines::{Lines, decode_line};
pub use messages::{LoggedMessage, Messages, messages};
pub use report::{Damage, DamageKind, Position, Recovery, Report};
pub use scan::scan;
pub(crate) use scan::scan_from;
