//! `convlog ship` against a real PostgreSQL.
//!
//! The server comes from `CONVLOG_TEST_PG_URL` (`.ci/postgres.sh` starts a
//! throwaway cluster and sets it). Without it every test here skips with a
//! printed reason, unless `CONVLOG_REQUIRE_ALL=1`, when a skip fails. Each
//! test works in its own database; the restart test starts its own cluster
//! from `CONVLOG_TEST_PG_BIN` so restarting it disturbs nobody else.

#![cfg(feature = "postgres")]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, SecondsFormat};
use convlog::record::Record;
use convlog::ship::tokio_postgres::{self, Client, NoTls};
use convlog::{Message, Recovery, Session};

use crate::util::stderr;

const BIN: &str = env!("CARGO_BIN_EXE_convlog");

pub(crate) fn pg_url(test: &str) -> Option<String> {
    match std::env::var("CONVLOG_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            let why = "CONVLOG_TEST_PG_URL is not set (source .ci/postgres.sh to start a throwaway PostgreSQL)";
            crate::util::skip(test, why);
            None
        }
    }
}

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The URL with its database replaced by `db`.
fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("URL has a database");
    format!("{base}/{db}")
}

/// A fresh, empty database for one test; returns its URL.
pub(crate) async fn fresh_db(url: &str, name: &str) -> String {
    let admin = connect(url).await;
    let db = format!("convlog_{name}_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    with_db(url, &db)
}

fn ship(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("ship")
        .args(args)
        .output()
        .expect("run convlog ship")
}

/// Every message record of a log, in file order.
fn records(log: &Path) -> Vec<(u64, Message)> {
    let mut out = Vec::new();
    convlog::read::scan_file(log, Recovery::TolerateTail, |r| {
        if let Record::Message(m) = r {
            out.push((m.seq, m.to_message()?));
        }
        Ok(())
    })
    .unwrap();
    out
}

fn ts_of(micros: i64, offset: i32) -> String {
    let utc = DateTime::from_timestamp_micros(micros).unwrap();
    utc.with_timezone(&FixedOffset::east_opt(offset).unwrap())
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

const MESSAGE_QUERY: &str = "SELECT seq, (extract(epoch FROM ts) * 1000000)::bigint, utc_offset,
        role, content, source, turn, interrupted, speaker, lang, meta::text
   FROM convlog.messages WHERE session_id = $1 ORDER BY seq";

/// (session id → seq → content) for every message in the database.
async fn all_contents(db: &Client) -> HashMap<String, BTreeMap<u64, String>> {
    let mut out: HashMap<String, BTreeMap<u64, String>> = HashMap::new();
    for r in db
        .query("SELECT session_id, seq, content FROM convlog.messages", &[])
        .await
        .unwrap()
    {
        let prev = out
            .entry(r.get(0))
            .or_default()
            .insert(r.get::<_, i64>(1) as u64, r.get(2));
        assert!(prev.is_none(), "duplicate row");
    }
    out
}

fn expected_contents(logs: &[PathBuf]) -> HashMap<String, BTreeMap<u64, String>> {
    logs.iter()
        .map(|l| {
            let id = convlog::read::inspect(l).unwrap().header.unwrap().session;
            let m = records(l)
                .into_iter()
                .map(|(seq, m)| (seq, m.content))
                .collect();
            (id, m)
        })
        .collect()
}

#[test]
fn three_sessions_equal_the_export_field_by_field_and_shipping_twice_changes_nothing() {
    let Some(url) = pg_url("three_sessions") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "three"));
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<PathBuf> = rt.block_on(async {
        let mut logs = Vec::new();
        for i in 0..3 {
            let s = Session::create(dir.path().join(format!("d{i}"))).unwrap();
            s.append(
                Message::user("नमस्कार, आप कैसे हैं?", "deepgram_stt")
                    .turn("t1")
                    .lang("hi")
                    .speaker("caller")
                    .meta(serde_json::json!({"confidence": 0.93, "words": ["a", "b"]})),
            )
            .await
            .unwrap();
            s.append(
                Message::agent("मैं ठीक हूँ 🙏 — \"quoted\"\tand\\slashed", "cartesia_tts")
                    .turn("t1")
                    .interrupted(true)
                    .meta(serde_json::json!({"latency_ms": 217 + i})),
            )
            .await
            .unwrap();
            s.append(
                Message::agent("second fragment 🚀🇮🇳", "cartesia_tts")
                    .turn("t1")
                    .timestamp("2025-08-18T14:30:22.123456+05:30"),
            )
            .await
            .unwrap();
            s.append(Message::user("Bye", "deepgram_stt").timestamp("2025-08-18T09:00:00-07:00"))
                .await
                .unwrap();
            if i < 2 {
                s.end().await.unwrap();
            } else {
                s.flush().await.unwrap();
            }
            logs.push(s.path().to_path_buf());
        }
        logs
    });
    let dirs: Vec<String> = (0..3)
        .map(|i| dir.path().join(format!("d{i}")).display().to_string())
        .collect();
    let mut args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    args.extend(["--to", &url, "--host", "worker-7"]);
    let out = ship(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("12 messages shipped"),
        "{}",
        stderr(&out)
    );

    rt.block_on(async {
        let db = connect(&url).await;
        for (i, log) in logs.iter().enumerate() {
            let header = convlog::read::inspect(log).unwrap().header.unwrap();
            let s = db
                .query_one(
                    "SELECT log_name, host, (extract(epoch FROM created) * 1000000)::bigint,
                            (extract(epoch FROM ended) * 1000000)::bigint
                       FROM convlog.sessions WHERE id = $1",
                    &[&header.session],
                )
                .await
                .unwrap();
            assert_eq!(
                s.get::<_, String>(0),
                log.file_name().unwrap().to_string_lossy()
            );
            assert_eq!(s.get::<_, String>(1), "worker-7");
            let created = DateTime::parse_from_rfc3339(&header.created).unwrap();
            assert_eq!(s.get::<_, i64>(2), created.timestamp_micros());
            assert_eq!(s.get::<_, Option<i64>>(3).is_some(), i < 2, "ended");

            // The export, record by record, with the stored timestamps.
            let export = Command::new(BIN)
                .args([
                    "export",
                    "--format",
                    "jsonl",
                    "--no-merge",
                    "--timestamps",
                    "rfc3339",
                ])
                .arg(log)
                .output()
                .unwrap();
            assert!(export.status.success());
            let exported: Vec<serde_json::Value> = String::from_utf8(export.stdout)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let rows = db.query(MESSAGE_QUERY, &[&header.session]).await.unwrap();
            let recs = records(log);
            assert_eq!(rows.len(), exported.len());
            assert_eq!(rows.len(), recs.len());
            for ((row, e), (seq, m)) in rows.iter().zip(&exported).zip(&recs) {
                assert_eq!(row.get::<_, i64>(0) as u64, *seq);
                assert_eq!(row.get::<_, String>(3), e["role"].as_str().unwrap());
                assert_eq!(row.get::<_, String>(4), e["content"].as_str().unwrap());
                assert_eq!(row.get::<_, String>(5), e["source"].as_str().unwrap());
                // The same instant and the same UTC offset (the text of an
                // ingested timestamp may have had fewer fractional digits).
                let stored = DateTime::parse_from_rfc3339(&ts_of(row.get(1), row.get(2))).unwrap();
                let exported =
                    DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap()).unwrap();
                assert_eq!(stored, exported, "timestamp of seq {seq}");
                assert_eq!(stored.offset(), exported.offset(), "offset of seq {seq}");
                assert_eq!(row.get::<_, Option<String>>(6), m.turn);
                assert_eq!(row.get::<_, bool>(7), m.interrupted);
                assert_eq!(row.get::<_, Option<String>>(8), m.speaker);
                assert_eq!(row.get::<_, Option<String>>(9), m.lang);
                let meta: Option<serde_json::Value> = row
                    .get::<_, Option<String>>(10)
                    .map(|t| serde_json::from_str(&t).unwrap());
                assert_eq!(meta, m.meta);
            }
        }

        let dump = "SELECT m.*::text, s.*::text FROM convlog.messages m
                      JOIN convlog.sessions s ON s.id = m.session_id ORDER BY 1";
        let before: Vec<String> = db
            .query(dump, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| format!("{}|{}", r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect();
        let again = ship(&args);
        assert!(again.status.success(), "{}", stderr(&again));
        assert!(
            stderr(&again).contains("0 messages shipped")
                && stderr(&again).contains("4 already there; 2 ended sessions already complete"),
            "{}",
            stderr(&again)
        );
        let after: Vec<String> = db
            .query(dump, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| format!("{}|{}", r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect();
        assert_eq!(before, after);
        assert_eq!(before.len(), 12);
    });
}

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn write_sessions(dir: &Path, sessions: usize, per: usize, seed: u64) -> Vec<PathBuf> {
    let rt = rt();
    rt.block_on(async {
        let mut rng = Rng(seed);
        let words = [
            "नमस्ते",
            "hotel",
            "Jaipur",
            "🙏",
            "cheapest",
            "मौसम",
            "train",
            "✓",
        ];
        let mut logs = Vec::new();
        for _ in 0..sessions {
            let s = Session::create(dir).unwrap();
            for chunk in 0..per.div_ceil(1000) {
                let msgs: Vec<Message> = (0..1000.min(per - chunk * 1000))
                    .map(|i| {
                        let n = 3 + rng.below(12) as usize;
                        let text: Vec<&str> =
                            (0..n).map(|_| words[rng.below(8) as usize]).collect();
                        let role = if i % 2 == 0 { "user" } else { "agent" };
                        Message::new(role.parse().unwrap(), text.join(" "), "gen")
                            .meta(serde_json::json!({"latency_ms": rng.below(900)}))
                    })
                    .collect();
                s.append_many(msgs).await.unwrap();
            }
            if rng.below(2) == 0 {
                s.end().await.unwrap();
            } else {
                s.flush().await.unwrap();
            }
            logs.push(s.path().to_path_buf());
        }
        logs
    })
}

#[test]
fn killed_ten_times_at_random_moments_ships_exactly_the_logs_records() {
    let Some(url) = pg_url("killed_ten_times") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "kill"));
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("CONVLOG_SHIP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill test seed {seed} (CONVLOG_SHIP_SEED to replay)");
    let logs = write_sessions(dir.path(), 50, 4000, seed);
    let expected = expected_contents(&logs);
    assert_eq!(expected.values().map(BTreeMap::len).sum::<usize>(), 200_000);

    let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
    let dir_s = dir.path().display().to_string();
    let db = rt.block_on(connect(&url));
    let mut mid_run = 0;
    let mut shipped_at_kill = Vec::new();
    for _ in 0..10 {
        let mut child = Command::new(BIN)
            .args(["ship", &dir_s, "--to", &url, "--batch", "2500", "--quiet"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + rng.below(700)));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever committed is a gap-free prefix of each session.
        let rows = rt
            .block_on(db.query(
                "SELECT count(*), coalesce(max(seq), 0) FROM convlog.messages GROUP BY session_id",
                &[],
            ))
            .unwrap();
        for r in &rows {
            assert_eq!(
                r.get::<_, i64>(0),
                r.get::<_, i64>(1),
                "a gap or a duplicate"
            );
        }
        let total: i64 = rows.iter().map(|r| r.get::<_, i64>(0)).sum();
        if !finished && total < 200_000 {
            mid_run += 1;
        }
        shipped_at_kill.push(total);
    }
    eprintln!("rows committed at each SIGKILL: {shipped_at_kill:?} ({mid_run} kills mid-run)");
    let out = ship(&[&dir_s, "--to", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = rt.block_on(all_contents(&db));
    assert_eq!(got.len(), 50);
    assert!(got == expected, "the database differs from the logs");
    let ended: i64 = rt
        .block_on(db.query_one(
            "SELECT count(*) FROM convlog.sessions WHERE ended IS NOT NULL",
            &[],
        ))
        .unwrap()
        .get(0);
    let want_ended = logs
        .iter()
        .filter(|l| convlog::read::inspect(l).unwrap().ended)
        .count() as i64;
    assert_eq!(ended, want_ended);
    assert!(
        mid_run >= 1,
        "no SIGKILL landed mid-run: {shipped_at_kill:?}"
    );
}

/// A private cluster for the restart test.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    runas: Option<String>,
    port: u16,
    extra: String,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        Cluster::start_with(|_| String::new())
    }

    /// `setup` gets the cluster's directory (owned by its user) and returns
    /// extra `postgres -c` options.
    fn start_with(setup: impl FnOnce(&Path) -> String) -> Option<Cluster> {
        let bin = PathBuf::from(std::env::var("CONVLOG_TEST_PG_BIN").ok()?);
        let runas = std::env::var("CONVLOG_TEST_PG_RUNAS")
            .ok()
            .filter(|s| !s.is_empty());
        let dir = tempfile::Builder::new()
            .prefix("convlog-pg-restart")
            .tempdir()
            .unwrap();
        if let Some(u) = &runas {
            let ok = Command::new("chown")
                .arg(u)
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let port = 40000
            + (std::process::id() % 10000) as u16
            + 10000 * NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let extra = setup(dir.path());
        if let Some(u) = &runas {
            let ok = Command::new("chown")
                .args(["-R", u])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let c = Cluster {
            dir,
            bin,
            runas,
            port,
            extra,
        };
        let data = c.dir.path().join("data");
        c.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        c.pg_ctl("start");
        Some(c)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.runas {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        let opts = format!(
            "-k {} -p {} -c listen_addresses=localhost -c fsync=off {}",
            self.dir.path().display(),
            self.port,
            self.extra
        );
        let mut args = vec![
            "-D",
            data.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
        ];
        match action {
            "start" => args.extend(["-o", &opts, "start"]),
            _ => args.extend(["-m", "fast", action]),
        }
        self.run("pg_ctl", &args);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@localhost:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = match &self.runas {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let _ = cmd
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

fn wait_for_rows(rt: &tokio::runtime::Runtime, url: &str, want: i64, limit: Duration) -> i64 {
    let start = Instant::now();
    let mut got = -1;
    while start.elapsed() < limit {
        got = rt.block_on(async {
            match tokio_postgres::connect(url, NoTls).await {
                Ok((c, conn)) => {
                    tokio::spawn(conn);
                    c.query_one("SELECT count(*) FROM convlog.messages", &[])
                        .await
                        .map(|r| r.get::<_, i64>(0))
                        .unwrap_or(-1)
                }
                Err(_) => -1,
            }
        });
        if got == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    got
}

#[test]
fn postgres_restarted_during_follow_loses_nothing() {
    if pg_url("postgres_restarted").is_none() {
        return;
    }
    let Some(cluster) = Cluster::start() else {
        panic!("CONVLOG_TEST_PG_BIN is not set: the restart test needs initdb and pg_ctl");
    };
    let url = cluster.url();
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    let session = Session::create(dir.path()).unwrap();
    let log = session.path().to_path_buf();
    let append = |s: &Session, from: usize, to: usize| {
        rt.block_on(async {
            for i in from..to {
                s.append(Message::user(format!("message {i} 🙏"), "stt"))
                    .await
                    .unwrap();
            }
        })
    };
    append(&session, 0, 50);
    let mut child = Command::new(BIN)
        .args(["ship", "--follow", "--max-backoff", "1", "--to", &url])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(wait_for_rows(&rt, &url, 50, Duration::from_secs(30)), 50);
    cluster.pg_ctl("stop");
    // Written while the database is down: shipped once it is back.
    append(&session, 50, 120);
    std::thread::sleep(Duration::from_millis(800));
    cluster.pg_ctl("start");
    append(&session, 120, 200);
    rt.block_on(session.end()).unwrap();
    assert_eq!(wait_for_rows(&rt, &url, 200, Duration::from_secs(60)), 200);
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(
        err.matches("is unreachable").count(),
        1,
        "one report per outage: {err}"
    );
    assert!(err.contains("is back after"), "{err}");
    let got = rt.block_on(async { all_contents(&connect(&url).await).await });
    assert!(
        got == expected_contents(&[log]),
        "the database differs from the log"
    );
    let ended: bool = rt
        .block_on(async {
            connect(&url)
                .await
                .query_one("SELECT ended IS NOT NULL FROM convlog.sessions", &[])
                .await
        })
        .unwrap()
        .get(0);
    assert!(ended);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

#[test]
fn follow_with_twenty_writers_ships_everything_and_prints_the_lag() {
    let Some(url) = pg_url("follow_twenty_writers") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "follow"));
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["ship", "--follow", "--quiet", "--to", &url])
        .arg(dir.path())
        .spawn()
        .unwrap();
    // Durable at: (session id, seq) → when append returned.
    let acked: Arc<Mutex<HashMap<(String, u64), Instant>>> = Arc::default();
    let per_writer = 150;
    let sessions: Vec<Session> = (0..20)
        .map(|_| Session::create(dir.path()).unwrap())
        .collect();
    let ids: Vec<String> = sessions.iter().map(|s| s.id().to_string()).collect();
    let writers = std::thread::spawn({
        let acked = acked.clone();
        move || {
            let rt = self::rt();
            rt.block_on(async {
                let mut tasks = Vec::new();
                for s in sessions {
                    let acked = acked.clone();
                    tasks.push(tokio::spawn(async move {
                        for i in 0..per_writer {
                            let seq = s
                                .append(Message::agent(format!("reply {i}"), "tts"))
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
                for t in tasks {
                    t.await.unwrap();
                }
            })
        }
    });
    // Shipped at: the first poll that sees the seq in the database.
    let mut seen: HashMap<(String, u64), Instant> = HashMap::new();
    let db = rt.block_on(async {
        loop {
            if let Ok((c, conn)) = tokio_postgres::connect(&url, NoTls).await {
                tokio::spawn(conn);
                if c.query_one("SELECT to_regclass('convlog.messages') IS NOT NULL", &[])
                    .await
                    .map(|r| r.get::<_, bool>(0))
                    .unwrap_or(false)
                {
                    return c;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut last: HashMap<String, u64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < 20 * per_writer && Instant::now() < deadline {
        let rows = rt
            .block_on(db.query(
                "SELECT id, (SELECT max(seq) FROM convlog.messages WHERE session_id = id)
                   FROM convlog.sessions",
                &[],
            ))
            .unwrap();
        let now = Instant::now();
        for r in rows {
            let id: String = r.get(0);
            let max = r.get::<_, Option<i64>>(1).unwrap_or(0) as u64;
            let from = last.get(&id).copied().unwrap_or(0);
            for seq in from + 1..=max {
                seen.insert((id.clone(), seq), now);
            }
            last.insert(id, max);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    writers.join().unwrap();
    signal(&child, libc::SIGINT);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let acked = acked.lock().unwrap();
    assert_eq!(acked.len(), 20 * per_writer);
    assert_eq!(seen.len(), 20 * per_writer, "not every record was shipped");
    let mut lags: Vec<Duration> = acked
        .iter()
        .map(|(k, at)| seen[k].saturating_duration_since(*at))
        .collect();
    lags.sort();
    eprintln!(
        "follow lag, durable to visible in PostgreSQL, 20 writers, {} messages: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (debug build; 5 ms polling of the database)",
        lags.len(),
        percentile(&lags, 50.0).as_secs_f64() * 1e3,
        percentile(&lags, 99.0).as_secs_f64() * 1e3,
        lags.last().unwrap().as_secs_f64() * 1e3
    );
    let ended: i64 = rt
        .block_on(db.query_one(
            "SELECT count(*) FROM convlog.sessions WHERE ended IS NOT NULL AND id = ANY($1)",
            &[&ids],
        ))
        .unwrap()
        .get(0);
    // SIGINT may land between the last message and the end records' batch.
    assert!(ended <= 20);
}

#[test]
fn bad_input_gets_a_clear_error_naming_what_failed() {
    let Some(url) = pg_url("bad_input") else {
        return;
    };
    let runtime = rt();
    let dir = tempfile::tempdir().unwrap();
    let good = runtime.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        s.append(Message::user("hello", "stt")).await.unwrap();
        s.end().await.unwrap();
        s.path().to_path_buf()
    });
    let d = dir.path().display().to_string();

    // Unreachable: nothing listens on port 1.
    let out = ship(&[&d, "--to", "postgres://postgres:pw-secret@127.0.0.1:1/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("cannot connect to postgres://postgres@127.0.0.1:1/x"),
        "{e}"
    );
    assert!(e.to_lowercase().contains("refused"), "{e}");
    assert!(!e.contains("pw-secret"), "{e}");

    // Wrong credentials (.ci/postgres.sh gives convlog_pw password authentication).
    let base = url.split_once('@').unwrap().1;
    let bad = format!("postgres://convlog_pw:wrong-password@{base}");
    let out = ship(&[&d, "--to", &bad]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(e.contains("convlog_pw@"), "{e}");
    assert!(!e.contains("wrong-password"), "{e}");

    // A table with the wrong schema: refused before anything is written.
    let wrong = runtime.block_on(fresh_db(&url, "wrong"));
    runtime.block_on(async {
        connect(&wrong)
            .await
            .batch_execute(
                "CREATE SCHEMA convlog;
                 CREATE TABLE convlog.messages (session_id text NOT NULL, seq text NOT NULL)",
            )
            .await
            .unwrap()
    });
    let out = ship(&[&d, "--to", &wrong]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains(
            "table convlog.messages has the wrong schema: column seq is text, expected bigint"
        ),
        "{e}"
    );
    let sessions_made: bool = runtime
        .block_on(async {
            connect(&wrong)
                .await
                .query_one("SELECT to_regclass('convlog.sessions') IS NOT NULL", &[])
                .await
        })
        .unwrap()
        .get(0);
    assert!(!sessions_made, "nothing is created beside a wrong table");

    // A file that is not a log, a damaged log, and a record the database
    // refuses: each reported, the rest shipped, exit code 1.
    let db_url = runtime.block_on(fresh_db(&url, "bad"));
    std::fs::write(
        dir.path().join("notes.jsonl"),
        "{\"todo\": \"not a log\"}\n",
    )
    .unwrap();
    let (damaged, refused) = runtime.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        for i in 0..5 {
            s.append(Message::user(format!("line {i}"), "stt"))
                .await
                .unwrap();
        }
        s.end().await.unwrap();
        let r = Session::create(dir.path()).unwrap();
        r.append(Message::user("fine", "stt")).await.unwrap();
        r.append(Message::user("nul \u{0} inside", "stt"))
            .await
            .unwrap();
        r.append(Message::user("after", "stt")).await.unwrap();
        r.flush().await.unwrap();
        (s.path().to_path_buf(), r.path().to_path_buf())
    });
    // Flip one byte of line 3's content: mid-file damage.
    let mut bytes = std::fs::read(&damaged).unwrap();
    let line3 = bytes
        .split(|&b| b == b'\n')
        .take(2)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let at = line3 + bytes[line3..].iter().position(|&b| b == b'l').unwrap();
    bytes[at] = b'L';
    std::fs::write(&damaged, &bytes).unwrap();

    let out = ship(&[&d, "--to", &db_url]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!(
            "{}: not a convlog log",
            dir.path().join("notes.jsonl").display()
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!("{}: line 3", damaged.display())) && e.contains("corrupt record"),
        "{e}"
    );
    let refused_id = convlog::read::inspect(&refused)
        .unwrap()
        .header
        .unwrap()
        .session;
    assert!(
        e.contains(&format!(
            "session {refused_id}, seq 2: rejected by the database"
        )),
        "{e}"
    );
    assert!(e.contains("0x00"), "{e}");
    let got = runtime.block_on(async { all_contents(&connect(&db_url).await).await });
    let good_id = convlog::read::inspect(&good)
        .unwrap()
        .header
        .unwrap()
        .session;
    let damaged_id = convlog::read::inspect(&damaged)
        .unwrap()
        .header
        .unwrap()
        .session;
    assert_eq!(got[&good_id].len(), 1);
    assert!(
        !got.contains_key(&damaged_id),
        "tolerate-tail ships nothing of a damaged log"
    );
    assert_eq!(
        got[&refused_id].values().cloned().collect::<Vec<_>>(),
        ["fine"],
        "what precedes the refused record is shipped, nothing after it"
    );

    // skip-corrupt ships every valid record around the damage.
    let out = ship(&[&d, "--to", &db_url, "--recovery", "skip-corrupt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let got = runtime.block_on(async { all_contents(&connect(&db_url).await).await });
    assert_eq!(
        got[&damaged_id].keys().copied().collect::<Vec<_>>(),
        [1, 3, 4, 5]
    );
}

#[test]
fn tls_encrypts_with_require_and_checks_the_certificate_with_verify_full() {
    if pg_url("tls").is_none() {
        return;
    }
    if Command::new("openssl").arg("version").output().is_err() {
        let why = "openssl is not installed (it makes the test server's certificate)";
        crate::util::skip("tls", why);
        return;
    }
    let mut ca = PathBuf::new();
    let cluster = Cluster::start_with(|dir| {
        // A private CA and a server certificate for localhost signed by it.
        ca = dir.join("ca.crt");
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(dir)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=convlog test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        format!(
            "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert.display(),
            key.display()
        )
    })
    .expect("CONVLOG_TEST_PG_BIN is not set: the TLS test needs initdb and pg_ctl");
    let url = cluster.url();
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        s.append(Message::user("secret transcript 🙏", "stt"))
            .await
            .unwrap();
        s.end().await.unwrap();
    });
    let d = dir.path().display().to_string();

    // verify-full against the Mozilla roots: a self-signed server is refused.
    let out = ship(&[&d, "--to", &format!("{url}?sslmode=verify-full")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));

    // require: encrypted, not authenticated, as libpq does it.
    let mut child = Command::new(BIN)
        .args([
            "ship",
            "--follow",
            "--quiet",
            "--to",
            &format!("{url}?sslmode=require"),
        ])
        .arg(dir.path())
        .spawn()
        .unwrap();
    assert_eq!(wait_for_rows(&rt, &url, 1, Duration::from_secs(30)), 1);
    let ssl: Vec<bool> = rt.block_on(async {
        connect(&url)
            .await
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                  WHERE a.application_name LIKE 'convlog ship%'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    signal(&child, libc::SIGTERM);
    assert!(child.wait().unwrap().success());
    assert_eq!(ssl, [true], "the shipper's connection is encrypted");

    // verify-full with the private CA as the root: accepted.
    let out = ship(&[
        &d,
        "--to",
        &format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 ended sessions already complete"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn two_shippers_on_the_same_logs_insert_each_record_once() {
    let Some(url) = pg_url("two_shippers") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "two"));
    rt.block_on(async {
        let target = convlog::ship::Target::resolve(Some(&url)).unwrap();
        convlog::ship::init(&target, false).await.unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let logs = write_sessions(dir.path(), 6, 3000, 42);
    let d = dir.path().display().to_string();
    // Both read the same cursor and send the same rows: the loser of each
    // race goes through the staging table and ON CONFLICT DO NOTHING.
    let spawn = || {
        Command::new(BIN)
            .args(["ship", &d, "--to", &url, "--batch", "500"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    // Each counts what it inserted, so together they count every message once.
    let shipped = |o: &Output| -> u64 {
        let e = stderr(o);
        let (n, _) = e
            .trim_start_matches("convlog ship: ")
            .split_once(' ')
            .unwrap();
        n.parse().unwrap()
    };
    assert_eq!(
        shipped(&a) + shipped(&b),
        18_000,
        "{}{}",
        stderr(&a),
        stderr(&b)
    );
    let got = rt.block_on(async { all_contents(&connect(&url).await).await });
    assert!(
        got == expected_contents(&logs),
        "the database differs from the logs"
    );
}
