//! `convlog prune`: remove whole sessions older than an age.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use convlog::retain::{Kept, SessionAge, parse_age, remove_session, session_age};
use convlog::ship::{Target, shipped};
use convlog::{Error, Result};

use super::exit::{Exit, Tracker};
use super::util::{paths_or_default, runtime};

/// Remove whole sessions older than an age: log, exports, stamps, .broken files.
///
/// A session's age is the time of its last record (its end record, once
/// ended), not the file's mtime, which a copy or a restore changes. Only
/// ended sessions are removed: one without an end record may have a live
/// writer, and the lock is held while the files go. Every path is
/// checked first: a path that is not a convlog directory or log, or a
/// malformed age, exits 2 with nothing removed. The directory is fsynced.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog prune --older-than 30d --dry-run\n  convlog prune conversations/ --older-than 90d --require-shipped postgres://convlog@db/transcripts"
)]
pub struct PruneArgs {
    /// Directories of logs, or logs (default: ./conversations).
    paths: Vec<PathBuf>,
    /// Remove sessions whose last record is older than this: a whole
    /// number and a unit, s, m, h, d or w (30d, 12h, 2w).
    #[arg(long, value_name = "AGE", value_parser = parse_age_arg, required = true)]
    older_than: Duration,
    /// Print what would be removed and remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep any session whose records are not all in this PostgreSQL
    /// database (as `convlog ship --to URL` put them there).
    #[arg(long, value_name = "URL")]
    require_shipped: Option<String>,
}

fn parse_age_arg(s: &str) -> std::result::Result<Duration, String> {
    parse_age(s).map_err(|e| e.to_string())
}

pub fn run(a: PruneArgs) -> Result<Exit> {
    let paths = paths_or_default(a.paths);
    // Every path is checked before anything is removed: a typo (a home
    // directory, a file that is not a log) removes nothing at all.
    let logs = logs_of(&paths)?;
    let mut exit = Tracker::new();
    let now = chrono::Local::now().fixed_offset();
    let mut old = Vec::new();
    for log in &logs {
        match session_age(log) {
            Ok(age) => {
                let older = age
                    .last
                    .is_some_and(|t| (now - t).to_std().is_ok_and(|d| d > a.older_than));
                if older {
                    old.push(age);
                }
            }
            Err(e) => exit.error(&e),
        }
    }
    let shipped = match &a.require_shipped {
        Some(url) => match shipped_counts(url, &old) {
            Ok(counts) => Some(counts),
            Err(e) => {
                eprintln!("convlog prune: {e}; nothing was removed");
                return Ok(Exit::Error);
            }
        },
        None => None,
    };
    let (mut removed, mut files) = (0, 0);
    for age in &old {
        let log = &age.log;
        if !age.ended {
            println!(
                "kept {}: not ended (a writer may still be using it; `convlog ingest LOG --end \
                 </dev/null` ends an abandoned one)",
                log.display()
            );
            continue;
        }
        if let Some(counts) = &shipped {
            let have = age
                .session
                .as_ref()
                .and_then(|id| counts.get(id))
                .copied()
                .unwrap_or(0);
            if age.session.is_none() || have < age.messages {
                println!(
                    "kept {}: {have} of its {} records are in the database",
                    log.display(),
                    age.messages
                );
                continue;
            }
        }
        let when = age.last.map(|t| t.to_rfc3339()).unwrap_or_default();
        if a.dry_run {
            match convlog::retain::is_open(log) {
                Ok(true) => println!("kept {}: open (a writer holds its lock)", log.display()),
                Ok(false) => {
                    let list = convlog::retain::session_files(log)?;
                    println!(
                        "would remove {} (last record {when}): {}",
                        log.display(),
                        names(&list)
                    );
                    removed += 1;
                    files += list.len();
                }
                Err(e) => exit.error(&e),
            }
            continue;
        }
        match remove_session(log) {
            Ok(list) => {
                println!(
                    "removed {} (last record {when}): {}",
                    log.display(),
                    names(&list)
                );
                removed += 1;
                files += list.len();
            }
            Err(Kept::Open) => println!("kept {}: open (a writer holds its lock)", log.display()),
            Err(Kept::NotEnded) => println!(
                "kept {}: not ended (it changed while prune ran; a writer may still be using it)",
                log.display()
            ),
            Err(Kept::Failed(e)) => exit.error(&e),
        }
    }
    let verb = if a.dry_run { "would remove" } else { "removed" };
    eprintln!("convlog prune: {verb} {removed} session(s), {files} file(s)");
    Ok(exit.code())
}

/// The logs under `paths`, or an error naming the first path that is not
/// a convlog directory or log.
pub fn logs_of(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut logs = Vec::new();
    for p in paths {
        let found = convlog::read::find_logs(std::slice::from_ref(p))?;
        let not_convlog = |why: &str| Error::NotALog {
            path: p.clone(),
            reason: format!("not a convlog directory or log: {why}; nothing was removed"),
        };
        if p.is_dir() {
            let empty = std::fs::read_dir(p)
                .map_err(|e| Error::io(p, "list", e))?
                .next()
                .is_none();
            let any_log = found.iter().any(|l| is_log(l));
            if !any_log && !empty {
                return Err(not_convlog("it holds no session log"));
            }
        } else if !is_log(p) {
            return Err(not_convlog("its first line is not a convlog header"));
        }
        logs.extend(found.into_iter().filter(|l| is_log(l)));
    }
    logs.sort();
    logs.dedup();
    Ok(logs)
}

fn is_log(p: &Path) -> bool {
    matches!(convlog::stats::read_header(p), Ok(Some(_)))
}

fn names(files: &[PathBuf]) -> String {
    let v: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    v.join(", ")
}

fn shipped_counts(
    url: &str,
    old: &[SessionAge],
) -> std::result::Result<std::collections::HashMap<String, u64>, String> {
    let target = Target::resolve(Some(url)).map_err(|e| e.to_string())?;
    let ids: Vec<String> = old.iter().filter_map(|a| a.session.clone()).collect();
    runtime()
        .map_err(|e| e.to_string())?
        .block_on(shipped(&target, &ids))
        .map_err(|e| e.to_string())
}
