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
//! summarise it ([`stats`]), parse and write its timestamps ([`time`]), keep
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
//! breaking anyone.

#![warn(missing_docs)]

mod error;
pub mod export;
pub mod import;
mod json;
pub mod line;
mod log;
pub mod read;
pub mod record;
pub mod repair;
#[cfg(feature = "postgres")]
pub mod ship;
pub mod stats;
pub mod time;

pub use log::global;

/// Writing files beside a log with the durability rules logs follow:
/// tmp → fsync → rename → fsync(dir), so a reader sees the old file or the
/// new one, never a mix, and a crash never leaves half a file in its place.
pub mod fs {
    pub use crate::log::fsutil::{NewFileMode, ensure_shared_dir, write_atomic, write_atomic_as};
}

#[doc = include_str!("../FORMAT.md")]
pub mod format {}

pub use error::{Error, Result};
pub use export::{ExportOptions, Format, TimestampStyle};
#[cfg(feature = "__test_hooks")]
#[doc(hidden)]
pub use log::commit::{IoHooks, RealIo};
pub use log::layout::export_path;
pub use log::session::{DEFAULT_MAX_CONTENT_BYTES, Ended, MAX_CONTENT_LIMIT, Options, Session};
pub use read::{Damage, DamageKind, Followed, Follower, LoggedMessage, Messages, Recovery, Report};
pub use record::{Message, Role};

/// The `format` field of every header.
pub const FORMAT_NAME: &str = "convlog";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

#[cfg(test)]
mod test_support {
    /// Runs the unit test `name` alone in a child of this test binary, with
    /// `var` set to `value` (what tells it it is the child), and returns its
    /// stdout once it has passed.
    pub(crate) fn run_child(name: &str, var: &str, value: impl AsRef<std::ffi::OsStr>) -> String {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture"])
            .env(var, value)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// A full disk for the child process a full-disk test runs: no file may
    /// grow past `bytes`, and a write past it fails with EFBIG instead of
    /// killing the process with SIGXFSZ.
    pub(crate) fn limit_file_size(bytes: libc::rlim_t) {
        // SAFETY: plain syscalls on valid, initialised arguments.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut cur), 0);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: cur.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
    }
}

#[cfg(test)]
mod readme {
    /// The README's library example is the crate's doc test, so it is
    /// compiled as a `main.rs` by `cargo test`; this keeps the two the same.
    #[test]
    fn the_readme_example_is_the_crate_doc_test() {
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Using the library").expect("section")..];
        let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
        let block = &section[start..start + section[start..].find("```").expect("closed")];
        let doc: String = include_str!("lib.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| {
                l.strip_prefix("//! ")
                    .unwrap_or(l.trim_start_matches("//!"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            doc.contains(block.trim_end()),
            "README's library example and the crate doc test differ"
        );
    }
}
