//! Creating a log file, for new sessions and imports alike.
//!
//! The header is written and fdatasynced under a temporary name and then
//! hard-linked to the final name, which fails if that name exists. So the
//! final name never shows an empty or half-written file, an existing log is
//! never truncated or reused, and sessions created in the same second get
//! `…_2`, `…_3`. The directory (made 0700 with its parent synced, if it
//! was missing) is fsynced before the new name is handed out.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use crate::error::{Error, Result};
use crate::fs::layout;
use crate::line::{self as codec, Kind};
use crate::record::{FORMAT_VERSION, FORMAT_VERSION_REDACTED, Header, StoredPolicy};

/// Creates a new log in `dir` named after `created` (see
/// [`layout`](mod@crate::fs::layout)), whose header carries `redact` if
/// given, and returns its header, its length and its path.
pub(crate) fn create_log(
    dir: &Path,
    created: &DateTime<FixedOffset>,
    redact: Option<StoredPolicy>,
) -> Result<(Header, u64, PathBuf)> {
    crate::fs::ensure_dir(dir)?;
    let stem = layout::log_stem(created);
    let tmp = layout::temp_path(dir, &stem);
    let published = write_header_file(&tmp, created, redact).and_then(|(header, len)| {
        let path = link_first_free(dir, &stem, &tmp)?;
        Ok((header, len, path))
    });
    // The temporary name is only a staging area; removing it is tidy-up.
    let _ = std::fs::remove_file(&tmp);
    let (header, len, path) = published?;
    crate::fs::sync_dir(dir)?;
    Ok((header, len, path))
}

/// Creates `path` exclusively (never replacing a file) holding only a new
/// header with creation time `created` (and redaction policy `redact`),
/// written and fdatasynced. Returns the header and the file's length. Both
/// new sessions and imports start here.
///
/// Only a header with a policy says version 2: a plain log stays version 1,
/// byte for byte what builds before the field write and read.
pub(crate) fn write_header_file(
    path: &Path,
    created: &DateTime<FixedOffset>,
    redact: Option<StoredPolicy>,
) -> Result<(Header, u64)> {
    use std::io::Write;
    let header = Header {
        version: match redact {
            Some(_) => FORMAT_VERSION_REDACTED,
            None => FORMAT_VERSION,
        },
        session: new_session_id(),
        created: created.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        redact,
    };
    let mut line = Vec::new();
    codec::frame(Kind::Header, 0, &codec::header_fields(&header), &mut line);
    // `path` is a hidden staging name the user never gave; errors name its
    // directory, which they did.
    let dir = path.parent().unwrap_or(path);
    let mut f = crate::fs::create_new(path).map_err(|e| Error::io(dir, "create a new log", e))?;
    f.write_all(&line)
        .map_err(|e| Error::io(dir, "write a new log's header", e))?;
    f.sync_data()
        .map_err(|e| Error::io(dir, "fdatasync a new log's header", e))?;
    Ok((header, line.len() as u64))
}

/// Links `tmp` to the first free name of `STEM.jsonl`, `STEM_2.jsonl`, …:
/// `link(2)` fails if the name exists, which makes it an exclusive create
/// whose file already holds its header.
fn link_first_free(dir: &Path, stem: &str, tmp: &Path) -> Result<PathBuf> {
    for n in 1..=layout::MAX_LOG_NAMES {
        let path = dir.join(layout::log_name(stem, n));
        match std::fs::hard_link(tmp, &path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&path, "link new log into place", e)),
        }
    }
    Err(Error::Internal(format!(
        "{}: no free name for {} after {} tries",
        dir.display(),
        layout::log_name(stem, 1),
        layout::MAX_LOG_NAMES
    )))
}

/// 128 random bits from the standard library's per-process random hash keys,
/// mixed with the time and pid; uniqueness is all a session id needs.
fn new_session_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut a = RandomState::new().build_hasher();
    a.write_u128(nanos);
    a.write_u32(std::process::id());
    let a = a.finish();
    let b = RandomState::new().hash_one((a, nanos));
    format!("{a:016x}{b:016x}")
}
