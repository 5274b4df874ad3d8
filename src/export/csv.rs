//! `csv`: RFC 4180 with a header row and CRLF line ends.

use std::io::{self, Write};
use std::path::Path;

use super::{Action, ExportMessage, Render, Sink, TimestampStyle};
use crate::error::Result;

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
        self.row([
            m.role().as_str(),
            &m.content,
            &ts,
            &m.source,
            m.turn.as_deref().unwrap_or(""),
            interrupted,
            m.speaker.as_deref().unwrap_or(""),
            m.lang.as_deref().unwrap_or(""),
        ])
    }

    /// A row with `role` `tool` or `handoff` and the one-line summary as
    /// its `content` (with `--tools` only).
    fn action(&mut self, a: &Action) -> Result<()> {
        let ts = a.timestamp(self.timestamps)?;
        let summary = a.summary();
        self.row([
            a.role(),
            &summary,
            &ts,
            a.source(),
            a.turn().unwrap_or(""),
            "false",
            "",
            "",
        ])
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}

impl<W: Write> CsvRender<W> {
    fn row(&mut self, fields: [&str; 8]) -> Result<()> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
