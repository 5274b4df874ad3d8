//! One producer awaiting each append: the library's blocking and async paths
//! against the raw write + fdatasync loop, and the latency of a lone append.

use std::fs::{self};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use convlog::{Message, Session};

use crate::harness::*;

pub(crate) fn single_producer(cfg: &Config, rows: &mut Vec<Row>) {
    let chunk = 10;
    let n = cfg
        .size("CONVLOG_REPORT_SINGLE_N", 2000, chunk)
        .div_ceil(chunk)
        * chunk;
    let dir = cfg.dir("single");
    println!(
        "[single] one producer waiting for each append, async (awaited) and blocking: {n} of each vs {n} raw write+fdatasync, rotating every {chunk}, each op timed"
    );
    let hooks = Arc::new(Counting::default());
    let s = Session::create_with(&dir, options(hooks.clone())).expect("create");
    let b = Session::create_with(&dir, options(Arc::new(convlog::RealIo))).expect("create");
    let rt = current_thread();
    let mut raw = Raw::new(&dir, "raw.log");
    let line = raw_line();
    let (mut conv_lat, mut block_lat, mut raw_lat) =
        (Lat::default(), Lat::default(), Lat::default());
    // Per awaited append: its latency less the time its own write and
    // fdatasync took, which a stall of the shared disk cannot inflate.
    let mut overhead = Lat::default();
    for c in 0..n / chunk {
        let mut run_raw = || {
            for _ in 0..chunk {
                let t = Instant::now();
                raw.f.write_all(&line).expect("write");
                raw.f.sync_data().expect("fdatasync");
                raw_lat.0.push(t.elapsed().as_secs_f64());
            }
        };
        let mut run_conv = || {
            let msgs: Vec<Message> = (c * chunk..(c + 1) * chunk).map(message).collect();
            rt.block_on(async {
                for m in msgs {
                    let disk = hooks.disk_ns.load(Ordering::Relaxed);
                    let t = Instant::now();
                    s.append(m).await.expect("append");
                    let secs = t.elapsed().as_secs_f64();
                    conv_lat.0.push(secs);
                    let disk = hooks.disk_ns.load(Ordering::Relaxed) - disk;
                    overhead.0.push(secs - disk as f64 * 1e-9);
                }
            });
        };
        let mut run_blocking = || {
            let msgs: Vec<Message> = (c * chunk..(c + 1) * chunk).map(message).collect();
            for m in msgs {
                let t = Instant::now();
                b.append_blocking(m).expect("append_blocking");
                block_lat.0.push(t.elapsed().as_secs_f64());
            }
        };
        match c % 3 {
            0 => {
                run_conv();
                run_blocking();
                run_raw();
            }
            1 => {
                run_raw();
                run_conv();
                run_blocking();
            }
            _ => {
                run_blocking();
                run_raw();
                run_conv();
            }
        }
    }
    let bytes = hooks.bytes.load(Ordering::Relaxed);
    drop(raw);
    for s in [s, b] {
        let log = s.path().to_path_buf();
        drop(s);
        let _ = fs::remove_file(log);
    }
    // Without the fdatasync: what convlog itself adds to each append.
    let m = 2000;
    let nosync = convlog_single(&dir, m, Arc::new(NoSync));
    let write_only = {
        let mut f = Raw::new(&dir, "write-only.log");
        let t = Instant::now();
        for _ in 0..m {
            f.f.write_all(&line).expect("write");
        }
        rate(m, t.elapsed().as_secs_f64())
    };
    let us = |x: f64| x * 1e6;
    for (what, lat) in [("async", &conv_lat), ("blocking", &block_lat)] {
        let mean = format!(
            "mean {:.0} vs {:.0} us, ",
            us(lat.total() / n as f64),
            us(raw_lat.total() / n as f64)
        );
        println!(
            "  per op, convlog {what} vs raw: {}",
            versus(lat, &raw_lat, &mean)
        );
    }
    println!(
        "  {} syncs for {n} async appends, {:.0} B/line | without fdatasync: convlog {:.1} us/append, raw write {:.1} us",
        hooks.syncs(),
        bytes as f64 / n as f64,
        1e6 / nosync,
        1e6 / write_only
    );
    for (what, lat, goal) in [
        ("awaiting each append (async)", &conv_lat, 0.9),
        ("append_blocking each (blocking)", &block_lat, 0.95),
    ] {
        let ratio = raw_lat.trimmed_mean(KEEP) / lat.trimmed_mean(KEEP);
        rows.push(Row {
            scenario: format!("1 producer {what}, durable"),
            convlog: fmt_rate(1.0 / lat.trimmed_mean(KEEP), "msg"),
            baseline: format!(
                "{} raw write(200B)+fdatasync",
                fmt_rate(1.0 / raw_lat.trimmed_mean(KEEP), "msg")
            ),
            value: Some(ratio),
            goal: Goal::Ratio(goal),
            note: Some(format!(
                "rates from the mean of the fastest {:.0}% of ops on each side (all ops: {:.2}; medians: {:.2}); convlog adds {:.1} us per append without fdatasync",
                KEEP * 100.0,
                raw_lat.total() / lat.total(),
                raw_lat.pct(0.5) / lat.pct(0.5),
                1e6 / nosync - 1e6 / write_only
            )),
        });
    }
    let raw_p99 = us(raw_lat.pct(0.99));
    rows.push(Row {
        scenario: "lone awaited append latency (async)".into(),
        convlog: format!(
            "p50 {:.0} us, p99 {:.0} us",
            us(conv_lat.pct(0.5)),
            us(conv_lat.pct(0.99))
        ),
        baseline: format!(
            "raw write+fdatasync p50 {:.0} us, p99 {raw_p99:.0} us",
            us(raw_lat.pct(0.5))
        ),
        value: Some(us(conv_lat.pct(0.99))),
        goal: Goal::P99Micros((raw_p99 + 30.0).round()),
        note: Some(format!(
            "goal: raw p99 + 30 us; latency less the append's own write+fdatasync: p50 {:.1} us, p99 {:.1} us; blocking append p50 {:.0} us, p99 {:.0} us",
            us(overhead.pct(0.5)),
            us(overhead.pct(0.99)),
            us(block_lat.pct(0.5)),
            us(block_lat.pct(0.99))
        )),
    });
}
