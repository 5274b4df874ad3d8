//! The issue's smaller promises, each against the real server: a log whose
//! file name is not UTF-8 is shipped and said, a torn tail in a one-pass
//! run is said (and shipped once whole), and a `sessions` table whose
//! `ended` cannot take NULL is refused before anything is written.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::harness::*;
use crate::util::stderr;

const TS: &str = "2025-08-18T14:30:22.123456+05:30";

#[test]
fn a_log_whose_name_is_not_utf8_is_shipped_and_said_with_its_exact_name() {
    let Some(url) = pg_url("non_utf8_name") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "names"));
    let dir = tempfile::tempdir().unwrap();
    let sid = "000000000000000000000000000000e9";
    let plain = write_log(
        dir.path(),
        "plain.jsonl",
        &[
            header_line(sid, TS),
            message_line(1, TS, "\"bonjour\"", ""),
            end_line(2, TS),
        ],
    );
    let odd = dir
        .path()
        .join(OsStr::from_bytes(b"conversation_caf\xe9.jsonl"));
    std::fs::rename(&plain, &odd).unwrap();
    let d = dir.path().display().to_string();
    let out = ship(&[&d, "--to", &url]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.contains("1 messages shipped"), "{e}");
    assert_eq!(
        e.matches(r#"(exactly "conversation_caf\xE9.jsonl")"#)
            .count(),
        1,
        "said once, with the exact bytes: {e}"
    );
    let r = &query(
        &url,
        "SELECT log_name, ended IS NOT NULL FROM convlog.sessions",
    )[0];
    assert_eq!(r.get::<_, String>(0), "conversation_caf\u{FFFD}.jsonl");
    assert!(r.get::<_, bool>(1));
    let content: String = query(&url, "SELECT content FROM convlog.messages")[0].get(0);
    assert_eq!(content, "bonjour");
}

#[test]
fn a_torn_tail_in_a_one_pass_run_is_said_and_shipped_once_whole() {
    let Some(url) = pg_url("torn_tail_note") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "torn"));
    let dir = tempfile::tempdir().unwrap();
    let sid = "0000000000000000000000000000070a";
    let whole = [
        header_line(sid, TS),
        message_line(1, TS, "\"one\"", ""),
        message_line(2, TS, "\"two\"", ""),
    ];
    let third = message_line(3, TS, "\"three\"", "");
    let log = write_log(dir.path(), "torn.jsonl", &whole);
    let start = std::fs::metadata(&log).unwrap().len();
    // Half of the third line: a write in flight, or one a crash cut off.
    let half = &third.as_bytes()[..third.len() / 2];
    let f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut &f, half).unwrap();
    let l = log.display().to_string();
    let out = ship(&[&l, "--to", &url]);
    let e = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing acknowledged is lost: {e}"
    );
    assert!(
        e.contains(&format!(
            "{l}: line 4 (byte {start}): a torn tail of {} bytes",
            half.len()
        )) && e.contains("was not shipped"),
        "{e}"
    );
    assert!(e.contains("2 messages shipped"), "{e}");

    // Once whole, a later run ships it and says nothing of a tail.
    std::io::Write::write_all(&mut &f, &third.as_bytes()[half.len()..]).unwrap();
    let out = ship(&[&l, "--to", &url]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(
        e.contains("1 messages shipped") && !e.contains("torn tail"),
        "{e}"
    );
    let seqs: Vec<i64> = query(&url, "SELECT seq FROM convlog.messages ORDER BY seq")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
}

#[test]
fn a_sessions_table_whose_ended_cannot_be_null_is_refused() {
    let Some(url) = pg_url("ended_not_null") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "ended_nn"));
    assert!(ship(&["--init", "--to", &url]).status.success());
    rt.block_on(async {
        connect(&url)
            .await
            .batch_execute("ALTER TABLE convlog.sessions ALTER COLUMN ended SET NOT NULL")
            .await
            .unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    write_log(
        dir.path(),
        "open.jsonl",
        &[
            header_line("000000000000000000000000000000ee", TS),
            message_line(1, TS, "\"hi\"", ""),
        ],
    );
    let out = ship(&[&dir.path().display().to_string(), "--to", &url]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("table convlog.sessions has the wrong schema: column ended is NOT NULL, but must take NULL"),
        "{e}"
    );
    let rows: i64 = query(&url, "SELECT count(*) FROM convlog.messages")[0].get(0);
    assert_eq!(rows, 0, "refused before anything is written");
}
