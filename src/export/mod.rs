//! Export: renders a log in one of the [`Format`]s, streaming.
//!
//! ```
//! use convlog::export::{self, ExportOptions, Format};
//! use convlog::{Message, Session};
//!
//! let dir = tempfile::tempdir()?;
//! let log = Session::create(dir.path())?;
//! log.append_blocking(Message::user("Hi!", "deepgram_stt"))?;
//! log.append_blocking(Message::agent("Hello!", "cartesia_tts"))?;
//! let opts = ExportOptions::default();
//!
//! // To any writer: the whole log is checked before the first byte goes out.
//! let mut text = Vec::new();
//! export::render(log.path(), Format::Text, &mut text, "<memory>".as_ref(), &opts)?;
//! assert!(String::from_utf8(text)?.contains("[USER] Hi!"));
//!
//! // To a file, replaced atomically (tmp, fsync, rename, fsync of the directory).
//! let out = dir.path().join("transcript.json");
//! export::export_file(log.path(), &out, Format::Json, &opts)?;
//! assert!(std::fs::read_to_string(&out)?.starts_with("{\n  \"conversation\": ["));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Records go through a merger (which joins the fragments of one
//! streamed turn) into a [`Render`] implementation, one file per format, so
//! memory stays bounded by the longest turn, not the log. [`render`] writes
//! to any writer and [`export_file`] replaces a file atomically; both take
//! every format. The export stamp beside `NAME.json`, and the freshness it
//! decides, live in `stamp`.
//!
//! | format     | what one message looks like |
//! |------------|-----------------------------|
//! | `json`     | the documented file, byte-identical to the original design's |
//! | `jsonl`    | `{"role":"user","content":"…","timestamp":"…","source":"…"}` per line |
//! | `markdown` | `**14:30:22 · User:** …` paragraphs under a `## 2025-08-18` heading per day |
//! | `text`     | the console form: `[USER] …` / `[AGENT] …` (plus ` [interrupted]`), control characters escaped |
//! | `csv`      | RFC 4180: header row, CRLF line ends, fields quoted when needed |
//! | `srt`      | numbered cues `00:00:01,234 --> 00:00:03,000` with `[USER] …` |
//! | `vtt`      | `WEBVTT` cues `00:00:01.234 --> 00:00:03.000` with `<v User>…` |
//!
//! Tool calls and handoffs (see [`Action`]) show in `jsonl`, `markdown` and
//! `text` by default, and in `json` and `csv` only with
//! [`ExportOptions::tools`] (`--tools`), so that the documented file stays
//! byte-exact for the messages; subtitles never show them.
//!
//! `text` is one message per line and is meant for a terminal, so newlines
//! and control characters in the content are escaped ([`escape_controls`]):
//! a transcript cannot start a new line of its own or send escape sequences
//! (ESC) to the terminal that shows it. The other formats keep the content's
//! bytes as their own syntax specifies.
//!
//! `--timestamps` (the [`TimestampStyle`]) applies to `json`, `jsonl` and
//! `csv`. Markdown shows each message's wall-clock time as stored.
//!
//! `text` is one message per line and is meant for a terminal, so newlines
//! and control characters in the content are escaped ([`escape_controls`]):
//! a transcript cannot start a new line of its own or send escape sequences
//! (ESC) to the terminal that shows it. The other formats keep the content's
//! bytes as their own syntax specifies.
//!
//! `--timestamps` (the [`TimestampStyle`]) applies to `json`, `jsonl` and
//! `csv`. Markdown shows each message's wall-clock time as stored.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};

use crate::error::{Error, Result};
use crate::read::{self as reader, Recovery, Report};
use crate::record::{Record, Role};

mod action;
use crate::time::{parse_ts, wall_clock_of};

mod csv;
mod json;
mod jsonl;
mod markdown;
mod merge;
mod stamp;
mod subtitles;
mod text;

pub use action::Action;
pub(crate) use csv::CsvRender;
pub(crate) use json::JsonRender;
pub(crate) use jsonl::JsonlRender;
pub(crate) use markdown::MarkdownRender;
pub(crate) use merge::Merger;
pub use stamp::{
    ExportState, Refreshed, export_state, is_original, is_up_to_date, refresh_export,
    stamp_original,
};
pub(crate) use stamp::{Stamp, crc_hex, log_tail_crc, write_stamp};
pub(crate) use subtitles::{SubtitleRender, Subtitles};
pub(crate) use text::TextRender;
pub use text::escape_controls;

/// How `timestamp` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum TimestampStyle {
    /// The local wall-clock time without an offset,
    /// `2025-08-18T14:30:22.123456`: what the Python exporter wrote.
    #[default]
    #[cfg_attr(
        feature = "cli",
        value(
            name = "documented",
            help = "2025-08-18T14:30:22.123456 (local wall-clock time)"
        )
    )]
    WallClock,
    /// RFC 3339 as stored, with the writer's UTC offset.
    #[cfg_attr(
        feature = "cli",
        value(help = "2025-08-18T14:30:22.123456+05:30 (as stored)")
    )]
    Rfc3339,
}

impl FromStr for TimestampStyle {
    type Err = Error;
    fn from_str(s: &str) -> Result<TimestampStyle> {
        match s {
            "documented" => Ok(TimestampStyle::WallClock),
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
    /// Tool calls and handoffs: `Some(true)` shows them in every format
    /// but the subtitles (`--tools`), `Some(false)` in none
    /// (`--no-tools`), `None` as the format does by default (see
    /// [`Format::shows_tools`]). The documented JSON holds only the
    /// messages unless this is `Some(true)`.
    pub tools: Option<bool>,
}
/// The formats `convlog export --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// The documented `{"conversation": [...]}` JSON.
    #[default]
    #[cfg_attr(
        feature = "cli",
        value(help = "{\"conversation\": [...]}, byte-identical to the original design's file")
    )]
    Json,
    /// One documented message object per line.
    #[cfg_attr(
        feature = "cli",
        value(help = "One {\"role\",\"content\",\"timestamp\",\"source\"} object per line")
    )]
    Jsonl,
    /// A readable Markdown transcript.
    #[cfg_attr(
        feature = "cli",
        value(help = "A readable transcript: \"**14:30:22 · User:** …\" paragraphs")
    )]
    #[cfg_attr(feature = "cli", value(alias = "md"))]
    Markdown,
    /// `[USER] …` / `[AGENT] …` lines.
    #[cfg_attr(
        feature = "cli",
        value(help = "The console form: [USER] … / [AGENT] … lines")
    )]
    Text,
    /// Comma-separated values with a header row (RFC 4180).
    #[cfg_attr(
        feature = "cli",
        value(
            help = "RFC 4180 CSV with a header row: role,content,timestamp,source,turn,interrupted,speaker,lang"
        )
    )]
    Csv,
    /// SubRip subtitles.
    #[cfg_attr(
        feature = "cli",
        value(help = "SubRip subtitles, timed from the session start")
    )]
    Srt,
    /// WebVTT subtitles.
    #[cfg_attr(
        feature = "cli",
        value(help = "WebVTT subtitles, timed from the session start")
    )]
    Vtt,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 7] = [
        Format::Json,
        Format::Jsonl,
        Format::Markdown,
        Format::Text,
        Format::Csv,
        Format::Srt,
        Format::Vtt,
    ];

    /// The name `--format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Csv => "csv",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Text => "txt",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s || (s == "md" && *f == Format::Markdown))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                Error::InvalidInput(format!(
                    "unknown export format {s:?}: expected one of: {}",
                    names.join(", ")
                ))
            })
    }
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
            TimestampStyle::WallClock => wall_clock_of(&self.ts),
        }
    }
}

/// Something that writes messages out in one format.
pub trait Render {
    /// Called once before any message.
    fn begin(&mut self) -> Result<()>;
    /// Called for each (merged) message, in order.
    fn message(&mut self, m: &ExportMessage) -> Result<()>;
    /// Called for each tool call and handoff, in order with the messages,
    /// when the export shows them. By default it shows nothing.
    fn action(&mut self, a: &Action) -> Result<()> {
        let _ = a;
        Ok(())
    }
    /// Called once at the end.
    fn finish(&mut self) -> Result<()>;
}

/// Every renderer behind one type, so that [`render`] and [`export_file`]
/// pick the format once and stay generic over the writer.
enum Renderer<W> {
    Json(JsonRender<W>),
    Jsonl(JsonlRender<W>),
    Markdown(MarkdownRender<W>),
    Text(TextRender<W>),
    Csv(CsvRender<W>),
    Subtitles(SubtitleRender<W>),
}

impl<W: Write> Renderer<W> {
    /// The renderer for `format`. `dest` names the destination in errors;
    /// the Markdown title is the log's file stem, and subtitle cues count
    /// from the session start in the log's header.
    fn new(log: &Path, format: Format, out: W, dest: &Path, opts: &ExportOptions) -> Result<Self> {
        let ts = opts.timestamps;
        Ok(match format {
            Format::Json => Renderer::Json(JsonRender::new(out, dest, ts)),
            Format::Jsonl => Renderer::Jsonl(JsonlRender::new(out, dest, ts)),
            Format::Markdown => {
                let title = log
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "conversation".into());
                Renderer::Markdown(MarkdownRender::new(out, dest, &title))
            }
            Format::Text => Renderer::Text(TextRender::new(out, dest)),
            Format::Csv => Renderer::Csv(CsvRender::new(out, dest, ts)),
            Format::Srt | Format::Vtt => {
                let kind = if format == Format::Srt {
                    Subtitles::Srt
                } else {
                    Subtitles::Vtt
                };
                let origin = crate::read::read_header(log)?.and_then(|h| parse_ts(&h.created).ok());
                Renderer::Subtitles(SubtitleRender::new(out, dest, kind, origin))
            }
        })
    }
}

impl<W: Write> Render for Renderer<W> {
    fn begin(&mut self) -> Result<()> {
        match self {
            Renderer::Json(r) => r.begin(),
            Renderer::Jsonl(r) => r.begin(),
            Renderer::Markdown(r) => r.begin(),
            Renderer::Text(r) => r.begin(),
            Renderer::Csv(r) => r.begin(),
            Renderer::Subtitles(r) => r.begin(),
        }
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        match self {
            Renderer::Json(r) => r.message(m),
            Renderer::Jsonl(r) => r.message(m),
            Renderer::Markdown(r) => r.message(m),
            Renderer::Text(r) => r.message(m),
            Renderer::Csv(r) => r.message(m),
            Renderer::Subtitles(r) => r.message(m),
        }
    }

    fn action(&mut self, a: &Action) -> Result<()> {
        match self {
            Renderer::Json(r) => r.action(a),
            Renderer::Jsonl(r) => r.action(a),
            Renderer::Markdown(r) => r.action(a),
            Renderer::Text(r) => r.action(a),
            Renderer::Csv(r) => r.action(a),
            Renderer::Subtitles(r) => r.action(a),
        }
    }

    fn finish(&mut self) -> Result<()> {
        match self {
            Renderer::Json(r) => r.finish(),
            Renderer::Jsonl(r) => r.finish(),
            Renderer::Markdown(r) => r.finish(),
            Renderer::Text(r) => r.finish(),
            Renderer::Csv(r) => r.finish(),
            Renderer::Subtitles(r) => r.finish(),
        }
    }
}

/// Renders `log` in `format` to `out` (stdout, a buffer), which gets nothing
/// unless the whole log passes (see [`render_with`]). `dest` names the
/// destination in errors.
pub fn render<W: Write>(
    log: &Path,
    format: Format,
    out: W,
    dest: &Path,
    opts: &ExportOptions,
) -> Result<Report> {
    let renderer = Renderer::new(log, format, out, dest, opts)?;
    let opts = ExportOptions {
        tools: Some(format.shows_tools(opts.tools)),
        ..opts.clone()
    };
    Ok(render_with(log, renderer, &opts)?.1)
}

/// Reads `log` and feeds its messages, merged per `opts`, into any
/// [`Render`] (the CLI's search renders through this too), and its tool
/// calls and handoffs when `opts.tools` is `Some(true)`.
///
/// The whole log is checked first (opened, its header read, every line's
/// damage judged under the recovery mode), and only then rendered, from the
/// same open file and over exactly the bytes that were checked. So the
/// renderer sees its first byte only when the export will succeed: on
/// stdout, a missing file, a non-log or mid-file damage leaves nothing at
/// all rather than a cut-off document that looks whole. The check costs one
/// extra read of the log, about as much as `verify`.
pub fn render_with<R: Render>(log: &Path, render: R, opts: &ExportOptions) -> Result<(R, Report)> {
    use std::io::{Read, Seek};
    let mut file = crate::fs::open_read(log)?;
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
    let file = crate::fs::open_read(log)?;
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
    let mut render = render;
    render.begin()?;
    let mut merger = Merger::new(render, !opts.no_merge);
    let actions = opts.tools == Some(true);
    let report = reader::scan(log, bytes, opts.recovery, |rec| match rec {
        Record::Message(m) => merger.push(m),
        Record::Tool(t) if actions => merger.action(Action::Tool(t.clone().into_owned())),
        Record::Handoff(h) if actions => merger.action(Action::Handoff(h.clone().into_owned())),
        _ => Ok(()),
    })?;
    let mut render = merger.finish()?;
    render.finish()?;
    Ok((render, report))
}

/// Refuses an output file that is a convlog log: the log being exported
/// (compared by device and inode, so a hard link, a symlink or another
/// spelling of its name is caught) or any other log (its first bytes are a
/// checksummed record): a typo such as `export LOG -o LOG` must never
/// replace a transcript with its own export.
pub(crate) fn refuse_unsafe_output(log: &Path, out: &Path) -> Result<()> {
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
/// an original. The log is read
/// once: a failure discards the temporary file, so nothing half-done shows.
///
/// When `out` is the JSON export beside the log (`NAME.json` beside
/// `NAME.jsonl`), its stamp is written too, durably and before the export
/// is renamed into place, recording which bytes of the log it holds (see
/// [`export_state`] and FORMAT.md).
pub fn export_file(log: &Path, out: &Path, format: Format, opts: &ExportOptions) -> Result<Report> {
    refuse_unsafe_output(log, out)?;
    let stamped = format == Format::Json && is_beside(log, out);
    let done = std::cell::RefCell::new(None);
    let fill = |w: &mut dyn Write| {
        let mut counted = Counted {
            out: w,
            hasher: crc32fast::Hasher::new(),
            len: 0,
        };
        let renderer = Renderer::new(log, format, &mut counted, out, opts)?;
        let opts = ExportOptions {
            tools: Some(format.shows_tools(opts.tools)),
            ..opts.clone()
        };
        let (_, report) = render_once(log, renderer, &opts)?;
        *done.borrow_mut() = Some((report, counted.len, counted.hasher.finalize()));
        Ok(())
    };
    let stamp = || {
        let done = done.borrow();
        let (Some((report, len, crc)), true) = (done.as_ref(), stamped) else {
            return Ok(());
        };
        write_stamp(
            out,
            &Stamp {
                kind: "export".into(),
                file_len: *len,
                file_crc: crc_hex(*crc),
                log_len: Some(report.file_len),
                log_tail_crc: log_tail_crc(log, report.file_len)?,
                last_seq: report.last_seq,
            },
        )
    };
    crate::fs::write_atomic_with(out, crate::fs::NewFileMode::Private, fill, stamp)?;
    done.into_inner()
        .map(|(report, _, _)| report)
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

/// Shared by the renderers: the writer and the destination's name for errors.
struct Sink<W> {
    out: W,
    path: PathBuf,
}

impl<W: Write> Sink<W> {
    fn new(out: W, path: &Path) -> Sink<W> {
        Sink {
            out,
            path: path.to_path_buf(),
        }
    }

    fn write(&mut self, f: impl FnOnce(&mut W) -> io::Result<()>) -> Result<()> {
        f(&mut self.out).map_err(|e| Error::io(&self.path, "write", e))
    }

    fn flush(&mut self) -> Result<()> {
        self.write(|w| w.flush())
    }
}

/// The message's stored time, parsed.
fn time_of(m: &ExportMessage) -> Result<DateTime<FixedOffset>> {
    parse_ts(&m.ts)
}

/// `User` / `Agent`.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "User",
        Role::Agent => "Agent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_parse() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert!(
            "xml"
                .parse::<Format>()
                .unwrap_err()
                .to_string()
                .contains("jsonl")
        );
    }
}
