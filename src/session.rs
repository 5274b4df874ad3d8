//! The handle an agent holds: open or create a log, append, end.
//!
//! A [`Session`] is a cheap `Clone` (an `Arc`), so the STT path and the TTS
//! path can each keep one. All clones share one queue; no thread belongs to
//! a session (see [`commit`] for who commits).

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use chrono::Local;

use crate::error::{Error, Result};
use crate::fs::layout::export_path;
use crate::line as codec;
#[cfg(feature = "__test_hooks")]
use crate::log::commit::IoHooks;
use crate::log::commit::{
    self, Answer, CommitOptions, Echo, Log, LogState, Parts, RealIo, Request, lock, reply_pair,
};
use crate::log::create;
use crate::log::recover::{self, OpenedAt};
use crate::record::{Entry, Message};
use crate::time::{now_rfc3339, parse_ts};

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
    /// `tracing`, once it is durable (for [`Session::log`], once it is
    /// written), so the console never shows a message the log lacks. Default on.
    pub echo: bool,
    /// A batch stops growing at about this many bytes. Default 4 MiB.
    pub max_batch_bytes: usize,
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
            .finish_non_exhaustive()
    }
}

/// What [`Session::end`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The end record's seq.
    pub seq: u64,
    /// The export it rendered, if [`Options::export_on_end`] was set.
    pub export: Option<PathBuf>,
}

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
    max_content_bytes: usize,
    export_on_end: bool,
    echo: bool,
    keep_blank: bool,
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
        let (header, len, path) = create::create_log(dir, &Local::now().fixed_offset())?;
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
    pub fn open_with(log: impl AsRef<Path>, opts: Options) -> Result<Session> {
        let path = log.as_ref().to_path_buf();
        check_options(&opts)?;
        let file = crate::fs::open_append(&path)?;
        let (start, report) = recover::inspect_existing(&path, &file)?;
        if report.ended {
            return Err(Error::Ended { path });
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
        Ok(Session {
            inner: Arc::new(SessionState {
                log: commit::open(shared, file, start, cfg),
                id,
                max_content_bytes: opts.max_content_bytes,
                export_on_end: opts.export_on_end,
                echo: opts.echo,
                keep_blank: opts.keep_blank,
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
        let (tx, rx) = reply_pair(&self.inner.log.shared);
        self.inner.log.submit(Request::Flush { reply: tx });
        when_answered(rx, move |r| done(r.map(|_| ())));
    }

    /// [`Session::end`] with a callback; see [`Session::append_with`] for
    /// what `done` must not do. Without an export it runs on the committing
    /// thread; with one, on the thread that rendered it, once it is in place.
    pub fn end_with(&self, done: impl FnOnce(Result<Ended>) + Send + 'static) {
        let (req, export, rx) = match self.end_request(now_rfc3339()) {
            Ok(queued) => queued,
            Err(e) => return done(Err(e)),
        };
        self.inner.log.submit(req);
        let log = self.path().to_path_buf();
        when_answered(rx, move |r| match (r, export) {
            (Ok(seq), Some(out)) => render_apart(log, out.clone(), move |rendered| {
                done(rendered.map(|()| Ended {
                    seq,
                    export: Some(out),
                }))
            }),
            (r, export) => done(r.map(|seq| Ended { seq, export })),
        });
    }

    /// Logs `msg` without waiting for durability, as the original design's
    /// plugins did. It never blocks on the disk and never panics; a failure is
    /// logged through `tracing` and kept for [`Session::last_error`].
    pub fn log(&self, msg: impl Into<Entry>) {
        let msg = msg.into();
        let queued = self.prepare(&msg).map(|fields| {
            fields.map(|(kind, fields)| Request::Append {
                kind,
                fields,
                parts: Parts::One,
                reply: None,
                echo: self.echo_of(msg),
            })
        });
        match queued {
            Ok(Some(req)) => self.inner.log.submit(req),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(target: "convlog", "{e}");
                let mut slot = lock(&self.inner.log.shared.detached_error);
                if slot.is_none() {
                    *slot = Some(e.to_string());
                }
            }
        }
    }

    /// The first failure of a [`Session::log`] call, if any.
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
        let (tx, rx) = reply_pair(&self.inner.log.shared);
        self.inner.log.submit(Request::Flush { reply: tx });
        rx.await.map(|_| ())
    }

    /// [`Session::flush`] for a thread that may block: returns once every
    /// record queued before it is durable, committing them here if nobody
    /// else is.
    pub fn flush_blocking(&self) -> Result<()> {
        self.ready()?;
        let (tx, rx) = reply_pair(&self.inner.log.shared);
        self.inner
            .log
            .commit_blocking(Request::Flush { reply: tx }, rx)
            .map(|_| ())
    }

    /// Appends the end record and, unless turned off, renders the export
    /// beside the log. Appending afterwards is an error, from any process.
    pub async fn end(&self) -> Result<Ended> {
        self.end_at(now_rfc3339()).await
    }

    /// [`Session::end`] for a thread that may block. The export is rendered
    /// on this thread too.
    pub fn end_blocking(&self) -> Result<Ended> {
        self.end_at_blocking(now_rfc3339())
    }

    /// Like [`Session::end`], with the end time given (RFC 3339): an imported
    /// session ended when its last message was logged, not when it was imported.
    pub async fn end_at(&self, ts: impl Into<String>) -> Result<Ended> {
        let (req, export, rx) = self.end_request(ts.into())?;
        self.inner.log.submit(req);
        let seq = rx.await?;
        if let Some(out) = &export {
            let (tx, done) = tokio::sync::oneshot::channel();
            render_apart(self.path().to_path_buf(), out.clone(), move |r| {
                let _ = tx.send(r);
            });
            done.await.map_err(|_| {
                Error::Internal(format!(
                    "{}: the export thread panicked",
                    self.path().display()
                ))
            })??;
        }
        Ok(Ended { seq, export })
    }

    /// [`Session::end_at`] for a thread that may block.
    pub fn end_at_blocking(&self, ts: impl Into<String>) -> Result<Ended> {
        let (req, export, rx) = self.end_request(ts.into())?;
        let seq = self.inner.log.commit_blocking(req, rx)?;
        if let Some(out) = &export {
            render_export(self.path(), out)?;
        }
        Ok(Ended { seq, export })
    }

    #[allow(clippy::type_complexity)]
    fn end_request(&self, ts: String) -> Result<(Request, Option<PathBuf>, Answer)> {
        parse_ts(&ts)?;
        self.ready()?;
        let export = self.inner.export_on_end.then(|| export_path(self.path()));
        let (tx, rx) = reply_pair(&self.inner.log.shared);
        let req = Request::End { ts, reply: tx };
        Ok((req, export, rx))
    }

    /// Fails fast once the writer is broken, before anything is queued.
    fn ready(&self) -> Result<()> {
        match self.inner.log.shared.poison_cause() {
            Some(cause) => Err(Error::Poisoned {
                path: self.path().to_path_buf(),
                cause,
            }),
            None => Ok(()),
        }
    }

    /// Checks `msg` the way an append would (size, `meta`, timestamp) without
    /// writing it, so a producer can reject one bad input and go on. Blank
    /// content passes: it is skipped, not an error.
    pub fn check(&self, msg: &Message) -> Result<()> {
        self.check_fields(msg).map_err(|e| e.in_file(self.path()))
    }

    fn check_fields(&self, msg: &Message) -> Result<()> {
        if msg.content.len() > self.inner.max_content_bytes {
            return Err(Error::ContentTooLarge {
                len: msg.content.len(),
                limit: self.inner.max_content_bytes,
            });
        }
        if msg.meta.as_ref().is_some_and(|m| !m.is_object()) {
            return Err(Error::InvalidInput("`meta` must be a JSON object".into()));
        }
        if let Some(ts) = &msg.timestamp {
            parse_ts(ts)?;
        }
        Ok(())
    }

    /// Whether `msg` is left unwritten: blank content, as the original
    /// design skipped empty transcripts (unless importing one it kept).
    fn skips(&self, msg: &Message) -> bool {
        msg.is_blank() && !self.inner.keep_blank
    }

    /// What to print once `e` is durable: messages only, as the original
    /// design printed them.
    fn echo_of(&self, e: Entry) -> Option<Echo> {
        match e {
            Entry::Message(m) if self.inner.echo => Some((m.role.tag(), m.content)),
            _ => None,
        }
    }

    /// Validates and encodes on the caller's side, so the committer only
    /// frames and writes. Returns `None` for blank content.
    fn prepare(&self, e: &Entry) -> Result<Option<(codec::Kind, Vec<u8>)>> {
        let (kind, fields) = match e {
            Entry::Message(msg) => {
                return Ok(self
                    .prepare_message(msg)?
                    .map(|f| (codec::Kind::Message, f)));
            }
            Entry::Tool(t) => {
                t.check().map_err(|e| e.in_file(self.path()))?;
                self.ready()?;
                let ts = t.timestamp.clone().unwrap_or_else(now_rfc3339);
                (codec::Kind::Tool, codec::tool_fields(t, &ts))
            }
            Entry::Handoff(h) => {
                h.check().map_err(|e| e.in_file(self.path()))?;
                self.ready()?;
                let ts = h.timestamp.clone().unwrap_or_else(now_rfc3339);
                (codec::Kind::Handoff, codec::handoff_fields(h, &ts))
            }
        };
        // `arguments` and `output` are cut; this bounds the other fields,
        // so that every line stays readable.
        if fields.len() > MAX_CONTENT_LIMIT {
            return Err(Error::ContentTooLarge {
                len: fields.len(),
                limit: MAX_CONTENT_LIMIT,
            }
            .in_file(self.path()));
        }
        Ok(Some((kind, fields)))
    }

    fn prepare_message(&self, msg: &Message) -> Result<Option<Vec<u8>>> {
        if self.skips(msg) {
            tracing::debug!(target: "convlog", "skipping a blank {} message", msg.role);
            return Ok(None);
        }
        self.check(msg)?;
        self.ready()?;
        let mut fields = self.inner.log.shared.buffer();
        match &msg.timestamp {
            Some(ts) => codec::message_fields_into(&mut fields, msg, ts),
            None => {
                let mut now = [0u8; 40];
                codec::message_fields_into(&mut fields, msg, now_into(&mut now));
            }
        }
        Ok(Some(fields))
    }

    /// An awaited append's request, its answer, and what to echo once durable.
    #[allow(clippy::type_complexity)]
    fn enqueue(&self, msg: Entry) -> Result<Option<(Request, Answer, Option<Echo>)>> {
        let Some((kind, fields)) = self.prepare(&msg)? else {
            return Ok(None);
        };
        let (tx, rx) = reply_pair(&self.inner.log.shared);
        let req = Request::Append {
            kind,
            fields,
            parts: Parts::One,
            reply: Some(tx),
            echo: None,
        };
        Ok(Some((req, rx, self.echo_of(msg))))
    }

    /// Appends several messages in one request and resolves once all are
    /// durable, with each one's seq (`None` where the content was blank), in
    /// order. They get consecutive seqs and share one write, one fdatasync
    /// and one timestamp where none is given: the way to feed a burst (such
    /// as `convlog ingest` reading a pipe) without a round trip per message.
    ///
    /// Every message is checked before any is queued; one bad message fails
    /// the call and writes nothing. Like [`Session::append`], the records are
    /// queued when this is called, and dropping the future does not cancel them.
    pub fn append_many<I>(
        &self,
        msgs: I,
    ) -> impl Future<Output = Result<Vec<Option<u64>>>> + Send + 'static
    where
        I: IntoIterator<Item = Message>,
    {
        let queued = self.enqueue_many(msgs).map(|(slots, queued, echo)| {
            let rx = queued.map(|(req, rx)| {
                self.inner.log.submit(req);
                rx
            });
            (slots, rx, echo)
        });
        async move {
            let (slots, rx, echo) = queued?;
            let first = match rx {
                Some(rx) => rx.await?,
                None => 0,
            };
            echo.into_iter().for_each(|e| print_echo(Some(e)));
            Ok(seqs(slots, first))
        }
    }

    /// [`Session::append_many`] for a thread that may block: returns once
    /// all are durable, having committed them here if nobody else was.
    pub fn append_many_blocking<I>(&self, msgs: I) -> Result<Vec<Option<u64>>>
    where
        I: IntoIterator<Item = Message>,
    {
        let (slots, queued, echo) = self.enqueue_many(msgs)?;
        let first = match queued {
            Some((req, rx)) => self.inner.log.commit_blocking(req, rx)?,
            None => 0,
        };
        echo.into_iter().for_each(|e| print_echo(Some(e)));
        Ok(seqs(slots, first))
    }

    /// Encodes a chunk into one buffer. Returns, per message, its index among
    /// the records written (`None` if blank), the request with the receiver
    /// of its first seq (none if all were blank), and what to echo.
    #[allow(clippy::type_complexity)]
    fn enqueue_many<I>(
        &self,
        msgs: I,
    ) -> Result<(Vec<Option<usize>>, Option<(Request, Answer)>, Vec<Echo>)>
    where
        I: IntoIterator<Item = Message>,
    {
        let msgs: Vec<Message> = msgs.into_iter().collect();
        for msg in msgs.iter().filter(|m| !self.skips(m)) {
            self.check(msg)?;
        }
        self.ready()?;
        let mut now: Option<String> = None;
        let mut fields = Vec::new();
        let mut ends = Vec::new();
        let mut slots = Vec::with_capacity(msgs.len());
        for msg in &msgs {
            if self.skips(msg) {
                slots.push(None);
                continue;
            }
            let ts = match &msg.timestamp {
                Some(ts) => ts.as_str(),
                None => now.get_or_insert_with(now_rfc3339).as_str(),
            };
            codec::message_fields_into(&mut fields, msg, ts);
            slots.push(Some(ends.len()));
            ends.push(fields.len());
        }
        let echo = if self.inner.echo {
            msgs.into_iter()
                .filter(|m| !self.skips(m))
                .map(|m| (m.role.tag(), m.content))
                .collect()
        } else {
            Vec::new()
        };
        if ends.is_empty() {
            return Ok((slots, None, echo));
        }
        let (tx, rx) = reply_pair(&self.inner.log.shared);
        let req = Request::Append {
            kind: codec::Kind::Message,
            fields,
            parts: Parts::Many(ends),
            reply: Some(tx),
            echo: None,
        };
        Ok((slots, Some((req, rx)), echo))
    }
}

/// Calls `done` with `rx`'s answer from whichever thread answers it: the
/// answer's waker polls it right there, so nothing else has to run for the
/// callback to fire, and the task holds no [`Session`] (a last handle
/// dropped on the committing thread would wait on itself).
fn when_answered(rx: Answer, done: impl FnOnce(Result<u64>) + Send + 'static) {
    Arc::new(Pending {
        state: Mutex::new(Some((rx, Box::new(done)))),
    })
    .poll();
}

type Done = Box<dyn FnOnce(Result<u64>) + Send>;

struct Pending {
    state: Mutex<Option<(Answer, Done)>>,
}

impl Pending {
    // An answer never wakes its waker from inside its own poll, so the
    // waker's poll never finds this lock held by its own thread.
    fn poll(self: &Arc<Self>) {
        let waker = Waker::from(Arc::clone(self));
        let mut cx = Context::from_waker(&waker);
        let mut state = lock(&self.state);
        let Some((rx, _)) = state.as_mut() else {
            return;
        };
        let Poll::Ready(result) = Pin::new(rx).poll(&mut cx) else {
            return;
        };
        let taken = state.take();
        drop(state);
        if let Some((rx, done)) = taken {
            drop(rx);
            done(result);
        }
    }
}

impl Wake for Pending {
    fn wake(self: Arc<Self>) {
        self.poll();
    }
}

fn seqs(slots: Vec<Option<usize>>, first: u64) -> Vec<Option<u64>> {
    slots
        .into_iter()
        .map(|slot| slot.map(|i| first + i as u64))
        .collect()
}

/// The current local time in [`now_rfc3339`]'s format, written into `buf`
/// instead of a new `String`: one allocation fewer on every append that
/// carries no timestamp of its own.
fn now_into(buf: &mut [u8; 40]) -> &str {
    use chrono::{Datelike, Timelike};
    use std::io::Write;
    let now = Local::now().fixed_offset();
    let off = now.offset().local_minus_utc();
    let (sign, off) = if off < 0 { ('-', -off) } else { ('+', off) };
    let len = {
        let mut w = std::io::Cursor::new(&mut buf[..]);
        let ok = (0..=9999).contains(&now.year())
            && now.nanosecond() < 1_000_000_000
            && write!(
                w,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}",
                now.year(),
                now.month(),
                now.day(),
                now.hour(),
                now.minute(),
                now.second(),
                now.nanosecond() / 1000,
                off / 3600,
                off % 3600 / 60,
            )
            .is_ok();
        if ok { w.position() as usize } else { 0 }
    };
    let len = if len > 0 {
        len
    } else {
        // A leap second or a year chrono's own formatter handles specially.
        let s = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        let n = s.len().min(buf.len());
        buf[..n].copy_from_slice(&s.as_bytes()[..n]);
        n
    };
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

/// Renders the JSON export of an ended log, once the end record is durable.
fn render_export(log: &Path, out: &Path) -> Result<()> {
    crate::export::export_file(
        log,
        out,
        crate::export::Format::Json,
        &crate::export::ExportOptions::default(),
    )
    .map(drop)
}

/// Renders the export on a thread of its own, then calls `then` there:
/// rendering reads the whole log and fsyncs, which neither an async worker
/// nor the committing thread should wait for. Should no thread be had, it
/// renders here rather than never.
fn render_apart<F>(log: PathBuf, out: PathBuf, then: F)
where
    F: FnOnce(Result<()>) + Send + 'static,
{
    type Job<F> = Mutex<Option<(PathBuf, PathBuf, F)>>;
    fn run<F: FnOnce(Result<()>)>(job: &Job<F>) {
        if let Some((log, out, then)) = lock(job).take() {
            then(render_export(&log, &out));
        }
    }
    let job = Arc::new(Mutex::new(Some((log, out, then))));
    let theirs = Arc::clone(&job);
    let spawned = std::thread::Builder::new()
        .name("convlog-export".into())
        .spawn(move || run(&theirs));
    if spawned.is_err() {
        run(&job);
    }
}

fn print_echo(echo: Option<Echo>) {
    if let Some((tag, content)) = echo {
        tracing::info!(target: "convlog", "[{tag}] {content}");
    }
}

fn check_options(opts: &Options) -> Result<()> {
    if opts.max_content_bytes == 0 || opts.max_content_bytes > MAX_CONTENT_LIMIT {
        return Err(Error::InvalidInput(format!(
            "max_content_bytes must be between 1 and {MAX_CONTENT_LIMIT}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_timestamp_matches_now_rfc3339() {
        let mut buf = [0u8; 40];
        let ours = now_into(&mut buf).to_string();
        let theirs = now_rfc3339();
        assert_eq!(ours.len(), theirs.len(), "{ours} vs {theirs}");
        // Same shape and offset; the clock moved between the two calls.
        assert_eq!(ours[ours.len() - 6..], theirs[theirs.len() - 6..]);
        let (a, b) = (parse_ts(&ours).unwrap(), parse_ts(&theirs).unwrap());
        assert!(
            (b - a).num_milliseconds().abs() < 1000,
            "{ours} vs {theirs}"
        );
        assert_eq!(
            a.to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
            ours
        );
    }
}
