//! The commit path: batching, the file lock, the tail check, write and sync.
//!
//! No thread belongs to a log. Requests go into the log's queue, and whoever
//! finds nobody committing becomes the *leader* (RocksDB's `WriteThread`,
//! LevelDB's writer queue): it takes everything queued, assigns seqs under
//! the exclusive lock, and does one `write` and one `fdatasync` for the whole
//! group (group commit). Requests queued meanwhile form the next group.
//!
//! Who leads depends on the caller. A blocking caller (the CLI, a Python
//! binding with the GIL released) leads on its own thread, so a lone caller
//! pays no hand-off at all; a blocking caller that finds a commit in flight
//! waits for it and then either has its answer or leads the next group. An
//! async caller must never hold a tokio worker through `fdatasync`, so when
//! it finds nobody committing it hands the log to a small process-wide pool
//! (one hand-off there, one completion back). The pool is bounded, so a process
//! with thousands of open logs has a few dozen writing threads, and different
//! logs' fdatasyncs still overlap on the disk.
//!
//! Seqs are assigned under the lock and not by callers because several
//! processes may append to one file: only there is the true last seq known.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::line::{self as codec, Kind};
use crate::log::recover::{self, OpenedAt};
use crate::read::scan::{DamageKind, Position};
use crate::record::Record;

#[cfg(feature = "__test_hooks")]
pub use hooks::{IoHooks, RealIo};
#[cfg(not(feature = "__test_hooks"))]
pub(crate) use hooks::{IoHooks, RealIo};

/// Public only with the hidden `__test_hooks` feature, which convlog's own
/// tests and benches turn on: a seam for injected faults is not an API.
mod hooks {
    use std::fs::File;
    use std::io;

    /// The seam through which the writer touches the disk, so tests can inject a
    /// failed or short write or a failed fdatasync without faking the whole file.
    ///
    /// The default methods are the real calls. An implementation that fails must
    /// return the error; the writer then poisons itself and never calls `sync` again.
    pub trait IoHooks: Send + Sync + 'static {
        /// Writes the whole batch at the end of the file.
        fn write_all(&self, file: &mut File, buf: &[u8]) -> io::Result<()> {
            io::Write::write_all(file, buf)
        }
        /// Makes the written batch durable (`fdatasync` on Linux).
        fn sync_data(&self, file: &File) -> io::Result<()> {
            file.sync_data()
        }
    }

    /// The real disk.
    #[derive(Debug, Default)]
    pub struct RealIo;
    impl IoHooks for RealIo {}
}

/// Where the committer puts a waiting caller's answer: the record's seq
/// (0 for a flush). One per awaited request, recycled through
/// [`LogState::spare_slots`], so the hot path allocates none.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    result: Option<Result<u64>>,
    /// The committer dropped the request without answering (cannot happen
    /// short of a panic in the commit path).
    gone: bool,
    waker: Option<Waker>,
}

/// The committer's end of a [`Slot`].
pub(crate) struct Reply {
    slot: Option<Arc<Slot>>,
    shared: Arc<LogState>,
}

impl Reply {
    fn send(mut self, result: Result<u64>) {
        if let Some(slot) = self.slot.take() {
            let waker = {
                let mut st = lock(&slot.state);
                st.result = Some(result);
                st.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            self.shared.recycle_slot(slot);
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            let waker = {
                let mut st = lock(&slot.state);
                st.gone = true;
                st.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
            self.shared.recycle_slot(slot);
        }
    }
}

/// The caller's end of a [`Slot`]: a future of the answer, which also
/// serves blocking callers through [`Answer::try_take`].
pub(crate) struct Answer {
    slot: Option<Arc<Slot>>,
    shared: Arc<LogState>,
}

impl Answer {
    /// The answer if it has come.
    fn try_take(&mut self) -> Option<Result<u64>> {
        let slot = self.slot.as_ref()?;
        let taken = {
            let mut st = lock(&slot.state);
            match st.result.take() {
                Some(r) => Some(r),
                None if st.gone => Some(Err(Error::WriterGone {
                    path: self.shared.path.clone(),
                })),
                None => None,
            }
        };
        if taken.is_some()
            && let Some(slot) = self.slot.take()
        {
            self.shared.recycle_slot(slot);
        }
        taken
    }
}

impl Future for Answer {
    type Output = Result<u64>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<u64>> {
        if let Some(r) = self.try_take() {
            return Poll::Ready(r);
        }
        let Some(slot) = self.slot.as_ref() else {
            return Poll::Ready(Err(Error::WriterGone {
                path: self.shared.path.clone(),
            }));
        };
        let mut st = lock(&slot.state);
        // Checked again under the lock the committer takes to answer, so a
        // wake-up cannot fall between the check and storing the waker.
        if st.result.is_some() || st.gone {
            drop(st);
            return match self.try_take() {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            };
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.shared.recycle_slot(slot);
        }
    }
}

/// A fresh pair of ends for one awaited request.
pub(crate) fn reply_pair(shared: &Arc<LogState>) -> (Reply, Answer) {
    let slot = lock(&shared.spare_slots).pop().unwrap_or_else(|| {
        Arc::new(Slot {
            state: Mutex::new(SlotState::default()),
        })
    });
    (
        Reply {
            slot: Some(slot.clone()),
            shared: shared.clone(),
        },
        Answer {
            slot: Some(slot),
            shared: shared.clone(),
        },
    )
}

/// Spare slots and buffers kept per log; beyond these, they are freed.
const SPARES: usize = 64;
/// A field buffer larger than this is freed rather than kept.
const SPARE_BUF_MAX: usize = 64 << 10;

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

/// State shared between the handles and whoever commits.
pub(crate) struct LogState {
    pub path: PathBuf,
    /// The first failure of a request nobody awaited, for [`Session::last_error`](crate::Session::last_error).
    pub detached_error: Mutex<Option<String>>,
    /// Set once the writer is broken; read by callers to fail fast.
    pub poisoned: Mutex<Option<String>>,
    /// Answer slots whose two ends are both gone, for the next requests.
    pub spare_slots: Mutex<Vec<Arc<Slot>>>,
    /// Field buffers the committer is done with, for the next appends to
    /// encode into.
    pub spare_bufs: Mutex<Vec<Vec<u8>>>,
}

impl LogState {
    pub fn new(path: PathBuf) -> LogState {
        LogState {
            path,
            detached_error: Mutex::default(),
            poisoned: Mutex::default(),
            spare_slots: Mutex::default(),
            spare_bufs: Mutex::default(),
        }
    }

    pub fn poison_cause(&self) -> Option<String> {
        lock(&self.poisoned).clone()
    }

    /// Keeps `slot` for reuse once neither end holds it. Of two ends
    /// dropping at once, at most one sees itself as the last (both may see
    /// the other, and then the slot is simply freed).
    fn recycle_slot(&self, slot: Arc<Slot>) {
        if Arc::strong_count(&slot) != 1 {
            return;
        }
        *lock(&slot.state) = SlotState::default();
        let mut spare = lock(&self.spare_slots);
        if spare.len() < SPARES {
            spare.push(slot);
        }
    }

    /// An empty buffer to encode fields into, reused when one is spare.
    pub fn buffer(&self) -> Vec<u8> {
        lock(&self.spare_bufs).pop().unwrap_or_default()
    }

    fn recycle_buffers(&self, bufs: &mut Vec<Vec<u8>>) {
        let mut spare = lock(&self.spare_bufs);
        for mut b in bufs.drain(..) {
            if spare.len() < SPARES && b.capacity() <= SPARE_BUF_MAX {
                b.clear();
                spare.push(b);
            }
        }
    }
}

/// Locks a mutex, recovering from poisoning: a panic elsewhere cannot leave
/// the data behind these mutexes half-updated in a way that matters (plain
/// options and queues whose every step is a single push or pop).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct CommitOptions {
    pub lock_timeout: Option<Duration>,
    pub max_batch_bytes: usize,
    pub io: Arc<dyn IoHooks>,
}

/// The file and what is known about it; only the leader touches it.
struct Writer {
    shared: Arc<LogState>,
    file: File,
    cfg: CommitOptions,
    /// File length after our last write (or scan); a different length under
    /// the lock means another process appended or something cut the file.
    known_len: u64,
    known_lines: u64,
    last_seq: u64,
    ended: bool,
    buf: Vec<u8>,
    /// The group being committed; kept to reuse its allocation.
    batch: Vec<Request>,
    /// Field buffers of the last group, on their way to `LogState::spare_bufs`.
    used: Vec<Vec<u8>>,
    /// Per request of the group: its seq or why it failed (kept for reuse).
    results: Vec<Result<u64>>,
}

/// One open log: its queue and its file. Shared by every handle and by the
/// pool thread leading it, if any.
pub(crate) struct Log {
    pub shared: Arc<LogState>,
    queue: Mutex<Queue>,
    /// Signalled after every group, for blocking callers waiting for their
    /// answer or for their turn to lead.
    turn: Condvar,
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
    /// Somebody (a caller or a pool thread) is committing, or a pool thread
    /// has been asked to: nobody else may start.
    leading: bool,
}

impl Queue {
    fn push(&mut self, req: Request, blocking: bool) {
        self.reqs.push_back(req);
        self.blocking.push_back(blocking);
        self.blocking_queued += usize::from(blocking);
    }
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
        writer: Mutex::new(Writer {
            shared,
            file,
            cfg,
            known_len: start.len,
            known_lines: start.lines,
            last_seq: start.last_seq,
            ended: false,
            buf: Vec::with_capacity(1 << 16),
            batch: Vec::new(),
            used: Vec::new(),
            results: Vec::new(),
        }),
        max_batch_bytes,
    })
}

impl Log {
    /// Queues `req` for an async or detached caller. If nobody is
    /// committing, the log goes to the pool: the caller's thread (maybe a
    /// tokio worker) never waits for the disk.
    pub(crate) fn submit(self: &Arc<Self>, req: Request) {
        let mut q = lock(&self.queue);
        q.push(req, false);
        if !q.leading {
            q.leading = true;
            drop(q);
            pool().submit(Arc::clone(self));
        }
    }

    /// Queues `req` and waits on this thread for `rx`'s answer, leading the
    /// commit itself whenever nobody else is: a lone caller does the lock,
    /// write and fdatasync here, with no hand-off to another thread.
    pub(crate) fn commit_blocking(self: &Arc<Self>, req: Request, mut rx: Answer) -> Result<u64> {
        let mut q = lock(&self.queue);
        q.push(req, true);
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
        loop {
            let mut batch = std::mem::take(&mut w.batch);
            {
                let mut q = lock(&self.queue);
                let mut bytes = 0;
                while bytes < self.max_batch_bytes || batch.is_empty() {
                    let Some(req) = q.reqs.pop_front() else { break };
                    if q.blocking.pop_front() == Some(true) {
                        q.blocking_queued -= 1;
                    }
                    bytes += request_len(&req);
                    batch.push(req);
                }
                if batch.is_empty() {
                    q.leading = false;
                    self.turn.notify_all();
                    w.batch = batch;
                    return true;
                }
            }
            w.handle(&mut batch);
            w.batch = batch;
            let Writer { shared, used, .. } = &mut *w;
            shared.recycle_buffers(used);
            let mut q = lock(&self.queue);
            self.turn.notify_all();
            if q.reqs.is_empty() {
                q.leading = false;
                return true;
            }
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
                    pool().submit(Arc::clone(self));
                    return false;
                }
                // Back of the pool's line, so one busy log cannot hold a
                // pool thread while other logs wait.
                Leader::Pool if pool().others_waiting() => {
                    drop(q);
                    drop(w);
                    pool().requeue(Arc::clone(self));
                    return false;
                }
                Leader::Pool => {}
            }
        }
    }
}

/// At most this many pool threads commit at once. Different logs' syncs
/// overlap on the disk; the same log's never do (one leader per log). 32 is
/// past where a single SSD's fdatasync throughput stops growing with queue
/// depth on the machines measured, and well under one thread per log.
pub const MAX_POOL_THREADS: usize = 32;
/// An idle pool thread exits after this long.
const POOL_IDLE: Duration = Duration::from_secs(10);

/// The process-wide commit pool for async and detached callers.
struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Arc<Log>>,
    threads: usize,
    idle: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState::default()),
        work: Condvar::new(),
    })
}

impl Pool {
    fn submit(&'static self, log: Arc<Log>) {
        let mut st = lock(&self.state);
        st.jobs.push_back(log);
        if st.jobs.len() <= st.idle {
            self.work.notify_one();
            return;
        }
        if st.threads >= MAX_POOL_THREADS {
            return;
        }
        st.threads += 1;
        drop(st);
        let spawned = std::thread::Builder::new()
            .name("convlog-commit".into())
            .spawn(move || self.work_loop());
        if let Err(e) = spawned {
            let mut st = lock(&self.state);
            st.threads -= 1;
            if st.threads == 0 {
                // Nobody would ever run the job: run it here rather than hang.
                tracing::error!(target: "convlog", "cannot start a commit thread ({e}); committing on the caller's thread");
                drop(st);
                loop {
                    let Some(log) = lock(&self.state).jobs.pop_front() else {
                        break;
                    };
                    log.lead(Leader::Pool);
                }
            }
        }
    }

    /// Puts a log back in line from a pool thread, which will pick up the
    /// next job itself: no wake-up needed.
    fn requeue(&self, log: Arc<Log>) {
        lock(&self.state).jobs.push_back(log);
    }

    fn others_waiting(&self) -> bool {
        !lock(&self.state).jobs.is_empty()
    }

    fn work_loop(&self) {
        let mut st = lock(&self.state);
        loop {
            if let Some(log) = st.jobs.pop_front() {
                drop(st);
                log.lead(Leader::Pool);
                drop(log);
                st = lock(&self.state);
                continue;
            }
            st.idle += 1;
            let (guard, waited) = self
                .work
                .wait_timeout(st, POOL_IDLE)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if waited.timed_out() && st.jobs.is_empty() {
                st.threads -= 1;
                return;
            }
        }
    }
}

/// Threads the commit pool is running now (idle ones included), for reports.
pub fn pool_threads() -> usize {
    lock(&pool().state).threads
}

impl Writer {
    fn handle(&mut self, batch: &mut Vec<Request>) {
        let outcome = match self.shared.poison_cause() {
            Some(cause) => Err(Error::Poisoned {
                path: self.shared.path.clone(),
                cause,
            }),
            None => self.commit(batch),
        };
        self.reply(batch, outcome);
    }

    /// Writes the batch durably. Returns, per request, the seq it got or why it failed.
    fn commit(&mut self, batch: &[Request]) -> Result<Vec<Result<u64>>> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        self.lock_file()?;
        let result = self.commit_locked(batch);
        crate::fs::unlock(&self.file, path);
        result
    }

    /// Takes the exclusive lock. A wait longer than a second is announced
    /// (at WARN, which the CLI prints on stderr), so that a caller stuck
    /// behind another process's lock is not left wondering.
    ///
    /// Without a timeout the wait is a blocking `flock`, woken by the kernel
    /// the moment the lock is free, and the notice comes from a watcher
    /// thread. Polling with sleeps instead (as a timeout needs) cost several
    /// processes appending to one log most of their throughput: a waiter
    /// slept up to 20 ms past the moment the lock came free.
    fn lock_file(&self) -> Result<()> {
        let path = &self.shared.path;
        let Some(timeout) = self.cfg.lock_timeout else {
            match self.file.try_lock() {
                Ok(()) => return Ok(()),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, "lock", e)),
            }
            let _announce = LockWait::start(path);
            return self.file.lock().map_err(|e| Error::io(path, "lock", e));
        };
        if timeout <= LOCK_NOTICE {
            return crate::fs::lock_exclusive(&self.file, path, Some(timeout));
        }
        let start = Instant::now();
        match crate::fs::lock_exclusive(&self.file, path, Some(LOCK_NOTICE)) {
            Err(Error::LockTimeout { .. }) => {}
            done => return done,
        }
        tracing::warn!(
            target: "convlog",
            "{}: waiting for the lock, held by another process (giving up after {:.1} s)",
            path.display(), timeout.as_secs_f64()
        );
        let rest = timeout.saturating_sub(start.elapsed());
        match crate::fs::lock_exclusive(&self.file, path, Some(rest)) {
            Err(Error::LockTimeout { path, .. }) => Err(Error::LockTimeout {
                path,
                waited: start.elapsed(),
            }),
            done => done,
        }
    }

    fn commit_locked(&mut self, batch: &[Request]) -> Result<Vec<Result<u64>>> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        // One fstat per batch serves both checks below.
        let meta = self
            .file
            .metadata()
            .map_err(|e| Error::io(path, "fstat", e))?;
        if !crate::fs::same_file(&meta, path)? {
            return Err(self.poison(format!(
                "{} was removed or replaced by another file while open",
                path.display()
            )));
        }
        self.catch_up(meta.len())?;

        self.buf.clear();
        let mut results = std::mem::take(&mut self.results);
        results.clear();
        let mut seq = self.last_seq;
        let mut ended = self.ended;
        for req in batch {
            if let Request::Flush { .. } = req {
                results.push(Ok(0));
                continue;
            }
            if ended {
                results.push(Err(Error::Ended { path: path.clone() }));
                continue;
            }
            results.push(Ok(seq + 1));
            match req {
                Request::Append {
                    kind,
                    fields,
                    parts: Parts::One,
                    ..
                } => {
                    seq += 1;
                    codec::frame(*kind, seq, fields, &mut self.buf);
                }
                Request::Append {
                    kind,
                    fields,
                    parts: Parts::Many(ends),
                    ..
                } => {
                    let mut start = 0;
                    for &end in ends {
                        seq += 1;
                        codec::frame(*kind, seq, &fields[start..end], &mut self.buf);
                        start = end;
                    }
                }
                Request::End { ts, .. } => {
                    seq += 1;
                    codec::frame(Kind::End, seq, &codec::end_fields(ts), &mut self.buf);
                    ended = true;
                }
                Request::Flush { .. } => {}
            }
        }
        if self.buf.is_empty() {
            return Ok(results);
        }
        if let Err(e) = self.cfg.io.write_all(&mut self.file, &self.buf) {
            return Err(self.poison(format!("write failed: {e}")));
        }
        if let Err(e) = self.cfg.io.sync_data(&self.file) {
            return Err(self.poison(format!("fdatasync failed: {e}")));
        }
        self.known_len += self.buf.len() as u64;
        self.known_lines += seq - self.last_seq;
        self.last_seq = seq;
        self.ended = ended;
        Ok(results)
    }

    /// Under the lock: if the file is not the length we left it at, another
    /// process appended (read its records to learn the last seq) or a
    /// crashed writer left a torn tail (cut it, keeping the bytes).
    fn catch_up(&mut self, len: u64) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        if len == self.known_len {
            return Ok(());
        }
        let pos = if len > self.known_len {
            Position {
                offset: self.known_len,
                line: self.known_lines,
                prev_seq: Some(self.last_seq),
            }
        } else {
            // Shorter than we left it: someone repaired or truncated it. Start over.
            Position::default()
        };
        let mut last_seq = pos.prev_seq.unwrap_or(0);
        let report = recover::scan_locked(path, &self.file, pos, Some(len), |rec| {
            if let Record::End { .. } = rec {
                return Ok(());
            }
            last_seq = last_seq.max(rec.seq());
            Ok(())
        })?;
        for d in report.mid_file_damage() {
            tracing::warn!(
                target: "convlog",
                "{}: line {} (byte {}): {}: {}; appending after it",
                path.display(), d.line, d.offset, d.kind.name(), d.reason
            );
        }
        self.last_seq = report.last_seq.unwrap_or(last_seq).max(last_seq);
        self.ended |= report.ended;
        self.known_lines = pos.line + report.lines;
        self.known_len = len;
        if report.damage.iter().any(|d| d.kind == DamageKind::TornTail) {
            self.cut_torn_tail(report.valid_len, len)?;
            self.known_lines -= report
                .damage
                .iter()
                .filter(|d| d.kind == DamageKind::TornTail)
                .count() as u64;
        }
        Ok(())
    }

    /// Saves the torn bytes to `LOG.broken` and truncates them, so that damage
    /// left by a crashed writer never ends up in the middle of the file.
    fn cut_torn_tail(&mut self, valid_len: u64, len: u64) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let path = &shared.path;
        let backup = recover::cut_torn_tail(path, &self.file, valid_len, len)?;
        if let Err(e) = self.cfg.io.sync_data(&self.file) {
            return Err(self.poison(format!("fdatasync after truncation failed: {e}")));
        }
        tracing::warn!(
            target: "convlog",
            "{}: cut a torn tail of {} bytes left by an interrupted writer; saved in {}",
            path.display(), len - valid_len, backup.display()
        );
        self.known_len = valid_len;
        Ok(())
    }

    fn poison(&self, cause: String) -> Error {
        let mut p = lock(&self.shared.poisoned);
        if p.is_none() {
            tracing::error!(target: "convlog", "{}: {cause}; writer is now broken", self.shared.path.display());
            *p = Some(cause.clone());
        }
        Error::Poisoned {
            path: self.shared.path.clone(),
            cause: p.clone().unwrap_or(cause),
        }
    }

    fn reply(&mut self, batch: &mut Vec<Request>, outcome: Result<Vec<Result<u64>>>) {
        let mut results = match outcome {
            Ok(r) => r,
            Err(e) => {
                let mut all = Vec::with_capacity(batch.len());
                for _ in 1..batch.len() {
                    all.push(Err(e.clone()));
                }
                all.insert(0, Err(e));
                all
            }
        };
        for (req, result) in batch.drain(..).zip(results.drain(..)) {
            match req {
                Request::Append {
                    reply: Some(tx),
                    fields,
                    ..
                } => {
                    // The caller may have dropped its future; the record is written anyway.
                    tx.send(result);
                    self.used.push(fields);
                }
                Request::Append {
                    reply: None,
                    echo,
                    fields,
                    ..
                } => {
                    match result {
                        Err(e) => self.detached_failure(&e),
                        Ok(_) => {
                            if let Some((tag, content)) = echo {
                                tracing::info!(target: "convlog", "[{tag}] {content}");
                            }
                        }
                    }
                    self.used.push(fields);
                }
                Request::End { reply, .. } => reply.send(result),
                Request::Flush { reply } => {
                    reply.send(result.map(|_| 0));
                }
            }
        }
        self.results = results;
    }

    fn detached_failure(&self, e: &Error) {
        tracing::error!(target: "convlog", "{e}");
        let mut slot = lock(&self.shared.detached_error);
        if slot.is_none() {
            *slot = Some(e.to_string());
        }
    }
}

fn request_len(r: &Request) -> usize {
    match r {
        Request::Append { fields, .. } => fields.len() + 64,
        _ => 64,
    }
}

/// A lock wait this long is announced.
const LOCK_NOTICE: Duration = Duration::from_secs(1);

/// A blocking lock wait in progress, registered so the watcher thread can
/// announce it once it passes [`LOCK_NOTICE`]. Dropping it ends the wait.
struct LockWait(u64);

#[derive(Default)]
struct Waits {
    next: u64,
    /// (id, log, since, announced)
    list: Vec<(u64, PathBuf, Instant, bool)>,
    watcher: bool,
}

fn lock_waits() -> &'static Mutex<Waits> {
    static WAITS: OnceLock<Mutex<Waits>> = OnceLock::new();
    WAITS.get_or_init(Mutex::default)
}

impl LockWait {
    fn start(path: &Path) -> LockWait {
        let mut w = lock(lock_waits());
        w.next += 1;
        let id = w.next;
        w.list.push((id, path.to_path_buf(), Instant::now(), false));
        // One watcher per process, started by the first wait that ever
        // blocks; if it cannot start, waits simply go unannounced.
        if !w.watcher {
            w.watcher = std::thread::Builder::new()
                .name("convlog-lock-notice".into())
                .spawn(watch_lock_waits)
                .is_ok();
        }
        LockWait(id)
    }
}

impl Drop for LockWait {
    fn drop(&mut self) {
        lock(lock_waits()).list.retain(|w| w.0 != self.0);
    }
}

fn watch_lock_waits() {
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let mut w = lock(lock_waits());
        for (_, path, since, announced) in w.list.iter_mut() {
            if !*announced && since.elapsed() >= LOCK_NOTICE {
                *announced = true;
                tracing::warn!(
                    target: "convlog",
                    "{}: waiting for the lock, held by another process",
                    path.display()
                );
            }
        }
    }
}
