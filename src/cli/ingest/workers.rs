//! The threads that prepare `ingest`'s chunks when it redacts: each takes
//! whole chunks of raw lines and parses, checks, redacts and encodes them
//! ([`chunk::prepare`]), while the reading thread reads the next and
//! queues the prepared ones in input order.
//!
//! Redaction costs about as much as everything else ingest does, so on one
//! thread `--redact` nearly halves ingest's speed. An earlier pipeline
//! parsed on the reading thread and redacted on others: every message then
//! crossed cores (allocated on one thread, read and freed on another) and
//! three busy threads shared two cores. Here a message lives on one thread
//! from its raw line to its encoded bytes; what crosses is a chunk's raw
//! bytes one way and its records the other.
//!
//! Order is kept by construction: the reader hands chunks to the workers in
//! turn and takes each result back from the worker it went to, oldest
//! first, so it sees them in input order and queues each before the next.
//! A chunk that failed is seen in its place, before anything after it is
//! queued, so the log never holds lines from after a chunk not in it.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::{Scope, ScopedJoinHandle};

use convlog::{Error, Result, Session};

use super::chunk::{self, Done, Raw};

/// The most workers: the reader and the commit thread need a little room.
const MAX_WORKERS: usize = 4;

struct Worker<'scope> {
    /// Holds one chunk waiting while the worker prepares another: enough to
    /// keep it busy, and what bounds the reader's lead.
    to: SyncSender<Raw>,
    from: Receiver<Done>,
    thread: Option<ScopedJoinHandle<'scope, ()>>,
}

/// The reading thread's end of the workers.
pub(super) struct Workers<'scope> {
    workers: Vec<Worker<'scope>>,
    /// Which worker holds each chunk handed over and not taken back, oldest
    /// first.
    order: VecDeque<usize>,
    /// The worker the next chunk goes to.
    next: usize,
}

impl<'scope> Workers<'scope> {
    /// One worker per core, up to [`MAX_WORKERS`]; `None` on one core, or
    /// if no thread can be had (the caller then prepares chunks itself).
    pub(super) fn spawn<'env>(
        scope: &'scope Scope<'scope, 'env>,
        session: &'scope Session,
    ) -> Option<Workers<'scope>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if cores < 2 {
            return None;
        }
        let mut workers = Vec::new();
        for i in 0..cores.min(MAX_WORKERS) {
            let (to, raws) = mpsc::sync_channel::<Raw>(1);
            let (done, from) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name(format!("convlog-ingest-{i}"))
                .spawn_scoped(scope, move || {
                    for raw in raws {
                        if done.send(chunk::prepare(session, raw)).is_err() {
                            return;
                        }
                    }
                });
            match spawned {
                Ok(thread) => workers.push(Worker {
                    to,
                    from,
                    thread: Some(thread),
                }),
                Err(_) => break,
            }
        }
        // One worker would only move the work off this thread.
        (workers.len() >= 2).then_some(Workers {
            workers,
            order: VecDeque::new(),
            next: 0,
        })
    }

    /// Chunks handed over and not taken back.
    pub(super) fn in_flight(&self) -> usize {
        self.order.len()
    }

    /// Hands a chunk to the next worker in turn; waits while that worker
    /// already has one waiting.
    pub(super) fn send(&mut self, raw: Raw) -> Result<()> {
        let i = self.next;
        self.next = (i + 1) % self.workers.len();
        match self.workers[i].to.send(raw) {
            Ok(()) => {
                self.order.push_back(i);
                Ok(())
            }
            Err(_) => Err(self.stopped(i)),
        }
    }

    /// The oldest chunk handed over, once prepared: `None` if none is in
    /// flight or (without `wait`) it is not ready yet.
    pub(super) fn take(&mut self, wait: bool) -> Result<Option<Done>> {
        let Some(&i) = self.order.front() else {
            return Ok(None);
        };
        let from = &self.workers[i].from;
        let got = match wait {
            true => from.recv().ok(),
            false => match from.try_recv() {
                Ok(done) => Some(done),
                Err(TryRecvError::Empty) => return Ok(None),
                Err(TryRecvError::Disconnected) => None,
            },
        };
        match got {
            Some(done) => {
                self.order.pop_front();
                Ok(Some(done))
            }
            None => Err(self.stopped(i)),
        }
    }

    /// Worker `i` hung up: it only stops early by panicking (a bug), and
    /// that panic is shown, not hidden.
    fn stopped(&mut self, i: usize) -> Error {
        if let Some(thread) = self.workers[i].thread.take()
            && let Err(panic) = thread.join()
        {
            std::panic::resume_unwind(panic);
        }
        Error::Internal("an ingest worker stopped with chunks in flight".into())
    }
}
