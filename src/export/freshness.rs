//! Whether the JSON beside a log holds every record of it, decided by the
//! stamp (content, not modification times), and rendering it again when it
//! does not: what `convlog refresh` and `convlog ls` ask.

use std::io;
use std::path::{Path, PathBuf};

use super::stamp::{Stamp, crc_hex, file_crc, log_tail_crc, read_stamp, tail_crc_of, write_stamp};
use super::{ExportOptions, Format, export_file, render_in_one_pass};
use crate::error::{Error, Result};
use crate::fs::layout::export_path;

/// What [`refresh_export`] did for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The export was rendered.
    Written {
        /// Where.
        export: PathBuf,
        /// Messages in the log.
        messages: u64,
        /// The policy it was redacted with: the one asked for, widened by
        /// the one the export it replaced was redacted with, if any.
        redacted: Option<crate::record::StoredPolicy>,
    },
    /// The export already holds every record of the log.
    UpToDate {
        /// Where.
        export: PathBuf,
    },
    /// The file where the export would go is not a convlog export, so it was
    /// left as it is.
    #[allow(missing_docs)] // the fields' names say it
    Kept {
        export: PathBuf,
        /// An original that `convlog import` read ([`ExportState::Original`]),
        /// or a file of unknown origin ([`ExportState::Unknown`]).
        state: ExportState,
    },
}

/// What the file beside a log (`NAME.json` beside `NAME.jsonl`) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportState {
    /// There is none.
    Missing,
    /// convlog's export, rendered from the log as it is now.
    UpToDate,
    /// convlog's export, rendered before the log last changed.
    Stale,
    /// The original file `convlog import` read: never replaced.
    Original,
    /// A file convlog has no stamp for (copied in, or written by something
    /// else): `convlog refresh` leaves it alone.
    Unknown,
}

impl ExportState {
    /// The name `ls` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Missing => "missing",
            ExportState::UpToDate => "up to date",
            ExportState::Stale => "stale",
            ExportState::Original => "original",
            ExportState::Unknown => "unknown",
        }
    }
}

/// What the file beside `log` is, and for an export whether it is fresh:
/// the stamp must describe this very file (length and checksum) and the log
/// must still be exactly as long as the bytes it was rendered from, ending
/// in the same bytes. An append, a repair or a replaced log changes that.
///
/// A file without a stamp (written before stamps existed, or copied in) is
/// compared with a fresh rendering of the log: identical means up to date,
/// anything else is [`ExportState::Unknown`].
pub fn export_state(log: &Path) -> Result<ExportState> {
    Ok(inspect_export(log)?.0)
}

/// The state, and the stamp to write when an unstamped file turned out to
/// be exactly the log's export.
fn inspect_export(log: &Path) -> Result<(ExportState, Option<Stamp>)> {
    let log_meta = std::fs::symlink_metadata(log).map_err(|e| Error::io(log, "stat", e))?;
    let export = export_path(log);
    let export_len = match std::fs::metadata(&export) {
        // Not a file convlog could have written (a FIFO would not even
        // open without a writer): not the export, whatever it is.
        Ok(m) if !m.is_file() => return Ok((ExportState::Unknown, None)),
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((ExportState::Missing, None)),
        Err(e) => return Err(Error::io(&export, "stat", e)),
    };
    let Some(stamp) = read_stamp(&export)? else {
        return Ok(match rendering_if_identical(log, &export)? {
            Some(stamp) => (ExportState::UpToDate, Some(stamp)),
            None => (ExportState::Unknown, None),
        });
    };
    match stamp.kind.as_str() {
        "original" => return Ok((ExportState::Original, None)),
        "export" => {}
        _ => return Ok((ExportState::Unknown, None)),
    }
    let fresh = stamp.file_len == export_len
        && stamp.log_len == Some(log_meta.len())
        && stamp.log_tail_crc.is_some()
        && log_tail_crc(log, log_meta.len())? == stamp.log_tail_crc
        && file_crc(&export)?
            .is_some_and(|(len, crc)| len == stamp.file_len && crc == stamp.file_crc);
    Ok((
        if fresh {
            ExportState::UpToDate
        } else {
            ExportState::Stale
        },
        None,
    ))
}

/// Renders `log` in one pass (one open, one read) and compares it, as it
/// streams, with the file at `export`; the stamp for it when they are
/// identical.
fn rendering_if_identical(log: &Path, export: &Path) -> Result<Option<Stamp>> {
    let file = crate::fs::open_beside(export).map_err(|e| Error::io(export, "open", e))?;
    let mut cmp = Compare {
        file: io::BufReader::new(file),
        same: true,
        hasher: crc32fast::Hasher::new(),
        len: 0,
        buf: Vec::new(),
    };
    let rendered = render_in_one_pass(
        log,
        Format::Json,
        &mut cmp,
        export,
        &ExportOptions::default(),
    );
    let Ok(checked) = rendered else {
        // Damage the default mode refuses: not provably the export.
        return Ok(None);
    };
    let report = checked.report();
    let mut rest = [0u8; 1];
    let at_end = matches!(io::Read::read(&mut cmp.file, &mut rest), Ok(0));
    if !(cmp.same && at_end) {
        return Ok(None);
    }
    Ok(Some(Stamp {
        kind: "export".into(),
        file_len: cmp.len,
        file_crc: crc_hex(cmp.hasher.finalize()),
        log_len: Some(report.file_len),
        log_tail_crc: tail_crc_of(checked.file(), log, report.file_len)?,
        last_seq: report.last_seq,
        redact: None,
    }))
}

/// A writer that checks what it is given against a file instead of writing it.
struct Compare {
    file: io::BufReader<std::fs::File>,
    same: bool,
    hasher: crc32fast::Hasher,
    len: u64,
    buf: Vec<u8>,
}

impl io::Write for Compare {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.same {
            self.buf.resize(data.len(), 0);
            self.same =
                io::Read::read_exact(&mut self.file, &mut self.buf).is_ok() && self.buf == data;
            self.hasher.update(data);
            self.len += data.len() as u64;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// True when `log`'s export exists and holds every record of the log as it is now.
pub fn is_up_to_date(log: &Path) -> Result<bool> {
    Ok(export_state(log)? == ExportState::UpToDate)
}

/// Renders `log`'s export unless it is up to date. An original (see
/// [`stamp_original`](super::stamp_original)) or a file convlog has no stamp for is left as it is.
///
/// With `opts.redact`, an export that is up to date but was not rendered
/// with (at least) that policy is rendered again: asking for a redacted
/// export never answers "up to date" for one that holds raw text.
pub fn refresh_export(log: &Path, opts: &ExportOptions) -> Result<Refreshed> {
    let export = export_path(log);
    let (mut state, adopted) = inspect_export(log)?;
    if state == ExportState::UpToDate && !opts.redact.is_empty() {
        let stamp = match &adopted {
            Some(s) => Some(s.clone()),
            None => read_stamp(&export)?,
        };
        if !opts
            .redact
            .is_covered_by(stamp.and_then(|s| s.redact).as_ref())
        {
            state = ExportState::Stale;
        }
    }
    match (state, adopted) {
        (ExportState::UpToDate, adopted) => {
            if let Some(stamp) = adopted {
                write_stamp(&export, &stamp)?;
            }
            Ok(Refreshed::UpToDate { export })
        }
        (state @ (ExportState::Original | ExportState::Unknown), _) => {
            Ok(Refreshed::Kept { export, state })
        }
        (ExportState::Missing | ExportState::Stale, _) => {
            let report = export_file(log, &export, Format::Json, opts)?;
            let redacted = read_stamp(&export)?.and_then(|s| s.redact);
            Ok(Refreshed::Written {
                export,
                messages: report.messages,
                redacted,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Options, Session};

    fn session(dir: &Path) -> Session {
        Session::create_with(dir, Options::default().echo(false)).unwrap()
    }

    #[tokio::test]
    async fn renders_once_then_again_after_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(dir.path());
        s.append(Message::user("one", "stt")).await.unwrap();
        let opts = ExportOptions::default();
        assert!(matches!(
            refresh_export(s.path(), &opts).unwrap(),
            Refreshed::Written { messages: 1, .. }
        ));
        assert!(matches!(
            refresh_export(s.path(), &opts).unwrap(),
            Refreshed::UpToDate { .. }
        ));
        s.append(Message::user("two", "stt")).await.unwrap();
        assert!(!is_up_to_date(s.path()).unwrap());
        assert!(matches!(
            refresh_export(s.path(), &opts).unwrap(),
            Refreshed::Written { messages: 2, .. }
        ));
    }

    /// On a coarse timestamp clock (4 ms is common) an append right after a
    /// refresh gets the export's own mtime; freshness must still see the
    /// new record. This machine's clock may be finer, so every other
    /// iteration gives the log the export's mtime, as such a clock would.
    #[tokio::test]
    async fn an_append_right_after_a_refresh_is_never_missed() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(dir.path());
        let opts = ExportOptions::default();
        for i in 0..200 {
            refresh_export(s.path(), &opts).unwrap();
            s.append(Message::user(format!("m{i}"), "stt"))
                .await
                .unwrap();
            if i % 2 == 0 {
                let t = std::fs::metadata(export_path(s.path()))
                    .and_then(|m| m.modified())
                    .unwrap();
                let log = std::fs::File::options()
                    .append(true)
                    .open(s.path())
                    .unwrap();
                log.set_modified(t).unwrap();
            }
            assert!(
                !is_up_to_date(s.path()).unwrap(),
                "iteration {i}: called up to date while missing the new record"
            );
        }
    }

    #[test]
    fn a_file_without_a_stamp_is_unknown_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(dir.path());
        let export = export_path(s.path());
        std::fs::write(&export, "mine").unwrap();
        assert_eq!(export_state(s.path()).unwrap(), ExportState::Unknown);
        assert!(matches!(
            refresh_export(s.path(), &ExportOptions::default()).unwrap(),
            Refreshed::Kept {
                state: ExportState::Unknown,
                ..
            }
        ));
        assert_eq!(std::fs::read(&export).unwrap(), b"mine");
    }
}
