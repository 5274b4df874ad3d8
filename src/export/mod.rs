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
//! decides, live in `stamp` and `freshness`.
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
//! | `html`     | an `<li>` with role, offset, source, flags and latency bars, in one self-contained page |
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

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use crate::error::{Error, Result};
use crate::read::{self as reader, Checked, Lock, LoggedMessage, Report};
use crate::record::{Header, Record, Role};
use crate::time::{parse_ts, wall_clock_of};

mod action;
mod csv;
mod documented;
mod file;
mod freshness;
pub mod html;
mod jsonl;
mod markdown;
mod merge;
mod options;
mod renderer;
mod stamp;
mod subtitles;
mod text;

pub use action::Action;
pub(crate) use csv::CsvRender;
pub(crate) use documented::JsonRender;
pub use file::export_file;
pub use freshness::{ExportState, Refreshed, export_state, is_up_to_date, refresh_export};
pub(crate) use html::HtmlRender;
pub(crate) use jsonl::JsonlRender;
pub(crate) use markdown::MarkdownRender;
pub(crate) use merge::Merger;
pub use options::{ExportOptions, Format, TimestampStyle};
use renderer::Renderer;
pub(crate) use stamp::{Stamp, crc_hex, read_stamp, tail_crc_of, write_stamp};
pub use stamp::{is_original, stamp_original};
pub(crate) use subtitles::{SubtitleRender, Subtitles};
pub(crate) use text::TextRender;
pub use text::escape_controls;

/// One message of the export: a record, or several fragments of one turn
/// merged. It is the stored message of its first fragment (its seq, time,
/// source, speaker, language and meta), with the fragments' text joined by
/// one space and `interrupted` when any fragment was; its fields read
/// through [`Deref`](std::ops::Deref), as `m.content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportMessage {
    /// The message, as merged.
    pub message: LoggedMessage,
    /// Number of records merged into this message.
    pub fragments: u32,
}

impl std::ops::Deref for ExportMessage {
    type Target = LoggedMessage;

    fn deref(&self) -> &LoggedMessage {
        &self.message
    }
}

impl ExportMessage {
    /// A single record's message, unmerged.
    pub fn single(message: LoggedMessage) -> ExportMessage {
        ExportMessage {
            message,
            fragments: 1,
        }
    }

    /// Who said it.
    pub fn role(&self) -> Role {
        self.message.role
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
    /// Called with the log's header (line 1, when it is intact), before any
    /// message: what a renderer needs to place the session in time. By
    /// default it is not needed.
    fn header(&mut self, h: &Header) -> Result<()> {
        let _ = h;
        Ok(())
    }
    /// Called for each tool call and handoff, in order with the messages,
    /// when the export shows them. By default it shows nothing.
    fn action(&mut self, a: &Action) -> Result<()> {
        let _ = a;
        Ok(())
    }
    /// Called once at the end.
    fn finish(&mut self) -> Result<()>;
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
    Ok(render_with(log, renderer, &for_format(format, opts))?.1)
}

/// Renders `log` in `format` to `out` in one pass, for a destination that
/// a failure discards anyway (the temporary file of an atomic replace, a
/// comparison with a file), and keeps the log open (for the export stamp).
pub(super) fn render_in_one_pass<W: Write>(
    log: &Path,
    format: Format,
    out: W,
    dest: &Path,
    opts: &ExportOptions,
) -> Result<Checked> {
    let renderer = Renderer::new(log, format, out, dest, opts)?;
    Ok(render_once(log, renderer, &for_format(format, opts))?.1)
}

/// `opts` with tool calls and handoffs shown as `format` shows them unless
/// `opts.tools` says otherwise.
fn for_format(format: Format, opts: &ExportOptions) -> ExportOptions {
    ExportOptions {
        tools: Some(format.shows_tools(opts.tools)),
        ..opts.clone()
    }
}

/// Reads `log` and feeds its messages, merged per `opts`, into any
/// [`Render`] (the CLI's search renders through this too), and its tool
/// calls and handoffs when `opts.tools` is `Some(true)`.
///
/// The whole log is checked first (opened, its header read, every line's
/// damage judged under the recovery mode: a [`Checked`] read), and only
/// then rendered, from the same open file and over exactly the bytes that
/// were checked. So the renderer sees its first byte only when the export
/// will succeed: on stdout, a missing file, a non-log or mid-file damage
/// leaves nothing at all rather than a cut-off document that looks whole.
/// The check costs one extra read of the log, about as much as `verify`.
pub fn render_with<R: Render>(log: &Path, render: R, opts: &ExportOptions) -> Result<(R, Report)> {
    let bytes = Checked::open(log, opts.recovery, Lock::None, |_| Ok(()))?.into_checked_bytes()?;
    render_records(render, opts, |visit| {
        reader::scan(log, bytes, opts.recovery, visit)
    })
}

/// Renders in one pass (see [`render_in_one_pass`]).
fn render_once<R: Render>(log: &Path, render: R, opts: &ExportOptions) -> Result<(R, Checked)> {
    render_records(render, opts, |visit| {
        Checked::open(log, opts.recovery, Lock::None, visit)
    })
}

/// Feeds the records that `scan` hands its visitor through the merger into
/// `render`, between its `begin` and its `finish`.
fn render_records<R: Render, T>(
    render: R,
    opts: &ExportOptions,
    scan: impl FnOnce(&mut dyn FnMut(&Record<'_>) -> Result<()>) -> Result<T>,
) -> Result<(R, T)> {
    let mut render = render;
    render.begin()?;
    let mut merger = Merger::new(render, !opts.no_merge, opts.redact.clone());
    let actions = opts.tools == Some(true);
    let scanned = scan(&mut |rec| match rec {
        Record::Header(h) => merger.header(h),
        Record::Message(m) => merger.push(m),
        Record::Tool(t) if actions => merger.action(Action::Tool(t.clone().into_owned())),
        Record::Handoff(h) if actions => merger.action(Action::Handoff(h.clone().into_owned())),
        _ => Ok(()),
    })?;
    let mut render = merger.finish()?;
    render.finish()?;
    Ok((render, scanned))
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
