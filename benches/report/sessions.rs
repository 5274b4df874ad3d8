//! Many sessions in one process: threads, memory, throughput and p99.

use std::fs::{self};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convlog::Session;

use crate::harness::*;

/// Many sessions in one process on a 2-worker tokio runtime, each task
/// awaiting its own appends: first 1,000 sessions appending back to back,
/// then 3,000 sessions each appending every 200 ms (15,000/s offered).
pub(crate) fn sessions(cfg: &Config, rows: &mut Vec<Row>) {
    let secs = cfg.size("CONVLOG_REPORT_SESSIONS_SECS", 10, 2) as f64;
    for (count, period) in [(1000usize, None), (3000, Some(Duration::from_millis(200)))] {
        let dir = cfg.dir(&format!("sessions-{count}"));
        let (threads_before, rss_before) = proc_status();
        let t = Instant::now();
        let all: Vec<Session> = (0..count)
            .map(|_| {
                Session::create_with(&dir, options(Arc::new(convlog::RealIo))).expect("create")
            })
            .collect();
        let create = t.elapsed().as_secs_f64();
        println!(
            "[sessions] {count} sessions{}, {secs:.0} s: created in {create:.2} s ({:.0} us each)",
            period.map_or(" appending back to back".to_string(), |p| format!(
                " each appending every {} ms",
                p.as_millis()
            )),
            create * 1e6 / count as f64
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let peak = Arc::new(std::sync::Mutex::new((0u64, 0u64, 0usize)));
        let (lat, n, elapsed) = rt.block_on(async {
            let stop = Instant::now() + Duration::from_secs_f64(secs);
            let sampler = {
                let peak = peak.clone();
                tokio::spawn(async move {
                    while Instant::now() < stop {
                        {
                            let (th, rss) = proc_status();
                            let mut p = peak.lock().unwrap();
                            p.0 = p.0.max(th);
                            p.1 = p.1.max(rss);
                            p.2 = p.2.max(convlog::Session::pool_threads());
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
            };
            let t = Instant::now();
            let tasks: Vec<_> = all
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        let mut lat = Vec::new();
                        let mut i = 0;
                        // Spread the periodic sessions' first appends over one period.
                        if let Some(p) = period {
                            tokio::time::sleep(p.mul_f64(k as f64 / count as f64)).await;
                        }
                        let mut next = tokio::time::Instant::now();
                        while Instant::now() < stop {
                            let t = Instant::now();
                            s.append(message(k * 1_000_000 + i)).await.expect("append");
                            lat.push(t.elapsed().as_nanos() as u64);
                            i += 1;
                            if let Some(p) = period {
                                next += p;
                                tokio::time::sleep_until(next).await;
                            }
                        }
                        lat
                    })
                })
                .collect();
            let mut lat = Vec::new();
            for task in tasks {
                lat.extend(task.await.expect("task"));
            }
            let elapsed = t.elapsed().as_secs_f64();
            sampler.await.expect("sampler");
            let n = lat.len();
            (lat, n, elapsed)
        });
        let mut lat = lat;
        lat.sort_unstable();
        let (threads, rss, pool) = *peak.lock().unwrap();
        for s in all {
            let log = s.path().to_path_buf();
            drop(s);
            let _ = fs::remove_file(log);
        }
        drop(rt);
        let _ = fs::remove_dir_all(&dir);
        let thr = rate(n, elapsed);
        println!(
            "  {n} appends in {elapsed:.1} s: {thr:.0}/s, ack p50 {:.1} ms, p99 {:.1} ms | threads {threads_before} before, peak {threads} (commit pool {pool}, tokio workers 2) | RSS {} before, peak {}",
            pct_us(&lat, 0.5) / 1000.0,
            pct_us(&lat, 0.99) / 1000.0,
            mib(rss_before),
            mib(rss),
        );
        rows.push(Row {
            scenario: format!(
                "{count} sessions in one process{}",
                period.map_or(", all appending".to_string(), |p| format!(
                    ", each every {} ms",
                    p.as_millis()
                ))
            ),
            convlog: format!(
                "{}, p99 {:.0} ms",
                fmt_rate(thr, "msg"),
                pct_us(&lat, 0.99) / 1000.0
            ),
            baseline: format!("{pool} commit threads (peak {threads} in all)"),
            value: Some(pool as f64),
            goal: Goal::MaxThreads(64),
            note: Some(format!(
                "peak RSS {}; session create {:.0} us each; before issue 10: one thread per session{}",
                mib(rss),
                create * 1e6 / count as f64,
                if period.is_some() {
                    " (3,003 threads, 10.7k/s served, p99 206 ms)"
                } else {
                    " (1,003 threads, 15k msgs/s, p99 166 ms)"
                }
            )),
        });
    }
}
