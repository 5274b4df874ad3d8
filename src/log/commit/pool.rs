//! The process-wide commit pool: the threads that lead a log for async and
//! detached callers, so a tokio worker never waits for `fdatasync`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::lock;

/// At most this many pool threads commit at once. Different logs' syncs
/// overlap on the disk; the same log's never do (one leader per log). 32 is
/// past where a single SSD's fdatasync throughput stops growing with queue
/// depth on the machines measured, and well under one thread per log.
pub const MAX_POOL_THREADS: usize = 32;
/// An idle pool thread exits after this long.
const POOL_IDLE: Duration = Duration::from_secs(10);

/// What the pool runs: a log whose queue a pool thread leads until it is
/// empty or handed on. A trait, so that the pool knows nothing of the
/// leader it serves (the leader hands its log to the pool, not back).
pub(super) trait Job: Send + Sync {
    /// Commits groups as the pool's leader of this log.
    fn lead_from_pool(self: Arc<Self>);
}

/// The process-wide commit pool for async and detached callers.
pub(super) struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Arc<dyn Job>>,
    threads: usize,
    idle: usize,
}

pub(super) fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState::default()),
        work: Condvar::new(),
    })
}

impl Pool {
    pub(super) fn submit(&'static self, log: Arc<dyn Job>) {
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
                    log.lead_from_pool();
                }
            }
        }
    }

    /// Puts a log back in line from a pool thread, which will pick up the
    /// next job itself: no wake-up needed.
    pub(super) fn requeue(&self, log: Arc<dyn Job>) {
        lock(&self.state).jobs.push_back(log);
    }

    pub(super) fn others_waiting(&self) -> bool {
        !lock(&self.state).jobs.is_empty()
    }

    fn work_loop(&self) {
        yield_to_callers();
        let mut st = lock(&self.state);
        loop {
            if let Some(log) = st.jobs.pop_front() {
                drop(st);
                log.lead_from_pool();
                st = lock(&self.state);
                continue;
            }
            if promptly() {
                // Batched again before it idles (see `commit_promptly`).
                drop(st);
                commit_promptly(false);
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

/// Puts the calling pool thread under Linux's `SCHED_BATCH` policy, which
/// the scheduler never lets preempt a running thread when it wakes: a commit
/// thread woken by its `fdatasync` (or by a new request) runs on a free core,
/// or on a busy one at the next tick, and no longer interrupts the thread it
/// would share that core with: the agent's event loop, mid-handler. Measured
/// with `python/bench/loop_cost.py`, where the loop thread was preempted on
/// about one event in ten without it. A failure leaves the default policy.
fn yield_to_callers() {
    set_batch(true);
    PROMPT.set(Some(false));
}

thread_local! {
    /// On a pool thread, whether it runs under `SCHED_OTHER` now (see
    /// [`commit_promptly`]), so that the policy changes only when asked to;
    /// `None` on any other thread (a caller's, running the pool's jobs
    /// because no thread could be started), whose policy is never touched.
    static PROMPT: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Runs the calling pool thread under the default policy while it commits
/// a group somebody waits for (`true`), and back under `SCHED_BATCH` for
/// groups of detached records and before it idles (`false`).
///
/// Why: whoever waits (`convlog ingest`'s reader, an awaited append) waits
/// for this thread's next wake-up, after each `fdatasync`, and under
/// `SCHED_BATCH` that wake-up waits for a free core or the next tick. With
/// redacted ingest's workers on both cores, that stalled the commits enough
/// that reading had to pause for them: 100 alternating rounds of 100,000
/// lines took 76.5 ms with the commit thread always batched, 73.3 ms
/// without. An event loop's `log()` records are never awaited, so its
/// commit thread stays batched (and makes no extra call). A thread that is
/// not the pool's (a caller leading for itself) keeps its own policy.
pub(super) fn commit_promptly(prompt: bool) {
    if PROMPT.get().is_some_and(|now| now != prompt) {
        PROMPT.set(Some(prompt));
        set_batch(!prompt);
    }
}

/// Whether the calling thread is a pool thread under `SCHED_OTHER` now.
pub(super) fn promptly() -> bool {
    PROMPT.get() == Some(true)
}

/// `SCHED_BATCH` (`true`) or `SCHED_OTHER` for the calling thread, both at
/// its nice level, which any thread may switch between. A failure leaves
/// the policy as it was: this is a hint, not a contract.
fn set_batch(batch: bool) {
    #[cfg(target_os = "linux")]
    {
        let policy = if batch {
            libc::SCHED_BATCH
        } else {
            libc::SCHED_OTHER
        };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 names the calling thread; `param` is a valid,
        // initialised struct that outlives the call.
        let _ = unsafe { libc::sched_setscheduler(0, policy, &param) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = batch;
}
