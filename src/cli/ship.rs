//! `convlog ship`: sessions to PostgreSQL, exactly once in effect.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use convlog::ship::{self, Event, Options, ShipError, Stop, Target};
use convlog::{Error, Result};

use super::exit::Exit;
use super::redact::RedactArgs;
use super::util::{paths_or_default, runtime};
use super::values::RecoveryArg;

/// Ship sessions to PostgreSQL, exactly once in effect; --follow keeps shipping.
///
/// Rows are keyed on (session_id, seq) and the database is the cursor, so
/// a shipper killed at any moment resumes without loss or duplicates. Only
/// whole, checksummed records are shipped. The schema (see SHIP.md) is
/// created on first use or by --init. Exit code 0 when everything was
/// shipped, 1 when a log was damaged, unreadable or a record was rejected,
/// 2 on errors.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog ship conversations/ --to postgres://convlog@db.internal/transcripts\n  CONVLOG_PG_URL=postgres://convlog@db/transcripts convlog ship --follow"
)]
pub struct ShipArgs {
    /// Logs, or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
    /// The database: postgres://USER@HOST[:PORT]/DB[?sslmode=verify-full&...].
    /// Default: $CONVLOG_PG_URL, or libpq's PGHOST, PGPORT, PGUSER,
    /// PGDATABASE and PGSSLMODE. The password comes from PGPASSWORD or the
    /// password file (PGPASSFILE, ~/.pgpass), never from the command line:
    /// one given there is removed from the process's arguments, with a
    /// warning.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Read the database URL from this file (first line), so that a
    /// password in it stays out of the process list.
    #[arg(long, value_name = "FILE", conflicts_with = "to")]
    to_file: Option<PathBuf>,
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
    #[arg(long, value_enum, default_value_t = RecoveryArg::TolerateTail)]
    recovery: RecoveryArg,
    /// The host column of new sessions (default: this machine's name).
    #[arg(long)]
    host: Option<String>,
    /// Messages per transaction.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    batch: u64,
    /// Longest wait between reconnection attempts, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    max_backoff: u64,
    /// Longest one exchange with the database (a batch's transaction) may
    /// take, in seconds, before the connection is dropped as hung and the
    /// batch retried.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    timeout: u64,
    /// Attempts at a batch through transient faults (connection lost,
    /// statement cancelled, disk full) before a one-pass run gives up with
    /// exit code 2. With --follow, retries go on for ever.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=1000))]
    attempts: u32,
    /// Print nothing but problems.
    #[arg(short, long)]
    quiet: bool,
    /// Redact each message's content on its way to the database, for logs
    /// written without redaction (the logs are left as they are).
    #[command(flatten)]
    redact: RedactArgs,
}

pub fn run(a: ShipArgs) -> Result<Exit> {
    let url = match (&a.to, &a.to_file) {
        (Some(u), _) => {
            if let Some(pw) = password_in(u) {
                scrub_from_args(pw);
                eprintln!(
                    "convlog ship: warning: a password on the command line is visible to other users (ps, /proc/PID/cmdline); it was removed from this process's arguments, but give it through PGPASSWORD, ~/.pgpass (PGPASSFILE) or --to-file instead"
                );
            }
            Some(u.clone())
        }
        (None, Some(f)) => match std::fs::read_to_string(f) {
            Ok(text) => match text.lines().map(str::trim).find(|l| !l.is_empty()) {
                Some(u) => Some(u.to_string()),
                None => {
                    eprintln!(
                        "convlog ship: {}: the file holds no database URL",
                        f.display()
                    );
                    return Ok(Exit::Error);
                }
            },
            Err(e) => {
                eprintln!(
                    "convlog ship: {}: cannot read the database URL: {e}",
                    f.display()
                );
                return Ok(Exit::Error);
            }
        },
        (None, None) => None,
    };
    let target = match Target::resolve(url.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("convlog ship: {e}");
            return Ok(Exit::Error);
        }
    };
    for note in target.notes() {
        eprintln!("convlog ship: warning: {note}");
    }
    let rt = runtime()?;
    let paths = paths_or_default(a.paths.clone());
    let opts = Options {
        recovery: a.recovery.into(),
        follow: a.follow,
        host: a.host.clone().unwrap_or_else(ship::hostname),
        create_schema: true,
        max_backoff: Duration::from_secs(a.max_backoff),
        batch_rows: a.batch as usize,
        timeout: Duration::from_secs(a.timeout),
        attempts: a.attempts,
        redact: a.redact.policy()?,
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
            Event::Outage { target, what, reason } => eprintln!(
                "convlog ship: {target}: {what} ({reason}); retrying with backoff up to {}s{}",
                opts.max_backoff.as_secs(),
                if opts.follow {
                    String::new()
                } else {
                    format!(", {} attempts in all", opts.attempts)
                }
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
            Event::Conflict {
                log,
                session,
                other,
                seq,
                what,
            } => eprintln!(
                "convlog ship: {}: session {session}: conflict with {other} at seq {seq}: {what}; nothing more of this session is shipped from this file",
                log.display()
            ),
            Event::Copy {
                log,
                session,
                other,
                differs,
            } => eprintln!(
                "convlog ship: {}: session {session} is also in {other} with identical records; shipped once{}",
                log.display(),
                differs.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
            Event::Damaged { detail, .. }
            | Event::Unreadable { detail, .. }
            | Event::Note { detail, .. } => eprintln!("convlog ship: {detail}"),
            _ => {}
        };
        let outcome = ship::ship(&target, &paths, &opts, &stop, &mut on_event).await;
        let summary = match &outcome {
            Ok(s) => s,
            Err(ShipError::GaveUp { summary, .. }) => &**summary,
            Err(_) => return outcome.map(Some),
        };
        if !quiet || outcome.is_err() {
            eprintln!(
                "convlog ship: {} messages shipped to {} ({} new sessions, {} ended; {} already there; {} ended sessions already complete{}{}{}) in {:.1}s{}",
                summary.messages,
                target.describe(),
                summary.sessions,
                summary.ended,
                summary.already,
                summary.complete,
                if summary.resumed > 0 {
                    format!("; {} open sessions read from their last shipped record", summary.resumed)
                } else {
                    String::new()
                },
                if summary.encoded > 0 {
                    format!("; {} stored with their line in raw (see SHIP.md)", summary.encoded)
                } else {
                    String::new()
                },
                if summary.conflicts > 0 {
                    format!("; {} conflicting copies", summary.conflicts)
                } else {
                    String::new()
                },
                started.elapsed().as_secs_f64(),
                if stop.is_stopped() { "; stopped" } else { "" }
            );
        }
        outcome.map(Some)
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

/// The password in a `postgres://user:PASSWORD@…` URL or a `password=…`
/// key, as typed.
fn password_in(url: &str) -> Option<&str> {
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let auth = &rest[..rest.find('@')?];
        let (_, pw) = auth.split_once(':')?;
        return (!pw.is_empty()).then_some(pw);
    }
    url.split_whitespace()
        .find_map(|kv| kv.strip_prefix("password="))
        .filter(|pw| !pw.is_empty())
}

/// Overwrites `secret` in this process's argument strings, the memory that
/// `ps` and `/proc/PID/cmdline` show (between `arg_start` and `arg_end` of
/// `/proc/self/stat`), as PostgreSQL's own processes rewrite their titles.
fn scrub_from_args(secret: &str) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name, which is in parentheses and may hold
    // spaces; arg_start and arg_end are fields 48 and 49 (state is 3).
    let Some((_, after)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let (Some(Ok(start)), Some(Ok(end))) = (
        fields.get(45).map(|f| f.parse::<usize>()),
        fields.get(46).map(|f| f.parse::<usize>()),
    ) else {
        return;
    };
    if end <= start || secret.is_empty() {
        return;
    }
    // SAFETY: [arg_start, arg_end) is this process's own argument area,
    // mapped writable on its stack for its whole life; nothing else holds a
    // reference into it (std copied the arguments when clap parsed them), and
    // the bytes are overwritten in place without changing the length.
    let args = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    let s = secret.as_bytes();
    let mut i = 0;
    while i + s.len() <= args.len() {
        if &args[i..i + s.len()] == s {
            args[i..i + s.len()].fill(b'*');
            i += s.len();
        } else {
            i += 1;
        }
    }
}
