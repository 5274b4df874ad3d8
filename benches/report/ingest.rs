//! Bulk ingest, library and CLI, against the raw loop at convlog's batch size.

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::harness::*;

pub(crate) fn ingest_input(path: &Path, n: usize) {
    let mut w = BufWriter::new(File::create(path).expect("create input"));
    for i in 0..n {
        let m = message(i);
        let v = serde_json::json!({
            "role": m.role.as_str(),
            "content": m.content,
            "source": m.source,
        });
        serde_json::to_writer(&mut w, &v).expect("write input");
        w.write_all(b"\n").expect("write input");
    }
    w.flush().expect("flush input");
}

/// Times `convlog ingest LOG` reading `input`. Returns msgs/s.
pub(crate) fn cli_ingest(bin: &Path, dir: &Path, input: &Path, n: usize) -> f64 {
    rate(n, ingest_secs(bin, dir, input, &[]))
}

/// Seconds `convlog ingest LOG ARGS…` takes to read `input` into a new log.
pub(crate) fn ingest_secs(bin: &Path, dir: &Path, input: &Path, args: &[&str]) -> f64 {
    let log = cli_new(bin, dir);
    let t = Instant::now();
    let st = Command::new(bin)
        .arg("ingest")
        .arg(&log)
        .args(args)
        .stdin(File::open(input).expect("open input"))
        .stdout(Stdio::null())
        .status()
        .expect("run convlog ingest");
    let secs = t.elapsed().as_secs_f64();
    assert!(st.success(), "convlog ingest failed: {st}");
    let _ = fs::remove_file(&log);
    secs
}

/// Runs `tool` (perf or strace, with its own arguments) over
/// `convlog ingest LOG` reading `input`; true when it succeeded.
fn traced_ingest(mut tool: Command, bin: &Path, log: &Path, input: &Path) -> bool {
    let Ok(stdin) = File::open(input) else {
        return false;
    };
    tool.arg(bin)
        .arg("ingest")
        .arg(log)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// How many fdatasyncs one `convlog ingest` run makes, counted by
/// `perf stat` (a kernel tracepoint, no slow-down) or else `strace`.
pub(crate) fn cli_ingest_syncs(
    bin: &Path,
    dir: &Path,
    input: &Path,
) -> Option<(u64, &'static str)> {
    let log = cli_new(bin, dir);
    let counts = dir.join("syscalls.txt");
    let mut perf = Command::new("perf");
    perf.args(["stat", "-x,", "-e", "syscalls:sys_enter_fdatasync", "-o"])
        .arg(&counts)
        .arg("--");
    let mut found = None;
    if traced_ingest(perf, bin, &log, input) {
        let text = fs::read_to_string(&counts).unwrap_or_default();
        found = text
            .lines()
            .find(|l| l.contains("sys_enter_fdatasync"))
            .and_then(|l| l.split(',').next())
            .and_then(|v| v.trim().parse().ok())
            .map(|n| (n, "perf stat"));
    }
    if found.is_none() {
        let _ = fs::remove_file(&log);
        let log = cli_new(bin, dir);
        let mut strace = Command::new("strace");
        strace
            .args(["-f", "-qq", "-c", "-e", "trace=fdatasync", "-o"])
            .arg(&counts);
        if traced_ingest(strace, bin, &log, input) {
            let text = fs::read_to_string(&counts).unwrap_or_default();
            found = text
                .lines()
                .find(|l| l.trim_end().ends_with("fdatasync"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse().ok())
                .map(|n| (n, "strace"));
        }
        let _ = fs::remove_file(&log);
    } else {
        let _ = fs::remove_file(&log);
    }
    found
}

pub(crate) fn ingest(cfg: &Config, rows: &mut Vec<Row>) {
    let n = cfg.size("CONVLOG_REPORT_INGEST_N", 200_000, 1000);
    let dir = cfg.dir("ingest");
    println!(
        "[ingest] {n} messages with group commit, {} rounds alternating with raw batched",
        cfg.reps
    );

    // Library: Session::log for every message, then flush.
    let batch = RefCell::new(Vec::new());
    let r = interleave(
        cfg.reps,
        |_| {
            let (run, _) = convlog_bulk(&dir, n, false);
            batch.borrow_mut().push(run.batch());
            rate(n, 1.0) / run.rate
        },
        |_| {
            let b = batch.borrow().last().copied().unwrap_or(256.0);
            Raw::new(&dir, "raw.log").run(n, b.round() as usize)
        },
    );
    let b = batch.borrow().clone();
    let mean_batch = b.iter().sum::<f64>() / b.len() as f64;
    println!(
        "  library: {} | mean batch per round: {:?} lines",
        r.spread(),
        b.iter().map(|x| x.round() as u64).collect::<Vec<_>>()
    );
    rows.push(Row {
        scenario: format!("library Session::log x{n} + flush (group commit)"),
        convlog: fmt_rate(rate(n * cfg.reps, r.a_secs), "msg"),
        baseline: format!(
            "{} raw batched @{mean_batch:.0}/sync",
            fmt_rate(rate(n * cfg.reps, r.b_secs), "line"),
        ),
        value: Some(r.ratio()),
        goal: Goal::Aim(0.6),
        note: Some(
            "library-level proxy for `convlog ingest` (no stdin JSON parsing, no process start)"
                .into(),
        ),
    });

    let scenario = format!("`convlog ingest` of {n} messages (durable, group commit)");
    let Some(bin) = convlog_bin() else {
        rows.push(skipped(&scenario, Goal::Ratio(0.6), "CLI not built"));
        return;
    };
    let input = dir.join("input.jsonl");
    ingest_input(&input, n);
    let syncs = cli_ingest_syncs(&bin, &dir, &input);
    let batch = match syncs {
        Some((s, _)) => n as f64 / s.saturating_sub(1).max(1) as f64,
        None => mean_batch,
    };
    let how = syncs.map_or("the library run (no perf or strace to count)", |s| s.1);
    let r = interleave(
        cfg.reps,
        |_| rate(n, 1.0) / cli_ingest(&bin, &dir, &input, n),
        |_| Raw::new(&dir, "raw.log").run(n, batch.round() as usize),
    );
    println!(
        "  cli: {} | fdatasyncs {:?} (counted by {how}), mean batch {batch:.0} lines",
        r.spread(),
        syncs.map(|s| s.0)
    );
    let _ = fs::remove_file(&input);
    let conv = rate(n * cfg.reps, r.a_secs);
    rows.push(Row {
        scenario,
        convlog: fmt_rate(conv, "msg"),
        baseline: format!(
            "{} raw batched @{batch:.0}/sync",
            fmt_rate(rate(n * cfg.reps, r.b_secs), "line")
        ),
        value: Some(r.ratio()),
        goal: Goal::Ratio(0.6),
        note: Some(format!(
            "timed as a whole process (start, open, parse stdin, exit); batch size from {how}, less the header's sync in `new`"
        )),
    });
    // The anchor's batch size, for reference.
    let raw256 = raw_batched(&dir, n, 256);
    rows.push(Row {
        scenario: "  (same ingest vs raw batched @256/sync)".into(),
        convlog: fmt_rate(conv, "msg"),
        baseline: format!("{} raw batched @256/sync", fmt_rate(raw256, "line")),
        value: Some(conv / raw256),
        goal: Goal::Aim(0.6),
        note: None,
    });
}
