//! `--follow` with live writers: everything shipped, and the lag.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::sync::{Arc, Mutex};
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
