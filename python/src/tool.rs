//! `Session.log_tool` and `Session.log_handoff`: what
//! the agent did between what it said, as records of their own (see the
//! format's `tool` and `handoff` records).
//!
//! A second `#[pymethods]` block on [`Session`] (PyO3's
//! `multiple-pymethods`), so that the message methods stay where they are.
//! Text arguments are taken lossily (an unpaired surrogate becomes U+FFFD):
//! the recorders call these with whatever a tool returned, and a tool call
//! is never refused for its text. Arguments and outputs that are not
//! strings are stored as JSON (`json.dumps(..., ensure_ascii=False)`), or as
//! their `str()` when they are not JSON.

use convlog::{Entry, Handoff, ToolCall};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString};

use crate::engine;
use crate::errors::{invalid, to_pyerr};
use crate::message::{self, text_lossy};
use crate::session::Session;

/// Text as stored: a `str` as it is, anything else as JSON text, or its
/// `str()` when it is not JSON.
fn text_of(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return text_lossy(s);
    }
    let kw = PyDict::new(py);
    kw.set_item("ensure_ascii", false)?;
    let dumped = py
        .import("json")?
        .call_method("dumps", (v,), Some(&kw))
        .or_else(|_| v.str().map(Bound::into_any))?;
    text_lossy(dumped.cast::<PyString>()?)
}

fn opt_text_of(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match v {
        Some(v) if !v.is_none() => text_of(py, v).map(Some),
        _ => Ok(None),
    }
}

/// A turn or call id: text, or an integer kept as text.
fn id_of(v: Option<&Bound<'_, PyAny>>, what: &str) -> Result<Option<String>, String> {
    match v {
        Some(v) if v.is_none() => Ok(None),
        Some(v) if v.is_instance_of::<PyBool>() => Err(format!("`{what}` must be a string")),
        Some(v) if v.is_instance_of::<PyInt>() => Ok(v.str().ok().map(|s| s.to_string())),
        Some(v) => match v.cast::<PyString>() {
            Ok(s) => text_lossy(s).map(Some).map_err(|e| e.to_string()),
            Err(_) => Err(format!("`{what}` must be a string")),
        },
        None => Ok(None),
    }
}

/// What a tool call and a handoff both take besides their own fields.
struct Common<const N: usize> {
    source: String,
    /// The ids asked for, in the order asked.
    ids: [Option<String>; N],
    meta: Option<serde_json::Value>,
    timestamp: Option<String>,
}

impl<const N: usize> Common<N> {
    /// Checks `meta` and `timestamp` as a message's are, then the `ids`
    /// (turn and call ids: text, or an integer kept as text) in the order
    /// given; the source is `"python"` when not given. `Err` says what is
    /// invalid, the first thing found.
    fn of(
        py: Python<'_>,
        source: Option<&Bound<'_, PyAny>>,
        meta: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
        ids: [(Option<&Bound<'_, PyAny>>, &str); N],
    ) -> PyResult<Result<Common<N>, String>> {
        let (meta, timestamp) = match message::meta_and_timestamp(py, meta, timestamp)? {
            Ok(mt) => mt,
            Err(e) => return Ok(Err(e)),
        };
        let mut checked = [const { None }; N];
        for (slot, (id, what)) in checked.iter_mut().zip(ids) {
            match id_of(id, what) {
                Ok(v) => *slot = v,
                Err(e) => return Ok(Err(e)),
            }
        }
        let source = match source {
            Some(s) if !s.is_none() => text_of(py, s)?,
            _ => "python".to_string(),
        };
        Ok(Ok(Common {
            source,
            ids: checked,
            meta,
            timestamp,
        }))
    }
}

impl Session {
    /// Checks an entry as an append would, refusing after `end`.
    fn checked(&self, py: Python<'_>, built: Result<Entry, String>) -> PyResult<Entry> {
        let path = self.engine.path();
        let entry = built.map_err(|e| invalid(py, e, Some(path)))?;
        if self.ended() {
            let e = engine::Error::Ended {
                path: path.to_path_buf(),
            };
            return Err(to_pyerr(py, &e, None));
        }
        let checked = match &entry {
            Entry::Tool(t) => t.check(),
            Entry::Handoff(h) => h.check(),
            Entry::Message(_) => Ok(()),
        };
        checked.map_err(|e| to_pyerr(py, &e, Some(path)))?;
        Ok(entry)
    }
}

#[pymethods]
impl Session {
    /// Queues a tool call and returns at once, as :meth:`log` does for a
    /// message. ``arguments`` are the model's (a JSON string kept as it
    /// is, or a dict stored as JSON); ``output`` is what the function
    /// returned, or the error it raised with ``error=True``. ``arguments``
    /// and ``output`` longer than 64 KiB are cut and marked with their
    /// full length. ``duration_ms`` is how long the call took;
    /// ``timestamp`` when it was made (default: now). Durable, as a
    /// message is, after the next :meth:`flush`, :meth:`append` or :meth:`end`.
    #[pyo3(signature = (name, arguments = None, output = None, *, source = None, call_id = None, error = false, duration_ms = None, turn = None, meta = None, timestamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn log_tool(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyAny>,
        arguments: Option<&Bound<'_, PyAny>>,
        output: Option<&Bound<'_, PyAny>>,
        source: Option<&Bound<'_, PyAny>>,
        call_id: Option<&Bound<'_, PyAny>>,
        error: bool,
        duration_ms: Option<f64>,
        turn: Option<&Bound<'_, PyAny>>,
        meta: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let built = (|| -> PyResult<Result<Entry, String>> {
            let ids = [(call_id, "call_id"), (turn, "turn")];
            let f = match Common::of(py, source, meta, timestamp, ids)? {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            let [call_id, turn] = f.ids;
            let mut call = ToolCall::new(
                text_of(py, name)?,
                opt_text_of(py, arguments)?.unwrap_or_default(),
                f.source,
            )
            .error(error);
            call.output = opt_text_of(py, output)?;
            call.call_id = call_id;
            call.duration_ms = duration_ms;
            call.turn = turn;
            call.meta = f.meta;
            call.timestamp = f.timestamp;
            Ok(Ok(Entry::Tool(call)))
        })()?;
        let entry = self.checked(py, built)?;
        self.queue(py, entry);
        Ok(())
    }

    /// Queues an agent handoff: the conversation passed from ``from_agent``
    /// (``None`` when unknown) to ``to_agent``.
    #[pyo3(signature = (from_agent, to_agent, *, source = None, turn = None, meta = None, timestamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn log_handoff(
        &self,
        py: Python<'_>,
        from_agent: Option<&Bound<'_, PyAny>>,
        to_agent: &Bound<'_, PyAny>,
        source: Option<&Bound<'_, PyAny>>,
        turn: Option<&Bound<'_, PyAny>>,
        meta: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let built = (|| -> PyResult<Result<Entry, String>> {
            let f = match Common::of(py, source, meta, timestamp, [(turn, "turn")])? {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            let [turn] = f.ids;
            let mut h = Handoff::new(text_of(py, to_agent)?, f.source);
            h.from = opt_text_of(py, from_agent)?;
            h.turn = turn;
            h.meta = f.meta;
            h.timestamp = f.timestamp;
            Ok(Ok(Entry::Handoff(h)))
        })()?;
        let entry = self.checked(py, built)?;
        self.queue(py, entry);
        Ok(())
    }
}
