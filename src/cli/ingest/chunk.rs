//! A chunk of `ingest`'s input, from raw lines to records ready to queue:
//! parsed, checked, redacted and encoded in one go on one thread, so that
//! each message is made, read and freed on the core that parsed it.
//!
//! Nothing here queues anything: the reading thread queues chunks in input
//! order (see the [parent module](super)), whichever thread prepared them.

use convlog::{Error, Message, Prepared, Result, Session};

/// Raw input lines, as read, with their input line numbers.
#[derive(Default)]
pub(super) struct Raw {
    /// The input line number of the first line.
    first: u64,
    /// The lines, one after the other, newlines included.
    bytes: Vec<u8>,
    /// Where each line ends in `bytes`.
    ends: Vec<usize>,
}

impl Raw {
    /// An empty chunk whose first line will be input line `first`.
    pub(super) fn starting(mut self, first: u64) -> Raw {
        self.first = first;
        self.bytes.clear();
        self.ends.clear();
        self
    }

    /// The input line number of the line after the last one read.
    pub(super) fn first_after(&self) -> u64 {
        self.first + self.ends.len() as u64
    }

    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Where the next line is read to; [`Raw::line_read`] then marks its end.
    pub(super) fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    pub(super) fn line_read(&mut self) {
        self.ends.push(self.bytes.len());
    }

    /// Splits off the first `n` lines as a chunk of their own.
    pub(super) fn split_front(&mut self, n: usize, spare: Raw) -> Raw {
        let n = n.min(self.len());
        let cut = n.checked_sub(1).map_or(0, |i| self.ends[i]);
        let mut front = spare.starting(self.first);
        front.bytes.extend_from_slice(&self.bytes[..cut]);
        front.ends.extend_from_slice(&self.ends[..n]);
        self.bytes.drain(..cut);
        self.ends.drain(..n);
        self.ends.iter_mut().for_each(|end| *end -= cut);
        self.first += n as u64;
        front
    }

    fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        (self.first..)
            .zip(starts.zip(self.ends.iter().copied()))
            .map(|(n, (start, end))| (n, &self.bytes[start..end]))
    }
}

/// What became of a line that is not written.
pub(super) enum Note {
    /// It is not a valid message: why, with any value it quotes redacted.
    Rejected(String),
    /// Its content is blank.
    Blank,
}

/// A chunk prepared: the input line number of each message in it, the
/// notes on the lines left out (in input order), and its records, or why
/// they could not be made (a message that outgrew the size limit once
/// redacted, say). `spare` is the raw chunk's buffer, emptied, for reuse.
pub(super) struct Done {
    pub lines: Vec<u64>,
    pub notes: Vec<(u64, Note)>,
    pub records: Result<Prepared>,
    pub spare: Raw,
}

/// Parses, checks, redacts and encodes a chunk, each message encoded as
/// soon as it is parsed (while it is still in cache). If a message fails
/// once redacted, the lines after it are not looked at: nothing of the
/// chunk, or after it, will be written.
pub(super) fn prepare(session: &Session, raw: Raw) -> Done {
    let mut lines = Vec::with_capacity(raw.len());
    let mut notes = Vec::new();
    let records = {
        let (mut parsed, lines, notes) = (raw.lines(), &mut lines, &mut notes);
        session.prepare_many(std::iter::from_fn(move || {
            for (n, line) in parsed.by_ref() {
                match parse_line(session, line) {
                    Ok(Some(msg)) if msg.is_blank() => notes.push((n, Note::Blank)),
                    Ok(Some(msg)) => {
                        lines.push(n);
                        return Some(msg);
                    }
                    Ok(None) => {}
                    Err(e) => notes.push((n, Note::Rejected(rejection(session, e)))),
                }
            }
            None
        }))
    };
    Done {
        lines,
        notes,
        records,
        spare: raw.starting(0),
    }
}

/// Why a line was rejected, fit to print after its line number.
fn rejection(session: &Session, e: Error) -> String {
    // The caller names the log; do not name it twice.
    let e = match e {
        Error::Rejected { source, .. } => *source,
        e => e,
    };
    // A parse error can quote the line's values: redacted too, by the
    // log's own policy as well as the one asked for.
    let e = e.to_string();
    session.redaction().redact(&e).map_or(e, |r| r.text)
}

/// One input line as a checked message, `None` for an empty line. Blank
/// content passes: the caller skips it, as the original design did.
fn parse_line(session: &Session, line: &[u8]) -> Result<Option<Message>> {
    let text = line.trim_ascii();
    if text.is_empty() {
        return Ok(None);
    }
    let msg = Message::from_json(text)?;
    session.check(&msg)?;
    Ok(Some(msg))
}
