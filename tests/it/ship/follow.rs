//! `--follow` with live writers: everything shipped, and the lag.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use convlog::ship::tokio_postgres::{self, NoTls};
use convlog::{Message, Session};

use super::harness::*;

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
    let acked = Acked::default();
    let per_writer = 150;
    let sessions: Vec<Session> = (0..20)
        .map(|_| Session::create(dir.path()).unwrap())
        .collect();
    let ids: Vec<String> = sessions.iter().map(|s| s.id().to_string()).collect();
    let writers = std::thread::spawn({
        let acked = acked.clone();
        move || self::rt().block_on(write_replies(sessions, per_writer, acked))
    });
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
    // Shipped at: the first poll that sees the seq in the database.
    let seen = rt.block_on(watch_shipped(&db, 20 * per_writer));
    writers.join().unwrap();
    signal(&child, libc::SIGINT);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(acked.lock().unwrap().len(), 20 * per_writer);
    let lags = lags(&acked, &seen);
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
fn a_log_replaced_in_place_during_follow_is_shipped_as_a_new_log() {
    let Some(url) = pg_url("replaced_in_place") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "replaced"));
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let (a, b) = rt.block_on(async {
        let a = Session::create(dir.path()).unwrap();
        for i in 0..3 {
            a.append(Message::user(format!("a{i}"), "stt"))
                .await
                .unwrap();
        }
        a.flush().await.unwrap();
        let b = Session::create(elsewhere.path()).unwrap();
        for i in 0..6 {
            b.append(Message::user(format!("b{i}"), "stt"))
                .await
                .unwrap();
        }
        b.end().await.unwrap();
        (a, b)
    });
    let mut child = Command::new(BIN)
        .args(["ship", "--follow", "--quiet", "--to", &url])
        .arg(dir.path())
        .spawn()
        .unwrap();
    assert_eq!(wait_for_rows(&rt, &url, 3, Duration::from_secs(30)), 3);
    // Another session's bytes written over A's file: same inode, longer.
    let bytes = std::fs::read(b.path()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(a.path())
        .unwrap();
    std::io::Write::write_all(&mut f, &bytes).unwrap();
    drop(f);
    let got = wait_for_rows(&rt, &url, 9, Duration::from_secs(30));
    signal(&child, libc::SIGTERM);
    assert!(child.wait().unwrap().success());
    assert_eq!(got, 9);
    let by_session = rt.block_on(async { all_contents(&connect(&url).await).await });
    let want_a: BTreeMap<u64, String> = (1..=3).map(|s| (s, format!("a{}", s - 1))).collect();
    let want_b: BTreeMap<u64, String> = (1..=6).map(|s| (s, format!("b{}", s - 1))).collect();
    assert_eq!(by_session[a.id()], want_a, "A's rows untouched");
    assert_eq!(by_session[b.id()], want_b, "B shipped under its own id");
    drop(a);
}

/// CPU time (user + system) a process has used so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    Duration::from_secs_f64(ticks / hz)
}

/// Hand-written ended logs, quick to make in thousands: (dir, log paths).
fn ended_logs(dir: &Path, n: usize) -> Vec<PathBuf> {
    let ts = "2026-03-01T10:00:00.000000Z";
    (0..n)
        .map(|i| {
            let id = format!("idle-{i:05}");
            write_log(
                dir,
                &format!("conversation_{i:05}.jsonl"),
                &[
                    header_line(&id, ts),
                    message_line(1, ts, &format!("\"hello {i}\""), ""),
                    end_line(2, ts),
                ],
            )
        })
        .collect()
}

#[test]
fn an_idle_follow_over_two_thousand_shipped_logs_sleeps_and_still_wakes_for_a_write() {
    let Some(url) = pg_url("idle_follow_sleeps") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "idle"));
    let dir = tempfile::tempdir().unwrap();
    let n = 2000;
    ended_logs(dir.path(), n);
    let out = ship(&["--quiet", "--to", &url, dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        wait_for_rows(&rt, &url, n as i64, Duration::from_secs(1)),
        n as i64
    );

    let child = Command::new(BIN)
        .args(["ship", "--follow", "--to", &url])
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A new log, written after the start: its rows mean the first pass is over
    // and a created file is noticed.
    let s = rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        s.append(Message::user("first", "stt")).await.unwrap();
        s.flush().await.unwrap();
        s
    });
    assert_eq!(
        wait_for_rows(&rt, &url, n as i64 + 1, Duration::from_secs(60)),
        n as i64 + 1
    );

    // Idle: 2,000 logs that nothing writes to. Polling every 50 ms looked at
    // each of them 20 times a second (about half a core for 5,000 logs).
    let idle = Duration::from_secs(3);
    let before = cpu_time(child.id());
    std::thread::sleep(idle);
    let used = cpu_time(child.id()) - before;
    let share = used.as_secs_f64() / idle.as_secs_f64();

    // And a write to one of them still wakes it.
    rt.block_on(async {
        s.append(Message::agent("second", "tts")).await.unwrap();
        s.flush().await.unwrap();
    });
    let got = wait_for_rows(&rt, &url, n as i64 + 2, Duration::from_secs(30));
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        got,
        n as i64 + 2,
        "the append after the idle spell was shipped"
    );
    assert!(
        !stderr.contains("polling"),
        "inotify works on this filesystem, so no fallback is announced: {stderr}"
    );
    eprintln!(
        "idle --follow over {n} logs: {:.2}% of a core",
        share * 100.0
    );
    assert!(
        share < 0.05,
        "idle --follow used {:.1}% of a core over {n} logs",
        share * 100.0
    );
}

/// Appends five messages to `s`, each once the one before is in the
/// database at `url` (30 s at most each): a follower that stopped noticing
/// appends falls behind at once. Returns the rows there at the end.
async fn append_five_one_by_one(s: &Session, url: &str) -> i64 {
    let db = connect(url).await;
    let mut got = 0;
    for i in 1..=5i64 {
        s.append(Message::user(format!("m{i}"), "stt"))
            .await
            .unwrap();
        s.flush().await.unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            got = db
                .query_one("SELECT count(*) FROM convlog.messages", &[])
                .await
                .map(|r| r.get::<_, i64>(0))
                .unwrap_or(0);
            if got == i {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    got
}

#[test]
fn following_without_file_notifications_polls_and_ships_every_append() {
    let Some(url) = pg_url("follow_polling") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "polling"));
    let dir = tempfile::tempdir().unwrap();
    let got = rt.block_on(async {
        let target = convlog::ship::Target::resolve(Some(&url)).unwrap();
        let stop = convlog::ship::Stop::new();
        let opts = convlog::ship::Options {
            follow: true,
            notify: false,
            ..Default::default()
        };
        let shipper = {
            let (dir, stop) = (dir.path().to_path_buf(), stop.clone());
            tokio::spawn(async move {
                convlog::ship::ship(&target, &[dir], &opts, &stop, &mut |e| eprintln!("{e:?}"))
                    .await
                    .unwrap()
            })
        };
        let s = Session::create(dir.path()).unwrap();
        let got = append_five_one_by_one(&s, &url).await;
        stop.stop();
        let summary = shipper.await.unwrap();
        assert_eq!(summary.messages, 5);
        got
    });
    assert_eq!(got, 5);
}

/// `convlog ship --follow` in a user namespace whose inotify limit is 0:
/// the kernel refuses what the watcher asks for, as on a system out of
/// inotify instances (`fs.inotify.max_user_instances`) or watches
/// (`max_user_watches`). The shipper says so once, with the kernel's reason,
/// and polls: every append is shipped.
#[test]
fn where_the_kernel_refuses_inotify_follow_says_so_once_and_polls() {
    let Some(admin) = pg_url("follow_without_inotify") else {
        return;
    };
    let probe = Command::new("unshare")
        .args(["-U", "-r", "sh", "-c"])
        .arg("echo 0 > /proc/sys/user/max_inotify_instances")
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        crate::util::skip(
            "follow_without_inotify",
            &format!(
                "`unshare -U -r` cannot make a user namespace with its own inotify limits here: {probe:?}"
            ),
        );
        return;
    }
    let rt = rt();
    for (limit, said) in [
        (
            "max_inotify_instances",
            "inotify is unavailable: Too many open files",
        ),
        (
            "max_inotify_watches",
            "cannot watch it with inotify: No space left on device",
        ),
    ] {
        let url = rt.block_on(fresh_db(&admin, limit));
        let dir = tempfile::tempdir().unwrap();
        let s = Session::create(dir.path()).unwrap();
        // The shell lowers the limit, then becomes convlog (same pid).
        let child = Command::new("unshare")
            .args(["-U", "-r", "sh", "-c"])
            .arg(format!(
                "echo 0 > /proc/sys/user/{limit} && exec \"$0\" \"$@\""
            ))
            .args([BIN, "ship", "--follow", "--to", &url])
            .arg(dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let got = rt.block_on(append_five_one_by_one(&s, &url));
        signal(&child, libc::SIGTERM);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{limit}: {stderr}");
        assert_eq!(got, 5, "{limit}: every append shipped: {stderr}");
        assert!(stderr.contains(said), "{limit}: {stderr}");
        assert_eq!(
            stderr.matches("by polling every 50 ms").count(),
            1,
            "{limit}: said once: {stderr}"
        );
    }
}
