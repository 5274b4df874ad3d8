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
    Cow::Owned(out)
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
