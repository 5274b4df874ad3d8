//! Reading logs from Python: `verify`, `export` and `messages`.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

use crate::engine;
use crate::errors::{cached, invalid, to_pyerr};

fn path_arg(p: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    p.extract::<PathBuf>()
}

/// What ``convlog verify --json PATH`` prints for the log, as a dict with
/// the same keys in the same order: ``path``, ``session``, ``state``
/// (``ended``, ``open`` or ``damaged``), ``start``, ``stop``,
/// ``duration_secs``, ``messages`` (``user``, ``agent``, ``total``),
/// ``damage`` (every damaged line), ``tools`` (``calls``, ``errors``,
/// ``handoffs``), ``seq``, ``bytes``, ``advice`` and
/// ``repair`` (always ``None``: this never repairs).
#[pyfunction]
pub fn verify<'py>(py: Python<'py>, path: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let path = path_arg(path)?;
    let text = py
        .detach(|| engine::verify(&path))
        .map_err(|e| to_pyerr(py, &e, Some(&path)))?;
    cached(py, &LOADS, "json", "loads")?.call1((text,))
}

/// Renders a log. ``out=None`` writes beside the log (``.json`` for JSON)
/// and returns that path; ``out="-"`` returns the text instead of writing a
/// file; any other ``out`` is written atomically and returned. ``tools``:
/// ``True`` shows tool calls and handoffs in every format but subtitles
/// (the documented JSON too), ``False`` in none, ``None`` as the format
/// does by default (jsonl, markdown, text).
#[pyfunction]
#[pyo3(signature = (path, out = None, format = "json", *, timestamps = "documented", merge = true, recovery = "tolerate-tail", tools = None))]
#[allow(clippy::too_many_arguments)]
pub fn export<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    format: &str,
    timestamps: &str,
    merge: bool,
    recovery: &str,
    tools: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let log = path_arg(path)?;
    let to_memory = out.is_some_and(|o| o.cast::<PyString>().is_ok_and(|s| s == "-"));
    if to_memory {
        let bytes = py
            .detach(|| engine::export_bytes(&log, format, timestamps, merge, recovery, tools))
            .map_err(|e| to_pyerr(py, &e, Some(&log)))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| invalid(py, format!("the export is not UTF-8: {e}"), Some(&log)))?;
        return Ok(PyString::new(py, &text).into_any());
    }
    let dest = match out {
        Some(o) if !o.is_none() => path_arg(o)?,
        _ => engine::default_export_path(&log, format).map_err(|e| to_pyerr(py, &e, Some(&log)))?,
    };
    py.detach(|| engine::export_file(&log, &dest, format, timestamps, merge, recovery, tools))
        .map_err(|e| to_pyerr(py, &e, Some(&log)))?;
    dest.into_pyobject(py)
}

/// Every message record of a log as dicts, in file order, read as the
/// iteration goes: ``seq``, ``timestamp`` (RFC 3339 as stored), ``role``,
/// ``content``, ``source``, ``turn``, ``interrupted``, ``speaker``,
/// ``lang``, ``meta``. The whole log is checked (under ``recovery``)
/// before the first message is returned.
#[pyfunction]
#[pyo3(signature = (path, *, recovery = "tolerate-tail"))]
pub fn messages(py: Python<'_>, path: &Bound<'_, PyAny>, recovery: &str) -> PyResult<MessageIter> {
    let log = path_arg(path)?;
    let rows = py
        .detach(|| engine::messages(&log, recovery))
        .map_err(|e| to_pyerr(py, &e, Some(&log)))?;
    Ok(MessageIter {
        path: log,
        rows: Mutex::new(Some(rows)),
    })
}

/// The iterator :func:`messages` returns.
#[pyclass(frozen, module = "convlog", name = "Messages")]
pub struct MessageIter {
    path: PathBuf,
    /// `None` once exhausted or failed.
    rows: Mutex<Option<engine::MessageRows>>,
}

#[pymethods]
impl MessageIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let next = py.detach(|| {
            let mut slot = self.rows.lock().unwrap_or_else(|e| e.into_inner());
            let next = slot.as_mut().and_then(Iterator::next);
            if !matches!(next, Some(Ok(_))) {
                *slot = None;
            }
            next
        });
        match next {
            None => Ok(None),
            Some(Err(e)) => Err(to_pyerr(py, &e, Some(&self.path))),
            Some(Ok(r)) => row(py, r).map(Some),
        }
    }
}

fn row<'py>(py: Python<'py>, r: convlog::LoggedMessage) -> PyResult<Bound<'py, PyDict>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
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
        Some(raw) => d.set_item("meta", cached(py, &LOADS, "json", "loads")?.call1((raw,))?)?,
        None => d.set_item("meta", py.None())?,
    }
    Ok(d)
}
