//! Encoding: a record's fields after `seq`, as the bytes [`frame`](fn@super::frame)
//! wraps.
//!
//! The writer splits encoding in two: [`message_fields`] runs on the
//! caller's task (it is the expensive part: JSON escaping), and
//! [`frame`](fn@super::frame) runs on the writer thread once the sequence number is
//! known under the file lock (a few dozen bytes and a CRC).

use serde::Serialize;

use crate::json_escape::push_json_str;
#[cfg(test)]
use crate::record::Role;
use crate::record::{Handoff, Header, MAX_TOOL_TEXT_BYTES, Message, ToolCall, cut, duration_text};

/// The reference encoding of a message's fields, through `serde_json`:
/// [`message_fields`] must produce the same bytes.
#[cfg(test)]
#[derive(Serialize)]
struct MessageFields<'a> {
    ts: &'a str,
    role: Role,
    content: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    turn: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    speaker: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a serde_json::Value>,
}

/// Serialises `fields` as a JSON object and drops its opening brace, leaving
/// the `"key":value,…}` tail that [`frame`](fn@super::frame) appends after `kind` and `seq`.
fn tail_of(fields: &impl Serialize) -> Vec<u8> {
    // Serialising a struct of strings, bools and a `Value` cannot fail.
    let mut out = serde_json::to_vec(fields).unwrap_or_else(|_| b"{}".to_vec());
    out.remove(0);
    out
}

/// The message's fields after `seq`, encoded on the caller's side.
///
/// Written by hand rather than through `serde_json` (which the tests keep as
/// the reference): the bytes are the same, with the string escaping done a
/// word at a time. This runs once per message on the caller's task.
pub fn message_fields(msg: &Message, ts: &str) -> Vec<u8> {
    let mut out = Vec::new();
    message_fields_into(&mut out, msg, ts);
    out
}

/// [`message_fields`] appended to `out`, so that a caller can reuse buffers
/// (for example ones the writer thread hands back, instead of freeing on the
/// writer a buffer the caller's thread allocated).
pub(crate) fn message_fields_into(out: &mut Vec<u8>, msg: &Message, ts: &str) {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() + 16);
    out.reserve(
        64 + ts.len()
            + msg.content.len()
            + msg.source.len()
            + opt(&msg.turn)
            + opt(&msg.speaker)
            + opt(&msg.lang),
    );
    out.extend_from_slice(b"\"ts\":");
    push_json_str(out, ts);
    out.extend_from_slice(b",\"role\":\"");
    out.extend_from_slice(msg.role.as_str().as_bytes());
    out.extend_from_slice(b"\",\"content\":");
    push_json_str(out, &msg.content);
    out.extend_from_slice(b",\"source\":");
    push_json_str(out, &msg.source);
    if let Some(turn) = &msg.turn {
        out.extend_from_slice(b",\"turn\":");
        push_json_str(out, turn);
    }
    if msg.interrupted {
        out.extend_from_slice(b",\"interrupted\":true");
    }
    if let Some(speaker) = &msg.speaker {
        out.extend_from_slice(b",\"speaker\":");
        push_json_str(out, speaker);
    }
    if let Some(lang) = &msg.lang {
        out.extend_from_slice(b",\"lang\":");
        push_json_str(out, lang);
    }
    if let Some(meta) = &msg.meta {
        out.extend_from_slice(b",\"meta\":");
        // Serialising a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, meta);
    }
    out.push(b'}');
}

/// A tool call's fields after `seq`, with `arguments` and `output` cut at
/// [`MAX_TOOL_TEXT_BYTES`] and marked. Through `serde_json`: tool calls are
/// a few per turn, not the hot path messages are.
pub fn tool_fields(call: &ToolCall, ts: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct ToolFields<'a> {
        ts: &'a str,
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        call_id: Option<&'a str>,
        arguments: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        arguments_truncated: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        output_truncated: Option<u64>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        error: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        duration_ms: Option<serde_json::Number>,
        #[serde(skip_serializing_if = "Option::is_none")]
        turn: Option<&'a str>,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        meta: Option<&'a serde_json::Value>,
    }
    let (arguments, arguments_truncated) = cut(&call.arguments, MAX_TOOL_TEXT_BYTES);
    let (output, output_truncated) = match &call.output {
        Some(o) => {
            let (o, n) = cut(o, MAX_TOOL_TEXT_BYTES);
            (Some(o), n)
        }
        None => (None, None),
    };
    tail_of(&ToolFields {
        ts,
        name: &call.name,
        call_id: call.call_id.as_deref(),
        arguments,
        arguments_truncated,
        output,
        output_truncated,
        error: call.error,
        // A plain decimal always parses as a number.
        duration_ms: call
            .duration_ms
            .and_then(|ms| duration_text(ms).parse().ok()),
        turn: call.turn.as_deref(),
        source: &call.source,
        meta: call.meta.as_ref(),
    })
}

/// A handoff's fields after `seq`.
pub fn handoff_fields(h: &Handoff, ts: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct HandoffFields<'a> {
        ts: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<&'a str>,
        to: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        turn: Option<&'a str>,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        meta: Option<&'a serde_json::Value>,
    }
    tail_of(&HandoffFields {
        ts,
        from: h.from.as_deref(),
        to: &h.to,
        turn: h.turn.as_deref(),
        source: &h.source,
        meta: h.meta.as_ref(),
    })
}

/// The end record's fields after `seq`.
pub fn end_fields(ts: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct End<'a> {
        ts: &'a str,
    }
    tail_of(&End { ts })
}

/// The header's fields after `seq`.
pub fn header_fields(h: &Header) -> Vec<u8> {
    #[derive(Serialize)]
    struct HeaderFields<'a> {
        format: &'a str,
        version: u32,
        session: &'a str,
        created: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        redact: Option<&'a crate::record::StoredPolicy>,
    }
    tail_of(&HeaderFields {
        format: crate::record::FORMAT_NAME,
        version: h.version,
        session: &h.session,
        created: &h.created,
        redact: h.redact.as_ref(),
    })
}

#[cfg(test)]
/// The serde_json encoding `message_fields` replaced.
pub(super) fn reference_fields(msg: &Message, ts: &str) -> Vec<u8> {
    tail_of(&MessageFields {
        ts,
        role: msg.role,
        content: &msg.content,
        source: &msg.source,
        turn: msg.turn.as_deref(),
        interrupted: msg.interrupted,
        speaker: msg.speaker.as_deref(),
        lang: msg.lang.as_deref(),
        meta: msg.meta.as_ref(),
    })
}
