//! The PostgreSQL harness of the ship tests: where the server is, a fresh
//! database per test, a private cluster for tests that restart or
//! reconfigure one, the `convlog ship` child, and what the database holds.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, SecondsFormat};
use convlog::record::Record;
use convlog::ship::tokio_postgres::{self, Client, NoTls};
use convlog::{Message, Recovery, Session};

pub(crate) use super::pg::*;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_convlog");

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

pub(crate) use crate::util::rt;

pub(crate) fn ship(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("ship")
        .args(args)
        .output()
        .expect("run convlog ship")
}

/// Every message record of a log, in file order.
pub(crate) fn records(log: &Path) -> Vec<(u64, Message)> {
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

pub(crate) fn ts_of(micros: i64, offset: i32) -> String {
    let utc = DateTime::from_timestamp_micros(micros).unwrap();
    utc.with_timezone(&FixedOffset::east_opt(offset).unwrap())
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

pub(crate) const MESSAGE_QUERY: &str =
    "SELECT seq, (extract(epoch FROM ts) * 1000000)::bigint, utc_offset,
        role, content, source, turn, interrupted, speaker, lang, meta::text
   FROM convlog.messages WHERE session_id = $1 ORDER BY seq";

/// (session id → seq → content) for every message in the database.
pub(crate) async fn all_contents(db: &Client) -> HashMap<String, BTreeMap<u64, String>> {
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

pub(crate) fn expected_contents(logs: &[PathBuf]) -> HashMap<String, BTreeMap<u64, String>> {
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

pub(crate) fn write_sessions(dir: &Path, sessions: usize, per: usize, seed: u64) -> Vec<PathBuf> {
    let rt = rt();
    rt.block_on(async {
        let mut rng = Rng(seed);
        let mut logs = Vec::new();
        for _ in 0..sessions {
            let s = Session::create(dir).unwrap();
            for chunk in 0..per.div_ceil(1000) {
                let msgs: Vec<Message> = (0..1000.min(per - chunk * 1000))
                    .map(|i| {
                        let role = if i % 2 == 0 { "user" } else { "agent" };
                        Message::new(role.parse().unwrap(), rng.sentence(3, 12), "gen")
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

/// A private cluster for the restart test.
pub(crate) struct Cluster {
    pub(crate) dir: tempfile::TempDir,
    bin: PathBuf,
    runas: Option<String>,
    port: u16,
    extra: String,
}

impl Cluster {
    pub(crate) fn start() -> Option<Cluster> {
        Cluster::start_with(|_| String::new())
    }

    /// `setup` gets the cluster's directory (owned by its user) and returns
    /// extra `postgres -c` options.
    pub(crate) fn start_with(setup: impl FnOnce(&Path) -> String) -> Option<Cluster> {
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
        // Distinct for each cluster of this process (45 of them before a port
        // repeats), and apart from other processes' by the pid; computed wide
        // so that a fourth cluster cannot overflow a u16.
        let n = u32::from(NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let port = (20000 + (std::process::id() % 1000 + 1000 * n) % 45000) as u16;
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

    pub(crate) fn run(&self, tool: &str, args: &[&str]) {
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

    pub(crate) fn pg_ctl(&self, action: &str) {
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

    pub(crate) fn url(&self) -> String {
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

pub(crate) fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

pub(crate) fn wait_for_rows(
    rt: &tokio::runtime::Runtime,
    url: &str,
    want: i64,
    limit: Duration,
) -> i64 {
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

/// One log line around `body` (`"kind":…}`), checksummed as FORMAT.md says,
/// for logs a test writes by hand: values the writer's API would not make,
/// and copies of one session that differ.
pub(crate) fn raw_line(body: &str) -> String {
    format!(
        "{{\"crc\":\"{:08x}\",{body}\n",
        crc32fast::hash(body.as_bytes())
    )
}

pub(crate) fn header_line(session: &str, created: &str) -> String {
    raw_line(&format!(
        r#""kind":"header","seq":0,"format":"convlog","version":1,"session":"{session}","created":"{created}"}}"#
    ))
}

/// A user message; `content` and `extra` (`,"meta":…`) are JSON as written.
pub(crate) fn message_line(seq: u64, ts: &str, content: &str, extra: &str) -> String {
    raw_line(&format!(
        r#""kind":"message","seq":{seq},"ts":"{ts}","role":"user","content":{content},"source":"stt"{extra}}}"#
    ))
}

pub(crate) fn end_line(seq: u64, ts: &str) -> String {
    raw_line(&format!(r#""kind":"end","seq":{seq},"ts":"{ts}"}}"#))
}

/// Writes `lines` as the log `dir/name`, private as logs are.
pub(crate) fn write_log(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, lines.concat().as_bytes()).unwrap();
    path
}

/// `convlog ship ARGS…` with extra environment.
pub(crate) fn ship_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .arg("ship")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run convlog ship")
}

/// The first rows of `query` on `url`.
pub(crate) fn query(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    rt().block_on(async { connect(url).await.query(sql, &[]).await.unwrap() })
}
