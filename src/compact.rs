//! Compaction: renders each log's documented JSON beside it, on demand.
//!
//! An export is up to date when it is at least as new as its log: the export
//! is renamed into place after the log was read, so any later append makes
//! the log newer again.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::export::{ExportOptions, export_file};
use crate::session::export_path;

/// What compaction did for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compacted {
    /// The export was rendered.
    Written {
        /// Where.
        export: PathBuf,
        /// Messages in the log.
        messages: u64,
    },
    /// The export was already newer than the log.
    UpToDate {
        /// Where.
        export: PathBuf,
    },
}

fn mtime(path: &Path) -> Result<Option<SystemTime>> {
    match std::fs::metadata(path) {
        Ok(m) => m
            .modified()
            .map(Some)
            .map_err(|e| Error::io(path, "stat", e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, "stat", e)),
    }
}

/// True when `log`'s export exists and is not older than the log.
pub fn is_up_to_date(log: &Path) -> Result<bool> {
    let log_time =
        mtime(log)?.ok_or_else(|| Error::io(log, "stat", std::io::ErrorKind::NotFound.into()))?;
    Ok(mtime(&export_path(log))?.is_some_and(|t| t >= log_time))
}

/// Renders `log`'s export unless it is up to date.
pub fn compact_log(log: &Path, opts: &ExportOptions) -> Result<Compacted> {
    let export = export_path(log);
    if is_up_to_date(log)? {
        return Ok(Compacted::UpToDate { export });
    }
    let report = export_file(log, &export, opts)?;
    Ok(Compacted::Written {
        export,
        messages: report.messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Options, Session};

    #[tokio::test]
    async fn renders_once_then_again_after_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::create_with(
            dir.path(),
            Options {
                echo: false,
                ..Options::default()
            },
        )
        .unwrap();
        s.append(Message::user("one", "stt")).await.unwrap();
        let opts = ExportOptions::default();
        assert!(matches!(
            compact_log(s.path(), &opts).unwrap(),
            Compacted::Written { messages: 1, .. }
        ));
        assert!(matches!(
            compact_log(s.path(), &opts).unwrap(),
            Compacted::UpToDate { .. }
        ));
        // mtime granularity is fine-grained on the file systems we target,
        // but make the later append unambiguously newer.
        std::thread::sleep(std::time::Duration::from_millis(20));
        s.append(Message::user("two", "stt")).await.unwrap();
        assert!(!is_up_to_date(s.path()).unwrap());
        assert!(matches!(
            compact_log(s.path(), &opts).unwrap(),
            Compacted::Written { messages: 2, .. }
        ));
    }
}
