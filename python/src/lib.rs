//! `convlog._convlog`: the compiled half of the `convlog` Python package.
//!
//! Python sees [`Session`] and a few module functions; everything that
//! touches the library goes through [`engine`], and every call that can wait
//! on a disk or a lock runs with the GIL released.

mod engine;
mod tool;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use engine::{Engine, Kind, Msg, Settings};

/// Imports `convlog.<module>.<name>` once per process.
fn cached<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    module: &str,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import(module)?.getattr(name)?.unbind())
    })
    .map(|o| o.bind(py).clone())
}

/// The Python exception for `e`, naming `path` when the error itself names no file.
fn to_pyerr(py: Python<'_>, e: &engine::Error, path: Option<&Path>) -> PyErr {
    match exception(py, e, path) {
        Ok(exc) => PyErr::from_value(exc),
        Err(import_failed) => import_failed,
    }
}

fn exception<'py>(
    py: Python<'py>,
    e: &engine::Error,
    path: Option<&Path>,
) -> PyResult<Bound<'py, PyAny>> {
    let name = match engine::kind(e) {
        Kind::Ended => "SessionEndedError",
        Kind::WriterBroken => "WriterBrokenError",
        Kind::ContentTooLarge => "ContentTooLargeError",
        Kind::LockTimeout => "LockTimeoutError",
        Kind::NotALog => "NotALogError",
        Kind::InvalidMessage => "InvalidMessageError",
        Kind::Damaged => "DamagedLogError",
        Kind::Storage => "StorageError",
        Kind::Other => "ConvlogError",
    };
    let own = engine::error_path(e).map(Path::to_path_buf);
    let named = own.clone().or_else(|| path.map(Path::to_path_buf));
    let text = match (&own, path) {
        (None, Some(p)) => format!("{}: {e}", p.display()),
        _ => e.to_string(),
    };
    let cls = py.import("convlog._errors")?.getattr(name)?;
    let exc = cls.call1((text,))?;
    exc.setattr("path", named.map(|p| p.display().to_string()))?;
    if let Some(n) = engine::errno(e) {
        exc.setattr("errno", n)?;
    }
    Ok(exc)
}

fn invalid(py: Python<'_>, msg: String, path: Option<&Path>) -> PyErr {
    to_pyerr(py, &engine::invalid(msg), path)
}

/// `meta` as JSON: dicts with string keys, lists, tuples, strings, numbers, booleans, None.
fn to_json(obj: &Bound<'_, PyAny>, depth: usize) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    if depth > 64 {
        return Err("`meta` is nested too deeply".into());
    }
    if obj.is_none() {
        Ok(Value::Null)
    } else if let Ok(b) = obj.cast::<PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            Ok(Value::from(i))
        } else if let Ok(u) = obj.extract::<u64>() {
            Ok(Value::from(u))
        } else {
            Err("an integer in `meta` does not fit in 64 bits".into())
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| format!("`meta` holds {}, which JSON cannot represent", f.value()))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Value::String(
            s.to_str().map_err(|e| e.to_string())?.to_owned(),
        ))
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = serde_json::Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let k = k
                .cast::<PyString>()
                .map_err(|_| "`meta` keys must be strings".to_string())?
                .to_str()
                .map_err(|e| e.to_string())?
                .to_owned();
            m.insert(k, to_json(&v, depth + 1)?);
        }
        Ok(Value::Object(m))
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut v = Vec::new();
        for item in obj.try_iter().map_err(|e| e.to_string())? {
            v.push(to_json(&item.map_err(|e| e.to_string())?, depth + 1)?);
        }
        Ok(Value::Array(v))
    } else {
        let ty = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        Err(format!("`meta` holds a {ty}, which is not JSON"))
    }
}

/// A timestamp as RFC 3339 in local time: a `datetime` (naive means local),
/// epoch seconds (as LiveKit's `created_at`), or an RFC 3339 string as is.
fn to_rfc3339(py: Python<'_>, ts: &Bound<'_, PyAny>) -> PyResult<Result<String, String>> {
    if let Ok(s) = ts.cast::<PyString>() {
        return Ok(Ok(s.to_str()?.to_owned()));
    }
    let dt = if ts.is_instance_of::<PyBool>() {
        return Ok(Err("`timestamp` must be a datetime, not a bool".into()));
    } else if ts.is_instance_of::<PyInt>() || ts.is_instance_of::<PyFloat>() {
        let secs: f64 = ts.extract()?;
        return Ok(engine::epoch_to_rfc3339(secs)
            .ok_or_else(|| format!("`timestamp` {secs} is out of range")));
    } else if ts.hasattr("astimezone")? && ts.hasattr("isoformat")? {
        ts.clone()
    } else {
        let ty = ts.get_type().name()?.to_string();
        return Ok(Err(format!(
            "`timestamp` must be a datetime, epoch seconds or an RFC 3339 string, not a {ty}"
        )));
    };
    let local = match dt.call_method0("astimezone") {
        Ok(l) => l,
        Err(e) => return Ok(Err(format!("`timestamp` {dt} has no local time: {e}"))),
    };
    let kw = PyDict::new(py);
    kw.set_item("timespec", "microseconds")?;
    Ok(Ok(local
        .call_method("isoformat", (), Some(&kw))?
        .extract::<String>()?))
}

fn opt_text(v: Option<&Bound<'_, PyAny>>, what: &str) -> Result<Option<String>, String> {
    match v {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => {
            if let Ok(s) = v.cast::<PyString>() {
                Ok(Some(s.to_str().map_err(|e| e.to_string())?.to_owned()))
            } else if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
                Ok(Some(v.str().map_err(|e| e.to_string())?.to_string()))
            } else {
                Err(format!("`{what}` must be a string"))
            }
        }
    }
}

/// Builds a message from Python arguments, or the reason it cannot be one.
#[allow(clippy::too_many_arguments)]
fn build(
    py: Python<'_>,
    role: String,
    content: String,
    source: String,
    turn: Option<&Bound<'_, PyAny>>,
    interrupted: bool,
    speaker: Option<&Bound<'_, PyAny>>,
    lang: Option<&Bound<'_, PyAny>>,
    meta: Option<&Bound<'_, PyAny>>,
    timestamp: Option<&Bound<'_, PyAny>>,
) -> PyResult<Result<Msg, String>> {
    let turn = match opt_text(turn, "turn") {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let speaker = match opt_text(speaker, "speaker") {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let lang = match opt_text(lang, "lang") {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let meta = match meta {
        Some(m) if !m.is_none() => {
            if !m.is_instance_of::<PyDict>() {
                return Ok(Err("`meta` must be a dict".into()));
            }
            match to_json(m, 0) {
                Ok(v) => Some(v),
                Err(e) => return Ok(Err(e)),
            }
        }
        _ => None,
    };
    let timestamp = match timestamp {
        Some(t) if !t.is_none() => match to_rfc3339(py, t)? {
            Ok(s) => Some(s),
            Err(e) => return Ok(Err(e)),
        },
        _ => None,
    };
    Ok(Ok(Msg {
        role,
        content,
        source,
        turn,
        interrupted,
        speaker,
        lang,
        meta,
        timestamp,
    }))
}

/// One conversation log, open for appending.
///
/// Durability contract: :meth:`append` returning means the record is
/// fdatasynced; :meth:`log` means queued, and durable after the next
/// :meth:`flush`, :meth:`append` or :meth:`end`. Every call that waits on
/// the disk releases the GIL, and the ``*_async`` variants never wait on the
/// event loop's thread: the fsync runs on the thread committing the log,
/// which completes the awaitable through ``call_soon_threadsafe``.
#[pyclass(frozen, module = "convlog", name = "Session")]
struct Session {
    engine: Arc<Engine>,
    ended: AtomicBool,
    echo: bool,
}

#[pymethods]
impl Session {
    /// Creates a new log ``conversation_YYYYMMDD_HHMMSS.jsonl`` in ``dir``
    /// (made 0700 if missing).
    #[staticmethod]
    #[pyo3(signature = (dir = PathBuf::from("conversations"), *, max_content_bytes = None, export_on_end = None, lock_timeout = None, echo = true))]
    fn create(
        py: Python<'_>,
        dir: PathBuf,
        max_content_bytes: Option<usize>,
        export_on_end: Option<bool>,
        lock_timeout: Option<f64>,
        echo: bool,
    ) -> PyResult<Session> {
        let settings = Settings {
            max_content_bytes,
            export_on_end,
            lock_timeout,
        };
        let engine = py
            .detach(|| Engine::create(&dir, &settings))
            .map_err(|e| to_pyerr(py, &e, Some(&dir)))?;
        Ok(Session::new(engine, echo))
    }

    /// Reopens an existing log to append to it. An ended log is refused.
    #[staticmethod]
    #[pyo3(signature = (path, *, max_content_bytes = None, export_on_end = None, lock_timeout = None, echo = true))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        max_content_bytes: Option<usize>,
        export_on_end: Option<bool>,
        lock_timeout: Option<f64>,
        echo: bool,
    ) -> PyResult<Session> {
        let settings = Settings {
            max_content_bytes,
            export_on_end,
            lock_timeout,
        };
        let engine = py
            .detach(|| Engine::open(&path, &settings))
            .map_err(|e| to_pyerr(py, &e, Some(&path)))?;
        Ok(Session::new(engine, echo))
    }

    /// Queues a message and returns at once. It never waits on the disk and
    /// never raises for a disk error: such an error is logged to the
    /// ``convlog`` logger and kept in :attr:`last_error`. It raises only for
    /// a message that can never be written (bad role, content over the
    /// limit, bad ``meta`` or ``timestamp``) and after :meth:`end`.
    #[pyo3(signature = (role, content, source = String::from("python"), *, turn = None, interrupted = false, speaker = None, lang = None, meta = None, timestamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn log(
        &self,
        py: Python<'_>,
        role: String,
        content: String,
        source: String,
        turn: Option<&Bound<'_, PyAny>>,
        interrupted: bool,
        speaker: Option<&Bound<'_, PyAny>>,
        lang: Option<&Bound<'_, PyAny>>,
        meta: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let m = self.prepare(
            py,
            build(
                py,
                role,
                content,
                source,
                turn,
                interrupted,
                speaker,
                lang,
                meta,
                timestamp,
            )?,
        )?;
        let before = self.engine.last_error();
        self.engine.log(m);
        if before.is_none()
            && let Some(err) = self.engine.last_error()
        {
            // The library logs through Rust's tracing, which Python does not
            // see; say it once here where the host's logging config applies.
            warn(py, &err);
        }
        Ok(())
    }

    /// Appends a message and returns its seq once it is fdatasynced (``None``
    /// for blank content, which is skipped). The GIL is released while it waits.
    #[pyo3(signature = (role, content, source = String::from("python"), *, turn = None, interrupted = false, speaker = None, lang = None, meta = None, timestamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn append(
        &self,
        py: Python<'_>,
        role: String,
        content: String,
        source: String,
        turn: Option<&Bound<'_, PyAny>>,
        interrupted: bool,
        speaker: Option<&Bound<'_, PyAny>>,
        lang: Option<&Bound<'_, PyAny>>,
        meta: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<u64>> {
        let m = self.prepare(
            py,
            build(
                py,
                role,
                content,
                source,
                turn,
                interrupted,
                speaker,
                lang,
                meta,
                timestamp,
            )?,
        )?;
        py.detach(|| self.engine.append_blocking(m))
            .map_err(|e| self.err(py, &e))
    }

    /// :meth:`append` as an awaitable. The record is queued when this is
    /// called and committed off the event loop; the thread that committed it
    /// completes the asyncio future, so no fsync runs on the loop's thread.
    /// Cancelling the await does not cancel the write.
    #[pyo3(signature = (role, content, source = String::from("python"), *, turn = None, interrupted = false, speaker = None, lang = None, meta = None, timestamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn append_async<'py>(
        &self,
        py: Python<'py>,
        role: String,
        content: String,
        source: String,
        turn: Option<&Bound<'py, PyAny>>,
        interrupted: bool,
        speaker: Option<&Bound<'py, PyAny>>,
        lang: Option<&Bound<'py, PyAny>>,
        meta: Option<&Bound<'py, PyAny>>,
        timestamp: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = self.prepare(
            py,
            build(
                py,
                role,
                content,
                source,
                turn,
                interrupted,
                speaker,
                lang,
                meta,
                timestamp,
            )?,
        )?;
        let (fut, waiter) = Waiter::new(py, self.path())?;
        self.engine.append_then(m, move |r| {
            waiter.finish(r, |py, seq| seq.into_bound_py_any(py))
        });
        Ok(fut)
    }

    /// Waits (GIL released) until every message logged before it is durable.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.engine.flush_blocking())
            .map_err(|e| self.err(py, &e))
    }

    /// :meth:`flush` as an awaitable; the wait happens off the event loop.
    fn flush_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (fut, waiter) = Waiter::new(py, self.path())?;
        self.engine
            .flush_then(move |r| waiter.finish(r, |py, ()| Ok(py.None().into_bound(py))));
        Ok(fut)
    }

    /// Appends the end record and renders ``conversation_….json`` beside the
    /// log (unless ``export_on_end=False``). Returns the export's path, or
    /// ``None``. Nothing can be appended afterwards.
    fn end(&self, py: Python<'_>) -> PyResult<Option<PathBuf>> {
        self.ended.store(true, Ordering::Release);
        py.detach(|| self.engine.end_blocking())
            .map(|e| e.export)
            .map_err(|e| self.err(py, &e))
    }

    /// :meth:`end` as an awaitable; the write and the export happen off the event loop.
    fn end_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.ended.store(true, Ordering::Release);
        let (fut, waiter) = Waiter::new(py, self.path())?;
        self.engine.end_then(move |r| {
            waiter.finish(r, |py, e| match e.export {
                Some(p) => p.into_pyobject(py),
                None => Ok(py.None().into_bound(py)),
            })
        });
        Ok(fut)
    }

    /// The log's path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.engine.path().to_path_buf()
    }

    /// The session id from the log's header.
    #[getter]
    fn id(&self) -> String {
        self.engine.id().to_owned()
    }

    /// The first failure of a :meth:`log` call, as text, if any.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.engine.last_error()
    }

    /// True once a write or fdatasync has failed: every later append fails.
    #[getter]
    fn is_broken(&self) -> bool {
        self.engine.is_broken()
    }

    /// True once :meth:`end` (or :meth:`end_async`) has been called.
    #[getter]
    fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Ends the session. If the block raised, an error while ending is
    /// logged rather than allowed to hide the original exception.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        if self.ended() {
            return Ok(false);
        }
        match self.end(py) {
            Ok(_) => Ok(false),
            Err(e) if !exc_type.is_none() => {
                warn(py, &e.to_string());
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn __aenter__<'py>(slf: Bound<'py, Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (fut, waiter) = Waiter::new(py, slf.get().path())?;
        let obj = slf.into_any().unbind();
        waiter.resolve_now(py, obj)?;
        Ok(fut)
    }

    fn __aexit__<'py>(
        &self,
        py: Python<'py>,
        exc_type: &Bound<'py, PyAny>,
        _exc: &Bound<'py, PyAny>,
        _tb: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (fut, waiter) = Waiter::new(py, self.path())?;
        if self.ended.swap(true, Ordering::AcqRel) {
            waiter.resolve_now(py, PyBool::new(py, false).to_owned().into_any().unbind())?;
            return Ok(fut);
        }
        let swallow = !exc_type.is_none();
        self.engine.end_then(move |r| match r {
            Err(e) if swallow => waiter.finish_logged(&e),
            r => waiter.finish(r, |py, _| Ok(PyBool::new(py, false).to_owned().into_any())),
        });
        Ok(fut)
    }

    fn __repr__(&self) -> String {
        format!(
            "convlog.Session(path={:?}, id={:?})",
            self.engine.path().display().to_string(),
            self.engine.id()
        )
    }
}

/// Every session still alive, so that the exit hook can commit what each
/// one queued while a pool thread may still take the GIL.
static OPEN: Mutex<Vec<Weak<Engine>>> = Mutex::new(Vec::new());

/// Set by the exit hook once every open session is committed. A completion
/// that runs after it (an `*_async` call made during shutdown) must not take
/// the GIL: on Python < 3.13 a thread that asks for it while the interpreter
/// finalizes is ended by `pthread_exit`, which unwinds through Rust frames
/// and aborts, and after finalization PyO3's attach panics inside a
/// destructor, which aborts too.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Registered with `atexit` when the module is imported, so it runs before
/// the interpreter starts finalizing: commits what every open session queued
/// (`log` records and pending `*_async` appends alike) with the GIL
/// released, so that their completions can still take it, and then tells
/// later completions to leave Python alone.
#[pyfunction]
fn _at_exit(py: Python<'_>) {
    let engines: Vec<Arc<Engine>> = OPEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    let failed: Vec<String> = py.detach(move || {
        // The handles are dropped here too, GIL released: a last handle
        // waits for its committer, whose completions may want the GIL.
        engines
            .into_iter()
            .filter_map(|e| e.flush_blocking().err().map(|err| err.to_string()))
            .collect()
    });
    EXITING.store(true, Ordering::Release);
    for err in failed {
        warn(py, &format!("at exit: {err}"));
    }
}

/// The library's last handle waits for its log's committer as it goes, and
/// an `*_async` call's completion takes the GIL on that committer: so what
/// is queued is committed here with the GIL released first, leaving the
/// handle's own drop nothing to wait for.
impl Drop for Session {
    fn drop(&mut self) {
        // An error here was already reported to whoever awaited the records,
        // or kept in `last_error`; a dropped session has nobody left to tell.
        let _ = Python::attach(|py| py.detach(|| self.engine.flush_blocking()));
    }
}

impl Session {
    fn new(engine: Engine, echo: bool) -> Session {
        let engine = Arc::new(engine);
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|w| w.strong_count() > 0);
        open.push(Arc::downgrade(&engine));
        drop(open);
        Session {
            engine,
            ended: AtomicBool::new(false),
            echo,
        }
    }

    fn err(&self, py: Python<'_>, e: &engine::Error) -> PyErr {
        to_pyerr(py, e, Some(self.engine.path()))
    }

    /// Turns built arguments into a checked message, refusing after `end`,
    /// and prints the console line.
    fn prepare(&self, py: Python<'_>, built: Result<Msg, String>) -> PyResult<engine::Prepared> {
        let path = self.engine.path();
        let msg = built.map_err(|e| invalid(py, e, Some(path)))?;
        if self.ended.load(Ordering::Acquire) {
            return Err(to_pyerr(
                py,
                &engine::Error::Ended {
                    path: path.to_path_buf(),
                },
                None,
            ));
        }
        let role = msg.role.clone();
        let m = self.engine.check(msg).map_err(|e| self.err(py, &e))?;
        if self.echo && !m.content.trim().is_empty() {
            echo(py, Msg::tag(&role), &m.content)?;
        }
        Ok(m)
    }
}

/// The `convlog` logger, fetched once.
fn logger(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOGGER
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("logging")?
                    .call_method1("getLogger", ("convlog",))?
                    .unbind(),
            )
        })
        .map(|o| o.bind(py).clone())
}

/// `[USER] …` / `[AGENT] …` at INFO through Python's logging, as the original
/// design printed them, so the host's logging config decides their form.
fn echo(py: Python<'_>, tag: &str, content: &str) -> PyResult<()> {
    let log = logger(py)?;
    if log.call_method1("isEnabledFor", (20,))?.is_truthy()? {
        log.call_method1("info", ("[%s] %s", tag, content))?;
    }
    Ok(())
}

fn warn(py: Python<'_>, text: &str) {
    // A failure to log a warning has nowhere left to go.
    let _ = logger(py).and_then(|l| l.call_method1("error", ("%s", text)));
}

/// An asyncio future on the running loop, and the means to complete it from
/// another thread through `loop.call_soon_threadsafe`.
struct Waiter {
    loop_: Py<PyAny>,
    fut: Py<PyAny>,
    path: PathBuf,
}

impl Waiter {
    fn new<'py>(py: Python<'py>, path: PathBuf) -> PyResult<(Bound<'py, PyAny>, Waiter)> {
        static GET_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let loop_ = cached(py, &GET_LOOP, "asyncio", "get_running_loop")?.call0()?;
        let fut = loop_.call_method0("create_future")?;
        Ok((
            fut.clone(),
            Waiter {
                loop_: loop_.unbind(),
                fut: fut.unbind(),
                path,
            },
        ))
    }

    /// Completes the future on its loop with `value`, an object already made.
    fn resolve_now(self, py: Python<'_>, value: Py<PyAny>) -> PyResult<()> {
        self.fut.bind(py).call_method1("set_result", (value,))?;
        Ok(())
    }

    /// Runs on the thread that committed the record (or on the loop's own
    /// thread when the call failed at once): converts `r` and hands it to
    /// the loop. It only schedules; it never waits on the log.
    fn finish<T>(
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
    fn finish_logged(self, e: &engine::Error) {
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
        if !EXITING.load(Ordering::Acquire) {
            Python::try_attach(|py| {
                if let Some(w) = me.take() {
                    f(py, w);
                }
            });
        }
        if let Some(w) = me {
            std::mem::forget(w);
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

fn path_arg(p: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    p.extract::<PathBuf>()
}

/// What ``convlog verify --json PATH`` prints for the log, as a dict with
/// the same keys in the same order: ``path``, ``session``, ``state``
/// (``ended``, ``open`` or ``damaged``), ``start``, ``stop``,
/// ``duration_secs``, ``messages`` (``user``, ``agent``, ``total``),
/// ``damage`` (every damaged line), ``seq``, ``bytes``, ``advice`` and
/// ``repair`` (always ``None``: this never repairs).
#[pyfunction]
fn verify<'py>(py: Python<'py>, path: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let path = path_arg(path)?;
    let text = py
        .detach(|| engine::verify(&path))
        .map_err(|e| to_pyerr(py, &e, Some(&path)))?;
    cached(py, &LOADS, "json", "loads")?.call1((text,))
}

/// Renders a log. ``out=None`` writes beside the log (``.json`` for JSON)
/// and returns that path; ``out="-"`` returns the text instead of writing a
/// file; any other ``out`` is written atomically and returned.
#[pyfunction]
#[pyo3(signature = (path, out = None, format = "json", *, timestamps = "documented", merge = true, recovery = "tolerate-tail"))]
fn export<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    format: &str,
    timestamps: &str,
    merge: bool,
    recovery: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let log = path_arg(path)?;
    let to_stdout = out.is_some_and(|o| o.extract::<String>().is_ok_and(|s| s == "-"));
    if to_stdout {
        let bytes = py
            .detach(|| engine::export_bytes(&log, format, timestamps, merge, recovery))
            .map_err(|e| to_pyerr(py, &e, Some(&log)))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| invalid(py, format!("the export is not UTF-8: {e}"), Some(&log)))?;
        return Ok(PyString::new(py, &text).into_any());
    }
    let dest = match out {
        Some(o) if !o.is_none() => path_arg(o)?,
        _ => engine::default_export_path(&log, format).map_err(|e| to_pyerr(py, &e, Some(&log)))?,
    };
    py.detach(|| engine::export_file(&log, &dest, format, timestamps, merge, recovery))
        .map_err(|e| to_pyerr(py, &e, Some(&log)))?;
    dest.into_pyobject(py)
}

/// Every message of a log as dicts, in file order: ``seq``, ``timestamp``
/// (RFC 3339 as stored), ``role``, ``content``, ``source``, ``turn``,
/// ``interrupted``, ``speaker``, ``lang``, ``meta``.
#[pyfunction]
#[pyo3(signature = (path, *, recovery = "tolerate-tail"))]
fn messages<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    recovery: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let log = path_arg(path)?;
    let rows = py
        .detach(|| engine::messages(&log, recovery))
        .map_err(|e| to_pyerr(py, &e, Some(&log)))?;
    let list = PyList::empty(py);
    for r in rows {
        let d = PyDict::new(py);
        d.set_item("seq", r.seq)?;
        d.set_item("timestamp", r.ts)?;
        d.set_item("role", r.role.as_str())?;
        d.set_item("content", r.content)?;
        d.set_item("source", r.source)?;
        d.set_item("turn", r.turn)?;
        d.set_item("interrupted", r.interrupted)?;
        d.set_item("speaker", r.speaker)?;
        d.set_item("lang", r.lang)?;
        match r.meta {
            Some(raw) => {
                static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
                d.set_item("meta", cached(py, &LOADS, "json", "loads")?.call1((raw,))?)?
            }
            None => d.set_item("meta", py.None())?,
        }
        list.append(d)?;
    }
    list.try_iter().map(|i| i.into_any())
}

#[pymodule]
fn _convlog(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Session>()?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(export, m)?)?;
    m.add_function(wrap_pyfunction!(messages, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let hook = wrap_pyfunction!(_at_exit, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
