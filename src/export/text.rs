//! `text`: the console form, `[USER] …` / `[AGENT] …`, one message per
//! line, and `[TOOL] …` / `[HANDOFF] …` for what the agent did.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use super::{Action, ExportMessage, Render, Sink};
use crate::error::Result;

/// Escapes what must not reach a terminal raw: `\n` and `\r` as those two
/// characters, other C0 controls and DEL as `\x1b`-style escapes, C1
/// controls (U+0080–U+009F, which some terminals obey like ESC) as
/// `\u{9b}`. Tabs and all other text, backslashes included, pass unchanged,
/// so ordinary content reads as it was written.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    let needs = |c: char| c != '\t' && (c.is_control());
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs(c) {
            push_escaped_control(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Appends the visible form of the control (or other unprintable)
/// character `c`: `\n` and `\r` as those two characters, the rest of ASCII
/// as `\x1b`, anything above as `\u{9b}`. One spelling for the text
/// export and the HTML page, so a control reads the same in both.
pub(crate) fn push_escaped_control(out: &mut String, c: char) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
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

    /// `[TOOL] name(arguments) -> output` / `[HANDOFF] from -> to`.
    fn action(&mut self, a: &Action) -> Result<()> {
        let line = escape_controls(&a.summary()).into_owned();
        self.sink.write(|w| writeln!(w, "[{}] {line}", a.tag()))
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}
