//! The append path: durable appends (each fdatasynced), group commit under
//! concurrency, and the fire-and-forget `Session::log` call.
//!
//! `cargo bench --bench append`. Sample counts are small: every durable
//! append waits for the disk.

use std::fs::File;
use std::hint::black_box;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

use convlog::{IoHooks, Message, Options, Session};

/// Writes but skips the fdatasync: convlog's own cost per append.
struct NoSync;
impl IoHooks for NoSync {
    fn sync_data(&self, _: &File) -> io::Result<()> {
        Ok(())
    }
}

fn options(io: Arc<dyn IoHooks>) -> Options {
    Options::default().echo(false).export_on_end(false).io(io)
}

fn message(i: u64) -> Message {
    Message::user(format!("नमस्कार, आप कैसे हैं? message {i:07}"), "deepgram_stt")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let rt = runtime();
    let mut g = c.benchmark_group("append");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));

    let durable =
        Session::create_with(dir.path(), options(Arc::new(convlog::RealIo))).expect("create");
    g.bench_function("durable, awaited (write+fdatasync each)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for i in 0..iters {
                    durable.append(message(i)).await.expect("append");
                }
                t.elapsed()
            })
        })
    });

    g.bench_function("raw write(200B)+fdatasync (baseline)", |b| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("raw.log"))
            .expect("raw");
        let line = [b'x'; 200];
        b.iter(|| {
            f.write_all(&line).expect("write");
            f.sync_data().expect("sync");
        })
    });

    let nosync = Session::create_with(dir.path(), options(Arc::new(NoSync))).expect("create");
    g.bench_function("awaited, fdatasync skipped (convlog overhead)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for i in 0..iters {
                    nosync.append(message(i)).await.expect("append");
                }
                t.elapsed()
            })
        })
    });

    let concurrent =
        Session::create_with(dir.path(), options(Arc::new(convlog::RealIo))).expect("create");
    g.bench_function("64 producers x 4 appends, each awaited", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    let tasks: Vec<_> = (0..64)
                        .map(|p| {
                            let s = concurrent.clone();
                            tokio::spawn(async move {
                                for i in 0..4 {
                                    s.append(message(p * 4 + i)).await.expect("append");
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.expect("producer");
                    }
                }
                t.elapsed()
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("log");
    let logged =
        Session::create_with(dir.path(), options(Arc::new(convlog::RealIo))).expect("create");
    g.bench_function("Session::log (not awaited)", |b| {
        let mut i = 0;
        b.iter_batched(
            || {
                i += 1;
                message(i)
            },
            |m| logged.log(black_box(m)),
            criterion::BatchSize::SmallInput,
        );
        rt.block_on(logged.flush()).expect("flush");
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
