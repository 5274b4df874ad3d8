//! `convlog verify`: the report people read after an incident.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use convlog::describe::VerifyReport;
use convlog::read::inspect;
use convlog::repair::{Repair, repair};
use convlog::stats::damage_summary;
use convlog::{Report, Result};

use super::PathsArg;
use super::console::Paint;
use super::exit::{Exit, Tracker};
use super::util::{Progress, json_err, plural, stdout_err, write_flush};

/// Check logs and report, per file, exactly what state they are in.
///
/// Exit code 0 when nothing is damaged (or --repair fixed everything), 1
/// when damage remains, 2 on errors (reported on stderr).
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  convlog verify conversations/ --repair")]
pub struct VerifyArgs {
    #[command(flatten)]
    paths: PathsArg,
    /// One JSON object per log on stdout (JSON Lines) instead of the readable report.
    #[arg(long)]
    json: bool,
    /// Cut a torn tail (keeping its bytes in LOG.broken). Never touches mid-file corruption.
    #[arg(long)]
    repair: bool,
}

/// What verify concluded about one readable log.
struct Verified {
    path: PathBuf,
    /// The log as it is now (after a repair, if one cut anything).
    report: Report,
    /// What `--repair` did, and the report it acted on.
    repair: Option<(Repair, Report)>,
}

fn inspect_or_repair(path: &Path, do_repair: bool) -> Result<Verified> {
    if !do_repair {
        return Ok(Verified {
            path: path.to_path_buf(),
            report: inspect(path)?,
            repair: None,
        });
    }
    let (repaired, found) = repair(path, None)?;
    // After a cut, read the file again: the answer is what it is now, not
    // what it was.
    let report = match repaired {
        Repair::Truncated { .. } => inspect(path)?,
        _ => found.clone(),
    };
    Ok(Verified {
        path: path.to_path_buf(),
        report,
        repair: Some((repaired, found)),
    })
}

pub fn run(a: VerifyArgs, color: bool) -> Result<Exit> {
    let mut exit = Tracker::new();
    let logs = a.paths.logs(&mut exit);
    let bar = Progress::new(logs.len());
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for log in &logs {
        let text = match inspect_or_repair(log, a.repair) {
            Ok(o) => {
                exit.damage(&o.report);
                if a.json {
                    let v = serde_json::to_string(&to_json(&o)).map_err(json_err)?;
                    format!("{v}\n")
                } else {
                    human(&o, Paint(color))
                }
            }
            Err(e) => {
                // Errors go to stderr, once, naming the file; stdout holds
                // only answers.
                out.flush().map_err(stdout_err)?;
                bar.suspend(|| exit.unreadable(&e));
                String::new()
            }
        };
        bar.suspend(|| write_flush(&mut out, text.as_bytes()))?;
        bar.inc();
    }
    drop(bar);
    out.flush().map_err(stdout_err)?;
    Ok(exit.code())
}

/// One-line state: intact and ended, intact but open, torn tail (N bytes), damaged (…).
fn state(r: &Report) -> (&'static str, String) {
    if r.mid_file_damage().next().is_some() {
        let what = damage_summary(r).unwrap_or_default();
        ("damaged", format!("damaged ({what})"))
    } else if let Some(bytes) = r.torn_bytes() {
        ("torn-tail", format!("torn tail ({bytes} bytes)"))
    } else if r.ended {
        ("intact", "intact and ended".into())
    } else {
        (
            "intact",
            "intact but still open (no end record: a live session, or its writer crashed)".into(),
        )
    }
}

fn span(r: &Report) -> String {
    let mut messages = plural(r.messages, "message", "messages");
    if r.tool_calls > 0 {
        messages.push_str(&format!(
            ", {}",
            plural(r.tool_calls, "tool call", "tool calls")
        ));
    }
    if r.handoffs > 0 {
        messages.push_str(&format!(", {}", plural(r.handoffs, "handoff", "handoffs")));
    }
    let (Some(first), Some(last)) = (r.first_seq, r.last_seq) else {
        return messages;
    };
    let mut s = format!("{messages}, seq {first}–{last}");
    if let (Some(a), Some(b)) = (&r.first_ts, &r.last_ts) {
        s.push_str(&format!(", {a} to {b}"));
        if let Some(secs) = convlog::stats::duration_secs(r) {
            s.push_str(&format!(" ({secs:.1} s)"));
        }
    }
    s
}

fn human(o: &Verified, paint: Paint) -> String {
    let p = o.path.display();
    let paint_state = |r: &Report| {
        let (kind, text) = state(r);
        match kind {
            "intact" => paint.green(&text),
            "torn-tail" => paint.yellow(&text),
            _ => paint.red(&text),
        }
    };
    // What was found comes first; after a cut, what the file is now follows it.
    let found = o.repair.as_ref().map_or(&o.report, |(_, found)| found);
    let mut s = format!(
        "{}: {}\n  {}\n",
        paint.bold(&p.to_string()),
        paint_state(found),
        span(found)
    );
    for d in &found.damage {
        s.push_str(&format!(
            "  line {} (byte {}): {}: {}\n",
            d.line,
            d.offset,
            d.kind.name(),
            d.reason
        ));
    }
    match o.repair.as_ref().map(|(r, _)| r) {
        Some(Repair::Truncated { bytes, backup }) => s.push_str(&format!(
            "  {} cut the torn tail of {bytes} bytes; saved in {}\n  {} {}\n",
            paint.green("repaired:"),
            backup.display(),
            paint.dim("now:"),
            paint_state(&o.report),
        )),
        Some(Repair::Refused { lines }) => s.push_str(&format!(
            "  {} mid-file damage at line(s) {} is left as it is\n",
            paint.red("not repaired:"),
            lines
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => {}
    }
    let repair = o.repair.as_ref().map(|(r, _)| r);
    if let Some(next) = convlog::repair::advice(&o.path, &o.report, repair) {
        s.push_str(&format!("  {} {next}\n", paint.dim("next:")));
    }
    s
}

/// One line of `verify --json`, in the library's session vocabulary.
fn to_json(o: &Verified) -> VerifyReport<'_> {
    let repaired = o.repair.as_ref().map(|(rep, found)| (rep, found));
    VerifyReport::new(&o.path, &o.report, repaired)
}
