//! Alphanumeric ids: IBAN (country, check digits, account; mod-97) and
//! the Indian PAN (`ABCPE1234F`).

use super::checksum::iban_mod97;
use super::{Hit, Kind, Policy};

pub(super) fn find(text: &str, policy: &Policy, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let (iban, pan) = (policy.has(Kind::Iban), policy.has(Kind::Pan));
    let mut i = 0;
    while i + 4 <= b.len() {
        if !b[i].is_ascii_alphabetic() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let found = if iban { find_iban(b, i) } else { None }.or_else(|| {
            pan.then(|| find_pan(b, i))
                .flatten()
                .map(|e| (e, Some(Kind::Pan)))
        });
        match found {
            Some((end, kind)) => {
                hits.push(Hit {
                    start: i,
                    end,
                    kind,
                    digits: None,
                });
                i = end;
            }
            None => {
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            }
        }
    }
}

/// IBAN lengths by country, for the countries callers most often read out;
/// other countries are accepted at any length the standard allows (15–34).
const LENGTHS: [(&[u8; 2], usize); 24] = [
    (b"AE", 23),
    (b"AT", 20),
    (b"BE", 16),
    (b"CH", 21),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"ES", 24),
    (b"FI", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GR", 27),
    (b"HU", 28),
    (b"IE", 22),
    (b"IT", 27),
    (b"LU", 20),
    (b"NL", 18),
    (b"NO", 15),
    (b"PL", 28),
    (b"PT", 25),
    (b"RO", 24),
    (b"SA", 24),
    (b"SE", 24),
    (b"TR", 26),
];

/// An IBAN starting at `i`, written in one piece or in groups of four:
/// its end, and `Some(Kind::Iban)` if its check digits hold (else it is
/// only shaped like one, which keeps its digits from passing for a phone).
fn find_iban(b: &[u8], i: usize) -> Option<(usize, Option<Kind>)> {
    let head = b.get(i..i + 4)?;
    let same_case = head[0].is_ascii_uppercase() == head[1].is_ascii_uppercase();
    if !(head[1].is_ascii_alphabetic() && same_case && head[2..].iter().all(u8::is_ascii_digit)) {
        return None;
    }
    let country = [head[0].to_ascii_uppercase(), head[1].to_ascii_uppercase()];
    let want = LENGTHS
        .iter()
        .find(|(c, _)| **c == country)
        .map(|&(_, n)| n);
    let mut chars = [0u8; 34];
    let mut n = 0;
    // Candidate ends: (byte end, chars so far), at every group boundary.
    let mut ends = [(0usize, 0usize); 10];
    let mut m = 0;
    let mut p = i;
    loop {
        let g = p;
        while p < b.len() && b[p].is_ascii_alphanumeric() && p - g < 34 {
            *chars.get_mut(n)? = b[p];
            n += 1;
            p += 1;
        }
        let glen = p - g;
        if p < b.len() && b[p].is_ascii_alphanumeric() {
            return None;
        }
        if m < ends.len() {
            ends[m] = (p, n);
            m += 1;
        }
        // Spaced groups are fours; a shorter group is the last one. The
        // space may be a short run of spaces or tabs, as in `DE89  3704`.
        let gap = b[p..]
            .iter()
            .take(4)
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count();
        let spaced_next = glen == 4
            && (1..=3).contains(&gap)
            && b.get(p + gap).is_some_and(u8::is_ascii_alphanumeric);
        if !spaced_next || n >= 34 {
            break;
        }
        let next_len = b[p + gap..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        if next_len > 4 {
            break;
        }
        p += gap;
    }
    let shaped = |len: usize| (15..=34).contains(&len) && want.is_none_or(|w| w == len);
    let ends = &ends[..m];
    let valid = ends
        .iter()
        .rev()
        .find(|&&(_, len)| shaped(len) && iban_mod97(&chars[..len]));
    match valid {
        Some(&(end, _)) => Some((end, Some(Kind::Iban))),
        None => ends
            .iter()
            .rev()
            .find(|&&(_, len)| len >= 15)
            .map(|&(end, _)| (end, None)),
    }
}

/// Five letters, four digits, a letter; the fourth letter is the holder's
/// type (P person, C company, H family, F firm, A, B, G, J, L, T), which
/// keeps most ten-character codes that merely look alike out.
fn find_pan(b: &[u8], i: usize) -> Option<usize> {
    let w = b.get(i..i + 10)?;
    if b.get(i + 10).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let upper = w[0].is_ascii_uppercase();
    let letter = |c: &u8| c.is_ascii_alphabetic() && c.is_ascii_uppercase() == upper;
    let shape = w[..5].iter().all(letter)
        && w[5..9].iter().all(u8::is_ascii_digit)
        && letter(&w[9])
        && b"ABCFGHLJPT".contains(&w[3].to_ascii_uppercase());
    shape.then_some(i + 10)
}
