//! `convlog.Session`: one log open for appending, and its options.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use convlog::Message;

use crate::echo::echo;
use crate::engine::{self, Engine, Settings};
use crate::errors::{invalid, to_pyerr, warn};
use crate::livekit;
use crate::message::{Mode, MsgArgs, mark_repaired, recorder_text};
use crate::waiting::{self, Waiter};

/// The keyword options of `Session.create`/`open`, which the recorders
/// pass through: the one list (exported as `SESSION_OPTIONS`) that both
/// the binding and the recorders check against.
pub const OPTIONS: [&str; 7] = [
    "max_content_bytes",
    "export_on_end",
    "lock_timeout",
    "echo",
    "redact",
    "redact_key",
    "redactor",
];

/// The options as read from the keywords; see [`OPTIONS`].
struct SessionOptions {
    settings: Settings,
    echo: bool,
    /// `redactor=`: the caller's own detector, run on the content first.
    redactor: Option<Py<PyAny>>,
}

impl SessionOptions {
    fn parse(
        py: Python<'_>,
        func: &str,
        kw: Option<&Bound<'_, PyDict>>,
        path: &std::path::Path,
    ) -> PyResult<SessionOptions> {
        let mut o = SessionOptions {
            settings: Settings::default(),
            echo: true,
            redactor: None,
        };
        let Some(kw) = kw else { return Ok(o) };
        let (mut kinds, mut key_file) = (None::<String>, None::<PathBuf>);
        for (k, v) in kw.iter() {
            let key = k.cast::<PyString>()?.to_str()?.to_owned();
            let none = v.is_none();
            match key.as_str() {
                "max_content_bytes" if !none => o.settings.max_content_bytes = Some(v.extract()?),
                "export_on_end" if !none => o.settings.export_on_end = Some(v.extract()?),
                "lock_timeout" if !none => o.settings.lock_timeout = Some(v.extract()?),
                "echo" => o.echo = none || v.extract()?,
                "redact" if !none => kinds = Some(v.extract()?),
                "redact_key" if !none => key_file = Some(v.extract()?),
                "redactor" if !none => o.redactor = Some(v.unbind()),
                k if OPTIONS.contains(&k) => {}
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "{func}() got an unexpected keyword argument '{other}'"
                    )));
                }
            }
        }
        o.settings.redact =
            policy(kinds.as_deref(), key_file).map_err(|e| to_pyerr(py, &e, Some(path)))?;
        Ok(o)
    }
}

/// The policy `redact=` and `redact_key=` ask for: kinds as in the CLI
/// (`"card,phone"`, `"all"`), the key file read now, so that an unknown
/// kind or a missing key fails when the session opens, never per message.
fn policy(kinds: Option<&str>, key: Option<PathBuf>) -> engine::Result<convlog::redact::Policy> {
    let policy = match kinds {
        Some(kinds) => convlog::redact::Policy::parse(kinds)?,
        None if key.is_some() => {
            return Err(engine::Error::InvalidInput(
                "redact_key needs redact= (the kinds to redact)".into(),
            ));
        }
        None => convlog::redact::Policy::none(),
    };
    match key {
        Some(k) => policy.key_file(k),
        None => Ok(policy),
    }
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
pub struct Session {
    pub(crate) engine: Arc<Engine>,
    ended: AtomicBool,
    echo: bool,
    /// The library redacts what it writes; the echo, printed here before
    /// the write, shows the same redacted text.
    policy: convlog::redact::Policy,
    redactor: Option<Py<PyAny>>,
}

#[pymethods]
impl Session {
    /// Creates a new log ``conversation_YYYYMMDD_HHMMSS.jsonl`` in ``dir``
    /// (made 0700 if missing). Options: ``max_content_bytes``,
    /// ``export_on_end``, ``lock_timeout`` (seconds) and ``echo``.
    #[staticmethod]
    #[pyo3(signature = (dir = PathBuf::from("conversations"), **options))]
    fn create(
        py: Python<'_>,
        dir: PathBuf,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Session> {
        let o = SessionOptions::parse(py, "create", options, &dir)?;
        let engine = py
            .detach(|| Engine::create(&dir, &o.settings))
            .map_err(|e| to_pyerr(py, &e, Some(&dir)))?;
        Ok(Session::new(engine, o))
    }

    /// Reopens an existing log to append to it. An ended log is refused.
    /// Takes the options of :meth:`create`.
    #[staticmethod]
    #[pyo3(signature = (path, **options))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Session> {
        let o = SessionOptions::parse(py, "open", options, &path)?;
        let engine = py
            .detach(|| Engine::open(&path, &o.settings))
            .map_err(|e| to_pyerr(py, &e, Some(&path)))?;
        Ok(Session::new(engine, o))
    }

    /// ``log(role, content, source="python", *, turn=None,
    /// interrupted=False, speaker=None, lang=None, meta=None,
    /// timestamp=None)``: queues a message and returns at once. It never
    /// waits on the disk and never raises for a disk error: such an error is
    /// logged to the ``convlog`` logger and kept in :attr:`last_error`. It
    /// raises only for a message that can never be written (bad role,
    /// content over the limit, bad ``meta`` or ``timestamp``) and after
    /// :meth:`end`.
    #[pyo3(signature = (*args, **kwargs))]
    fn log(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let m = self.prepare(py, MsgArgs::parse("log", args, kwargs)?, Mode::Strict)?;
        self.queue(py, m);
        Ok(())
    }

    /// What the recorders call: :meth:`log` that never drops a message.
    /// Content over ``max_content_bytes`` is stored as several records of
    /// one turn that every export joins back byte for byte; what cannot be
    /// stored exactly (an unpaired surrogate, a ``meta`` value that is not
    /// JSON) is stored as near as it can be and listed in the record's
    /// ``meta["convlog.repaired"]``. Returns False after :meth:`end`.
    #[pyo3(signature = (*args, **kwargs))]
    fn _record(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<bool> {
        if self.ended() {
            return Ok(false);
        }
        let msg = MsgArgs::parse("_record", args, kwargs)?
            .convert(py, Mode::Lenient)?
            .map_err(|e| invalid(py, e, Some(self.engine.path())))?;
        self.record(py, msg)
    }

    /// What the LiveKit recorder calls for each history item: ``role``,
    /// ``content`` and ``source`` as it worked them out, and the
    /// ``ChatMessage`` itself, whose id, flag, ``created_at``, confidence
    /// and metrics are read here in one call (see ``livekit.rs``).
    /// ``replaces`` names the streamed fragments this record replaces.
    /// Stores what :meth:`_record` stores; returns False after :meth:`end`.
    #[pyo3(signature = (role, content, source, item, replaces = None))]
    fn _record_item(
        &self,
        py: Python<'_>,
        role: &Bound<'_, PyAny>,
        content: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
        item: &Bound<'_, PyAny>,
        replaces: Option<String>,
    ) -> PyResult<bool> {
        if self.ended() {
            return Ok(false);
        }
        let mut repaired = Vec::new();
        let role = recorder_text(role, "role", &mut repaired)?
            .parse()
            .map_err(|e| self.err(py, &e))?;
        let content = recorder_text(content, "content", &mut repaired)?;
        let source = recorder_text(source, "source", &mut repaired)?;
        let item = livekit::Fields::of(item);
        let mut msg = livekit::item_message(py, role, &content, &source, &item, replaces)?;
        mark_repaired(&mut msg, repaired);
        self.record(py, msg)
    }

    /// Makes, on the calling thread, what the first recorded message would
    /// otherwise make on the agent's event loop: the local time zone's
    /// table (kept per thread), the interned names and the logger's bound
    /// method. The recorders call it when they start.
    fn _warm(&self, py: Python<'_>) -> PyResult<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let _ = engine::epoch_to_rfc3339(now);
        livekit::warm(py)?;
        if self.echo {
            echo(py, "", "")?;
        }
        Ok(())
    }

    /// :meth:`log`'s arguments: appends a message and returns its seq once
    /// it is fdatasynced (``None`` for blank content, which is skipped).
    /// The GIL is released while it waits.
    #[pyo3(signature = (*args, **kwargs))]
    fn append(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Option<u64>> {
        let m = self.prepare(py, MsgArgs::parse("append", args, kwargs)?, Mode::Strict)?;
        py.detach(|| self.engine.append_blocking(m))
            .map_err(|e| self.err(py, &e))
    }

    /// :meth:`append` as an awaitable. The record is queued when this is
    /// called and committed off the event loop; the thread that committed it
    /// completes the asyncio future, so no fsync runs on the loop's thread.
    /// Cancelling the await does not cancel the write.
    #[pyo3(signature = (*args, **kwargs))]
    fn append_async<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = self.prepare(
            py,
            MsgArgs::parse("append_async", args, kwargs)?,
            Mode::Strict,
        )?;
        let (fut, waiter) = Waiter::new(py, self.path())?;
        if waiting::exiting() {
            let r = py.detach(|| self.engine.append_blocking(m));
            waiter.settle_now(py, r, seq_obj)?;
        } else {
            self.engine
                .append_then(m, move |r| waiter.finish(r, seq_obj));
        }
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
        if waiting::exiting() {
            let r = py.detach(|| self.engine.flush_blocking());
            waiter.settle_now(py, r, none_obj)?;
        } else {
            self.engine.flush_then(move |r| waiter.finish(r, none_obj));
        }
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
        if waiting::exiting() {
            let r = py.detach(|| self.engine.end_blocking());
            waiter.settle_now(py, r, export_obj)?;
        } else {
            self.engine.end_then(move |r| waiter.finish(r, export_obj));
        }
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

    /// The first failure of a write, as text, if any.
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
    pub(crate) fn ended(&self) -> bool {
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
        let no = PyBool::new(py, false).to_owned().into_any().unbind();
        if self.ended.swap(true, Ordering::AcqRel) {
            waiter.resolve_now(py, no)?;
            return Ok(fut);
        }
        let swallow = !exc_type.is_none();
        if waiting::exiting() {
            match py.detach(|| self.engine.end_blocking()) {
                Err(e) if swallow => {
                    warn(py, &e.to_string());
                    waiter.resolve_now(py, no)?;
                }
                r => waiter.settle_now(py, r, false_obj)?,
            }
            return Ok(fut);
        }
        self.engine.end_then(move |r| match r {
            Err(e) if swallow => waiter.finish_logged(&e),
            r => waiter.finish(r, false_obj),
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
    fn new(engine: Engine, o: SessionOptions) -> Session {
        let engine = Arc::new(engine);
        waiting::register(&engine);
        // What the library applies, the log's own policy included: a log
        // created with `redact=` echoes redacted when reopened without it.
        let policy = engine.redaction().clone();
        Session {
            engine,
            ended: AtomicBool::new(false),
            echo: o.echo,
            policy,
            redactor: o.redactor,
        }
    }

    /// The caller's `redactor` (Presidio, say) sees the text first; its
    /// result is what the library's own detectors then read.
    fn run_redactor(&self, py: Python<'_>, content: &mut String) -> PyResult<()> {
        if let Some(redactor) = &self.redactor {
            let out = redactor.call1(py, (content.as_str(),))?;
            *content = out
                .extract::<String>(py)
                .map_err(|_| PyTypeError::new_err("redactor must return a str"))?;
        }
        Ok(())
    }

    /// `[USER] …` with the session's redaction, as the log will hold it.
    fn echo_redacted(&self, py: Python<'_>, tag: &str, content: &str) -> PyResult<()> {
        match self.policy.redact(content) {
            Some(r) => echo(py, tag, &r.text),
            None => echo(py, tag, content),
        }
    }

    fn err(&self, py: Python<'_>, e: &engine::Error) -> PyErr {
        to_pyerr(py, e, Some(self.engine.path()))
    }

    /// Converts the arguments into a checked message, refusing after `end`,
    /// and prints the console line.
    fn prepare(&self, py: Python<'_>, args: MsgArgs<'_>, mode: Mode) -> PyResult<engine::Prepared> {
        let path = self.engine.path();
        let mut msg = args
            .convert(py, mode)?
            .map_err(|e| invalid(py, e, Some(path)))?;
        self.run_redactor(py, &mut msg.content)?;
        if self.ended() {
            return Err(self.err(
                py,
                &engine::Error::Ended {
                    path: path.to_path_buf(),
                },
            ));
        }
        let m = self.engine.check(msg).map_err(|e| self.err(py, &e))?;
        if self.echo && !m.content.trim().is_empty() {
            self.echo_redacted(py, m.role.tag(), &m.content)?;
        }
        Ok(m)
    }

    /// Echoes and queues a recorder's message, whole: as parts when it is
    /// over the limit.
    pub(crate) fn record(&self, py: Python<'_>, mut msg: Message) -> PyResult<bool> {
        self.run_redactor(py, &mut msg.content)?;
        self.record_redacted(py, msg)
    }

    /// [`Session::record`] after the caller's `redactor`.
    fn record_redacted(&self, py: Python<'_>, msg: Message) -> PyResult<bool> {
        if self.echo && !msg.content.trim().is_empty() {
            self.echo_redacted(py, msg.role.tag(), &msg.content)?;
        }
        let parts = self.engine.whole(msg).map_err(|e| self.err(py, &e))?;
        for m in parts {
            self.queue(py, m);
        }
        Ok(true)
    }

    /// [`Session::record`] for a message made on the log's committing
    /// thread: after the caller's `redactor`, `write` puts the makings of
    /// the message with this `content` into one of the log's buffers and
    /// `build` makes the message from them there (see
    /// `convlog::Session::log_deferred`), so the event loop's thread only
    /// echoes, copies and queues. A message over the limit (split into
    /// parts here) or one recorded after a failure (said through Python's
    /// logging here) is made and recorded now.
    pub(crate) fn record_deferred(
        &self,
        py: Python<'_>,
        role: convlog::record::Role,
        mut content: String,
        write: impl FnOnce(&str, &mut Vec<u8>),
        build: fn(&[u8]) -> Option<Message>,
    ) -> PyResult<bool> {
        self.run_redactor(py, &mut content)?;
        if content.len() > self.engine.limit() || self.engine.has_error() {
            let mut bytes = Vec::new();
            write(&content, &mut bytes);
            let msg = build(&bytes).ok_or_else(|| {
                pyo3::exceptions::PyRuntimeError::new_err("convlog: a message did not read back")
            })?;
            return self.record_redacted(py, msg);
        }
        if self.echo && !content.trim().is_empty() {
            self.echo_redacted(py, role.tag(), &content)?;
        }
        self.engine.log_deferred(|out| write(&content, out), build);
        Ok(true)
    }

    /// Queues `m`; the first failure to queue is said once through Python's
    /// logging, where the host's config applies (the library logs through
    /// Rust's `tracing`, which Python does not see).
    pub(crate) fn queue(&self, py: Python<'_>, e: impl Into<convlog::Entry>) {
        let had_error = self.engine.has_error();
        self.engine.log(e);
        if !had_error && let Some(err) = self.engine.last_error() {
            warn(py, &err);
        }
    }
}

// What each awaitable resolves to.

fn seq_obj(py: Python<'_>, seq: Option<u64>) -> PyResult<Bound<'_, PyAny>> {
    seq.into_bound_py_any(py)
}

fn none_obj(py: Python<'_>, _: ()) -> PyResult<Bound<'_, PyAny>> {
    Ok(py.None().into_bound(py))
}

fn export_obj(py: Python<'_>, e: engine::Ended) -> PyResult<Bound<'_, PyAny>> {
    match e.export {
        Some(p) => p.into_pyobject(py),
        None => Ok(py.None().into_bound(py)),
    }
}

fn false_obj(py: Python<'_>, _: engine::Ended) -> PyResult<Bound<'_, PyAny>> {
    Ok(PyBool::new(py, false).to_owned().into_any())
}
