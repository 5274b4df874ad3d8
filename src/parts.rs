//! Markers a recorder leaves in a record's `meta` so that every export puts
//! a message back together as it was said: the parts of a message too large
//! for one record, and the final record of a reply that was first logged as
//! it streamed.
//!
//! A recorder must never drop a message, but one record holds at most
//! [`Options::max_content_bytes`](crate::Options::max_content_bytes) of
//! content. [`split`] cuts a larger message (at character boundaries) into
//! records of one role and one turn, back to back, marked
//! `"convlog.part": i` (from 1) and `"convlog.parts": n`; the merger joins
//! them with no separator, with or without `merge`, so the export holds the
//! message byte for byte.
//!
//! A reply logged sentence by sentence as it streams is provisional: what
//! was played can be shorter (an interruption) and its flag and metrics come
//! only at the end. The final record of such a reply carries
//! `"convlog.replaces": TURN`, the streamed fragments' turn, and the merger
//! puts it in their place: the export holds what the final record holds,
//! exactly as if nothing had streamed.
//!
//! Both are ordinary `meta` keys, so a reader that does not know them still
//! reads every record; FORMAT.md documents them.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::Message;

/// `meta` key: this record's place (from 1) among the parts of one message.
pub const PART: &str = "convlog.part";
/// `meta` key: how many parts the message has.
pub const PARTS: &str = "convlog.parts";
/// `meta` key: the turn of the streamed fragments this record replaces.
pub const REPLACES: &str = "convlog.replaces";

/// What a record's markers say.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub struct Marks {
    /// This record's place among the parts of one message.
    #[serde(rename = "convlog.part", default)]
    pub part: Option<u64>,
    /// The turn of the streamed fragments this record replaces.
    #[serde(rename = "convlog.replaces", default)]
    pub replaces: Option<String>,
}

impl Marks {
    /// True for the second and later parts of a message, which continue
    /// the record before them with no separator.
    pub fn continues(&self) -> bool {
        self.part.is_some_and(|p| p > 1)
    }
}

/// The markers in a record's raw `meta`; none when there is no `meta` or
/// it names no `convlog.` key (checked without parsing, as this runs for
/// every record of every export).
pub fn marks(meta: Option<&RawValue>) -> Marks {
    match meta {
        Some(raw) if raw.get().contains("\"convlog.") => {
            serde_json::from_str(raw.get()).unwrap_or_default()
        }
        _ => Marks::default(),
    }
}

/// `msg` as records of at most `limit` bytes of content each: `msg` itself
/// when it fits, else parts cut at character boundaries, all with its
/// role, source, turn, flags and timestamp (now, if it has none, so that
/// every part has the same), its `meta` on the first part, and the markers
/// on every part.
pub fn split(mut msg: Message, limit: usize) -> Vec<Message> {
    if msg.content.len() <= limit || limit < 4 {
        return vec![msg];
    }
    let text = std::mem::take(&mut msg.content);
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(limit);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if msg.timestamp.is_none() {
        msg.timestamp = Some(crate::time::now_rfc3339());
    }
    let n = pieces.len();
    let meta = msg.meta.take();
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut obj = match (i, &meta) {
                (0, Some(serde_json::Value::Object(m))) => m.clone(),
                _ => serde_json::Map::new(),
            };
            obj.insert(PART.into(), (i as u64 + 1).into());
            obj.insert(PARTS.into(), (n as u64).into());
            Message {
                content: piece.to_owned(),
                meta: Some(serde_json::Value::Object(obj)),
                ..msg.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Role;

    #[test]
    fn split_cuts_at_character_boundaries_and_marks_every_part() {
        let text = "नमस्ते ".repeat(100);
        let msg = Message::new(Role::Agent, text.clone(), "tts")
            .turn("t1")
            .meta(serde_json::json!({"a": 1}));
        let parts = split(msg, 50);
        assert!(parts.len() > 10);
        assert!(parts.iter().all(|p| p.content.len() <= 50));
        assert_eq!(
            parts.iter().map(|p| p.content.as_str()).collect::<String>(),
            text
        );
        assert!(parts.iter().all(|p| p.turn.as_deref() == Some("t1")));
        let ts = &parts[0].timestamp;
        assert!(ts.is_some() && parts.iter().all(|p| &p.timestamp == ts));
        let first = parts[0].meta.as_ref().unwrap();
        assert_eq!(first["a"], 1);
        assert_eq!(first[PART], 1);
        assert_eq!(parts[1].meta.as_ref().unwrap().get("a"), None);
        assert_eq!(parts[1].meta.as_ref().unwrap()[PARTS], parts.len());
    }

    #[test]
    fn marks_are_read_only_from_convlog_keys() {
        let raw = |s: &str| RawValue::from_string(s.to_owned()).unwrap();
        assert_eq!(marks(None), Marks::default());
        assert_eq!(marks(Some(&raw(r#"{"part":2}"#))), Marks::default());
        let m = marks(Some(&raw(r#"{"convlog.part":2,"convlog.parts":3}"#)));
        assert!(m.continues());
        let r = marks(Some(&raw(r#"{"convlog.replaces":"stream_1","x":[1]}"#)));
        assert_eq!(r.replaces.as_deref(), Some("stream_1"));
        assert!(!r.continues());
    }
}
