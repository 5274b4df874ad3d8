//! Digit words as speech-to-text writes them: English, Hindi in Devanagari
//! and Hindi in Latin letters, and the "double"/"triple" of a read-out number.

/// What one word means inside a run of spoken digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Word {
    Digit(u8),
    /// "double five" is 55, "triple oh" is 000.
    Repeat(u8),
}

/// The meaning of `word` (already cut at spaces and punctuation), if it
/// is a digit word. ASCII words are matched in any case.
pub(super) fn lookup(word: &str) -> Option<Word> {
    let b = word.as_bytes();
    if b.is_empty() || b.len() > 15 {
        return None;
    }
    if b[0] >= 0x80 {
        return devanagari(word);
    }
    if b.len() > 7 {
        return None;
    }
    let mut buf = [0u8; 7];
    for (o, c) in buf.iter_mut().zip(b) {
        *o = c.to_ascii_lowercase();
    }
    let d = match &buf[..b.len()] {
        b"zero" | b"oh" | b"o" | b"shunya" | b"shoonya" => 0,
        b"one" | b"ek" => 1,
        b"two" | b"do" => 2,
        b"three" | b"teen" => 3,
        b"four" | b"char" | b"chaar" => 4,
        b"five" | b"paanch" | b"panch" => 5,
        b"six" | b"chhe" | b"chhah" | b"chah" => 6,
        b"seven" | b"saat" => 7,
        b"eight" | b"aath" => 8,
        b"nine" | b"nau" => 9,
        b"double" => return Some(Word::Repeat(2)),
        b"triple" => return Some(Word::Repeat(3)),
        _ => return None,
    };
    Some(Word::Digit(d))
}

fn devanagari(word: &str) -> Option<Word> {
    let d = match word {
        "शून्य" | "शुन्य" | "ज़ीरो" | "जीरो" => 0,
        "एक" => 1,
        "दो" => 2,
        "तीन" => 3,
        "चार" => 4,
        "पांच" | "पाँच" => 5,
        "छह" | "छः" | "छे" | "छै" => 6,
        "सात" => 7,
        "आठ" => 8,
        "नौ" => 9,
        "डबल" => return Some(Word::Repeat(2)),
        "ट्रिपल" => return Some(Word::Repeat(3)),
        _ => return None,
    };
    Some(Word::Digit(d))
}

/// The value of a Devanagari digit ०–९ starting at `b[i]` (three bytes in UTF-8).
pub(super) fn devanagari_digit(b: &[u8], i: usize) -> Option<u8> {
    match (b.get(i), b.get(i + 1), b.get(i + 2)) {
        (Some(0xE0), Some(0xA5), Some(&c)) if (0xA6..=0xAF).contains(&c) => Some(c - 0xA6),
        _ => None,
    }
}
