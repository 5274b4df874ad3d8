//! Every name convlog gives a file, and the parse of a log's name, so
//! that what a directory of logs holds can be read from this one place:
//!
//! | file | name |
//! |---|---|
//! | a session log | `conversation_YYYYMMDD_HHMMSS.jsonl`, then `…_2.jsonl`, `…_3.jsonl` |
//! | its export | the log's name with `.json` for `.jsonl` |
//! | an import's log | the original's name with `.jsonl` for `.json` |
//! | torn bytes cut from a log | `LOG.broken`, then `LOG.broken.2`, … |
//! | an export's (or an original's) stamp | `.NAME.stamp` beside it |
//! | a file being written | `.NAME.tmp-PID-NANOS-N` beside its final name |
//!
//! Temporary and stamp names start with a dot, so no reader takes them
//! for logs ([`is_log_name`]).

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// The extension of a log file.
pub const LOG_EXT: &str = "jsonl";

/// How many `_N` suffixes a new log's name tries before giving up.
pub(crate) const MAX_LOG_NAMES: u32 = 100_000;

/// How many `.broken.N` names a cut tail tries before giving up.
pub(crate) const MAX_BROKEN: u32 = 10_000;

const LOG_PREFIX: &str = "conversation_";
const STAMP_FORMAT: &str = "%Y%m%d_%H%M%S";

/// The stem of a log created at `created`: `conversation_YYYYMMDD_HHMMSS`.
pub(crate) fn log_stem(created: &DateTime<FixedOffset>) -> String {
    format!("{LOG_PREFIX}{}", created.format(STAMP_FORMAT))
}

/// The `n`th candidate name (from 1) for a log with `stem`: `STEM.jsonl`,
/// `STEM_2.jsonl`, … (sessions created in the same second).
pub(crate) fn log_name(stem: &str, n: u32) -> String {
    if n == 1 {
        format!("{stem}.{LOG_EXT}")
    } else {
        format!("{stem}_{n}.{LOG_EXT}")
    }
}

/// The creation time (local, naive) in a log's or an export's file stem
/// `conversation_YYYYMMDD_HHMMSS[…]`, or `None` if it has another name.
pub(crate) fn parse_log_stem(stem: &str) -> Option<NaiveDateTime> {
    let stamp = stem.strip_prefix(LOG_PREFIX)?.get(..15)?;
    NaiveDateTime::parse_from_str(stamp, STAMP_FORMAT).ok()
}

/// True for a log's file name: `*.jsonl`, not hidden (temporary files start
/// with a dot). Judged on the name's bytes, so a name that is not UTF-8 (a
/// log copied from a system with another file name encoding) is still a
/// log: the commands show it lossily and say so, rather than skip it.
pub fn is_log_name(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_none_or(|n| n.as_encoded_bytes().starts_with(b"."));
    !hidden && path.extension().is_some_and(|e| e == LOG_EXT)
}

/// `path`'s file name when it is not UTF-8, written with the bytes that are
/// not as `\xNN` escapes (Rust's debug form, quoted): what a note shows so
/// that the file can be found, where the lossy form would not name it.
#[cfg(any(test, feature = "postgres", feature = "serve"))]
pub fn non_utf8_name(path: &Path) -> Option<String> {
    let name = path.file_name()?;
    name.to_str().is_none().then(|| format!("{name:?}"))
}

/// The export that belongs to a log: same name, `.json` instead of `.jsonl`.
pub fn export_path(log: &Path) -> PathBuf {
    log.with_extension("json")
}

/// The log an original-design `.json` file imports to: same directory and
/// stem, `.jsonl`.
pub fn import_log_path(original: &Path) -> PathBuf {
    original.with_extension(LOG_EXT)
}

/// The `n`th name (from 1) for torn bytes cut from `log`: `LOG.broken`,
/// `LOG.broken.2`, …
pub(crate) fn broken_path(log: &Path, n: u32) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".broken");
    if n > 1 {
        name.push(format!(".{n}"));
    }
    PathBuf::from(name)
}

/// Where the stamp of `file` (an export or an original) lives: `.NAME.stamp` beside it.
pub fn stamp_path(file: &Path) -> PathBuf {
    parent_dir(file).join(format!(".{}.stamp", file_name(file)))
}

/// A name in `dir` that nobody else will pick, for a file that becomes
/// `name` once it is whole: pid, time and a per-process counter.
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!(".{name}.tmp-{}-{nanos:x}-{n}", std::process::id()))
}

/// The directory a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The last component of `path` as text, or `""`.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let created = DateTime::parse_from_rfc3339("2025-08-18T14:30:22+05:30").unwrap();
        let stem = log_stem(&created);
        assert_eq!(stem, "conversation_20250818_143022");
        assert_eq!(log_name(&stem, 1), "conversation_20250818_143022.jsonl");
        assert_eq!(log_name(&stem, 3), "conversation_20250818_143022_3.jsonl");
        let back = parse_log_stem("conversation_20250818_143022_3").unwrap();
        assert_eq!(back, created.naive_local());
        assert_eq!(parse_log_stem("notes_20250818_143022"), None);
        assert_eq!(parse_log_stem("conversation_2025"), None);
    }

    #[test]
    fn derived_names() {
        let log = Path::new("d/conversation_20250818_143022.jsonl");
        assert_eq!(
            export_path(log),
            Path::new("d/conversation_20250818_143022.json")
        );
        assert_eq!(import_log_path(&export_path(log)), log);
        assert_eq!(
            broken_path(log, 1),
            Path::new("d/conversation_20250818_143022.jsonl.broken")
        );
        assert_eq!(
            broken_path(log, 2),
            Path::new("d/conversation_20250818_143022.jsonl.broken.2")
        );
        assert_eq!(
            stamp_path(&export_path(log)),
            Path::new("d/.conversation_20250818_143022.json.stamp")
        );
        let tmp = temp_path(Path::new("d"), "x.jsonl");
        assert!(!is_log_name(&tmp), "{}", tmp.display());
        assert!(is_log_name(log));
        assert!(!is_log_name(&broken_path(log, 1)));
    }

    #[test]
    fn a_name_that_is_not_utf8_is_a_log_name_and_is_shown_escaped() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new("d").join(OsStr::from_bytes(b"conversation_caf\xe9.jsonl"));
        assert!(is_log_name(&odd));
        assert_eq!(
            non_utf8_name(&odd).as_deref(),
            Some(r#""conversation_caf\xE9.jsonl""#)
        );
        let hidden = Path::new("d").join(OsStr::from_bytes(b".caf\xe9.jsonl.tmp-1"));
        assert!(!is_log_name(&hidden));
        let hidden_log = Path::new("d").join(OsStr::from_bytes(b".caf\xe9.jsonl"));
        assert!(!is_log_name(&hidden_log));
        assert_eq!(non_utf8_name(Path::new("d/a.jsonl")), None);
    }
}
