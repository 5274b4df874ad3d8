//! Redaction: personal data found in a message's text and replaced before
//! the text is encoded, so the raw value never reaches the disk, the
//! console echo, a `.broken` file or an error message.
//!
//! One small scanner per family of data, each a hand-written pass over the
//! bytes rather than a regular expression: a regex cannot check a Luhn or
//! Verhoeff digit, read "four one one one" as a number, or stay within a
//! few microseconds for a 200-byte message with every kind on.
//!
//! - `address`: `email`, `upi` (around an `@`, and spelled-out emails);
//! - `ids`: `iban` (mod-97), `pan`;
//! - `ip`: `ip` (IPv4, IPv6);
//! - `numbers`: `card` (Luhn), `phone`, `ssn`, `aadhaar` (Verhoeff) and
//!   `spoken_digits`, written or spoken (`words`: the digit words;
//!   `shapes`: how each kind's numbers are grouped).
//!
//! ```
//! use convlog::redact::{Kind, Policy};
//! let policy = Policy::parse("card,email")?;
//! let out = policy.redact("it's four one one one, 1111 1111 1111; mail a@b.in").unwrap();
//! assert_eq!(out.text, "it's [CARD]; mail [EMAIL]");
//! assert_eq!((out.audit.get(Kind::Card), out.audit.get(Kind::Email)), (1, 1));
//! # Ok::<(), convlog::Error>(())
//! ```

mod address;
mod audit;
mod checksum;
mod ids;
mod ip;
mod keyed;
mod numbers;
mod scan;
mod shapes;
mod words;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

pub use audit::Audit;

use crate::error::{Error, Result};
use crate::record::StoredPolicy;

/// A kind of personal data convlog finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Kind {
    /// `name@example.com`, also spelled out ("name at example dot com").
    Email,
    /// E.164 (`+44 20 7946 0958`), North American, Indian mobile.
    Phone,
    /// Payment card: 13–19 digits, spaced or dashed, Luhn-checked.
    Card,
    /// International bank account number, mod-97-checked.
    Iban,
    /// US Social Security number (`123-45-6789`).
    Ssn,
    /// Indian Aadhaar: 12 digits, Verhoeff-checked.
    Aadhaar,
    /// Indian Permanent Account Number (`ABCPE1234F`).
    Pan,
    /// UPI id (`name@okicici`).
    Upi,
    /// IPv4 or IPv6 address.
    Ip,
    /// A run of six or more spoken digits ("four five six one two three",
    /// "नौ आठ सात …") that is none of the kinds above.
    SpokenDigits,
}

impl Kind {
    /// Every kind, in the order lists and audits name them.
    pub const ALL: [Kind; 10] = [
        Kind::Email,
        Kind::Phone,
        Kind::Card,
        Kind::Iban,
        Kind::Ssn,
        Kind::Aadhaar,
        Kind::Pan,
        Kind::Upi,
        Kind::Ip,
        Kind::SpokenDigits,
    ];

    /// The kind's name, as `--redact` and the audit field spell it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Card => "card",
            Kind::Iban => "iban",
            Kind::Ssn => "ssn",
            Kind::Aadhaar => "aadhaar",
            Kind::Pan => "pan",
            Kind::Upi => "upi",
            Kind::Ip => "ip",
            Kind::SpokenDigits => "spoken_digits",
        }
    }

    /// The replacement's label: the name in capitals (`CARD`).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Email => "EMAIL",
            Kind::Phone => "PHONE",
            Kind::Card => "CARD",
            Kind::Iban => "IBAN",
            Kind::Ssn => "SSN",
            Kind::Aadhaar => "AADHAAR",
            Kind::Pan => "PAN",
            Kind::Upi => "UPI",
            Kind::Ip => "IP",
            Kind::SpokenDigits => "SPOKEN_DIGITS",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which kinds to redact, and how to write the replacement.
///
/// The default replacement is the kind's label, `[CARD]`. With a key
/// ([`Policy::key_file`]) it is keyed: `[CARD:8c1f2a]`, the same token for
/// the same value under the same key, never reversible.
#[derive(Clone, Default, PartialEq)]
pub struct Policy {
    kinds: u16,
    key: Option<Arc<keyed::Key>>,
}

impl PartialEq for keyed::Key {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Policy {
    /// Redacts nothing.
    pub fn none() -> Policy {
        Policy::default()
    }

    /// Every kind.
    pub fn all() -> Policy {
        Policy::of(Kind::ALL)
    }

    /// These kinds.
    pub fn of(kinds: impl IntoIterator<Item = Kind>) -> Policy {
        Policy {
            kinds: kinds.into_iter().fold(0, |acc, k| acc | k.bit()),
            key: None,
        }
    }

    /// Kinds named comma-separated (`"email,card"`), or `"all"`. An unknown
    /// name is an error that lists the kinds; an empty list redacts nothing.
    pub fn parse(list: &str) -> Result<Policy> {
        let mut kinds = 0;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            kinds |= match name {
                "all" => Policy::all().kinds,
                _ => match Kind::from_name(name) {
                    Some(k) => k.bit(),
                    None => {
                        return Err(Error::InvalidInput(format!(
                            "unknown redaction kind {name:?}: the kinds are {}, or all",
                            Kind::ALL.map(Kind::name).join(", ")
                        )));
                    }
                },
            };
        }
        Ok(Policy { kinds, key: None })
    }

    /// Switches to keyed replacements with the key in `path`, read now:
    /// a missing, unreadable or too short key file fails here, when the
    /// session is set up, never while a message is written.
    pub fn key_file(mut self, path: impl AsRef<Path>) -> Result<Policy> {
        self.key = Some(Arc::new(keyed::Key::read(path.as_ref())?));
        Ok(self)
    }

    /// Keyed replacements with `key` itself (at least 16 bytes).
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Result<Policy> {
        let key = keyed::Key::new(key.into())
            .map_err(|why| Error::InvalidInput(format!("the redaction key {why}")))?;
        self.key = Some(Arc::new(key));
        Ok(self)
    }

    /// True when no kind is on.
    pub fn is_empty(&self) -> bool {
        self.kinds == 0
    }

    /// True when replacements are keyed.
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// True when `kind` is on.
    pub fn has(&self, kind: Kind) -> bool {
        self.kinds & kind.bit() != 0
    }

    /// The kinds that are on.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL.into_iter().filter(|&k| self.has(k))
    }

    /// The header field that makes every later writer of a log apply this
    /// policy; `None` for a policy that redacts nothing. Kinds are listed by
    /// name, never as `all`, and the key itself is never written.
    pub fn to_stored(&self) -> Option<StoredPolicy> {
        (!self.is_empty()).then(|| StoredPolicy {
            kinds: self.kinds().map(|k| k.name().to_string()).collect(),
            keyed: self.is_keyed(),
        })
    }

    /// This policy widened by the policy of the log at `path` (its
    /// header's `redact`): the kinds of both, so a writer never redacts
    /// less than the log asks. A log whose replacements are keyed needs this
    /// policy to carry the key: without it, its tokens would not match the
    /// log's, so it is an [`Error::Policy`] (before anything is written). A
    /// kind this build does not know is one too, rather than a kind left in
    /// the clear.
    pub fn for_log(mut self, log: &StoredPolicy, path: &Path) -> Result<Policy> {
        let refuse = |reason: String| Error::Policy {
            path: path.to_path_buf(),
            reason,
        };
        for name in &log.kinds {
            match Kind::from_name(name) {
                Some(k) => self.kinds |= k.bit(),
                None => {
                    return Err(refuse(format!(
                        "it is redacted of {name:?}, a kind this build of convlog does not know; upgrade convlog to write to it"
                    )));
                }
            }
        }
        if log.keyed && !self.is_keyed() {
            return Err(refuse(format!(
                "it is redacted ({}) with keyed tokens; give its key (--redact KINDS --redact-key FILE, or redact_key= in Python) to write to it",
                log.kinds.join(",")
            )));
        }
        Ok(self)
    }

    /// True when text redacted by `stored` is redacted as this policy asks:
    /// every kind of this one is in it, keyed if this one is. (A key is
    /// never stored, so two keys are not told apart.)
    pub fn is_covered_by(&self, stored: Option<&StoredPolicy>) -> bool {
        if self.is_empty() {
            return true;
        }
        let Some(stored) = stored else { return false };
        self.kinds()
            .all(|k| stored.kinds.iter().any(|n| n == k.name()))
            && (stored.keyed || !self.is_keyed())
    }

    /// Where the personal data in `text` is, in order, without overlaps.
    pub fn find(&self, text: &str) -> Vec<Span> {
        self.hits(text)
            .into_iter()
            .filter_map(|h| {
                Some(Span {
                    start: h.start,
                    end: h.end,
                    kind: h.kind?,
                })
            })
            .collect()
    }

    /// `text` with each value replaced, and what was replaced; `None` when
    /// nothing was found (the common case, which allocates nothing).
    pub fn redact(&self, text: &str) -> Option<Redacted> {
        let hits = self.hits(text);
        if hits.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut audit = Audit::default();
        let mut at = 0;
        for h in &hits {
            let Some(kind) = h.kind else { continue };
            out.push_str(&text[at..h.start]);
            out.push('[');
            out.push_str(kind.label());
            if let Some(key) = &self.key {
                let value = match &h.digits {
                    Some(d) => d.clone(),
                    None => normalise(kind, &text[h.start..h.end]),
                };
                let token = key.token(kind.name(), &value);
                out.push(':');
                out.extend(token.iter().map(|&c| char::from(c)));
            }
            out.push(']');
            audit.add(kind, 1);
            at = h.end;
        }
        out.push_str(&text[at..]);
        Some(Redacted { text: out, audit })
    }

    /// Redacts `msg.content` in place and says what it took out. Only the
    /// content: `source`, `turn`, `speaker` and `lang` are the producer's
    /// labels, and `meta` is the caller's own structured data.
    pub fn apply(&self, msg: &mut crate::record::Message) -> Audit {
        match self.redact(&msg.content) {
            Some(r) => {
                msg.content = r.text;
                r.audit
            }
            None => Audit::default(),
        }
    }

    /// Redacts a record in place: a message's content, or a tool call's
    /// arguments and output (a handoff carries only agent names).
    pub fn apply_entry(&self, e: &mut crate::record::Entry) -> Audit {
        use crate::record::Entry;
        let mut audit = Audit::default();
        if self.is_empty() {
            return audit;
        }
        match e {
            Entry::Message(m) => audit = self.apply(m),
            Entry::Tool(t) => {
                for text in std::iter::once(&mut t.arguments).chain(t.output.as_mut()) {
                    if let Some(r) = self.redact(text) {
                        *text = r.text;
                        audit.merge(&r.audit);
                    }
                }
            }
            Entry::Handoff(_) => {}
        }
        audit
    }

    fn hits(&self, text: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        if self.kinds == 0 || text.is_empty() {
            return hits;
        }
        const NUMBERS: [Kind; 5] = [
            Kind::Phone,
            Kind::Card,
            Kind::Ssn,
            Kind::Aadhaar,
            Kind::SpokenDigits,
        ];
        let numbers = NUMBERS.iter().any(|&k| self.has(k));
        // One pass over the bytes says which scanners have work, and where.
        // Without the number scanner, which needs its token list, the
        // others' own quick searches cost less than the pass.
        let marks = if numbers {
            scan::Marks::of(text)
        } else {
            scan::Marks::unknown()
        };
        if self.has(Kind::Email) || self.has(Kind::Upi) {
            address::find(text, &marks, self, &mut hits);
        }
        if (self.has(Kind::Iban) || self.has(Kind::Pan)) && marks.letter_digit {
            ids::find(text, self, &mut hits);
        }
        if self.has(Kind::Ip) && marks.ip() {
            ip::find(text, &mut hits);
        }
        if numbers && !marks.tokens.is_empty() {
            numbers::find(text, &marks.tokens, self, &mut hits);
        }
        hits.retain(|h| h.kind.is_some());
        if hits.len() > 1 {
            hits.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
            let mut end = 0;
            hits.retain(|h| {
                let keep = h.start >= end;
                if keep {
                    end = h.end;
                }
                keep
            });
        }
        hits
    }
}

/// The policy to write with to a log whose header is damaged (its
/// checksum fails, or it does not parse), so its `redact` field cannot be
/// trusted. The first line is read again as plain JSON: if the field still
/// parses, it is applied as an intact header's would be. If the line shows
/// a policy that cannot be read (`"redact"`, or version 2, which only a
/// header with a policy has), writing without one could put raw values in
/// a log that promised redaction: the writer must name its own (`--redact
/// all`, with the key if the line says `keyed`), else it is an
/// [`Error::Policy`]. A line with no sign of a policy changes nothing.
pub(crate) fn for_damaged_header(asked: Policy, path: &Path) -> Result<Policy> {
    use std::io::{BufRead, Read};
    let file = crate::fs::open_read(path)?;
    let mut line = Vec::new();
    std::io::BufReader::new(file)
        .take(1 << 20)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::io(path, "read", e))?;
    #[derive(serde::Deserialize)]
    struct Head {
        redact: Option<StoredPolicy>,
    }
    if let Ok(Head { redact: Some(p) }) = serde_json::from_slice::<Head>(&line) {
        return asked.for_log(&p, path);
    }
    let has = |s: &[u8]| line.windows(s.len()).any(|w| w == s);
    if !has(b"\"redact\"") && !has(b"\"version\":2") {
        return Ok(asked);
    }
    let refuse = |reason: &str| Error::Policy {
        path: path.to_path_buf(),
        reason: format!(
            "its header is damaged and names a redaction policy that cannot be read; {reason}"
        ),
    };
    if asked.is_empty() {
        return Err(refuse(
            "give one to write to it (--redact all, or redact=\"all\" in Python), or repair it",
        ));
    }
    if has(b"\"keyed\"") && !asked.is_keyed() {
        return Err(refuse(
            "its tokens are keyed: give the key too (--redact-key FILE)",
        ));
    }
    Ok(asked)
}

/// The form a keyed token hashes, so that one value written two ways gets
/// one token: digits only for numbers, lowercase addresses, ids without spaces.
fn normalise(kind: Kind, raw: &str) -> String {
    match kind {
        Kind::Email | Kind::Upi => raw
            .to_lowercase()
            .replace(" at ", "@")
            .replace(" dot ", ".")
            .replace(" underscore ", "_")
            .replace(" dash ", "-"),
        Kind::Iban | Kind::Pan => raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase(),
        _ => raw.to_lowercase(),
    }
}

/// The kinds, comma-separated, or `all`.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kinds == Policy::all().kinds {
            return f.write_str("all");
        }
        let names: Vec<&str> = self.kinds().map(Kind::name).collect();
        f.write_str(&names.join(","))
    }
}

/// Never shows the key.
impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Policy({self}{})",
            if self.is_keyed() { ", keyed" } else { "" }
        )
    }
}

impl FromStr for Policy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Policy> {
        Policy::parse(s)
    }
}

/// Where one value was found: `text[start..end]` is a `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// What it is.
    pub kind: Kind,
}

/// A redacted text and what was taken out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text with each value replaced by `[KIND]` or `[KIND:token]`.
    pub text: String,
    /// How many values of each kind were replaced.
    pub audit: Audit,
}

/// A scanner's finding. Numbers keep their digits, so a keyed token is the
/// same whether the value was written or spoken. A finding of no kind is a
/// shape that failed its check (an IBAN with a wrong check digit): nothing
/// to redact, but no later scanner reads its digits as a phone or a card.
#[derive(Debug)]
struct Hit {
    start: usize,
    end: usize,
    kind: Option<Kind>,
    digits: Option<String>,
}
