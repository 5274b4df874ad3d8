//! Faults of the process and the server: SIGKILL at random moments, a restart during --follow.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use convlog::{Message, Session};

use super::harness::*;
use crate::util::stderr;

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

/// Time from `sig` to exit of a child that is stuck, as a bound.
fn stops_within(child: &mut std::process::Child, sig: i32, limit: Duration) -> Duration {
    let at = Instant::now();
    signal(child, sig);
    loop {
        if child.try_wait().unwrap().is_some() {
            return at.elapsed();
        }
        assert!(
            at.elapsed() < limit,
            "still running {limit:?} after signal {sig}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_server_that_never_answers_times_out_and_a_signal_stops_every_wait() {
    if pg_url("never_answers").is_none() {
        return;
    }
    // Accepts TCP, never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(3) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{port}/x?connect_timeout=2");
    let at = Instant::now();
    let out = ship(&[&dir.path().display().to_string(), "--to", &url]);
    let took = at.elapsed();
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("no answer within 2s while connecting"), "{e}");
    assert!(took < Duration::from_secs(8), "{took:?}");

    // The default timeout is 10 s; SIGTERM and SIGINT end the wait first.
    let url = format!("postgres://postgres@127.0.0.1:{port}/x");
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut child = Command::new(BIN)
            .args(["ship", "--to", &url])
            .arg(dir.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let took = stops_within(&mut child, sig, Duration::from_secs(5));
        eprintln!("stopped {took:?} after signal {sig} while connecting");
    }
    drop(held);
}

#[test]
fn a_frozen_backend_is_timed_out_named_and_a_signal_still_stops_the_run() {
    let Some(url) = pg_url("frozen_backend") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "frozen"));
    let dir = tempfile::tempdir().unwrap();
    let session = Session::create(dir.path()).unwrap();
    rt.block_on(session.append(Message::user("before", "stt")))
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["ship", "--follow", "--timeout", "2", "--to", &url])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(wait_for_rows(&rt, &url, 1, Duration::from_secs(30)), 1);
    let pid: i32 = query(
        &url,
        "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'convlog ship%' AND datname = current_database()",
    )[0]
    .get(0);
    // SAFETY: kill(2) on the backend serving our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    rt.block_on(session.append(Message::user("during", "stt")))
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let took = stops_within(&mut child, libc::SIGTERM, Duration::from_secs(5));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    eprintln!("stopped {took:?} after SIGTERM with a frozen backend");
    assert!(
        err.contains("the database does not answer (no answer within 2s while shipping a batch)"),
        "{err}"
    );
}

#[test]
fn statement_timeout_is_named_retried_a_bounded_number_of_times_then_exit_2() {
    let Some(url) = pg_url("statement_timeout") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "stmt_timeout"));
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        s.append(Message::user("hello", "stt")).await.unwrap();
        s.flush().await.unwrap();
    });
    let d = dir.path().display().to_string();
    // Schema first, then a lock nobody gets past and a short statement_timeout.
    assert!(ship(&["--init", "--to", &url]).status.success());
    let db = rt.block_on(connect(&url));
    rt.block_on(db.batch_execute(&format!(
        "ALTER DATABASE {} SET statement_timeout = '300ms'",
        url.rsplit_once('/').unwrap().1
    )))
    .unwrap();
    rt.block_on(db.batch_execute("BEGIN; LOCK TABLE convlog.messages IN ACCESS EXCLUSIVE MODE"))
        .unwrap();
    let out = ship(&[&d, "--to", &url, "--attempts", "3", "--max-backoff", "1"]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("the server cancelled a statement (statement_timeout"),
        "{e}"
    );
    assert!(e.contains("gave up after 3 attempts"), "{e}");
    assert!(e.contains("0 messages shipped"), "{e}");
    assert!(!e.contains("unreachable"), "{e}");

    // Following, it says so once and ships when the lock goes.
    let mut child = Command::new(BIN)
        .args(["ship", "--follow", "--max-backoff", "1", "--to", &url, &d])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    rt.block_on(db.batch_execute("COMMIT")).unwrap();
    assert_eq!(wait_for_rows(&rt, &url, 1, Duration::from_secs(30)), 1);
    signal(&child, libc::SIGTERM);
    assert!(child.wait().unwrap().success());
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(err.matches("statement_timeout").count(), 1, "{err}");
    assert!(err.contains("is back after"), "{err}");
}

/// A tmpfs of a few hundred KiB holding a tablespace, for a real full disk:
/// unmounted (after the database and the tablespace on it are dropped) when
/// the test ends, however it ends.
struct SmallDisk {
    dir: tempfile::TempDir,
    admin: String,
    db: String,
    space: String,
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let (db, space) = (self.db.clone(), self.space.clone());
        let admin = self.admin.clone();
        rt().block_on(async move {
            let c = connect(&admin).await;
            let _ = c
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .await;
            let _ = c
                .batch_execute(&format!("DROP TABLESPACE IF EXISTS {space}"))
                .await;
        });
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_tablespace_is_named_retried_a_bounded_number_of_times_then_exit_2() {
    let Some(admin) = pg_url("disk_full") else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        crate::util::skip(
            "disk_full",
            "mounting the small filesystem for a full tablespace needs root",
        );
        return;
    }
    let rt = rt();
    let url = rt.block_on(fresh_db(&admin, "diskfull"));
    let db = url.rsplit_once('/').unwrap().1.to_string();
    let disk = SmallDisk {
        dir: tempfile::Builder::new()
            .prefix("convlog-pg-full")
            .tempdir()
            .unwrap(),
        admin: admin.clone(),
        space: format!("{db}_space"),
        db,
    };
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs"])
        .arg(disk.dir.path())
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a 512 KiB tmpfs");
    if let Ok(u) = std::env::var("CONVLOG_TEST_PG_RUNAS")
        && !u.is_empty()
    {
        assert!(
            Command::new("chown")
                .arg(&u)
                .arg(disk.dir.path())
                .status()
                .unwrap()
                .success()
        );
    }
    assert!(ship(&["--init", "--to", &url]).status.success());
    rt.block_on(async {
        let c = connect(&url).await;
        c.batch_execute(&format!(
            "CREATE TABLESPACE {} LOCATION '{}'",
            disk.space,
            disk.dir.path().display()
        ))
        .await
        .unwrap();
        c.batch_execute(&format!(
            "ALTER TABLE convlog.messages SET TABLESPACE {}",
            disk.space
        ))
        .await
        .unwrap();
    });
    // About 3 MB of rows for half a megabyte of disk.
    let dir = tempfile::tempdir().unwrap();
    write_sessions(dir.path(), 1, 20_000, 7);
    let d = dir.path().display().to_string();
    let out = ship(&[
        &d,
        "--to",
        &url,
        "--batch",
        "1000",
        "--attempts",
        "3",
        "--max-backoff",
        "1",
    ]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("the database's disk is full"), "{e}");
    assert!(
        e.contains("No space left on device"),
        "the server's own words: {e}"
    );
    assert!(e.contains("gave up after 3 attempts"), "{e}");
    assert!(!e.contains("unreachable"), "{e}");
    // What committed before the disk filled is reported, and is there.
    let shipped: i64 = e
        .split("convlog ship: ")
        .find_map(|l| {
            l.split_once(" messages shipped")
                .map(|(n, _)| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("a summary: {e}"));
    let rows: i64 = query(&url, "SELECT count(*) FROM convlog.messages")[0].get(0);
    assert_eq!(rows, shipped, "{e}");
    assert!(shipped < 20_000, "{e}");
    drop(disk);
}
