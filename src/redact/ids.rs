//! Alphanumeric ids: IBAN (country, check digits, account; mod-97) and
//! the Indian PAN (`ABCPE1234F`).

use super::checksum::iban_mod97;
use super::{Hit, Kind, Policy};

pub(super) fn find(text: &str, policy: &Policy, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let (iban, pan) = (policy.has(Kind::Iban), policy.has(Kind::Pan));
    // Both kinds start with a letter and have a digit in their first ten
    // characters: only words with a digit in them are looked at.
    let mut i = 0;
    while let Some(d) = next_digit(b, i) {
        let mut w = d;
        while w > i && b[w - 1].is_ascii_alphanumeric() {
            w -= 1;
        }
        let found = if !b[w].is_ascii_alphabetic() {
            None
        } else if let Some(f) = iban.then(|| find_iban(b, w)).flatten() {
            Some(f)
        } else {
            pan.then(|| find_pan(b, w))
                .flatten()
                .map(|e| (e, Some(Kind::Pan)))
        };
        match found {
            Some((end, kind)) => {
                hits.push(Hit {
                    start: w,
                    end,
                    kind,
                    digits: None,
                });
                i = end;
            }
            None => {
                i = w;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            }
        }
    }
}

/// The first ASCII digit at or after `from`. Eight bytes at a time: most
/// of a message is letters and spaces.
pub(super) fn next_digit(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    // True when a byte of `x` is over 0x2F and under 0x3A: per byte, with
    // the top bit masked off so no byte borrows or carries into the next
    // ("hasbetween", Bit Twiddling Hacks).
    let has = |x: u64| {
        let low = x & (ONES * 127);
        (ONES * (127 + 0x3A)).wrapping_sub(low) & !x & (low + ONES * (127 - 0x2F)) & (ONES * 128)
            != 0
    };
    let mut i = from;
    while i + 8 <= b.len() {
        let chunk = u64::from_ne_bytes(b[i..i + 8].try_into().ok()?);
        if has(chunk) {
            break;
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| i + p)
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

#[cfg(test)]
mod tests {
    use super::next_digit;

    #[test]
    fn next_digit_finds_what_a_plain_search_finds() {
        let naive = |b: &[u8], from: usize| {
            b.get(from..)?
                .iter()
                .position(u8::is_ascii_digit)
                .map(|p| from + p)
        };
        // Every byte value, alone at every place of a 21-byte text of
        // letters, searched from every place.
        for v in 0..=255u8 {
            for at in 0..21 {
                let mut b = [b'x'; 21];
                b[at] = v;
                for from in 0..=22 {
                    assert_eq!(
                        next_digit(&b, from),
                        naive(&b, from),
                        "{v} at {at} from {from}"
                    );
                }
            }
        }
        let hindi = "आपका ऑर्डर नंबर 48213 है और ९८७ 0".as_bytes();
        for from in 0..=hindi.len() {
            assert_eq!(next_digit(hindi, from), naive(hindi, from));
        }
    }
}
