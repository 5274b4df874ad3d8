//! Four processes appending to one log.

use std::fs::{self};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convlog::Session;

use crate::harness::*;

/// Four processes (this binary re-run as children) appending to one log,
/// each awaiting every append: one lock, catch-up, write and fdatasync per batch.
pub(crate) fn processes(cfg: &Config, rows: &mut Vec<Row>) {
    let procs = 4;
    let per = cfg.size("CONVLOG_REPORT_PROCS_N", 250, 10);
    let rounds = cfg.reps.max(2);
    let n = procs * per;
    let dir = cfg.dir("procs");
    println!(
        "[procs] {procs} processes x {per} appends to one log, each awaited; {rounds} rounds alternating with {n} raw write+fdatasync"
    );
    let exe = std::env::current_exe().expect("current exe");
    let mut detail = String::new();
    let mut raw = Raw::new(&dir, "raw.log");
    let r = interleave(
        rounds,
        |_| {
            let s =
                Session::create_with(&dir, options(Arc::new(Counting::default()))).expect("create");
            let log = s.path().to_path_buf();
            drop(s);
            let mut children: Vec<_> = (0..procs)
                .map(|_| {
                    Command::new(&exe)
                        .env("CONVLOG_REPORT_CHILD", "append")
                        .env("CONVLOG_CHILD_LOG", &log)
                        .env("CONVLOG_CHILD_N", per.to_string())
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .spawn()
                        .expect("spawn child")
                })
                .collect();
            // Each child opens the log, then waits for its stdin to close.
            std::thread::sleep(Duration::from_millis(300));
            let t = Instant::now();
            for c in &mut children {
                drop(c.stdin.take());
            }
            let mut syncs = 0u64;
            for c in children {
                let out = c.wait_with_output().expect("child");
                assert!(out.status.success(), "child failed: {out:?}");
                syncs += String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0);
            }
            let secs = t.elapsed().as_secs_f64();
            let report = convlog::read::inspect(&log).expect("inspect");
            assert!(report.is_intact(), "damage: {:?}", report.damage);
            assert_eq!(report.messages, n as u64);
            assert_eq!(report.last_seq, Some(n as u64));
            detail = format!("{syncs} syncs for {n} appends; log intact with seqs 1..={n}");
            let _ = fs::remove_file(&log);
            secs
        },
        |_| raw.run(n, 1),
    );
    println!("  {} | {detail}", r.spread());
    rows.push(Row {
        scenario: format!("{procs} processes appending to one log (lock per batch)"),
        convlog: fmt_rate(rate(n * rounds, r.a_secs), "msg"),
        baseline: format!(
            "{} raw write+fdatasync loop",
            fmt_rate(rate(n * rounds, r.b_secs), "msg")
        ),
        value: Some(r.ratio()),
        goal: Goal::Aim(0.8),
        note: None,
    });
}
