//! `convlog ingest --ack` driven one line at a time against `rawack.c`.

use std::fs::{self};
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::harness::*;

/// A process driven over pipes one line at a time: send, wait for the ack.
pub(crate) struct PingPong {
    pub(crate) child: std::process::Child,
    pub(crate) stdin: std::process::ChildStdin,
    pub(crate) stdout: io::BufReader<std::process::ChildStdout>,
    pub(crate) ack: String,
}

impl PingPong {
    pub(crate) fn start(cmd: &mut Command) -> PingPong {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn ping-pong child");
        PingPong {
            stdin: child.stdin.take().expect("stdin"),
            stdout: io::BufReader::new(child.stdout.take().expect("stdout")),
            child,
            ack: String::new(),
        }
    }

    /// Sends one line and waits for its ack. Returns seconds.
    pub(crate) fn op(&mut self, line: &[u8]) -> f64 {
        use io::BufRead;
        let t = Instant::now();
        self.stdin.write_all(line).expect("send line");
        self.stdin.flush().expect("send line");
        self.ack.clear();
        self.stdout.read_line(&mut self.ack).expect("read ack");
        assert!(!self.ack.is_empty(), "no ack: the child exited");
        t.elapsed().as_secs_f64()
    }

    pub(crate) fn finish(self) {
        drop(self.stdin);
        let out = self.child.wait_with_output().expect("wait");
        assert!(out.status.success(), "ping-pong child failed: {out:?}");
    }
}

/// `convlog ingest --ack` driven one line at a time (send, wait for the ack),
/// against `rawack.c` (read a line, write, fdatasync, print the ack) driven
/// by the same code, alternating every few lines.
pub(crate) fn pingpong(cfg: &Config, rows: &mut Vec<Row>) {
    let chunk = 10;
    let n = cfg
        .size("CONVLOG_REPORT_PINGPONG_N", 2000, chunk)
        .div_ceil(chunk)
        * chunk;
    let scenario = "`convlog ingest --ack` ping-pong (one line, wait for its ack)".to_string();
    let Some(bin) = convlog_bin() else {
        rows.push(skipped(&scenario, Goal::Ratio(0.9), "CLI not built"));
        return;
    };
    let dir = cfg.dir("pingpong");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/baselines/rawack.c");
    let rawack = dir.join("rawack");
    let built = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&rawack)
        .arg(&src)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        rows.push(skipped(
            &scenario,
            Goal::Ratio(0.9),
            &format!("could not build {} with cc", src.display()),
        ));
        return;
    }
    println!(
        "[pingpong] {n} lines one at a time, each waiting for its ack: convlog ingest --ack vs rawack.c, alternating every {chunk}"
    );
    let log = cli_new(&bin, &dir);
    let mut conv = PingPong::start(Command::new(&bin).arg("ingest").arg(&log).arg("--ack"));
    let mut raw = PingPong::start(Command::new(&rawack).arg(dir.join("rawack.log")));
    let m = message(0);
    let mut line = serde_json::to_vec(&serde_json::json!({
        "role": m.role.as_str(),
        "content": m.content,
        "source": m.source,
    }))
    .expect("json");
    line.push(b'\n');
    let (mut conv_lat, mut raw_lat) = (Lat::default(), Lat::default());
    for c in 0..n / chunk {
        let mut run_conv = || (0..chunk).for_each(|_| conv_lat.0.push(conv.op(&line)));
        let mut run_raw = || (0..chunk).for_each(|_| raw_lat.0.push(raw.op(&line)));
        if c.is_multiple_of(2) {
            run_conv();
            run_raw();
        } else {
            run_raw();
            run_conv();
        }
    }
    conv.finish();
    raw.finish();
    let report = convlog::read::inspect(&log).expect("inspect");
    assert_eq!(report.messages, n as u64);
    let _ = fs::remove_file(&log);
    println!(
        "  per line, convlog vs rawack: {}",
        versus(&conv_lat, &raw_lat, "")
    );
    rows.push(Row {
        scenario,
        convlog: fmt_rate(1.0 / conv_lat.trimmed_mean(KEEP), "msg"),
        baseline: format!(
            "{} rawack.c, same harness",
            fmt_rate(1.0 / raw_lat.trimmed_mean(KEEP), "msg")
        ),
        value: Some(raw_lat.trimmed_mean(KEEP) / conv_lat.trimmed_mean(KEEP)),
        goal: Goal::Ratio(0.9),
        note: Some(format!(
            "mean of the fastest {:.0}% of round trips on each side (all: {:.2}; medians: {:.2})",
            KEEP * 100.0,
            raw_lat.total() / conv_lat.total(),
            raw_lat.pct(0.5) / conv_lat.pct(0.5)
        )),
    });
}
