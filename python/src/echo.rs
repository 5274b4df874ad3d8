//! The console line of each message, `[USER] …` / `[AGENT] …`, through
//! Python's `logging`, asked for on the event loop's thread at every
//! message and so answered from the logger's own cache.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyInt};

use crate::errors::logger;

/// `[USER] …` / `[AGENT] …` at INFO through Python's logging, as the original
/// design printed them, so the host's logging config decides their form.
pub fn echo(py: Python<'_>, tag: &str, content: &str) -> PyResult<()> {
    if info_enabled(py)? && !content.is_empty() {
        logger(py)?.call_method1("info", ("[%s] %s", tag, content))?;
    }
    Ok(())
}

/// `logger.isEnabledFor(INFO)`, asked for every message: read from the
/// logger's own answer cache (`Logger._cache`, which `logging` empties
/// whenever a level changes) with one dict lookup, calling
/// `isEnabledFor` only when the cache holds no answer (or the logger has
/// no such cache).
fn info_enabled(py: Python<'_>) -> PyResult<bool> {
    static CACHE: PyOnceLock<Option<Py<PyDict>>> = PyOnceLock::new();
    static INFO: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let info = INFO.get_or_init(py, || PyInt::new(py, 20).into_any().unbind());
    let cache = CACHE.get_or_try_init(py, || {
        Ok::<_, PyErr>(
            logger(py)?
                .getattr("_cache")
                .ok()
                .and_then(|c| c.cast_into::<PyDict>().ok())
                .map(Bound::unbind),
        )
    })?;
    if let Some(answer) = cache
        .as_ref()
        .map(|c| c.bind(py).get_item(info.bind(py)))
        .transpose()?
        .flatten()
    {
        return answer.is_truthy();
    }
    logger(py)?
        .call_method1(pyo3::intern!(py, "isEnabledFor"), (info,))?
        .is_truthy()
}
