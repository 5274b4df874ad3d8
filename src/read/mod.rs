//! Reading logs back: one scanner, and what is built on it.
//!
//! - `scan`: the streaming scanner that judges every line (torn tail,
//!   corruption, seq gaps) under a [`Recovery`] mode and reports it all;
//! - `messages`: a log's messages as an iterator of owned values, for
//!   callers that want them without a callback over borrowed records;
//! - `follow`: the records a live log gains as they arrive (`tail -f`);
//! - `discover`: which paths a command was given are logs.

pub mod discover;
pub mod follow;
pub mod messages;
pub mod scan;

pub use follow::{Followed, Follower};
pub use messages::{LoggedMessage, Messages, messages};
pub use scan::{Damage, DamageKind, Recovery, Report, inspect};
