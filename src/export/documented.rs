//! `json`: the `{"conversation": [...]}` file, byte-identical to what the
//! Python design wrote with `json.dump(data, f, ensure_ascii=False,
//! indent=2)`. It is written by hand rather than by `serde_json`'s pretty
//! printer, whose spacing and escapes are not specified to match Python's.

use std::io::{self, Write};
use std::path::Path;

use super::action::Value;
use super::{Action, ExportMessage, Render, TimestampStyle};
use crate::error::{Error, Result};
use crate::json_escape::push_json_str;

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

    /// The inner writer, for a test to read what was rendered.
    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out
    }

    fn io(&self, e: io::Error) -> Error {
        Error::io(&self.path, "write", e)
    }

    /// Starts the next object of the list in the scratch buffer, with the
    /// separator before it.
    fn entry(&mut self) {
        let sep: &[u8] = if self.count == 0 { b"\n" } else { b",\n" };
        self.count += 1;
        self.scratch.clear();
        self.scratch.extend_from_slice(sep);
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
        self.entry();
        let buf = &mut self.scratch;
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

    /// The same layout as a message, with the keys of [`Action::fields`]:
    /// what `json.dump(..., indent=2)` writes for that object.
    fn action(&mut self, a: &Action) -> Result<()> {
        let ts = a.timestamp(self.timestamps)?;
        let role = a.role();
        let fields = a.fields(&ts);
        self.entry();
        let buf = &mut self.scratch;
        buf.extend_from_slice(b"    {\n      \"role\": \"");
        buf.extend_from_slice(role.as_bytes());
        buf.push(b'"');
        for (key, value) in &fields {
            buf.extend_from_slice(b",\n      \"");
            buf.extend_from_slice(key.as_bytes());
            buf.extend_from_slice(b"\": ");
            match value {
                Value::Text(s) => push_json_str(buf, s),
                Value::Raw(r) => buf.extend_from_slice(r.as_bytes()),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_export_matches_python() {
        let mut r = JsonRender::new(Vec::new(), Path::new("x"), TimestampStyle::WallClock);
        r.begin().unwrap();
        r.finish().unwrap();
        assert_eq!(r.into_inner(), b"{\n  \"conversation\": []\n}");
    }
}
