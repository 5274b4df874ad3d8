//! The original design's file, checked: every entry is read and judged
//! before anything is written, and what will not survive the round trip
//! is noted against its entry.

use std::path::Path;

use serde_json::{Map, Value};

use super::{bad, bad_entry};
use crate::error::Result;
use crate::record::Role;
use crate::session::MAX_CONTENT_LIMIT;
use crate::time::{parse_rfc3339_or_local, to_rfc3339};

/// One entry of an original-design file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the `conversation` array (0-based).
    pub index: usize,
    /// `user` or `agent`.
    pub role: Role,
    /// The text.
    pub content: String,
    /// The timestamp as written in the file.
    pub timestamp: String,
    /// The timestamp as it will be stored: RFC 3339 with the local offset.
    pub ts: String,
    /// `source`.
    pub source: String,
    /// Fields other than the four documented ones; stored in `meta`.
    pub extra: Option<Map<String, Value>>,
}

/// What parsing an original file found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Original {
    /// The entries, in file order.
    pub entries: Vec<Entry>,
    /// Things that will not survive the round trip, each naming the entry.
    pub notes: Vec<String>,
    /// Entries whose timestamp had no fractional seconds (the documented exception).
    pub whole_seconds: Vec<usize>,
}

/// Checks an original-design file's bytes. `path` is only used in messages.
pub fn parse_original(path: &Path, bytes: &[u8]) -> Result<Original> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        bad(
            path,
            format_args!(
                "not UTF-8 (byte {}): not a file the original design wrote",
                e.valid_up_to()
            ),
        )
    })?;
    let doc: Value = serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(text))
        .map_err(|e| bad(path, format_args!("not valid JSON: {e}")))?;
    let Value::Object(top) = doc else {
        return Err(bad(
            path,
            "the top level is not an object: expected {\"conversation\": [...]}",
        ));
    };
    let mut out = Original::default();
    let list = match top.get("conversation") {
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad(path, "\"conversation\" is not an array")),
        None => {
            return Err(bad(
                path,
                "no \"conversation\" key: expected {\"conversation\": [...]}",
            ));
        }
    };
    let others: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "conversation")
        .collect();
    if !others.is_empty() {
        out.notes.push(format!(
            "top-level key(s) {} are not imported",
            others.join(", ")
        ));
    }
    for (index, item) in list.iter().enumerate() {
        let Value::Object(obj) = item else {
            return Err(bad_entry(path, index, "not an object"));
        };
        let field = |name: &str| -> Result<&str> {
            match obj.get(name) {
                Some(Value::String(s)) => Ok(s),
                Some(other) => Err(bad_entry(
                    path,
                    index,
                    format_args!("`{name}` is not a string: {other}"),
                )),
                None => Err(bad_entry(path, index, format_args!("`{name}` is missing"))),
            }
        };
        let role: Role = field("role")?
            .parse()
            .map_err(|e| bad_entry(path, index, e))?;
        let content = field("content")?;
        let source = field("source")?;
        let timestamp = field("timestamp")?;
        let (time, naive) = parse_rfc3339_or_local(timestamp).ok_or_else(|| {
            bad_entry(
                path,
                index,
                format_args!(
                    "timestamp {timestamp:?} is neither a local date-time like \
                         2025-08-18T14:30:22.123456 nor RFC 3339"
                ),
            )
        })?;
        if content.trim().is_empty() {
            // The original design's TTS path logged every token it was
            // given, blank ones too, and its file and console showed them:
            // the entry is kept as it is, so the export gives the file back.
            out.notes.push(format!(
                "conversation[{index}]: `content` is blank ({content:?}); kept as the original \
                 file has it (convlog's writers otherwise skip blank messages)"
            ));
        }
        if content.len() > MAX_CONTENT_LIMIT {
            return Err(bad_entry(
                path,
                index,
                format_args!(
                    "`content` is {} bytes, over the limit of {MAX_CONTENT_LIMIT} bytes",
                    content.len()
                ),
            ));
        }
        if !naive {
            out.notes.push(format!(
                "conversation[{index}]: timestamp {timestamp:?} has a UTC offset; \
                 the export writes local wall-clock time without it"
            ));
        } else if !timestamp.contains('.') {
            out.whole_seconds.push(index);
        } else if timestamp.rsplit('.').next().map(str::len) != Some(6) {
            out.notes.push(format!(
                "conversation[{index}]: timestamp {timestamp:?} does not have six \
                 fractional digits; the export writes six"
            ));
        }
        let extra: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "role" | "content" | "timestamp" | "source"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !extra.is_empty() {
            let keys: Vec<&str> = extra.keys().map(String::as_str).collect();
            out.notes.push(format!(
                "conversation[{index}]: extra field(s) {} are kept in `meta`; \
                 the documented export leaves them out",
                keys.join(", ")
            ));
        }
        out.entries.push(Entry {
            index,
            role,
            content: content.to_string(),
            timestamp: timestamp.to_string(),
            ts: to_rfc3339(&time),
            source: source.to_string(),
            extra: (!extra.is_empty()).then_some(extra),
        });
    }
    Ok(out)
}
