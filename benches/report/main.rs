//! The performance report: `cargo bench --bench report`.
//!
//! Every figure is a ratio against a baseline measured in the same run, on
//! the same directory and filesystem, because the machines this runs on are
//! shared and noisy. Each fdatasync-bound scenario alternates baseline and
//! convlog runs and keeps the best of each, so a burst of noise from a
//! neighbour cannot favour either side.
//!
//! Environment (all optional):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CONVLOG_REPORT_SCALE` | `1` | multiplies every size below |
//! | `CONVLOG_REPORT_REPS` | `5` | alternating rounds of the round-based scenarios |
//! | `CONVLOG_REPORT_ONLY` | all | comma list of: `single,pingpong,ingest,sessions,concurrent,procs,seed,export,memory,latency,ship,python,wheel,viewer,redact,fuzz` |
//! | `CONVLOG_REPORT_DIR` | `target/tmp` | where the logs are written (same filesystem for every side) |
//! | `CONVLOG_REPORT_KEEP` | unset | keep the generated files |
//! | `CONVLOG_REPORT_SINGLE_N` | 2000 | appends in the one-producer scenario |
//! | `CONVLOG_REPORT_INGEST_N` | 200000 | messages ingested |
//! | `CONVLOG_REPORT_PINGPONG_N` | 2000 | lines sent one at a time, each waiting for its ack |
//! | `CONVLOG_REPORT_SESSIONS_SECS` | 10 | seconds each many-sessions run lasts |
//! | `CONVLOG_REPORT_CONCURRENT_N` | 300 | appends per producer (64 producers) |
//! | `CONVLOG_REPORT_PROCS_N` | 500 | appends per process (4 processes) |
//! | `CONVLOG_REPORT_SEED_N` | 5000 | messages for seed_rewrite.py, whose cost grows with n (5000 takes it a few minutes; a smaller n understates the speed-up) |
//! | `CONVLOG_REPORT_EXPORT_N` | 1000000 | messages in the exported / verified log |
//! | `CONVLOG_REPORT_LATENCY_N` | 20000 | `Session::log` calls timed |
//! | `CONVLOG_REPORT_SHIP_N` | 10000 | messages per session shipped (40 sessions) |
//! | `CONVLOG_REPORT_SHIP_IDLE_LOGS` | 5000 | shipped logs an idle `ship --follow` watches |
//! | `CONVLOG_REPORT_SHIP_BIG_N` | 1000000 | messages in the log whose `convlog ship` peak RSS is measured |
//! | `CONVLOG_REPORT_VIEWER_SESSIONS` | 10000 | sessions in the viewer's list |
//! | `CONVLOG_REPORT_VIEWER_MESSAGES` | 10000 | messages on the viewer's big session page |
//! | `CONVLOG_REPORT_VIEWER_APPENDS` | 100 | appends at 20/s watched by 50 viewers |
//! | `CONVLOG_REPORT_VIEWER_BURST` | 300 | full-speed appends per run, with and without viewers |
//! | `CONVLOG_REPORT_REDACT_CALLS` | 400000 | `Policy::all().redact` calls timed per round |
//! | `CONVLOG_REPORT_REDACT_N` | 100000 | messages ingested with and without `--redact all` |
//! | `CONVLOG_REPORT_FUZZ_SECS` | 600 | seconds each fuzz target runs (`fuzz`: seven targets, needs rustup) |
//! | `CONVLOG_TEST_PG_URL` | unset | a PostgreSQL to ship to; without it `ship` is skipped |
//! | `CONVLOG_TEST_PYTHON` | unset | a python with `pip install ./python`; without it `python` is skipped |
//! | `CONVLOG_BENCH_WHEEL` | newest python/dist/*.whl | the wheel `wheel` installs and measures; without one `wheel` is skipped |
//!
//! The CLI scenarios run the `convlog` binary cargo builds beside this bench
//! (`target/release/convlog`).

use std::fs::{self};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use convlog::Session;
use convlog::export::{self, ExportOptions};

mod concurrent;
#[path = "../../tests/redact/corpus.rs"]
mod corpus;
mod export_memory;
mod fuzz;
mod harness;
#[path = "../../tests/redact/heldout.rs"]
mod heldout;
mod ingest;
mod latency;
#[path = "../../tests/redact/oracle.rs"]
mod oracle;
#[cfg(feature = "postgres")]
#[path = "../../tests/shared/pg.rs"]
mod pg;
mod pingpong;
mod procs;
mod python;
mod redact;
mod seed;
mod sessions;
#[cfg(feature = "postgres")]
mod ship;
mod single;
#[path = "../../tests/redact/variants.rs"]
mod variants;
mod viewer;

use harness::*;
use python::{python, wheel};
use {
    concurrent::*, export_memory::*, ingest::*, latency::*, pingpong::*, procs::*, seed::*,
    sessions::*, single::*, viewer::*,
};

fn main() {
    // `cargo bench` passes `--bench`; the report takes no arguments of its own.
    if let Ok(role) = std::env::var("CONVLOG_REPORT_CHILD") {
        std::process::exit(child(&role));
    }
    // First, while this process is small: the helper that runs the peak-memory children.
    let mut spawner = Spawner::start();
    let cfg = Config::from_env();
    fs::create_dir_all(&cfg.root).expect("create report dir");
    let mut rows: Vec<Row> = Vec::new();
    println!("convlog performance report");
    println!("{}", machine_line(&cfg.root));
    println!(
        "dir {} | scale {} | reps {}\n",
        cfg.root.display(),
        cfg.scale,
        cfg.reps
    );

    let started = Instant::now();
    if cfg.wants("single") {
        single_producer(&cfg, &mut rows);
    }
    if cfg.wants("pingpong") {
        pingpong(&cfg, &mut rows);
    }
    if cfg.wants("ingest") {
        ingest(&cfg, &mut rows);
    }
    if cfg.wants("sessions") {
        sessions(&cfg, &mut rows);
    }
    if cfg.wants("concurrent") {
        concurrent(&cfg, &mut rows);
    }
    if cfg.wants("procs") {
        processes(&cfg, &mut rows);
    }
    if cfg.wants("seed") {
        seed(&cfg, &mut rows);
    }
    if cfg.wants("export") || cfg.wants("memory") {
        match spawner.as_mut() {
            Some(sp) => export_and_memory(&cfg, &mut rows, sp),
            None => println!("[export] skipped: could not start the helper process"),
        }
    }
    if cfg.wants("latency") {
        latency(&cfg, &mut rows);
    }
    if cfg.wants("ship") {
        #[cfg(feature = "postgres")]
        ship::ship_scenario(&cfg, &mut rows, spawner.as_mut());
        #[cfg(not(feature = "postgres"))]
        rows.push(skipped(
            "ship",
            Goal::Ratio(0.5),
            "built without the `postgres` feature",
        ));
    }
    if cfg.wants("python") {
        python(&cfg, &mut rows);
    }
    if cfg.wants("wheel") {
        wheel(&cfg, &mut rows);
    }
    if cfg.wants("viewer") {
        viewer(&cfg, &mut rows);
    }
    if cfg.wants("redact") {
        redact::redaction(&cfg, &mut rows);
    }
    if cfg.wants("fuzz") {
        fuzz::fuzz(&cfg, &mut rows);
    }
    println!();
    print_table(&rows);
    println!("\ntotal {:.0} s", started.elapsed().as_secs_f64());
    if std::env::var_os("CONVLOG_REPORT_KEEP").is_none() {
        let _ = fs::remove_dir_all(&cfg.root);
    }
}

/// Child modes: `append` (the multi-process scenario), `export`, `verify`
/// (peak memory). Returns the exit code.
fn child(role: &str) -> i32 {
    if role == "spawner" {
        return spawner_loop();
    }
    let log = PathBuf::from(std::env::var_os("CONVLOG_CHILD_LOG").expect("CONVLOG_CHILD_LOG"));
    match role {
        "append" => {
            let n: usize = env_parse("CONVLOG_CHILD_N").unwrap_or(100);
            let hooks = Arc::new(Counting::default());
            let s = Session::open_with(&log, options(hooks.clone())).expect("open");
            // Wait for the parent's go: stdin closes.
            let mut sink = Vec::new();
            let _ = io::stdin().read_to_end(&mut sink);
            let rt = current_thread();
            rt.block_on(async {
                for i in 0..n {
                    s.append(message(i)).await.expect("append");
                }
            });
            println!("{}", hooks.syncs());
            0
        }
        "export" => {
            let out =
                PathBuf::from(std::env::var_os("CONVLOG_CHILD_OUT").expect("CONVLOG_CHILD_OUT"));
            match export::export_file(&log, &out, export::Format::Json, &ExportOptions::default()) {
                Ok(_) => 0,
                Err(e) => {
                    eprintln!("{e}");
                    1
                }
            }
        }
        "verify" => match convlog::read::inspect(&log) {
            Ok(r) if r.is_intact() => 0,
            Ok(r) => {
                eprintln!("damage: {:?}", r.damage);
                1
            }
            Err(e) => {
                eprintln!("{e}");
                1
            }
        },
        other => {
            eprintln!("unknown child role {other}");
            2
        }
    }
}
