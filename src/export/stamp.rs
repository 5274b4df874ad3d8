//! The export stamp: what the JSON beside a log is, and for an export which
//! bytes of the log it was rendered from. The freshness it decides, and
//! rendering the export again when it is stale, are in `freshness`.
//!
//! Beside `NAME.jsonl`, `NAME.json` is either convlog's export of the log or
//! the user's original file that `convlog import` read (which never gets
//! replaced). The hidden stamp `.NAME.json.stamp` tells them apart, and for
//! an export records which bytes of the log it was rendered from, so
//! freshness is decided by content, not by modification times (whose
//! granularity let an export missing a durable record pass as up to date).
//! FORMAT.md specifies the stamp.

use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The stamp beside an export; see FORMAT.md, "The export stamp".
///
/// Everything in it is content (lengths and checksums, no inode or mtime),
/// so a stamp stays true when a directory of logs is copied, restored from
/// a backup or checked out of git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// `export` (convlog rendered the file) or `original` (import read it).
    pub kind: String,
    /// Length in bytes of the file the stamp is about.
    pub file_len: u64,
    /// CRC-32 (IEEE) of that file's bytes, 8 lowercase hex digits.
    pub file_crc: String,
    /// For an export: how many bytes of the log it was rendered from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_len: Option<u64>,
    /// For an export: CRC-32 of the last (up to) 4096 of those bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_tail_crc: Option<String>,
    /// For an export: seq of the last valid record in those bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    /// For an export rendered redacted (`refresh --redact`): its policy.
    /// Every later rendering of this export redacts at least as much, so a
    /// plain `refresh` never puts raw text back where it was taken out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redact: Option<crate::record::StoredPolicy>,
}

/// CRC-32 as the stamp writes it.
pub fn crc_hex(crc: u32) -> String {
    format!("{crc:08x}")
}

/// Length and CRC-32 of a whole file, `None` if it does not exist.
pub(super) fn file_crc(path: &Path) -> Result<Option<(u64, String)>> {
    use std::io::Read;
    let mut f = match crate::fs::open_beside(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, "open", e)),
    };
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, "read", e))?;
        if n == 0 {
            return Ok(Some((len, crc_hex(h.finalize()))));
        }
        h.update(&buf[..n]);
        len += n as u64;
    }
}

/// How many bytes before `log_len` the stamp's checksum covers.
const TAIL: u64 = 4096;

use crate::fs::layout::stamp_path;

/// Reads the stamp of `file`; `None` when there is none. A stamp that does
/// not parse counts as none: the file is then of unknown origin, which only
/// ever makes convlog more careful.
pub fn read_stamp(file: &Path) -> Result<Option<Stamp>> {
    use std::io::Read;
    let path = stamp_path(file);
    let read = crate::fs::open_beside(&path).and_then(|mut f| {
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map(|_| bytes)
    });
    match read {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, "read", e)),
    }
}

/// Writes the stamp of `file` atomically (tmp → fsync → rename → fsync dir).
pub fn write_stamp(file: &Path, stamp: &Stamp) -> Result<()> {
    let path = stamp_path(file);
    let mut bytes = serde_json::to_vec(stamp)
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    bytes.push(b'\n');
    crate::fs::write_atomic(&path, |w| {
        w.write_all(&bytes)
            .map_err(|e| Error::io(&path, "write", e))
    })
}

/// CRC-32 of the up to 4096 bytes of `log` before `len`, as 8 hex digits;
/// `None` if the log is now shorter than `len`.
pub fn log_tail_crc(log: &Path, len: u64) -> Result<Option<String>> {
    tail_crc_of(&crate::fs::open_read(log)?, log, len)
}

/// [`log_tail_crc`] of a log already open as `file` (an export's own
/// reading of it), so that the stamp describes the very file it rendered.
pub fn tail_crc_of(file: &std::fs::File, log: &Path, len: u64) -> Result<Option<String>> {
    let now = file
        .metadata()
        .map_err(|e| Error::io(log, "fstat", e))?
        .len();
    if now < len {
        return Ok(None);
    }
    let start = len.saturating_sub(TAIL);
    let mut buf = vec![0u8; (len - start) as usize];
    file.read_exact_at(&mut buf, start)
        .map_err(|e| Error::io(log, "read", e))?;
    Ok(Some(crc_hex(crc32fast::hash(&buf))))
}

/// Records that `original` (whose bytes are `bytes`), beside the log
/// `convlog import` made from it, is the user's file: `convlog refresh` and
/// the end-of-session export never replace it.
pub fn stamp_original(original: &Path, bytes: &[u8]) -> Result<()> {
    write_stamp(
        original,
        &Stamp {
            kind: "original".into(),
            file_len: bytes.len() as u64,
            file_crc: crc_hex(crc32fast::hash(bytes)),
            log_len: None,
            log_tail_crc: None,
            last_seq: None,
            redact: None,
        },
    )
}

/// True when the stamp beside `file` marks it as an original.
pub fn is_original(file: &Path) -> Result<bool> {
    Ok(read_stamp(file)?.is_some_and(|s| s.kind == "original"))
}
