//! A burst of messages in one request (`convlog ingest` reading a pipe):
//! one reply, one buffer, one write and one fdatasync for the lot, instead
//! of one of each per message.

use std::future::Future;

use super::{Session, print_echo};
use crate::error::Result;
use crate::line as codec;
use crate::log::commit::{Answer, Echo, Parts, Request, reply_pair};
use crate::record::Message;
use crate::redact::Audit;
use crate::time::now_rfc3339;

impl Session {
    /// Appends several messages in one request and resolves once all are
    /// durable, with each one's seq (`None` where the content was blank), in
    /// order. They get consecutive seqs and share one write, one fdatasync
    /// and one timestamp where none is given: the way to feed a burst (such
    /// as `convlog ingest` reading a pipe) without a round trip per message.
    ///
    /// Every message is checked before any is queued; one bad message fails
    /// the call and writes nothing. Like [`Session::append`], the records are
    /// queued when this is called, and dropping the future does not cancel them.
    pub fn append_many<I>(
        &self,
        msgs: I,
    ) -> impl Future<Output = Result<Vec<Option<u64>>>> + Send + 'static
    where
        I: IntoIterator<Item = Message>,
    {
        let queued = self.enqueue_many(msgs).map(|(slots, queued, echo)| {
            let rx = queued.map(|(req, rx)| {
                self.inner.log.submit(req);
                rx
            });
            (slots, rx, echo)
        });
        async move {
            let (slots, rx, echo) = queued?;
            let first = match rx {
                Some(rx) => rx.await?,
                None => 0,
            };
            echo.into_iter().for_each(|e| print_echo(Some(e)));
            Ok(seqs(slots, first))
        }
    }

    /// [`Session::append_many`] for a thread that may block: returns once
    /// all are durable, having committed them here if nobody else was.
    pub fn append_many_blocking<I>(&self, msgs: I) -> Result<Vec<Option<u64>>>
    where
        I: IntoIterator<Item = Message>,
    {
        let (slots, queued, echo) = self.enqueue_many(msgs)?;
        let first = match queued {
            Some((req, rx)) => self.inner.log.commit_blocking(req, rx)?,
            None => 0,
        };
        echo.into_iter().for_each(|e| print_echo(Some(e)));
        Ok(seqs(slots, first))
    }

    /// Redacts, checks and encodes a chunk into one buffer. Returns, per
    /// message, its index among the records written (`None` if blank), the
    /// request with the receiver of its first seq (none if all were
    /// blank), and what to echo.
    #[allow(clippy::type_complexity)]
    fn enqueue_many<I>(
        &self,
        msgs: I,
    ) -> Result<(Vec<Option<usize>>, Option<(Request, Answer)>, Vec<Echo>)>
    where
        I: IntoIterator<Item = Message>,
    {
        let mut msgs: Vec<Message> = msgs.into_iter().collect();
        // One timestamp for every message that brings none.
        let now = msgs
            .iter()
            .any(|m| m.timestamp.is_none())
            .then(now_rfc3339)
            .unwrap_or_default();
        let Encoded {
            fields,
            ends,
            slots,
        } = self.encode_chunk(&mut msgs, &now)?;
        self.ready()?;
        let echo = if self.inner.echo {
            msgs.into_iter()
                .filter(|m| !self.skips(m))
                .map(|m| (m.role.tag(), m.content))
                .collect()
        } else {
            Vec::new()
        };
        if ends.is_empty() {
            return Ok((slots, None, echo));
        }
        let (tx, rx) = reply_pair(&self.inner.log.shared.slots);
        let req = Request::Append {
            kind: codec::Kind::Message,
            fields,
            parts: Parts::Many(ends),
            reply: Some(tx),
            echo: None,
        };
        Ok((slots, Some((req, rx)), echo))
    }

    /// [`Session::encode_run`] over the whole chunk, in two halves on two
    /// threads when it is redacted, big and a second core exists: the scan
    /// costs about as much as everything else a message costs, and a half
    /// that also encodes its own records leaves no serial tail behind the
    /// scan (so `convlog ingest`, parsing the next chunk meanwhile, keeps
    /// both cores busy). Without redaction the encoding alone is too cheap
    /// to be worth a thread.
    fn encode_chunk(&self, msgs: &mut [Message], now: &str) -> Result<Encoded> {
        /// Below this, a thread's start costs more than half the scans.
        const SPLIT_FROM: usize = 256;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if self.inner.redact.is_empty() || msgs.len() < SPLIT_FROM || cores < 2 {
            return self.encode_run(msgs, now);
        }
        let half = msgs.len() / 2;
        let both = std::thread::scope(|scope| {
            let (front, back) = msgs.split_at_mut(half);
            let other = std::thread::Builder::new()
                .name("convlog-redact".into())
                .spawn_scoped(scope, move || self.encode_run(back, now))
                .ok()?;
            let front = self.encode_run(front, now);
            let back = match other.join() {
                Ok(back) => back,
                // A panic in a scan would be a bug: not hidden here.
                Err(panic) => std::panic::resume_unwind(panic),
            };
            // The first bad message in input order is the one reported.
            Some(front.and_then(|f| Ok(f.then(back?))))
        });
        // No thread to be had: all of it here.
        both.unwrap_or_else(|| self.encode_run(msgs, now))
    }

    /// Redacts, checks and encodes a run of messages in order; the first
    /// bad one fails the run.
    fn encode_run(&self, msgs: &mut [Message], now: &str) -> Result<Encoded> {
        let policy = &self.inner.redact;
        let mut out = Encoded {
            fields: Vec::new(),
            ends: Vec::with_capacity(msgs.len()),
            slots: Vec::with_capacity(msgs.len()),
        };
        for msg in msgs {
            let audit = if policy.is_empty() {
                Audit::default()
            } else {
                policy.apply(msg)
            };
            if self.skips(msg) {
                out.slots.push(None);
                continue;
            }
            self.check(msg)?;
            let ts = msg.timestamp.as_deref().unwrap_or(now);
            codec::message_fields_into(&mut out.fields, msg, ts);
            audit.append_field(&mut out.fields);
            out.slots.push(Some(out.ends.len()));
            out.ends.push(out.fields.len());
        }
        Ok(out)
    }
}

/// Records encoded into one buffer: where each ends in it, and each
/// message's index among them (`None`: blank, not written).
struct Encoded {
    fields: Vec<u8>,
    ends: Vec<usize>,
    slots: Vec<Option<usize>>,
}

impl Encoded {
    /// These records followed by `rest`'s, as if encoded in one run.
    fn then(mut self, rest: Encoded) -> Encoded {
        let (bytes, records) = (self.fields.len(), self.ends.len());
        self.fields.extend_from_slice(&rest.fields);
        self.ends.extend(rest.ends.iter().map(|end| end + bytes));
        self.slots
            .extend(rest.slots.iter().map(|slot| slot.map(|i| i + records)));
        self
    }
}

/// Each message's seq from the first one's and its index among the records
/// written (`None` stays `None`: blank content wrote nothing).
fn seqs(slots: Vec<Option<usize>>, first: u64) -> Vec<Option<u64>> {
    slots
        .into_iter()
        .map(|slot| slot.map(|i| first + i as u64))
        .collect()
}
