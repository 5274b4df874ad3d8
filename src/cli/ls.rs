//! `convlog ls`: one line per session: start, duration, messages, state, export.
//!
//! Reads with skip-corrupt recovery, so it answers for live, ended, crashed
//! and damaged logs alike; a damaged log is listed and makes the exit code 1.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use convlog::stats::State;
use convlog::{Result, export_path};
use serde::Serialize;

use super::PathsArg;
use super::console::Paint;
use super::exit::Exit;
use super::util::{
    clock_duration, collect_stats, file_name, json_err, stdout_err, wall_clock_secs,
};
use convlog::describe::SessionHead;

/// `missing`, `up to date`, `stale`, `original` (the file `convlog import`
/// read, which is never replaced) or `unknown` (no stamp: not convlog's).
fn export_state(log: &Path) -> (&'static str, PathBuf) {
    let state = convlog::export::export_state(log).map_or("stale", |s| s.as_str());
    (state, export_path(log))
}

/// List sessions: start, duration, messages per role, state and export.
///
/// One line per log: when it started (its first message's time, as the
/// wall clock it was written in), how long it ran (to its last message),
/// user and agent messages, its state (ended, open,
/// or damaged: see `convlog verify`) and its export beside it, which is up
/// to date, stale (the log changed since) or missing (`convlog refresh`
/// renders it).
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog ls\n  convlog ls conversations/ --json | jq -r 'select(.state == \"open\") | .path'"
)]
pub struct LsArgs {
    #[command(flatten)]
    paths: PathsArg,
    /// One JSON object per session (JSON Lines) instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: LsArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let (sessions, exit) = collect_stats(a.paths);
    if sessions.is_empty() {
        return Ok(exit.code());
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if a.json {
        for s in &sessions {
            let (state, export) = export_state(&s.path);
            let v = LsLine {
                head: SessionHead::new(&s.path, &s.report),
                export: ExportInfo {
                    path: export.display().to_string(),
                    state: state.replace(' ', "-"),
                },
            };
            let v = serde_json::to_string(&v).map_err(json_err)?;
            writeln!(out, "{v}").map_err(stdout_err)?;
        }
        out.flush().map_err(stdout_err)?;
        return Ok(exit.code());
    }
    let mut rows: Vec<[String; 7]> = vec![[
        "LOG".into(),
        "START".into(),
        "DURATION".into(),
        "USER".into(),
        "AGENT".into(),
        "STATE".into(),
        "EXPORT".into(),
    ]];
    let mut states = Vec::new();
    for s in &sessions {
        let (export_state, export) = export_state(&s.path);
        let state = match s.damage_summary() {
            Some(d) => format!("damaged ({d})"),
            None => s.state().as_str().to_string(),
        };
        rows.push([
            s.path.display().to_string(),
            s.start().map(wall_clock_secs).unwrap_or_else(|| "-".into()),
            s.duration_secs()
                .map(clock_duration)
                .unwrap_or_else(|| "-".into()),
            s.user.records.to_string(),
            s.agent.records.to_string(),
            state,
            format!("{} ({export_state})", file_name(&export)),
        ]);
        states.push((s.state(), export_state));
    }
    let mut width = [0usize; 7];
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = width[c] - cell.chars().count();
            // Numbers and durations are right-aligned.
            let padded = if (2..=4).contains(&c) {
                format!("{}{cell}", " ".repeat(pad))
            } else if c == 6 {
                cell.clone()
            } else {
                format!("{cell}{}", " ".repeat(pad))
            };
            let painted = match (i, c) {
                (0, _) => paint.bold(&padded),
                (_, 5) => match states[i - 1].0 {
                    State::Ended => paint.green(&padded),
                    State::Open => paint.yellow(&padded),
                    State::Damaged => paint.red(&padded),
                },
                (_, 6) if states[i - 1].1 != "up to date" => paint.yellow(&padded),
                _ => padded,
            };
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(&painted);
        }
        writeln!(out, "{}", line.trim_end()).map_err(stdout_err)?;
    }
    out.flush().map_err(stdout_err)?;
    Ok(exit.code())
}

#[derive(Serialize)]
struct ExportInfo {
    path: String,
    state: String,
}

/// One line of `ls --json`.
#[derive(Serialize)]
struct LsLine<'a> {
    #[serde(flatten)]
    head: SessionHead<'a>,
    export: ExportInfo,
}
