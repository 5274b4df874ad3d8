//! Fuzzing: every cargo-fuzz target (fuzz/) for `CONVLOG_REPORT_FUZZ_SECS`
//! (600) seconds through `fuzz/run`, which installs the nightly toolchain
//! and cargo-fuzz if they are missing. Each target becomes a row: its
//! executions, their rate, the coverage libFuzzer reached (edges and
//! features) and the corpus it kept; the goal is no crash.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

pub(crate) fn fuzz(cfg: &Config, rows: &mut Vec<Row>) {
    let secs = cfg.size("CONVLOG_REPORT_FUZZ_SECS", 600, 5);
    println!("[fuzz] every target for {secs} s (fuzz/run)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/run");
    let table = cfg.dir("fuzz").join("table.md");
    let status = Command::new(&script)
        .arg(secs.to_string())
        .env("CONVLOG_FUZZ_REPORT", &table)
        .status();
    let text = std::fs::read_to_string(&table).unwrap_or_default();
    let mut found = 0;
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        let [target, secs, execs, rate, cov, ft, corpus, crashes] = cells[..] else {
            continue;
        };
        let Ok(crashes) = crashes.parse::<f64>() else {
            continue; // the header and the rule
        };
        found += 1;
        rows.push(Row {
            scenario: format!("fuzz {target}, {secs} s"),
            convlog: format!("{execs} execs ({rate}/s), cov {cov}, ft {ft}, corpus {corpus}"),
            baseline: "-".into(),
            value: Some(crashes),
            goal: Goal::AtMost(0.0, "crashes".into()),
            note: None,
        });
    }
    if found == 0 {
        let why = match status {
            Ok(s) => format!("{} wrote no table ({s})", script.display()),
            Err(e) => format!("cannot run {}: {e}", script.display()),
        };
        rows.push(skipped("fuzz", Goal::AtMost(0.0, "crashes".into()), &why));
    }
}
