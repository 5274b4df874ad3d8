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
use std::io::Write as _;

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
pub fn message_fields(msg: &Message, ts: &str) -> Vec<u8> {
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
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{seq}");
    out.push(b',');
    out.extend_from_slice(fields);
    let crc = crc32fast::hash(&out[body..]);
    write_hex(crc, &mut out[start + 8..start + 16]);
    out.push(b'\n');
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
}
