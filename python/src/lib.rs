//! `convlog._convlog`: the compiled half of the `convlog` Python package.
//!
//! Python sees [`session::Session`] and the reading functions of [`read`];
//! everything that touches the library goes through [`engine`], every
//! message's arguments through [`message`], every error through [`errors`],
//! and every awaitable through [`waiting`]. Every call that can wait on a
//! disk or a lock runs with the GIL released.

mod echo;
mod engine;
mod errors;
mod item;
mod livekit;
mod message;
mod pipecat;
mod read;
mod session;
mod tool;
mod waiting;

use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;

#[pymodule]
fn _convlog(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<session::Session>()?;
    m.add_class::<read::MessageIter>()?;
    m.add_class::<livekit::Items>()?;
    m.add_class::<pipecat::PipecatHandler>()?;
    m.add_function(wrap_pyfunction!(livekit::_vendor, m)?)?;
    m.add_function(wrap_pyfunction!(read::verify, m)?)?;
    m.add_function(wrap_pyfunction!(read::export, m)?)?;
    m.add_function(wrap_pyfunction!(read::messages, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SESSION_OPTIONS", session::OPTIONS.to_vec())?;
    m.add("REPAIRED", message::REPAIRED)?;
    let hook = wrap_pyfunction!(waiting::_at_exit, m)?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    errors::warm(py)?;
    Ok(())
}

/// Locks `m`, taking the data back from a panic elsewhere: every value
/// behind these mutexes is whole after each single update.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
