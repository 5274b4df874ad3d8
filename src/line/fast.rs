//! The fast path of [`decode`](fn@super::decode) for message lines as convlog writes them.
//!
//! It accepts a line only when it can tell that the general path (a full
//! `serde_json` parse into [`Wire`](super::decode::Wire) and the record's rules) would return the
//! very same record: no whitespace between tokens, no escapes in keys, no
//! `\u` escapes in values, only the known message fields (each at most once), an
//! unsigned `seq` without leading zeros, and a valid timestamp. Anything
//! else, including every invalid line, returns `None` and goes the general
//! way, so errors and their messages come from one place. Export and verify
//! spend most of their time decoding, and this path is several times faster.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::frame::PREFIX_LEN;
use crate::json_escape::{find_escape, unpaired_surrogate};
use crate::record::{MessageRecord, Record, Role};
use crate::time::parse_ts;

const KIND: u16 = 1;
const SEQ: u16 = 1 << 1;
const TS: u16 = 1 << 2;
const ROLE: u16 = 1 << 3;
const CONTENT: u16 = 1 << 4;
const SOURCE: u16 = 1 << 5;
const TURN: u16 = 1 << 6;
const INTERRUPTED: u16 = 1 << 7;
const SPEAKER: u16 = 1 << 8;
const LANG: u16 = 1 << 9;
const META: u16 = 1 << 10;
const REDACTED: u16 = 1 << 11;
const REQUIRED: u16 = KIND | SEQ | TS | ROLE | CONTENT | SOURCE;
/// `meta` nested deeper than this goes the general way, whose parser
/// counts depth from the line's own object (limit 128).
const MAX_META_DEPTH: usize = 64;

/// `line` has passed [`check`](super::check): it starts with the fixed 18-byte prefix.
pub(super) fn decode_message(line: &[u8]) -> Option<Record<'_>> {
    // With the whole line valid UTF-8, every string between two ASCII
    // quotes is valid UTF-8 as well.
    let text = std::str::from_utf8(line).ok()?;
    let b = text.as_bytes();
    let end = b.len().checked_sub(1)?;
    if b[end] != b'}' {
        return None;
    }
    let mut seen = 0u16;
    let mut p = PREFIX_LEN;
    let (mut seq, mut interrupted) = (0u64, false);
    let (mut ts, mut role, mut content, mut source) = (
        Cow::Borrowed(""),
        Cow::Borrowed(""),
        Cow::Borrowed(""),
        Cow::Borrowed(""),
    );
    let (mut turn, mut speaker, mut lang, mut meta) = (None, None, None, None);
    let mut redacted = None;
    loop {
        let (key, after) = string(text, p)?;
        let Cow::Borrowed(key) = key else {
            return None;
        };
        p = after;
        if b.get(p) != Some(&b':') {
            return None;
        }
        p += 1;
        let bit = match key {
            "kind" => KIND,
            "seq" => SEQ,
            "ts" => TS,
            "role" => ROLE,
            "content" => CONTENT,
            "source" => SOURCE,
            "turn" => TURN,
            "interrupted" => INTERRUPTED,
            "speaker" => SPEAKER,
            "lang" => LANG,
            "meta" => META,
            "redacted" => REDACTED,
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match bit {
            SEQ => (seq, p) = uint(b, p)?,
            INTERRUPTED => {
                if b[p..].starts_with(b"true") {
                    (interrupted, p) = (true, p + 4);
                } else if b[p..].starts_with(b"false") {
                    (interrupted, p) = (false, p + 5);
                } else {
                    return None;
                }
            }
            META | REDACTED => {
                let (stop, u_escape) = skip_object(b, p)?;
                let raw: &RawValue = serde_json::from_str(&text[p..stop]).ok()?;
                // RawValue passes a lone surrogate escape; the general path refuses it.
                if u_escape && unpaired_surrogate(raw.get().as_bytes()).is_some() {
                    return None;
                }
                if bit == META {
                    meta = Some(raw);
                } else {
                    redacted = Some(raw);
                }
                p = stop;
            }
            _ => {
                let (v, after) = string(text, p)?;
                p = after;
                match bit {
                    KIND if v != "message" => return None,
                    KIND => {}
                    TS => ts = v,
                    ROLE => role = v,
                    CONTENT => content = v,
                    SOURCE => source = v,
                    TURN => turn = Some(v),
                    SPEAKER => speaker = Some(v),
                    _ => lang = Some(v),
                }
            }
        }
        match b.get(p) {
            Some(b',') => p += 1,
            Some(b'}') if p == end => break,
            _ => return None,
        }
    }
    if seen & REQUIRED != REQUIRED {
        return None;
    }
    let role = match role.as_ref() {
        "user" => Role::User,
        "agent" => Role::Agent,
        _ => return None,
    };
    if !valid_ts(&ts) && parse_ts(&ts).is_err() {
        return None;
    }
    Some(Record::Message(MessageRecord {
        seq,
        ts,
        role,
        content,
        source,
        turn,
        interrupted,
        speaker,
        lang,
        meta,
        redacted,
    }))
}

/// The JSON string starting at `p`: its value and the index after its
/// closing quote. Borrowed when it has no escapes, as `serde_json` does;
/// `None` for `\\u` escapes (left to the general path), raw control
/// characters and anything invalid.
fn string(text: &str, p: usize) -> Option<(Cow<'_, str>, usize)> {
    let b = text.as_bytes();
    if b.get(p) != Some(&b'"') {
        return None;
    }
    let start = p + 1;
    let mut i = find_escape(b, start)?;
    if b[i] == b'"' {
        return Some((Cow::Borrowed(&text[start..i]), i + 1));
    }
    let mut owned = String::with_capacity(i - start + 16);
    let mut from = start;
    loop {
        match b[i] {
            b'"' => {
                owned.push_str(&text[from..i]);
                return Some((Cow::Owned(owned), i + 1));
            }
            b'\\' => {
                owned.push_str(&text[from..i]);
                owned.push(match *b.get(i + 1)? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    _ => return None,
                });
                from = i + 2;
            }
            _ => return None,
        }
        i = find_escape(b, from)?;
    }
}

/// A JSON integer that fits a u64, without sign or leading zeros.
fn uint(b: &[u8], p: usize) -> Option<(u64, usize)> {
    let digits = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 20 || (digits > 1 && b[p] == b'0') {
        return None;
    }
    let mut v = 0u64;
    for &c in &b[p..p + digits] {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some((v, p + digits))
}

/// The end of the object starting at `p` (strings and escapes skipped),
/// if it closes within a modest depth, and whether a string in it holds a
/// `\u` escape (only then is it worth looking for a lone surrogate). Its
/// validity is checked by parsing.
fn skip_object(b: &[u8], p: usize) -> Option<(usize, bool)> {
    if b.get(p) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut u_escape = false;
    let mut i = p;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_META_DEPTH {
                    return None;
                }
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((i + 1, u_escape));
                }
            }
            b'"' => {
                i += 1;
                while *b.get(i)? != b'"' {
                    if b[i] == b'\\' {
                        u_escape |= b.get(i + 1) == Some(&b'u');
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` then `Z` or `±HH:MM`, with every field in
/// range: exactly what convlog writes, and a subset of what chrono's
/// RFC 3339 parser accepts. `false` means "ask chrono".
pub(super) fn valid_ts(ts: &str) -> bool {
    let b = ts.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let shape = b.len() >= 27
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.';
    if !shape {
        return false;
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec), Some(_frac)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
        num(20..26),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || min > 59 || sec > 59 {
        return false;
    }
    match &b[26..] {
        b"Z" => true,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (Some(oh), Some(om)) = (num(27..29), num(30..32)) else {
                return false;
            };
            oh <= 23 && om <= 59 && !(*sign == b'-' && oh == 0 && om == 0)
        }
        _ => false,
    }
}
