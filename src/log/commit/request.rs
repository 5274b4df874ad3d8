//! What a handle asks of the commit path: append, end or flush.

use super::reply::Reply;
use crate::line::Kind;

/// What a detached append prints once it is written: the role's tag and the text.
pub(crate) type Echo = (&'static str, String);

pub(crate) enum Request {
    /// Messages whose fields after `seq` are already encoded, back to back
    /// in `fields`. They get consecutive seqs in one write; the reply is the first.
    Append {
        /// The kind of every record in `fields`.
        kind: Kind,
        fields: Vec<u8>,
        parts: Parts,
        reply: Option<Reply>,
        /// Set for a detached append with echo on: the committer prints it
        /// once the record is written, so the console never shows a message
        /// that is not in the log. Awaited appends echo on the caller's side.
        echo: Option<Echo>,
    },
    /// Append the end record. The commit path writes records only: the
    /// session renders the export once this one's seq comes back.
    End { ts: String, reply: Reply },
    /// Resolves once everything queued before it has been handled.
    Flush { reply: Reply },
    /// A detached append whose record is built by the leader, in its place
    /// in the queue (see [`Later`]); `None` once built into nothing to
    /// write.
    Later(Option<Box<dyn Later>>),
}

/// A detached append made on a thread that must not spend time on it (an
/// agent's event loop): that thread fixes the record's place in the log by
/// queueing this, and the leader builds and encodes it, before it assigns
/// the group's seqs.
pub(crate) trait Later: Send {
    /// What the record will weigh against the group's byte budget, roughly.
    fn len_hint(&self) -> usize;
    /// The record as an append with no reply, or `None` when there is
    /// nothing to write (blank content, or a failure it has reported
    /// itself, as a detached append does).
    fn build(self: Box<Self>) -> Option<Request>;
}

/// How an [`Request::Append`]'s `fields` divide into records.
pub(crate) enum Parts {
    /// One record: all of `fields`.
    One,
    /// Several records, ending at these offsets of `fields` (an `append_many`
    /// chunk: one request, one reply and one buffer for the lot, instead of
    /// one of each per message).
    Many(Vec<usize>),
}

/// What a request weighs against the group's byte budget (a header's worth
/// of framing on top of its fields).
pub(super) fn request_len(r: &Request) -> usize {
    match r {
        Request::Append { fields, .. } => fields.len() + 64,
        Request::Later(Some(later)) => later.len_hint() + 64,
        _ => 64,
    }
}
