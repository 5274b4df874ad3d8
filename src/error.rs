//! One error type for the whole library.
//!
//! Every variant that concerns a file carries its path, because an error
//! read in a voice agent's log at 3 a.m. must say *which* transcript is in
//! trouble without a backtrace.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything that can go wrong in convlog.
///
/// `Clone`, because one failed commit answers every request of its batch,
/// and each caller must see the same variant (a `LockTimeout` to retry, an
/// I/O error's kind), not a description of it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call failed on `path`.
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// What convlog was doing, e.g. "fdatasync".
        action: &'static str,
        /// The underlying error, shared by every clone.
        source: Arc<io::Error>,
    },
    /// A role other than `user` or `agent`. The text is the whole message,
    /// naming the role given and the valid ones: it is built where the
    /// roles are known ([`Role`](crate::Role)'s parser), so that this
    /// module, which every other one uses, depends on none of them.
    InvalidRole(String),
    /// Content over [`Options::max_content_bytes`](crate::Options::max_content_bytes).
    ContentTooLarge {
        /// Size of the rejected content in bytes.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A caller-supplied value is malformed (a timestamp, a `meta` that is not an object, …).
    InvalidInput(String),
    /// The session already has an end record; nothing may follow it.
    #[allow(missing_docs)] // the fields' names say it
    Ended { path: PathBuf },
    /// An earlier write or fdatasync failed, so this writer refuses all further appends.
    ///
    /// After a failed fsync the kernel may have dropped the dirty pages and
    /// cleared the error, so retrying could report success for data that is
    /// gone ("fsyncgate"). The only honest answer is to stop.
    #[allow(missing_docs)] // the fields' names say it
    Poisoned {
        path: PathBuf,
        /// The first failure, as text.
        cause: String,
    },
    /// The file is not a convlog log, or a version this build does not read.
    #[allow(missing_docs)] // the fields' names say it
    NotALog { path: PathBuf, reason: String },
    /// The log is damaged in a way the chosen recovery mode does not accept.
    #[allow(missing_docs)] // the fields' names say it
    Damaged {
        path: PathBuf,
        /// 1-based line number of the first unacceptable damage.
        line: u64,
        /// Byte offset where that line starts.
        offset: u64,
        reason: String,
    },
    /// The log's header carries a redaction policy this writer cannot
    /// apply as the log asks (its key was not given, or a kind this build
    /// does not know), so nothing is written rather than raw text.
    #[allow(missing_docs)] // the fields' names say it
    Policy { path: PathBuf, reason: String },
    /// Another process held the log's lock for longer than the configured timeout.
    #[allow(missing_docs)] // the fields' names say it
    LockTimeout {
        path: PathBuf,
        waited: std::time::Duration,
    },
    /// A request was dropped before it was answered: whoever was committing
    /// it went away (a panic, or the process shutting down). Whether it
    /// reached the disk is unknown.
    #[allow(missing_docs)] // the fields' names say it
    WriterGone { path: PathBuf },
    /// A value given for the log at `path` was rejected (an invalid role,
    /// timestamp, `meta`, or content over the limit): `source` says which.
    Rejected {
        /// The log the value was meant for.
        path: PathBuf,
        /// The validation error.
        source: Box<Error>,
    },
    /// A failure inside convlog, not caused by the caller's input: a helper
    /// thread that panicked, a state that should not occur. Unlike
    /// [`Error::InvalidInput`] it is never a finding about a file.
    Internal(String),
    /// [`global`](crate::global) was used before [`global::init`](crate::global::init), or initialised twice.
    DefaultSession(&'static str),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error about `path` while doing `action`.
    pub fn io(path: &Path, action: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            action,
            source: Arc::new(source),
        }
    }

    /// Names `path` in a validation error that names no file, so that a
    /// rejected value always says which log it was meant for. Errors that
    /// already name a file are returned as they are.
    pub fn in_file(self, path: &Path) -> Error {
        match self {
            Error::InvalidRole(_) | Error::ContentTooLarge { .. } | Error::InvalidInput(_) => {
                Error::Rejected {
                    path: path.to_path_buf(),
                    source: Box::new(self),
                }
            }
            other => other,
        }
    }

    /// True for a rejected value (role, timestamp, `meta`, size), with or
    /// without the log it was meant for.
    pub fn is_rejected_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidRole(_)
                | Error::ContentTooLarge { .. }
                | Error::InvalidInput(_)
                | Error::Rejected { .. }
        )
    }

    /// The file this error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Ended { path }
            | Error::Poisoned { path, .. }
            | Error::NotALog { path, .. }
            | Error::Policy { path, .. }
            | Error::Damaged { path, .. }
            | Error::LockTimeout { path, .. }
            | Error::Rejected { path, .. }
            | Error::WriterGone { path } => Some(path),
            _ => None,
        }
    }

    /// True when the underlying cause is a closed pipe (a reader such as `head` went away).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                path,
                action,
                source,
            } => write!(f, "{}: {action} failed: {source}", path.display()),
            Error::InvalidRole(msg) => f.write_str(msg),
            Error::ContentTooLarge { len, limit } => {
                write!(f, "content is {len} bytes, over the limit of {limit} bytes")
            }
            Error::InvalidInput(msg) => f.write_str(msg),
            Error::Ended { path } => write!(
                f,
                "{}: the session has ended; nothing can be appended after its end record",
                path.display()
            ),
            Error::Poisoned { path, cause } => write!(
                f,
                "{}: writer is broken after an earlier failure ({cause}); no further appends are accepted",
                path.display()
            ),
            Error::NotALog { path, reason } => {
                write!(f, "{}: not a convlog log: {reason}", path.display())
            }
            Error::Policy { path, reason } => write!(f, "{}: {reason}", path.display()),
            Error::Damaged {
                path,
                line,
                offset,
                reason,
            } => write!(
                f,
                "{}: line {line} (byte {offset}): {reason}",
                path.display()
            ),
            Error::LockTimeout { path, waited } => write!(
                f,
                "{}: another process held the log's lock for over {:.1}s",
                path.display(),
                waited.as_secs_f64()
            ),
            Error::WriterGone { path } => {
                write!(
                    f,
                    "{}: the request was dropped before it was committed (is the process shutting down?)",
                    path.display()
                )
            }
            Error::Rejected { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Internal(msg) => write!(f, "internal error: {msg}"),
            Error::DefaultSession(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source.as_ref()),
            Error::Rejected { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
