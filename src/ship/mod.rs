//! Ships logs to PostgreSQL, exactly once in effect (feature `postgres`).
//!
//! Rows are keyed on `(session_id, seq)` and the database is the cursor: the
//! last seq shipped per session is read back from it, so a shipper killed at
//! any moment resumes from what committed, with or without local state. Each
//! batch is one transaction: the session rows, then the messages by binary
//! `COPY`. A batch that collides with rows already there (a commit whose
//! acknowledgement was lost, two shippers on one log) goes again through a
//! staging table and `INSERT … ON CONFLICT DO NOTHING`.
//!
//! Reading runs on its own thread with the library's reader, so only whole,
//! checksummed records are shipped; a torn tail is a write in flight and is
//! waited out. The schema is documented in `SHIP.md`.

mod read;
pub mod schema;
mod target;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt;
use tokio::sync::{Notify, mpsc};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

pub use target::Target;
/// The PostgreSQL client the shipper is built on, for callers that query the result.
pub use tokio_postgres;

use crate::Recovery;
use read::{Item, ReadOptions, Segment};

/// How to ship.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to ship of a damaged log, as for export.
    pub recovery: Recovery,
    /// Keep watching for new records and sessions instead of exiting after one pass.
    pub follow: bool,
    /// The `host` column of new sessions.
    pub host: String,
    /// Create the schema when the database has none.
    pub create_schema: bool,
    /// How often to look for new records when following.
    pub poll: Duration,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Messages per batch (one transaction).
    pub batch_rows: usize,
    /// How rows reach the messages table.
    pub method: Method,
}

/// How a batch's rows reach `convlog.messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Binary COPY straight into the table under a savepoint; when rows are
    /// there already, again through the staging table. The default: the
    /// benchmark measures it faster, since the database's cursor means
    /// conflicts are rare.
    #[default]
    Direct,
    /// Always binary COPY into a temporary staging table, then
    /// `INSERT … ON CONFLICT DO NOTHING`.
    Staging,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            recovery: Recovery::TolerateTail,
            follow: false,
            host: hostname(),
            create_schema: true,
            poll: Duration::from_millis(50),
            max_backoff: Duration::from_secs(10),
            batch_rows: 20_000,
            method: Method::Direct,
        }
    }
}

/// This machine's name, for the `host` column.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it or truncates, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Asks a running [`ship`] to stop after the batch in flight.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<StopInner>);

#[derive(Debug, Default)]
struct StopInner {
    flag: AtomicBool,
    notify: Notify,
}

impl Stop {
    /// A handle nobody has triggered yet.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Asks the shipper to stop.
    pub fn stop(&self) {
        self.0.flag.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// True once [`Stop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.flag.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }

    /// Sleeps up to `d` in slices; true if stopped meanwhile.
    fn sleep_blocking(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.is_stopped() {
                return true;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
        }
        self.is_stopped()
    }

    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => self.is_stopped(),
            _ = self.wait() => true,
        }
    }
}

/// What happened while shipping, for the caller to report.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The database went away or refused a connection; retrying with backoff.
    /// Sent once per outage.
    Outage {
        /// Where.
        target: &'a str,
        /// The first error of the outage.
        reason: String,
    },
    /// Shipping resumed after an outage.
    Recovered {
        /// Where.
        target: &'a str,
        /// How long the outage lasted.
        after: Duration,
    },
    /// The database rejected a record. Nothing after it in that session is
    /// shipped in this run; other sessions go on.
    #[allow(missing_docs)] // the fields' names say it
    Rejected {
        log: &'a Path,
        /// Its session id.
        session: &'a str,
        /// The record (0 for the session row itself).
        seq: u64,
        /// The database's reason.
        reason: String,
    },
    /// Damage in a log, and what `--recovery` made of it.
    #[allow(missing_docs)] // the fields' names say it
    Damaged {
        log: &'a Path,
        /// Where and what, as one sentence.
        detail: String,
    },
    /// A file that cannot be shipped (not a convlog log, unreadable).
    #[allow(missing_docs)] // the fields' names say it
    Unreadable {
        log: &'a Path,
        /// Why, as one sentence.
        detail: String,
    },
}

/// What a run shipped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Messages inserted.
    pub messages: u64,
    /// Messages found already in the database and skipped.
    pub already: u64,
    /// Logs not read at all: their session is in the database whole and ended.
    pub complete: u64,
    /// Sessions inserted.
    pub sessions: u64,
    /// End records shipped.
    pub ended: u64,
    /// Records the database rejected (one per affected session).
    pub rejected: u64,
    /// Logs with damage reported.
    pub damaged: u64,
    /// Files that could not be shipped.
    pub unreadable: u64,
}

impl Summary {
    /// True when nothing was rejected, damaged or unreadable.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.damaged == 0 && self.unreadable == 0
    }
}

/// Why shipping stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum ShipError {
    /// The connection settings are unusable.
    Config(String),
    /// The first connection failed.
    #[allow(missing_docs)] // the fields' names say it
    Connect {
        /// The database, without its password.
        target: String,
        source: tokio_postgres::Error,
    },
    /// A statement failed in a way retrying cannot fix.
    #[allow(missing_docs)] // the fields' names say it
    Db {
        /// What the shipper was doing.
        action: &'static str,
        source: tokio_postgres::Error,
    },
    /// The database's tables are not what this build writes.
    Schema(String),
    /// A path could not be read.
    Log(crate::Error),
}

impl ShipError {
    fn db(action: &'static str) -> impl Fn(tokio_postgres::Error) -> ShipError {
        move |source| ShipError::Db { action, source }
    }
}

/// The database's message with its detail and hint, or the client's error.
pub fn describe_pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            if let Some(w) = db.where_() {
                s.push_str(&format!("; {w}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                let text = inner.to_string();
                if !s.contains(&text) {
                    s.push_str(&format!(": {text}"));
                }
                src = inner.source();
            }
            s
        }
    }
}

impl fmt::Display for ShipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShipError::Config(m) | ShipError::Schema(m) => f.write_str(m),
            ShipError::Connect { target, source } => {
                write!(
                    f,
                    "cannot connect to {target}: {}",
                    describe_pg_error(source)
                )
            }
            ShipError::Db { action, source } => {
                write!(
                    f,
                    "database error: cannot {action}: {}",
                    describe_pg_error(source)
                )
            }
            ShipError::Log(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ShipError {}

/// What to do about a database error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The connection or server is away: reconnect and retry.
    Transient,
    /// The data was refused: isolate and report the record.
    Rejected,
    /// Retrying cannot help (credentials, permissions, schema).
    Fatal,
}

fn classify(e: &tokio_postgres::Error) -> Class {
    let Some(code) = e.code() else {
        return Class::Transient;
    };
    if *code == SqlState::UNDEFINED_TABLE || *code == SqlState::UNDEFINED_COLUMN {
        return Class::Fatal;
    }
    match &code.code()[..2] {
        "08" | "57" | "53" | "40" | "55" | "58" => Class::Transient,
        "22" | "23" | "54" => Class::Rejected,
        _ => Class::Fatal,
    }
}

/// Creates the schema if the database has none and checks it; with
/// `full_text`, also the full-text index over content
/// ([`schema::FULL_TEXT_DDL`]).
pub async fn init(target: &Target, full_text: bool) -> Result<(), ShipError> {
    let mut client = target
        .connect()
        .await
        .map_err(|source| ShipError::Connect {
            target: target.describe().to_string(),
            source,
        })?;
    schema::ensure(&mut client, true).await?;
    if full_text {
        client
            .batch_execute(schema::FULL_TEXT_DDL)
            .await
            .map_err(ShipError::db("create the full-text index"))?;
    }
    Ok(())
}

/// Ships every session under `paths` to `target`, then returns (or, with
/// [`Options::follow`], keeps watching until `stop`).
///
/// The first connection must succeed unless following, when an unreachable
/// server is an outage like any other. Errors that retrying cannot fix end
/// the run; everything else is an [`Event`] and counts in the [`Summary`].
pub async fn ship(
    target: &Target,
    paths: &[PathBuf],
    opts: &Options,
    stop: &Stop,
    on_event: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<Summary, ShipError> {
    // Paths that do not exist are a usage error, found before connecting.
    let logs = crate::read::find_logs(paths).map_err(ShipError::Log)?;
    let mut db = Db {
        target,
        opts,
        stop,
        client: None,
        cursors: HashMap::new(),
        blocked: HashSet::new(),
        outage: None,
        backoff: Duration::from_millis(100),
        staging_ready: false,
        summary: Summary::default(),
    };
    if !db.connect(on_event, true).await? {
        return Ok(db.summary);
    }

    // Not knowing only costs reading those logs again.
    let done: HashSet<String> = ended_sessions(&mut db, &logs).await.unwrap_or_default();
    db.summary.complete = done.len() as u64;
    let (tx, mut rx) = mpsc::channel(2);
    let reader_stop = Stop::new();
    let reader = {
        let paths = paths.to_vec();
        let ro = ReadOptions {
            done,
            recovery: opts.recovery,
            follow: opts.follow,
            poll: opts.poll,
            batch_rows: opts.batch_rows.max(1),
        };
        let rs = reader_stop.clone();
        std::thread::Builder::new()
            .name("convlog-ship-read".into())
            .spawn(move || read::run(paths, ro, rs, tx))
            .map_err(|e| {
                ShipError::Log(crate::Error::io(Path::new("<thread>"), "spawn reader", e))
            })?
    };

    let result = async {
        loop {
            let item = tokio::select! {
                biased;
                _ = stop.wait() => break,
                i = rx.recv() => i,
            };
            match item {
                None => break,
                Some(Item::Batch(segs)) => db.ship_batch(segs, on_event).await?,
                Some(Item::Damaged { log, detail }) => {
                    db.summary.damaged += 1;
                    on_event(Event::Damaged { log: &log, detail });
                }
                Some(Item::Unreadable { log, detail }) => {
                    db.summary.unreadable += 1;
                    on_event(Event::Unreadable { log: &log, detail });
                }
            }
            if stop.is_stopped() {
                break;
            }
        }
        Ok(())
    }
    .await;
    reader_stop.stop();
    drop(rx);
    let _ = tokio::task::spawn_blocking(move || reader.join()).await;
    result.map(|()| db.summary)
}

/// The sessions among `logs` that the database holds ended, so that a
/// restarted shipper does not read every old log again.
async fn ended_sessions(db: &mut Db<'_>, logs: &[PathBuf]) -> Attempt<HashSet<String>> {
    let mut ids = Vec::with_capacity(logs.len());
    for log in logs {
        if let Ok(f) = crate::fs::open_read(log)
            && let Some(id) = read::header_id(&f)
        {
            ids.push(id);
        }
    }
    let mut done = HashSet::new();
    let Some(client) = &db.client else {
        return Ok(done);
    };
    for chunk in ids.chunks(10_000) {
        for r in client
            .query(
                "SELECT id FROM convlog.sessions WHERE ended IS NOT NULL AND id = ANY($1::text[])",
                &[&chunk],
            )
            .await?
        {
            done.insert(r.get(0));
        }
    }
    Ok(done)
}

/// The last seq shipped per session, as the database says.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    exists: bool,
    max_seq: Option<u64>,
    ended: bool,
}

/// Rows of one segment to ship in one go.
struct Part<'a> {
    seg: &'a Segment,
    rows: Range<usize>,
    end: bool,
    session_row: bool,
}

struct Db<'a> {
    target: &'a Target,
    opts: &'a Options,
    stop: &'a Stop,
    client: Option<Client>,
    cursors: HashMap<String, Cursor>,
    blocked: HashSet<String>,
    outage: Option<Instant>,
    backoff: Duration,
    staging_ready: bool,
    summary: Summary,
}

/// A failed attempt: the error, and whether retrying it elsewhere could help.
type Attempt<T> = Result<T, tokio_postgres::Error>;

impl Db<'_> {
    /// Connects (retrying through outages unless this is the first
    /// connection of a one-pass run). False when stopped meanwhile.
    async fn connect(
        &mut self,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
        first: bool,
    ) -> Result<bool, ShipError> {
        loop {
            let attempt = match self.target.connect().await {
                Ok(mut c) => match schema::ensure(&mut c, self.opts.create_schema).await {
                    Ok(()) => Ok(c),
                    Err(ShipError::Db { source, .. }) if classify(&source) == Class::Transient => {
                        Err(source)
                    }
                    Err(e) => return Err(e),
                },
                Err(e) => Err(e),
            };
            match attempt {
                Ok(c) => {
                    self.client = Some(c);
                    self.staging_ready = false;
                    return Ok(true);
                }
                Err(e) => {
                    if (first && !self.opts.follow) || classify(&e) == Class::Fatal {
                        return Err(ShipError::Connect {
                            target: self.target.describe().to_string(),
                            source: e,
                        });
                    }
                    if self.wait_out(&e, on_event).await {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Notes an outage (reporting it once) and sleeps the backoff. True when stopped.
    async fn wait_out(
        &mut self,
        e: &tokio_postgres::Error,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> bool {
        if self.outage.is_none() {
            self.outage = Some(Instant::now());
            self.backoff = Duration::from_millis(100);
            on_event(Event::Outage {
                target: self.target.describe(),
                reason: describe_pg_error(e),
            });
        }
        self.client = None;
        // What committed before the outage is read back on reconnection.
        self.cursors.clear();
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(self.opts.max_backoff);
        self.stop.sleep(wait).await
    }

    fn recovered(&mut self, on_event: &mut (dyn FnMut(Event<'_>) + Send)) {
        if let Some(since) = self.outage.take() {
            on_event(Event::Recovered {
                target: self.target.describe(),
                after: since.elapsed(),
            });
        }
    }

    async fn ship_batch(
        &mut self,
        segs: Vec<Segment>,
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Result<(), ShipError> {
        loop {
            if self.client.is_none() && !self.connect(on_event, false).await? {
                return Ok(());
            }
            let Some(mut client) = self.client.take() else {
                continue;
            };
            let all: Vec<&Segment> = segs.iter().collect();
            let outcome = match self.try_segments(&mut client, &all).await {
                Err(e) if classify(&e) == Class::Rejected => {
                    self.isolate(&mut client, &segs, on_event).await
                }
                other => other,
            };
            self.client = Some(client);
            match outcome {
                Ok(()) => {
                    self.recovered(on_event);
                    return Ok(());
                }
                Err(e) => match classify(&e) {
                    Class::Fatal => {
                        return Err(ShipError::Db {
                            action: "ship a batch",
                            source: e,
                        });
                    }
                    _ => {
                        if self.wait_out(&e, on_event).await {
                            return Ok(());
                        }
                    }
                },
            }
        }
    }

    /// Ships each segment alone, narrowing a rejected one down to the first
    /// record the database refuses: what precedes it is shipped, the record
    /// is reported, and the session is left alone for the rest of the run.
    async fn isolate(
        &mut self,
        client: &mut Client,
        segs: &[Segment],
        on_event: &mut (dyn FnMut(Event<'_>) + Send),
    ) -> Attempt<()> {
        for seg in segs {
            if self.blocked.contains(&seg.session.id) {
                continue;
            }
            match self.try_segments(client, &[seg]).await {
                Ok(()) => continue,
                Err(e) if classify(&e) != Class::Rejected => return Err(e),
                Err(_) => {}
            }
            // Bisect on prefixes: a prefix that goes in is committed.
            let n = seg.seqs.len();
            let mut start = 0;
            let mut len = n;
            loop {
                let cur = self.cursor(&seg.session.id);
                let end = start + len == n && seg.end.is_some();
                let part = Part {
                    seg,
                    rows: start..start + len,
                    end,
                    session_row: !cur.exists || end,
                };
                match self.try_parts(client, &[part]).await {
                    Ok(()) => {
                        start += len;
                        if start >= n {
                            break;
                        }
                        len = n - start;
                    }
                    Err(e) if classify(&e) != Class::Rejected => return Err(e),
                    Err(e) => {
                        if len <= 1 {
                            let seq = seg
                                .seqs
                                .get(start)
                                .copied()
                                .or(seg.end.as_ref().map(|e| e.0))
                                .unwrap_or(0);
                            self.summary.rejected += 1;
                            self.blocked.insert(seg.session.id.clone());
                            on_event(Event::Rejected {
                                log: &seg.session.log,
                                session: &seg.session.id,
                                seq,
                                reason: describe_pg_error(&e),
                            });
                            break;
                        }
                        len /= 2;
                    }
                }
            }
        }
        Ok(())
    }

    fn cursor(&self, id: &str) -> Cursor {
        self.cursors.get(id).copied().unwrap_or_default()
    }

    /// Ships segments whole, minus what the database already holds.
    async fn try_segments(&mut self, client: &mut Client, segs: &[&Segment]) -> Attempt<()> {
        self.load_cursors(client, segs).await?;
        let mut parts = Vec::with_capacity(segs.len());
        for seg in segs {
            if self.blocked.contains(&seg.session.id) {
                continue;
            }
            let cur = self.cursor(&seg.session.id);
            let from = match cur.max_seq {
                Some(m) => seg.seqs.partition_point(|&s| s <= m),
                None => 0,
            };
            self.summary.already += from as u64;
            let end = seg.end.is_some() && !cur.ended;
            parts.push(Part {
                seg,
                rows: from..seg.seqs.len(),
                end,
                session_row: !cur.exists || end,
            });
        }
        let result = self.try_parts(client, &parts).await;
        if result.is_err() {
            // Counted again when the batch is retried.
            for p in &parts {
                self.summary.already -= p.rows.start as u64;
            }
        }
        result
    }

    async fn load_cursors(&mut self, client: &Client, segs: &[&Segment]) -> Attempt<()> {
        let mut unknown: Vec<&str> = segs
            .iter()
            .map(|s| s.session.id.as_str())
            .filter(|id| !self.cursors.contains_key(*id))
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        if unknown.is_empty() {
            return Ok(());
        }
        let rows = client
            .query(
                "SELECT s.id, s.ended IS NOT NULL,
                        (SELECT max(m.seq) FROM convlog.messages m WHERE m.session_id = s.id)
                   FROM convlog.sessions s WHERE s.id = ANY($1::text[])",
                &[&unknown],
            )
            .await?;
        for id in unknown {
            self.cursors.insert(id.to_string(), Cursor::default());
        }
        for r in rows {
            let id: String = r.get(0);
            let max: Option<i64> = r.get(2);
            self.cursors.insert(
                id,
                Cursor {
                    exists: true,
                    ended: r.get(1),
                    max_seq: max.and_then(|m| u64::try_from(m).ok()),
                },
            );
        }
        Ok(())
    }

    /// One transaction: the session rows, then the messages.
    async fn try_parts(&mut self, client: &mut Client, parts: &[Part<'_>]) -> Attempt<()> {
        let rows: usize = parts.iter().map(|p| p.rows.len()).sum();
        if rows == 0 && !parts.iter().any(|p| p.session_row) {
            return Ok(());
        }
        let need_staging = !self.staging_ready;
        let host = self.opts.host.as_str();
        let method = self.opts.method;
        if need_staging {
            client
                .batch_execute(
                    "CREATE TEMP TABLE IF NOT EXISTS convlog_staging
                       (LIKE convlog.messages INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                )
                .await?;
        }
        let tx = client.transaction().await?;
        let (mut new_sessions, mut new_ended, mut inserted) = (0u64, 0u64, rows as u64);
        let sessions: Vec<&Part<'_>> = parts.iter().filter(|p| p.session_row).collect();
        if !sessions.is_empty() {
            let ids: Vec<&str> = sessions.iter().map(|p| p.seg.session.id.as_str()).collect();
            let names: Vec<&str> = sessions
                .iter()
                .map(|p| p.seg.session.log_name.as_str())
                .collect();
            let hosts: Vec<&str> = sessions.iter().map(|_| host).collect();
            let created: Vec<&str> = sessions
                .iter()
                .map(|p| p.seg.session.created.as_str())
                .collect();
            let ended: Vec<Option<&str>> = sessions
                .iter()
                .map(|p| {
                    p.seg
                        .end
                        .as_ref()
                        .filter(|_| p.end)
                        .map(|(_, ts)| ts.as_str())
                })
                .collect();
            let changed = tx
                .query(
                    "INSERT INTO convlog.sessions (id, log_name, host, created, ended)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[],
                                      $4::text[]::timestamptz[], $5::text[]::timestamptz[])
                 ON CONFLICT (id) DO UPDATE SET ended = EXCLUDED.ended
                  WHERE convlog.sessions.ended IS NULL AND EXCLUDED.ended IS NOT NULL
                 RETURNING xmax = 0, ended IS NOT NULL",
                    &[&ids, &names, &hosts, &created, &ended],
                )
                .await?;
            // Counted from what the database changed, not what was sent: a
            // second shipper may have been first.
            for r in changed {
                new_sessions += u64::from(r.get::<_, bool>(0));
                new_ended += u64::from(r.get::<_, bool>(1));
            }
        }
        if rows > 0 {
            let mut payload = Vec::with_capacity(
                32 + parts
                    .iter()
                    .map(|p| p.seg.bytes(p.rows.start, p.rows.end).len())
                    .sum::<usize>(),
            );
            payload.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            payload.extend_from_slice(&0i32.to_be_bytes());
            payload.extend_from_slice(&0i32.to_be_bytes());
            for p in parts {
                payload.extend_from_slice(p.seg.bytes(p.rows.start, p.rows.end));
            }
            payload.extend_from_slice(&(-1i16).to_be_bytes());
            let payload = Bytes::from(payload);
            let cols = schema::MESSAGES
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>()
                .join(", ");
            let direct = match method {
                Method::Direct => {
                    tx.batch_execute("SAVEPOINT direct").await?;
                    copy(
                        &tx,
                        &format!("COPY convlog.messages ({cols}) FROM STDIN (FORMAT binary)"),
                        payload.clone(),
                    )
                    .await
                    .map_err(Some)
                }
                Method::Staging => Err(None),
            };
            match direct {
                Ok(()) => {}
                Err(e)
                    if e.as_ref()
                        .is_none_or(|e| e.code() == Some(&SqlState::UNIQUE_VIOLATION)) =>
                {
                    // Some rows are there already: let the database skip them.
                    if e.is_some() {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT direct").await?;
                    }
                    copy(
                        &tx,
                        &format!("COPY convlog_staging ({cols}) FROM STDIN (FORMAT binary)"),
                        payload,
                    )
                    .await?;
                    inserted = tx
                        .execute(
                            &format!(
                                "INSERT INTO convlog.messages ({cols}) SELECT {cols} FROM convlog_staging
                                 ON CONFLICT (session_id, seq) DO NOTHING"
                            ),
                            &[],
                        )
                        .await?;
                }
                Err(Some(e)) => return Err(e),
                Err(None) => {}
            }
        }
        tx.commit().await?;
        self.staging_ready = true;
        self.summary.sessions += new_sessions;
        self.summary.ended += new_ended;
        self.summary.messages += inserted;
        self.summary.already += rows as u64 - inserted;
        for p in parts {
            let id = &p.seg.session.id;
            let mut cur = self.cursor(id);
            cur.exists = true;
            if let Some(&last) = p.rows.clone().last().and_then(|i| p.seg.seqs.get(i)) {
                cur.max_seq = Some(last);
            }
            if p.end {
                cur.ended = true;
            }
            self.cursors.insert(id.clone(), cur);
        }
        Ok(())
    }
}

async fn copy(tx: &tokio_postgres::Transaction<'_>, stmt: &str, payload: Bytes) -> Attempt<()> {
    let sink = tx.copy_in(stmt).await?;
    futures_util::pin_mut!(sink);
    sink.send(payload).await?;
    sink.finish().await?;
    Ok(())
}
