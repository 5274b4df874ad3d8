//! Decoding: a checked line back into a [`Record`], by the record's rules.
//!
//! [`decode`] tries the [fast path](super::fast) first and falls back to a
//! full `serde_json` parse for every line the fast path declines, so errors
//! and their messages come from one place.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::fast;
use super::frame::{LineError, check};
use crate::json_escape::unpaired_surrogate;
use crate::record::{HandoffRecord, Header, MessageRecord, Record, Role, ToolRecord};
use crate::time::parse_ts;

#[derive(Deserialize)]
pub(super) struct Wire<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    seq: u64,
    #[serde(borrow, default)]
    ts: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    turn: Option<Cow<'a, str>>,
    #[serde(default)]
    interrupted: bool,
    #[serde(borrow, default)]
    speaker: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    lang: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    meta: Option<&'a RawValue>,
    #[serde(borrow, default)]
    redacted: Option<&'a RawValue>,
    #[serde(borrow, default)]
    format: Option<Cow<'a, str>>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(borrow, default)]
    session: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    created: Option<Cow<'a, str>>,
    /// Read as raw JSON here and checked only on a header, so a message
    /// line with a field of this name (which a reader ignores) is not refused.
    #[serde(borrow, default)]
    redact: Option<&'a RawValue>,
}

/// The fields only tool calls and handoffs have, read in a second pass over
/// such a line: so a message line with a field of one of these names (which
/// a reader ignores) is never refused for its type.
#[derive(Deserialize)]
struct ToolWire<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
    #[serde(default)]
    arguments_truncated: Option<u64>,
    #[serde(borrow, default)]
    output: Option<Cow<'a, str>>,
    #[serde(default)]
    output_truncated: Option<u64>,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    duration_ms: Option<f64>,
    #[serde(borrow, default)]
    from: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    to: Option<Cow<'a, str>>,
}

fn need<T>(v: Option<T>, field: &str) -> Result<T, LineError> {
    v.ok_or_else(|| LineError::Invalid(format!("missing field `{field}`")))
}

fn valid_ts<'a>(ts: Option<Cow<'a, str>>, field: &str) -> Result<Cow<'a, str>, LineError> {
    let ts = need(ts, field)?;
    parse_ts(&ts).map_err(|e| LineError::Invalid(e.to_string()))?;
    Ok(ts)
}

/// Decodes one line (without its newline) into a record, checking framing,
/// checksum and the record's own rules.
pub fn decode(line: &[u8]) -> Result<Record<'_>, LineError> {
    check(line)?;
    if let Some(rec) = fast::decode_message(line) {
        return Ok(rec);
    }
    decode_general(line)
}

/// [`decode`] after the checksum, through `serde_json`: every line the fast
/// path declines, and every error.
pub(super) fn decode_general(line: &[u8]) -> Result<Record<'_>, LineError> {
    // serde_json refuses a lone surrogate in the fields it decodes as text
    // (as an "unexpected end of hex escape"), but not inside `meta` (kept as
    // raw JSON) or in fields a reader ignores: one rule, and one reason,
    // for the whole line.
    if let Some(u) = unpaired_surrogate(line) {
        return Err(LineError::Invalid(format!(
            "the escape \\u{u:04x} is half of a UTF-16 surrogate pair without its other half, which is not a Unicode character"
        )));
    }
    let w: Wire<'_> =
        serde_json::from_slice(line).map_err(|e| LineError::Invalid(e.to_string()))?;
    match w.kind.as_ref() {
        "message" => {
            let role = need(w.role, "role")?;
            let role = role
                .parse::<Role>()
                .map_err(|e| LineError::Invalid(e.to_string()))?;
            if w.meta.is_some_and(|m| !m.get().starts_with('{')) {
                return Err(LineError::Invalid("`meta` is not an object".into()));
            }
            if w.redacted.is_some_and(|m| !m.get().starts_with('{')) {
                return Err(LineError::Invalid("`redacted` is not an object".into()));
            }
            Ok(Record::Message(MessageRecord {
                seq: w.seq,
                ts: valid_ts(w.ts, "ts")?,
                role,
                content: need(w.content, "content")?,
                source: need(w.source, "source")?,
                turn: w.turn,
                interrupted: w.interrupted,
                speaker: w.speaker,
                lang: w.lang,
                meta: w.meta,
                redacted: w.redacted,
            }))
        }
        "tool" | "handoff" => {
            let t: ToolWire<'_> =
                serde_json::from_slice(line).map_err(|e| LineError::Invalid(e.to_string()))?;
            if w.meta.is_some_and(|m| !m.get().starts_with('{')) {
                return Err(LineError::Invalid("`meta` is not an object".into()));
            }
            let meta = w.meta.map(|m| Cow::Borrowed(m.get()));
            let ts = valid_ts(w.ts, "ts")?;
            let source = need(w.source, "source")?;
            if w.kind == "handoff" {
                return Ok(Record::Handoff(HandoffRecord {
                    seq: w.seq,
                    ts,
                    from: t.from,
                    to: need(t.to, "to")?,
                    turn: w.turn,
                    source,
                    meta,
                }));
            }
            if t.duration_ms.is_some_and(|ms| ms < 0.0) {
                return Err(LineError::Invalid("`duration_ms` is negative".into()));
            }
            Ok(Record::Tool(ToolRecord {
                seq: w.seq,
                ts,
                name: need(t.name, "name")?,
                call_id: t.call_id,
                arguments: need(t.arguments, "arguments")?,
                arguments_truncated: t.arguments_truncated,
                output: t.output,
                output_truncated: t.output_truncated,
                error: t.error,
                duration_ms: t.duration_ms,
                turn: w.turn,
                source,
                meta,
            }))
        }
        "end" => Ok(Record::End {
            seq: w.seq,
            ts: valid_ts(w.ts, "ts")?,
        }),
        "header" => {
            if need(w.format, "format")? != crate::record::FORMAT_NAME {
                return Err(LineError::Invalid(format!(
                    "header format is not {:?}",
                    crate::record::FORMAT_NAME
                )));
            }
            if w.seq != 0 {
                return Err(LineError::Invalid("header seq is not 0".into()));
            }
            let redact = match w.redact {
                Some(raw) => Some(serde_json::from_str(raw.get()).map_err(|e| {
                    LineError::Invalid(format!("header `redact` is not a policy: {e}"))
                })?),
                None => None,
            };
            Ok(Record::Header(Header {
                version: need(w.version, "version")?,
                session: need(w.session, "session")?.into_owned(),
                created: valid_ts(w.created, "created")?.into_owned(),
                redact,
            }))
        }
        other => Err(LineError::Invalid(format!("unknown record kind {other:?}"))),
    }
}
