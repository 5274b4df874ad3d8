//! `Session::log` latency while the writer is busy, and with a slow disk.

use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use convlog::{IoHooks, Message, Session};

use crate::harness::*;

/// A disk whose fdatasync takes `delay`: if `Session::log` waited for the
/// disk anywhere, its latency would show it.
pub(crate) struct SlowSync {
    pub(crate) delay: Duration,
    pub(crate) syncs: AtomicU64,
}

impl IoHooks for SlowSync {
    fn sync_data(&self, file: &File) -> io::Result<()> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(self.delay);
        file.sync_data()
    }
}

/// Latencies (ns, sorted) of `n` `Session::log` calls in bursts of 50, 1 ms
/// apart, and how many fdatasyncs ran meanwhile.
pub(crate) fn log_latencies(dir: &Path, n: usize, io: Arc<dyn IoHooks>) -> Vec<u64> {
    let s = Session::create_with(dir, options(io)).expect("create");
    let rt = current_thread();
    let mut lat: Vec<u64> = Vec::with_capacity(n);
    rt.block_on(async {
        // Warm up the allocator and the channel.
        for i in 0..200 {
            s.log(message(i));
        }
        s.flush().await.expect("flush");
        let msgs: Vec<Message> = (0..n).map(message).collect();
        let mut it = msgs.into_iter();
        'outer: loop {
            for _ in 0..50 {
                let Some(m) = it.next() else { break 'outer };
                let t = Instant::now();
                s.log(m);
                lat.push(t.elapsed().as_nanos() as u64);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        s.flush().await.expect("flush");
    });
    assert!(s.last_error().is_none(), "{:?}", s.last_error());
    let path = s.path().to_path_buf();
    drop(s);
    let _ = fs::remove_file(path);
    lat.sort_unstable();
    lat
}

/// How long `Session::log` takes for an async caller that does not wait for
/// durability, while the writer thread is busy with fdatasyncs; then again
/// with every fdatasync made 20 ms slower, which it must not notice.
pub(crate) fn latency(cfg: &Config, rows: &mut Vec<Row>) {
    let n = cfg.size("CONVLOG_REPORT_LATENCY_N", 20_000, 1000);
    let dir = cfg.dir("latency");
    println!("[latency] {n} Session::log calls in bursts of 50, 1 ms apart");
    let hooks = Arc::new(Counting::default());
    let lat = log_latencies(&dir, n, hooks.clone());
    let slow = Arc::new(SlowSync {
        delay: Duration::from_millis(20),
        syncs: AtomicU64::new(0),
    });
    let lat_slow = log_latencies(&dir, n, slow.clone());
    // What one write+fdatasync costs here, for scale.
    let mut sync_times = Vec::new();
    {
        let mut raw = Raw::new(&dir, "sync-probe.log");
        for _ in 0..200 {
            sync_times.push((raw.run(1, 1) * 1e9) as u64);
        }
    }
    sync_times.sort_unstable();
    let sync_p50 = pct_us(&sync_times, 0.5);
    for (what, v, syncs) in [
        ("real disk", &lat, hooks.syncs()),
        (
            "fdatasync +20 ms",
            &lat_slow,
            slow.syncs.load(Ordering::Relaxed),
        ),
    ] {
        let over = v.iter().filter(|&&x| x > 100_000).count();
        println!(
            "  {what}: log() p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.0} us, {over} calls over 100 us | {syncs} fdatasyncs ran meanwhile",
            pct_us(v, 0.5),
            pct_us(v, 0.99),
            pct_us(v, 0.999),
            pct_us(v, 1.0),
        );
    }
    println!("  one raw write+fdatasync here: p50 {sync_p50:.0} us");
    for (what, v, base) in [
        ("", &lat, format!("fdatasync p50 {sync_p50:.0} us")),
        (
            " with a 20 ms fdatasync",
            &lat_slow,
            "each fdatasync 20 ms slower".to_string(),
        ),
    ] {
        rows.push(Row {
            scenario: format!("Session::log latency{what} (caller does not await)"),
            convlog: format!(
                "p50 {:.1} us, p99 {:.1} us, max {:.0} us",
                pct_us(v, 0.5),
                pct_us(v, 0.99),
                pct_us(v, 1.0)
            ),
            baseline: base,
            value: Some(pct_us(v, 0.99)),
            goal: Goal::P99Micros(50.0),
            note: None,
        });
    }
    let never_blocked = pct_us(&lat_slow, 1.0) < 20_000.0;
    if let Some(last) = rows.last_mut() {
        last.note = Some(format!(
            "slowest call {:.0} us while every sync took over 20,000 us: {}",
            pct_us(&lat_slow, 1.0),
            if never_blocked {
                "the caller never waited for the disk (the rare slow calls are preemptions on a 2-core machine)"
            } else {
                "A CALL WAITED FOR THE DISK"
            }
        ));
    }
}
