//! 64 producers in one process against the raw loop at the same batch size.

use std::fs::{self};
use std::sync::Arc;
use std::time::Instant;

use convlog::Session;

use crate::harness::*;

pub(crate) fn concurrent(cfg: &Config, rows: &mut Vec<Row>) {
    let producers = 64;
    let per_chunk = 25;
    let per = cfg
        .size("CONVLOG_REPORT_CONCURRENT_N", 300, per_chunk)
        .div_ceil(per_chunk)
        * per_chunk;
    let n = producers * per;
    let dir = cfg.dir("concurrent");
    println!(
        "[concurrent] {producers} producers x {per} appends, each awaited; interleaved in rounds of {producers} x {per_chunk}"
    );
    let hooks = Arc::new(Counting::default());
    let s = Session::create_with(&dir, options(hooks.clone())).expect("create");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let round = |c: usize| -> f64 {
        rt.block_on(async {
            let t = Instant::now();
            let tasks: Vec<_> = (0..producers)
                .map(|p| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        for i in 0..per_chunk {
                            let m = message((c * producers + p) * per_chunk + i);
                            s.append(m).await.expect("append");
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("producer");
            }
            t.elapsed().as_secs_f64()
        })
    };
    // One untimed round first, so the raw side knows convlog's batch size.
    round(usize::MAX / (producers * per_chunk * 2));
    let warm = (hooks.syncs(), producers * per_chunk);
    let mut raw = Raw::new(&dir, "raw.log");
    let lines = std::cell::Cell::new(0u64);
    let r = interleave(
        per / per_chunk,
        |c| {
            lines.set(lines.get() + (producers * per_chunk) as u64);
            round(c)
        },
        |_| {
            let syncs = hooks.syncs() - warm.0;
            let b = if syncs == 0 {
                hooks_batch(&hooks, warm.1 as u64)
            } else {
                lines.get() as f64 / syncs as f64
            };
            raw.run(producers * per_chunk, b.round() as usize)
        },
    );
    let batch = lines.get() as f64 / (hooks.syncs() - warm.0).max(1) as f64;
    drop(raw);
    let log = s.path().to_path_buf();
    drop(s);
    let _ = fs::remove_file(log);
    println!(
        "  {} | {} syncs for {n} appends, mean batch {batch:.1}",
        r.spread(),
        hooks.syncs() - warm.0,
    );
    rows.push(Row {
        scenario: format!("{producers} in-process producers awaiting durability"),
        convlog: fmt_rate(rate(n, r.a_secs), "msg"),
        baseline: format!(
            "{} raw batched @{batch:.0}/sync",
            fmt_rate(rate(n, r.b_secs), "line"),
        ),
        value: Some(r.ratio()),
        goal: Goal::Ratio(0.5),
        note: None,
    });
}
