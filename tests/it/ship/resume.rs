//! A re-run over open logs the database holds: read from just after the
//! last shipped record (found from the log's end and proven by its seq and
//! CRC), not from the start, unless the database lacks a record before it.

use convlog::{Message, Session};

use super::harness::*;
use crate::util::stderr;

fn count(url: &str, sql: &str) -> i64 {
    query(url, sql)[0].get(0)
}

/// Flips a letter in line `n` (1-based) of `log`, in place.
fn damage_line(log: &std::path::Path, n: usize) -> (usize, u8) {
    let bytes = std::fs::read(log).unwrap();
    let start: usize = bytes
        .split(|&b| b == b'\n')
        .take(n - 1)
        .map(|l| l.len() + 1)
        .sum();
    let at = start + 60 + bytes[start + 60..].iter().position(|&b| b == b'm').unwrap();
    let was = bytes[at];
    let f = std::fs::OpenOptions::new().write(true).open(log).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"M", at as u64).unwrap();
    (at, was)
}

#[test]
fn a_rerun_over_a_shipped_open_log_reads_on_from_its_last_shipped_record() {
    let Some(url) = pg_url("resume_open_log") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "resume"));
    let dir = tempfile::tempdir().unwrap();
    let s = rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        let msgs: Vec<Message> = (0..3000)
            .map(|i| Message::user(format!("message {i}"), "stt"))
            .collect();
        s.append_many(msgs).await.unwrap();
        s.flush().await.unwrap();
        s
    });
    let log = s.path().display().to_string();
    let out = ship(&[&log, "--to", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count(&url, "SELECT count(*) FROM convlog.messages"), 3000);

    // Damage in the middle of what is shipped: a run that read the log from
    // the start would stop there (tolerate-tail refuses mid-file damage).
    let (at, was) = damage_line(s.path(), 1500);
    rt.block_on(async {
        s.append(Message::agent("after the re-run's point", "tts"))
            .await
            .unwrap();
        s.append(Message::user("and one more", "stt"))
            .await
            .unwrap();
        s.flush().await.unwrap();
    });
    let out = ship(&[&log, "--to", &url]);
    let e = stderr(&out);
    assert!(out.status.success(), "{e}");
    assert!(
        e.contains("2 messages shipped")
            && e.contains("0 already there")
            && e.contains("1 open sessions read from their last shipped record"),
        "{e}"
    );
    assert!(!e.contains("damage") && !e.contains("line 1500"), "{e}");
    assert_eq!(count(&url, "SELECT count(*) FROM convlog.messages"), 3002);
    let last: String = query(
        &url,
        "SELECT content FROM convlog.messages WHERE seq = 3002",
    )[0]
    .get(0);
    assert_eq!(last, "and one more");

    // Nothing new: still read from there, nothing shipped.
    let out = ship(&[&log, "--to", &url]);
    let e = stderr(&out);
    assert!(out.status.success(), "{e}");
    assert!(
        e.contains("0 messages shipped") && e.contains("1 open sessions read"),
        "{e}"
    );

    // The end, found after that point, is shipped (`end` refused the
    // damaged log, so the byte is put back first).
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(s.path())
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[was], at as u64).unwrap();
    rt.block_on(async { s.end().await.unwrap() });
    let out = ship(&[&log, "--to", &url]);
    let e = stderr(&out);
    assert!(out.status.success(), "{e}");
    assert!(e.contains("1 ended"), "{e}");
    assert_eq!(count(&url, "SELECT count(ended) FROM convlog.sessions"), 1);
}

#[test]
fn an_open_session_with_a_gap_in_the_database_is_read_whole_and_the_gap_filled() {
    let Some(url) = pg_url("resume_gap") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "resumegap"));
    let dir = tempfile::tempdir().unwrap();
    let s = rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        for i in 0..10 {
            s.append(Message::user(format!("message {i}"), "stt"))
                .await
                .unwrap();
        }
        s.flush().await.unwrap();
        s
    });
    let log = s.path().display().to_string();
    let good = std::fs::read(s.path()).unwrap();
    damage_line(s.path(), 3);
    let out = ship(&[&log, "--to", &url, "--recovery", "skip-corrupt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(count(&url, "SELECT count(*) FROM convlog.messages"), 9);

    // Restored: seq 10 is the last shipped record and is intact, but seq 2
    // is missing below it, so the log is read from the start.
    std::fs::write(s.path(), &good).unwrap();
    let out = ship(&[&log, "--to", &url]);
    let e = stderr(&out);
    assert!(out.status.success(), "{e}");
    assert!(
        e.contains("1 messages shipped") && e.contains("9 already there"),
        "{e}"
    );
    assert!(!e.contains("open sessions read"), "{e}");
    assert_eq!(count(&url, "SELECT count(*) FROM convlog.messages"), 10);
}
