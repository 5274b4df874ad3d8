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

/// For each length and first letter, the last letters a digit word of
/// that shape has: most words of a message ("the", "and", "total") are
/// rejected by one load and one bit test, before any compare.
static SHAPES: [u32; (LATIN_MAX + 1) * 26] = shapes();

const fn shapes() -> [u32; (LATIN_MAX + 1) * 26] {
    let mut t = [0u32; (LATIN_MAX + 1) * 26];
    let mut i = 0;
    while i < LATIN.len() {
        let w = LATIN[i].0;
        t[w.len() * 26 + (w[0] - b'a') as usize] |= 1 << (w[w.len() - 1] - b'a');
        i += 1;
    }
    t
}

/// The meaning of `word` (already cut at spaces and punctuation), if it
/// is a digit word. ASCII words are matched in any case.
pub(super) fn lookup(b: &[u8]) -> Option<Word> {
    let (&first, &last) = (b.first()?, b.last()?);
    if first >= 0x80 {
        return devanagari(b);
    }
    let letter = |c: u8| {
        let c = c.to_ascii_lowercase();
        c.is_ascii_lowercase().then(|| usize::from(c - b'a'))
    };
    let (f, l) = (letter(first)?, letter(last)?);
    if b.len() > LATIN_MAX || SHAPES[b.len() * 26 + f] & (1 << l) == 0 {
        return None;
    }
    LATIN
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(b))
        .map(|&(_, m)| m)
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

fn devanagari(b: &[u8]) -> Option<Word> {
    // Every one is two to six letters of three bytes, the first a
    // consonant or vowel of U+0900–U+093F: `E0 A4 xx`.
    if !(6..=18).contains(&b.len()) || b[..2] != [0xE0, 0xA4] {
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

#[cfg(test)]
mod tests {
    use super::*;

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
