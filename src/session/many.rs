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

    /// Encodes a chunk into one buffer. Returns, per message, its index among
    /// the records written (`None` if blank), the request with the receiver
    /// of its first seq (none if all were blank), and what to echo.
    #[allow(clippy::type_complexity)]
    fn enqueue_many<I>(
        &self,
        msgs: I,
    ) -> Result<(Vec<Option<usize>>, Option<(Request, Answer)>, Vec<Echo>)>
    where
        I: IntoIterator<Item = Message>,
    {
        let mut msgs: Vec<Message> = msgs.into_iter().collect();
        let audits: Vec<Audit> = self.inner.enc.redact.apply_all(&mut msgs);
        for msg in msgs.iter().filter(|m| !self.skips(m)) {
            self.check(msg)?;
        }
        self.ready()?;
        let mut now: Option<String> = None;
        let mut fields = Vec::new();
        let mut ends = Vec::new();
        let mut slots = Vec::with_capacity(msgs.len());
        for (msg, audit) in msgs.iter().zip(&audits) {
            if self.skips(msg) {
                slots.push(None);
                continue;
            }
            let ts = match &msg.timestamp {
                Some(ts) => ts.as_str(),
                None => now.get_or_insert_with(now_rfc3339).as_str(),
            };
            codec::message_fields_into(&mut fields, msg, ts);
            audit.append_field(&mut fields);
            slots.push(Some(ends.len()));
            ends.push(fields.len());
        }
        let echo = if self.inner.enc.echo {
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
}

/// Each message's seq from the first one's and its index among the records
/// written (`None` stays `None`: blank content wrote nothing).
fn seqs(slots: Vec<Option<usize>>, first: u64) -> Vec<Option<u64>> {
    slots
        .into_iter()
        .map(|slot| slot.map(|i| first + i as u64))
        .collect()
}
