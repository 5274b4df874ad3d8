//! `markdown`: a readable transcript with a heading per day.

use std::io::Write;
use std::path::Path;

use chrono::NaiveDate;

use super::{Action, ExportMessage, Render, Sink, role_name, time_of};
use crate::error::Result;
use crate::time::parse_ts;

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
        let mut body = paragraph(&m.content);
        if m.interrupted {
            body.push_str(" *(interrupted)*");
        }
        self.entry(&time_of(m)?, role_name(m.role()), &body)
    }

    /// `**HH:MM:SS · Tool:** name(arguments) -> output`, in italics so that
    /// what the agent did reads apart from what was said.
    fn action(&mut self, a: &Action) -> Result<()> {
        let label = match a {
            Action::Tool(_) => "Tool",
            Action::Handoff(_) => "Handoff",
        };
        let body = format!("*{}*", paragraph(&a.summary()));
        self.entry(&parse_ts(a.ts())?, label, &body)
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}

impl<W: Write> MarkdownRender<W> {
    /// One paragraph at `time`, under a new day's heading when the date changed.
    fn entry(
        &mut self,
        time: &chrono::DateTime<chrono::FixedOffset>,
        label: &str,
        body: &str,
    ) -> Result<()> {
        let local = time.naive_local();
        let day = local.date();
        let new_day = self.day != Some(day);
        self.day = Some(day);
        self.sink.write(|w| {
            if new_day {
                write!(w, "\n## {}\n", day.format("%Y-%m-%d"))?;
            }
            write!(w, "\n**{} · {label}:** {body}\n", local.format("%H:%M:%S"))
        })
    }
}

/// `text` as one paragraph: escaped, blank lines dropped, and a hard line
/// break between its lines.
fn paragraph(text: &str) -> String {
    let mut body = String::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if i > 0 {
            body.push_str("  \n");
        }
        body.push_str(&md_escape(line.trim_end(), i > 0));
    }
    body
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
