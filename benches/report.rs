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
//! | `CONVLOG_REPORT_ONLY` | all | comma list of: `single,pingpong,ingest,sessions,concurrent,procs,seed,export,memory,latency` |
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
//!
//! The CLI scenarios run the `convlog` binary cargo builds beside this bench
//! (`target/release/convlog`).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use convlog::export::{self, ExportOptions};
use convlog::{IoHooks, Message, Options, Session};

/// Bytes per line of the raw baselines; convlog's messages are sized to match.
const RAW_LINE: usize = 200;
/// Peak-memory goal for export and verify.
const MEM_GOAL: u64 = 32 << 20;

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
    println!();
    print_table(&rows);
    println!("\ntotal {:.0} s", started.elapsed().as_secs_f64());
    if std::env::var_os("CONVLOG_REPORT_KEEP").is_none() {
        let _ = fs::remove_dir_all(&cfg.root);
    }
}

// ---------------------------------------------------------------- settings

struct Config {
    root: PathBuf,
    scale: f64,
    reps: usize,
    only: Option<Vec<String>>,
}

impl Config {
    fn from_env() -> Config {
        let scale = env_parse("CONVLOG_REPORT_SCALE").unwrap_or(1.0f64);
        let reps = env_parse("CONVLOG_REPORT_REPS").unwrap_or(5usize).max(1);
        let only = std::env::var("CONVLOG_REPORT_ONLY")
            .ok()
            .map(|s| s.split(',').map(|p| p.trim().to_string()).collect());
        let base = std::env::var_os("CONVLOG_REPORT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
        let root = base.join(format!("convlog-report-{}", std::process::id()));
        Config {
            root,
            scale,
            reps,
            only,
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == name))
    }

    /// A size: the env override if set, else `default * scale` (at least `min`).
    fn size(&self, var: &str, default: usize, min: usize) -> usize {
        env_parse(var).unwrap_or_else(|| ((default as f64 * self.scale) as usize).max(min))
    }

    fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.join(name);
        fs::create_dir_all(&d).expect("create scenario dir");
        d
    }
}

fn env_parse<T: std::str::FromStr>(var: &str) -> Option<T> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}

fn machine_line(dir: &Path) -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "nproc {nproc} | kernel {} | fs {}",
        kernel.trim(),
        fs_type(dir)
    )
}

/// The filesystem type of `dir`, from the longest matching mount point.
fn fs_type(dir: &Path) -> String {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best = (0usize, "unknown".to_string());
    for l in mounts.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        if f.len() > 2 && dir.starts_with(f[1]) && f[1].len() >= best.0 {
            best = (f[1].len(), format!("{} ({})", f[2], f[1]));
        }
    }
    best.1
}

// ---------------------------------------------------------------- table

enum Goal {
    /// convlog / baseline at least this.
    Ratio(f64),
    /// No goal: report the ratio, aiming at this.
    Aim(f64),
    /// Peak RSS at most this many bytes.
    MaxBytes(u64),
    /// p99 at most this many microseconds.
    P99Micros(f64),
    /// At most this many threads.
    MaxThreads(u64),
}

struct Row {
    scenario: String,
    convlog: String,
    baseline: String,
    /// The measured figure the goal is about: a ratio, bytes or microseconds.
    value: Option<f64>,
    goal: Goal,
    note: Option<String>,
}

impl Row {
    fn ratio(&self) -> String {
        match (&self.goal, self.value) {
            (Goal::Ratio(_) | Goal::Aim(_), Some(v)) if v >= 10.0 => format!("{v:.0}x"),
            (Goal::Ratio(_) | Goal::Aim(_), Some(v)) => format!("{v:.2}"),
            _ => "-".into(),
        }
    }

    fn goal(&self) -> String {
        match self.goal {
            Goal::Ratio(g) if g >= 10.0 => format!(">= {g:.0}x"),
            Goal::Ratio(g) => format!(">= {g}"),
            Goal::Aim(g) => format!("report (aim {g})"),
            Goal::MaxBytes(b) => format!("<= {} MiB", b >> 20),
            Goal::P99Micros(us) => format!("p99 <= {us} us"),
            Goal::MaxThreads(t) => format!("<= {t} threads"),
        }
    }

    fn met(&self) -> &'static str {
        let Some(v) = self.value else {
            return "n/a";
        };
        let ok = match self.goal {
            Goal::Ratio(g) | Goal::Aim(g) => v >= g,
            Goal::MaxBytes(b) => v <= b as f64,
            Goal::P99Micros(us) => v <= us,
            Goal::MaxThreads(t) => v <= t as f64,
        };
        match (ok, &self.goal) {
            (true, _) => "yes",
            (false, Goal::Aim(_)) => "(no)",
            (false, _) => "NO",
        }
    }
}

fn print_table(rows: &[Row]) {
    let head = ["scenario", "convlog", "baseline", "ratio", "goal", "met?"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.scenario.clone(),
                r.convlog.clone(),
                r.baseline.clone(),
                r.ratio(),
                r.goal(),
                r.met().to_string(),
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut s = String::from("|");
        for (w, v) in width.iter().zip(c) {
            let pad = w - v.chars().count();
            let _ = write!(s, " {v}{} |", " ".repeat(pad));
        }
        s
    };
    println!("{}", line(&head.map(String::from)));
    let mut sep = String::from("|");
    for w in width {
        let _ = write!(sep, "{}|", "-".repeat(w + 2));
    }
    println!("{sep}");
    for c in &cells {
        println!("{}", line(c));
    }
    let notes: Vec<_> = rows
        .iter()
        .filter_map(|r| r.note.as_ref().map(|n| (&r.scenario, n)))
        .collect();
    if !notes.is_empty() {
        println!();
        for (s, n) in notes {
            println!("* {s}: {n}");
        }
    }
}

fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / secs
}

fn fmt_rate(r: f64, unit: &str) -> String {
    if r >= 10_000.0 {
        format!("{:.0}k {unit}/s", r / 1000.0)
    } else {
        format!("{r:.0} {unit}/s")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn skipped(scenario: &str, goal: Goal, why: &str) -> Row {
    println!("  {scenario}: skipped: {why}");
    Row {
        scenario: scenario.into(),
        convlog: format!("skipped: {why}"),
        baseline: "-".into(),
        value: None,
        goal,
        note: None,
    }
}

// ---------------------------------------------------------------- helpers

/// Counts the writer's disk calls, so a baseline can use convlog's own batch size.
#[derive(Default)]
struct Counting {
    writes: AtomicU64,
    syncs: AtomicU64,
    bytes: AtomicU64,
    /// Nanoseconds spent in write + fdatasync, in total.
    disk_ns: AtomicU64,
}

impl IoHooks for Counting {
    fn write_all(&self, file: &mut File, buf: &[u8]) -> io::Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        let t = Instant::now();
        let r = file.write_all(buf);
        self.disk_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
    fn sync_data(&self, file: &File) -> io::Result<()> {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let t = Instant::now();
        let r = file.sync_data();
        self.disk_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
}

impl Counting {
    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

fn options(io: Arc<dyn IoHooks>) -> Options {
    Options {
        echo: false,
        export_on_end: false,
        io,
        ..Options::default()
    }
}

/// The i-th message of the workload: alternating user and agent turns in
/// Hindi and English, as in seed_rewrite.py, padded so a framed line is about
/// [`RAW_LINE`] bytes.
fn message(i: usize) -> Message {
    if i.is_multiple_of(2) {
        Message::user(format!("नमस्कार, आप कैसे हैं? message {i:07}"), "deepgram_stt")
    } else {
        Message::agent(format!("नमस्ते! मैं ठीक हूँ। reply {i:07}"), "cartesia_tts")
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn raw_line() -> Vec<u8> {
    let mut l = vec![b'x'; RAW_LINE - 1];
    l.push(b'\n');
    l
}

fn new_append_file(path: &Path) -> File {
    let _ = fs::remove_file(path);
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .expect("create raw file");
    // Like a new log: one durable line before the timed appends.
    f.write_all(&raw_line()).expect("write");
    f.sync_data().expect("fdatasync");
    f
}

/// A raw append-only file for the baselines: fixed 200-byte lines.
struct Raw {
    path: PathBuf,
    f: File,
    buf: Vec<u8>,
}

impl Raw {
    fn new(dir: &Path, name: &str) -> Raw {
        let path = dir.join(name);
        let f = new_append_file(&path);
        Raw {
            path,
            f,
            buf: Vec::new(),
        }
    }

    /// Appends `n` lines, `batch` per `write` + `fdatasync`. Returns seconds.
    fn run(&mut self, n: usize, batch: usize) -> f64 {
        let batch = batch.max(1);
        if self.buf.len() != batch * RAW_LINE {
            self.buf = raw_line().repeat(batch);
        }
        let t = Instant::now();
        let mut done = 0;
        while done < n {
            let k = batch.min(n - done);
            self.f.write_all(&self.buf[..k * RAW_LINE]).expect("write");
            self.f.sync_data().expect("fdatasync");
            done += k;
        }
        t.elapsed().as_secs_f64()
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Raw baseline on a fresh file. Returns lines/s.
fn raw_batched(dir: &Path, n: usize, batch: usize) -> f64 {
    rate(n, Raw::new(dir, "raw.log").run(n, batch))
}

/// Two timed workloads run in alternating chunks (the order flips every
/// chunk), so slow and fast spells of a noisy disk fall on both sides alike.
/// Each closure runs chunk `i` and returns its seconds.
struct Interleaved {
    a_secs: f64,
    b_secs: f64,
    /// Per chunk: b's time / a's time (a's throughput relative to b's).
    chunk_ratios: Vec<f64>,
}

fn interleave(
    chunks: usize,
    mut a: impl FnMut(usize) -> f64,
    mut b: impl FnMut(usize) -> f64,
) -> Interleaved {
    let mut r = Interleaved {
        a_secs: 0.0,
        b_secs: 0.0,
        chunk_ratios: Vec::new(),
    };
    for i in 0..chunks {
        let (x, y) = if i % 2 == 0 {
            let x = a(i);
            (x, b(i))
        } else {
            let y = b(i);
            (a(i), y)
        };
        r.a_secs += x;
        r.b_secs += y;
        r.chunk_ratios.push(y / x);
    }
    r
}

impl Interleaved {
    /// a's throughput over b's: the median of the per-chunk ratios, which
    /// one stalled chunk on a shared disk cannot drag.
    fn ratio(&self) -> f64 {
        let mut v = self.chunk_ratios.clone();
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) / 2]
    }

    fn spread(&self) -> String {
        let mut v = self.chunk_ratios.clone();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        format!(
            "per-round ratio min {:.2} / median {:.2} / max {:.2} over {} rounds; all rounds summed {:.2}",
            q(0.0),
            q(0.5),
            q(1.0),
            v.len(),
            self.b_secs / self.a_secs
        )
    }
}

/// What one convlog run measured.
struct Run {
    rate: f64,
    lines: u64,
    syncs: u64,
}

impl Run {
    fn batch(&self) -> f64 {
        self.lines as f64 / self.syncs.max(1) as f64
    }
}

fn hooks_batch(h: &Counting, lines: u64) -> f64 {
    lines as f64 / h.syncs().max(1) as f64
}

// ---------------------------------------------------------------- scenarios

/// Disk calls that skip the fdatasync: isolates convlog's own per-append cost.
struct NoSync;
impl IoHooks for NoSync {
    fn sync_data(&self, _: &File) -> io::Result<()> {
        Ok(())
    }
}

/// One producer awaiting each append of `n`; returns appends/s.
fn convlog_single(dir: &Path, n: usize, io: Arc<dyn IoHooks>) -> f64 {
    let s = Session::create_with(dir, options(io)).expect("create");
    let msgs: Vec<Message> = (0..n).map(message).collect();
    let rt = current_thread();
    let secs = rt.block_on(async {
        let t = Instant::now();
        for m in msgs {
            s.append(m).await.expect("append");
        }
        t.elapsed().as_secs_f64()
    });
    let path = s.path().to_path_buf();
    drop(s);
    let _ = fs::remove_file(path);
    rate(n, secs)
}

/// Per-operation latencies of one side of a comparison.
#[derive(Default)]
struct Lat(Vec<f64>);

impl Lat {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    fn total(&self) -> f64 {
        self.0.iter().sum()
    }
    /// Mean of the fastest `keep` fraction: drops the stalls a busy
    /// neighbour on the shared disk causes, on both sides alike.
    fn trimmed_mean(&self, keep: f64) -> f64 {
        let v = self.sorted();
        let k = ((v.len() as f64 * keep).ceil() as usize).clamp(1, v.len());
        v[..k].iter().sum::<f64>() / k as f64
    }
    fn pct(&self, p: f64) -> f64 {
        let v = self.sorted();
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

/// Share of operations kept by the trimmed means.
const KEEP: f64 = 0.98;

fn single_producer(cfg: &Config, rows: &mut Vec<Row>) {
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
    let b = Session::create_with(&dir, options(Arc::new(convlog::writer::RealIo))).expect("create");
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
        println!(
            "  per op, convlog {what} vs raw: p50 {:.0} vs {:.0} us, p99 {:.0} vs {:.0} us, mean {:.0} vs {:.0} us, mean of fastest {:.0}% {:.0} vs {:.0} us",
            us(lat.pct(0.5)),
            us(raw_lat.pct(0.5)),
            us(lat.pct(0.99)),
            us(raw_lat.pct(0.99)),
            us(lat.total() / n as f64),
            us(raw_lat.total() / n as f64),
            KEEP * 100.0,
            us(lat.trimmed_mean(KEEP)),
            us(raw_lat.trimmed_mean(KEEP)),
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

/// A process driven over pipes one line at a time: send, wait for the ack.
struct PingPong {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: io::BufReader<std::process::ChildStdout>,
    ack: String,
}

impl PingPong {
    fn start(cmd: &mut Command) -> PingPong {
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
    fn op(&mut self, line: &[u8]) -> f64 {
        use io::BufRead;
        let t = Instant::now();
        self.stdin.write_all(line).expect("send line");
        self.stdin.flush().expect("send line");
        self.ack.clear();
        self.stdout.read_line(&mut self.ack).expect("read ack");
        assert!(!self.ack.is_empty(), "no ack: the child exited");
        t.elapsed().as_secs_f64()
    }

    fn finish(self) {
        drop(self.stdin);
        let out = self.child.wait_with_output().expect("wait");
        assert!(out.status.success(), "ping-pong child failed: {out:?}");
    }
}

/// `convlog ingest --ack` driven one line at a time (send, wait for the ack),
/// against `rawack.c` (read a line, write, fdatasync, print the ack) driven
/// by the same code, alternating every few lines.
fn pingpong(cfg: &Config, rows: &mut Vec<Row>) {
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
    let report = convlog::reader::inspect(&log).expect("inspect");
    assert_eq!(report.messages, n as u64);
    let _ = fs::remove_file(&log);
    let us = |x: f64| x * 1e6;
    println!(
        "  per line, convlog vs rawack: p50 {:.0} vs {:.0} us, p99 {:.0} vs {:.0} us, mean of fastest {:.0}% {:.0} vs {:.0} us",
        us(conv_lat.pct(0.5)),
        us(raw_lat.pct(0.5)),
        us(conv_lat.pct(0.99)),
        us(raw_lat.pct(0.99)),
        KEEP * 100.0,
        us(conv_lat.trimmed_mean(KEEP)),
        us(raw_lat.trimmed_mean(KEEP)),
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

/// This process's thread count and resident memory, from /proc.
fn proc_status() -> (u64, u64) {
    let text = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:") << 10)
}

/// Many sessions in one process on a 2-worker tokio runtime, each task
/// awaiting its own appends: first 1,000 sessions appending back to back,
/// then 3,000 sessions each appending every 200 ms (15,000/s offered).
fn sessions(cfg: &Config, rows: &mut Vec<Row>) {
    let secs = cfg.size("CONVLOG_REPORT_SESSIONS_SECS", 10, 2) as f64;
    for (count, period) in [(1000usize, None), (3000, Some(Duration::from_millis(200)))] {
        let dir = cfg.dir(&format!("sessions-{count}"));
        let (threads_before, rss_before) = proc_status();
        let t = Instant::now();
        let all: Vec<Session> = (0..count)
            .map(|_| {
                Session::create_with(&dir, options(Arc::new(convlog::writer::RealIo)))
                    .expect("create")
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
                            p.2 = p.2.max(convlog::writer::pool_threads());
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

/// Library equivalent of ingest: `log` every message, then `flush`.
fn convlog_bulk(dir: &Path, n: usize, keep: bool) -> (Run, PathBuf) {
    let hooks = Arc::new(Counting::default());
    let s = Session::create_with(dir, options(hooks.clone())).expect("create");
    let msgs: Vec<Message> = (0..n).map(message).collect();
    let rt = current_thread();
    let secs = rt.block_on(async {
        let t = Instant::now();
        for m in msgs {
            s.log(m);
        }
        s.flush().await.expect("flush");
        t.elapsed().as_secs_f64()
    });
    assert!(s.last_error().is_none(), "{:?}", s.last_error());
    let path = s.path().to_path_buf();
    drop(s);
    if !keep {
        let _ = fs::remove_file(&path);
    }
    let run = Run {
        rate: rate(n, secs),
        lines: n as u64,
        syncs: hooks.syncs(),
    };
    (run, path)
}

fn convlog_bin() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_convlog"));
    // The binary is built by cargo for this bench; check it is the real CLI,
    // not an empty `fn main() {}`.
    let ok = Command::new(&p)
        .arg("--version")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    ok.then_some(p)
}

fn ingest_input(path: &Path, n: usize) {
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

fn cli_new(bin: &Path, dir: &Path) -> PathBuf {
    let out = Command::new(bin)
        .args(["new", "--dir"])
        .arg(dir)
        .output()
        .expect("run convlog new");
    assert!(out.status.success(), "convlog new: {out:?}");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Times `convlog ingest LOG` reading `input`. Returns msgs/s.
fn cli_ingest(bin: &Path, dir: &Path, input: &Path, n: usize) -> f64 {
    let log = cli_new(bin, dir);
    let t = Instant::now();
    let st = Command::new(bin)
        .arg("ingest")
        .arg(&log)
        .stdin(File::open(input).expect("open input"))
        .stdout(Stdio::null())
        .status()
        .expect("run convlog ingest");
    let secs = t.elapsed().as_secs_f64();
    assert!(st.success(), "convlog ingest failed: {st}");
    let _ = fs::remove_file(&log);
    rate(n, secs)
}

/// How many fdatasyncs one `convlog ingest` run makes, counted by
/// `perf stat` (a kernel tracepoint, no slow-down) or else `strace`.
fn cli_ingest_syncs(bin: &Path, dir: &Path, input: &Path) -> Option<(u64, &'static str)> {
    let log = cli_new(bin, dir);
    let counts = dir.join("syscalls.txt");
    let perf = Command::new("perf")
        .args(["stat", "-x,", "-e", "syscalls:sys_enter_fdatasync", "-o"])
        .arg(&counts)
        .arg("--")
        .arg(bin)
        .arg("ingest")
        .arg(&log)
        .stdin(File::open(input).ok()?)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let mut found = None;
    if perf.is_ok_and(|s| s.success()) {
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
        let st = Command::new("strace")
            .args(["-f", "-qq", "-c", "-e", "trace=fdatasync", "-o"])
            .arg(&counts)
            .arg(bin)
            .arg("ingest")
            .arg(&log)
            .stdin(File::open(input).ok()?)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if st.is_ok_and(|s| s.success()) {
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

fn ingest(cfg: &Config, rows: &mut Vec<Row>) {
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

fn concurrent(cfg: &Config, rows: &mut Vec<Row>) {
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

/// Four processes (this binary re-run as children) appending to one log,
/// each awaiting every append: one lock, catch-up, write and fdatasync per batch.
fn processes(cfg: &Config, rows: &mut Vec<Row>) {
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
            let report = convlog::reader::inspect(&log).expect("inspect");
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

/// The original design: seed_rewrite.py rewrites the whole JSON per message (no fsync).
fn seed(cfg: &Config, rows: &mut Vec<Row>) {
    let n = cfg.size("CONVLOG_REPORT_SEED_N", 5000, 100);
    let scenario = format!("convlog durable vs original design, n={n}");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/baselines/seed_rewrite.py");
    if !script.exists() {
        rows.push(skipped(
            &scenario,
            Goal::Ratio(100.0),
            &format!("{} is missing", script.display()),
        ));
        return;
    }
    let dir = cfg.dir("seed");
    println!(
        "[seed] seed_rewrite.py {n} (quadratic; takes a while) vs convlog awaiting each append"
    );
    let t = Instant::now();
    let out = Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .arg(n.to_string())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            rows.push(skipped(
                &scenario,
                Goal::Ratio(100.0),
                &format!(
                    "seed_rewrite.py failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
            ));
            return;
        }
        Err(e) => {
            rows.push(skipped(
                &scenario,
                Goal::Ratio(100.0),
                &format!("python3: {e}"),
            ));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let seed_rate = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("secs="))
        .and_then(|s| s.parse::<f64>().ok())
        .map_or_else(|| rate(n, t.elapsed().as_secs_f64()), |s| rate(n, s));
    println!("  seed: {}", text.trim());
    let conv = (0..cfg.reps)
        .map(|_| convlog_single(&dir, n, Arc::new(convlog::writer::RealIo)))
        .fold(0.0, f64::max);
    // Awaiting each append is one fdatasync per message, so the disk caps
    // the ratio: the raw loop's rate over the seed's is the best any durable
    // design could show in this run.
    let raw = (0..cfg.reps)
        .map(|_| raw_batched(&dir, n, 1))
        .fold(0.0, f64::max);
    println!(
        "  convlog {conv:.0} msg/s, raw write+fdatasync loop {raw:.0} msg/s: ceiling {:.0}x",
        raw / seed_rate
    );
    let _ = fs::remove_dir_all(&dir);
    rows.push(Row {
        scenario,
        convlog: format!("{} (each fdatasynced)", fmt_rate(conv, "msg")),
        baseline: format!("{} seed_rewrite.py (no fsync)", fmt_rate(seed_rate, "msg")),
        value: Some(conv / seed_rate),
        goal: Goal::Ratio(150.0),
        note: Some(format!(
            "one fdatasync per message caps this: the raw write+fdatasync loop ran at {} here, a ceiling of {:.0}x{}",
            fmt_rate(raw, "msg"),
            raw / seed_rate,
            if n < 5000 {
                "; goal is stated at n=5000 (CONVLOG_REPORT_SEED_N=5000); the seed's cost per message grows with n, so a smaller n understates the speed-up"
            } else {
                ""
            }
        )),
    });
}

const PY_EXPORT: &str = r#"
import json, sys
conv = []
last = None
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        if r.get("kind") != "message":
            continue
        key = (r["role"], r.get("turn"))
        if conv and key[1] is not None and key == last:
            conv[-1]["content"] += " " + r["content"]
            continue
        conv.append({"role": r["role"], "content": r["content"],
                     "timestamp": r["ts"][:26], "source": r["source"]})
        last = key
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump({"conversation": conv}, f, ensure_ascii=False, indent=2)
"#;

fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    let mut x = io::BufReader::with_capacity(1 << 20, File::open(a)?);
    let mut y = io::BufReader::with_capacity(1 << 20, File::open(b)?);
    if fs::metadata(a)?.len() != fs::metadata(b)?.len() {
        return Ok(false);
    }
    let mut bx = vec![0u8; 1 << 16];
    let mut by = vec![0u8; 1 << 16];
    loop {
        let k = x.read(&mut bx)?;
        if k == 0 {
            return Ok(true);
        }
        y.read_exact(&mut by[..k])?;
        if bx[..k] != by[..k] {
            return Ok(false);
        }
    }
}

/// Runs a child and returns (wall seconds, peak RSS bytes) from `wait4`.
fn run_measured(cmd: &mut Command) -> io::Result<(f64, u64, bool)> {
    let t = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills in; the pid is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = t.elapsed().as_secs_f64();
    if r != pid {
        return Err(io::Error::last_os_error());
    }
    // Reaped by wait4: `child` must not be waited on again.
    std::mem::forget(child);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((secs, usage.ru_maxrss as u64 * 1024, ok))
}

fn export_and_memory(cfg: &Config, rows: &mut Vec<Row>, spawner: &mut Spawner) {
    let n = cfg.size("CONVLOG_REPORT_EXPORT_N", 1_000_000, 1000);
    let dir = cfg.dir("export");
    println!("[export] generating a {n}-message log with Session::log");
    let (gen_run, log) = convlog_bulk(&dir, n, true);
    let log_len = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    println!(
        "  generated {} in {} syncs at {}",
        mib(log_len),
        gen_run.syncs,
        fmt_rate(gen_run.rate, "msg")
    );
    let py_out = dir.join("python.json");
    let conv_out = dir.join("convlog.json");

    if cfg.wants("export") {
        let t = Instant::now();
        let py = Command::new("python3")
            .args(["-c", PY_EXPORT])
            .arg(&log)
            .arg(&py_out)
            .stdin(Stdio::null())
            .status();
        let py_secs = match py {
            Ok(st) if st.success() => Some(t.elapsed().as_secs_f64()),
            _ => None,
        };
        let conv_secs = (0..cfg.reps)
            .map(|_| {
                let t = Instant::now();
                let w = BufWriter::with_capacity(1 << 16, File::create(&conv_out).expect("create"));
                export::export_to(&log, w, &ExportOptions::default()).expect("export");
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        let scenario = format!("export of a {n}-message log (library export_to)");
        match py_secs {
            Some(py_secs) => {
                let same = same_bytes(&py_out, &conv_out).unwrap_or(false);
                println!(
                    "  python {py_secs:.2} s, convlog {conv_secs:.3} s; outputs byte-identical: {same}"
                );
                rows.push(Row {
                    scenario,
                    convlog: format!("{} ({conv_secs:.2} s)", fmt_rate(rate(n, conv_secs), "msg")),
                    baseline: format!(
                        "{} python json.loads+json.dump ({py_secs:.1} s)",
                        fmt_rate(rate(n, py_secs), "msg")
                    ),
                    value: Some(py_secs / conv_secs),
                    goal: Goal::Ratio(10.0),
                    note: (!same).then(|| "OUTPUTS DIFFER from Python's".to_string()),
                });
            }
            None => rows.push(skipped(&scenario, Goal::Ratio(10.0), "python3 failed")),
        }
        let _ = fs::remove_file(&py_out);
    }

    if cfg.wants("memory") {
        let exe = std::env::current_exe().expect("current exe");
        let exe = exe.to_string_lossy().into_owned();
        let log_s = log.to_string_lossy().into_owned();
        let out_s = conv_out.to_string_lossy().into_owned();
        let floor = spawner.measure(&["true".into()], &[]);
        let floor = floor.map_or(0, |r| r.1);
        println!(
            "  peak RSS floor (a process spawned the same way running `true`): {}",
            mib(floor)
        );
        for what in ["export", "verify"] {
            let res = spawner.measure(
                std::slice::from_ref(&exe),
                &[
                    ("CONVLOG_REPORT_CHILD".into(), what.into()),
                    ("CONVLOG_CHILD_LOG".into(), log_s.clone()),
                    ("CONVLOG_CHILD_OUT".into(), out_s.clone()),
                ],
            );
            rows.push(memory_row(
                format!(
                    "library {what} peak RSS, {n}-message log ({})",
                    mib(log_len)
                ),
                res,
            ));
        }
        match convlog_bin() {
            Some(bin) => {
                let bin = bin.to_string_lossy().into_owned();
                // `-o -` with stdout on /dev/null: `-o /dev/null` would make the
                // CLI replace /dev/null atomically (tmp + rename) when run as root.
                let res = spawner.measure(
                    &[
                        bin.clone(),
                        "export".into(),
                        log_s.clone(),
                        "-o".into(),
                        "-".into(),
                    ],
                    &[],
                );
                if let Ok((secs, _, true)) = &res {
                    println!("  convlog export (CLI, stdout to /dev/null): {secs:.2} s");
                }
                rows.push(memory_row(
                    format!("`convlog export LOG -o -` peak RSS, {n} msgs"),
                    res,
                ));
                let res = spawner.measure(&[bin, "verify".into(), log_s.clone()], &[]);
                if let Ok((secs, _, true)) = &res {
                    println!("  convlog verify (CLI): {secs:.2} s");
                }
                rows.push(memory_row(
                    format!("`convlog verify LOG` peak RSS, {n} msgs"),
                    res,
                ));
            }
            None => {
                for what in ["export", "verify"] {
                    rows.push(skipped(
                        &format!("`convlog {what}` peak RSS"),
                        Goal::MaxBytes(MEM_GOAL),
                        "CLI not built",
                    ));
                }
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Runs the peak-memory children from a small helper process started before
/// the report grew. `ru_maxrss` is not reset by exec: the kernel folds in the
/// high-water mark of the memory image exec replaces, which for a child the
/// report spawned directly (vfork) would be the report's own peak. The helper
/// stays a few MiB, and the report prints that floor beside the figures.
struct Spawner {
    child: std::process::Child,
    out: io::BufReader<std::process::ChildStdout>,
}

impl Spawner {
    fn start() -> Option<Spawner> {
        let exe = std::env::current_exe().ok()?;
        let mut child = Command::new(exe)
            .env("CONVLOG_REPORT_CHILD", "spawner")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let out = io::BufReader::new(child.stdout.take()?);
        Some(Spawner { child, out })
    }

    /// Runs `argv` with `env` (stdout to /dev/null). Returns (seconds, peak RSS bytes, success).
    fn measure(
        &mut self,
        argv: &[String],
        env: &[(String, String)],
    ) -> io::Result<(f64, u64, bool)> {
        use io::BufRead;
        let req = serde_json::json!({ "argv": argv, "env": env });
        let stdin = self
            .child
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("spawner has no stdin"))?;
        writeln!(stdin, "{req}")?;
        stdin.flush()?;
        let mut line = String::new();
        self.out.read_line(&mut line)?;
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [secs, rss, ok] => Ok((
                secs.parse().map_err(io::Error::other)?,
                rss.parse().map_err(io::Error::other)?,
                *ok == "1",
            )),
            _ => Err(io::Error::other(format!("spawner said {line:?}"))),
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The helper's loop: one JSON request per line, one `secs rss ok` answer per line.
fn spawner_loop() -> i32 {
    use io::BufRead;
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let req: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => break,
        };
        let argv: Vec<String> = serde_json::from_value(req["argv"].clone()).unwrap_or_default();
        let env: Vec<(String, String)> =
            serde_json::from_value(req["env"].clone()).unwrap_or_default();
        let answer = match argv.split_first() {
            Some((prog, args)) => {
                let mut cmd = Command::new(prog);
                cmd.args(args)
                    .envs(env)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null());
                match run_measured(&mut cmd) {
                    Ok((secs, rss, ok)) => format!("{secs} {rss} {}", u8::from(ok)),
                    Err(e) => format!("error {e}"),
                }
            }
            None => "error empty argv".into(),
        };
        println!("{answer}");
        let _ = io::stdout().flush();
    }
    0
}

fn memory_row(scenario: String, res: io::Result<(f64, u64, bool)>) -> Row {
    match res {
        Ok((secs, rss, true)) => Row {
            scenario,
            convlog: format!("{} ({secs:.2} s)", mib(rss)),
            baseline: "-".into(),
            value: Some(rss as f64),
            goal: Goal::MaxBytes(MEM_GOAL),
            note: None,
        },
        Ok((_, _, false)) => skipped(&scenario, Goal::MaxBytes(MEM_GOAL), "the child failed"),
        Err(e) => skipped(&scenario, Goal::MaxBytes(MEM_GOAL), &e.to_string()),
    }
}

/// A disk whose fdatasync takes `delay`: if `Session::log` waited for the
/// disk anywhere, its latency would show it.
struct SlowSync {
    delay: Duration,
    syncs: AtomicU64,
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
fn log_latencies(dir: &Path, n: usize, io: Arc<dyn IoHooks>) -> Vec<u64> {
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

fn pct_us(v: &[u64], p: f64) -> f64 {
    v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

/// How long `Session::log` takes for an async caller that does not wait for
/// durability, while the writer thread is busy with fdatasyncs; then again
/// with every fdatasync made 20 ms slower, which it must not notice.
fn latency(cfg: &Config, rows: &mut Vec<Row>) {
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

// ---------------------------------------------------------------- children

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
        "verify" => match convlog::reader::inspect(&log) {
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
