//! Exporting into a file: refused when the file is a log or an original,
//! replaced atomically, and stamped when it is the export beside its log.

use std::io::{self, Write};
use std::path::Path;

use super::{
    ExportOptions, Format, Stamp, crc_hex, is_original, read_stamp, render_in_one_pass,
    tail_crc_of, write_stamp,
};
use crate::error::{Error, Result};
use crate::read::Report;

/// Refuses an output file that is a convlog log: the log being exported
/// (compared by device and inode, so a hard link, a symlink or another
/// spelling of its name is caught) or any other log (its first bytes are a
/// checksummed record): a typo such as `export LOG -o LOG` must never
/// replace a transcript with its own export.
fn refuse_unsafe_output(log: &Path, out: &Path) -> Result<()> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = std::fs::metadata(out) else {
        return Ok(());
    };
    if !target.is_file() {
        return Ok(());
    }
    let refuse = |why: &str| {
        Err(Error::io(
            out,
            "write the export",
            io::Error::new(io::ErrorKind::AlreadyExists, why.to_string()),
        ))
    };
    let same = std::fs::metadata(log)
        .is_ok_and(|src| src.dev() == target.dev() && src.ino() == target.ino());
    if same {
        return refuse(
            "it is the log being exported; refusing to replace a log with its export \
             (choose another -o, or - for stdout)",
        );
    }
    if is_original(out)? {
        return refuse(
            "it is the original file `convlog import` read, which convlog never replaces \
             (choose another -o, or - for stdout)",
        );
    }
    let mut head = [0u8; 8];
    let n = std::fs::File::open(out)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    if head[..n] == *b"{\"crc\":\"" {
        return refuse(
            "it is a convlog log; refusing to replace a log with an export \
             (choose another -o, or - for stdout)",
        );
    }
    Ok(())
}

/// Renders `log` in `format` into the file `out`, atomically (tmp → fsync →
/// rename → fsync dir), so nobody ever reads a half-written file. Refuses an
/// `out` that is a log (the one exported, under any name, or any other) or
/// an original. The log is opened and read
/// once: a failure discards the temporary file, so nothing half-done shows.
///
/// When `out` is the JSON export beside the log (`NAME.json` beside
/// `NAME.jsonl`), its stamp is written too, durably and before the export
/// is renamed into place, recording which bytes of the log it holds (see
/// [`export_state`](super::export_state) and FORMAT.md).
///
/// An export beside the log that was rendered redacted stays redacted: its
/// stamp's policy is added to `opts.redact` (FORMAT.md, "The export stamp"), so no
/// later rendering (a plain `refresh`, the end-of-session export) puts raw
/// text back where it was taken out.
pub fn export_file(log: &Path, out: &Path, format: Format, opts: &ExportOptions) -> Result<Report> {
    refuse_unsafe_output(log, out)?;
    let stamped = format == Format::Json && is_beside(log, out);
    let before = if stamped {
        read_stamp(out)?.filter(|s| s.kind == "export")
    } else {
        None
    };
    let widened;
    let opts = match before.and_then(|s| s.redact) {
        Some(policy) => {
            widened = ExportOptions {
                redact: opts.redact.clone().for_log(&policy, out)?,
                ..opts.clone()
            };
            &widened
        }
        None => opts,
    };
    let done = std::cell::RefCell::new(None);
    let fill = |w: &mut dyn Write| {
        let mut counted = Counted {
            out: w,
            hasher: crc32fast::Hasher::new(),
            len: 0,
        };
        let checked = render_in_one_pass(log, format, &mut counted, out, opts)?;
        *done.borrow_mut() = Some((checked, counted.len, counted.hasher.finalize()));
        Ok(())
    };
    let stamp = || {
        let done = done.borrow();
        let (Some((checked, len, crc)), true) = (done.as_ref(), stamped) else {
            return Ok(());
        };
        let report = checked.report();
        write_stamp(
            out,
            &Stamp {
                kind: "export".into(),
                file_len: *len,
                file_crc: crc_hex(*crc),
                log_len: Some(report.file_len),
                log_tail_crc: tail_crc_of(checked.file(), log, report.file_len)?,
                last_seq: report.last_seq,
                redact: opts.redact.to_stored(),
            },
        )
    };
    crate::fs::write_atomic_with(out, crate::fs::NewFileMode::Private, fill, stamp)?;
    done.into_inner()
        .map(|(checked, _, _)| checked.into_report())
        .ok_or_else(|| Error::Internal("export produced no report".into()))
}

/// Passes bytes on, keeping their count and CRC-32 for the stamp.
struct Counted<W> {
    out: W,
    hasher: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.out.write(data)?;
        self.hasher.update(&data[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// True when `out` names the export beside `log` (however either is spelled).
fn is_beside(log: &Path, out: &Path) -> bool {
    let expected = crate::fs::layout::export_path(log);
    if expected == out {
        return true;
    }
    let dir = |p: &Path| std::fs::canonicalize(crate::fs::parent_dir(p)).ok();
    expected.file_name() == out.file_name()
        && dir(&expected).is_some()
        && dir(&expected) == dir(out)
}
