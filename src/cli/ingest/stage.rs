//! The second half of `ingest`'s pipeline: a thread that hands parsed
//! chunks to [`Session::append_many`] (which redacts, checks, encodes and
//! queues them) while the reading thread parses the next chunk.
//!
//! Without it, parsing and redaction run one after the other on one thread
//! and the second core sits idle but for the commit thread, which mostly
//! waits on the disk: redaction costs about as much as everything else
//! ingest does, so `--redact` nearly halved ingest's speed. The pipeline
//! lives here, not in `append_many`, because only a caller that keeps
//! feeding chunks has a next chunk to overlap with; a library caller of
//! `append_many` gets its documented behaviour unchanged.
//!
//! Order is kept by construction: one stage thread takes chunks first in,
//! first out, queues each one before it takes the next, and hands back each
//! chunk's future in the same order. A chunk that fails before it is queued
//! (a message that outgrows the size limit once redacted, a broken writer)
//! stops the stage: no later chunk is queued, so the log never holds lines
//! from after a chunk that is not in it.

use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::task::{Context, Poll, Waker};
use std::thread::{Scope, ScopedJoinHandle};

use convlog::{Error, Message, Result, Session};

use super::{Commit, Pending};

/// Chunks parsed and waiting for the stage: one, so the reader is at most
/// one chunk ahead of the redaction (more would only hold memory; the
/// commit pipeline behind the stage has its own bound).
const WAITING: usize = 1;

/// A parsed chunk: its input line numbers and its messages.
type Chunk = (Vec<u64>, Vec<Message>);

/// The reading thread's end of the stage.
pub(super) struct Stage<'scope> {
    to: Option<SyncSender<Chunk>>,
    /// Each chunk's future, in order, and whether it failed before it was
    /// queued (the last the stage sends, if so).
    from: Receiver<(Pending, bool)>,
    thread: Option<ScopedJoinHandle<'scope, ()>>,
    /// Chunks sent whose futures have not come back yet.
    in_flight: usize,
    /// A chunk failed before it was queued, and the stage stopped.
    failed: bool,
}

impl<'scope> Stage<'scope> {
    /// Starts the stage thread; `None` if no thread can be had (the caller
    /// then queues chunks itself, as a one-thread ingest would).
    pub(super) fn spawn<'env>(
        scope: &'scope Scope<'scope, 'env>,
        session: &'scope Session,
    ) -> Option<Stage<'scope>> {
        let (to, chunks) = mpsc::sync_channel::<Chunk>(WAITING);
        let (done, from) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("convlog-ingest-stage".into())
            .spawn_scoped(scope, move || {
                for (lines, msgs) in chunks {
                    // Queued now, in the order chunks arrive. A chunk that
                    // fails its checks has failed already: looked at once,
                    // so that nothing after it is queued.
                    let mut fut: Commit = Box::pin(session.append_many(msgs));
                    let mut failed = false;
                    if let Poll::Ready(r) =
                        fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
                    {
                        failed = r.is_err();
                        fut = Box::pin(std::future::ready(r));
                    }
                    if done.send(((lines, fut), failed)).is_err() || failed {
                        return;
                    }
                }
            })
            .ok()?;
        Some(Stage {
            to: Some(to),
            from,
            thread: Some(thread),
            in_flight: 0,
            failed: false,
        })
    }

    /// Chunks handed over whose futures the reader has not taken back.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// True once a chunk has failed before it was queued: its future (in
    /// order among those taken back) holds the error, and nothing more may
    /// be queued, here or by the reader.
    pub(super) fn failed(&self) -> bool {
        self.failed
    }

    /// Hands a chunk over; waits while the stage is still busy with the
    /// one before, which is what bounds the reader's lead. A stage that
    /// stopped after a failure drops the chunk unqueued ([`Stage::failed`]
    /// says so once its futures are taken back).
    pub(super) fn send(&mut self, lines: Vec<u64>, msgs: Vec<Message>) {
        let sent = self.to.as_ref().map(|to| to.send((lines, msgs)));
        match sent {
            Some(Ok(())) => self.in_flight += 1,
            _ => self.to = None,
        }
    }

    /// The oldest chunk's future if the stage has queued it (or, with
    /// `wait`, once it has); `None` when nothing is in flight.
    pub(super) fn take(&mut self, wait: bool) -> Result<Option<Pending>> {
        if self.in_flight == 0 {
            return Ok(None);
        }
        let got = if wait {
            self.from.recv().ok()
        } else {
            match self.from.try_recv() {
                Ok(p) => Some(p),
                Err(TryRecvError::Empty) => return Ok(None),
                Err(TryRecvError::Disconnected) => None,
            }
        };
        match got {
            Some((p, failed)) => {
                self.in_flight -= 1;
                self.failed |= failed;
                Ok(Some(p))
            }
            // After a failure, the chunks still in flight were dropped
            // unqueued, as the stage promises.
            None if self.failed => {
                self.in_flight = 0;
                Ok(None)
            }
            None => Err(self.stopped()),
        }
    }

    /// The stage hung up with chunks in flight and no failure. It only
    /// stops early by panicking (a bug): that panic is shown, not hidden.
    fn stopped(&mut self) -> Error {
        self.to = None;
        if let Some(thread) = self.thread.take()
            && let Err(panic) = thread.join()
        {
            std::panic::resume_unwind(panic);
        }
        Error::Internal("the ingest stage stopped with chunks in flight".into())
    }
}
