//! `convlog verify`: the report people read after an incident.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use convlog::discover::find_logs;
use convlog::reader::{DamageKind, inspect};
use convlog::repair::{Repair, repair};
use convlog::{Error, Report, Result};
use serde_json::json;

use super::Exit;
use super::console::Paint;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Logs or directories of logs.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// One JSON object per file on stdout instead of the readable report.
    #[arg(long)]
    json: bool,
    /// Cut a torn tail (keeping its bytes in LOG.broken). Never touches mid-file corruption.
    #[arg(long)]
    repair: bool,
}

/// What verify concluded about one file.
struct Outcome {
    path: PathBuf,
    report: Option<Report>,
    repair: Option<Repair>,
    error: Option<Error>,
}

impl Outcome {
    fn exit(&self) -> Exit {
        match (&self.error, &self.report, &self.repair) {
            (Some(_), _, _) => Exit::Error,
            (None, Some(r), _) if r.is_intact() => Exit::Ok,
            (None, _, Some(Repair::Truncated { .. })) => Exit::Ok,
            _ => Exit::Finding,
        }
    }
}

fn check(path: &Path, do_repair: bool) -> Outcome {
    let result = if do_repair {
        repair(path, None).map(|(r, report)| (report, Some(r)))
    } else {
        inspect(path).map(|report| (report, None))
    };
    match result {
        Ok((report, repair)) => Outcome {
            path: path.to_path_buf(),
            report: Some(report),
            repair,
            error: None,
        },
        Err(error) => Outcome {
            path: path.to_path_buf(),
            report: None,
            repair: None,
            error: Some(error),
        },
    }
}

pub fn verify(a: VerifyArgs, color: bool) -> Result<Exit> {
    let logs = find_logs(&a.paths)?;
    let progress = (logs.len() > 20 && io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(logs.len() as u64));
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let stdout_err = |e| Error::io(Path::new("<stdout>"), "write", e);
    let mut worst = Exit::Ok;
    for log in &logs {
        let o = check(log, a.repair);
        worst = worst.max(o.exit());
        let text = if a.json {
            format!("{}\n", to_json(&o))
        } else {
            human(&o, Paint(color))
        };
        match &progress {
            Some(p) => {
                p.suspend(|| out.write_all(text.as_bytes()).and_then(|_| out.flush()))
                    .map_err(stdout_err)?;
                p.inc(1);
            }
            None => out.write_all(text.as_bytes()).map_err(stdout_err)?,
        }
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    out.flush().map_err(stdout_err)?;
    Ok(worst)
}

/// One-line state: intact and ended, intact but open, torn tail (N bytes), corrupt (lines …).
fn state(r: &Report) -> (&'static str, String) {
    let mid: Vec<String> = r.mid_file_damage().map(|d| d.line.to_string()).collect();
    if !mid.is_empty() {
        ("corrupt", format!("corrupt (lines {})", mid.join(", ")))
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
    let (Some(first), Some(last)) = (r.first_seq, r.last_seq) else {
        return format!("{} messages", r.messages);
    };
    let mut s = format!("{} messages, seq {first}–{last}", r.messages);
    if let (Some(a), Some(b)) = (&r.first_ts, &r.last_ts) {
        s.push_str(&format!(", {a} to {b}"));
        if let (Ok(x), Ok(y)) = (convlog::record::parse_ts(a), convlog::record::parse_ts(b)) {
            let secs = (y - x).num_milliseconds() as f64 / 1000.0;
            s.push_str(&format!(" ({secs:.1} s)"));
        }
    }
    s
}

fn advice(path: &Path, r: &Report, repair: Option<&Repair>) -> Option<String> {
    let p = path.display();
    let mid: Vec<String> = r.mid_file_damage().map(|d| d.line.to_string()).collect();
    if !mid.is_empty() {
        return Some(format!(
            "`convlog export --recovery skip-corrupt {p}` salvages all but line(s) {}; \
             --repair never touches mid-file corruption",
            mid.join(", ")
        ));
    }
    match (r.torn_bytes(), repair) {
        (Some(_), Some(Repair::Truncated { .. })) => None,
        (Some(bytes), _) => Some(format!(
            "`convlog verify --repair {p}` is safe: only a torn tail was found \
             (what an interrupted write leaves); the {bytes} bytes are kept in {p}.broken"
        )),
        (None, _) => None,
    }
}

fn human(o: &Outcome, paint: Paint) -> String {
    let p = o.path.display();
    let Some(r) = &o.report else {
        let e = o.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
        return format!(
            "{}: {}\n",
            paint.bold(&p.to_string()),
            paint.red(&format!("error: {e}"))
        );
    };
    let (kind, text) = state(r);
    let text = match kind {
        "intact" => paint.green(&text),
        "torn-tail" => paint.yellow(&text),
        _ => paint.red(&text),
    };
    let mut s = format!("{}: {text}\n  {}\n", paint.bold(&p.to_string()), span(r));
    for d in &r.damage {
        s.push_str(&format!(
            "  line {} (byte {}): {}: {}\n",
            d.line,
            d.offset,
            d.kind.name(),
            d.reason
        ));
    }
    match &o.repair {
        Some(Repair::Truncated { bytes, backup }) => s.push_str(&format!(
            "  {} cut the torn tail of {bytes} bytes; saved in {}\n",
            paint.green("repaired:"),
            backup.display()
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
    if let Some(next) = advice(&o.path, r, o.repair.as_ref()) {
        s.push_str(&format!("  {} {next}\n", paint.dim("next:")));
    }
    s
}

fn to_json(o: &Outcome) -> serde_json::Value {
    let path = o.path.display().to_string();
    let Some(r) = &o.report else {
        return json!({
            "path": path,
            "state": "error",
            "error": o.error.as_ref().map(|e| e.to_string()),
        });
    };
    let (kind, summary) = state(r);
    let repair = o.repair.as_ref().map(|rep| match rep {
        Repair::Clean => json!({"action": "none"}),
        Repair::Truncated { bytes, backup } => {
            json!({"action": "truncated", "bytes": bytes, "backup": backup.display().to_string()})
        }
        Repair::Refused { lines } => json!({"action": "refused", "lines": lines}),
    });
    json!({
        "path": path,
        "state": kind,
        "summary": summary,
        "ended": r.ended,
        "session": r.header.as_ref().map(|h| &h.session),
        "messages": r.messages,
        "first_seq": r.first_seq,
        "last_seq": r.last_seq,
        "first_ts": r.first_ts,
        "last_ts": r.last_ts,
        "file_len": r.file_len,
        "valid_len": r.valid_len,
        "torn_bytes": r.torn_bytes(),
        "damage": r.damage,
        "corrupt_lines": r.mid_file_damage().filter(|d| d.kind == DamageKind::Corrupt).map(|d| d.line).collect::<Vec<_>>(),
        "repair": repair,
        "advice": advice(&o.path, r, o.repair.as_ref()),
    })
}
