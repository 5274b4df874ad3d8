//! Copies of one session (a backup beside the log, a log named through two
//! paths, copies that diverged) and gaps: identical records ship once,
//! differing ones are a conflict, and a gap an earlier run left is filled.

use std::process::{Command, Stdio};
use std::time::Duration;

use convlog::{Message, Session};

use super::harness::*;
use crate::util::stderr;

const SID: &str = "0123456789abcdef0123456789abcdef";

fn count(url: &str, sql: &str) -> i64 {
    query(url, sql)[0].get(0)
}

#[test]
fn identical_copies_of_a_session_ship_once_and_the_run_goes_on() {
    let Some(url) = pg_url("identical_copies") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "copies"));
    let dir = tempfile::tempdir().unwrap();
    let (log, other) = rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        for i in 0..5 {
            s.append(Message::user(format!("m{i}"), "stt"))
                .await
                .unwrap();
        }
        s.end().await.unwrap();
        let o = Session::create(dir.path()).unwrap();
        o.append(Message::agent("other", "tts")).await.unwrap();
        o.flush().await.unwrap();
        (s.path().to_path_buf(), o.path().to_path_buf())
    });
    // `cp -p LOG backup.jsonl` beside it.
    let backup = dir.path().join("backup.jsonl");
    assert!(
        Command::new("cp")
            .arg("-p")
            .arg(&log)
            .arg(&backup)
            .status()
            .unwrap()
            .success()
    );
    let d = dir.path().display().to_string();
    let out = ship(&[&d, "--to", &url]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.contains("6 messages shipped"), "{e}");
    assert!(
        e.contains(&format!("{}: session ", log.display()))
            && e.contains(&format!("is also in {}", backup.display()))
            && e.contains("identical records; shipped once"),
        "{e}"
    );
    // What else differs between the copies is said too: the file name here.
    assert!(e.contains("(log_name backup.jsonl there)"), "{e}");
    assert_eq!(count(&url, "SELECT count(*) FROM convlog.messages"), 6);
    assert_eq!(count(&url, "SELECT count(*) FROM convlog.sessions"), 2);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM convlog.sessions WHERE ended IS NOT NULL"
        ),
        1
    );
    let _ = other;

    // With --follow, in a fresh database: it keeps running and ships both.
    let url2 = rt.block_on(fresh_db(&url, "copies_follow"));
    let mut child = Command::new(BIN)
        .args(["ship", "--follow", "--quiet", "--to", &url2, &d])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(wait_for_rows(&rt, &url2, 6, Duration::from_secs(30)), 6);
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "--follow exited");
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // A copy on another machine, under another name, that goes on where the
    // shipped one stopped: its new record ships, and the run says how the
    // copies differ besides their records (the name, the host).
    let url3 = rt.block_on(fresh_db(&url, "copies_host"));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ts = "2025-08-18T14:30:22.000000+05:30";
    let mut lines = vec![header_line(SID, ts), message_line(1, ts, "\"one\"", "")];
    write_log(d1.path(), "a.jsonl", &lines);
    lines.push(message_line(2, ts, "\"two\"", ""));
    let b = write_log(d2.path(), "b.jsonl", &lines);
    let first = ship(&[
        &d1.path().display().to_string(),
        "--to",
        &url3,
        "--host",
        "w1",
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    let out = ship(&[
        &d2.path().display().to_string(),
        "--to",
        &url3,
        "--host",
        "w2",
    ]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.contains("1 messages shipped"), "{e}");
    assert!(
        e.contains(&format!(
            "{}: session {SID} is also in the database's copy (log_name a.jsonl, host w1)",
            b.display()
        )) && e.contains("(log_name a.jsonl there, host w1 there)"),
        "{e}"
    );
}

/// A's records 1–5, or B's: the same header and 1–3, then 4 and 5 differ
/// and B goes on to 7.
fn diverging(dir: &std::path::Path, name: &str, b: bool) -> std::path::PathBuf {
    let created = "2025-08-18T14:30:21.000312+05:30";
    let mut lines = vec![header_line(SID, created)];
    for seq in 1..=if b { 7 } else { 5 } {
        let text = if b && seq >= 4 {
            format!("\"B says {seq}\"")
        } else {
            format!("\"A says {seq}\"")
        };
        lines.push(message_line(
            seq,
            &format!("2025-08-18T14:30:{:02}.000000+05:30", 21 + seq),
            &text,
            "",
        ));
    }
    write_log(dir, name, &lines)
}

#[test]
fn diverging_copies_are_a_conflict_naming_both_files_and_the_first_differing_seq() {
    let Some(url) = pg_url("diverging_copies") else {
        return;
    };
    let rt = rt();

    // In one run: both files named, and the session is not extended from B.
    let url1 = rt.block_on(fresh_db(&url, "diverge1"));
    let dir = tempfile::tempdir().unwrap();
    let a = diverging(dir.path(), "a.jsonl", false);
    let b = diverging(dir.path(), "b.jsonl", true);
    let d = dir.path().display().to_string();
    let out = ship(&[&d, "--to", &url1]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains(&format!(
            "{}: session {SID}: conflict with {} at seq 4: the record differs",
            b.display(),
            a.display()
        )),
        "{e}"
    );
    assert!(e.contains("1 conflicting copies"), "{e}");
    let rows = query(
        &url1,
        "SELECT seq, content FROM convlog.messages ORDER BY seq",
    );
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let want: Vec<(i64, String)> = (1..=5).map(|s| (s, format!("A says {s}"))).collect();
    assert_eq!(got, want, "B's 6 and 7 are not added to A's session");

    // In two runs, B alone second: the database's copy is named with its
    // log_name and host; the header's created is compared too.
    let url2 = rt.block_on(fresh_db(&url, "diverge2"));
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    diverging(d1.path(), "a.jsonl", false);
    let b2 = diverging(d2.path(), "a.jsonl", true);
    let out = ship(&[
        &d1.path().display().to_string(),
        "--to",
        &url2,
        "--host",
        "w1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ship(&[
        &d2.path().display().to_string(),
        "--to",
        &url2,
        "--host",
        "w2",
    ]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains(&format!(
            "{}: session {SID}: conflict with the database's copy (log_name a.jsonl, host w1) at seq 4",
            b2.display()
        )),
        "{e}"
    );
    assert_eq!(count(&url2, "SELECT count(*) FROM convlog.messages"), 5);

    let d3 = tempfile::tempdir().unwrap();
    let c = write_log(
        d3.path(),
        "c.jsonl",
        &[header_line(SID, "2025-08-18T14:30:21.000313+05:30")],
    );
    let out = ship(&[&c.display().to_string(), "--to", &url2, "--host", "w1"]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains(
            "at seq 0: the header's created differs (2025-08-18T14:30:21.000313+05:30 in this log)"
        ),
        "{e}"
    );
}

#[test]
fn a_gap_left_by_skip_corrupt_is_filled_by_a_later_run() {
    let Some(url) = pg_url("skip_corrupt_gap") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "gap"));
    let dir = tempfile::tempdir().unwrap();
    let log = rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        for i in 0..10 {
            s.append(Message::user(format!("line {i}"), "stt"))
                .await
                .unwrap();
        }
        s.end().await.unwrap();
        s.path().to_path_buf()
    });
    let good = std::fs::read(&log).unwrap();
    // Flip one byte of seq 2's content (line 3).
    let mut bad = good.clone();
    let line3 = bad
        .split(|&b| b == b'\n')
        .take(2)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    let at = line3 + bad[line3..].iter().position(|&b| b == b'l').unwrap();
    bad[at] = b'L';
    std::fs::write(&log, &bad).unwrap();
    let l = log.display().to_string();
    let out = ship(&[&l, "--to", &url, "--recovery", "skip-corrupt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(count(&url, "SELECT count(*) FROM convlog.messages"), 9);
    assert_eq!(
        count(&url, "SELECT count(ended) FROM convlog.sessions"),
        0,
        "a session with a gap is not recorded ended"
    );

    std::fs::write(&log, &good).unwrap();
    let out = ship(&[&l, "--to", &url]);
    let e = stderr(&out);
    assert!(out.status.success(), "{e}");
    assert!(
        e.contains("1 messages shipped") && e.contains("9 already there"),
        "{e}"
    );
    let seqs: Vec<i64> = query(&url, "SELECT seq FROM convlog.messages ORDER BY seq")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    // Whole now: the next run does not read it again.
    let out = ship(&[&l, "--to", &url]);
    assert!(
        stderr(&out).contains("1 ended sessions already complete"),
        "{}",
        stderr(&out)
    );
}
