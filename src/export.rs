//! Export: renders a log as the original design's documented JSON file.
//!
//! The output must be byte-identical to what the original design's Python
//! wrote with `json.dump(data, f, ensure_ascii=False, indent=2)`, so the JSON
//! is written by hand here rather than by `serde_json`'s pretty printer, whose
//! spacing and escapes are not specified to match Python's.
//!
//! Rendering streams: records go through the [`Merger`] (which joins the
//! fragments of one streamed turn) into a [`Render`] implementation, so memory
//! stays bounded by the longest turn, not the log.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::json::push_json_str;
use crate::reader::{self, Recovery, Report};
use crate::record::{MessageRecord, Record, Role};
use crate::time::wall_clock_of;

/// How `timestamp` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampStyle {
    /// The original design's naive local time, `2025-08-18T14:30:22.123456`.
    #[default]
    Documented,
    /// RFC 3339 as stored, with the writer's UTC offset.
    Rfc3339,
}

impl FromStr for TimestampStyle {
    type Err = Error;
    fn from_str(s: &str) -> Result<TimestampStyle> {
        match s {
            "documented" => Ok(TimestampStyle::Documented),
            "rfc3339" => Ok(TimestampStyle::Rfc3339),
            other => Err(Error::InvalidInput(format!(
                "unknown timestamp style {other:?}: expected one of: documented, rfc3339"
            ))),
        }
    }
}

/// Export settings.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Timestamp form.
    pub timestamps: TimestampStyle,
    /// Keep every record instead of merging the fragments of a turn.
    pub no_merge: bool,
    /// What to do about damage.
    pub recovery: Recovery,
}

/// One message of the export: a record, or several fragments of one turn merged.
#[derive(Debug, Clone, Default)]
pub struct ExportMessage {
    /// Who said it.
    pub role: Option<Role>,
    /// The text (fragments joined by one space).
    pub content: String,
    /// The stored RFC 3339 time of the first fragment.
    pub ts: String,
    /// Producer name of the first fragment.
    pub source: String,
    /// Turn id.
    pub turn: Option<String>,
    /// Any fragment was interrupted.
    pub interrupted: bool,
    /// Speaker of the first fragment.
    pub speaker: Option<String>,
    /// Language of the first fragment.
    pub lang: Option<String>,
    /// `meta` of the first fragment, as raw JSON.
    pub meta: Option<String>,
    /// Seq of the first fragment.
    pub seq: u64,
    /// Number of records merged into this message.
    pub fragments: u32,
}

impl ExportMessage {
    /// The role, which is always set on messages handed to a renderer.
    pub fn role(&self) -> Role {
        self.role.unwrap_or(Role::User)
    }

    /// The timestamp in the requested style.
    pub fn timestamp(&self, style: TimestampStyle) -> Result<Cow<'_, str>> {
        match style {
            TimestampStyle::Rfc3339 => Ok(Cow::Borrowed(&self.ts)),
            TimestampStyle::Documented => wall_clock_of(&self.ts),
        }
    }

    fn set_from(&mut self, m: &MessageRecord<'_>) {
        fn copy(dst: &mut Option<String>, src: &Option<Cow<'_, str>>) {
            match src {
                Some(s) => {
                    let d = dst.get_or_insert_with(String::new);
                    d.clear();
                    d.push_str(s);
                }
                None => *dst = None,
            }
        }
        self.role = Some(m.role);
        self.content.clear();
        self.content.push_str(&m.content);
        self.ts.clear();
        self.ts.push_str(&m.ts);
        self.source.clear();
        self.source.push_str(&m.source);
        copy(&mut self.turn, &m.turn);
        copy(&mut self.speaker, &m.speaker);
        copy(&mut self.lang, &m.lang);
        match (&mut self.meta, m.meta) {
            (Some(dst), Some(raw)) => {
                dst.clear();
                dst.push_str(raw.get());
            }
            (dst, raw) => *dst = raw.map(|r| r.get().to_string()),
        }
        self.interrupted = m.interrupted;
        self.seq = m.seq;
        self.fragments = 1;
    }
}

/// Something that writes messages out in one format.
pub trait Render {
    /// Called once before any message.
    fn begin(&mut self) -> Result<()>;
    /// Called for each (merged) message, in order.
    fn message(&mut self, m: &ExportMessage) -> Result<()>;
    /// Called once at the end.
    fn finish(&mut self) -> Result<()>;
}

/// Joins consecutive records of the same role and the same `turn`.
pub struct Merger<R> {
    out: R,
    merge: bool,
    pending: ExportMessage,
    has_pending: bool,
}

impl<R: Render> Merger<R> {
    /// Wraps a renderer; `merge: false` passes every record through.
    pub fn new(out: R, merge: bool) -> Merger<R> {
        Merger {
            out,
            merge,
            pending: ExportMessage::default(),
            has_pending: false,
        }
    }

    /// Feeds one record.
    pub fn push(&mut self, m: &MessageRecord<'_>) -> Result<()> {
        if self.merge
            && self.has_pending
            && self.pending.role == Some(m.role)
            && m.turn.is_some()
            && self.pending.turn.as_deref() == m.turn.as_deref()
        {
            self.pending.content.push(' ');
            self.pending.content.push_str(&m.content);
            self.pending.interrupted |= m.interrupted;
            self.pending.fragments += 1;
            return Ok(());
        }
        if self.has_pending {
            self.out.message(&self.pending)?;
        }
        self.pending.set_from(m);
        self.has_pending = true;
        Ok(())
    }

    /// Flushes the last message and returns the renderer.
    pub fn finish(mut self) -> Result<R> {
        if self.has_pending {
            self.out.message(&self.pending)?;
        }
        Ok(self.out)
    }
}

/// Reads `log` and feeds its messages, merged per `opts`, into `render`.
///
/// The whole log is checked first (opened, its header read, every line's
/// damage judged under the recovery mode), and only then rendered, from the
/// same open file and over exactly the bytes that were checked. So the
/// renderer sees its first byte only when the export will succeed: on
/// stdout, a missing file, a non-log or mid-file damage leaves nothing at
/// all rather than a cut-off document that looks whole. The check costs one
/// extra read of the log, about as much as `verify`.
pub fn render_log<R: Render>(log: &Path, render: R, opts: &ExportOptions) -> Result<(R, Report)> {
    use std::io::{Read, Seek};
    let mut file = crate::fsutil::open_read(log)?;
    let checked = reader::scan(
        log,
        io::BufReader::with_capacity(1 << 16, &file),
        opts.recovery,
        |_| Ok(()),
    )?;
    file.rewind().map_err(|e| Error::io(log, "seek", e))?;
    let bytes = io::BufReader::with_capacity(1 << 16, (&file).take(checked.file_len));
    render_from(log, bytes, render, opts)
}

/// Renders in one pass, for a destination that a failure discards anyway
/// (the temporary file of an atomic replace).
fn render_once<R: Render>(log: &Path, render: R, opts: &ExportOptions) -> Result<(R, Report)> {
    let file = crate::fsutil::open_read(log)?;
    render_from(
        log,
        io::BufReader::with_capacity(1 << 16, file),
        render,
        opts,
    )
}

fn render_from<R: Render, B: io::BufRead>(
    log: &Path,
    bytes: B,
    render: R,
    opts: &ExportOptions,
) -> Result<(R, Report)> {
    let mut merger = Merger::new(render, !opts.no_merge);
    merger.out.begin()?;
    let report = reader::scan(log, bytes, opts.recovery, |rec| match rec {
        Record::Message(m) => merger.push(m),
        _ => Ok(()),
    })?;
    let mut render = merger.finish()?;
    render.finish()?;
    Ok((render, report))
}

/// Refuses an output file that is a convlog log: the log being exported
/// (compared by device and inode, so a hard link, a symlink or another
/// spelling of its name is caught) or any other log (its first bytes are a
/// checksummed record). `export LOG -o LOG` used to replace the log with its
/// own export; a typo must never destroy a transcript.
pub fn check_output(log: &Path, out: &Path) -> Result<()> {
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
    if crate::compact::is_original(out)? {
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

/// The documented JSON: `{"conversation": [{"role","content","timestamp","source"}, …]}`
/// with two-space indent, raw non-ASCII and no trailing newline.
pub struct JsonRender<W> {
    out: W,
    path: std::path::PathBuf,
    timestamps: TimestampStyle,
    count: u64,
    /// One message is assembled here and handed to `out` in one write.
    scratch: Vec<u8>,
}

impl<W: Write> JsonRender<W> {
    /// Writes to `out`; `path` names the destination in errors.
    pub fn new(out: W, path: &Path, timestamps: TimestampStyle) -> JsonRender<W> {
        JsonRender {
            out,
            path: path.to_path_buf(),
            timestamps,
            count: 0,
            scratch: Vec::with_capacity(1024),
        }
    }

    /// The inner writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn io(&self, e: io::Error) -> Error {
        Error::io(&self.path, "write", e)
    }
}

impl<W: Write> Render for JsonRender<W> {
    fn begin(&mut self) -> Result<()> {
        self.out
            .write_all(b"{\n  \"conversation\": [")
            .map_err(|e| self.io(e))
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        let ts = m.timestamp(self.timestamps)?;
        let sep: &[u8] = if self.count == 0 { b"\n" } else { b",\n" };
        self.count += 1;
        let buf = &mut self.scratch;
        buf.clear();
        buf.extend_from_slice(sep);
        buf.extend_from_slice(b"    {\n      \"role\": \"");
        buf.extend_from_slice(m.role().as_str().as_bytes());
        buf.extend_from_slice(b"\",\n      \"content\": ");
        push_json_str(buf, &m.content);
        buf.extend_from_slice(b",\n      \"timestamp\": ");
        push_json_str(buf, &ts);
        buf.extend_from_slice(b",\n      \"source\": ");
        push_json_str(buf, &m.source);
        buf.extend_from_slice(b"\n    }");
        self.out.write_all(buf).map_err(|e| self.io(e))
    }

    fn finish(&mut self) -> Result<()> {
        let tail: &[u8] = if self.count == 0 {
            b"]\n}"
        } else {
            b"\n  ]\n}"
        };
        self.out
            .write_all(tail)
            .and_then(|_| self.out.flush())
            .map_err(|e| self.io(e))
    }
}

/// The export's old name for [`write_json_str`](crate::json::write_json_str),
/// kept until the curated API (the bench programs still name it).
#[doc(hidden)]
pub use crate::json::write_json_str as write_py_str;

/// Renders `log` as the documented JSON into `out` (atomically: tmp → fsync →
/// rename → fsync dir), so a reader never sees a half-written export.
/// Refuses an `out` that is a log or an original ([`check_output`]).
///
/// When `out` is the export beside the log (`NAME.json` beside
/// `NAME.jsonl`), its stamp is written too, durably and before the export
/// is renamed into place, recording which bytes of the log it holds (see
/// [`compact`](crate::compact) and FORMAT.md).
pub fn export_file(log: &Path, out: &Path, opts: &ExportOptions) -> Result<Report> {
    check_output(log, out)?;
    let beside = is_beside(log, out);
    let done = std::cell::RefCell::new(None);
    let fill = |w: &mut dyn Write| {
        let counted = Counted {
            out: w,
            hasher: crc32fast::Hasher::new(),
            len: 0,
        };
        let (render, report) =
            render_once(log, JsonRender::new(counted, out, opts.timestamps), opts)?;
        let counted = render.into_inner();
        *done.borrow_mut() = Some((report, counted.len, counted.hasher.finalize()));
        Ok(())
    };
    let stamp = || {
        let done = done.borrow();
        let (Some((report, len, crc)), true) = (done.as_ref(), beside) else {
            return Ok(());
        };
        crate::compact::write_stamp(
            out,
            &crate::compact::Stamp {
                kind: "export".into(),
                file_len: *len,
                file_crc: crate::compact::crc_hex(*crc),
                log_len: Some(report.file_len),
                log_tail_crc: crate::compact::log_tail_crc(log, report.file_len)?,
                last_seq: report.last_seq,
            },
        )
    };
    crate::fsutil::write_atomic_with(out, crate::fsutil::NewFileMode::Private, fill, stamp)?;
    done.into_inner()
        .map(|(report, _, _)| report)
        .ok_or_else(|| Error::InvalidInput("export produced no report".into()))
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
    let expected = crate::session::export_path(log);
    if expected == out {
        return true;
    }
    let dir = |p: &Path| std::fs::canonicalize(crate::fsutil::parent_dir(p)).ok();
    expected.file_name() == out.file_name()
        && dir(&expected).is_some()
        && dir(&expected) == dir(out)
}

/// Renders `log` as the documented JSON to any writer (stdout, a buffer),
/// which gets nothing unless the whole log passes (see [`render_log`]).
pub fn export_to<W: Write>(log: &Path, out: W, opts: &ExportOptions) -> Result<Report> {
    let render = JsonRender::new(out, Path::new("<stdout>"), opts.timestamps);
    Ok(render_log(log, render, opts)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_export_matches_python() {
        let mut r = JsonRender::new(Vec::new(), Path::new("x"), TimestampStyle::Documented);
        r.begin().unwrap();
        r.finish().unwrap();
        assert_eq!(r.into_inner(), b"{\n  \"conversation\": []\n}");
    }
}
