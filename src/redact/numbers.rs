//! Numbers, written or spoken: cards, phones, SSNs, Aadhaar numbers and
//! other long runs of spoken digits.
//!
//! Speech-to-text writes one number many ways: `4111 1111 1111 1111`,
//! `4111-1111-…`, `four one one one …`, `नौ आठ सात …`, `4 1 1 1 …`, or a mix.
//! So the scanner does not match patterns on the text: it reads *tokens*
//! (a group of digits, or a digit word), joins neighbours separated only by
//! spaces, dashes, dots or commas into a *run*, and checks the digits of
//! each stretch of a run as a number: Luhn for a card, Verhoeff for an
//! Aadhaar number, the numbering plans for a phone. A spoken card number
//! is a card; a long spoken number that is none of these is `spoken_digits`.

use super::checksum::{luhn, verhoeff};
use super::shapes::{card_groups, dotted_phone, is_phone, phone_groups, prefix_apart, ssn_valid};
use super::words::{self, Word, is_danda, word_end};
use super::{Hit, Kind, Policy};

/// The longest number any kind checks (a card); longer stretches are split.
const MAX_DIGITS: usize = 19;
/// Fewer digits than this are never personal data on their own.
pub(super) const MIN_DIGITS: usize = 6;

/// One group of digits or one digit word.
#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    /// Its digits, `digits[d0..d1]` of the scan's buffer (ASCII).
    d0: usize,
    d1: usize,
    /// A digit word rather than written digits.
    spoken: bool,
    /// `+` or `(` right before it (part of a phone number), else 0.
    lead: u8,
    /// What separated it from the token before: b' ', b'-', b'.', b')' or 0.
    sep: u8,
}

impl Tok {
    fn len(&self) -> usize {
        self.d1 - self.d0
    }
}

struct Scan<'a> {
    text: &'a str,
    policy: &'a Policy,
    /// Spans earlier scanners found (an IP, an IBAN, an email): not numbers.
    claimed: usize,
    digits: Vec<u8>,
    run: Vec<Tok>,
}

thread_local! {
    /// The buffers of the last scan on this thread, kept so that a scan
    /// allocates nothing once warm.
    static SCRATCH: std::cell::Cell<(Vec<u8>, Vec<Tok>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// Finds the numbers in `text`. While no number is under way it reads
/// only from one of `tokens` to the next (the shared pass's list: the
/// starts of digit groups and digit words that may make a number, in
/// order): the text between them holds none.
pub(super) fn find(text: &str, tokens: &[usize], policy: &Policy, hits: &mut Vec<Hit>) {
    let (digits, run) = SCRATCH.take();
    let mut s = Scan {
        text,
        policy,
        claimed: hits.len(),
        digits,
        run,
    };
    scan(&mut s, tokens, hits);
    let (mut digits, mut run) = (s.digits, s.run);
    digits.clear();
    run.clear();
    if digits.capacity() <= 4096 {
        SCRATCH.set((digits, run));
    }
}

fn scan(s: &mut Scan<'_>, tokens: &[usize], hits: &mut Vec<Hit>) {
    let text = s.text;
    let b = text.as_bytes();
    let mut i = 0;
    // Where the text since the last token began, and a pending "double".
    let mut gap = 0;
    let mut repeat: Option<(usize, u8)> = None;
    let mut next = tokens.iter();
    while i < b.len() {
        if s.run.is_empty() && repeat.is_none() {
            // No number under way: on to the next token that may start
            // one. (`gap` matters only to a token joining a run.)
            match next.find(|&&t| t >= i) {
                Some(&t) => i = t,
                None => break,
            }
        }
        let c = b[i];
        let digit = if c < 0x80 {
            c.is_ascii_digit()
        } else {
            words::devanagari_digit(b, i).is_some()
        };
        if digit {
            let start = i;
            let d0 = s.digits.len();
            while i < b.len() {
                if b[i].is_ascii_digit() {
                    s.digits.push(b[i]);
                    i += 1;
                } else if let Some(v) = words::devanagari_digit(b, i) {
                    s.digits.push(b'0' + v);
                    i += 3;
                } else {
                    break;
                }
            }
            // "A320", or "ORD-2025": a code, not a number.
            let glued_left = match start.checked_sub(1).map(|p| b[p]) {
                Some(c) if c.is_ascii_alphabetic() => true,
                Some(b'-' | b'_' | b'/' | b'#') => start >= 2 && b[start - 2].is_ascii_alphabetic(),
                _ => false,
            };
            let glued_right = i < b.len() && b[i].is_ascii_alphabetic();
            if glued_left
                || glued_right
                || s.digits.len() - d0 > MAX_DIGITS
                || repeat.is_some()
                || s.is_claimed(hits, start, i)
            {
                // Part of a word ("A320", "3rd"), too long, or already found.
                s.digits.truncate(d0);
                s.flush(hits);
                repeat = None;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                gap = i;
                continue;
            }
            let tok = Tok {
                start,
                end: i,
                d0,
                d1: s.digits.len(),
                spoken: false,
                lead: lead(b, start),
                sep: 0,
            };
            s.push(hits, tok, b.get(gap..start).unwrap_or_default());
            gap = i;
        } else if c.is_ascii_alphabetic() || (c >= 0x80 && !is_danda(b, i)) {
            let start = i;
            i = word_end(b, i);
            match words::lookup(&b[start..i]) {
                Some(Word::Digit(d)) if !s.is_claimed(hits, start, i) => {
                    let (from, times) = repeat.take().unwrap_or((start, 1));
                    let d0 = s.digits.len();
                    s.digits
                        .extend(std::iter::repeat_n(b'0' + d, usize::from(times)));
                    let tok = Tok {
                        start: from,
                        end: i,
                        d0,
                        d1: s.digits.len(),
                        spoken: true,
                        lead: 0,
                        sep: 0,
                    };
                    s.push(hits, tok, b.get(gap..from).unwrap_or_default());
                }
                Some(Word::Repeat(n)) if repeat.is_none() => {
                    // The gap before "double" is the gap before its digits.
                    repeat = Some((start, n));
                    continue;
                }
                _ => {
                    if !s.run.is_empty() {
                        s.flush(hits);
                    }
                    repeat = None;
                }
            }
            gap = i;
        } else {
            // Past what is neither a digit nor a word, as one byte at a
            // time would go (nothing here changes the scan's state).
            i += 1;
            while b
                .get(i)
                .is_some_and(|&c| c < 0x80 && !c.is_ascii_alphanumeric())
            {
                i += 1;
            }
        }
    }
    s.flush(hits);
}

impl Scan<'_> {
    fn is_claimed(&self, hits: &[Hit], start: usize, end: usize) -> bool {
        hits[..self.claimed]
            .iter()
            .any(|h| h.start < end && start < h.end)
    }

    /// Adds `tok` to the current run if `gap` joins it to the last token,
    /// else checks the run and starts a new one.
    fn push(&mut self, hits: &mut Vec<Hit>, mut tok: Tok, gap: &[u8]) {
        if let Some(prev) = self.run.last() {
            match joins(gap, prev.spoken || tok.spoken) {
                Some(sep) => tok.sep = sep,
                None => self.flush(hits),
            }
        }
        self.run.push(tok);
    }

    /// Checks the run: first every stretch that is a number of a known
    /// kind (longest first), then what is left as spoken digits.
    fn flush(&mut self, hits: &mut Vec<Hit>) {
        if self.run.is_empty() {
            return;
        }
        let run = std::mem::take(&mut self.run);
        let total: usize = run.iter().map(Tok::len).sum();
        if total >= MIN_DIGITS {
            self.check_run(&run, total, hits);
        }
        self.run = run;
        self.run.clear();
        if self.digits.len() > 4096 {
            self.digits.clear();
        }
    }

    fn check_run(&self, run: &[Tok], total: usize, hits: &mut Vec<Hit>) {
        if !loose(run) {
            return self.check_written(run, hits);
        }
        if total < 8 {
            // No stretch of it is long enough for a kind below (`fits`).
            return self.leftover(run, hits);
        }
        let mut i = 0;
        // Where the stretch not yet matched began.
        let mut rest = 0;
        let mut ends = [0usize; MAX_DIGITS];
        while i < run.len() {
            // The stretches from `i` whose length some kind has (all need
            // eight digits or more), longest first.
            let mut m = 0;
            let mut count = 0;
            let fits = |n: usize| n >= 9 || (n == 8 && run[i].lead == b'+');
            for (j, t) in run.iter().enumerate().skip(i) {
                count += t.len();
                if count > MAX_DIGITS {
                    break;
                }
                if fits(count) {
                    ends[m] = j;
                    m += 1;
                }
            }
            let found = ends[..m]
                .iter()
                .rev()
                .find_map(|&j| self.classify(&run[i..=j]).map(|k| (j, k)));
            match found {
                Some((j, kind)) => {
                    self.leftover(&run[rest..i], hits);
                    hits.push(self.hit(&run[i..=j], kind));
                    i = j + 1;
                    rest = i;
                }
                None => i += 1,
            }
        }
        self.leftover(&run[rest..], hits);
    }

    /// Typed numbers keep their grouping: `4130 3716 5545 6979` is one
    /// number (failing Luhn, it is no card), never an Aadhaar number in its
    /// first twelve digits. A run splits only between two long groups, as
    /// in a list of phone numbers.
    fn check_written(&self, run: &[Tok], hits: &mut Vec<Hit>) {
        let mut from = 0;
        for i in 1..=run.len() {
            let split = i == run.len()
                || (run[i].sep == b' ' && run[i - 1].len() >= 6 && run[i].len() >= 6);
            if split {
                let seg = &run[from..i];
                if let Some(kind) = self.classify(seg) {
                    hits.push(self.hit(seg, kind));
                }
                from = i;
            }
        }
    }

    /// A stretch no kind claimed: spoken digits if it is long and spoken,
    /// in pieces where a pause ends one ([`pauses`]).
    fn leftover(&self, toks: &[Tok], hits: &mut Vec<Hit>) {
        if toks.is_empty() || !self.policy.has(Kind::SpokenDigits) {
            return;
        }
        let mut from = 0;
        for to in pauses(toks).chain([toks.len()]) {
            let piece = &toks[from..to];
            let n: usize = piece.iter().map(Tok::len).sum();
            if n >= MIN_DIGITS && loose(piece) {
                hits.push(self.hit(piece, Kind::SpokenDigits));
            }
            from = to;
        }
    }

    fn hit(&self, toks: &[Tok], kind: Kind) -> Hit {
        let first = toks[0];
        let start = first.start - usize::from(first.lead != 0);
        // Only a keyed token needs the digits: it hashes them, so one
        // number written or spoken gets one token.
        let digits = self.policy.is_keyed().then(|| {
            toks.iter()
                .flat_map(|t| &self.digits[t.d0..t.d1])
                .map(|&d| char::from(d))
                .collect()
        });
        Hit {
            start,
            end: toks[toks.len() - 1].end,
            kind: Some(kind),
            digits,
        }
    }

    /// The kind of number these tokens spell, if any the policy asks for.
    fn classify(&self, toks: &[Tok]) -> Option<Kind> {
        let mut buf = [0u8; MAX_DIGITS];
        let mut n = 0;
        for t in toks {
            for &d in &self.digits[t.d0..t.d1] {
                *buf.get_mut(n)? = d;
                n += 1;
            }
        }
        if n < MIN_DIGITS {
            return None;
        }
        let d = &buf[..n];
        let loose = loose(toks);
        // Each token has a digit or more, and there are MAX_DIGITS at most.
        let mut groups = [0u8; MAX_DIGITS];
        for (g, t) in groups.iter_mut().zip(toks) {
            *g = t.len() as u8;
        }
        let groups = &groups[..toks.len()];
        let first = toks[0];
        let p = self.policy;
        if first.lead == b'+' && p.has(Kind::Phone) && (8..=15).contains(&n) && d[0] != b'0' {
            return Some(Kind::Phone);
        }
        if p.has(Kind::Card)
            && (13..=19).contains(&n)
            && d[0] != b'0'
            && d.iter().any(|&x| x != d[0])
            && luhn(d)
            && (loose || card_groups(groups))
        {
            return Some(Kind::Card);
        }
        if p.has(Kind::Aadhaar)
            && n == 12
            && d[0] >= b'2'
            && verhoeff(d)
            && (loose || groups == [12] || groups == [4, 4, 4])
        {
            return Some(Kind::Aadhaar);
        }
        let dotted = toks[1..].iter().any(|t| t.sep == b'.');
        if p.has(Kind::Phone)
            && is_phone(d)
            && (loose || (phone_groups(groups) && prefix_apart(d, groups)))
            && (loose || !dotted || dotted_phone(groups))
            && !(groups.len() == 1 && first.lead == 0 && self.labelled(first.start))
        {
            return Some(Kind::Phone);
        }
        if p.has(Kind::Ssn)
            && n == 9
            && ssn_valid(d)
            && ((groups == [3, 2, 4] && toks[1..].iter().all(|t| matches!(t.sep, b'-' | b' ')))
                || self.near(first.start, toks[toks.len() - 1].end, SSN_WORDS))
        {
            return Some(Kind::Ssn);
        }
        None
    }

    /// True when the words right before `at` name an identifier that is
    /// not a phone number: "order", "consignment no.", "claim id:", "AWB"
    /// (the last three words, within the clause). Only those: a sentence
    /// that mentions an order earlier ("my order is late, call me on …")
    /// still has a phone in it.
    fn labelled(&self, at: usize) -> bool {
        const LABELS: [&str; 44] = [
            "order",
            "invoice",
            "tracking",
            "booking",
            "ticket",
            "pnr",
            "reference",
            "ref",
            "transaction",
            "txn",
            "utr",
            "shipment",
            "consignment",
            "awb",
            "docket",
            "waybill",
            "lr",
            "parcel",
            "package",
            "policy",
            "claim",
            "case",
            "complaint",
            "application",
            "registration",
            "receipt",
            "bill",
            "challan",
            "folio",
            "serial",
            "member",
            "membership",
            "loyalty",
            "voucher",
            "coupon",
            "request",
            "sr",
            "job",
            "warranty",
            "enquiry",
            "inquiry",
            "batch",
            "cheque",
            "imei",
        ];
        let b = self.text.as_bytes();
        let mut i = at;
        for _ in 0..3 {
            // Back over what may stand between a label and its number.
            while i > 0 && matches!(b[i - 1], b' ' | b':' | b'#' | b'.' | b'-' | b'/') {
                i -= 1;
            }
            let end = i;
            while i > 0 && b[i - 1].is_ascii_alphabetic() {
                i -= 1;
            }
            if i == end {
                return false;
            }
            let word = &b[i..end];
            if LABELS
                .iter()
                .any(|l| word.eq_ignore_ascii_case(l.as_bytes()))
            {
                return true;
            }
        }
        false
    }

    /// True when one of `words` (lowercase ASCII) occurs in the 32 bytes
    /// before `start` or the 24 after `end`.
    fn near(&self, start: usize, end: usize, words: &[&str]) -> bool {
        let t = self.text;
        let mut from = start.saturating_sub(32);
        while !t.is_char_boundary(from) {
            from += 1;
        }
        let mut to = (end + 24).min(t.len());
        while !t.is_char_boundary(to) {
            to -= 1;
        }
        let (before, after) = (&t[from..start], if end < to { &t[end..to] } else { "" });
        let has = |s: &str| {
            let s = s.to_ascii_lowercase();
            words.iter().any(|w| s.contains(w))
        };
        has(before) || (end > start && has(after))
    }
}

const SSN_WORDS: &[&str] = &["ssn", "social security", "social-security"];

/// What may stand between two tokens of one number: a single separator
/// between written groups (`4111 1111`, `555-0100`, `(415) 555`), where
/// a space may be any short run of spaces or tabs (STT and copy-paste
/// double them: `4111  1111`); and for spoken digits any short mix of
/// spaces, commas, dots and dashes ("four, one, one"). A spoken gap with
/// a comma or a dot in it is a pause, `b','`: see [`pauses`].
fn joins(gap: &[u8], spoken: bool) -> Option<u8> {
    if gap == b" " {
        // The usual gap, either way.
        return Some(b' ');
    }
    if spoken {
        let ok = !gap.is_empty()
            && gap.len() <= 4
            && gap.iter().all(|c| matches!(c, b' ' | b',' | b'-' | b'.'));
        let pause = gap.iter().any(|c| matches!(c, b',' | b'.'));
        return ok.then_some(if pause { b',' } else { b' ' });
    }
    let blank = |c: &u8| matches!(c, b' ' | b'\t');
    let lead = gap.iter().take_while(|c| blank(c)).count();
    let trail = gap[lead..].iter().rev().take_while(|c| blank(c)).count();
    let inner = &gap[lead..gap.len() - trail];
    if lead > 3 || trail > 3 {
        return None;
    }
    match (inner, lead, trail) {
        (b"", 1.., _) => Some(b' '),
        (b"-", 1.., 1..) => Some(b' '),
        (b"-", 0, 0) => Some(b'-'),
        (b".", 0, 0) => Some(b'.'),
        (b")", 0, 0..=1) | (b")-", 0, 0) | (b"(", 1, 0) => Some(b')'),
        _ => None,
    }
}

/// Where a run of spoken digits with no check of its own splits: at a
/// pause (a comma or a dot) next to a single digit, in a run whose other
/// gaps are no pauses. A number read out in groups pauses between groups
/// of two or more ("four five six, one two three"), and one read digit by
/// digit pauses after every digit ("four, one, one, one"); a lone digit
/// after a pause is a count going on ("one two three four five, six")
/// or a new clause, not the rest of a number. A checked kind (a card, a
/// phone) is looked for across pauses before this applies.
fn pauses(toks: &[Tok]) -> impl Iterator<Item = usize> + '_ {
    let all_pauses = toks[1..].iter().all(|t| t.sep == b',');
    // The length of the group of plain-joined tokens ending at / starting at i.
    let group = move |mut i: usize, step_back: bool| {
        let mut n = toks[i].len();
        loop {
            let joined = if step_back {
                i > 0 && toks[i].sep == b' '
            } else {
                i + 1 < toks.len() && toks[i + 1].sep == b' '
            };
            if !joined {
                return n;
            }
            i = if step_back { i - 1 } else { i + 1 };
            n += toks[i].len();
        }
    };
    (1..toks.len()).filter(move |&i| {
        !all_pauses && toks[i].sep == b',' && (group(i - 1, true) < 2 || group(i, false) < 2)
    })
}

/// Read out rather than typed: a digit word, or four or more groups of
/// one or two digits ("4 1 1 1", "98 76 54").
fn loose(toks: &[Tok]) -> bool {
    toks.iter().any(|t| t.spoken) || (toks.len() >= 4 && toks.iter().all(|t| t.len() <= 2))
}

fn lead(b: &[u8], start: usize) -> u8 {
    start
        .checked_sub(1)
        .map(|i| b[i])
        .filter(|c| matches!(c, b'+' | b'('))
        .unwrap_or(0)
}
