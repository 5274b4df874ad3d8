//! A burst of messages in one request (`convlog ingest` reading a pipe):
//! one reply, one buffer, one write and one fdatasync for the lot, instead
//! of one of each per message.
//!
//! A burst is made ready (redacted, checked, encoded) and then queued. The
//! two steps are also offered apart ([`Session::prepare_many`], then
//! [`Session::append_prepared`]) so that a caller can make several bursts
//! ready on threads of its own, each on the core that parsed it, and still
//! queue them in its own order.

use std::future::Future;
use std::sync::Arc;

use super::encode::Encoding;
use super::{Session, print_echo};
use crate::error::{Error, Result};
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
        self.queue(self.encode_chunk(msgs.into_iter().collect()))
    }

    /// [`Session::append_many`] for a thread that may block: returns once
    /// all are durable, having committed them here if nobody else was.
    pub fn append_many_blocking<I>(&self, msgs: I) -> Result<Vec<Option<u64>>>
    where
        I: IntoIterator<Item = Message>,
    {
        let ready = self.encode_chunk(msgs.into_iter().collect())?;
        self.queue_blocking(ready)
    }

    /// The first half of [`Session::append_many`]: redacts, checks and
    /// encodes the messages, on this thread, without queuing anything. The
    /// result is queued with [`Session::append_prepared`] (or its blocking
    /// form) on this session; until then nothing is written and no seq is
    /// taken, so bursts prepared on several threads keep the order in
    /// which they are queued. One bad message fails the call (and takes no
    /// more from `msgs`). Each message is taken from `msgs` only once the
    /// one before is encoded: an iterator that parses them as it goes keeps
    /// each in cache from its parse to its encoding.
    pub fn prepare_many<I>(&self, msgs: I) -> Result<Prepared>
    where
        I: IntoIterator<Item = Message>,
    {
        let encoded = self.encode_run(msgs, &mut ChunkTime(None))?;
        Ok(Prepared {
            rules: self.inner.enc.clone(),
            encoded,
        })
    }

    /// Queues a burst made ready by [`Session::prepare_many`], now, and
    /// resolves as [`Session::append_many`] does. A burst prepared by
    /// another session is refused: it was encoded under that one's rules.
    pub fn append_prepared(
        &self,
        burst: Prepared,
    ) -> impl Future<Output = Result<Vec<Option<u64>>>> + Send + 'static {
        self.queue(self.own(burst))
    }

    /// [`Session::append_prepared`] for a thread that may block, as
    /// [`Session::append_many_blocking`] is for [`Session::append_many`].
    pub fn append_prepared_blocking(&self, burst: Prepared) -> Result<Vec<Option<u64>>> {
        self.queue_blocking(self.own(burst)?)
    }

    /// The records of `burst`, if this session prepared them.
    fn own(&self, burst: Prepared) -> Result<Encoded> {
        match Arc::ptr_eq(&burst.rules, &self.inner.enc) {
            true => Ok(burst.encoded),
            false => Err(Error::InvalidInput(
                "a burst prepared by another session cannot be appended here".into(),
            )),
        }
    }

    /// Queues encoded records now; the future resolves once they are durable.
    fn queue(
        &self,
        ready: Result<Encoded>,
    ) -> impl Future<Output = Result<Vec<Option<u64>>>> + Send + 'static {
        let queued = ready.and_then(|ready| self.enqueue_many(ready));
        let queued = queued.map(|(slots, queued, echo)| {
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

    /// Commits encoded records here (if nobody else is committing) and
    /// returns once they are durable.
    fn queue_blocking(&self, ready: Encoded) -> Result<Vec<Option<u64>>> {
        let (slots, queued, echo) = self.enqueue_many(ready)?;
        let first = match queued {
            Some((req, rx)) => self.inner.log.commit_blocking(req, rx)?,
            None => 0,
        };
        echo.into_iter().for_each(|e| print_echo(Some(e)));
        Ok(seqs(slots, first))
    }

    /// The request for an encoded chunk. Returns, per message, its index
    /// among the records written (`None` if blank), the request with the
    /// receiver of its first seq (none if all were blank), and what to echo.
    #[allow(clippy::type_complexity)]
    fn enqueue_many(
        &self,
        ready: Encoded,
    ) -> Result<(Vec<Option<usize>>, Option<(Request, Answer)>, Vec<Echo>)> {
        let Encoded {
            fields,
            ends,
            slots,
            echo,
        } = ready;
        self.ready()?;
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
    /// that also encodes (and frees) its own messages leaves no serial tail
    /// behind the scan. Without redaction the rest is too cheap to be worth
    /// a thread. (`convlog ingest` spreads its chunks over threads of its
    /// own with [`Session::prepare_many`] instead.)
    fn encode_chunk(&self, mut msgs: Vec<Message>) -> Result<Encoded> {
        /// Below this, a thread's start costs more than half the scans.
        const SPLIT_FROM: usize = 256;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        // Read before any message is encoded: both halves need it.
        let now = ChunkTime(msgs.iter().any(|m| m.timestamp.is_none()).then(now_rfc3339));
        if self.inner.enc.redact.is_empty() || msgs.len() < SPLIT_FROM || cores < 2 {
            return self.encode_run(msgs, &mut now.clone());
        }
        let mut theirs_now = now.clone();
        let mut back = Some(msgs.split_off(msgs.len() / 2));
        let mut front = Some(msgs);
        let both = std::thread::scope(|scope| {
            let theirs = &mut back;
            let other = std::thread::Builder::new()
                .name("convlog-redact".into())
                .spawn_scoped(scope, move || {
                    self.encode_run(theirs.take().unwrap_or_default(), &mut theirs_now)
                })
                .ok()?;
            let front = self.encode_run(front.take()?, &mut now.clone());
            match other.join() {
                Ok(back) => Some(Encoded::join(front, back)),
                // A panic in a scan would be a bug: not hidden here.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        // No thread to be had: all of it here, in order.
        both.unwrap_or_else(|| {
            let front = self.encode_run(front.unwrap_or_default(), &mut now.clone());
            let back = self.encode_run(back.unwrap_or_default(), &mut now.clone());
            Encoded::join(front, back)
        })
    }

    /// Redacts, checks and encodes a run of messages in order, each freed
    /// once encoded; the first bad one fails the run.
    fn encode_run<I>(&self, msgs: I, now: &mut ChunkTime) -> Result<Encoded>
    where
        I: IntoIterator<Item = Message>,
    {
        let msgs = msgs.into_iter();
        let policy = &self.inner.enc.redact;
        let mut out = Encoded {
            fields: Vec::new(),
            ends: Vec::with_capacity(msgs.size_hint().0),
            slots: Vec::with_capacity(msgs.size_hint().0),
            echo: Vec::new(),
        };
        for mut msg in msgs {
            let audit = if policy.is_empty() {
                Audit::default()
            } else {
                policy.apply(&mut msg)
            };
            if self.skips(&msg) {
                out.slots.push(None);
                continue;
            }
            self.check(&msg)?;
            let ts = match &msg.timestamp {
                Some(ts) => ts.as_str(),
                None => now.get(),
            };
            codec::message_fields_into(&mut out.fields, &msg, ts);
            audit.append_field(&mut out.fields);
            out.slots.push(Some(out.ends.len()));
            out.ends.push(out.fields.len());
            if self.inner.enc.echo {
                out.echo.push((msg.role.tag(), msg.content));
            }
        }
        Ok(out)
    }
}

/// A burst of messages redacted, checked and encoded by
/// [`Session::prepare_many`], waiting to be queued by
/// [`Session::append_prepared`]. It holds only redacted text. Dropped
/// unqueued, it writes nothing.
pub struct Prepared {
    /// The rules it was encoded under: only their session may queue it.
    rules: Arc<Encoding>,
    encoded: Encoded,
}

/// The time given to the messages of a chunk that bring none: one for the
/// whole chunk, read when the first of them is encoded (or before, if set).
#[derive(Clone)]
struct ChunkTime(Option<String>);

impl ChunkTime {
    fn get(&mut self) -> &str {
        self.0.get_or_insert_with(now_rfc3339)
    }
}

/// Records encoded into one buffer: where each ends in it, each message's
/// index among them (`None`: blank, not written), and what to echo.
struct Encoded {
    fields: Vec<u8>,
    ends: Vec<usize>,
    slots: Vec<Option<usize>>,
    echo: Vec<Echo>,
}

impl Encoded {
    /// The records of `front` followed by those of `back`, as if encoded
    /// in one run; the first failure in input order is the one kept.
    fn join(front: Result<Encoded>, back: Result<Encoded>) -> Result<Encoded> {
        let (mut front, back) = (front?, back?);
        let (bytes, records) = (front.fields.len(), front.ends.len());
        front.fields.extend_from_slice(&back.fields);
        front.ends.extend(back.ends.iter().map(|end| end + bytes));
        front
            .slots
            .extend(back.slots.iter().map(|slot| slot.map(|i| i + records)));
        front.echo.extend(back.echo);
        Ok(front)
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
