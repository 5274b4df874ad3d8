//! What every scenario shares: settings, the table, the workload and the baselines.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use convlog::{IoHooks, Message, Options, Session};

/// Bytes per line of the raw baselines; convlog's messages are sized to match.
pub(crate) const RAW_LINE: usize = 200;
/// Peak-memory goal for export and verify.
pub(crate) const MEM_GOAL: u64 = 32 << 20;

pub(crate) struct Config {
    pub(crate) root: PathBuf,
    pub(crate) scale: f64,
    pub(crate) reps: usize,
    pub(crate) only: Option<Vec<String>>,
}

impl Config {
    pub(crate) fn from_env() -> Config {
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

    pub(crate) fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x == name))
    }

    /// A size: the env override if set, else `default * scale` (at least `min`).
    pub(crate) fn size(&self, var: &str, default: usize, min: usize) -> usize {
        env_parse(var).unwrap_or_else(|| ((default as f64 * self.scale) as usize).max(min))
    }

    pub(crate) fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.join(name);
        fs::create_dir_all(&d).expect("create scenario dir");
        d
    }
}

pub(crate) fn env_parse<T: std::str::FromStr>(var: &str) -> Option<T> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}

pub(crate) fn machine_line(dir: &Path) -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "nproc {nproc} | kernel {} | fs {}",
        kernel.trim(),
        fs_type(dir)
    )
}

/// The filesystem type of `dir`, from the longest matching mount point.
pub(crate) fn fs_type(dir: &Path) -> String {
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

pub(crate) enum Goal {
    /// convlog / baseline at least this.
    Ratio(f64),
    /// No goal: report the ratio, aiming at this.
    Aim(f64),
    /// Peak RSS at most this many bytes.
    MaxBytes(u64),
    /// p99 at most this many microseconds.
    P99Micros(f64),
    /// A latency (a p50, a max) at most this many microseconds; the row names which.
    MaxMicros(f64),
    /// At most this many threads.
    MaxThreads(u64),
    /// At least this many per second.
    MinRate(f64),
    /// p99 at most this many milliseconds.
    MaxP99Millis(f64),
    /// At most this many milliseconds.
    MaxMillis(f64),
    /// At most this much, in the unit named (a size, a time).
    AtMost(f64, String),
    /// No goal: a figure shown for context.
    Report,
}

pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) convlog: String,
    pub(crate) baseline: String,
    /// The measured figure the goal is about: a ratio, bytes or microseconds.
    pub(crate) value: Option<f64>,
    pub(crate) goal: Goal,
    pub(crate) note: Option<String>,
}

impl Row {
    pub(crate) fn ratio(&self) -> String {
        match (&self.goal, self.value) {
            (Goal::Ratio(_) | Goal::Aim(_) | Goal::Report, Some(v)) if v >= 10.0 => {
                format!("{v:.0}x")
            }
            (Goal::Ratio(_) | Goal::Aim(_) | Goal::Report, Some(v)) => format!("{v:.2}"),
            _ => "-".into(),
        }
    }

    pub(crate) fn goal(&self) -> String {
        match self.goal {
            Goal::Ratio(g) if g >= 10.0 => format!(">= {g:.0}x"),
            Goal::Ratio(g) => format!(">= {g}"),
            Goal::Aim(g) => format!("report (aim {g})"),
            Goal::MaxBytes(b) => format!("<= {} MiB", b >> 20),
            Goal::P99Micros(us) => format!("p99 <= {us} us"),
            Goal::MaxMicros(us) => format!("<= {us} us"),
            Goal::MaxThreads(t) => format!("<= {t} threads"),
            Goal::MinRate(r) => format!(">= {}", fmt_rate(r, "msgs")),
            Goal::MaxP99Millis(ms) => format!("p99 <= {ms} ms"),
            Goal::MaxMillis(ms) => format!("<= {ms} ms"),
            Goal::AtMost(limit, ref unit) => format!("<= {limit} {unit}"),
            Goal::Report => "-".into(),
        }
    }

    pub(crate) fn met(&self) -> &'static str {
        let Some(v) = self.value else {
            return "n/a";
        };
        let ok = match self.goal {
            Goal::Ratio(g) | Goal::Aim(g) => v >= g,
            Goal::MaxBytes(b) => v <= b as f64,
            Goal::P99Micros(us) | Goal::MaxMicros(us) => v <= us,
            Goal::MaxThreads(t) => v <= t as f64,
            Goal::MinRate(r) => v >= r,
            Goal::MaxP99Millis(ms) | Goal::MaxMillis(ms) => v <= ms,
            Goal::AtMost(limit, _) => v <= limit,
            Goal::Report => return "-",
        };
        match (ok, &self.goal) {
            (true, _) => "yes",
            (false, Goal::Aim(_)) => "(no)",
            (false, _) => "NO",
        }
    }
}

pub(crate) fn print_table(rows: &[Row]) {
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

pub(crate) fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / secs
}

pub(crate) fn fmt_rate(r: f64, unit: &str) -> String {
    if r >= 10_000.0 {
        format!("{:.0}k {unit}/s", r / 1000.0)
    } else {
        format!("{r:.0} {unit}/s")
    }
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

pub(crate) fn skipped(scenario: &str, goal: Goal, why: &str) -> Row {
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

/// Counts the writer's disk calls, so a baseline can use convlog's own batch size.
#[derive(Default)]
pub(crate) struct Counting {
    pub(crate) writes: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) bytes: AtomicU64,
    /// Nanoseconds spent in write + fdatasync, in total.
    pub(crate) disk_ns: AtomicU64,
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
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

pub(crate) fn options(io: Arc<dyn IoHooks>) -> Options {
    Options::default().echo(false).export_on_end(false).io(io)
}

/// The i-th message of the workload: alternating user and agent turns in
/// Hindi and English, as in seed_rewrite.py, padded so a framed line is about
/// [`RAW_LINE`] bytes.
pub(crate) fn message(i: usize) -> Message {
    if i.is_multiple_of(2) {
        Message::user(format!("नमस्कार, आप कैसे हैं? message {i:07}"), "deepgram_stt")
    } else {
        Message::agent(format!("नमस्ते! मैं ठीक हूँ। reply {i:07}"), "cartesia_tts")
    }
}

pub(crate) fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub(crate) fn raw_line() -> Vec<u8> {
    let mut l = vec![b'x'; RAW_LINE - 1];
    l.push(b'\n');
    l
}

pub(crate) fn new_append_file(path: &Path) -> File {
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
pub(crate) struct Raw {
    pub(crate) path: PathBuf,
    pub(crate) f: File,
    pub(crate) buf: Vec<u8>,
}

impl Raw {
    pub(crate) fn new(dir: &Path, name: &str) -> Raw {
        let path = dir.join(name);
        let f = new_append_file(&path);
        Raw {
            path,
            f,
            buf: Vec::new(),
        }
    }

    /// Appends `n` lines, `batch` per `write` + `fdatasync`. Returns seconds.
    pub(crate) fn run(&mut self, n: usize, batch: usize) -> f64 {
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
pub(crate) fn raw_batched(dir: &Path, n: usize, batch: usize) -> f64 {
    rate(n, Raw::new(dir, "raw.log").run(n, batch))
}

/// Two timed workloads run in alternating chunks (the order flips every
/// chunk), so slow and fast spells of a noisy disk fall on both sides alike.
/// Each closure runs chunk `i` and returns its seconds.
pub(crate) struct Interleaved {
    pub(crate) a_secs: f64,
    pub(crate) b_secs: f64,
    /// Per chunk: b's time / a's time (a's throughput relative to b's).
    pub(crate) chunk_ratios: Vec<f64>,
}

pub(crate) fn interleave(
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
    pub(crate) fn ratio(&self) -> f64 {
        let mut v = self.chunk_ratios.clone();
        v.sort_by(f64::total_cmp);
        v[(v.len() - 1) / 2]
    }

    pub(crate) fn spread(&self) -> String {
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
pub(crate) struct Run {
    pub(crate) rate: f64,
    pub(crate) lines: u64,
    pub(crate) syncs: u64,
}

impl Run {
    pub(crate) fn batch(&self) -> f64 {
        self.lines as f64 / self.syncs.max(1) as f64
    }
}

pub(crate) fn hooks_batch(h: &Counting, lines: u64) -> f64 {
    lines as f64 / h.syncs().max(1) as f64
}

/// Disk calls that skip the fdatasync: isolates convlog's own per-append cost.
pub(crate) struct NoSync;

impl IoHooks for NoSync {
    fn sync_data(&self, _: &File) -> io::Result<()> {
        Ok(())
    }
}

/// One producer awaiting each append of `n`; returns appends/s.
pub(crate) fn convlog_single(dir: &Path, n: usize, io: Arc<dyn IoHooks>) -> f64 {
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
pub(crate) struct Lat(pub(crate) Vec<f64>);

impl Lat {
    pub(crate) fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }
    pub(crate) fn total(&self) -> f64 {
        self.0.iter().sum()
    }
    /// Mean of the fastest `keep` fraction: drops the stalls a busy
    /// neighbour on the shared disk causes, on both sides alike.
    pub(crate) fn trimmed_mean(&self, keep: f64) -> f64 {
        let v = self.sorted();
        let k = ((v.len() as f64 * keep).ceil() as usize).clamp(1, v.len());
        v[..k].iter().sum::<f64>() / k as f64
    }
    pub(crate) fn pct(&self, p: f64) -> f64 {
        let v = self.sorted();
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

/// Share of operations kept by the trimmed means.
pub(crate) const KEEP: f64 = 0.98;

/// `p50 A vs B us, p99 A vs B us` and, between them and the trimmed mean,
/// `extra`: the latencies of convlog (`a`) against a baseline (`b`) as the
/// report's console lines show them.
pub(crate) fn versus(a: &Lat, b: &Lat, extra: &str) -> String {
    let us = |x: f64| x * 1e6;
    format!(
        "p50 {:.0} vs {:.0} us, p99 {:.0} vs {:.0} us, {extra}mean of fastest {:.0}% {:.0} vs {:.0} us",
        us(a.pct(0.5)),
        us(b.pct(0.5)),
        us(a.pct(0.99)),
        us(b.pct(0.99)),
        KEEP * 100.0,
        us(a.trimmed_mean(KEEP)),
        us(b.trimmed_mean(KEEP)),
    )
}

/// This process's thread count and resident memory, from /proc.
pub(crate) fn proc_status() -> (u64, u64) {
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

/// Library equivalent of ingest: `log` every message, then `flush`.
pub(crate) fn convlog_bulk(dir: &Path, n: usize, keep: bool) -> (Run, PathBuf) {
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

pub(crate) fn convlog_bin() -> Option<PathBuf> {
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

pub(crate) fn cli_new(bin: &Path, dir: &Path) -> PathBuf {
    let out = Command::new(bin)
        .args(["new", "--dir"])
        .arg(dir)
        .output()
        .expect("run convlog new");
    assert!(out.status.success(), "convlog new: {out:?}");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

pub(crate) fn pct_us(v: &[u64], p: f64) -> f64 {
    v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}
