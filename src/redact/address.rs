//! Addresses around an `@`: email (`name@example.com`) and UPI ids
//! (`name@okicici`, a handle with no dot), plus emails as speech-to-text
//! spells them out ("john dot smith at gmail dot com").

use memchr::{memchr_iter, memmem};

use super::scan::Marks;
use super::{Hit, Kind, Policy};

/// Finds the addresses in `text`: around each `@` the shared pass saw
/// (or a search finds, if it saw more than it keeps), and spelled out
/// around each word `at` it saw.
pub(super) fn find(text: &str, marks: &Marks, policy: &Policy, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    let email = policy.has(Kind::Email);
    match marks.at_signs() {
        Some(ats) => around_at(b, ats.iter().copied(), policy, hits),
        None => around_at(b, memchr_iter(b'@', b), policy, hits),
    }
    if email {
        /// Built once: a finder's setup costs more than a search of a message.
        static AT: std::sync::LazyLock<memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memmem::Finder::new(b" at "));
        match marks.spoken_at() {
            Some(ats) => spoken(text, ats, hits),
            // More than the shared pass kept: searched for here.
            None => spoken(text, AT.find_iter(b), hits),
        }
    }
}

/// The email or UPI id around each `@` at `ats` (in order) in `b`.
fn around_at(b: &[u8], ats: impl Iterator<Item = usize>, policy: &Policy, hits: &mut Vec<Hit>) {
    let (email, upi) = (policy.has(Kind::Email), policy.has(Kind::Upi));
    let mut after = 0;
    for at in ats {
        if at < after {
            continue;
        }
        let mut s = at;
        while s > 0 && is_local(b[s - 1]) {
            s -= 1;
        }
        while s < at && matches!(b[s], b'.' | b'-' | b'+' | b'_') {
            s += 1;
        }
        let mut e = at + 1;
        while e < b.len() && (b[e].is_ascii_alphanumeric() || matches!(b[e], b'.' | b'-')) {
            e += 1;
        }
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if s == at || e == at + 1 {
            continue;
        }
        let domain = &b[at + 1..e];
        let kind = if domain.contains(&b'.') {
            (email && is_domain(domain)).then_some(Kind::Email)
        } else {
            let handle_ok = (2..=24).contains(&domain.len())
                && domain.iter().all(u8::is_ascii_alphabetic)
                && at - s >= 2;
            (upi && handle_ok).then_some(Kind::Upi)
        };
        if let Some(kind) = kind {
            hits.push(Hit {
                start: s,
                end: e,
                kind: Some(kind),
                digits: None,
            });
            after = e;
        }
    }
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Labels of letters, digits and inner dashes, ending in an alphabetic TLD.
fn is_domain(d: &[u8]) -> bool {
    let mut labels = d.split(|&c| c == b'.');
    let tld_ok = d
        .rsplit(|&c| c == b'.')
        .next()
        .is_some_and(|t| t.len() >= 2 && t.iter().all(u8::is_ascii_alphabetic));
    tld_ok
        && labels.all(|l| !l.is_empty() && l[0] != b'-' && l[l.len() - 1] != b'-' && l.len() <= 63)
}

/// Top-level domains a spelled-out address may end in: a known one keeps
/// "meet me at the mall dot com" from looking like an address.
const TLDS: [&str; 16] = [
    "com", "in", "org", "net", "co", "io", "edu", "gov", "uk", "us", "ai", "info", "biz", "me",
    "de", "app",
];

/// `LOCAL at DOMAIN dot TLD`, each part a word, with `dot`, `underscore`
/// or `dash` joining words of the local part and the domain.
/// `ats`: where ` at ` stands in `text`, as `memmem` finds it.
fn spoken(text: &str, ats: impl Iterator<Item = usize>, hits: &mut Vec<Hit>) {
    let b = text.as_bytes();
    for at in ats {
        let Some(end) = spoken_domain(b, at + 4) else {
            continue;
        };
        let Some(start) = spoken_local(b, at) else {
            continue;
        };
        if hits.iter().any(|h| h.start < end && start < h.end) {
            continue;
        }
        hits.push(Hit {
            start,
            end,
            kind: Some(Kind::Email),
            digits: None,
        });
    }
}

fn word_at(b: &[u8], i: usize) -> usize {
    let mut e = i;
    while e < b.len() && b[e].is_ascii_alphanumeric() {
        e += 1;
    }
    e
}

/// The end of `word (dot word)+` whose last word is a known TLD.
fn spoken_domain(b: &[u8], i: usize) -> Option<usize> {
    let mut e = word_at(b, i);
    if e == i {
        return None;
    }
    let mut end = None;
    loop {
        let rest = &b[e..];
        let next = if rest.starts_with(b" dot ") {
            e + 5
        } else if rest.starts_with(b".") {
            e + 1
        } else {
            break;
        };
        let w = word_at(b, next);
        if w == next {
            break;
        }
        let label = std::str::from_utf8(&b[next..w])
            .unwrap_or("")
            .to_ascii_lowercase();
        if TLDS.contains(&label.as_str()) {
            end = Some(w);
        }
        e = w;
    }
    end.filter(|&e| e == b.len() || !b[e].is_ascii_alphanumeric())
}

/// The start of `word ((dot|underscore|dash) word)*` ending at `at`.
fn spoken_local(b: &[u8], at: usize) -> Option<usize> {
    let back = |end: usize| {
        let mut s = end;
        while s > 0 && (b[s - 1].is_ascii_alphanumeric() || matches!(b[s - 1], b'.' | b'_')) {
            s -= 1;
        }
        s
    };
    let mut s = back(at);
    if s == at {
        return None;
    }
    loop {
        const JOINS: [&[u8]; 3] = [b" dot ", b" underscore ", b" dash "];
        let joined = JOINS.iter().find(|j| b[..s].ends_with(j));
        let Some(j) = joined else { break };
        let w = back(s - j.len());
        if w == s - j.len() {
            break;
        }
        s = w;
    }
    Some(s)
}
