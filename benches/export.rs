//! Export and verify of a generated log, streamed to a sink.
//!
//! `cargo bench --bench export` (`CONVLOG_BENCH_EXPORT_N` sets the log's size, default 50,000).

use std::hint::black_box;
use std::io;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use convlog::export::{self, ExportOptions};
use convlog::read;
use convlog::{Message, Options, Session};

fn generate(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let s = Session::create_with(
        dir.path(),
        Options::default().echo(false).export_on_end(false),
    )
    .expect("create");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for i in 0..n {
            // Every fourth agent reply streams in two fragments of one turn.
            let m = match i % 4 {
                0 | 2 => Message::user(format!("नमस्कार, आप कैसे हैं? message {i}"), "deepgram_stt"),
                1 => Message::agent(format!("नमस्ते! मैं ठीक हूँ। reply {i}"), "cartesia_tts"),
                _ => Message::agent("Sure, \"quoted\" and fine.", "cartesia_tts")
                    .turn(format!("t{i}")),
            };
            s.log(m);
        }
        s.end().await.expect("end");
    });
    let path = s.path().to_path_buf();
    (dir, path)
}

fn bench(c: &mut Criterion) {
    let n: usize = std::env::var("CONVLOG_BENCH_EXPORT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let (_dir, log) = generate(n);
    let bytes = std::fs::metadata(&log).expect("log").len();
    let mut g = c.benchmark_group("export");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(format!("export::render json sink/{n} msgs"), |b| {
        b.iter(|| {
            black_box(
                export::render(
                    &log,
                    convlog::Format::Json,
                    io::sink(),
                    std::path::Path::new("<stdout>"),
                    &ExportOptions::default(),
                )
                .expect("export"),
            )
        })
    });
    g.bench_function(format!("verify (read::inspect)/{n} msgs"), |b| {
        b.iter(|| black_box(read::inspect(&log).expect("inspect")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
