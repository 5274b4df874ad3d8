//! The Python figures: `python/bench/bench.py` (blocking `append` against
//! `os.write` + `os.fdatasync`, against `seed_rewrite.py` at 5,000 messages,
//! and, from `python/bench/loop_cost.py`, what the LiveKit and Pipecat
//! recorders and `Session.log()` cost the event loop: p50, p99 and the 4th
//! best max of 5 runs of 2,000 events against bare emits in the same run,
//! blocks held and garbage collections per event), run
//! with the interpreter named by `CONVLOG_TEST_PYTHON`, which must have the
//! package installed (`pip install ./python`). Its table's rows become rows of
//! this one; `CONVLOG_REPORT_SCALE` below 1 runs it with `--quick`.

use std::path::Path;
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
    let out = match cmd.output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            let why = format!(
                "{} failed ({}): {}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            rows.push(skipped("python", Goal::Report, &why));
            return;
        }
        Err(e) => {
            let why = format!("cannot run {}: {e}", Path::new(&python).display());
            rows.push(skipped("python", Goal::Report, &why));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = 0;
    for line in text.lines() {
        if let Some(row) = parse_row(line) {
            println!("  {}: {} ({})", row.scenario, row.convlog, row.baseline);
            rows.push(row);
            found += 1;
        }
    }
    if found == 0 {
        let why = format!("{} printed no table: {text}", script.display());
        rows.push(skipped("python", Goal::Report, &why));
    }
}

/// One row of bench.py's table, `| what | convlog | baseline | ratio | target | met |`,
/// or `None` for the header, the rule and anything else.
fn parse_row(line: &str) -> Option<Row> {
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
    // in microseconds, measured in the convlog column; "-": context only.
    let (goal, value) = if target.starts_with(">=") && target.ends_with('x') {
        (Goal::Ratio(number(target)?), number(ratio))
    } else if target.starts_with("<=") && target.ends_with("us") && what.contains("p99") {
        (Goal::P99Micros(number(target)?), number(ours))
    } else if target.starts_with("<=") && target.ends_with("us") {
        (Goal::MaxMicros(number(target)?), number(ours))
    } else {
        (Goal::Report, number(ratio))
    };
    Some(Row {
        scenario: format!("python: {}", what.trim()),
        convlog: ours.to_string(),
        baseline: base.to_string(),
        value,
        goal,
        note: None,
    })
}
