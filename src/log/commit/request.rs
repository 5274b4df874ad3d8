//! What a handle asks of the commit path: append, end or flush.

use std::sync::Arc;

use super::reply::Reply;
use crate::line::Kind;
use crate::record::Message;

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
    /// A detached append whose record the leader builds, in its place in
    /// the queue: `build` makes the message from `bytes` (what the caller
    /// wrote, in its own form) and `rules` checks and encodes it. Left
    /// as it is, it writes nothing. See `Session::log_deferred`.
    Later {
        bytes: Vec<u8>,
        build: Build,
        rules: Arc<dyn Rules>,
    },
}

/// Makes a message from the bytes a caller wrote for it; `None` if they
/// do not hold one.
pub(crate) type Build = fn(&[u8]) -> Option<Message>;

/// How a log's session turns a message into a detached append: redact,
/// skip blank content, check, encode; a failure is reported, as for any
/// detached append, and gives `None`.
pub(crate) trait Rules: Send + Sync {
    fn detached(&self, msg: Message) -> Option<Request>;
    /// Reports bytes its [`Build`] could not make a message of.
    fn unreadable(&self);
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
        Request::Later { bytes, .. } => bytes.len() + 64,
        _ => 64,
    }
}
