//! The one place this binding calls into the convlog library.
//!
//! Python needs two shapes of each write: a blocking call, made with the
//! GIL released, which commits on the calling thread when nobody else is
//! committing (the library's `*_blocking` forms); and a callback run once
//! the record is durable, on the thread that committed it (the `*_with`
//! forms), so an asyncio future is completed with one hand-off back to its
//! loop and no fsync ever runs on the loop's thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use convlog::read::{self, Recovery};
use convlog::{ExportOptions, Message, Options, TimestampStyle};

pub use convlog::Error;
/// A message checked and ready to queue.
pub use convlog::Message as Prepared;
pub type Result<T, E = Error> = std::result::Result<T, E>;
/// A log's messages, read as they are asked for.
pub type MessageRows = convlog::Messages;

/// The `meta` key marking a streamed reply's final record (see `convlog::parts`).
pub use convlog::parts::REPLACES;

/// Session settings as Python passes them.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub max_content_bytes: Option<usize>,
    pub export_on_end: Option<bool>,
    pub lock_timeout: Option<f64>,
    /// What the library redacts before encoding (`redact=`, `redact_key=`).
    pub redact: convlog::redact::Policy,
}

impl Settings {
    fn options(&self) -> Result<Options> {
        // The binding echoes through Python's `logging` instead.
        let mut o = Options::default().echo(false).redact(self.redact.clone());
        if let Some(n) = self.max_content_bytes {
            o.max_content_bytes = n;
        }
        if let Some(e) = self.export_on_end {
            o.export_on_end = e;
        }
        if let Some(secs) = self.lock_timeout {
            o.lock_timeout = Some(Duration::try_from_secs_f64(secs).map_err(|_| {
                Error::InvalidInput(format!(
                    "lock_timeout must be a non-negative number of seconds, not {secs}"
                ))
            })?);
        }
        Ok(o)
    }
}

/// What ending a session produced.
pub struct Ended {
    pub export: Option<PathBuf>,
}

/// An open log.
pub struct Engine {
    s: convlog::Session,
    /// The session's `max_content_bytes`: larger content is split into parts.
    limit: usize,
    /// Set when the end is asked for: an ended log takes nothing more, so
    /// the exit hook has nothing of it to commit.
    ended: AtomicBool,
}

impl Engine {
    pub fn create(dir: &Path, settings: &Settings) -> Result<Engine> {
        let o = settings.options()?;
        Ok(Engine {
            limit: o.max_content_bytes,
            s: convlog::Session::create_with(dir, o)?,
            ended: AtomicBool::new(false),
        })
    }

    pub fn open(path: &Path, settings: &Settings) -> Result<Engine> {
        let o = settings.options()?;
        Ok(Engine {
            limit: o.max_content_bytes,
            s: convlog::Session::open_with(path, o)?,
            ended: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        self.s.path()
    }

    pub fn id(&self) -> &str {
        self.s.id()
    }

    /// The policy the library applies, the log's own included.
    pub fn redaction(&self) -> &convlog::redact::Policy {
        self.s.redaction()
    }

    pub fn last_error(&self) -> Option<String> {
        self.s.last_error()
    }

    pub fn has_error(&self) -> bool {
        self.s.last_error().is_some()
    }

    pub fn is_broken(&self) -> bool {
        self.s.is_broken()
    }

    /// `msg` checked, as one record or, when its content is over the
    /// session's limit, as the parts that every export joins back (see
    /// `convlog::parts`).
    pub fn whole(&self, msg: Message) -> Result<Vec<Message>> {
        let parts = convlog::parts::split(msg, self.limit);
        // One record is checked by `log` itself (a refusal goes to
        // `last_error`); parts are checked first, so that none is queued
        // unless all can be.
        if parts.len() > 1 {
            for p in &parts {
                self.s.check(p)?;
            }
        }
        Ok(parts)
    }

    /// The session's `max_content_bytes`.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Queues a message `build` makes from what `write` writes, on the
    /// committing thread (see `convlog::Session::log_deferred`).
    pub fn log_deferred(
        &self,
        write: impl FnOnce(&mut Vec<u8>),
        build: fn(&[u8]) -> Option<Message>,
    ) {
        self.s.log_deferred(write, build);
    }

    /// Validates `msg` as an append would, and returns it ready to queue.
    pub fn check(&self, msg: Message) -> Result<Message> {
        self.s.check(&msg)?;
        Ok(msg)
    }

    /// Queues a message, tool call or handoff without waiting; a failure to
    /// queue goes to `last_error`.
    pub fn log(&self, e: impl Into<convlog::Entry>) {
        self.s.log(e);
    }

    /// Blocks the calling thread until `m` is durable; a lone caller
    /// commits here.
    pub fn append_blocking(&self, m: Message) -> Result<Option<u64>> {
        self.s.append_blocking(m)
    }

    /// Queues `m` now and runs `done` on the committing thread once it is
    /// durable. `done` must only hand its result on (see
    /// `convlog::Session::append_with`).
    pub fn append_then(&self, m: Message, done: impl FnOnce(Result<Option<u64>>) + Send + 'static) {
        self.s.append_with(m, done);
    }

    pub fn flush_blocking(&self) -> Result<()> {
        self.s.flush_blocking()
    }

    pub fn flush_then(&self, done: impl FnOnce(Result<()>) + Send + 'static) {
        self.s.flush_with(done);
    }

    pub fn end_blocking(&self) -> Result<Ended> {
        self.ended.store(true, Ordering::Release);
        self.s.end_blocking().map(ended)
    }

    pub fn end_then(&self, done: impl FnOnce(Result<Ended>) + Send + 'static) {
        self.ended.store(true, Ordering::Release);
        self.s.end_with(move |r| done(r.map(ended)));
    }

    /// True once the end was asked for (it may still be in flight).
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

fn ended(e: convlog::Ended) -> Ended {
    Ended { export: e.export }
}

/// Refuses text that is not an RFC 3339 timestamp, saying why.
pub fn check_timestamp(ts: &str) -> std::result::Result<(), String> {
    convlog::time::parse_ts(ts)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// RFC 3339 text as the same instant in local time, as the log writes it.
pub fn local_rfc3339(ts: &str) -> std::result::Result<String, String> {
    let t = convlog::time::parse_ts(ts).map_err(|e| e.to_string())?;
    Ok(t.with_timezone(&chrono::Local)
        .fixed_offset()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
}

/// Epoch seconds (LiveKit's `created_at`) as the log's RFC 3339 local time,
/// computed here rather than through Python's `datetime`: this is on the
/// recorder's per-event path.
pub fn epoch_to_rfc3339(secs: f64) -> Option<String> {
    if !secs.is_finite() {
        return None;
    }
    let whole = secs.floor();
    let micros = ((secs - whole) * 1e6).round() as u32;
    let (whole, micros) = if micros >= 1_000_000 {
        (whole as i64 + 1, micros - 1_000_000)
    } else {
        (whole as i64, micros)
    };
    let utc = chrono::DateTime::from_timestamp(whole, micros * 1000)?;
    Some(
        utc.with_timezone(&chrono::Local)
            .fixed_offset()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
    )
}

/// What `convlog verify --json PATH` prints for `path` (never repairing),
/// as JSON text: the library's one description of a log
/// ([`convlog::describe::VerifyReport`]), which the CLI prints too.
pub fn verify(path: &Path) -> Result<String> {
    let r = read::inspect(path)?;
    let v = convlog::describe::VerifyReport::new(path, &r, None);
    serde_json::to_string(&v)
        .map_err(|e| Error::InvalidInput(format!("cannot describe the log as JSON: {e}")))
}

fn export_options(
    timestamps: &str,
    merge: bool,
    recovery: &str,
    tools: Option<bool>,
) -> Result<ExportOptions> {
    Ok(ExportOptions {
        timestamps: timestamps.parse::<TimestampStyle>()?,
        no_merge: !merge,
        recovery: recovery.parse::<Recovery>()?,
        tools,
        redact: Default::default(),
    })
}

/// Where an export of `log` in `format` goes when no destination is given.
pub fn default_export_path(log: &Path, format: &str) -> Result<PathBuf> {
    let f: convlog::Format = format.parse()?;
    Ok(log.with_extension(f.extension()))
}

/// Renders `log` atomically into the file `out`.
pub fn export_file(
    log: &Path,
    out: &Path,
    format: &str,
    timestamps: &str,
    merge: bool,
    recovery: &str,
    tools: Option<bool>,
) -> Result<()> {
    let f: convlog::Format = format.parse()?;
    let opts = export_options(timestamps, merge, recovery, tools)?;
    convlog::export::export_file(log, out, f, &opts)?;
    Ok(())
}

/// Renders `log` into memory, for `out="-"`.
pub fn export_bytes(
    log: &Path,
    format: &str,
    timestamps: &str,
    merge: bool,
    recovery: &str,
    tools: Option<bool>,
) -> Result<Vec<u8>> {
    let f: convlog::Format = format.parse()?;
    let opts = export_options(timestamps, merge, recovery, tools)?;
    let mut buf = Vec::new();
    convlog::export::render(log, f, &mut buf, Path::new("<memory>"), &opts)?;
    Ok(buf)
}

/// The message records of `log` under `recovery`, in file order, read
/// lazily once the whole log has been checked.
pub fn messages(log: &Path, recovery: &str) -> Result<MessageRows> {
    let mode = recovery.parse::<Recovery>()?;
    read::messages(log, mode)
}

/// Which Python exception class an error maps to.
pub enum Kind {
    Ended,
    WriterBroken,
    ContentTooLarge,
    LockTimeout,
    NotALog,
    InvalidMessage,
    Damaged,
    Storage,
    Other,
}

pub fn kind(e: &Error) -> Kind {
    match e {
        Error::Ended { .. } => Kind::Ended,
        Error::Poisoned { .. } | Error::WriterGone { .. } => Kind::WriterBroken,
        Error::ContentTooLarge { .. } => Kind::ContentTooLarge,
        Error::LockTimeout { .. } => Kind::LockTimeout,
        Error::NotALog { .. } => Kind::NotALog,
        Error::InvalidRole(_) | Error::InvalidInput(_) => Kind::InvalidMessage,
        Error::Rejected { source, .. } => kind(source),
        Error::Damaged { .. } => Kind::Damaged,
        Error::Io { .. } => Kind::Storage,
        _ => Kind::Other,
    }
}

/// The errno of an I/O error, for `OSError.errno`.
pub fn errno(e: &Error) -> Option<i32> {
    match e {
        Error::Io { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

/// The error's own path, if it names one.
pub fn error_path(e: &Error) -> Option<&Path> {
    e.path()
}

pub fn invalid(msg: String) -> Error {
    Error::InvalidInput(msg)
}
