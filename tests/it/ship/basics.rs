//! Shipping as a user first meets it: every field, shipping twice, bad input, two shippers.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use chrono::DateTime;
use convlog::{Message, Session};

use super::harness::*;
use crate::util::stderr;

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

        let before = every_row(&db).await;
        let again = ship(&args);
        assert!(again.status.success(), "{}", stderr(&again));
        assert!(
            stderr(&again).contains("0 messages shipped")
                && stderr(&again).contains(
                    "0 already there; 2 ended sessions already complete; 1 open sessions read from their last shipped record"
                ),
            "{}",
            stderr(&again)
        );
        assert_eq!(before, every_row(&db).await);
        assert_eq!(before.len(), 12);
    });
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

    // A file that is not a log and a damaged log: each reported, the rest
    // shipped, exit code 1. A record PostgreSQL cannot hold as written (a
    // NUL in content) is stored with its line in raw, and the rest follows.
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
    assert!(!e.contains("rejected by the database"), "{e}");
    assert!(e.contains("1 stored with their line in raw"), "{e}");
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
        ["fine", "nul \u{FFFD} inside", "after"],
        "the record with a NUL and everything after it are shipped"
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

/// Every message row with its session's row, as text, in order.
async fn every_row(db: &convlog::ship::tokio_postgres::Client) -> Vec<String> {
    let dump = "SELECT m.*::text, s.*::text FROM convlog.messages m
                  JOIN convlog.sessions s ON s.id = m.session_id ORDER BY 1";
    db.query(dump, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{}|{}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect()
}
