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
//! and the reason. The log is built under a hidden temporary name (messages
//! and the end record through the real [`Session`] writer) and hard-linked
//! into place only when complete, so a crash mid-import never leaves a
//! half-imported log under the final name.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Local};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::record::{Message, Role};
use crate::time::{localize, parse_rfc3339_or_local, to_rfc3339};

use crate::fs::layout::{self, export_path};
use crate::session::{MAX_CONTENT_LIMIT, Options, Session};

/// One entry of an original-design file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the `conversation` array (0-based).
    pub index: usize,
    /// `user` or `agent`.
    pub role: Role,
    /// The text.
    pub content: String,
    /// The timestamp as written in the file.
    pub timestamp: String,
    /// The timestamp as it will be stored: RFC 3339 with the local offset.
    pub ts: String,
    /// `source`.
    pub source: String,
    /// Fields other than the four documented ones; stored in `meta`.
    pub extra: Option<Map<String, Value>>,
}

/// What parsing an original file found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Original {
    /// The entries, in file order.
    pub entries: Vec<Entry>,
    /// Things that will not survive the round trip, each naming the entry.
    pub notes: Vec<String>,
    /// Entries whose timestamp had no fractional seconds (the documented exception).
    pub whole_seconds: Vec<usize>,
}

/// Whether exporting the new log reproduces the original file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundTrip {
    /// Byte for byte.
    Exact,
    /// Identical except that timestamps with zero microseconds gain `.000000`
    /// (the documented exception); the entries are listed.
    WholeSecondsOnly(Vec<usize>),
    /// Every message comes back (role, content, timestamp and source; the
    /// whole-seconds exception aside, listed as for `WholeSecondsOnly`) but
    /// the bytes are laid out differently: the file was not written by
    /// `json.dump(…, ensure_ascii=False, indent=2)` (it is compact, escapes
    /// differently or orders keys otherwise). The export writes the
    /// original design's layout.
    Layout(Vec<usize>),
    /// Something else differs; the first differing line of each, 1-based.
    Differs {
        /// Line number in the original file.
        line: usize,
        /// That line in the original.
        original: String,
        /// That line in the export.
        exported: String,
    },
}

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

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("{}: {what}", path.display()))
}

fn bad_entry(path: &Path, index: usize, what: impl std::fmt::Display) -> Error {
    bad(path, format_args!("conversation[{index}]: {what}"))
}

/// Checks an original-design file's bytes. `path` is only used in messages.
pub fn parse_original(path: &Path, bytes: &[u8]) -> Result<Original> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        bad(
            path,
            format_args!(
                "not UTF-8 (byte {}): not a file the original design wrote",
                e.valid_up_to()
            ),
        )
    })?;
    let doc: Value = serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(text))
        .map_err(|e| bad(path, format_args!("not valid JSON: {e}")))?;
    let Value::Object(top) = doc else {
        return Err(bad(
            path,
            "the top level is not an object: expected {\"conversation\": [...]}",
        ));
    };
    let mut out = Original::default();
    let list = match top.get("conversation") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad(path, "\"conversation\" is not an array")),
        None => {
            return Err(bad(
                path,
                "no \"conversation\" key: expected {\"conversation\": [...]}",
            ));
        }
    };
    let others: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "conversation")
        .collect();
    if !others.is_empty() {
        out.notes.push(format!(
            "top-level key(s) {} are not imported",
            others.join(", ")
        ));
    }
    for (index, item) in list.iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(bad_entry(path, index, "not an object"));
        };
        let field = |name: &str| -> Result<&str> {
            match obj.get(name) {
                Some(Value::String(s)) => Ok(s),
                Some(other) => Err(bad_entry(
                    path,
                    index,
                    format_args!("`{name}` is not a string: {other}"),
                )),
                None => Err(bad_entry(path, index, format_args!("`{name}` is missing"))),
            }
        };
        let role: Role = field("role")?
            .parse()
            .map_err(|e| bad_entry(path, index, e))?;
        let content = field("content")?;
        let source = field("source")?;
        let timestamp = field("timestamp")?;
        let (time, naive) = parse_rfc3339_or_local(timestamp).ok_or_else(|| {
            bad_entry(
                path,
                index,
                format_args!(
                    "timestamp {timestamp:?} is neither a local date-time like \
                         2025-08-18T14:30:22.123456 nor RFC 3339"
                ),
            )
        })?;
        if content.trim().is_empty() {
            // The original design's TTS path logged every token it was
            // given, blank ones too, and its file and console showed them:
            // the entry is kept as it is, so the export gives the file back.
            out.notes.push(format!(
                "conversation[{index}]: `content` is blank ({content:?}); kept as the original \
                 file has it (convlog's writers otherwise skip blank messages)"
            ));
        }
        if content.len() > MAX_CONTENT_LIMIT {
            return Err(bad_entry(
                path,
                index,
                format_args!(
                    "`content` is {} bytes, over the limit of {MAX_CONTENT_LIMIT} bytes",
                    content.len()
                ),
            ));
        }
        if !naive {
            out.notes.push(format!(
                "conversation[{index}]: timestamp {timestamp:?} has a UTC offset; \
                 the export writes local wall-clock time without it"
            ));
        } else if !timestamp.contains('.') {
            out.whole_seconds.push(index);
        } else if timestamp.rsplit('.').next().map(str::len) != Some(6) {
            out.notes.push(format!(
                "conversation[{index}]: timestamp {timestamp:?} does not have six \
                 fractional digits; the export writes six"
            ));
        }
        let extra: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "role" | "content" | "timestamp" | "source"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !extra.is_empty() {
            let keys: Vec<&str> = extra.keys().map(String::as_str).collect();
            out.notes.push(format!(
                "conversation[{index}]: extra field(s) {} are kept in `meta`; \
                 the documented export leaves them out",
                keys.join(", ")
            ));
        }
        out.entries.push(Entry {
            index,
            role,
            content: content.to_string(),
            timestamp: timestamp.to_string(),
            ts: to_rfc3339(&time),
            source: source.to_string(),
            extra: (!extra.is_empty()).then_some(extra),
        });
    }
    Ok(out)
}

/// When the original session started: the time in its name
/// (`conversation_YYYYMMDD_HHMMSS`, local time), else its first message.
fn created_time(original: &Path, entries: &[Entry]) -> DateTime<FixedOffset> {
    let from_name = original
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(layout::parse_log_stem)
        .map(|n| localize(&n));
    let first = entries
        .first()
        .and_then(|e| DateTime::parse_from_rfc3339(&e.ts).ok());
    match (from_name, first) {
        // The file was named when the session was set up, shortly before its
        // first message; a name far from the messages is not trusted.
        (Some(n), Some(f)) if n <= f && f - n <= chrono::TimeDelta::days(1) => n,
        (_, Some(f)) => f,
        (Some(n), None) => n,
        (None, None) => Local::now().fixed_offset(),
    }
}

/// Runs an async block to completion on a fresh current-thread runtime in a
/// scoped thread, so this works from plain code and from inside a runtime alike.
fn block_on<F>(f: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| Error::io(Path::new("<runtime>"), "start tokio runtime", e))?;
            Ok(rt.block_on(f))
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Internal("the import thread panicked".into())))
    })
}

/// Writes `entries` as a complete, ended log at `tmp`.
fn write_log(tmp: &Path, created: &DateTime<FixedOffset>, entries: &[Entry]) -> Result<()> {
    crate::log::create::write_header_file(tmp, created, None)?;
    let session = Session::open_with(
        tmp,
        Options::default()
            .echo(false)
            .export_on_end(false)
            .keep_blank(true)
            .max_content_bytes(MAX_CONTENT_LIMIT),
    )?;
    block_on(async {
        // Queue everything first (the writer commits it in large batches),
        // then collect the acknowledgements in order.
        let pending: Vec<_> = entries
            .iter()
            .map(|e| {
                let mut msg = Message::new(e.role, e.content.clone(), e.source.clone())
                    .timestamp(e.ts.clone());
                msg.meta = e.extra.clone().map(Value::Object);
                (e.index, session.append(msg))
            })
            .collect();
        for (index, fut) in pending {
            match fut.await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(bad_entry(tmp, index, "blank content was not written"));
                }
                // A value the log refuses is this file's fault; a failed
                // write (a full disk, a broken writer) is not, and keeps its kind.
                Err(e) if e.is_rejected_input() => {
                    return Err(Error::InvalidInput(format!("conversation[{index}]: {e}")));
                }
                Err(e) => return Err(e),
            }
        }
        // Dated at the last message: the session ended then, not on import day.
        let end_ts = entries
            .last()
            .map(|e| e.ts.clone())
            .unwrap_or_else(|| to_rfc3339(created));
        session.end_at(end_ts).await.map(drop)
    })?
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
    let created = created_time(original, &parsed.entries);

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
    let published = write_log(&tmp, &created, &parsed.entries)
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

    let round_trip = compare(&log, &bytes, &parsed)?;
    Ok(Imported {
        source: original.to_path_buf(),
        log,
        messages: parsed.entries.len(),
        notes: parsed.notes,
        round_trip,
    })
}

/// Exports `log` and compares it with the original bytes.
fn compare(log: &Path, original: &[u8], parsed: &Original) -> Result<RoundTrip> {
    let mut exported = Vec::with_capacity(original.len() + 64);
    crate::export::render(
        log,
        crate::export::Format::Json,
        &mut exported,
        Path::new("<memory>"),
        &crate::ExportOptions::default(),
    )?;
    if exported == original {
        return Ok(RoundTrip::Exact);
    }
    let orig = String::from_utf8_lossy(original);
    let exp = String::from_utf8_lossy(&exported);
    if !parsed.whole_seconds.is_empty() {
        // Put the six digits Python left out back in, and compare again.
        let mut fixed = orig.to_string();
        for e in parsed
            .whole_seconds
            .iter()
            .filter_map(|&i| parsed.entries.get(i))
        {
            let from = format!("\"timestamp\": \"{}\"", e.timestamp);
            let to = format!("\"timestamp\": \"{}.000000\"", e.timestamp);
            fixed = fixed.replacen(&from, &to, 1);
        }
        if fixed.as_bytes() == exported.as_slice() {
            return Ok(RoundTrip::WholeSecondsOnly(parsed.whole_seconds.clone()));
        }
    }
    if same_messages(original, &exported, parsed) {
        return Ok(RoundTrip::Layout(parsed.whole_seconds.clone()));
    }
    let mut a = orig.split('\n');
    let mut b = exp.split('\n');
    let mut line = 0;
    loop {
        line += 1;
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return Ok(RoundTrip::Differs {
                    line,
                    original: x.unwrap_or("(end of file)").to_string(),
                    exported: y.unwrap_or("(end of file)").to_string(),
                });
            }
        }
    }
}

/// Whether the original and the export hold the same JSON value once the
/// whole-seconds timestamps gain their six digits: the same messages, laid
/// out differently.
fn same_messages(original: &[u8], exported: &[u8], parsed: &Original) -> bool {
    let text = String::from_utf8_lossy(original);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (Ok(mut orig), Ok(exp)) = (
        serde_json::from_str::<Value>(text),
        serde_json::from_slice::<Value>(exported),
    ) else {
        return false;
    };
    for &i in &parsed.whole_seconds {
        if let Some(Value::String(ts)) = orig.pointer_mut(&format!("/conversation/{i}/timestamp")) {
            ts.push_str(".000000");
        }
    }
    orig == exp
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
