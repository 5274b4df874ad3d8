//! The handle an agent holds: open or create a log, append, end.
//!
//! A [`Session`] is a cheap `Clone` (an `Arc`), so the STT path and the TTS
//! path can each keep one. All clones share one queue; no thread belongs to
//! a session (see [`commit`] for who commits).
//!
//! Beside the handle: its `options`, the `callback` bridge for callers that
//! cannot poll a future, appending `many` messages in one request, and how a
//! session `end`s (the export rendered on a thread of its own).

mod callback;
mod encode;
mod end;
mod many;
mod options;

use callback::when_answered;
use encode::Encoding;
pub use end::Ended;
pub use many::Prepared;
use options::check_options;
pub use options::{DEFAULT_MAX_CONTENT_BYTES, MAX_CONTENT_LIMIT, Options};

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Local;

use crate::error::{Error, Result};
#[cfg(not(feature = "__test_hooks"))]
use crate::log::commit::RealIo;
use crate::log::commit::{
    self, Answer, CommitOptions, Echo, Log, LogState, Parts, Request, lock, reply_pair,
};
use crate::log::create;
use crate::log::recover::{self, OpenedAt};
use crate::record::{Entry, Message};
use crate::redact::Policy;

/// A handle to one open log. Clone it freely: every clone appends to the
/// same log, and the log is closed when the last one is dropped.
///
/// Every write has an async form (`append`, `flush`, `end`) and a blocking
/// one (`append_blocking`, `flush_blocking`, `end_blocking`). The blocking
/// forms are for threads that may wait: the CLI, a Python binding with the
/// GIL released, a `spawn_blocking` task. They commit on the caller's own
/// thread when nobody else is committing, which is the fastest path there
/// is for a lone caller. Never call them on an async runtime's worker: they
/// hold it through fdatasync (and, without a lock timeout, through another
/// process's lock). The async forms never block the thread that polls them.
///
/// A third form (`append_with`, `flush_with`, `end_with`) takes a callback
/// instead of returning a future, for a caller that can neither block nor
/// poll a Rust future, such as another language's event loop. The callback
/// runs on the thread that committed the record, right after its
/// fdatasync: no executor and no extra thread sit between the disk and the
/// caller's own hand-off back to its loop.
///
/// ```
/// use convlog::{Message, Session};
///
/// let dir = tempfile::tempdir()?;
/// let log = Session::create(dir.path())?;
/// // A thread that may wait commits its own record: durable when this returns.
/// let seq = log.append_blocking(Message::user("नमस्ते", "deepgram_stt"))?;
/// assert_eq!(seq, Some(1));
/// // Queued without waiting; durable after the next append, flush or end.
/// log.log(Message::agent("Hello!", "cartesia_tts").turn("t1"));
/// let ended = log.end_blocking()?;
/// assert_eq!(ended.seq, 3);
/// assert!(ended.export.unwrap().exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionState>,
}

struct SessionState {
    log: Arc<Log>,
    id: String,
    export_on_end: bool,
    /// Shared with the records [`Session::log_deferred`] queues.
    enc: Arc<Encoding>,
}

/// Dropping the last handle commits whatever is still queued (on this
/// thread, if nobody else is committing) and waits for it, so records given
/// to [`Session::log`] are on disk before the handle is gone, even if the
/// caller never flushed. The wait is one group's write and fdatasync (or as
/// long as another process holds the lock, when no
/// [`Options::lock_timeout`] is set).
impl Drop for SessionState {
    fn drop(&mut self) {
        self.log.drain();
    }
}

/// The commit pool every session shares, seen from outside: a report watches
/// it to show the pool stays bounded however many sessions are open.
impl Session {
    /// The most threads the commit pool ever runs.
    pub const MAX_POOL_THREADS: usize = commit::MAX_POOL_THREADS;

    /// Threads the commit pool is running now, idle ones included.
    pub fn pool_threads() -> usize {
        commit::pool_threads()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("path", &self.path())
            .field("id", &self.id())
            .finish()
    }
}

impl Session {
    /// Creates a new session in `dir` (made 0700 if missing) with default options.
    pub fn create(dir: impl AsRef<Path>) -> Result<Session> {
        Session::create_with(dir, Options::default())
    }

    /// Creates a new session log `conversation_YYYYMMDD_HHMMSS.jsonl` in `dir`.
    ///
    /// The header is written and fdatasynced under a temporary name and then
    /// hard-linked to the final name, which fails if that name exists. So the
    /// final name never shows an empty or half-written file, an existing log
    /// is never truncated or reused, and sessions opened in the same second
    /// get `…_2`, `…_3`. The directory is fsynced before this returns.
    pub fn create_with(dir: impl AsRef<Path>, opts: Options) -> Result<Session> {
        let dir = dir.as_ref();
        check_options(&opts)?;
        let (header, len, path) =
            create::create_log(dir, &Local::now().fixed_offset(), opts.redact.to_stored())?;
        let file = crate::fs::open_append(&path)?;
        let start = OpenedAt {
            len,
            lines: 1,
            last_seq: 0,
        };
        Session::start(path, file, header.session, start, opts)
    }

    /// Reopens an existing log to append to it, with default options.
    pub fn open(log: impl AsRef<Path>) -> Result<Session> {
        Session::open_with(log, Options::default())
    }

    /// Reopens an existing log. A torn tail is cut (and kept in `LOG.broken`)
    /// by the first append; an ended session is refused.
    ///
    /// A log created with a redaction policy keeps it in its header, and
    /// every writer applies it on top of `opts.redact`: appending to it
    /// without asking still redacts (with keyed replacements, `opts` must
    /// carry the key, or this fails before anything is written).
    pub fn open_with(log: impl AsRef<Path>, mut opts: Options) -> Result<Session> {
        let path = log.as_ref().to_path_buf();
        check_options(&opts)?;
        let file = crate::fs::open_append(&path)?;
        let (start, report) = recover::inspect_existing(&path, &file)?;
        if report.ended {
            return Err(Error::Ended { path });
        }
        if let Some(policy) = report.header.as_ref().and_then(|h| h.redact.as_ref()) {
            opts.redact = opts.redact.for_log(policy, &path)?;
        } else if report.header.is_none() {
            opts.redact = crate::redact::for_damaged_header(opts.redact, &path)?;
        }
        let id = match report.header {
            Some(h) => h.session,
            None => {
                tracing::warn!(target: "convlog", "{}: header is damaged; appending anyway", path.display());
                String::new()
            }
        };
        Session::start(path, file, id, start, opts)
    }

    fn start(
        path: PathBuf,
        file: std::fs::File,
        id: String,
        start: OpenedAt,
        opts: Options,
    ) -> Result<Session> {
        let shared = Arc::new(LogState::new(path));
        let cfg = CommitOptions {
            lock_timeout: opts.lock_timeout,
            max_batch_bytes: opts.max_batch_bytes.max(1),
            #[cfg(feature = "__test_hooks")]
            io: opts.io,
            #[cfg(not(feature = "__test_hooks"))]
            io: Arc::new(RealIo),
        };
        let enc = Arc::new(Encoding {
            shared: shared.clone(),
            max_content_bytes: opts.max_content_bytes,
            echo: opts.echo,
            redact: opts.redact,
            keep_blank: opts.keep_blank,
        });
        Ok(Session {
            inner: Arc::new(SessionState {
                log: commit::open(shared, file, start, cfg),
                id,
                export_on_end: opts.export_on_end,
                enc,
            }),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.inner.log.shared.path
    }

    /// The session id from the header.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The redaction this session applies: the one asked for, widened by
    /// the log's own (its header's `redact`). What a caller that prints a
    /// message before it is written (an echo) must apply too.
    pub fn redaction(&self) -> &Policy {
        &self.inner.enc.redact
    }

    /// Appends `msg` and resolves once it is durable, with its seq, or with
    /// `None` when the content was blank and nothing was written.
    ///
    /// The record is queued when this is *called*, not when the future is
    /// first polled: dropping the future neither cancels nor tears it. The
    /// commit runs on convlog's pool, never on the thread polling the
    /// future, and the future is woken from that pool thread, so it works
    /// under any executor (or a hand-rolled waker signalled across threads).
    ///
    /// A [`ToolCall`](crate::record::ToolCall) or a
    /// [`Handoff`](crate::record::Handoff) is appended the same way, and is
    /// durable the same way; only messages are echoed.
    pub fn append(
        &self,
        msg: impl Into<Entry>,
    ) -> impl Future<Output = Result<Option<u64>>> + Send + 'static {
        let queued = self.enqueue(msg.into()).map(|q| {
            q.map(|(req, rx, echo)| {
                self.inner.log.submit(req);
                (rx, echo)
            })
        });
        async move {
            let Some((rx, echo)) = queued? else {
                return Ok(None);
            };
            let seq = rx.await?;
            print_echo(echo);
            Ok(Some(seq))
        }
    }

    /// [`Session::append`] for a thread that may block: returns once the
    /// record is durable. When no other append to this log is in flight,
    /// the lock, write and fdatasync run right here, with no thread hand-off;
    /// otherwise it joins the next group commit. Not for an async worker
    /// thread (see [`Session`]).
    pub fn append_blocking(&self, msg: impl Into<Entry>) -> Result<Option<u64>> {
        let Some((req, rx, echo)) = self.enqueue(msg.into())? else {
            return Ok(None);
        };
        let seq = self.inner.log.commit_blocking(req, rx)?;
        print_echo(echo);
        Ok(Some(seq))
    }

    /// [`Session::append`] with a callback instead of a future: `done` gets
    /// the seq (or `None` for blank content, or the error) once the record
    /// is durable. It runs on the thread that committed the record, or on
    /// this thread when the call fails or finishes before it returns.
    ///
    /// `done` runs while the log's writer is held: it must be short, and
    /// must not wait on this log (no blocking call on it, and no dropping
    /// of its last handle). Hand the result on and return.
    pub fn append_with(
        &self,
        msg: impl Into<Entry>,
        done: impl FnOnce(Result<Option<u64>>) + Send + 'static,
    ) {
        let (req, rx, echo) = match self.enqueue(msg.into()) {
            Ok(Some(queued)) => queued,
            Ok(None) => return done(Ok(None)),
            Err(e) => return done(Err(e)),
        };
        self.inner.log.submit(req);
        when_answered(rx, move |r| {
            if r.is_ok() {
                print_echo(echo);
            }
            done(r.map(Some))
        });
    }

    /// [`Session::flush`] with a callback; see [`Session::append_with`] for
    /// where `done` runs and what it must not do.
    pub fn flush_with(&self, done: impl FnOnce(Result<()>) + Send + 'static) {
        if let Err(e) = self.ready() {
            return done(Err(e));
        }
        let (tx, rx) = reply_pair(&self.inner.log.shared.slots);
        self.inner.log.submit(Request::Flush { reply: tx });
        when_answered(rx, move |r| done(r.map(|_| ())));
    }

    /// Logs `msg` without waiting for durability, as the original design's
    /// plugins did. It never blocks on the disk and never panics; a failure is
    /// logged through `tracing` and kept for [`Session::last_error`].
    pub fn log(&self, msg: impl Into<Entry>) {
        let enc = &self.inner.enc;
        let (msg, audit) = enc.redacted(msg.into());
        if let Some(req) = enc.detached(msg, &audit) {
            self.inner.log.submit(req);
        }
    }

    /// [`Session::log`] for a caller whose own thread must do as little as
    /// possible (an agent's event loop). `write` puts what the message is
    /// made of into a buffer, in the caller's own form (taken from the
    /// log's recycled buffers: a steady stream allocates nothing), and the
    /// message takes its place in the log now; `build` makes the message
    /// from those bytes on the thread that commits it, where the checks,
    /// the redaction and the encoding run too. So the calling thread copies
    /// bytes and queues, and frees nothing the committer allocated. A
    /// failure is reported as for [`Session::log`]; a message without a
    /// timestamp is stamped when it is built.
    pub fn log_deferred(
        &self,
        write: impl FnOnce(&mut Vec<u8>),
        build: fn(&[u8]) -> Option<Message>,
    ) {
        let mut bytes = self.inner.log.shared.buffer();
        write(&mut bytes);
        self.inner.log.submit(Request::Later {
            bytes,
            build,
            rules: self.inner.enc.clone(),
        });
    }

    /// The first failure of a [`Session::log`] call or of the writer
    /// itself (the failure that broke it, whoever awaited it), if any: set
    /// whenever [`Session::is_broken`] is.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.inner.log.shared.detached_error).clone()
    }

    /// True once a write or sync has failed; every later append fails.
    pub fn is_broken(&self) -> bool {
        self.inner.log.shared.poison_cause().is_some()
    }

    /// Resolves once every record queued before it is durable (or has failed).
    pub async fn flush(&self) -> Result<()> {
        self.ready()?;
        let (tx, rx) = reply_pair(&self.inner.log.shared.slots);
        self.inner.log.submit(Request::Flush { reply: tx });
        rx.await.map(|_| ())
    }

    /// [`Session::flush`] for a thread that may block: returns once every
    /// record queued before it is durable, committing them here if nobody
    /// else is.
    pub fn flush_blocking(&self) -> Result<()> {
        self.ready()?;
        let (tx, rx) = reply_pair(&self.inner.log.shared.slots);
        self.inner
            .log
            .commit_blocking(Request::Flush { reply: tx }, rx)
            .map(|_| ())
    }

    /// Fails fast once the writer is broken, before anything is queued.
    fn ready(&self) -> Result<()> {
        self.inner.enc.ready()
    }

    /// Checks `msg` the way an append would (size, `meta`, timestamp) without
    /// writing it, so a producer can reject one bad input and go on. Blank
    /// content passes: it is skipped, not an error.
    pub fn check(&self, msg: &Message) -> Result<()> {
        self.inner.enc.check(msg)
    }

    /// Whether `msg` is left unwritten (see `Encoding::skips`).
    pub(super) fn skips(&self, msg: &Message) -> bool {
        self.inner.enc.skips(msg)
    }

    /// An awaited append's request, its answer, and what to echo once durable.
    #[allow(clippy::type_complexity)]
    fn enqueue(&self, msg: Entry) -> Result<Option<(Request, Answer, Option<Echo>)>> {
        let enc = &self.inner.enc;
        let (msg, audit) = enc.redacted(msg);
        let Some((kind, fields)) = enc.prepare(&msg, &audit)? else {
            return Ok(None);
        };
        let (tx, rx) = reply_pair(&self.inner.log.shared.slots);
        let req = Request::Append {
            kind,
            fields,
            parts: Parts::One,
            reply: Some(tx),
            echo: None,
        };
        Ok(Some((req, rx, enc.echo_of(msg))))
    }
}

pub(super) fn print_echo(echo: Option<Echo>) {
    if let Some((tag, content)) = echo {
        tracing::info!(target: "convlog", "[{tag}] {content}");
    }
}
