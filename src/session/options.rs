//! How a session behaves, and the bounds its settings are checked against
//! before a log is opened.

use std::fmt;
#[cfg(feature = "__test_hooks")]
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
#[cfg(feature = "__test_hooks")]
use crate::log::commit::{IoHooks, RealIo};
use crate::redact::Policy;

/// Default cap on one message's content: 1 MiB.
pub const DEFAULT_MAX_CONTENT_BYTES: usize = 1 << 20;
/// Largest cap [`Options::max_content_bytes`] may be set to: 8 MiB, so that
/// every line fits the reader's buffer cap even with worst-case escaping.
pub const MAX_CONTENT_LIMIT: usize = 8 << 20;

/// How a session behaves. `Options::default()` is what the CLI uses.
///
/// Non-exhaustive, so a new setting is not a breaking change: build one with
/// the setters, `Options::default().echo(false).export_on_end(false)`.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// Content longer than this (in bytes) is rejected. Default 1 MiB, at most [`MAX_CONTENT_LIMIT`].
    pub max_content_bytes: usize,
    /// Render `conversation_….json` beside the log when the session ends. Default on.
    pub export_on_end: bool,
    /// Give up waiting for another process's lock after this long. Default: wait forever.
    pub lock_timeout: Option<Duration>,
    /// Echo each message as `[USER] …` / `[AGENT] …` at INFO through
    /// `tracing`, once it is durable (for [`Session::log`](super::Session::log), once it is
    /// written), so the console never shows a message the log lacks. Default on.
    pub echo: bool,
    /// A batch stops growing at about this many bytes. Default 4 MiB.
    pub max_batch_bytes: usize,
    /// Personal data to redact before a record is encoded, on the caller's
    /// thread: the raw text never reaches the log, the echo, a `.broken`
    /// file or an error. A message's content, a tool call's arguments and
    /// output. Default: none.
    pub redact: Policy,
    /// Write blank content instead of skipping it: only `import`, whose
    /// original file held a blank entry that its export must give back.
    pub(crate) keep_blank: bool,
    /// The disk seam, replaced only to inject faults in tests.
    #[cfg(feature = "__test_hooks")]
    #[doc(hidden)]
    pub io: Arc<dyn IoHooks>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_content_bytes: DEFAULT_MAX_CONTENT_BYTES,
            export_on_end: true,
            lock_timeout: None,
            echo: true,
            max_batch_bytes: 4 << 20,
            redact: Policy::none(),
            keep_blank: false,
            #[cfg(feature = "__test_hooks")]
            io: Arc::new(RealIo),
        }
    }
}

/// Builder-style setters, so that `Options::default().echo(false)` works
/// from outside the crate, where a struct literal cannot name every field.
impl Options {
    /// Sets [`Options::max_content_bytes`].
    pub fn max_content_bytes(mut self, bytes: usize) -> Options {
        self.max_content_bytes = bytes;
        self
    }

    /// Sets [`Options::export_on_end`].
    pub fn export_on_end(mut self, on: bool) -> Options {
        self.export_on_end = on;
        self
    }

    /// Sets [`Options::lock_timeout`].
    pub fn lock_timeout(mut self, timeout: Option<Duration>) -> Options {
        self.lock_timeout = timeout;
        self
    }

    /// Sets [`Options::echo`].
    pub fn echo(mut self, on: bool) -> Options {
        self.echo = on;
        self
    }

    /// Sets [`Options::max_batch_bytes`].
    pub fn max_batch_bytes(mut self, bytes: usize) -> Options {
        self.max_batch_bytes = bytes;
        self
    }

    /// Sets [`Options::redact`].
    pub fn redact(mut self, policy: Policy) -> Options {
        self.redact = policy;
        self
    }

    /// Sets `keep_blank`: write blank content instead of skipping it.
    pub(crate) fn keep_blank(mut self, on: bool) -> Options {
        self.keep_blank = on;
        self
    }

    /// Replaces the disk seam, to inject faults in tests.
    #[cfg(feature = "__test_hooks")]
    #[doc(hidden)]
    pub fn io(mut self, io: Arc<dyn IoHooks>) -> Options {
        self.io = io;
        self
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("max_content_bytes", &self.max_content_bytes)
            .field("export_on_end", &self.export_on_end)
            .field("lock_timeout", &self.lock_timeout)
            .field("echo", &self.echo)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("redact", &self.redact)
            .finish_non_exhaustive()
    }
}

/// Refuses settings no log could honour, before anything is opened.
pub(super) fn check_options(opts: &Options) -> Result<()> {
    if opts.max_content_bytes == 0 || opts.max_content_bytes > MAX_CONTENT_LIMIT {
        return Err(Error::InvalidInput(format!(
            "max_content_bytes must be between 1 and {MAX_CONTENT_LIMIT}"
        )));
    }
    Ok(())
}
