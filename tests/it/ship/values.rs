//! Values a log holds that PostgreSQL cannot take as written: every record
//! still gets a row, the row keeps the record's line in `raw`, and the
//! rest of the session (its end included) ships.

use convlog::ship::tokio_postgres::Row;

use super::harness::*;
use crate::util::stderr;

const TS: &str = "2025-08-18T14:30:22.123456+05:30";

#[test]
fn records_postgresql_refuses_are_stored_encoded_and_the_rest_of_the_session_ships() {
    let Some(url) = pg_url("refused_records") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "values"));
    let dir = tempfile::tempdir().unwrap();
    let sid = "00000000000000000000000000000004";
    let lines = vec![
        header_line(sid, "2025-08-18T14:30:21.000312+05:30"),
        message_line(1, TS, r#""plain""#, ""),
        message_line(2, TS, r#""a\u0000b""#, ""),
        message_line(3, TS, r#""key""#, r#","meta":{"k\u0000":1}"#),
        message_line(4, TS, r#""value""#, r#","meta":{"k":"v\u0000"}"#),
        message_line(5, TS, r#""huge""#, r#","meta":{"n":1e+999999}"#),
        message_line(6, TS, r#""exponent""#, r#","meta":{"n":1e+5,"z":-0.0}"#),
        message_line(7, TS, r#""after""#, r#","meta":{"ok":[1.50,"x"]}"#),
        end_line(8, TS),
    ];
    let log = write_log(dir.path(), "values.jsonl", &lines);
    let out = ship(&[&log.display().to_string(), "--to", &url]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(
        e.contains("7 messages shipped") && e.contains("5 stored with their line in raw"),
        "{e}"
    );
    let rows: Vec<Row> = query(
        &url,
        "SELECT seq, content, meta::text, raw, crc FROM convlog.messages ORDER BY seq",
    );
    assert_eq!(rows.len(), 7);
    let raw: Vec<Option<String>> = rows.iter().map(|r| r.get(3)).collect();
    for (i, r) in raw.iter().enumerate() {
        let kept = (1..=5).contains(&i);
        assert_eq!(r.is_some(), kept, "raw of seq {}", i + 1);
        if kept {
            // The record's line exactly as in the log, newline aside.
            assert_eq!(r.as_deref(), Some(lines[i + 1].trim_end()));
        }
    }
    assert_eq!(rows[1].get::<_, String>(1), "a\u{FFFD}b");
    let meta: Vec<Option<String>> = rows.iter().map(|r| r.get(2)).collect();
    assert_eq!(meta[2], None, "jsonb refuses a NUL in a key");
    assert_eq!(meta[3], None, "jsonb refuses a NUL in a value");
    assert_eq!(meta[4], None, "numeric refuses 1e+999999");
    assert_eq!(meta[5].as_deref(), Some(r#"{"n": 100000, "z": 0.0}"#));
    assert_eq!(meta[6].as_deref(), Some(r#"{"ok": [1.50, "x"]}"#));
    for (r, line) in rows.iter().zip(&lines[1..]) {
        let crc = i64::from_str_radix(&line[8..16], 16).unwrap();
        assert_eq!(r.get::<_, i64>(4), crc, "the record's CRC is stored");
    }
    let ended: bool = query(&url, "SELECT ended IS NOT NULL FROM convlog.sessions")[0].get(0);
    assert!(ended, "the end record after them is shipped");
}

#[test]
fn times_postgresql_text_input_refuses_are_converted_and_their_text_kept() {
    let Some(url) = pg_url("refused_times") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "times"));
    let dir = tempfile::tempdir().unwrap();
    // (created, a message's ts, the end's ts, created as UTC micros from
    // 1970, kept created text, kept end text)
    let cases = [
        (
            "2025-08-18T14:30:21+16:00",
            "2025-08-18T14:30:22+16:00",
            "2025-08-18T10:00:00-16:30",
            1_755_469_821_000_000i64,
            true,
            true,
        ),
        (
            "2016-12-31T23:59:60.5Z",
            "2016-12-31T23:59:60.75Z",
            "2017-01-01T00:00:01Z",
            1_483_228_800_500_000,
            true,
            false,
        ),
        (
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:00:01Z",
            "0000-01-01T00:00:02Z",
            -62_167_219_200_000_000,
            false,
            false,
        ),
    ];
    let mut ids = Vec::new();
    for (i, (created, ts, end, ..)) in cases.iter().enumerate() {
        let sid = format!("{:032x}", 0x70 + i);
        write_log(
            dir.path(),
            &format!("t{i}.jsonl"),
            &[
                header_line(&sid, created),
                message_line(1, ts, "\"one\"", ""),
                message_line(2, ts, "\"two\"", ""),
                end_line(3, end),
            ],
        );
        ids.push(sid);
    }
    let out = ship(&[&dir.path().display().to_string(), "--to", &url]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{e}");
    assert!(e.contains("6 messages shipped"), "{e}");
    for (i, (created, ts, end, micros, keep_created, keep_end)) in cases.iter().enumerate() {
        let r = &rt.block_on(async {
            connect(&url)
                .await
                .query(
                    "SELECT (extract(epoch FROM created) * 1000000)::bigint, created_text,
                            ended IS NOT NULL, ended_text,
                            (SELECT count(*) FROM convlog.messages WHERE session_id = id),
                            (SELECT count(raw) FROM convlog.messages WHERE session_id = id)
                       FROM convlog.sessions WHERE id = $1",
                    &[&ids[i]],
                )
                .await
                .unwrap()
        })[0];
        assert_eq!(r.get::<_, i64>(0), *micros, "created of {created}");
        assert_eq!(
            r.get::<_, Option<String>>(1).as_deref(),
            keep_created.then_some(*created)
        );
        assert!(r.get::<_, bool>(2), "ended ({end})");
        assert_eq!(
            r.get::<_, Option<String>>(3).as_deref(),
            keep_end.then_some(*end)
        );
        assert_eq!(r.get::<_, i64>(4), 2, "both messages of {created}");
        // A leap second is the one message time the row cannot hold.
        let leap = ts.contains(":60");
        assert_eq!(r.get::<_, i64>(5), if leap { 2 } else { 0 }, "{ts}");
    }
}

/// What the database still refuses (here its own CHECK constraints, as a
/// DBA might add) is narrowed down to the record itself: a message, the end
/// record or the header (seq 0) is named by its own seq, what precedes it in
/// that session is shipped, and the other sessions are not held up.
#[test]
fn a_record_the_database_refuses_is_blamed_by_its_own_seq_and_the_rest_ships() {
    let Some(url) = pg_url("blamed_record") else {
        return;
    };
    let rt = rt();
    let url = rt.block_on(fresh_db(&url, "blame"));
    assert!(ship(&["--init", "--to", &url]).status.success());
    rt.block_on(async {
        connect(&url)
            .await
            .batch_execute(
                "ALTER TABLE convlog.messages ADD CONSTRAINT no_forbidden CHECK (content <> 'forbidden');
                 ALTER TABLE convlog.sessions ADD CONSTRAINT no_late_end CHECK (ended < '2030-01-01');
                 ALTER TABLE convlog.sessions ADD CONSTRAINT no_such_name CHECK (log_name <> 'refused.jsonl')",
            )
            .await
            .unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let late = "2031-01-01T00:00:00.000000Z";
    let logs = [
        (
            "a-message.jsonl",
            0xa1,
            vec!["\"one\"", "\"two\"", "\"forbidden\"", "\"four\""],
            TS,
        ),
        ("b-end.jsonl", 0xb1, vec!["\"one\"", "\"two\""], late),
        ("c-fine.jsonl", 0xc1, vec!["\"one\""], TS),
        ("refused.jsonl", 0xd1, vec!["\"one\""], TS),
    ];
    let mut ids = Vec::new();
    for (name, n, contents, end) in &logs {
        let sid = format!("{n:032x}");
        let mut lines = vec![header_line(&sid, TS)];
        for (i, c) in contents.iter().enumerate() {
            lines.push(message_line(i as u64 + 1, TS, c, ""));
        }
        lines.push(end_line(contents.len() as u64 + 1, end));
        write_log(dir.path(), name, &lines);
        ids.push(sid);
    }
    let d = dir.path().display().to_string();
    let out = ship(&[&d, "--to", &url]);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    let rejected = |name: &str, sid: &str, seq: u64, constraint: &str| {
        let want = format!(
            "{}: session {sid}, seq {seq}: rejected by the database:",
            dir.path().join(name).display()
        );
        let line = e.lines().find(|l| l.contains(&want));
        assert!(
            line.is_some_and(|l| l.contains(constraint)),
            "{name}: {want} … {constraint}: {e}"
        );
    };
    rejected("a-message.jsonl", &ids[0], 3, "no_forbidden");
    rejected("b-end.jsonl", &ids[1], 3, "no_late_end");
    rejected("refused.jsonl", &ids[3], 0, "no_such_name");
    let got = rt.block_on(async { all_contents(&connect(&url).await).await });
    let seqs = |i: usize| {
        got.get(&ids[i])
            .map(|m| m.keys().copied().collect::<Vec<_>>())
    };
    assert_eq!(
        seqs(0),
        Some(vec![1, 2]),
        "what precedes the refused message"
    );
    assert_eq!(
        seqs(1),
        Some(vec![1, 2]),
        "the messages before a refused end"
    );
    assert_eq!(seqs(2), Some(vec![1]), "another session is not held up");
    assert_eq!(seqs(3), None, "nothing of a session whose row is refused");
    let ended: Vec<(String, bool)> = query(
        &url,
        "SELECT id, ended IS NOT NULL FROM convlog.sessions ORDER BY id",
    )
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(
        ended,
        [
            (ids[0].clone(), false),
            (ids[1].clone(), false),
            (ids[2].clone(), true)
        ]
    );
}
