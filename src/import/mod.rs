//! Import: turns files written by the original design into convlog logs, so
//! existing users keep their history.
//!
//! The original design kept `conversations/conversation_YYYYMMDD_HHMMSS.json`,
//! rewritten with Python's `json.dump(data, f, ensure_ascii=False, indent=2)`
//! after every message:
//!
//! ```json
//! {
//!   "conversation": [
//!     {
//!       "role": "user",
//!       "content": "नमस्कार, आप कैसे हैं?",
//!       "timestamp": "2025-08-18T14:30:22.123456",
//!       "source": "deepgram_stt"
//!     }
//!   ]
//! }
//! ```
//!
//! [`import_file`] writes the log beside it (same stem, `.jsonl`), never
//! over an existing file. The original then sits where the log's export
//! would go, so import stamps it as an original
//! ([`stamp_original`](crate::export::stamp_original)): `ls` shows it as
//! such, and `convlog refresh` and the end-of-session export never replace it
//! (they dropped the fields kept only in `meta` and rewrote timestamps). Timestamps are naive local times from Python's
//! `datetime.now().isoformat()`; they are read as the machine's local time
//! (`TZ`), which keeps their wall-clock text, so exporting the log gives the
//! original file back byte for byte. The one documented exception: when a
//! timestamp's microseconds were exactly 0, Python wrote no fraction
//! (`2025-08-18T14:30:22`) while the format always writes six digits
//! (`2025-08-18T14:30:22.000000`). Import checks the round trip and says
//! precisely where it differs ([`RoundTrip`]).
//!
//! The whole file is checked before anything is written, so a malformed file
//! leaves nothing behind; errors name the file, the entry (`conversation[3]`)
//! and the reason. The log is built under a hidden temporary name
//! (messages and the end record through the real
//! [`Session`](crate::Session) writer) and hard-linked into place only when
//! complete, so a crash mid-import never leaves a half-imported log under
//! the final name.
//!
//! One file per job: `original` checks the file ([`parse_original`]),
//! `write` writes the log and `round_trip` compares its export with the
//! original ([`RoundTrip`]).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::layout::{self, export_path};

mod original;
mod round_trip;
mod write;

pub use original::{Entry, Original, parse_original};
pub use round_trip::RoundTrip;

/// What [`import_file`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The original file.
    pub source: PathBuf,
    /// The new log.
    pub log: PathBuf,
    /// Messages written.
    pub messages: usize,
    /// Notes from parsing (entries that do not round-trip, and why).
    pub notes: Vec<String>,
    /// How the export of the new log compares with the original.
    pub round_trip: RoundTrip,
}

/// An input error naming the file.
fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("{}: {what}", path.display()))
}

/// An input error naming the file and the entry.
fn bad_entry(path: &Path, index: usize, what: impl std::fmt::Display) -> Error {
    bad(path, format_args!("conversation[{index}]: {what}"))
}

/// Imports one original-design file into a new log beside it (see the
/// [module docs](self)). Refuses when the log already exists.
pub fn import_file(original: &Path) -> Result<Imported> {
    let log = layout::import_log_path(original);
    if log == original {
        return Err(bad(
            original,
            "is already a .jsonl file; import reads the original design's .json files",
        ));
    }
    let exists = |p: &Path| fs::symlink_metadata(p).is_ok();
    let refuse = || {
        bad(
            &log,
            format_args!(
                "already exists; refusing to overwrite it (it was imported before, \
                 or is a log of its own; move it away to import {} again)",
                original.display()
            ),
        )
    };
    if exists(&log) {
        return Err(refuse());
    }
    let bytes = fs::read(original).map_err(|e| Error::io(original, "read", e))?;
    let parsed = parse_original(original, &bytes)?;
    let created = write::created_time(original, &parsed.entries);

    let dir = crate::fs::parent_dir(&log);
    let stem = log
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    let tmp = layout::temp_path(dir, &stem);
    // The original sits where the log's export goes: stamp it as the
    // user's file before the log appears, so no refresh or end-of-session
    // export can ever take it for an export and replace it.
    let beside = export_path(&log) == original;
    let published = write::write_log(&tmp, &created, &parsed.entries)
        .and_then(|()| {
            if beside {
                crate::export::stamp_original(original, &bytes)?;
            }
            Ok(())
        })
        .and_then(|()| match fs::hard_link(&tmp, &log) {
            Ok(()) => crate::fs::sync_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(refuse()),
            Err(e) => Err(Error::io(&log, "link the imported log into place", e)),
        });
    // The temporary name was only a staging area.
    let _ = fs::remove_file(&tmp);
    published?;

    let round_trip = round_trip::compare(&log, &bytes, &parsed)?;
    Ok(Imported {
        source: original.to_path_buf(),
        log,
        messages: parsed.entries.len(),
        notes: parsed.notes,
        round_trip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_entries_are_named() {
        let p = Path::new("c.json");
        let err = |s: &str| parse_original(p, s.as_bytes()).unwrap_err().to_string();
        assert!(
            err("[]").contains("top level is not an object"),
            "{}",
            err("[]")
        );
        assert!(err("{}").contains("no \"conversation\" key"));
        assert!(err("{\"conversation\": [").contains("not valid JSON"));
        let e = err(
            r#"{"conversation": [{"role":"user","content":"a","timestamp":"2025-08-18T14:30:22","source":"s"},{"role":"bot","content":"b","timestamp":"2025-08-18T14:30:22","source":"s"}]}"#,
        );
        assert!(
            e.starts_with("c.json: conversation[1]: invalid role \"bot\""),
            "{e}"
        );
        let e = err(
            r#"{"conversation": [{"role":"user","content":"a","timestamp":"later","source":"s"}]}"#,
        );
        assert!(e.contains("conversation[0]: timestamp \"later\""), "{e}");
        let e = err(
            r#"{"conversation": [{"role":"user","timestamp":"2025-08-18T14:30:22","source":"s"}]}"#,
        );
        assert!(e.contains("conversation[0]: `content` is missing"), "{e}");
        let e = err(
            r#"{"conversation": [{"role":"user","content":7,"timestamp":"2025-08-18T14:30:22","source":"s"}]}"#,
        );
        assert!(e.contains("`content` is not a string: 7"), "{e}");
    }

    const FSIZE_CHILD: &str = "CONVLOG_IMPORT_FSIZE_CHILD";

    /// Not a test by itself: the child of `a_full_disk_is_an_error_not_a_rejected_file`,
    /// which imports with room for little more than a header. Without the
    /// variable it returns at once.
    #[test]
    #[ignore = "the body of a child process, run by a_full_disk_is_an_error_not_a_rejected_file with --ignored"]
    fn full_disk_child() {
        let Some(original) = std::env::var_os(FSIZE_CHILD) else {
            return;
        };
        crate::test_support::limit_file_size(4096).unwrap();
        let e = import_file(Path::new(&original)).unwrap_err();
        println!("rejected input: {}", e.is_rejected_input());
        println!(
            "kind: {}",
            match e {
                Error::Poisoned { .. } => "poisoned",
                Error::Io { .. } => "io",
                _ => "other",
            }
        );
        println!("error: {e}");
    }

    #[test]
    fn a_full_disk_is_an_error_not_a_rejected_file() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("conversation_20250818_143022.json");
        let entries: Vec<String> = (0..20)
            .map(|i| {
                format!(
                    r#"{{"role":"user","content":"{}","timestamp":"2025-08-18T14:30:{:02}","source":"s"}}"#,
                    "x".repeat(1000),
                    i
                )
            })
            .collect();
        std::fs::write(
            &original,
            format!(r#"{{"conversation": [{}]}}"#, entries.join(",")),
        )
        .unwrap();

        let stdout = crate::test_support::run_child(
            "import::tests::full_disk_child",
            FSIZE_CHILD,
            &original,
        );
        // `convlog import` exits 1 for a rejected input and 2 for anything
        // else: a full disk must be the latter, with its real kind.
        assert!(stdout.contains("rejected input: false"), "{stdout}");
        assert!(
            stdout.contains("kind: poisoned") || stdout.contains("kind: io"),
            "{stdout}"
        );
        assert!(!layout::import_log_path(&original).exists());
    }
}
