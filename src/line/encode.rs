//! Encoding: a record's fields after `seq`, as the bytes [`frame`](super::frame)
//! wraps.
//!
//! The writer splits encoding in two: [`message_fields`] runs on the
//! caller's task (it is the expensive part: JSON escaping), and
//! [`frame`](super::frame) runs on the writer thread once the sequence number is
//! known under the file lock (a few dozen bytes and a CRC).

use serde::Serialize;

#[cfg(test)]
use crate::record::Role;
use crate::record::{Header, Message};

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
/// the `"key":value,…}` tail that [`frame`](super::frame) appends after `kind` and `seq`.
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
pub fn message_fields_into(out: &mut Vec<u8>, msg: &Message, ts: &str) {
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

/// Appends `s` as a JSON string: `"` and `\\` escaped, `\b \f \n \r \t` by
/// name, other control characters as `\u00xx`, everything else raw. This is
/// both what `serde_json` writes and what Python's `json.dumps(s,
/// ensure_ascii=False)` writes.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(i) = find_escape(b, start) {
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(escape_of(b[i]).as_slice());
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// The escape sequence for a byte that [`find_escape`] stopped at.
#[derive(Clone, Copy)]
pub(crate) struct Escape {
    bytes: [u8; 6],
    len: u8,
}

impl Escape {
    /// The sequence's bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// How JSON (and Python's `json`) escapes `b`, one of the bytes
/// [`find_escape`] reports.
pub(crate) fn escape_of(b: u8) -> Escape {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let named = |c: u8| Escape {
        bytes: [b'\\', c, 0, 0, 0, 0],
        len: 2,
    };
    match b {
        b'"' => named(b'"'),
        b'\\' => named(b'\\'),
        b'\n' => named(b'n'),
        b'\r' => named(b'r'),
        b'\t' => named(b't'),
        0x08 => named(b'b'),
        0x0c => named(b'f'),
        _ => Escape {
            bytes: [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ],
            len: 6,
        },
    }
}

#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Index of the first byte at or after `from` that a JSON string must escape
/// (a control character, `"` or `\\`), checking eight bytes at a time: most
/// text has none, and non-ASCII bytes never need escaping.
#[inline]
pub(crate) fn find_escape(b: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = u64::from_le_bytes([0x01; 8]);
    const HI: u64 = u64::from_le_bytes([0x80; 8]);
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // Hacker's Delight "has a byte below 0x20" and "has a zero byte" (of
        // x ^ '"' and x ^ '\\'). Borrows only run upwards, so the lowest
        // flagged byte is always a true match, whatever is flagged above it.
        let quote = x ^ (LO * u64::from(b'"'));
        let slash = x ^ (LO * u64::from(b'\\'));
        let hit = ((x.wrapping_sub(LO * 0x20) & !x)
            | (quote.wrapping_sub(LO) & !quote)
            | (slash.wrapping_sub(LO) & !slash))
            & HI;
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    (i..b.len()).find(|&j| needs_escape(b[j]))
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
    }
    tail_of(&HeaderFields {
        format: crate::FORMAT_NAME,
        version: h.version,
        session: &h.session,
        created: &h.created,
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
