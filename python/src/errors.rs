//! Library errors as the `convlog._errors` classes, and the `convlog`
//! logger through which the binding says what it cannot raise.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::engine::{self, Kind};

/// Imports `module.name` once per process. Every import the binding needs
/// is made when the module is loaded (see [`warm`]), never on the first
/// message: a first import on an agent's event loop stalls its audio.
pub fn cached<'py>(
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

static ERRORS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception for `e`, naming `path` when the error itself names no file.
pub fn to_pyerr(py: Python<'_>, e: &engine::Error, path: Option<&Path>) -> PyErr {
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
    let module = ERRORS.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("convlog._errors")?.into_any().unbind())
    })?;
    let exc = module.bind(py).getattr(name)?.call1((text,))?;
    exc.setattr("path", named.map(|p| p.display().to_string()))?;
    if let Some(n) = engine::errno(e) {
        exc.setattr("errno", n)?;
    }
    Ok(exc)
}

/// An [`InvalidMessageError`](engine::Kind::InvalidMessage) saying `msg`.
pub fn invalid(py: Python<'_>, msg: String, path: Option<&Path>) -> PyErr {
    to_pyerr(py, &engine::invalid(msg), path)
}

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The `convlog` logger, fetched once.
pub fn logger(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
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

/// Logs `text` at ERROR on the `convlog` logger.
pub fn warn(py: Python<'_>, text: &str) {
    // A failure to log a warning has nowhere left to go.
    let _ = logger(py).and_then(|l| l.call_method1("error", ("%s", text)));
}

/// Makes every import the binding uses on a per-message or completion path
/// now, at import time.
pub fn warm(py: Python<'_>) -> PyResult<()> {
    logger(py)?;
    ERRORS.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("convlog._errors")?.into_any().unbind())
    })?;
    Ok(())
}
