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
    /// Where each `@` is, the first few: an email or UPI id may be around
    /// it.
    at_signs: [usize; 4],
    /// How many there are.
    at_count: usize,
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

impl Marks {
    /// The pass over `text`, 64 bytes at a time: a bit per byte says what
    /// it is ([`Block`]), and the text is read as *runs* of letters, digits
    /// and bytes beyond ASCII between other bytes. A run of ASCII letters
    /// (most of a message) is one word, judged by its length, first and
    /// last letter; a run of digits alone is one group; one of letters and
    /// bytes beyond ASCII with no danda or Devanagari digit in it is one
    /// word. Most runs need nothing noted and are passed over in [`skim`].
    /// Any other run (a digit glued to letters, a danda) is cut a byte at a
    /// time ([`Marks::run`]), exactly as the number scanner cuts it (a word
    /// to [`word_end`]; a digit group and the letters glued to it), so a
    /// token start noted here is one it reaches. No token crosses a run's
    /// ends, and the bytes between runs (spaces, punctuation) start none.
    /// A run that crosses a block's end is judged by what its parts hold.
    pub fn of(text: &str) -> Marks {
        let b = text.as_bytes();
        let mut m = Marks {
            tokens: TOKENS.take(),
            at_signs: [0; 4],
            at_count: 0,
            at_words: [0; 4],
            spoken_ats: 0,
            letter_digit: false,
            colons: 0,
            digit_dots: 0,
            stretch: 0,
            stretch_digits: 0,
        };
        // A run that began in an earlier block: where, and what it holds.
        let mut open: Option<(usize, Holds)> = None;
        // The last byte of the block before: in a run? a digit? (bit 0)
        let (mut was_run, mut was_digit) = (0u64, 0u64);
        let mut tail = [0u8; 64];
        let mut base = 0;
        while base < b.len() {
            let chunk: &[u8; 64] = match b.get(base..base + 64).map(<&[u8; 64]>::try_from) {
                Some(Ok(chunk)) => chunk,
                _ => {
                    // The last, short block: zeros after the text end runs.
                    let rest = &b[base..];
                    tail[..rest.len()].copy_from_slice(rest);
                    &tail
                }
            };
            let k = Block::of(chunk);
            let run = k.run;
            let after_run = (run << 1) | was_run;
            let mut starts = run & !after_run;
            let ends = !run & after_run;
            // Bits at the ends of runs with some byte of a kind in them:
            // adding such a byte's bit to its run carries out at its end.
            let carry = |seeds: u64| run.wrapping_add(seeds) & !run;
            let runs = Runs {
                mixed: carry(k.mixed()),
                worded: carry(k.worded()),
                cut: carry(k.cut()),
            };
            if k.special != 0 {
                m.specials(chunk, base, k.special, (k.digit << 1) | was_digit);
            }
            // For the next block, whether or not a run goes on through this one.
            was_run = run >> 63;
            was_digit = k.digit >> 63;
            if let Some((s, holds)) = open {
                let upto = match ends {
                    0 => u64::MAX,
                    _ => (ends & ends.wrapping_neg()) - 1,
                };
                let holds = holds.and(&k, upto);
                if ends == 0 {
                    // The run goes on through this whole block.
                    open = Some((s, holds));
                    base += 64;
                    continue;
                }
                let e = base + ends.trailing_zeros() as usize;
                m.settle(b, s, e, holds);
                open = None;
            }
            loop {
                // Most runs are a word of ASCII letters of no noted shape
                // after no stretch: nothing to note.
                if m.stretch_digits == 0 {
                    starts = skim(chunk, starts, ends, &runs);
                }
                if starts == 0 {
                    break;
                }
                let s = starts.trailing_zeros() as usize & 63;
                starts &= starts - 1;
                // The run's end: the first end after its start.
                let rest = ends >> s;
                if rest == 0 {
                    open = Some((base + s, Holds::default().and(&k, !0 << s)));
                    break;
                }
                // The run is `chunk[s..e]`, with e <= 63.
                let e = (s + rest.trailing_zeros() as usize) & 63;
                let holds = Holds {
                    mixed: runs.mixed >> e & 1 != 0,
                    worded: runs.worded >> e & 1 != 0,
                    cut: runs.cut >> e & 1 != 0,
                };
                m.settle(b, base + s, base + e, holds);
            }
            base += 64;
        }
        if let Some((s, holds)) = open {
            m.settle(b, s, b.len(), holds);
        }
        m.end_stretch();
        m
    }

    /// Notes the run `b[start..end]`, of what `holds` says.
    #[inline(always)]
    fn settle(&mut self, b: &[u8], start: usize, end: usize, holds: Holds) {
        if !holds.mixed {
            self.letters(b, start, end);
        } else if !holds.worded {
            // One group of digits, with nothing glued on.
            self.tokens.push(start);
            self.stretch_digits += end - start;
        } else if !holds.cut {
            // One word, of letters and bytes beyond ASCII.
            match words::lookup(&b[start..end]) {
                Some(word) => self.note(b, start, end, Some(word)),
                None => self.end_stretch(),
            }
        } else {
            self.run(b, start, end);
        }
    }

    /// Notes the word of ASCII letters `b[start..end]`: most are rejected
    /// by their shape alone, and only end a stretch.
    #[inline(always)]
    fn letters(&mut self, b: &[u8], start: usize, end: usize) {
        let w = &b[start..end];
        match w.first().zip(w.last()) {
            Some((&first, &last)) if words::has_shape(w.len(), first, last) => {
                self.note(b, start, end, words::lookup_letters(w));
            }
            _ => self.end_stretch(),
        }
    }

    /// Cuts the run `b[start..end]` into the number scanner's tokens, a
    /// token at a time, as it does.
    #[inline(never)]
    fn run(&mut self, b: &[u8], start: usize, end: usize) {
        let mut i = start;
        while i < end {
            i = if b[i].is_ascii_digit() || devanagari_digit(b, i).is_some() {
                self.digits(b, i)
            } else if is_danda(b, i) {
                i + 1
            } else {
                self.word(b, i)
            };
        }
    }

    /// Notes the `@`, `:` and `.` of the block at `base` (bits of `special`);
    /// `after_digit` has a bit for each byte right after an ASCII digit.
    fn specials(&mut self, chunk: &[u8; 64], base: usize, mut special: u64, after_digit: u64) {
        while special != 0 {
            let k = special.trailing_zeros();
            match chunk[k as usize] {
                b'@' => {
                    if let Some(at) = self.at_signs.get_mut(self.at_count) {
                        *at = base + k as usize;
                    }
                    self.at_count += 1;
                }
                b':' => self.colons += 1,
                _ => self.digit_dots += usize::from(after_digit >> k & 1 != 0),
            }
            special &= special - 1;
        }
    }

    /// Marks that rule nothing out and hold no token list: for a policy
    /// without the number scanner, whose scanners search on their own.
    pub fn unknown() -> Marks {
        Marks {
            tokens: Vec::new(),
            at_signs: [0; 4],
            at_count: usize::MAX,
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

    /// Where each `@` is, in order; `None` if there are more than the
    /// pass keeps.
    pub fn at_signs(&self) -> Option<&[usize]> {
        self.at_signs.get(..self.at_count)
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

/// `starts` (of runs in `chunk`) without the leading ones the pass would
/// note nothing of: words of ASCII letters of no shape it notes
/// ([`words::has_shape`]); words of letters beyond ASCII that can be no
/// digit word ([`words::lookup`] is `None`); and groups of digits alone
/// whose stretch such a word ends with fewer than [`MIN_DIGITS`] digits,
/// which [`Marks::end_stretch`] would drop. Most of a message is passed
/// over here with nothing else to keep. (Only while no stretch is open.)
#[inline(always)]
fn skim(chunk: &[u8; 64], mut starts: u64, ends: u64, k: &Runs) -> u64 {
    // `starts` as they were at the first of a chain of digit groups (0:
    // none), and the chain's digits so far.
    let mut chain = 0u64;
    let mut digits = 0;
    while starts != 0 {
        let s = starts.trailing_zeros() as usize & 63;
        let rest = ends >> s;
        if rest == 0 {
            break;
        }
        let len = rest.trailing_zeros() as usize & 63;
        let e = (s + len) & 63;
        let (first, last) = (chunk[s], chunk[(e - 1) & 63]);
        let noted = if k.mixed >> e & 1 == 0 {
            words::has_shape(len, first, last)
        } else if k.worded >> e & 1 == 0 {
            // Digits alone.
            if chain == 0 {
                chain = starts;
            }
            digits += len;
            if digits >= MIN_DIGITS {
                return chain;
            }
            starts &= starts - 1;
            continue;
        } else if k.cut >> e & 1 == 0 {
            // Letters and bytes beyond ASCII, no digit, no danda: one word.
            if first >= 0x80 {
                let head = [first, chunk[(s + 1) & 63], chunk[(s + 2) & 63]];
                words::has_devanagari_shape(len, head)
            } else {
                // An ASCII word is a digit word only if it ends in a letter.
                last < 0x80 && words::has_shape(len, first, last)
            }
        } else {
            true
        };
        if noted {
            break;
        }
        // A word of nothing, which ends the chain's stretch: too short.
        (chain, digits) = (0, 0);
        starts &= starts - 1;
    }
    if chain != 0 { chain } else { starts }
}

/// Bits at the ends of the runs of a block (see [`Marks::of`]) that hold a
/// digit or a byte beyond ASCII (`mixed`; else ASCII letters only), a
/// letter or a byte beyond ASCII (`worded`; else digits only), a digit or
/// a danda (`cut`; else one word).
struct Runs {
    mixed: u64,
    worded: u64,
    cut: u64,
}

/// A block of 64 bytes of the text, a bit per byte (the lowest bit the
/// first byte) for each class the pass tells apart.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Block {
    /// Letters, digits and bytes beyond ASCII: the bytes of runs.
    run: u64,
    /// ASCII digits.
    digit: u64,
    /// Bytes beyond ASCII.
    high: u64,
    /// `@`, `:` and `.`: the other scanners' signs, few in a message.
    special: u64,
    /// `A5` followed by a byte in `A4..=AF`: the middle byte of a danda or
    /// a Devanagari digit (`E0 A5 A4..AF`), or of a rarer character. A run
    /// with none has no danda or Devanagari digit inside.
    danda_digit: u64,
}

/// What a run holds, as far as [`Marks::settle`] needs to know: a run of
/// ASCII letters holds none of these.
#[derive(Debug, Default, Clone, Copy)]
struct Holds {
    /// A digit or a byte beyond ASCII.
    mixed: bool,
    /// A letter or a byte beyond ASCII.
    worded: bool,
    /// A digit or a danda.
    cut: bool,
}

impl Holds {
    /// These and what the bytes of `k` in `mask` hold.
    fn and(self, k: &Block, mask: u64) -> Holds {
        Holds {
            mixed: self.mixed || k.mixed() & mask != 0,
            worded: self.worded || k.worded() & mask != 0,
            cut: self.cut || k.cut() & mask != 0,
        }
    }
}

impl Block {
    fn mixed(&self) -> u64 {
        self.digit | self.high
    }

    fn worded(&self) -> u64 {
        self.run & !self.digit
    }

    fn cut(&self) -> u64 {
        self.digit | self.danda_digit
    }

    /// The classes of `chunk`'s bytes, sixteen at a time.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[inline(always)]
    fn of(chunk: &[u8; 64]) -> Block {
        // SAFETY: the build targets processors with SSE2 (the `cfg` above:
        // it is part of every x86-64 target's baseline), so the processor
        // running this has the instructions `sse2` uses.
        unsafe { Block::sse2(chunk) }
    }

    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[target_feature(enable = "sse2")]
    #[inline]
    fn sse2(chunk: &[u8; 64]) -> Block {
        use std::arch::x86_64::*;
        let mut k = Block::default();
        let byte = |c: u8| _mm_set1_epi8(c as i8);
        // `v - lo` under `n`, unsigned: shifted by 0x80, a signed compare.
        let within = |v: __m128i, lo: u8, n: u8| {
            _mm_cmplt_epi8(
                _mm_add_epi8(v, byte(0x80u8.wrapping_sub(lo))),
                byte(0x80u8.wrapping_add(n)),
            )
        };
        let mut parts = [_mm_setzero_si128(); 4];
        for (n, part) in chunk.chunks_exact(16).enumerate() {
            // SAFETY: `part` is 16 bytes of `chunk`, all readable, and
            // `_mm_loadu_si128` reads exactly 16 bytes at any alignment.
            let x = unsafe { _mm_loadu_si128(part.as_ptr().cast::<__m128i>()) };
            parts[n] = x;
            let bits = |v: __m128i| u64::from(_mm_movemask_epi8(v) as u16) << (16 * n);
            let alpha = within(_mm_or_si128(x, byte(0x20)), b'a', 26);
            let digit = within(x, b'0', 10);
            k.run |= bits(_mm_or_si128(_mm_or_si128(alpha, digit), x));
            k.digit |= bits(digit);
            k.high |= bits(x);
            k.special |= bits(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(x, byte(b'@')), _mm_cmpeq_epi8(x, byte(b':'))),
                _mm_cmpeq_epi8(x, byte(b'.')),
            ));
        }
        if k.high != 0 {
            let (mut a5, mut a4_af) = (0u64, 0u64);
            for (n, &x) in parts.iter().enumerate() {
                let bits = |v: __m128i| u64::from(_mm_movemask_epi8(v) as u16) << (16 * n);
                a5 |= bits(_mm_cmpeq_epi8(x, byte(0xA5)));
                a4_af |= bits(within(x, 0xA4, 12));
            }
            // An `A5` in the last byte may start one with the next block's
            // first byte: counted as one, which only sends its run the long way.
            k.danda_digit = a5 & ((a4_af >> 1) | 1 << 63);
        }
        k
    }

    /// [`Block::of`] a byte at a time, where there is no SSE2.
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    fn of(chunk: &[u8; 64]) -> Block {
        Block::bytewise(chunk)
    }

    /// The classes a byte at a time: the definition the fast path must
    /// match (tested), and the path of other processors.
    #[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
    fn bytewise(chunk: &[u8; 64]) -> Block {
        let mut k = Block::default();
        for (i, &c) in chunk.iter().enumerate() {
            let bit = 1u64 << i;
            if c.is_ascii_alphabetic() {
                k.run |= bit;
            } else if c.is_ascii_digit() {
                k.run |= bit;
                k.digit |= bit;
            } else if c >= 0x80 {
                k.run |= bit;
                k.high |= bit;
            } else if matches!(c, b'@' | b':' | b'.') {
                k.special |= bit;
            }
            let next = chunk.get(i + 1).is_none_or(|n| (0xA4..=0xAF).contains(n));
            if c == 0xA5 && next {
                k.danda_digit |= bit;
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_through_a_whole_block_passes_on_its_last_byte() {
        // Bytes 3..128 are one run (Devanagari letters, then `99` at 126
        // and 127), so the block of bytes 64..128 has no run start or end:
        // the `.` at 128 still follows a digit, and the address has three.
        let text = format!("x  {}99.2.3.4 ok", "क".repeat(41));
        assert_eq!(&text.as_bytes()[126..129], b"99.");
        assert!(Marks::of(&text).ip());
    }

    #[test]
    fn block_classes_sixteen_at_a_time_are_those_a_byte_at_a_time() {
        // Every byte value at every place, among bytes near the classes'
        // edges, and the Devanagari bytes around a danda.
        let near: [u8; 24] = [
            b'@', b'A', b'Z', b'[', b'`', b'a', b'z', b'{', b'/', b'0', b'9', b':', b'.', b'-',
            0x7F, 0x80, 0xA3, 0xA4, 0xA5, 0xAF, 0xB0, 0xE0, 0xFF, b' ',
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for v in 0..=255u8 {
            for at in 0..64 {
                let mut chunk = [0u8; 64];
                for c in chunk.iter_mut() {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *c = near[(seed % 24) as usize];
                }
                chunk[at] = v;
                assert_eq!(Block::of(&chunk), Block::bytewise(&chunk), "{v:#x} at {at}");
            }
        }
    }
}
