//! The one pass over a message's bytes that every scanner shares: it cuts
//! the text into the tokens the number scanner reads and notes where each
//! scanner could find something, so that a message with no candidate (most
//! messages) costs about one walk over its bytes, not one per scanner.
//!
//! Each note is a necessary condition of its scanner's finding anything,
//! never a guess: a scanner skipped here would have found nothing, and one
//! that runs, runs unchanged. So the findings are exactly those of running
//! every scanner on the whole text.

use super::numbers::MIN_DIGITS;
use super::words::{self, Word, devanagari_digit, is_danda, word_end};

/// What the pass saw: where the number scanner has work, and whether the
/// other scanners have any.
pub(super) struct Marks {
    /// Where each token the number scanner must read starts, in order: a
    /// group of digits, or a digit word (or "double"), of a stretch that
    /// has [`MIN_DIGITS`] digits or more. Between two of them, with no
    /// number under way, the number scanner has nothing to do.
    pub tokens: Vec<usize>,
    /// An `@`: an email or UPI id may be around it.
    pub at_sign: bool,
    /// Where the word `at` stands between spaces (its space before), the
    /// first few; an email may be spelled out around it.
    at_words: [usize; 4],
    /// How many times it does.
    spoken_ats: usize,
    /// An ASCII letter right before an ASCII digit: IBANs and PANs start
    /// with letters and have a digit within their first ten characters,
    /// so every one has such a pair.
    pub letter_digit: bool,
    /// How many `:`: an IPv6 address has two or more.
    colons: usize,
    /// How many `.` right after a digit: an IPv4 address has three.
    digit_dots: usize,
    /// Where in `tokens` the current stretch began, and an upper bound of
    /// its digits. A stretch ends at a word that is no digit word: the
    /// number scanner ends every run there, so a stretch of fewer digits
    /// than any number has is dropped whole.
    stretch: usize,
    stretch_digits: usize,
}

thread_local! {
    /// The token list of the last pass on this thread, kept so that a pass
    /// allocates nothing once warm.
    static TOKENS: std::cell::Cell<Vec<usize>> = const { std::cell::Cell::new(Vec::new()) };
}

/// How the pass reads a byte.
const OTHER: u8 = 0;
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
/// Beyond ASCII: a letter of a word, unless it starts a danda or a
/// Devanagari digit.
const HIGH: u8 = 3;
const AT: u8 = 4;
const COLON: u8 = 5;
const DOT: u8 = 6;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [OTHER; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphabetic() {
            LETTER
        } else if b.is_ascii_digit() {
            DIGIT
        } else if b >= 0x80 {
            HIGH
        } else {
            match b {
                b'@' => AT,
                b':' => COLON,
                b'.' => DOT,
                _ => OTHER,
            }
        };
        c += 1;
    }
    t
}

impl Marks {
    /// The pass over `text`. Tokens are cut exactly as the number scanner
    /// cuts them (a word to [`word_end`]; a digit group and the letters
    /// glued to it), so a token start noted here is one it reaches.
    pub fn of(text: &str) -> Marks {
        let b = text.as_bytes();
        let mut m = Marks {
            tokens: TOKENS.take(),
            at_sign: false,
            at_words: [0; 4],
            spoken_ats: 0,
            letter_digit: false,
            colons: 0,
            digit_dots: 0,
            stretch: 0,
            stretch_digits: 0,
        };
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            if c == b' ' {
                i += 1;
                continue;
            }
            if c.is_ascii_alphabetic() {
                // Most words are a few ASCII letters and no digit word:
                // this path keeps them to a few instructions each, and
                // goes from one to the next over a single space.
                let mut start = i;
                loop {
                    i = letters_end(b, start + 1);
                    if b.get(i).is_some_and(|&c| c >= 0x80) {
                        // It goes on beyond ASCII.
                        i = m.word(b, start);
                        break;
                    }
                    let len = i - start;
                    if words::has_shape(len, b[start], b[i - 1]) {
                        m.note(b, start, i, words::lookup_letters(&b[start..i]));
                    } else if m.stretch_digits != 0 || len == 2 {
                        m.note(b, start, i, None);
                    }
                    match b.get(i) {
                        Some(&b' ') if b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) => {
                            start = i + 1;
                        }
                        Some(c) if c.is_ascii_digit() => {
                            m.letter_digit = true;
                            break;
                        }
                        _ => break,
                    }
                }
                continue;
            }
            match CLASS[usize::from(c)] {
                LETTER => i = m.word(b, i),
                DIGIT => i = m.digits(b, i),
                HIGH => {
                    if devanagari_digit(b, i).is_some() {
                        i = m.digits(b, i);
                    } else if is_danda(b, i) {
                        i += 1;
                    } else {
                        i = m.word(b, i);
                    }
                }
                AT => {
                    m.at_sign = true;
                    i += 1;
                }
                COLON => {
                    m.colons += 1;
                    i += 1;
                }
                DOT => {
                    m.digit_dots += usize::from(i > 0 && b[i - 1].is_ascii_digit());
                    i += 1;
                }
                _ => i += 1,
            }
        }
        m.end_stretch();
        m
    }

    /// Marks that rule nothing out and hold no token list: for a policy
    /// without the number scanner, whose scanners search on their own.
    pub fn unknown() -> Marks {
        Marks {
            tokens: Vec::new(),
            at_sign: true,
            letter_digit: true,
            at_words: [0; 4],
            spoken_ats: usize::MAX,
            colons: usize::MAX,
            digit_dots: usize::MAX,
            stretch: 0,
            stretch_digits: 0,
        }
    }

    /// Where ` at ` stands in the text, as a search for it finds it: in
    /// order, each after the end of the one before (so `" at at "` is one);
    /// `None` if there are more than the pass keeps, `Some` of nothing if
    /// there is none.
    pub fn spoken_at(&self) -> Option<impl Iterator<Item = usize> + '_> {
        let mut after = 0;
        let ats = self.at_words.get(..self.spoken_ats)?.iter().copied();
        Some(ats.filter(move |&at| {
            let apart = at >= after;
            if apart {
                after = at + 4;
            }
            apart
        }))
    }

    /// True when an IP address may be in the text.
    pub fn ip(&self) -> bool {
        self.colons >= 2 || self.digit_dots >= 3
    }

    /// Notes the word starting at `start`; returns its end.
    #[inline(always)]
    fn word(&mut self, b: &[u8], start: usize) -> usize {
        let end = word_end(b, start);
        self.note(b, start, end, words::lookup(&b[start..end]));
        if b.get(end).is_some_and(u8::is_ascii_digit) && b[end - 1].is_ascii_alphabetic() {
            self.letter_digit = true;
        }
        end
    }

    /// Notes the word `b[start..end]`, `meaning` its [`words::lookup`].
    #[inline(never)]
    fn note(&mut self, b: &[u8], start: usize, end: usize, meaning: Option<Word>) {
        let w = &b[start..end];
        match meaning {
            Some(word) => {
                self.tokens.push(start);
                self.stretch_digits += match word {
                    Word::Digit(_) => 1,
                    Word::Repeat(n) => usize::from(n),
                };
            }
            None => {
                self.end_stretch();
                if w == b"at" && start > 0 && b[start - 1] == b' ' && b.get(end) == Some(&b' ') {
                    if let Some(at) = self.at_words.get_mut(self.spoken_ats) {
                        *at = start - 1;
                    }
                    self.spoken_ats += 1;
                }
            }
        }
    }

    /// Notes the group of digits at `i`; returns its end, past the letters
    /// and digits glued on after it (`3rd`, `12ab34`), as the number
    /// scanner steps over them.
    #[inline(always)]
    fn digits(&mut self, b: &[u8], i: usize) -> usize {
        let mut k = i;
        while k < b.len() {
            if b[k].is_ascii_digit() {
                k += 1;
            } else if devanagari_digit(b, k).is_some() {
                k += 3;
            } else {
                break;
            }
        }
        self.tokens.push(i);
        // Bytes, not digits: an upper bound is enough.
        self.stretch_digits += k - i;
        while k < b.len() && b[k].is_ascii_alphanumeric() {
            if b[k].is_ascii_digit() && b[k - 1].is_ascii_alphabetic() {
                self.letter_digit = true;
            }
            k += 1;
        }
        k
    }

    /// Ends the current stretch, dropping its tokens if they are too few
    /// digits for any number.
    #[inline(always)]
    fn end_stretch(&mut self) {
        if self.stretch_digits == 0 {
            return;
        }
        if self.stretch_digits < MIN_DIGITS {
            self.tokens.truncate(self.stretch);
        }
        self.stretch = self.tokens.len();
        self.stretch_digits = 0;
    }
}

impl Drop for Marks {
    fn drop(&mut self) {
        let mut tokens = std::mem::take(&mut self.tokens);
        // (None taken, by `unknown`: the kept list stays.)
        if (1..=1024).contains(&tokens.capacity()) {
            tokens.clear();
            TOKENS.set(tokens);
        }
    }
}

/// Where the ASCII letters from `i` end, eight bytes at a time: a mask of
/// the bytes that are no letter, its lowest set byte the end.
#[inline(always)]
fn letters_end(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = ONES * 0x80;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // Per byte, folded to lowercase with the top bit cleared (so no sum
        // carries into the next byte): in `a`..=`z`, and under 0x80?
        let low = (x | (ONES * 0x20)) & !HIGH;
        let letter = (low + ONES * u64::from(0x80 - b'a')) & !(low + ONES * u64::from(0x80 - b'{'));
        let other = (!letter | x) & HIGH;
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    i
}
