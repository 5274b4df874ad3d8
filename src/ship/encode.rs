//! Records as PostgreSQL holds them: timestamps converted here and sent
//! binary, rows as binary `COPY` tuples, and the rule for values PostgreSQL
//! cannot hold as written (SHIP.md, "Values PostgreSQL cannot hold"): the
//! column gets the nearest value it can hold and the row keeps the record's
//! line from the log in `raw`, so nothing is lost and nothing is refused.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Timelike};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::record::MessageRecord;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The widest UTC offset `timestamptz` text input accepts (15:59:59).
const PG_MAX_OFFSET: i32 = 16 * 3600 - 1;

/// A `timestamptz` in PostgreSQL's binary form: microseconds from
/// 2000-01-01 UTC. `i64::MIN` is `-infinity`, for a time that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PgTime(pub i64);

impl ToSql for PgTime {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgTime {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<PgTime, Box<dyn StdError + Sync + Send>> {
        let b: [u8; 8] = raw.try_into()?;
        Ok(PgTime(i64::from_be_bytes(b)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }
}

/// A log's RFC 3339 time as PostgreSQL stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub at: PgTime,
    /// The writer's UTC offset in seconds.
    pub offset: i32,
    /// `at` is not the text's instant: a leap second (stored as the next
    /// second's instant, as PostgreSQL rounds it), or a time that does not
    /// parse at all (stored as `-infinity`).
    pub inexact: bool,
}

impl Stamp {
    /// A `timestamptz` column alone (no `utc_offset` beside it) loses the
    /// text: inexact, or an offset PostgreSQL's text input refuses.
    pub(crate) fn loses_text(&self) -> bool {
        self.inexact || self.offset.abs() > PG_MAX_OFFSET
    }
}

/// Converts here rather than in the database, whose text input refuses
/// leap seconds, offsets past ±15:59:59 and year 0000 that the log holds.
pub(crate) fn stamp(text: &str) -> Stamp {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => {
            let offset = t.offset().local_minus_utc();
            Stamp {
                // Past :59 in a leap second, chrono's micros run on into
                // the next second, as PostgreSQL would round it.
                at: PgTime(t.timestamp_micros().saturating_sub(PG_EPOCH_MICROS)),
                offset,
                inexact: t.nanosecond() >= 1_000_000_000,
            }
        }
        Err(_) => Stamp {
            at: PgTime(i64::MIN),
            offset: 0,
            inexact: true,
        },
    }
}

/// Whether `jsonb` holds a `meta` object as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fit {
    /// Same value, same numbers' text.
    Exact,
    /// Accepted, but a number's text changes (`1e+5` → `100000`, `-0.0` →
    /// `0.0`).
    Normalised,
    /// Refused: a `\u0000` escape, a lone surrogate, a number out of
    /// `numeric`'s range.
    Refused,
}

/// Judges `json` (valid JSON, as the log's reader checked) the way
/// PostgreSQL's `jsonb` input will, without parsing it into values.
pub(crate) fn jsonb_fit(json: &str) -> Fit {
    let b = json.as_bytes();
    let mut fit = Fit::Exact;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Fit::Refused,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') if b.get(i + 1) == Some(&b'u') => {
                            let Some(cp) = hex4(b, i + 2) else {
                                return Fit::Refused;
                            };
                            i += 6;
                            match cp {
                                0 => return Fit::Refused,
                                0xD800..=0xDBFF => {
                                    let low = (b.get(i) == Some(&b'\\')
                                        && b.get(i + 1) == Some(&b'u'))
                                    .then(|| hex4(b, i + 2))
                                    .flatten();
                                    match low {
                                        Some(0xDC00..=0xDFFF) => i += 6,
                                        _ => return Fit::Refused,
                                    }
                                }
                                0xDC00..=0xDFFF => return Fit::Refused,
                                _ => {}
                            }
                        }
                        Some(b'\\') => i += 2,
                        Some(_) => i += 1,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                fit = fit.max(number_fit(&json[start..i]));
                if fit == Fit::Refused {
                    return fit;
                }
            }
            _ => i += 1,
        }
    }
    fit
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let s = std::str::from_utf8(b.get(at..at + 4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// `numeric` holds at most 131,072 digits before the point and 16,383
/// after it (measured on PostgreSQL 15: `1e131072` and `1e-16384` overflow).
fn number_fit(n: &str) -> Fit {
    let (mant, exp) = match n.find(['e', 'E']) {
        Some(at) => (&n[..at], Some(&n[at + 1..])),
        None => (n, None),
    };
    let digits = mant.trim_start_matches('-');
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int_digits = int.trim_start_matches('0').len() as i64;
    let Some(exp) = exp else {
        if int_digits > 131_072 || frac.len() > 16_383 {
            return Fit::Refused;
        }
        let zero = int.bytes().chain(frac.bytes()).all(|c| c == b'0');
        return if mant.starts_with('-') && zero {
            Fit::Normalised
        } else {
            Fit::Exact
        };
    };
    let Ok(e) = exp.parse::<i64>() else {
        return Fit::Refused;
    };
    if int_digits + e.max(0) > 131_072 || frac.len() as i64 - e > 16_383 {
        return Fit::Refused;
    }
    Fit::Normalised
}

fn put_len(buf: &mut Vec<u8>, len: usize) -> Result<(), String> {
    let len = i32::try_from(len).map_err(|_| "a field is over 2 GiB".to_string())?;
    buf.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A text column; PostgreSQL's `text` cannot hold U+0000, which becomes
/// U+FFFD (the row keeps the exact line in `raw`). True if it did.
fn put_text(buf: &mut Vec<u8>, s: &str) -> Result<bool, String> {
    if memchr::memchr(0, s.as_bytes()).is_none() {
        put_len(buf, s.len())?;
        buf.extend_from_slice(s.as_bytes());
        return Ok(false);
    }
    let s = s.replace('\0', "\u{FFFD}");
    put_len(buf, s.len())?;
    buf.extend_from_slice(s.as_bytes());
    Ok(true)
}

fn put_opt(buf: &mut Vec<u8>, s: Option<&str>) -> Result<bool, String> {
    match s {
        Some(s) => put_text(buf, s),
        None => {
            buf.extend_from_slice(&(-1i32).to_be_bytes());
            Ok(false)
        }
    }
}

fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends one binary COPY tuple in the column order of
/// [`schema::MESSAGES`](super::schema::MESSAGES). `line` is the record's
/// line in the log, stored in `raw` when a column cannot hold its value
/// exactly. Returns whether it was.
pub(crate) fn encode_row(
    buf: &mut Vec<u8>,
    session: &str,
    m: &MessageRecord<'_>,
    crc: u32,
    line: &[u8],
) -> Result<bool, String> {
    let ts = stamp(&m.ts);
    let seq = i64::try_from(m.seq).map_err(|_| "seq is over 2^63".to_string())?;
    buf.extend_from_slice(&(super::schema::MESSAGES.len() as i16).to_be_bytes());
    put_text(buf, session)?;
    put_i64(buf, seq);
    put_i64(buf, ts.at.0);
    buf.extend_from_slice(&4i32.to_be_bytes());
    buf.extend_from_slice(&ts.offset.to_be_bytes());
    // utc_offset holds any offset, so only a leap second or an unparsable
    // time makes the message's ts inexact.
    let mut inexact = ts.inexact;
    inexact |= put_text(buf, m.role.as_str())?;
    inexact |= put_text(buf, &m.content)?;
    inexact |= put_text(buf, &m.source)?;
    inexact |= put_opt(buf, m.turn.as_deref())?;
    buf.extend_from_slice(&1i32.to_be_bytes());
    buf.push(u8::from(m.interrupted));
    inexact |= put_opt(buf, m.speaker.as_deref())?;
    inexact |= put_opt(buf, m.lang.as_deref())?;
    match m.meta.map(|raw| (raw, jsonb_fit(raw.get()))) {
        Some((raw, fit)) if fit != Fit::Refused => {
            // jsonb's binary form: a version byte, then the JSON text.
            put_len(buf, raw.get().len() + 1)?;
            buf.push(1);
            buf.extend_from_slice(raw.get().as_bytes());
            inexact |= fit == Fit::Normalised;
        }
        Some(_) => {
            buf.extend_from_slice(&(-1i32).to_be_bytes());
            inexact = true;
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    put_i64(buf, i64::from(crc));
    if inexact {
        // The line is JSON, whose encoder escapes every control character,
        // so it never holds a NUL byte itself.
        put_len(buf, line.len())?;
        buf.extend_from_slice(line);
    } else {
        buf.extend_from_slice(&(-1i32).to_be_bytes());
    }
    Ok(inexact)
}

/// The CRC a line starts with (`{"crc":"xxxxxxxx",…`), as the reader
/// checked it.
pub(crate) fn line_crc(line: &[u8]) -> u32 {
    line.get(8..16)
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_fit_matches_what_postgresql_15_was_seen_to_do() {
        assert_eq!(jsonb_fit(r#"{"a":1,"b":[0.5,"x\"\\u0000"]}"#), Fit::Exact);
        assert_eq!(jsonb_fit(r#"{"a":"\u0000"}"#), Fit::Refused);
        assert_eq!(jsonb_fit(r#"{"\u0000":1}"#), Fit::Refused);
        assert_eq!(jsonb_fit(r#"{"a":"\ud800"}"#), Fit::Refused);
        assert_eq!(jsonb_fit(r#"{"a":"\udc00"}"#), Fit::Refused);
        assert_eq!(jsonb_fit(r#"{"a":"\ud83d\ude00"}"#), Fit::Exact);
        assert_eq!(jsonb_fit(r#"{"a":1e+999999}"#), Fit::Refused);
        assert_eq!(jsonb_fit(r#"{"a":1e131072}"#), Fit::Refused);
        assert_eq!(jsonb_fit(r#"{"a":1e131071}"#), Fit::Normalised);
        assert_eq!(jsonb_fit(r#"{"a":1e-16384}"#), Fit::Refused);
        assert_eq!(jsonb_fit(r#"{"a":1e-16383}"#), Fit::Normalised);
        assert_eq!(jsonb_fit(r#"{"a":1e+5}"#), Fit::Normalised);
        assert_eq!(jsonb_fit(r#"{"a":-0.0}"#), Fit::Normalised);
        assert_eq!(jsonb_fit(r#"{"a":-0.5,"e":1.50}"#), Fit::Exact);
    }

    #[test]
    fn times_postgresql_text_input_refuses_convert_here() {
        let s = stamp("2025-01-01T23:59:60.5Z");
        assert!(s.inexact);
        assert_eq!(s.at, stamp("2025-01-02T00:00:00.5Z").at);
        let s = stamp("2025-01-01T10:00:00-16:30");
        assert!(!s.inexact && s.loses_text());
        assert_eq!(s.offset, -(16 * 3600 + 1800));
        assert_eq!(s.at, stamp("2025-01-02T02:30:00Z").at);
        let s = stamp("0000-01-01T00:00:00Z");
        assert!(!s.loses_text());
        assert!(s.at.0 < 0);
        assert!(!stamp("2025-08-18T14:30:22.123456+05:30").loses_text());
        assert!(stamp("yesterday").loses_text());
    }
}
