//! `jsonl`: one message object per line, compact, non-ASCII raw; tool calls
//! and handoffs as objects of their own (`"role":"tool"`, `"role":"handoff"`).

use std::io::Write;
use std::path::Path;

use super::action::Value;
use super::{Action, ExportMessage, Render, Sink, TimestampStyle};
use crate::error::Result;
use crate::json_escape::write_json_str;

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
            write_json_str(w, &m.content)?;
            w.write_all(b",\"timestamp\":")?;
            write_json_str(w, &ts)?;
            w.write_all(b",\"source\":")?;
            write_json_str(w, &m.source)?;
            w.write_all(b"}\n")
        })
    }

    /// `{"role":"tool",…}` with the keys of [`Action::fields`].
    fn action(&mut self, a: &Action) -> Result<()> {
        let ts = a.timestamp(self.timestamps)?;
        let fields = a.fields(&ts);
        self.sink.write(|w| {
            w.write_all(b"{\"role\":\"")?;
            w.write_all(a.role().as_bytes())?;
            w.write_all(b"\"")?;
            for (key, value) in &fields {
                w.write_all(b",\"")?;
                w.write_all(key.as_bytes())?;
                w.write_all(b"\":")?;
                match value {
                    Value::Text(s) => write_json_str(w, s)?,
                    Value::Raw(r) => w.write_all(r.as_bytes())?,
                }
            }
            w.write_all(b"}\n")
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.sink.flush()
    }
}
