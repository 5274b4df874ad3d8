//! `convlog ship`: sessions to PostgreSQL, exactly once in effect.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use convlog::ship::{self, Event, Options, ShipError, Stop, Target};
use convlog::{Error, Result};

use convlog::Recovery;

use super::exit::Exit;
use super::util::{paths_or_default, runtime};

#[derive(Args, Debug)]
pub struct ShipArgs {
    /// Logs, or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
    /// The database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=require].
    /// Default: $CONVLOG_PG_URL, or libpq's PGHOST, PGPORT, PGUSER,
    /// PGPASSWORD, PGDATABASE and PGSSLMODE.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Keep running: ship new records and sessions as they become durable,
    /// until SIGINT or SIGTERM (which stop after the batch in flight).
    #[arg(short, long)]
    follow: bool,
    /// Create the schema (or check it) and exit without shipping.
    #[arg(long)]
    init: bool,
    /// With --init: also create the full-text index over content (GIN on
    /// to_tsvector('simple', content)). Searching gets fast; shipping gets
    /// about three times slower.
    #[arg(long, requires = "init")]
    full_text: bool,
    /// What to ship of a damaged log, as for export: tolerate-tail ships
    /// nothing of a log with mid-file damage; absolute also refuses a torn
    /// tail (when not following); point-in-time ships what precedes the
    /// damage; skip-corrupt ships every valid record.
    #[arg(long, value_enum, default_value_t = Recovery::TolerateTail)]
    recovery: Recovery,
    /// The host column of new sessions (default: this machine's name).
    #[arg(long)]
    host: Option<String>,
    /// Messages per transaction.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch: u64,
    /// Longest wait between reconnection attempts, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    max_backoff: u64,
    /// Print nothing but problems.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(a: ShipArgs) -> Result<Exit> {
    let target = match Target::resolve(a.to.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("convlog ship: {e}");
            return Ok(Exit::Error);
        }
    };
    let rt = runtime()?;
    let paths = paths_or_default(a.paths.clone());
    let opts = Options {
        recovery: a.recovery,
        follow: a.follow,
        host: a.host.clone().unwrap_or_else(ship::hostname),
        create_schema: true,
        max_backoff: Duration::from_secs(a.max_backoff),
        batch_rows: a.batch as usize,
        ..Options::default()
    };
    let quiet = a.quiet;
    let result = rt.block_on(async {
        if a.init {
            ship::init(&target, a.full_text).await?;
            if !quiet {
                eprintln!(
                    "convlog ship: schema version {} is in place at {}",
                    ship::schema::SCHEMA_VERSION,
                    target.describe()
                );
            }
            return Ok(None);
        }
        let stop = Stop::new();
        for kind in [
            tokio::signal::unix::SignalKind::interrupt(),
            tokio::signal::unix::SignalKind::terminate(),
        ] {
            let mut sig = tokio::signal::unix::signal(kind).map_err(|e| {
                ShipError::Log(Error::io(
                    std::path::Path::new("<signal>"),
                    "install signal handler",
                    e,
                ))
            })?;
            let stop = stop.clone();
            tokio::spawn(async move {
                if sig.recv().await.is_some() {
                    stop.stop();
                }
            });
        }
        let started = Instant::now();
        let mut on_event = |ev: Event<'_>| match ev {
            Event::Outage { target, reason } => eprintln!(
                "convlog ship: {target} is unreachable ({reason}); retrying with backoff up to {}s",
                opts.max_backoff.as_secs()
            ),
            Event::Recovered { target, after } => eprintln!(
                "convlog ship: {target} is back after {:.1}s; shipping resumed",
                after.as_secs_f64()
            ),
            Event::Rejected {
                log,
                session,
                seq,
                reason,
            } => eprintln!(
                "convlog ship: {}: session {session}, seq {seq}: rejected by the database: {reason}; the rest of this session is not shipped",
                log.display()
            ),
            Event::Damaged { detail, .. }
            | Event::Unreadable { detail, .. }
            | Event::TornTail { detail, .. } => {
                eprintln!("convlog ship: {detail}")
            }
            _ => {}
        };
        let summary = ship::ship(&target, &paths, &opts, &stop, &mut on_event).await?;
        if !quiet {
            eprintln!(
                "convlog ship: {} messages shipped to {} ({} new sessions, {} ended; {} already there; {} ended sessions already complete) in {:.1}s{}",
                summary.messages,
                target.describe(),
                summary.sessions,
                summary.ended,
                summary.already,
                summary.complete,
                started.elapsed().as_secs_f64(),
                if stop.is_stopped() { "; stopped" } else { "" }
            );
        }
        Ok::<_, ShipError>(Some(summary))
    });
    match result {
        Ok(None) => Ok(Exit::Ok),
        Ok(Some(s)) if s.is_clean() => Ok(Exit::Ok),
        Ok(Some(_)) => Ok(Exit::Finding),
        Err(ShipError::Log(e)) => Err(e),
        Err(e) => {
            eprintln!("convlog ship: {e}");
            Ok(Exit::Error)
        }
    }
}
