//! `convlog forget`: erase sessions by id, their files and (with --to)
//! their rows in PostgreSQL, and print a receipt.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use convlog::Result;
use convlog::retain::{Kept, remove_session};
use convlog::ship::{Erased, Target, erase};

use super::exit::{Exit, Tracker};
use super::prune::logs_of;
use super::util::{paths_or_default, runtime};

/// Erase sessions by id: their files and, with --to, their database rows.
///
/// Prints a receipt (session ids, files removed, rows deleted, time) for
/// a compliance log; --json prints it as one object. An open session is
/// refused before anything is erased. The rows go in one transaction.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog forget 3f2a9c0e5b7d41a8b6c2d9e0f1a2b3c4\n  convlog forget 3f2a9c0e5b7d41a8b6c2d9e0f1a2b3c4 conversations/ --to postgres://convlog@db/transcripts --json >> erasures.jsonl"
)]
pub struct ForgetArgs {
    /// Session ids (the 32 hex digits of a log's header, as `convlog ls
    /// --json` shows them), then the directories or logs to look in
    /// (default: ./conversations).
    #[arg(value_name = "SESSION... [PATH...]", required = true)]
    args: Vec<String>,
    /// Also delete the sessions' rows in this PostgreSQL database, in one
    /// transaction (the tables `convlog ship` writes).
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Print the receipt as one JSON object.
    #[arg(long)]
    json: bool,
}

fn is_session_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn run(a: ForgetArgs) -> Result<Exit> {
    let (ids, paths): (Vec<String>, Vec<String>) =
        a.args.into_iter().partition(|s| is_session_id(s));
    if ids.is_empty() {
        eprintln!("convlog forget: no session id given (32 hex digits, as in a log's header)");
        return Ok(Exit::Error);
    }
    let ids: Vec<String> = ids.into_iter().map(|s| s.to_ascii_lowercase()).collect();
    let paths = paths_or_default(paths.into_iter().map(PathBuf::from).collect());
    let logs = logs_of(&paths)?;
    let mut exit = Tracker::new();
    // Which logs belong to which session.
    let mut found: BTreeMap<&str, Vec<PathBuf>> =
        ids.iter().map(|id| (id.as_str(), Vec::new())).collect();
    for log in logs {
        if let Ok(Some(h)) = convlog::stats::read_header(&log)
            && let Some(list) = found.get_mut(h.session.as_str())
        {
            list.push(log);
        }
    }
    // An open session is refused before anything is erased anywhere.
    for (id, logs) in &found {
        for log in logs {
            let ended = convlog::read::inspect(log)?.ended;
            if !ended || convlog::retain::is_open(log)? {
                eprintln!(
                    "convlog forget: {}: session {id} is not ended, so a writer may still be \
                     using it; end it first (`convlog ingest LOG --end </dev/null` ends an \
                     abandoned one). Nothing was erased",
                    log.display()
                );
                return Ok(Exit::Error);
            }
        }
    }
    let rows: Option<Vec<Erased>> = match &a.to {
        Some(url) => {
            let erased = Target::resolve(Some(url))
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    runtime()
                        .map_err(|e| e.to_string())?
                        .block_on(erase(&t, &ids))
                        .map_err(|e| e.to_string())
                });
            match erased {
                Ok(rows) => Some(rows),
                Err(e) => {
                    eprintln!("convlog forget: {e}; nothing was erased");
                    return Ok(Exit::Error);
                }
            }
        }
        None => None,
    };
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut receipt = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut files = Vec::new();
        for log in &found[id.as_str()] {
            match remove_session(log) {
                Ok(list) => files.extend(list),
                Err(Kept::Open) => {
                    exit.finding();
                    eprintln!(
                        "convlog forget: {}: opened by a writer meanwhile; not removed",
                        log.display()
                    );
                }
                Err(Kept::NotEnded) => {
                    exit.finding();
                    eprintln!(
                        "convlog forget: {}: not ended (it changed meanwhile); not removed",
                        log.display()
                    );
                }
                Err(Kept::Failed(e)) => exit.error(&e),
            }
        }
        let db = rows.as_ref().map(|r| r[i]);
        if files.is_empty() && db.is_none_or(|r| r.messages + r.sessions == 0) {
            exit.finding();
            eprintln!("convlog forget: session {id}: nothing found to erase");
        }
        receipt.push((id, files, db));
    }
    if a.json {
        let sessions: Vec<serde_json::Value> = receipt
            .iter()
            .map(|(id, files, db)| {
                serde_json::json!({
                    "session": id,
                    "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                    "rows": db.map(|r| serde_json::json!({"messages": r.messages, "sessions": r.sessions})),
                })
            })
            .collect();
        let doc = serde_json::json!({"forgotten_at": time, "database": a.to.as_ref().map(|_| db_name(&a.to)), "sessions": sessions});
        println!("{doc}");
    } else {
        println!("convlog forget receipt, {time}");
        for (id, files, db) in &receipt {
            println!("session {id}");
            for f in files {
                println!("  removed {}", f.display());
            }
            if let Some(r) = db {
                println!(
                    "  deleted {} message row(s) and {} session row(s) in {}",
                    r.messages,
                    r.sessions,
                    db_name(&a.to)
                );
            }
        }
    }
    Ok(exit.code())
}

/// The database as the receipt names it, never with its password.
fn db_name(url: &Option<String>) -> String {
    Target::resolve(url.as_deref())
        .map(|t| t.describe().to_string())
        .unwrap_or_default()
}
