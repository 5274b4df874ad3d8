//! Ships logs to PostgreSQL, exactly once in effect (feature `postgres`).
//!
//! Rows are keyed on `(session_id, seq)` and the database is the cursor: what
//! is stored of each session is read back from it, so a shipper killed at
//! any moment resumes from what committed, with or without local state. Each
//! batch is one transaction: the session rows, then the messages by binary
//! `COPY`. Every row carries its record's CRC, so a record the database
//! holds already is compared, not assumed: a second copy of a session that
//! differs is a conflict, reported, never merged.
//!
//! Reading runs on its own thread with the library's reader, so only whole,
//! checksummed records are shipped; a torn tail is a write in flight and is
//! waited out. The schema is documented in `SHIP.md`.
//!
//! One job per file: [`options`](Options), the [stop token](Stop),
//! [events](Event) and [errors](ShipError); `read` (the reader thread),
//! `encode` (rows as PostgreSQL holds them), `retry` (the connection and
//! its faults), `batch` (comparing with the database, isolating a refused
//! record), `txn` (one transaction); the loop is here.

mod batch;
mod encode;
mod erase;
mod error;
mod event;
mod options;
mod pgpass;
mod read;
mod resume;
mod retry;
pub mod schema;
mod stop;
mod target;
mod txn;
mod watch;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

pub use erase::{Erased, erase, shipped};
pub use error::{ShipError, describe_pg_error};
pub use event::{Event, Summary};
pub use options::{Method, Options, hostname};
pub use stop::Stop;
pub use target::Target;
/// The PostgreSQL client the shipper is built on, for callers that query the result.
pub use tokio_postgres;

use error::{Attempt, timed};
use read::{Item, ReadOptions};
use retry::Db;

/// How long a batch in flight may go on after a stop was asked for before
/// it is abandoned (its transaction rolls back with the connection), so that
/// a stop takes effect within seconds even when the database hangs.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Creates the schema if the database has none (or upgrades an older one)
/// and checks it; with `full_text`, also the full-text index over content
/// ([`schema::FULL_TEXT_DDL`]).
pub async fn init(target: &Target, full_text: bool) -> Result<(), ShipError> {
    let mut client = target.connect().await.map_err(|e| ShipError::Connect {
        target: target.describe().to_string(),
        reason: describe_pg_error(&e),
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

/// `fut`, unless `stop` is asked for and `fut` does not finish within
/// [`STOP_GRACE`] after that: then `None`.
async fn unless_stopped<T>(stop: &Stop, fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        r = fut => Some(r),
        _ = async { stop.wait().await; tokio::time::sleep(STOP_GRACE).await } => None,
    }
}

/// Ships every session under `paths` to `target`, then returns (or, with
/// [`Options::follow`], keeps watching until `stop`).
///
/// The first connection must succeed unless following, when an unreachable
/// server is an outage like any other. Errors that retrying cannot fix end
/// the run; everything else is an [`Event`] and counts in the [`Summary`].
/// A stop takes effect after the batch in flight, or 2 s after the
/// request if that batch hangs.
pub async fn ship(
    target: &Target,
    paths: &[PathBuf],
    opts: &Options,
    stop: &Stop,
    on_event: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<Summary, ShipError> {
    // Paths that do not exist are a usage error, found before connecting.
    let logs = crate::read::find_logs(paths).map_err(ShipError::Log)?;
    let mut db = Db::new(target, opts, stop);
    match unless_stopped(stop, db.connect(on_event, true)).await {
        Some(Ok(true)) => {}
        Some(Ok(false)) | None => return Ok(db.ledger.summary),
        Some(Err(e)) => return Err(e),
    }

    // Not knowing only costs reading those logs again.
    let (done, resume) = match unless_stopped(stop, shipped_sessions(&db, &logs)).await {
        Some(d) => d.unwrap_or_default(),
        None => return Ok(db.ledger.summary),
    };
    db.ledger.summary.complete = done.len() as u64;
    let (tx, mut rx) = mpsc::channel(2);
    let reader_stop = Stop::new();
    let reader = {
        let paths = paths.to_vec();
        let ro = ReadOptions {
            done,
            resume,
            recovery: opts.recovery,
            follow: opts.follow,
            poll: opts.poll,
            notify: opts.notify,
            batch_rows: opts.batch_rows.max(1),
            redact: opts.redact.clone(),
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
                Some(Item::Batch(segs)) => {
                    match unless_stopped(stop, db.ship_batch(segs, on_event)).await {
                        Some(r) => r?,
                        None => break,
                    }
                }
                Some(Item::Damaged { log, detail }) => {
                    db.ledger.summary.damaged += 1;
                    on_event(Event::Damaged { log: &log, detail });
                }
                Some(Item::Resumed) => db.ledger.summary.resumed += 1,
                Some(Item::Note { log, detail }) => on_event(Event::Note { log: &log, detail }),
                Some(Item::Unreadable { log, detail }) => {
                    db.ledger.summary.unreadable += 1;
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
    // The reader notices within a poll or 4,096 lines; a join that takes
    // longer than the grace is left to the process's exit.
    let _ = tokio::time::timeout(
        STOP_GRACE,
        tokio::task::spawn_blocking(move || reader.join()),
    )
    .await;
    result.map(|()| db.ledger.summary)
}

/// What the database holds of the sessions among `logs`, so that a
/// restarted shipper does not read every old log again: the sessions it
/// holds ended (a session is recorded ended only once all of it is there,
/// see `read`, so ended is whole, and such a log is not read at all), and
/// for open ones its last record when it holds every record up to it (the
/// log is read from there, see `resume`).
async fn shipped_sessions(
    db: &Db<'_>,
    logs: &[PathBuf],
) -> Attempt<(HashSet<String>, HashMap<String, resume::Shipped>)> {
    let mut ids = Vec::with_capacity(logs.len());
    for log in logs {
        if let Ok(f) = crate::fs::open_read(log)
            && let Some((h, _)) = read::header_of(&f)
        {
            ids.push(h.session);
        }
    }
    let mut done = HashSet::new();
    let mut open = HashMap::new();
    let Some(client) = &db.client else {
        return Ok((done, open));
    };
    for chunk in ids.chunks(10_000) {
        // A session's rows are seqs 1, 2, …, max with none missing exactly
        // when there are max of them (seqs are unique and positive); tool
        // calls and handoffs take seqs but no row, so their sessions, and
        // those with a gap, are read whole.
        let rows = timed(
            db.opts.timeout,
            "reading what is shipped of each session",
            async {
                Ok(client
                    .query(
                        "SELECT s.id, s.ended IS NOT NULL, last.seq, last.crc,
                            CASE WHEN s.ended IS NULL THEN
                              (SELECT count(*) FROM convlog.messages c WHERE c.session_id = s.id)
                            END
                       FROM convlog.sessions s
                       LEFT JOIN LATERAL (
                            SELECT m.seq, m.crc FROM convlog.messages m
                             WHERE m.session_id = s.id ORDER BY m.seq DESC LIMIT 1) last ON true
                      WHERE s.id = ANY($1::text[])",
                        &[&chunk],
                    )
                    .await?)
            },
        )
        .await?;
        for r in rows {
            let id: String = r.get(0);
            let (seq, crc, count): (Option<i64>, Option<i64>, Option<i64>) =
                (r.get(2), r.get(3), r.get(4));
            if r.get::<_, bool>(1) {
                done.insert(id);
            } else if let (Some(seq), Some(crc), Some(count)) = (seq, crc, count)
                && seq == count
                && let (Ok(seq), Ok(crc)) = (u64::try_from(seq), u32::try_from(crc))
            {
                open.insert(id, resume::Shipped { seq, crc });
            }
        }
    }
    Ok((done, open))
}
