//! Export formats besides the documented JSON: JSON Lines, Markdown, plain
//! text, CSV and SRT / WebVTT subtitles.
//!
//! Every format is an [`export::Render`](crate::export::Render) fed through
//! the same [`Merger`](crate::export::Merger) as the JSON export, so the
//! fragments of one streamed turn become one message in every format (unless
//! [`ExportOptions::no_merge`] is set), and memory stays bounded by the
//! longest turn.
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
//! `text` is one message per line and is meant for a terminal, so newlines
//! and control characters in the content are escaped ([`escape_controls`]):
//! a transcript cannot start a new line of its own or send escape sequences
//! (ESC) to the terminal that shows it. The other formats keep the content's
//! bytes as their own syntax specifies.
//!
//! `--timestamps` (the [`TimestampStyle`]) applies to `json`, `jsonl` and
//! `csv`. Markdown shows each message's wall-clock time as stored.
//!
//! Subtitle cues start at the message's time relative to the session start
//! (the header's `created`; the first message's time when the header is
//! damaged or the first message is older, as ingested messages can be).
//! A cue ends at `meta.duration_ms` after its start when the message is a
//! single record carrying that number, otherwise where the next message
//! starts; the last cue lasts 70 ms per character, at least 1 s and at most
//! 10 s. These are times text reached the logger, not audio times.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::error::{Error, Result};
use crate::export::{ExportMessage, ExportOptions, JsonRender, Render, TimestampStyle, render_log};
use crate::reader::Report;
use crate::record::Role;
use crate::time::parse_ts;

/// The formats `convlog export --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The documented `{"conversation": [...]}` JSON.
    #[default]
    Json,
    /// One documented message object per line.
    Jsonl,
    /// A readable Markdown transcript.
    Markdown,
    /// `[USER] …` / `[AGENT] …` lines.
    Text,
    /// Comma-separated values with a header row (RFC 4180).
    Csv,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
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

/// Renders `log` in `format` to `out`. `dest` names the destination in
/// errors; the Markdown title is the log's file stem.
pub fn render_to<W: Write>(
    log: &Path,
    format: Format,
    out: W,
    dest: &Path,
    opts: &ExportOptions,
) -> Result<Report> {
    let ts = opts.timestamps;
    Ok(match format {
        Format::Json => render_log(log, JsonRender::new(out, dest, ts), opts)?.1,
        Format::Jsonl => render_log(log, JsonlRender::new(out, dest, ts), opts)?.1,
        Format::Markdown => {
            let title = log
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "conversation".into());
            render_log(log, MarkdownRender::new(out, dest, &title), opts)?.1
        }
        Format::Text => render_log(log, TextRender::new(out, dest), opts)?.1,
        Format::Csv => render_log(log, CsvRender::new(out, dest, ts), opts)?.1,
        Format::Srt | Format::Vtt => {
            let kind = if format == Format::Srt {
                Subtitles::Srt
            } else {
                Subtitles::Vtt
            };
            let origin = crate::stats::read_header(log)?.and_then(|h| parse_ts(&h.created).ok());
            render_log(log, SubtitleRender::new(out, dest, kind, origin), opts)?.1
        }
    })
}

/// Renders `log` in `format` into the file `out`, atomically (tmp → fsync →
/// rename → fsync dir), so nobody ever reads a half-written file.
pub fn export_file_as(
    log: &Path,
    out: &Path,
    format: Format,
    opts: &ExportOptions,
) -> Result<Report> {
    let mut report = None;
    crate::fsutil::write_atomic(out, |w| {
        report = Some(render_to(log, format, w, out, opts)?);
        Ok(())
    })?;
    report.ok_or_else(|| Error::InvalidInput("export produced no report".into()))
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

/// One documented message object per line, compact, non-ASCII raw:
/// `{"role":"user","content":"…","timestamp":"…","source":"…"}`.
pub struct JsonlRender<W> {
    sink: Sink<W>,
    timestamps: TimestampStyle,
}

impl<W: Write> JsonlRender<W> {
    /// Writes to `out`; `path` names the destination in errors.
    pub fn new(out: W, path: &Path, timestamps: TimestampStyle) -> JsonlRender<W> {
        JsonlRender {
            sink: Sink::new(out, path),
            timestamps,
        }
    }
}

impl<W: Write> Render for JsonlRender<W> {
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        let ts = m.timestamp(self.timestamps)?;
        self.sink.write(|w| {
            w.write_all(b"{\"role\":\"")?;
            w.write_all(m.role().as_str().as_bytes())?;
            w.write_all(b"\",\"content\":")?;
            crate::json::write_json_str(w, &m.content)?;
            w.write_all(b",\"timestamp\":")?;
            crate::json::write_json_str(w, &ts)?;
            w.write_all(b",\"source\":")?;
            crate::json::write_json_str(w, &m.source)?;
            w.write_all(b"}\n")
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}

/// Escapes what must not reach a terminal raw: `\n` and `\r` as those two
/// characters, other C0 controls and DEL as `\x1b`-style escapes, C1
/// controls (U+0080–U+009F, which some terminals obey like ESC) as
/// `\u{9b}`. Tabs and all other text, backslashes included, pass unchanged,
/// so ordinary content reads as it was written.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    let needs = |c: char| c != '\t' && (c.is_control());
    if !s.chars().any(needs) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs(c) && (c as u32) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The console form of the original design: `[USER] …` / `[AGENT] …`, one
/// message per line, ` [interrupted]` after a turn that was cut off. Content
/// goes through [`escape_controls`], so a line is always one message.
pub struct TextRender<W> {
    sink: Sink<W>,
}

impl<W: Write> TextRender<W> {
    /// Writes to `out`; `path` names the destination in errors.
    pub fn new(out: W, path: &Path) -> TextRender<W> {
        TextRender {
            sink: Sink::new(out, path),
        }
    }
}

impl<W: Write> Render for TextRender<W> {
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        self.sink.write(|w| {
            write!(w, "[{}] {}", m.role().tag(), escape_controls(&m.content))?;
            if m.interrupted {
                w.write_all(b" [interrupted]")?;
            }
            w.write_all(b"\n")
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}

/// A Markdown transcript: a title, a `## YYYY-MM-DD` heading whenever the
/// date changes, and one `**HH:MM:SS · Role:** text` paragraph per message.
/// Markdown syntax in the content is escaped so that it shows as typed.
pub struct MarkdownRender<W> {
    sink: Sink<W>,
    title: String,
    day: Option<NaiveDate>,
}

impl<W: Write> MarkdownRender<W> {
    /// Writes to `out` under the heading `# title`; `path` names the destination in errors.
    pub fn new(out: W, path: &Path, title: &str) -> MarkdownRender<W> {
        MarkdownRender {
            sink: Sink::new(out, path),
            title: title.to_string(),
            day: None,
        }
    }
}

impl<W: Write> Render for MarkdownRender<W> {
    fn begin(&mut self) -> Result<()> {
        let title = md_escape(&self.title, true);
        self.sink.write(|w| writeln!(w, "# {title}"))
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        let local = time_of(m)?.naive_local();
        let day = local.date();
        let new_day = self.day != Some(day);
        self.day = Some(day);
        let mut body = String::new();
        for (i, line) in m
            .content
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            if i > 0 {
                // A hard line break keeps the message one paragraph.
                body.push_str("  \n");
            }
            body.push_str(&md_escape(line.trim_end(), i > 0));
        }
        if m.interrupted {
            body.push_str(" *(interrupted)*");
        }
        self.sink.write(|w| {
            if new_day {
                write!(w, "\n## {}\n", day.format("%Y-%m-%d"))?;
            }
            write!(
                w,
                "\n**{} · {}:** {body}\n",
                local.format("%H:%M:%S"),
                role_name(m.role())
            )
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}

/// Escapes what Markdown would otherwise read as markup: emphasis, code,
/// links, raw HTML, entities, and (at the start of a line, when `line_start`)
/// headings, block quotes and list markers.
pub fn md_escape(s: &str, line_start: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let at_start = line_start && i == 0;
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '~' | '|' => true,
            // `snake_case` is not emphasis; `_this_` is.
            '_' => {
                !(i > 0
                    && chars[i - 1].is_alphanumeric()
                    && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()))
            }
            '&' => chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#'),
            '#' | '>' | '-' | '+' | '=' => at_start,
            '.' | ')' => {
                // "1. " or "1) " at the start of a line would start a list.
                line_start && i > 0 && chars[..i].iter().all(char::is_ascii_digit)
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 4180 CSV: a header row, CRLF line ends, a field quoted (with `"`
/// doubled) when it holds a comma, a quote, CR or LF. Columns: `role`,
/// `content`, `timestamp`, `source`, `turn`, `interrupted`, `speaker`, `lang`.
pub struct CsvRender<W> {
    sink: Sink<W>,
    timestamps: TimestampStyle,
}

impl<W: Write> CsvRender<W> {
    /// The header row, as written.
    pub const HEADER: &'static str = "role,content,timestamp,source,turn,interrupted,speaker,lang";

    /// Writes to `out`; `path` names the destination in errors.
    pub fn new(out: W, path: &Path, timestamps: TimestampStyle) -> CsvRender<W> {
        CsvRender {
            sink: Sink::new(out, path),
            timestamps,
        }
    }
}

/// Writes one CSV field, quoted only when it has to be.
pub fn write_csv_field<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    if s.contains([',', '"', '\r', '\n']) {
        w.write_all(b"\"")?;
        w.write_all(s.replace('"', "\"\"").as_bytes())?;
        w.write_all(b"\"")
    } else {
        w.write_all(s.as_bytes())
    }
}

impl<W: Write> Render for CsvRender<W> {
    fn begin(&mut self) -> Result<()> {
        self.sink
            .write(|w| write!(w, "{}\r\n", CsvRender::<W>::HEADER))
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        let ts = m.timestamp(self.timestamps)?;
        let interrupted = if m.interrupted { "true" } else { "false" };
        let fields: [&str; 8] = [
            m.role().as_str(),
            &m.content,
            &ts,
            &m.source,
            m.turn.as_deref().unwrap_or(""),
            interrupted,
            m.speaker.as_deref().unwrap_or(""),
            m.lang.as_deref().unwrap_or(""),
        ];
        self.sink.write(|w| {
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write_csv_field(w, f)?;
            }
            w.write_all(b"\r\n")
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}

/// Which subtitle format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subtitles {
    /// SubRip: numbered cues, `00:00:01,234`.
    Srt,
    /// WebVTT: a `WEBVTT` header, `00:00:01.234`, voice tags.
    Vtt,
}

/// SRT or WebVTT cues, one per message. See the [module docs](self) for how
/// cue times are chosen.
pub struct SubtitleRender<W> {
    sink: Sink<W>,
    kind: Subtitles,
    origin: Option<DateTime<FixedOffset>>,
    /// The previous message waits until the next one tells where it ends.
    pending: Option<(ExportMessage, DateTime<FixedOffset>)>,
    cues: u64,
}

/// How long the last cue stays up per character of text.
const LAST_CUE_MS_PER_CHAR: i64 = 70;
/// Bounds on the last cue's length.
const LAST_CUE_MS: (i64, i64) = (1_000, 10_000);

impl<W: Write> SubtitleRender<W> {
    /// Writes to `out`; cue times count from `origin` (the session start),
    /// or from the first message when it is `None`.
    pub fn new(
        out: W,
        path: &Path,
        kind: Subtitles,
        origin: Option<DateTime<FixedOffset>>,
    ) -> SubtitleRender<W> {
        SubtitleRender {
            sink: Sink::new(out, path),
            kind,
            origin,
            pending: None,
            cues: 0,
        }
    }

    fn offset_ms(&self, t: &DateTime<FixedOffset>) -> i64 {
        self.origin
            .map(|o| (*t - o).num_milliseconds().max(0))
            .unwrap_or(0)
    }

    fn emit(
        &mut self,
        m: &ExportMessage,
        start: &DateTime<FixedOffset>,
        next: Option<&DateTime<FixedOffset>>,
    ) -> Result<()> {
        let from = self.offset_ms(start);
        let duration = (m.fragments == 1)
            .then(|| meta_duration_ms(m.meta.as_deref()))
            .flatten();
        let to = match (duration, next) {
            (Some(d), _) => from + d,
            (None, Some(n)) => self.offset_ms(n),
            (None, None) => {
                let chars = m.content.chars().count() as i64;
                from + (chars * LAST_CUE_MS_PER_CHAR).clamp(LAST_CUE_MS.0, LAST_CUE_MS.1)
            }
        };
        // A cue must end after it starts (messages logged in the same millisecond).
        let to = to.max(from + 1);
        self.cues += 1;
        let n = self.cues;
        let kind = self.kind;
        let text = cue_text(kind, m);
        self.sink.write(|w| match kind {
            Subtitles::Srt => write!(
                w,
                "{n}\n{} --> {}\n{text}\n\n",
                cue_time(from, ','),
                cue_time(to, ',')
            ),
            Subtitles::Vtt => write!(
                w,
                "{} --> {}\n{text}\n\n",
                cue_time(from, '.'),
                cue_time(to, '.')
            ),
        })
    }
}

/// `meta.duration_ms` when it is a non-negative number.
fn meta_duration_ms(meta: Option<&str>) -> Option<i64> {
    let meta = meta.filter(|m| m.contains("\"duration_ms\""))?;
    let v: serde_json::Value = serde_json::from_str(meta).ok()?;
    let ms = v.get("duration_ms")?.as_f64()?;
    (0.0..1e12).contains(&ms).then_some(ms.round() as i64)
}

/// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT).
fn cue_time(ms: i64, sep: char) -> String {
    let ms = ms.max(0);
    format!(
        "{:02}:{:02}:{:02}{sep}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The cue's text: no blank lines (they would end the cue), `-->` never
/// appears, and WebVTT's `&`, `<`, `>` are escaped.
fn cue_text(kind: Subtitles, m: &ExportMessage) -> String {
    let lines: Vec<&str> = m
        .content
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut text = lines.join("\n");
    if m.interrupted {
        text.push_str(" [interrupted]");
    }
    match kind {
        Subtitles::Srt => format!("[{}] {}", m.role().tag(), text.replace("-->", "->")),
        Subtitles::Vtt => format!(
            "<v {}>{}",
            role_name(m.role()),
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        ),
    }
}

impl<W: Write> Render for SubtitleRender<W> {
    fn begin(&mut self) -> Result<()> {
        match self.kind {
            Subtitles::Vtt => self.sink.write(|w| w.write_all(b"WEBVTT\n\n")),
            Subtitles::Srt => Ok(()),
        }
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        let start = time_of(m)?;
        if self.pending.is_none() && self.cues == 0 && self.origin.is_none_or(|o| start < o) {
            // No session start, or messages from before it (ingested with
            // their own times): count from the first message instead.
            self.origin = Some(start);
        }
        if let Some((prev, prev_start)) = self.pending.take() {
            self.emit(&prev, &prev_start, Some(&start))?;
        }
        self.pending = Some((m.clone(), start));
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some((prev, prev_start)) = self.pending.take() {
            self.emit(&prev, &prev_start, None)?;
        }
        self.sink.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, content: &str, ts: &str) -> ExportMessage {
        ExportMessage {
            role: Some(role),
            content: content.into(),
            ts: ts.into(),
            source: "s".into(),
            fragments: 1,
            ..ExportMessage::default()
        }
    }

    fn render(r: &mut impl Render, msgs: &[ExportMessage]) {
        r.begin().unwrap();
        for m in msgs {
            r.message(m).unwrap();
        }
        r.finish().unwrap();
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        let mut out = Vec::new();
        write_csv_field(&mut out, "plain").unwrap();
        out.push(b'|');
        write_csv_field(&mut out, "a,b \"c\"\nd").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"a,b \"\"c\"\"\nd\""
        );
    }

    #[test]
    fn cue_times_and_ends() {
        assert_eq!(cue_time(3_723_004, ','), "01:02:03,004");
        assert_eq!(cue_time(-5, '.'), "00:00:00.000");
        let mut m1 = msg(Role::User, "hi", "2025-08-18T14:30:01.000000+05:30");
        m1.meta = Some(r#"{"duration_ms":1500}"#.into());
        let m2 = msg(
            Role::Agent,
            "a <b> & c --> d",
            "2025-08-18T14:30:05.250000+05:30",
        );
        let origin = parse_ts("2025-08-18T14:30:00.000000+05:30").ok();
        let mut r = SubtitleRender::new(Vec::new(), Path::new("x"), Subtitles::Vtt, origin);
        render(&mut r, &[m1.clone(), m2.clone()]);
        assert_eq!(
            String::from_utf8(r.sink.out).unwrap(),
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\n<v User>hi\n\n\
             00:00:05.250 --> 00:00:06.300\n<v Agent>a &lt;b&gt; &amp; c --&gt; d\n\n"
        );
        let mut r = SubtitleRender::new(Vec::new(), Path::new("x"), Subtitles::Srt, None);
        m1.meta = None;
        render(&mut r, &[m1, m2]);
        assert_eq!(
            String::from_utf8(r.sink.out).unwrap(),
            "1\n00:00:00,000 --> 00:00:04,250\n[USER] hi\n\n\
             2\n00:00:04,250 --> 00:00:05,300\n[AGENT] a <b> & c -> d\n\n"
        );
    }

    #[test]
    fn markdown_escapes_markup() {
        assert_eq!(md_escape("plain text, नमस्ते!", true), "plain text, नमस्ते!");
        assert_eq!(
            md_escape("conversation_2025_x", true),
            "conversation_2025_x"
        );
        assert_eq!(
            md_escape("*bold* _x_ [l](u) <b>", false),
            "\\*bold\\* \\_x\\_ \\[l\\](u) \\<b>"
        );
        assert_eq!(md_escape("# h", true), "\\# h");
        assert_eq!(md_escape("# h", false), "# h");
        assert_eq!(md_escape("12. item", true), "12\\. item");
        assert_eq!(md_escape("Q&A &amp;", false), "Q\\&A \\&amp;");
        assert_eq!(md_escape("fish & chips", false), "fish & chips");
    }

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
