//! Awaitables completed from the thread that committed the record, and
//! what happens to them when the interpreter exits.
//!
//! An `*_async` call makes an asyncio future on the running loop and a
//! [`Waiter`]; the library runs the waiter's completion on the committing
//! thread, which hands the result to the loop with one
//! `call_soon_threadsafe`. At exit ([`at_exit`]) everything queued is
//! committed and every completion in flight (an `end_async` still rendering
//! its export included) is waited for, with the GIL released so that they
//! can run; a call made after that, from a later `atexit` hook, does its
//! work on the calling thread and resolves its future at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::engine::{self, Engine};
use crate::errors::{cached, logger, to_pyerr, warn};
use crate::lock;

/// Every session still alive, so that the exit hook can commit what each
/// one queued while a pool thread may still take the GIL.
static OPEN: Mutex<Vec<Weak<Engine>>> = Mutex::new(Vec::new());

/// Set by the exit hook once every open session is committed and every
/// completion has run. A completion that runs after it must not take the
/// GIL: on Python < 3.13 a thread that asks for it while the interpreter
/// finalizes is ended by `pthread_exit`, which unwinds through Rust frames
/// and aborts, and after finalization PyO3's attach panics inside a
/// destructor, which aborts too.
static EXITING: AtomicBool = AtomicBool::new(false);

/// How many completions are still to run.
static IN_FLIGHT: Mutex<usize> = Mutex::new(0);
static SETTLED: Condvar = Condvar::new();

/// How long the exit hook waits for completions still in flight (an end
/// rendering the export of a long log) before leaving them.
const EXIT_WAIT: Duration = Duration::from_secs(60);

/// Notes `engine` as open, for the exit hook.
pub fn register(engine: &Arc<Engine>) {
    let mut open = lock(&OPEN);
    open.retain(|w| w.strong_count() > 0);
    open.push(Arc::downgrade(engine));
}

/// True once the exit hook has run: an `*_async` call must then do its
/// work itself (see [`Waiter::new`]).
pub fn exiting() -> bool {
    EXITING.load(Ordering::Acquire)
}

/// One completion still to run; counted in [`IN_FLIGHT`] until dropped.
struct Flight;

impl Flight {
    fn start() -> Flight {
        *lock(&IN_FLIGHT) += 1;
        Flight
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut n = lock(&IN_FLIGHT);
        *n = n.saturating_sub(1);
        if *n == 0 {
            SETTLED.notify_all();
        }
    }
}

/// Registered with `atexit` when the module is imported, so it runs before
/// the interpreter starts finalizing: commits what every open session
/// queued and waits for every completion in flight, with the GIL released
/// so that they can still take it, and then tells later completions to
/// leave Python alone.
#[pyfunction]
pub fn _at_exit(py: Python<'_>) {
    // An ended log has nothing left to commit (an end still in flight is
    // waited for below, with the other completions), and its file may be
    // gone by now.
    let engines: Vec<Arc<Engine>> = lock(&OPEN)
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|e| !e.ended())
        .collect();
    let (failed, stuck) = py.detach(move || {
        // The handles are dropped here too, GIL released: a last handle
        // waits for its committer, whose completions may want the GIL.
        let failed: Vec<String> = engines
            .into_iter()
            .filter_map(|e| e.flush_blocking().err().map(|err| err.to_string()))
            .collect();
        let deadline = Instant::now() + EXIT_WAIT;
        let mut n = lock(&IN_FLIGHT);
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            n = SETTLED
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        (failed, *n)
    });
    EXITING.store(true, Ordering::Release);
    for err in failed {
        warn(py, &format!("at exit: {err}"));
    }
    if stuck > 0 {
        warn(
            py,
            &format!("at exit: {stuck} awaitable(s) still unfinished after {EXIT_WAIT:?}"),
        );
    }
}

/// An asyncio future on the running loop, and the means to complete it from
/// another thread through `loop.call_soon_threadsafe`.
pub struct Waiter {
    loop_: Py<PyAny>,
    fut: Py<PyAny>,
    path: PathBuf,
    flight: Flight,
}

impl Waiter {
    pub fn new<'py>(py: Python<'py>, path: PathBuf) -> PyResult<(Bound<'py, PyAny>, Waiter)> {
        static GET_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let loop_ = cached(py, &GET_LOOP, "asyncio", "get_running_loop")?.call0()?;
        let fut = loop_.call_method0("create_future")?;
        Ok((
            fut.clone(),
            Waiter {
                loop_: loop_.unbind(),
                fut: fut.unbind(),
                path,
                flight: Flight::start(),
            },
        ))
    }

    /// Completes the future now, on the loop's own thread (the caller's).
    pub fn resolve_now(self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        self.fut.bind(py).call_method1("set_result", (value,))?;
        Ok(())
    }

    /// Completes the future now, on the loop's own thread, with `r`: for a
    /// call made while the interpreter exits, whose work was done in place.
    pub fn settle_now<T>(
        self,
        py: Python<'_>,
        r: engine::Result<T>,
        convert: impl for<'p> FnOnce(Python<'p>, T) -> PyResult<Bound<'p, PyAny>>,
    ) -> PyResult<()> {
        match r {
            Ok(v) => {
                let v = convert(py, v)?;
                self.fut.bind(py).call_method1("set_result", (v,))?;
            }
            Err(e) => {
                let exc = to_pyerr(py, &e, Some(&self.path)).into_value(py);
                self.fut.bind(py).call_method1("set_exception", (exc,))?;
            }
        }
        Ok(())
    }

    /// Runs on the thread that committed the record: converts `r` and hands
    /// it to the loop. It only schedules; it never waits on the log.
    pub fn finish<T>(
        self,
        r: engine::Result<T>,
        convert: impl for<'py> FnOnce(Python<'py>, T) -> PyResult<Bound<'py, PyAny>>,
    ) {
        self.attach(move |py, w| {
            static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let (ok, value) = match r {
                Ok(v) => match convert(py, v) {
                    Ok(v) => (true, v),
                    Err(e) => (false, e.into_value(py).into_bound(py).into_any()),
                },
                Err(e) => (
                    false,
                    to_pyerr(py, &e, Some(&w.path))
                        .into_value(py)
                        .into_bound(py)
                        .into_any(),
                ),
            };
            let sent = cached(py, &RESOLVE, "convlog._errors", "_resolve").and_then(|resolve| {
                w.loop_
                    .bind(py)
                    .call_method1("call_soon_threadsafe", (resolve, w.fut.bind(py), ok, value))
            });
            w.sent(py, sent);
        });
    }

    /// Runs on the committing thread when the `async with` block already
    /// raised: the end's own failure is logged on the loop (the host's
    /// logging handlers never run on the committer, which holds the log),
    /// and the awaitable returns False so that the block's exception goes on.
    pub fn finish_logged(self, e: &engine::Error) {
        let text = e.to_string();
        self.attach(move |py, w| {
            static LOGGED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let sent =
                cached(py, &LOGGED, "convlog._errors", "_resolve_logged").and_then(|resolve| {
                    w.loop_
                        .bind(py)
                        .call_method1("call_soon_threadsafe", (resolve, w.fut.bind(py), text))
                });
            w.sent(py, sent);
        });
    }

    /// Runs `f` with the GIL unless the interpreter is exiting (see
    /// [`EXITING`]) or gone, when nobody is left to await the result and the
    /// record's fate is in the log either way. The waiter's references are
    /// then leaked rather than released: releasing them needs the GIL.
    fn attach(self, f: impl for<'py> FnOnce(Python<'py>, Waiter)) {
        let mut me = Some(self);
        if !exiting() {
            Python::try_attach(|py| {
                if let Some(w) = me.take() {
                    f(py, w);
                }
            });
        }
        if let Some(w) = me {
            let Waiter {
                loop_,
                fut,
                path: _,
                flight,
            } = w;
            std::mem::forget(loop_);
            std::mem::forget(fut);
            drop(flight);
        }
    }

    /// A closed loop has nobody left to await the result; says so at DEBUG,
    /// since the record's fate is in the log either way.
    fn sent(&self, py: Python<'_>, sent: PyResult<Bound<'_, PyAny>>) {
        if let Err(e) = sent {
            let _ = logger(py).and_then(|l| {
                l.call_method1(
                    "debug",
                    (
                        "%s: could not hand a result to its event loop: %s",
                        self.path.display().to_string(),
                        e.to_string(),
                    ),
                )
            });
        }
    }
}
