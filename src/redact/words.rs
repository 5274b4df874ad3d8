//! Digit words as speech-to-text writes them: English, Hindi in Devanagari
//! and Hindi in Latin letters, and the "double"/"triple" of a read-out number.

/// What one word means inside a run of spoken digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Word {
    Digit(u8),
    /// "double five" is 55, "triple oh" is 000.
    Repeat(u8),
}

/// The digit words in Latin letters, lowercase: English, and Hindi as
/// STT spells it.
const LATIN: [(&[u8], Word); 29] = [
    (b"zero", Word::Digit(0)),
    (b"oh", Word::Digit(0)),
    (b"o", Word::Digit(0)),
    (b"shunya", Word::Digit(0)),
    (b"shoonya", Word::Digit(0)),
    (b"one", Word::Digit(1)),
    (b"ek", Word::Digit(1)),
    (b"two", Word::Digit(2)),
    (b"do", Word::Digit(2)),
    (b"three", Word::Digit(3)),
    (b"teen", Word::Digit(3)),
    (b"four", Word::Digit(4)),
    (b"char", Word::Digit(4)),
    (b"chaar", Word::Digit(4)),
    (b"five", Word::Digit(5)),
    (b"paanch", Word::Digit(5)),
    (b"panch", Word::Digit(5)),
    (b"six", Word::Digit(6)),
    (b"chhe", Word::Digit(6)),
    (b"chhah", Word::Digit(6)),
    (b"chah", Word::Digit(6)),
    (b"seven", Word::Digit(7)),
    (b"saat", Word::Digit(7)),
    (b"eight", Word::Digit(8)),
    (b"aath", Word::Digit(8)),
    (b"nine", Word::Digit(9)),
    (b"nau", Word::Digit(9)),
    (b"double", Word::Repeat(2)),
    (b"triple", Word::Repeat(3)),
];

/// The longest word in [`LATIN`].
const LATIN_MAX: usize = 7;

/// For each length (all over [`LATIN_MAX`] as one), first and last letter
/// (its low five bits, the same in either case), the one digit word of
/// that shape: its place in [`LATIN`] plus one; or [`AT`]. No two share a
/// shape (the table's build checks), so most words of a message ("the",
/// "and", "total") are rejected by one load, and any other by one compare.
static SHAPES: [u8; (LATIN_MAX + 2) << 10] = shapes();

/// The shape of `at`, which the shared pass notes too (an email may be
/// spelled out around it): no digit word.
const AT: u8 = u8::MAX;

const fn shapes() -> [u8; (LATIN_MAX + 2) << 10] {
    let mut t = [0u8; (LATIN_MAX + 2) << 10];
    let mut i = 0;
    while i < LATIN.len() {
        let w = LATIN[i].0;
        let at = shape(w.len(), w[0], w[w.len() - 1]);
        assert!(t[at] == 0, "two digit words of one shape");
        t[at] = i as u8 + 1;
        i += 1;
    }
    let at = shape(2, b'a', b't');
    assert!(t[at] == 0, "a digit word of the shape of `at`");
    t[at] = AT;
    t
}

const fn shape(len: usize, first: u8, last: u8) -> usize {
    let len = if len > LATIN_MAX { LATIN_MAX + 1 } else { len };
    (len << 10) | (((first & 31) as usize) << 5) | (last & 31) as usize
}

/// The meaning of `word` (already cut at spaces and punctuation), if it
/// is a digit word. ASCII words are matched in any case.
#[inline]
pub(super) fn lookup(b: &[u8]) -> Option<Word> {
    let (&first, &last) = (b.first()?, b.last()?);
    if first >= 0x80 {
        return devanagari(b);
    }
    if !first.is_ascii_alphabetic() || !last.is_ascii_alphabetic() {
        return None;
    }
    lookup_letters(b)
}

/// True when a word of ASCII letters of this length, first and last
/// letter may be a digit word or `at`: one load rejects most words.
#[inline(always)]
pub(super) fn has_shape(len: usize, first: u8, last: u8) -> bool {
    SHAPES[shape(len, first, last)] != 0
}

/// [`lookup`] of a word of ASCII letters only.
#[inline(always)]
pub(super) fn lookup_letters(b: &[u8]) -> Option<Word> {
    if b.len() > LATIN_MAX || b.is_empty() {
        return None;
    }
    let at = shape(b.len(), b[0], b[b.len() - 1]);
    let (w, m) = *LATIN.get(usize::from(SHAPES[at]).checked_sub(1)?)?;
    // The digit words are lowercase letters: a byte matches one in any
    // case, and no other byte does, when it equals it with bit 5 set.
    (w.len() == b.len() && w.iter().zip(b).all(|(&x, &y)| x == y | 0x20)).then_some(m)
}

/// The digit words in Devanagari.
const DEVANAGARI: [(&str, Word); 19] = [
    ("शून्य", Word::Digit(0)),
    ("शुन्य", Word::Digit(0)),
    ("ज़ीरो", Word::Digit(0)),
    ("जीरो", Word::Digit(0)),
    ("एक", Word::Digit(1)),
    ("दो", Word::Digit(2)),
    ("तीन", Word::Digit(3)),
    ("चार", Word::Digit(4)),
    ("पांच", Word::Digit(5)),
    ("पाँच", Word::Digit(5)),
    ("छह", Word::Digit(6)),
    ("छः", Word::Digit(6)),
    ("छे", Word::Digit(6)),
    ("छै", Word::Digit(6)),
    ("सात", Word::Digit(7)),
    ("आठ", Word::Digit(8)),
    ("नौ", Word::Digit(9)),
    ("डबल", Word::Repeat(2)),
    ("ट्रिपल", Word::Repeat(3)),
];

/// For each third byte (the first letter's last byte), the lengths in
/// letters a Devanagari digit word starting with that letter has: most
/// Hindi words are rejected by one load and one bit test.
static DEVANAGARI_SHAPES: [u8; 64] = devanagari_shapes();

const fn devanagari_shapes() -> [u8; 64] {
    let mut t = [0u8; 64];
    let mut i = 0;
    while i < DEVANAGARI.len() {
        let w = DEVANAGARI[i].0.as_bytes();
        t[(w[2] & 0x3F) as usize] |= 1 << (w.len() / 3);
        i += 1;
    }
    t
}

/// True when a word of `len` bytes starting with `head` may be a
/// Devanagari digit word: every one is two to six letters of three bytes,
/// the first a consonant or vowel of U+0900–U+093F (`E0 A4 xx`). One load
/// rejects most Hindi words.
#[inline(always)]
pub(super) fn has_devanagari_shape(len: usize, head: [u8; 3]) -> bool {
    (6..=18).contains(&len)
        && head[..2] == [0xE0, 0xA4]
        && DEVANAGARI_SHAPES[usize::from(head[2] & 0x3F)] & (1 << (len / 3)) != 0
}

fn devanagari(b: &[u8]) -> Option<Word> {
    let head = [0, 1, 2].map(|i| b.get(i).copied().unwrap_or(0));
    if !has_devanagari_shape(b.len(), head) {
        return None;
    }
    DEVANAGARI
        .iter()
        .find(|(w, _)| w.len() == b.len() && w.as_bytes()[2] == b[2] && w.as_bytes() == b)
        .map(|&(_, m)| m)
}

/// The value of a Devanagari digit ०–९ starting at `b[i]` (three bytes in UTF-8).
pub(super) fn devanagari_digit(b: &[u8], i: usize) -> Option<u8> {
    match (b.get(i), b.get(i + 1), b.get(i + 2)) {
        (Some(0xE0), Some(0xA5), Some(&c)) if (0xA6..=0xAF).contains(&c) => Some(c - 0xA6),
        _ => None,
    }
}

/// Where the word starting at `i` ends: letters, and characters beyond
/// ASCII up to a danda or a Devanagari digit (`E0 A5 A4`–`AF`). Every word
/// of a message passes here, so it reads eight bytes at a time: a mask of
/// the bytes that end a word, its lowest set byte the end.
#[inline(always)]
pub(super) fn word_end(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = ONES * 0x80;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let beyond = x & HIGH;
        // Per byte, with the top bit cleared so that no sum carries into
        // the next byte: folded to lowercase, in `a`..=`z`?
        let low = (x | (ONES * 0x20)) & !HIGH;
        let letter = (low + ONES * (0x80 - b'a' as u64)) & !(low + ONES * (0x80 - b'{' as u64));
        let mut ends = !(letter | beyond) & HIGH;
        if beyond != 0 {
            // `A5` followed by `A4`–`AF`: a danda or a digit, if an `E0`
            // stands before. (A pattern starting before the chunk is
            // behind the word's start or was seen from the last chunk.)
            let seven = x & !HIGH;
            let v = x ^ (ONES * 0xA5);
            let a5 = !((((v & !HIGH) + !HIGH) | v) & HIGH) & HIGH;
            let range = (seven + ONES * (0x80 - 0x24)) & !(seven + ONES * (0x80 - 0x30)) & beyond;
            // Bit of byte k+1 set when byte k is `A5` and byte k+1 in range;
            // the word would end at k-1, the `E0`.
            let mut marks = (a5 << 8) & range & HIGH;
            while marks != 0 {
                let k = (marks.trailing_zeros() / 8) as usize;
                if k >= 2 && chunk[k - 2] == 0xE0 {
                    ends |= 0x80 << (8 * (k - 2));
                }
                marks &= marks - 1;
            }
            if ends != 0 {
                return i + (ends.trailing_zeros() / 8) as usize;
            }
            // A pattern whose `E0` is one of the last two bytes is seen
            // from the next chunk: go on six bytes, not eight.
            i += 6;
            continue;
        }
        if ends != 0 {
            return i + (ends.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    word_end_bytewise(b, i)
}

/// [`word_end`] a byte at a time: for the last few bytes of a text.
fn word_end_bytewise(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if c < 0x80 {
            if !c.is_ascii_alphabetic() {
                break;
            }
        } else if c == 0xE0
            && b.get(i + 1) == Some(&0xA5)
            && b.get(i + 2).is_some_and(|&x| (0xA4..=0xAF).contains(&x))
        {
            // `।`, `॥` (0xA4, 0xA5) or a digit `०`–`९` (0xA6–0xAF).
            break;
        }
        i += 1;
    }
    i
}

/// `।` (U+0964) and `॥` (U+0965) end a Hindi sentence, as `.` does.
pub(super) fn is_danda(b: &[u8], i: usize) -> bool {
    matches!(
        (b.get(i), b.get(i + 1), b.get(i + 2)),
        (Some(0xE0), Some(0xA5), Some(0xA4 | 0xA5))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_end_eight_at_a_time_ends_where_a_byte_at_a_time_does() {
        // Pieces that end a word or not, beyond ASCII or not, placed at
        // every offset of a chunk: dandas and Devanagari digits (E0 A5
        // A4..AF), other E0 A5 / A4 letters, ASCII letters and stops.
        let pieces: [&str; 12] = ["a", "Z", "।", "॥", "०", "९", "के", "नौ", "é", " ", "1", "-"];
        let mut seed = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % 12) as usize]);
            }
            let b = text.as_bytes();
            for i in 0..b.len() {
                assert_eq!(word_end(b, i), word_end_bytewise(b, i), "{text:?} from {i}");
            }
        }
    }

    #[test]
    fn every_digit_word_is_found_in_any_case_and_no_other() {
        for (w, m) in LATIN {
            let w = std::str::from_utf8(w).unwrap();
            for form in [
                w.to_string(),
                w.to_uppercase(),
                w[..1].to_uppercase() + &w[1..],
            ] {
                assert_eq!(lookup(form.as_bytes()), Some(m), "{form}");
            }
            // One letter more, or one less, is another word.
            assert_eq!(lookup(format!("{w}s").as_bytes()), None, "{w}s");
        }
        for (w, m) in DEVANAGARI {
            assert_eq!(lookup(w.as_bytes()), Some(m), "{w}");
        }
        for w in [
            "the",
            "and",
            "total",
            "ones",
            "tw",
            "है",
            "तक",
            "नौकरी",
            "",
            "x",
            "doubles",
        ] {
            assert_eq!(lookup(w.as_bytes()), None, "{w}");
        }
    }
}
