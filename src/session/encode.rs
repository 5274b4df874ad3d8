//! A session's rules for turning an entry into a record's fields (redact,
//! skip blank content, check, encode), kept apart from the handle so that
//! whoever builds a record can apply them: the caller's thread for an
//! append, the committing thread for [`Session::log_deferred`](super::Session::log_deferred).

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::line as codec;
use crate::log::commit::{Echo, LogState, Parts, Request, Rules, lock};
use crate::record::{Entry, Message};
use crate::redact::{Audit, Policy};
use crate::time::{now_into, now_rfc3339, parse_ts};

use super::MAX_CONTENT_LIMIT;

pub(super) struct Encoding {
    pub shared: Arc<LogState>,
    pub max_content_bytes: usize,
    pub echo: bool,
    pub redact: Policy,
    pub keep_blank: bool,
}

impl Encoding {
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Fails fast once the writer is broken, before anything is queued.
    pub fn ready(&self) -> Result<()> {
        match self.shared.poison_cause() {
            Some(cause) => Err(Error::Poisoned {
                path: self.path().to_path_buf(),
                cause,
            }),
            None => Ok(()),
        }
    }

    pub fn check(&self, msg: &Message) -> Result<()> {
        self.check_fields(msg).map_err(|e| e.in_file(self.path()))
    }

    fn check_fields(&self, msg: &Message) -> Result<()> {
        if msg.content.len() > self.max_content_bytes {
            return Err(Error::ContentTooLarge {
                len: msg.content.len(),
                limit: self.max_content_bytes,
            });
        }
        if msg.meta.as_ref().is_some_and(|m| !m.is_object()) {
            return Err(Error::InvalidInput("`meta` must be a JSON object".into()));
        }
        if let Some(ts) = &msg.timestamp {
            parse_ts(ts)?;
        }
        Ok(())
    }

    /// `e` with the session's redaction applied, and what it took out.
    pub fn redacted(&self, mut e: Entry) -> (Entry, Audit) {
        let audit = self.redact.apply_entry(&mut e);
        (e, audit)
    }

    /// Whether `msg` is left unwritten: blank content, as the original
    /// design skipped empty transcripts (unless importing one it kept).
    pub fn skips(&self, msg: &Message) -> bool {
        msg.is_blank() && !self.keep_blank
    }

    /// What to print once `e` is durable: messages only, as the original
    /// design printed them.
    pub fn echo_of(&self, e: Entry) -> Option<Echo> {
        match e {
            Entry::Message(m) if self.echo => Some((m.role.tag(), m.content)),
            _ => None,
        }
    }

    /// A detached append of `e` (redacted, with `audit`), or `None` when
    /// there is nothing to write; a failure is logged through `tracing` and
    /// kept for `last_error`, as [`Session::log`](super::Session::log) says.
    pub fn detached(&self, e: Entry, audit: &Audit) -> Option<Request> {
        match self.prepare(&e, audit) {
            Ok(Some((kind, fields))) => Some(Request::Append {
                kind,
                fields,
                parts: Parts::One,
                reply: None,
                echo: self.echo_of(e),
            }),
            Ok(None) => None,
            Err(e) => {
                self.report(&e);
                None
            }
        }
    }

    /// A detached append's failure: logged through `tracing`, and kept for
    /// `last_error` if it is the first.
    fn report(&self, e: &Error) {
        tracing::error!(target: "convlog", "{e}");
        let mut slot = lock(&self.shared.detached_error);
        if slot.is_none() {
            *slot = Some(e.to_string());
        }
    }

    /// Validates and encodes, so the committer only frames and writes.
    /// Returns `None` for blank content.
    pub fn prepare(&self, e: &Entry, audit: &Audit) -> Result<Option<(codec::Kind, Vec<u8>)>> {
        let (kind, mut fields) = match e {
            Entry::Message(msg) => {
                return Ok(self.prepare_message(msg)?.map(|mut f| {
                    audit.append_field(&mut f);
                    (codec::Kind::Message, f)
                }));
            }
            Entry::Tool(t) => {
                t.check().map_err(|e| e.in_file(self.path()))?;
                self.ready()?;
                let ts = t.timestamp.clone().unwrap_or_else(now_rfc3339);
                (codec::Kind::Tool, codec::tool_fields(t, &ts))
            }
            Entry::Handoff(h) => {
                h.check().map_err(|e| e.in_file(self.path()))?;
                self.ready()?;
                let ts = h.timestamp.clone().unwrap_or_else(now_rfc3339);
                (codec::Kind::Handoff, codec::handoff_fields(h, &ts))
            }
        };
        audit.append_field(&mut fields);
        // `arguments` and `output` are cut; this bounds the other fields,
        // so that every line stays readable.
        if fields.len() > MAX_CONTENT_LIMIT {
            return Err(Error::ContentTooLarge {
                len: fields.len(),
                limit: MAX_CONTENT_LIMIT,
            }
            .in_file(self.path()));
        }
        Ok(Some((kind, fields)))
    }

    fn prepare_message(&self, msg: &Message) -> Result<Option<Vec<u8>>> {
        if self.skips(msg) {
            tracing::debug!(target: "convlog", "skipping a blank {} message", msg.role);
            return Ok(None);
        }
        self.check(msg)?;
        self.ready()?;
        let mut fields = self.shared.buffer();
        match &msg.timestamp {
            Some(ts) => codec::message_fields_into(&mut fields, msg, ts),
            None => {
                let mut now = [0u8; 40];
                codec::message_fields_into(&mut fields, msg, now_into(&mut now));
            }
        }
        Ok(Some(fields))
    }
}

/// What the leader applies to the messages [`Session::log_deferred`](super::Session::log_deferred)
/// queues, once it has built them.
impl Rules for Encoding {
    fn detached(&self, msg: Message) -> Option<Request> {
        let (e, audit) = self.redacted(Entry::Message(msg));
        Encoding::detached(self, e, &audit)
    }

    fn unreadable(&self) {
        self.report(&Error::InvalidInput(
            "a deferred message's bytes do not hold a message; it was not written".into(),
        ));
    }
}
