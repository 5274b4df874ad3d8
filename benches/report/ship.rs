//! Shipping to PostgreSQL (`CONVLOG_TEST_PG_URL`): throughput into a cold
//! database against `psql \\copy` of the same rows from a CSV file, for the
//! default method (binary COPY straight into the table) and for staging +
//! `INSERT … ON CONFLICT DO NOTHING`; and `--follow` lag from durable (append
//! acknowledged) to visible in PostgreSQL with 20 live writers, p50/p99.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::{Duration, Instant};

use convlog::record::Record;

use convlog::ship::{self, Method, Stop, Target};
use convlog::{Message, Recovery, Session};

use crate::export_memory::Spawner;
use crate::harness::*;
use crate::pg::*;

const SESSIONS: usize = 40;

async fn write_logs(dir: &Path, per_session: usize) -> Vec<PathBuf> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut logs = Vec::new();
    for _ in 0..SESSIONS {
        let s = Session::create(dir).unwrap();
        for chunk in 0..per_session / 1000 {
            let msgs: Vec<Message> = (0..1000)
                .map(|i| {
                    let text = rng.sentence(4, 16);
                    let m = if i % 2 == 0 {
                        Message::user(text, "deepgram_stt")
                            .meta(serde_json::json!({"confidence": rng.below(100) as f64 / 100.0}))
                    } else {
                        Message::agent(text, "cartesia_tts")
                            .meta(serde_json::json!({"latency_ms": rng.below(900)}))
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
        convlog::read::scan_file(log, Recovery::TolerateTail, |r| {
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
                Record::Tool(_) | Record::Handoff(_) | Record::End { .. } => {}
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

async fn ship_cold(admin: &str, dir: &Path, method: Method, name: &str, total: u64) -> f64 {
    let url = fresh_db(admin, name).await;
    let target = Target::resolve(Some(&url)).unwrap();
    let opts = ship::Options {
        method,
        ..ship::Options::default()
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
    assert_eq!(summary.messages, total);
    assert_eq!(count(&url).await, total as i64);
    secs
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
            let opts = ship::Options {
                follow: true,
                ..ship::Options::default()
            };
            ship::ship(&target, &[dir], &opts, &stop, &mut |e| eprintln!("{e:?}"))
                .await
                .unwrap()
        })
    };
    let per_writer = 200;
    let acked = Acked::default();
    let sessions = (0..20)
        .map(|_| Session::create(dir.path()).unwrap())
        .collect();
    let writers = tokio::spawn(write_replies(sessions, per_writer, acked.clone()));
    let db = connect(&url).await;
    let seen = watch_shipped(&db, 20 * per_writer).await;
    writers.await.unwrap();
    stop.stop();
    shipper.await.unwrap();
    let lags = lags(&acked, &seen);
    (percentile(&lags, 50.0), percentile(&lags, 99.0), lags.len())
}

/// The ship scenario: skipped with a printed reason without a database.
pub(crate) fn ship_scenario(cfg: &Config, rows: &mut Vec<Row>, spawner: Option<&mut Spawner>) {
    println!("[ship]");
    let Some(admin) = std::env::var("CONVLOG_TEST_PG_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        let why = "CONVLOG_TEST_PG_URL is not set (source .ci/postgres.sh to start a throwaway PostgreSQL)";
        rows.push(skipped("ship, cold database", Goal::Ratio(0.5), why));
        rows.push(skipped(
            "ship --follow lag, 20 writers",
            Goal::MaxP99Millis(1000.0),
            why,
        ));
        return;
    };
    let per_session = cfg.size("CONVLOG_REPORT_SHIP_N", 10_000, 1_000) / 1_000 * 1_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = cfg.dir("ship");
    let logs = rt.block_on(write_logs(&dir, per_session));
    let total = SESSIONS * per_session;
    let bytes: u64 = logs.iter().map(|l| l.metadata().unwrap().len()).sum();
    println!(
        "  {total} messages in {SESSIONS} sessions, {:.1} MB of logs",
        bytes as f64 / 1e6
    );

    let csv = cfg.root.join("ship-rows.csv");
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
            .output();
        let secs = start.elapsed().as_secs_f64();
        match out {
            Ok(out) if out.status.success() => {
                assert_eq!(count(&url).await, total as i64);
                Ok(secs)
            }
            Ok(out) => Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr).trim())),
            Err(e) => Err(format!("cannot run psql: {e}")),
        }
    });
    let direct = rt.block_on(ship_cold(
        &admin,
        &dir,
        Method::Direct,
        "direct",
        total as u64,
    ));
    let staging = rt.block_on(ship_cold(
        &admin,
        &dir,
        Method::Staging,
        "staging",
        total as u64,
    ));
    let _ = std::fs::remove_file(&csv);
    let msgs = |s: f64| fmt_rate(rate(total, s), "msgs");
    rows.push(Row {
        scenario: format!("ship {total} msgs, cold database, direct COPY"),
        convlog: msgs(direct),
        baseline: "-".into(),
        value: Some(rate(total, direct)),
        goal: Goal::MinRate(100_000.0),
        note: None,
    });
    for (what, secs, goal) in [
        ("direct COPY", direct, Goal::Ratio(1.0)),
        ("staging + INSERT", staging, Goal::Aim(0.5)),
    ] {
        let (baseline, value) = match &psql_secs {
            Ok(p) => (format!("{} psql \\copy", msgs(*p)), Some(p / secs)),
            Err(why) => (why.clone(), None),
        };
        rows.push(Row {
            scenario: format!("ship vs psql \\copy, {what}"),
            convlog: msgs(secs),
            baseline,
            value,
            goal,
            note: None,
        });
    }
    let (p50, p99, n) = rt.block_on(follow_lag(&admin));
    rows.push(Row {
        scenario: format!("ship --follow lag, 20 writers, {n} msgs"),
        convlog: format!(
            "p50 {:.1} ms, p99 {:.1} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        ),
        baseline: "-".into(),
        value: Some(p99.as_secs_f64() * 1e3),
        goal: Goal::MaxP99Millis(50.0),
        note: Some(
            "durable (append acknowledged) to visible in PostgreSQL; the database polled every 5 ms; the shipper wakes on inotify".into(),
        ),
    });
    idle_cpu(cfg, rows, &rt, &admin);
    if let Some(sp) = spawner {
        big_log(cfg, rows, &rt, &admin, sp);
    }
}

/// CPU time (user + system) this process has used.
fn cpu_now() -> Duration {
    // SAFETY: `rusage` is plain data that getrusage fills in.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| Duration::new(v.tv_sec as u64, v.tv_usec as u32 * 1000);
    t(u.ru_utime) + t(u.ru_stime)
}

/// `n` ended logs of three records each, written directly (quick to make
/// in thousands).
fn ended_logs(dir: &Path, n: usize) {
    let ts = "2026-03-01T10:00:00.000000Z";
    let line = |body: String| {
        format!(
            "{{\"crc\":\"{:08x}\",{body}\n",
            crc32fast::hash(body.as_bytes())
        )
    };
    for i in 0..n {
        let text = [
            line(format!(r#""kind":"header","seq":0,"format":"convlog","version":1,"session":"idle-{i:05}","created":"{ts}"}}"#)),
            line(format!(r#""kind":"message","seq":1,"ts":"{ts}","role":"user","content":"hello {i}","source":"stt"}}"#)),
            line(format!(r#""kind":"end","seq":2,"ts":"{ts}"}}"#)),
        ]
        .concat();
        std::fs::write(dir.join(format!("conversation_{i:05}.jsonl")), text).unwrap();
    }
}

/// Idle `--follow` over 5,000 ended, shipped logs: the share of a core the
/// process uses over a quiet spell, woken by inotify and, as the baseline,
/// polling every 50 ms (`Options::notify = false`).
fn idle_cpu(cfg: &Config, rows: &mut Vec<Row>, rt: &tokio::runtime::Runtime, admin: &str) {
    let n = cfg.size("CONVLOG_REPORT_SHIP_IDLE_LOGS", 5_000, 100);
    let secs = 5.0;
    let dir = cfg.dir("ship-idle");
    ended_logs(&dir, n);
    let url = rt.block_on(fresh_db(admin, "idle"));
    let target = Target::resolve(Some(&url)).unwrap();
    let share = |notify: bool| {
        rt.block_on(async {
            let stop = Stop::new();
            let opts = ship::Options {
                follow: true,
                notify,
                ..ship::Options::default()
            };
            let task = {
                let (target, dir, stop) = (target.clone(), dir.clone(), stop.clone());
                tokio::spawn(async move {
                    ship::ship(&target, &[dir], &opts, &stop, &mut |e| eprintln!("{e:?}")).await
                })
            };
            // The first pass (every header read; the first run ships them all).
            let db = connect(&url).await;
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let ended: i64 = db
                    .query_one("SELECT count(ended) FROM convlog.sessions", &[])
                    .await
                    .map(|r| r.get(0))
                    .unwrap_or(0);
                if ended as usize == n {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let before = cpu_now();
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            let used = cpu_now() - before;
            stop.stop();
            task.await.unwrap().unwrap();
            used.as_secs_f64() / secs
        })
    };
    let polled = share(false);
    let notified = share(true);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "  idle --follow over {n} shipped logs, {secs} s: inotify {:.2}% of a core, polling {:.1}%",
        notified * 100.0,
        polled * 100.0
    );
    rows.push(Row {
        scenario: format!("ship --follow idle CPU, {n} shipped logs"),
        convlog: format!("{:.2}% of a core", notified * 100.0),
        baseline: format!("{:.1}% polling every 50 ms", polled * 100.0),
        value: Some(notified * 100.0),
        goal: Goal::AtMost(2.0, "% of a core".into()),
        note: Some(format!("CPU time of the process over {secs} s of quiet")),
    });
}

/// Peak RSS of `convlog ship` over one open session of 1M messages (the
/// export scenario's generator), first into an empty database, then again
/// over the fully shipped log, which is read from its last shipped record.
fn big_log(
    cfg: &Config,
    rows: &mut Vec<Row>,
    rt: &tokio::runtime::Runtime,
    admin: &str,
    sp: &mut Spawner,
) {
    let Some(bin) = convlog_bin() else {
        println!("  (peak RSS skipped: no convlog binary)");
        return;
    };
    let n = cfg.size("CONVLOG_REPORT_SHIP_BIG_N", 1_000_000, 1000);
    let dir = cfg.dir("ship-big");
    let (_, log) = convlog_bulk(&dir, n, true);
    let bytes = log.metadata().map(|m| m.len()).unwrap_or(0);
    let url = rt.block_on(fresh_db(admin, "big"));
    let argv = |quiet: bool| {
        let mut a = vec![
            bin.display().to_string(),
            "ship".into(),
            log.display().to_string(),
            "--to".into(),
            url.clone(),
        ];
        if quiet {
            a.push("--quiet".into());
        }
        a
    };
    let floor = sp.measure(&["true".into()], &[]).map(|r| r.1).unwrap_or(0);
    let first = sp.measure(&argv(true), &[]);
    let again = sp.measure(&argv(true), &[]);
    let _ = std::fs::remove_dir_all(&dir);
    let (Ok((s1, rss1, ok1)), Ok((s2, rss2, ok2))) = (first, again) else {
        println!("  (peak RSS skipped: could not run {})", bin.display());
        return;
    };
    assert!(ok1 && ok2, "convlog ship failed on the {n}-message log");
    assert_eq!(rt.block_on(count(&url)), n as i64);
    println!(
        "  {n}-message open log ({}): first ship {s1:.1} s, peak RSS {}; again {s2:.2} s, peak RSS {} (floor {})",
        mib(bytes),
        mib(rss1),
        mib(rss2),
        mib(floor)
    );
    rows.push(Row {
        scenario: format!("`convlog ship` peak RSS, {n}-msg open log"),
        convlog: mib(rss1),
        baseline: format!("{} floor", mib(floor)),
        value: Some(rss1 as f64),
        goal: Goal::MaxBytes(64 << 20),
        note: Some(format!("{} of log, shipped in {s1:.1} s", mib(bytes))),
    });
    rows.push(Row {
        scenario: format!("`convlog ship` again over it, shipped, {n} msgs"),
        convlog: format!("{s2:.2} s, {}", mib(rss2)),
        baseline: format!("{s1:.1} s first ship"),
        value: Some(s1 / s2),
        goal: Goal::Report,
        note: Some("read from the last shipped record, not from the start".into()),
    });
}
