//! The round trip: the new log's export compared with the original file,
//! and where they differ.

use std::path::Path;

use serde_json::Value;

use super::Original;
use crate::error::Result;

/// Whether exporting the new log reproduces the original file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundTrip {
    /// Byte for byte.
    Exact,
    /// Identical except that timestamps with zero microseconds gain `.000000`
    /// (the documented exception); the entries are listed.
    WholeSecondsOnly(Vec<usize>),
    /// Every message comes back (role, content, timestamp and source; the
    /// whole-seconds exception aside, listed as for `WholeSecondsOnly`) but
    /// the bytes are laid out differently: the file was not written by
    /// `json.dump(…, ensure_ascii=False, indent=2)` (it is compact, escapes
    /// differently or orders keys otherwise). The export writes the
    /// original design's layout.
    Layout(Vec<usize>),
    /// Something else differs; the first differing line of each, 1-based.
    Differs {
        /// Line number in the original file.
        line: usize,
        /// That line in the original.
        original: String,
        /// That line in the export.
        exported: String,
    },
}

/// Exports `log` and compares it with the original bytes.
pub(super) fn compare(log: &Path, original: &[u8], parsed: &Original) -> Result<RoundTrip> {
    let mut exported = Vec::with_capacity(original.len() + 64);
    crate::export::render(
        log,
        crate::export::Format::Json,
        &mut exported,
        Path::new("<memory>"),
        &crate::ExportOptions::default(),
    )?;
    if exported == original {
        return Ok(RoundTrip::Exact);
    }
    let orig = String::from_utf8_lossy(original);
    let exp = String::from_utf8_lossy(&exported);
    if !parsed.whole_seconds.is_empty() {
        // Put the six digits Python left out back in, and compare again.
        let mut fixed = orig.to_string();
        for e in parsed
            .whole_seconds
            .iter()
            .filter_map(|&i| parsed.entries.get(i))
        {
            let from = format!("\"timestamp\": \"{}\"", e.timestamp);
            let to = format!("\"timestamp\": \"{}.000000\"", e.timestamp);
            fixed = fixed.replacen(&from, &to, 1);
        }
        if fixed.as_bytes() == exported.as_slice() {
            return Ok(RoundTrip::WholeSecondsOnly(parsed.whole_seconds.clone()));
        }
    }
    if same_messages(original, &exported, parsed) {
        return Ok(RoundTrip::Layout(parsed.whole_seconds.clone()));
    }
    let mut a = orig.split('\n');
    let mut b = exp.split('\n');
    let mut line = 0;
    loop {
        line += 1;
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return Ok(RoundTrip::Differs {
                    line,
                    original: x.unwrap_or("(end of file)").to_string(),
                    exported: y.unwrap_or("(end of file)").to_string(),
                });
            }
        }
    }
}

/// Whether the original and the export hold the same JSON value once the
/// whole-seconds timestamps gain their six digits: the same messages, laid
/// out differently.
fn same_messages(original: &[u8], exported: &[u8], parsed: &Original) -> bool {
    let text = String::from_utf8_lossy(original);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (Ok(mut orig), Ok(exp)) = (
        serde_json::from_str::<Value>(text),
        serde_json::from_slice::<Value>(exported),
    ) else {
        return false;
    };
    for &i in &parsed.whole_seconds {
        if let Some(Value::String(ts)) = orig.pointer_mut(&format!("/conversation/{i}/timestamp")) {
            ts.push_str(".000000");
        }
    }
    orig == exp
}
