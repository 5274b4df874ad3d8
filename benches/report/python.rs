//! The Python figures: `python/bench/bench.py` (blocking `append` against
//! `os.write` + `os.fdatasync`, against `seed_rewrite.py` at 5,000 messages,
//! and, from `python/bench/loop_cost.py`, what the LiveKit and Pipecat
//! recorders and `Session.log()` cost the event loop: p50, p99 and the 4th
//! best max of 5 runs of 2,000 events against bare emits in the same run,
//! blocks held and garbage collections per event), run
//! with the interpreter named by `CONVLOG_TEST_PYTHON`, which must have the
//! package installed (`pip install ./python`). Its table's rows become rows of
//! this one; `CONVLOG_REPORT_SCALE` below 1 runs it with `--quick`. The
//! `wheel` scenario does the same with `python/bench/wheel.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

pub(crate) fn python(cfg: &Config, rows: &mut Vec<Row>) {
    println!("[python]");
    let Some(python) = std::env::var_os("CONVLOG_TEST_PYTHON") else {
        rows.push(skipped(
            "python",
            Goal::Report,
            "CONVLOG_TEST_PYTHON is not set (a python with `pip install ./python`)",
        ));
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/bench/bench.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script).arg("--dir").arg(cfg.dir("python"));
    if cfg.scale < 1.0 {
        cmd.arg("--quick");
    }
    run_table("python", &script, cmd, rows);
}

/// The wheel as users get it (`python/bench/wheel.py`): its size, `pip
/// install` of it into a fresh venv, `import convlog` against `python -c
/// pass`, and blocking `append` against `os.write` + `os.fdatasync` in that
/// venv. The wheel is `CONVLOG_BENCH_WHEEL`, or the one `python/build-wheel`
/// left in python/dist/; the venv is made by `CONVLOG_TEST_PYTHON`, or
/// `python3`.
pub(crate) fn wheel(cfg: &Config, rows: &mut Vec<Row>) {
    println!("[wheel]");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wheel = match std::env::var_os("CONVLOG_BENCH_WHEEL") {
        Some(w) => Some(PathBuf::from(w)),
        None => std::fs::read_dir(root.join("python/dist"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "whl"))
            .max(),
    };
    let Some(wheel) = wheel else {
        let why = "no wheel: run python/build-wheel (or set CONVLOG_BENCH_WHEEL)";
        rows.push(skipped("wheel", Goal::Report, why));
        return;
    };
    let python = std::env::var_os("CONVLOG_TEST_PYTHON").unwrap_or_else(|| "python3".into());
    let script = root.join("python/bench/wheel.py");
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .arg(&wheel)
        .arg("--dir")
        .arg(cfg.dir("wheel"));
    if cfg.scale < 1.0 {
        cmd.arg("--quick");
    }
    run_table("wheel", &script, cmd, rows);
}

/// Runs a Python bench script and makes each row of its table a row of the
/// report (or one skipped row saying why there is none).
fn run_table(name: &str, script: &Path, mut cmd: Command, rows: &mut Vec<Row>) {
    let out = match cmd.output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            let why = format!(
                "{} failed ({}): {}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            rows.push(skipped(name, Goal::Report, &why));
            return;
        }
        Err(e) => {
            let why = format!("cannot run {}: {e}", script.display());
            rows.push(skipped(name, Goal::Report, &why));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = 0;
    for line in text.lines() {
        if let Some(row) = parse_row(name, line) {
            println!("  {}: {} ({})", row.scenario, row.convlog, row.baseline);
            rows.push(row);
            found += 1;
        } else if !line.starts_with('|') {
            println!("  {line}");
        }
    }
    if found == 0 {
        let why = format!("{} printed no table: {text}", script.display());
        rows.push(skipped(name, Goal::Report, &why));
    }
}

/// One row of a bench script's table, `| what | convlog | baseline | ratio | target | met |`,
/// or `None` for the header, the rule and anything else.
fn parse_row(name: &str, line: &str) -> Option<Row> {
    let cells: Vec<&str> = line
        .strip_prefix('|')?
        .strip_suffix('|')?
        .split('|')
        .map(str::trim)
        .collect();
    let [what, ours, base, ratio, target, _met] = cells[..] else {
        return None;
    };
    if what == "what" || what.starts_with('-') {
        return None;
    }
    let number = |s: &str| {
        s.trim_start_matches(['<', '>', '=', ' '])
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()
            .and_then(|n| n.parse::<f64>().ok())
    };
    // ">= 0.9x": a ratio, measured in the ratio column; "<= 20 us": a p99
    // in microseconds, and "<= 15 MB" (any other unit) a bound, both
    // measured in the convlog column, in the target's unit; "-": context only.
    let (goal, value) = if target.starts_with(">=") && target.ends_with('x') {
        (Goal::Ratio(number(target)?), number(ratio))
    } else if target.starts_with("<=") && target.ends_with("us") && what.contains("p99") {
        (Goal::P99Micros(number(target)?), number(ours))
    } else if target.starts_with("<=") && target.ends_with("us") {
        (Goal::MaxMicros(number(target)?), number(ours))
    } else if let Some(bound) = target.strip_prefix("<=") {
        let unit = bound.trim().split_once(' ').map_or("", |(_, u)| u);
        (
            Goal::AtMost(number(target)?, unit.to_string()),
            number(ours),
        )
    } else {
        (Goal::Report, number(ratio))
    };
    Some(Row {
        scenario: format!("{name}: {}", what.trim()),
        convlog: ours.to_string(),
        baseline: base.to_string(),
        value,
        goal,
        note: None,
    })
}
