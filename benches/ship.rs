//! `cargo bench --bench ship`: shipping to PostgreSQL, against `psql \copy`.
//!
//! Needs `CONVLOG_TEST_PG_URL` (source `.ci/postgres.sh`); without it, it
//! prints why and measures nothing. Every figure is from this run:
//!
//! - ship throughput into a cold database (a fresh database, schema created
//!   by the run), for the default method (binary COPY straight into the
//!   table) and for staging + `INSERT … ON CONFLICT DO NOTHING`;
//! - `psql \copy` of the same message rows from a CSV file into the same
//!   schema in a fresh database: the baseline, as a ratio;
//! - `--follow` lag from durable (append acknowledged) to visible in
//!   PostgreSQL with 20 live writers, p50/p99.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convlog::record::Record;
use convlog::ship::tokio_postgres::{self, Client, NoTls};
use convlog::ship::{self, Method, Options, Stop, Target};
use convlog::{Message, Recovery, Session};

const SESSIONS: usize = 40;
const PER_SESSION: usize = 10_000;

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn fresh_db(url: &str, name: &str) -> String {
    let db = format!("convlog_bench_{name}_{}", std::process::id());
    let admin = connect(url).await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

async fn write_logs(dir: &Path) -> Vec<PathBuf> {
    let words = [
        "नमस्ते",
        "hotel",
        "Jaipur",
        "🙏",
        "cheapest",
        "मौसम",
        "train",
        "room",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut logs = Vec::new();
    for _ in 0..SESSIONS {
        let s = Session::create(dir).unwrap();
        for chunk in 0..PER_SESSION / 1000 {
            let msgs: Vec<Message> = (0..1000)
                .map(|i| {
                    let n = 4 + (next() % 16) as usize;
                    let text: Vec<&str> = (0..n).map(|_| words[(next() % 8) as usize]).collect();
                    let m = if i % 2 == 0 {
                        Message::user(text.join(" "), "deepgram_stt")
                            .meta(serde_json::json!({"confidence": (next() % 100) as f64 / 100.0}))
                    } else {
                        Message::agent(text.join(" "), "cartesia_tts")
                            .meta(serde_json::json!({"latency_ms": next() % 900}))
                    };
                    m.turn(format!("t{}", (chunk * 1000 + i) / 2)).lang("hi")
                })
                .collect();
            s.append_many(msgs).await.unwrap();
        }
        s.end().await.unwrap();
        logs.push(s.path().to_path_buf());
    }
    logs
}

fn csv_field(out: &mut Vec<u8>, s: Option<&str>) {
    if let Some(s) = s {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    }
}

/// The same message rows as a CSV file for `psql \copy`.
fn write_csv(logs: &[PathBuf], path: &Path) {
    let mut out = Vec::new();
    for log in logs {
        let mut id = String::new();
        convlog::reader::scan_file(log, Recovery::TolerateTail, |r| {
            match r {
                Record::Header(h) => id = h.session.clone(),
                Record::Message(m) => {
                    let off = m.time()?.offset().local_minus_utc();
                    csv_field(&mut out, Some(&id));
                    write!(out, ",{},", m.seq).unwrap();
                    csv_field(&mut out, Some(&m.ts));
                    write!(out, ",{off},{},", m.role).unwrap();
                    csv_field(&mut out, Some(&m.content));
                    out.push(b',');
                    csv_field(&mut out, Some(&m.source));
                    out.push(b',');
                    csv_field(&mut out, m.turn.as_deref());
                    write!(out, ",{},", m.interrupted).unwrap();
                    csv_field(&mut out, m.speaker.as_deref());
                    out.push(b',');
                    csv_field(&mut out, m.lang.as_deref());
                    out.push(b',');
                    csv_field(&mut out, m.meta.map(|r| r.get()));
                    out.push(b'\n');
                }
                Record::End { .. } => {}
            }
            Ok(())
        })
        .unwrap();
    }
    std::fs::write(path, out).unwrap();
}

async fn count(url: &str) -> i64 {
    connect(url)
        .await
        .query_one("SELECT count(*) FROM convlog.messages", &[])
        .await
        .unwrap()
        .get(0)
}

async fn ship_cold(admin: &str, dir: &Path, method: Method, name: &str) -> f64 {
    let url = fresh_db(admin, name).await;
    let target = Target::resolve(Some(&url)).unwrap();
    let opts = Options {
        method,
        ..Options::default()
    };
    let start = Instant::now();
    let summary = ship::ship(
        &target,
        &[dir.to_path_buf()],
        &opts,
        &Stop::new(),
        &mut |e| panic!("{e:?}"),
    )
    .await
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let total = (SESSIONS * PER_SESSION) as u64;
    assert_eq!(summary.messages, total);
    assert_eq!(count(&url).await, total as i64);
    secs
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

async fn follow_lag(admin: &str) -> (Duration, Duration, usize) {
    let url = fresh_db(admin, "follow").await;
    let target = Target::resolve(Some(&url)).unwrap();
    ship::init(&target, false).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stop = Stop::new();
    let shipper = {
        let dir = dir.path().to_path_buf();
        let stop = stop.clone();
        tokio::spawn(async move {
            let opts = Options {
                follow: true,
                ..Options::default()
            };
            ship::ship(&target, &[dir], &opts, &stop, &mut |e| eprintln!("{e:?}"))
                .await
                .unwrap()
        })
    };
    let per_writer = 200;
    let acked: Arc<Mutex<HashMap<(String, u64), Instant>>> = Arc::default();
    let mut writers = Vec::new();
    for _ in 0..20 {
        let s = Session::create(dir.path()).unwrap();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let seq = s
                    .append(Message::agent(format!("reply {i} 🙏"), "cartesia_tts"))
                    .await
                    .unwrap()
                    .unwrap();
                acked
                    .lock()
                    .unwrap()
                    .insert((s.id().to_string(), seq), Instant::now());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            s.end().await.unwrap();
        }));
    }
    let db = connect(&url).await;
    let mut seen: HashMap<(String, u64), Instant> = HashMap::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < 20 * per_writer && Instant::now() < deadline {
        let rows = db
            .query(
                "SELECT id, (SELECT max(seq) FROM convlog.messages WHERE session_id = id)
                   FROM convlog.sessions",
                &[],
            )
            .await
            .unwrap();
        let now = Instant::now();
        for r in rows {
            let id: String = r.get(0);
            let max = r.get::<_, Option<i64>>(1).unwrap_or(0) as u64;
            for seq in last.get(&id).copied().unwrap_or(0) + 1..=max {
                seen.insert((id.clone(), seq), now);
            }
            last.insert(id, max);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.stop();
    shipper.await.unwrap();
    let acked = acked.lock().unwrap();
    assert_eq!(seen.len(), acked.len(), "every record shipped");
    let mut lags: Vec<Duration> = acked
        .iter()
        .map(|(k, at)| seen[k].saturating_duration_since(*at))
        .collect();
    lags.sort();
    (percentile(&lags, 50.0), percentile(&lags, 99.0), lags.len())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(admin) = std::env::var("CONVLOG_TEST_PG_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!(
            "ship bench skipped: CONVLOG_TEST_PG_URL is not set (source .ci/postgres.sh to start a throwaway PostgreSQL)"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let logs = rt.block_on(write_logs(dir.path()));
    let total = SESSIONS * PER_SESSION;
    let bytes: u64 = logs.iter().map(|l| l.metadata().unwrap().len()).sum();
    println!(
        "ship: {total} messages in {SESSIONS} sessions, {:.1} MB of logs",
        bytes as f64 / 1e6
    );

    let csv = dir.path().join("rows.csv");
    write_csv(&logs, &csv);
    let psql_secs = rt.block_on(async {
        let url = fresh_db(&admin, "psql").await;
        ship::init(&Target::resolve(Some(&url)).unwrap(), false)
            .await
            .unwrap();
        let start = Instant::now();
        let out = Command::new("psql")
            .arg(&url)
            .arg("-qc")
            .arg(format!(
                "\\copy convlog.messages (session_id, seq, ts, utc_offset, role, content, source, turn, interrupted, speaker, lang, meta) FROM '{}' WITH (FORMAT csv)",
                csv.display()
            ))
            .output()
            .expect("run psql");
        let secs = start.elapsed().as_secs_f64();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(count(&url).await, total as i64);
        secs
    });
    let direct = rt.block_on(ship_cold(&admin, dir.path(), Method::Direct, "direct"));
    let staging = rt.block_on(ship_cold(&admin, dir.path(), Method::Staging, "staging"));
    let rate = |s: f64| total as f64 / s;
    println!(
        "psql \\copy (CSV, baseline):          {:>9.0} msgs/s  ({psql_secs:.2} s)",
        rate(psql_secs)
    );
    println!(
        "convlog ship, cold, direct COPY:     {:>9.0} msgs/s  ({direct:.2} s)  {:.2}x psql \\copy",
        rate(direct),
        psql_secs / direct
    );
    println!(
        "convlog ship, cold, staging+INSERT:  {:>9.0} msgs/s  ({staging:.2} s)  {:.2}x psql \\copy",
        rate(staging),
        psql_secs / staging
    );
    let (p50, p99, n) = rt.block_on(follow_lag(&admin));
    println!(
        "ship --follow lag, 20 writers, {n} msgs: p50 {:.1} ms, p99 {:.1} ms (durable to visible; 5 ms polling)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}
