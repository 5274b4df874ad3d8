//! A process-wide default session, for code that cannot pass a handle
//! around: the original design's `config.py` pattern, where the STT and TTS
//! plugins found the log through a module global.
//!
//! ```no_run
//! # async fn demo() -> convlog::Result<()> {
//! convlog::global::init(convlog::Session::create("conversations")?)?;
//! // …later, anywhere in the process:
//! convlog::global::log(convlog::Message::user("hello", "deepgram_stt"))?;
//! # Ok(()) }
//! ```

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::record::Message;
use crate::session::Session;

static DEFAULT: OnceLock<Session> = OnceLock::new();

/// Sets the default session. It can be set once per process.
pub fn init(session: Session) -> Result<()> {
    DEFAULT
        .set(session)
        .map_err(|_| Error::DefaultSession("the default convlog session is already initialised"))
}

/// The default session, or a clear error if [`init`] has not been called.
pub fn session() -> Result<Session> {
    DEFAULT.get().cloned().ok_or(Error::DefaultSession(
        "no default convlog session: call convlog::global::init first",
    ))
}

/// Logs through the default session without waiting for durability.
pub fn log(msg: Message) -> Result<()> {
    session()?.log(msg);
    Ok(())
}

/// Appends through the default session and waits until it is durable.
pub async fn append(msg: Message) -> Result<Option<u64>> {
    session()?.append(msg).await
}

/// Appends through the default session and blocks until it is durable, for
/// a thread that may wait (see [`Session::append_blocking`]).
pub fn append_blocking(msg: Message) -> Result<Option<u64>> {
    session()?.append_blocking(msg)
}
