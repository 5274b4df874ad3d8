//! The line codec: turns records into checksummed lines and back.
//!
//! A line is `{"crc":"XXXXXXXX",` + body + `\n`, where `XXXXXXXX` is the
//! CRC-32 of the body's exact bytes in lowercase hex. The prefix has a fixed
//! 18-byte shape so that any implementation can check a line by slicing,
//! without a JSON parser, and the whole line is still one JSON object that
//! `jq` reads on its own. See [`crate::format`](mod@crate::format) for the full specification.
//!
//! The writer splits encoding in two: [`message_fields`] runs on the
//! caller's task (it is the expensive part: JSON escaping), and [`frame`]
//! runs on the writer thread once the sequence number is known under the
//! file lock (a few dozen bytes and a CRC).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::record::{Header, Message, MessageRecord, Record, Role, parse_ts};

/// The fixed start of every line, before the eight hex digits.
pub const PREFIX_HEAD: &[u8; 8] = b"{\"crc\":\"";
/// Bytes before the body: `{"crc":"` + 8 hex digits + `",`.
pub const PREFIX_LEN: usize = 18;
/// Longest line the reader will buffer. Longer lines are reported as corrupt
/// and skipped without holding them in memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// The `kind` field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `header`: line 1.
    Header,
    /// `message`: a user or agent message.
    Message,
    /// `end`: the session is over.
    End,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Header => "header",
            Kind::Message => "message",
            Kind::End => "end",
        }
    }
}

/// Why a line did not decode. The reader turns this into a torn tail or a
/// corrupt record depending on what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// The file ends without the line's terminating newline.
    Incomplete,
    /// The line does not start with `{"crc":"XXXXXXXX",`.
    BadPrefix,
    /// The stored checksum does not match the body.
    Checksum {
        /// The CRC written in the line.
        stored: u32,
        /// The CRC of the body as read.
        computed: u32,
    },
    /// The checksum matches but the body is not a valid record.
    Invalid(String),
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Incomplete => f.write_str("incomplete line (no newline at end of file)"),
            LineError::BadPrefix => {
                f.write_str("line does not start with a {\"crc\":\"…\", prefix")
            }
            LineError::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch (stored {stored:08x}, computed {computed:08x})"
            ),
            LineError::Invalid(why) => write!(f, "invalid record: {why}"),
            LineError::TooLong => write!(f, "line longer than {MAX_LINE_BYTES} bytes"),
        }
    }
}

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
/// the `"key":value,…}` tail that [`frame`] appends after `kind` and `seq`.
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

/// Appends one complete line to `out`: prefix with checksum, `kind`, `seq`,
/// the pre-encoded `fields`, and the newline.
pub fn frame(kind: Kind, seq: u64, fields: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(PREFIX_HEAD);
    out.extend_from_slice(b"00000000\",");
    let body = out.len();
    out.extend_from_slice(b"\"kind\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"seq\":");
    push_u64(out, seq);
    out.push(b',');
    out.extend_from_slice(fields);
    let crc = crc32fast::hash(&out[body..]);
    write_hex(crc, &mut out[start + 8..start + 16]);
    out.push(b'\n');
}

/// Appends `v` in decimal.
fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_hex(v: u32, dst: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, d) in dst.iter_mut().enumerate() {
        *d = DIGITS[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
}

fn read_hex(src: &[u8]) -> Option<u32> {
    src.iter().try_fold(0u32, |acc, &c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            // Uppercase is rejected on purpose: flipping bit 5 of a hex
            // letter must not produce another valid spelling of the same CRC.
            _ => return None,
        };
        Some(acc << 4 | u32::from(d))
    })
}

/// Checks a line's framing and checksum, returning its body.
/// `line` excludes the terminating newline.
pub fn check(line: &[u8]) -> Result<&[u8], LineError> {
    if line.len() < PREFIX_LEN + 2 || &line[..8] != PREFIX_HEAD || &line[16..PREFIX_LEN] != b"\"," {
        return Err(LineError::BadPrefix);
    }
    let stored = read_hex(&line[8..16]).ok_or(LineError::BadPrefix)?;
    let body = &line[PREFIX_LEN..];
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(LineError::Checksum { stored, computed });
    }
    Ok(body)
}

#[derive(Deserialize)]
struct Wire<'a> {
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
    format: Option<Cow<'a, str>>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(borrow, default)]
    session: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    created: Option<Cow<'a, str>>,
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
fn decode_general(line: &[u8]) -> Result<Record<'_>, LineError> {
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
            }))
        }
        "end" => Ok(Record::End {
            seq: w.seq,
            ts: valid_ts(w.ts, "ts")?,
        }),
        "header" => {
            if need(w.format, "format")? != crate::FORMAT_NAME {
                return Err(LineError::Invalid(format!(
                    "header format is not {:?}",
                    crate::FORMAT_NAME
                )));
            }
            if w.seq != 0 {
                return Err(LineError::Invalid("header seq is not 0".into()));
            }
            Ok(Record::Header(Header {
                version: need(w.version, "version")?,
                session: need(w.session, "session")?.into_owned(),
                created: valid_ts(w.created, "created")?.into_owned(),
            }))
        }
        other => Err(LineError::Invalid(format!("unknown record kind {other:?}"))),
    }
}

mod fast;

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: Kind, seq: u64, fields: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame(kind, seq, fields, &mut out);
        out
    }

    #[test]
    fn message_round_trips_and_is_plain_json() {
        let msg = Message::agent("नमस्ते \"quoted\"\nnew line", "cartesia_tts")
            .turn("t1")
            .interrupted(true)
            .meta(serde_json::json!({"latency_ms": 412}));
        let ts = "2025-08-18T14:30:23.456789+05:30";
        let l = line(Kind::Message, 7, &message_fields(&msg, ts));
        assert_eq!(l.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["kind"], "message");
        assert_eq!(v["seq"], 7);
        match decode(&l[..l.len() - 1]).unwrap() {
            Record::Message(m) => {
                assert_eq!(m.to_message().unwrap(), msg.clone().timestamp(ts));
                assert_eq!(m.seq, 7);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn prefix_has_fixed_shape() {
        let l = line(Kind::End, 3, &end_fields("2025-08-18T14:30:23.456789Z"));
        assert_eq!(&l[..8], PREFIX_HEAD);
        assert_eq!(&l[16..18], b"\",");
        assert_eq!(
            read_hex(&l[8..16]).unwrap(),
            crc32fast::hash(&l[18..l.len() - 1])
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let msg = Message::user("hi there", "deepgram_stt");
        let l = line(
            Kind::Message,
            1,
            &message_fields(&msg, "2025-08-18T14:30:22.123456+00:00"),
        );
        let body = &l[..l.len() - 1];
        for byte in 0..body.len() {
            for bit in 0..8 {
                let mut bad = body.to_vec();
                bad[byte] ^= 1 << bit;
                assert!(
                    decode(&bad).is_err(),
                    "flip at byte {byte} bit {bit} undetected"
                );
            }
        }
    }

    #[test]
    fn uppercase_checksum_is_rejected() {
        let mut l = line(Kind::End, 1, &end_fields("2025-08-18T14:30:23.456789Z"));
        l.pop();
        l[8..16].make_ascii_uppercase();
        if l[8..16].iter().any(u8::is_ascii_alphabetic) {
            assert_eq!(decode(&l), Err(LineError::BadPrefix));
        }
    }

    #[test]
    fn checksum_valid_but_unknown_role_is_invalid() {
        let l = line(
            Kind::Message,
            1,
            br#""ts":"2025-08-18T14:30:22.123456Z","role":"bot","content":"x","source":"s"}"#,
        );
        let err = decode(&l[..l.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("user, agent"), "{err}");
    }

    #[test]
    fn header_round_trips() {
        let h = Header {
            version: 1,
            session: "abc".into(),
            created: "2025-08-18T14:30:22.000000+05:30".into(),
        };
        let l = line(Kind::Header, 0, &header_fields(&h));
        assert_eq!(decode(&l[..l.len() - 1]).unwrap(), Record::Header(h));
    }

    /// The serde_json encoding `message_fields` replaced.
    fn reference_fields(msg: &Message, ts: &str) -> Vec<u8> {
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

    #[test]
    fn find_escape_finds_every_escape_at_every_offset() {
        for special in [b'"', b'\\', 0x00, 0x08, b'\n', 0x1f] {
            for len in 0..20 {
                for at in 0..len {
                    let mut v = vec![b'a'; len];
                    // Bytes around the specials that must not match.
                    if at > 0 {
                        v[at - 1] = 0x20;
                    }
                    if at + 1 < len {
                        v[at + 1] = 0xff;
                    }
                    v[at] = special;
                    assert_eq!(find_escape(&v, 0), Some(at), "{v:?}");
                    assert_eq!(find_escape(&v, at + 1), None, "{v:?}");
                }
            }
        }
        let text = "नमस्ते! 0x7f:\u{7f} ~ / é 😀 no escapes here at all";
        assert_eq!(find_escape(text.as_bytes(), 0), None);
    }

    /// Lines the fast path must decline, all still decoded (or refused) by the general path.
    #[test]
    fn fast_path_declines_what_it_cannot_vouch_for() {
        let base =
            r#""ts":"2025-08-18T14:30:22.123456Z","role":"user","content":"x","source":"s"}"#;
        let cases = [
            base.replace(r#""content":"x""#, r#""content":"a\u0022b""#),
            base.replace(r#""content":"x""#, r#""content":"a\qb""#),
            base.replace(r#""content""#, r#""con\u0074ent""#),
            base.replace(r#""role":"user""#, r#""role" : "user""#),
            base.replace('}', r#","extra":1}"#),
            base.replace('}', r#","turn":null}"#),
            base.replace('}', r#","meta":[1]}"#),
            base.replace('}', r#","interrupted":1}"#),
            base.replace('}', "} "),
            base.replace(r#""source":"s""#, r#""source":"s","source":"t""#),
            base.replace("14:30:22.123456Z", "14:30:22.123456+24:00"),
        ];
        for (i, body) in cases.iter().enumerate() {
            let l = line(Kind::Message, 1, body.as_bytes());
            let l = &l[..l.len() - 1];
            assert!(fast::decode_message(l).is_none(), "case {i}: {body}");
            assert_eq!(decode(l), decode_general(l), "case {i}");
        }
        // Unusual timestamps are left to chrono, with the same outcome either way.
        for ts in [
            "14:30:22.5Z",
            "14:30:60.123456Z",
            "14:30:22Z",
            "14:30:22.123456+0530",
        ] {
            let body = base.replace("14:30:22.123456Z", ts);
            let l = line(Kind::Message, 1, body.as_bytes());
            let l = &l[..l.len() - 1];
            assert_eq!(
                fast::decode_message(l).ok_or(()),
                decode_general(l).map_err(|_| ()),
                "{ts}"
            );
        }
        let seq0 = line(Kind::Message, 7, base.as_bytes());
        let leading_zero = String::from_utf8(seq0)
            .unwrap()
            .replace("\"seq\":7", "\"seq\":07");
        assert!(fast::decode_message(leading_zero.trim_end().as_bytes()).is_none());
    }

    #[test]
    fn fast_timestamps() {
        for ts in [
            "2025-08-18T14:30:22.123456+05:30",
            "2025-08-18T14:30:22.123456Z",
            "2024-02-29T23:59:59.999999-07:00",
            "2000-02-29T00:00:00.000000+23:59",
        ] {
            assert!(fast::valid_ts(ts), "{ts}");
            assert!(parse_ts(ts).is_ok());
        }
        for ts in [
            "2023-02-29T14:30:22.123456Z",
            "1900-02-29T14:30:22.123456Z",
            "2025-04-31T14:30:22.123456Z",
            "2025-13-01T14:30:22.123456Z",
            "2025-08-18T24:00:00.000000Z",
            "2025-08-18T14:30:22.123456z",
            "2025-08-18t14:30:22.123456Z",
            "2025-08-18T14:30:22.123456-00:00",
            "2025-08-18T14:30:22.123456+0530",
            "2025-08-18T14:30:22Z",
        ] {
            assert!(!fast::valid_ts(ts), "{ts}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[a-z \"\\\\/\n\t\u{0}\u{1f}\u{7f}नमस्ते😀]{0,40}",
            ]
        }

        fn message() -> impl Strategy<Value = Message> {
            (
                any::<bool>(),
                text(),
                text(),
                proptest::option::of(text()),
                any::<bool>(),
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(prop_oneof![
                    Just(serde_json::json!({})),
                    Just(serde_json::json!({"latency_ms": 412, "nested": {"a": [1, "}{\"]"]}})),
                    text().prop_map(|t| serde_json::json!({ "note": t })),
                ]),
            )
                .prop_map(
                    |(user, content, source, turn, interrupted, speaker, lang, meta)| {
                        let role = if user { Role::User } else { Role::Agent };
                        Message {
                            turn,
                            interrupted,
                            speaker,
                            lang,
                            meta,
                            ..Message::new(role, content, source)
                        }
                    },
                )
        }

        fn timestamp() -> impl Strategy<Value = String> {
            (
                0u32..10000,
                0u32..14,
                0u32..33,
                0u32..25,
                0u32..61,
                0u32..61,
                0u32..1_000_000,
                prop_oneof![
                    Just("Z".to_string()),
                    Just("z".to_string()),
                    (prop_oneof![Just('+'), Just('-')], 0u32..26, 0u32..61)
                        .prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
                ],
            )
                .prop_map(|(y, mo, d, h, mi, s, f, off)| {
                    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{f:06}{off}")
                })
        }

        /// A byte that tends to matter to a JSON parser.
        fn interesting() -> impl Strategy<Value = u8> {
            prop_oneof![
                prop::sample::select(b"\"\\{}[],: 0123456789-.eEtrufalsn\x00\x1f\x7f\xff".to_vec()),
                any::<u8>(),
            ]
        }

        proptest! {
            #[test]
            fn hand_encoder_matches_serde(msg in message(), ts in timestamp()) {
                prop_assert_eq!(message_fields(&msg, &ts), reference_fields(&msg, &ts));
            }

            #[test]
            fn fast_path_decodes_what_convlog_writes(msg in message(), seq in any::<u64>()) {
                let ts = "2025-08-18T14:30:22.123456+05:30";
                let l = line(Kind::Message, seq, &message_fields(&msg, ts));
                let l = &l[..l.len() - 1];
                let general = decode_general(l);
                prop_assert!(general.is_ok());
                // Only \u escapes (control characters without a short name) are declined.
                let unicode_escapes = [&msg.content, &msg.source]
                    .into_iter()
                    .chain(&msg.turn)
                    .chain(&msg.speaker)
                    .chain(&msg.lang)
                    .any(|s| s.bytes().any(|c| c < 0x20 && !b"\x08\x0c\n\r\t".contains(&c)));
                match fast::decode_message(l) {
                    Some(rec) => prop_assert_eq!(Ok(rec), general),
                    None => prop_assert!(unicode_escapes, "declined a line without \\u escapes"),
                }
            }

            /// Soundness: whatever the fast path accepts, the general path
            /// accepts with the same record, for damaged lines with a valid CRC.
            #[test]
            fn fast_path_never_disagrees(
                msg in message(),
                edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, interesting()), 1..4),
            ) {
                let mut body = message_fields(&msg, "2025-08-18T14:30:22.123456+05:30");
                let mut full = b"\"kind\":\"message\",\"seq\":42,".to_vec();
                full.append(&mut body);
                for (at, op, byte) in edits {
                    let i = at.index(full.len() + 1);
                    match op {
                        0 if i < full.len() => full[i] = byte,
                        1 => full.insert(i, byte),
                        _ if i < full.len() => { full.remove(i); }
                        _ => {}
                    }
                }
                let mut l = Vec::new();
                l.extend_from_slice(PREFIX_HEAD);
                l.extend_from_slice(b"00000000\",");
                l.extend_from_slice(&full);
                let crc = crc32fast::hash(&l[PREFIX_LEN..]);
                write_hex(crc, &mut l[8..16]);
                if let Some(rec) = fast::decode_message(&l) {
                    prop_assert_eq!(Ok(rec), decode_general(&l));
                }
            }

            #[test]
            fn fast_timestamps_are_a_subset_of_chrono(ts in timestamp()) {
                if fast::valid_ts(&ts) {
                    prop_assert!(parse_ts(&ts).is_ok(), "{} accepted but chrono refuses it", ts);
                }
            }
        }
    }
}
