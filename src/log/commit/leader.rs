//! The queue and its leader: whoever finds nobody committing takes
//! everything queued and commits it as one group (see the module docs of
//! [`commit`](super)), then hands leadership on.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::affinity;
use super::lock;
use super::pool::{Job, commit_promptly, pool, promptly};
use super::reply::Answer;
use super::request::{Request, request_len};
use super::state::LogState;
use super::writer::{CommitOptions, Writer};
use crate::error::Result;
use crate::log::recover::OpenedAt;

/// One open log: its queue and its file. Shared by every handle and by the
/// pool thread leading it, if any.
pub(crate) struct Log {
    pub shared: Arc<LogState>,
    queue: Mutex<Queue>,
    /// Signalled after every group, for blocking callers waiting for their
    /// answer or for their turn to lead.
    turn: Condvar,
    /// Wakes a lingering pool leader (see [`Log::linger`]) for a request
    /// someone waits on; a detached one does not signal it.
    wake_leader: Condvar,
    writer: Mutex<Writer>,
    max_batch_bytes: usize,
}

#[derive(Default)]
struct Queue {
    reqs: VecDeque<Request>,
    /// For each request in `reqs`, whether a blocking caller waits on it
    /// (and so could lead the next group itself).
    blocking: VecDeque<bool>,
    /// How many of `reqs` have a blocking caller.
    blocking_queued: usize,
    /// How many of `reqs` someone waits on (an awaited append, a flush, the
    /// end; every blocking caller's request is one): what a pacing leader
    /// commits at once.
    awaited_queued: usize,
    /// What `reqs` weigh together (see `request_len`).
    bytes: usize,
    /// The pool leader is lingering on an empty queue (see [`Log::linger`]).
    lingering: bool,
    /// Somebody (a caller or a pool thread) is committing, or a pool thread
    /// has been asked to: nobody else may start.
    leading: bool,
}

impl Queue {
    fn push(&mut self, req: Request, blocking: bool) {
        self.bytes += request_len(&req);
        self.awaited_queued += usize::from(awaited(&req));
        self.reqs.push_back(req);
        self.blocking.push_back(blocking);
        self.blocking_queued += usize::from(blocking);
    }

    /// Moves the next group out of the queue: everything queued when it
    /// fits in `max_bytes` (the usual case) into `spare`, by swapping the
    /// whole queue with that empty one, so that the lock producers wait on
    /// is held for a constant time however many requests are queued; else
    /// requests one by one into `batch`, up to `max_bytes` (at least one).
    fn take_group(
        &mut self,
        max_bytes: usize,
        spare: &mut VecDeque<Request>,
        batch: &mut Vec<Request>,
    ) {
        if self.bytes <= max_bytes {
            std::mem::swap(&mut self.reqs, spare);
            self.blocking.clear();
            self.blocking_queued = 0;
            self.awaited_queued = 0;
            self.bytes = 0;
            return;
        }
        let mut bytes = 0;
        while bytes < max_bytes || batch.is_empty() {
            let Some(req) = self.reqs.pop_front() else {
                break;
            };
            if self.blocking.pop_front() == Some(true) {
                self.blocking_queued -= 1;
            }
            self.awaited_queued -= usize::from(awaited(&req));
            let len = request_len(&req);
            self.bytes -= len;
            bytes += len;
            batch.push(req);
        }
    }
}

/// Whether someone waits on `req`'s answer (every request but a detached append).
fn awaited(req: &Request) -> bool {
    !matches!(
        req,
        Request::Append { reply: None, .. } | Request::Later { .. }
    )
}

/// Who is leading: a blocking caller on its own thread, or a pool thread.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leader {
    Caller,
    Pool,
}

/// Sets up an open log. No thread is started: see the module docs.
pub(crate) fn open(
    shared: Arc<LogState>,
    file: File,
    start: OpenedAt,
    cfg: CommitOptions,
) -> Arc<Log> {
    let max_batch_bytes = cfg.max_batch_bytes.max(1);
    Arc::new(Log {
        shared: shared.clone(),
        queue: Mutex::new(Queue::default()),
        turn: Condvar::new(),
        wake_leader: Condvar::new(),
        writer: Mutex::new(Writer::new(shared, file, start, cfg)),
        max_batch_bytes,
    })
}

impl Log {
    /// Queues `req` for an async or detached caller. If nobody is
    /// committing, the log goes to the pool: the caller's thread (maybe a
    /// tokio worker) never waits for the disk.
    pub(crate) fn submit(self: &Arc<Self>, req: Request) {
        let awaited = awaited(&req);
        if !awaited {
            // A caller that never waits: an event loop's `log`.
            affinity::note_caller();
        }
        let mut q = lock(&self.queue);
        q.push(req, false);
        if !q.leading {
            q.leading = true;
            drop(q);
            pool().submit(self.clone());
        } else if q.lingering && awaited {
            self.wake_leader.notify_one();
        }
    }

    /// Queues `req` and waits on this thread for `rx`'s answer, leading the
    /// commit itself whenever nobody else is: a lone caller does the lock,
    /// write and fdatasync here, with no hand-off to another thread.
    pub(crate) fn commit_blocking(self: &Arc<Self>, req: Request, mut rx: Answer) -> Result<u64> {
        let mut q = lock(&self.queue);
        q.push(req, true);
        if q.lingering {
            self.wake_leader.notify_one();
        }
        loop {
            if let Some(result) = rx.try_take() {
                return result;
            }
            if q.leading {
                q = self.turn.wait(q).unwrap_or_else(|e| e.into_inner());
            } else {
                q.leading = true;
                drop(q);
                self.lead(Leader::Caller);
                q = lock(&self.queue);
            }
        }
    }

    /// Waits until everything queued so far is committed, committing it on
    /// this thread if nobody is: what dropping the last handle does.
    pub(crate) fn drain(self: &Arc<Self>) {
        let mut q = lock(&self.queue);
        loop {
            // A lingering leader has committed everything before it.
            if q.lingering && q.reqs.is_empty() {
                return;
            }
            if !q.leading {
                if q.reqs.is_empty() {
                    return;
                }
                q.leading = true;
                drop(q);
                self.lead(Leader::Caller);
                q = lock(&self.queue);
                continue;
            }
            q = self.turn.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Commits groups while `leading` is ours. Returns true once the queue
    /// was found empty and `leading` released; false when it handed
    /// leadership on (to a waiting blocking caller, or to the pool).
    fn lead(self: &Arc<Self>, who: Leader) -> bool {
        let mut w = lock(&self.writer);
        let mut last_commit: Option<Instant> = None;
        loop {
            let mut batch = std::mem::take(&mut w.batch);
            let mut spare = std::mem::take(&mut w.spare_queue);
            let awaited = {
                let mut q = lock(&self.queue);
                if q.reqs.is_empty() {
                    match self.linger(q, who) {
                        Some(found) => q = found,
                        None => {
                            w.batch = batch;
                            w.spare_queue = spare;
                            return true;
                        }
                    }
                }
                if let (Leader::Pool, Some(last)) = (who, last_commit) {
                    q = self.pace(q, last);
                }
                let awaited = q.awaited_queued > 0;
                q.take_group(self.max_batch_bytes, &mut spare, &mut batch);
                awaited
            };
            // Outside the queue's lock: producers are not held up by it.
            if who == Leader::Pool {
                affinity::keep_off_caller();
                commit_promptly(awaited);
            }
            batch.extend(spare.drain(..));
            w.spare_queue = spare;
            build_later(&mut batch, &mut w.used);
            w.handle(&mut batch);
            last_commit = Some(Instant::now());
            w.batch = batch;
            let Writer { shared, used, .. } = &mut *w;
            shared.recycle_buffers(used);
            let q = lock(&self.queue);
            self.turn.notify_all();
            let mut q = if q.reqs.is_empty() {
                match self.linger(q, who) {
                    Some(found) => found,
                    None => return true,
                }
            } else {
                q
            };
            match who {
                // A blocking caller's own request is done (or it leads again
                // from its wait loop); the next group belongs to a caller
                // waiting for it, or, if only async requests wait, to the pool.
                Leader::Caller if q.blocking_queued > 0 => {
                    q.leading = false;
                    return false;
                }
                Leader::Caller => {
                    drop(q);
                    drop(w);
                    pool().submit(self.clone());
                    return false;
                }
                // Back of the pool's line, so one busy log cannot hold a
                // pool thread while other logs wait.
                Leader::Pool if pool().others_waiting() => {
                    drop(q);
                    drop(w);
                    pool().requeue(self.clone());
                    return false;
                }
                Leader::Pool => {}
            }
        }
    }
}

/// How long a pool leader waits on an empty queue for more requests
/// before it gives the log up, and how often it looks meanwhile.
const LINGER: Duration = Duration::from_millis(2);
const LINGER_STEP: Duration = Duration::from_micros(250);

/// The least time a pool leader leaves between one group's commit and the
/// next while only records nobody waits for are queued (`log()`, the
/// recorders: an agent's event loop). Every commit's write and fdatasync
/// complete through the disk's interrupt, which takes 20–40 µs from
/// whatever runs on the CPU it lands on; when that is the event loop's CPU,
/// commits back to back put 1–2% of a burst's events in that tail
/// (`python/bench/loop_cost.py`, LiveKit p99: 40–48 µs back to back, 13–15
/// µs paced at 2 ms, no better at 5 ms). The price: such a record is
/// durable up to this much later. Anyone who waits (an append, a flush,
/// the end, a blocking caller) ends the pause at once.
const PACE: Duration = Duration::from_millis(2);

impl Log {
    /// Paces a pool leader's groups of records nobody waits for: the next
    /// group waits until [`PACE`] has passed since the last commit, unless
    /// someone comes to wait on a request (and signals `wake_leader`) or
    /// another log waits for a pool thread.
    fn pace<'a>(&'a self, mut q: MutexGuard<'a, Queue>, last: Instant) -> MutexGuard<'a, Queue> {
        let until = last + PACE;
        while q.awaited_queued == 0 {
            let now = Instant::now();
            if now >= until || pool().others_waiting() {
                break;
            }
            q = self.wait_lingering(q, until - now);
        }
        q
    }

    /// Waits on `wake_leader` for up to `dur` with `lingering` set, so that
    /// an awaited request or a blocking caller ends the wait (see
    /// [`Log::linger`]).
    fn wait_lingering<'a>(
        &'a self,
        mut q: MutexGuard<'a, Queue>,
        dur: Duration,
    ) -> MutexGuard<'a, Queue> {
        q.lingering = true;
        q = self
            .wake_leader
            .wait_timeout(q, dur)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
        q.lingering = false;
        q
    }

    /// The queue `q` is empty after a group. A caller leading for itself
    /// gives `leading` up at once. A pool leader first lingers for up to
    /// [`LINGER`], looking at the queue every [`LINGER_STEP`] on its own
    /// timer, or at once when an awaited request or a blocking caller
    /// signals `wake_leader`: so that a detached `log()` made meanwhile (a
    /// burst of messages, streamed fragments) finds `leading` set and
    /// queues its record without waking a thread. Waking a parked thread
    /// is a `futex` call, and on a virtual machine an inter-processor
    /// interrupt, that cost the agent's event loop tens of microseconds on
    /// about one message in forty in `python/bench/loop_cost.py`. Returns
    /// the queue with requests in it, or `None` once `leading` is released.
    fn linger<'a>(
        &'a self,
        mut q: MutexGuard<'a, Queue>,
        who: Leader,
    ) -> Option<MutexGuard<'a, Queue>> {
        if who == Leader::Pool {
            if promptly() {
                // Batched again before it waits (outside the lock: a call),
                // so that a `log()` it wakes for never preempts its caller.
                drop(q);
                commit_promptly(false);
                q = lock(&self.queue);
            }
            let deadline = Instant::now() + LINGER;
            while q.reqs.is_empty() {
                let now = Instant::now();
                if now >= deadline || pool().others_waiting() {
                    break;
                }
                q = self.wait_lingering(q, (deadline - now).min(LINGER_STEP));
            }
            if !q.reqs.is_empty() {
                return Some(q);
            }
        }
        q.leading = false;
        self.turn.notify_all();
        None
    }
}

/// Builds the group's [`Request::Later`] records in their places, on the
/// leader's thread and outside the queue's lock, before the writer assigns
/// their seqs: so they take their place in the log as they did in the
/// queue. Their callers' bytes go to `used`, to be recycled.
fn build_later(batch: &mut [Request], used: &mut Vec<Vec<u8>>) {
    for req in batch.iter_mut() {
        if let Request::Later {
            bytes,
            build,
            rules,
        } = req
        {
            let msg = build(bytes);
            used.push(std::mem::take(bytes));
            let built = match msg {
                Some(msg) => rules.detached(msg),
                None => {
                    rules.unreadable();
                    None
                }
            };
            if let Some(built) = built {
                *req = built;
            }
        }
    }
}

impl Job for Log {
    fn lead_from_pool(self: Arc<Self>) {
        self.lead(Leader::Pool);
    }
}
