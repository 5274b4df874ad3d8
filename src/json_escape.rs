//! The one JSON string escaper, shared by the line encoder and every export.
//!
//! It writes what both `serde_json` and Python's `json.dumps(s,
//! ensure_ascii=False)` write: `"` and `\\` escaped, `\b \f \n \r \t` by
//! name, other control characters below U+0020 as `\u00xx` in lowercase hex,
//! and everything else (DEL and all non-ASCII included) raw. So a line's
//! bytes match the `serde_json` reference the codec's tests keep, and the
//! export's bytes match `json.dump(..., ensure_ascii=False, indent=2)`.
//!
//! And the one check of escapes a reader makes beyond `serde_json`'s: a
//! `\u` escape of half a surrogate pair ([`unpaired_surrogate`]), which
//! FORMAT.md makes invalid anywhere in a line.

use std::convert::Infallible;
use std::io::{self, Write};

/// Hands `s`, quoted and escaped, to `emit` as a series of slices: the one
/// escaping loop behind [`push_json_str`] and [`write_json_str`].
#[inline]
fn escape_into<E>(s: &str, mut emit: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    let b = s.as_bytes();
    emit(b"\"")?;
    let mut start = 0;
    while let Some(i) = find_escape(b, start) {
        emit(&b[start..i])?;
        emit(escape_of(b[i]).as_slice())?;
        start = i + 1;
    }
    emit(&b[start..])?;
    emit(b"\"")
}

/// Appends `s` as a JSON string to a buffer.
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    let done: Result<(), Infallible> = escape_into(s, |part| {
        out.extend_from_slice(part);
        Ok(())
    });
    match done {
        Ok(()) => {}
        Err(never) => match never {},
    }
}

/// Writes `s` as a JSON string to any writer.
pub fn write_json_str<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    escape_into(s, |part| w.write_all(part))
}

/// The escape sequence for a byte that [`find_escape`] stopped at.
#[derive(Clone, Copy)]
struct Escape {
    bytes: [u8; 6],
    len: u8,
}

impl Escape {
    /// The sequence's bytes.
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// How JSON (and Python's `json`) escapes `b`, one of the bytes
/// [`find_escape`] reports.
fn escape_of(b: u8) -> Escape {
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

/// The first `\u` escape in `json` (JSON text) that is a UTF-16 surrogate
/// without its other half: a high one (`d800`–`dbff`) not followed at once
/// by the escape of a low one (`dc00`–`dfff`), or a low one on its own.
/// FORMAT.md: every string of a line, at any depth, is Unicode text.
pub(crate) fn unpaired_surrogate(json: &[u8]) -> Option<u16> {
    let hex = |at: usize| -> Option<u16> {
        let h = json.get(at..at + 4)?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut i = 0;
    loop {
        let at = i + memchr::memchr(b'\\', json.get(i..)?)?;
        // Every escape is two bytes, `\u` six; a backslash inside an
        // escape is never the start of the next one.
        i = at + 2;
        if json.get(at + 1) != Some(&b'u') {
            continue;
        }
        let Some(u) = hex(at + 2) else { continue };
        i = at + 6;
        match u {
            0xd800..=0xdbff => {
                let low = json.get(i..i + 2) == Some(&b"\\u"[..])
                    && hex(i + 2).is_some_and(|l| (0xdc00..=0xdfff).contains(&l));
                if !low {
                    return Some(u);
                }
                i += 6;
            }
            0xdc00..=0xdfff => return Some(u),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(s: &str) -> String {
        let mut v = Vec::new();
        write_json_str(&mut v, s).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escapes_like_python() {
        assert_eq!(py("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(py("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(py("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\"");
        assert_eq!(py("नमस्ते 😀"), "\"नमस्ते 😀\"");
        assert_eq!(py("/"), "\"/\"");
    }

    #[test]
    fn buffer_and_writer_agree() {
        for s in ["", "plain", "a\"b\\c\n\u{0}\u{7f}", "नमस्ते 😀\t"] {
            let mut buf = Vec::new();
            push_json_str(&mut buf, s);
            assert_eq!(String::from_utf8(buf).unwrap(), py(s), "{s:?}");
        }
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
}
