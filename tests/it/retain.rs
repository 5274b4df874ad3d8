//! `convlog prune` and `convlog forget`: what they remove, what they keep,
//! and that bad input removes nothing. The database parts run against a
//! real PostgreSQL (`CONVLOG_TEST_PG_URL`) and skip without one.

use std::path::{Path, PathBuf};

use convlog::{Message, Session};

use crate::util::{entries, quiet, run, stderr, stdout};

/// An ended session whose last record is at `end` (RFC 3339), with its
/// export, the export's stamp and a `.broken` file beside it.
fn old_session(dir: &Path, end: &str) -> (PathBuf, String) {
    let s = Session::create_with(dir, quiet().export_on_end(true)).unwrap();
    s.append_blocking(Message::user("call me on 9876543210", "stt").timestamp(end))
        .unwrap();
    s.end_at_blocking(end).unwrap();
    let log = s.path().to_path_buf();
    std::fs::write(format!("{}.broken", log.display()), b"torn").unwrap();
    (log, s.id().to_string())
}

#[test]
fn prune_removes_whole_old_ended_sessions_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = old_session(dir.path(), "2020-01-05T10:00:00.000000+05:30");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (recent, _) = old_session(dir.path(), &convlog::time::now_rfc3339());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Not ended: a writer may be between two batches.
    let open = Session::create_with(dir.path(), quiet()).unwrap();
    open.append_blocking(Message::user("hello", "stt").timestamp("2020-01-01T00:00:00+00:00"))
        .unwrap();
    // A copy or restore makes an old log's mtime new: the age is the records'.
    let before = entries(dir.path());
    assert!(
        before.iter().any(|n| n.ends_with(".json.stamp")),
        "{before:?}"
    );

    let out = run(
        &["prune", "--older-than", "30d", "--dry-run"],
        &[dir.path()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("would remove"), "{}", stdout(&out));
    assert_eq!(entries(dir.path()), before, "--dry-run removes nothing");

    let out = run(&["prune", "--older-than", "30d"], &[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("removed {}", old.display())),
        "{text}"
    );
    assert!(text.contains("not ended"), "{text}");
    let name = old.file_stem().unwrap().to_string_lossy().into_owned();
    let left = entries(dir.path());
    assert!(!left.iter().any(|n| n.contains(&name)), "{left:?}");
    assert!(recent.exists() && open.path().exists());
    assert!(recent.with_extension("json").exists());
}

#[test]
fn prune_with_bad_input_exits_2_and_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    old_session(dir.path(), "2020-01-05T10:00:00+00:00");
    let before = entries(dir.path());
    for age in ["30", "thirty days", "30y", "-1d", ""] {
        let out = run(&["prune", "--older-than", age], &[dir.path()]);
        assert_eq!(out.status.code(), Some(2), "{age}: {}", stderr(&out));
    }
    // A directory that is not a convlog directory, given with a good one.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("notes.txt"), "mine").unwrap();
    let out = run(
        &["prune", "--older-than", "1d"],
        &[dir.path(), other.path()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a convlog directory"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &["prune", "--older-than", "1d"],
        &[&dir.path().join("missing")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(entries(dir.path()), before);
    assert_eq!(entries(other.path()), ["notes.txt"]);
}

#[test]
fn forget_erases_a_session_by_id_and_prints_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let (log, id) = old_session(dir.path(), "2024-03-01T09:00:00+00:00");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (keep, _) = old_session(dir.path(), "2024-03-01T09:00:00+00:00");
    let out = run(&["forget", &id, "--json"], &[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["sessions"][0]["session"], id.as_str());
    let files = receipt["sessions"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), 4, "{files:?}"); // log, export, stamp, .broken
    assert!(receipt["forgotten_at"].as_str().unwrap().ends_with('Z'));
    assert!(!log.exists() && keep.exists());
    // Again: nothing to erase is a finding.
    let out = run(&["forget", &id], &[dir.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // No id at all is a usage error.
    let out = run(&["forget"], &[dir.path()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn forget_deletes_the_rows_and_prune_requires_them_shipped() {
    let Some(url) = crate::ship::harness::pg_url("forget_deletes_the_rows") else {
        return;
    };
    let rt = crate::ship::harness::rt();
    let db = rt.block_on(crate::ship::harness::fresh_db(&url, "forget"));
    let dir = tempfile::tempdir().unwrap();
    let (a, id_a) = old_session(dir.path(), "2020-01-05T10:00:00+00:00");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (b, id_b) = old_session(dir.path(), "2020-01-05T10:00:00+00:00");
    // Only `a` is shipped: prune --require-shipped keeps `b`.
    let out = run(&["ship", "--to", &db, "--quiet"], &[&a]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(
        &["prune", "--older-than", "30d", "--require-shipped", &db],
        &[dir.path()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!a.exists() && b.exists(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("0 of its 1 records"),
        "{}",
        stdout(&out)
    );
    // forget --to: `a`'s rows (its files are gone) and `b`'s files and rows.
    // ship --redact: the database gets the redacted text; the log keeps its own.
    let out = run(
        &["ship", "--to", &db, "--quiet", "--redact", "phone"],
        &[&b],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shipped: String = rt.block_on(async {
        let c = crate::ship::harness::connect(&db).await;
        let row = c
            .query_one(
                "SELECT content FROM convlog.messages WHERE session_id = $1",
                &[&id_b],
            )
            .await
            .unwrap();
        row.get(0)
    });
    assert_eq!(shipped, "call me on [PHONE]");
    let out = run(&["forget", &id_a, &id_b, "--to", &db], &[dir.path()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("session {id_a}"))
            && text.contains("deleted 1 message row(s) and 1 session row(s)"),
        "{text}"
    );
    assert!(!b.exists());
    let left: i64 = rt.block_on(async {
        let c = crate::ship::harness::connect(&db).await;
        c.query_one("SELECT count(*) FROM convlog.messages", &[])
            .await
            .unwrap()
            .get(0)
    });
    assert_eq!(left, 0);
}

#[test]
fn prune_never_removes_a_session_being_written() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = old_session(dir.path(), "2020-01-05T10:00:00+00:00");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // A live writer whose records are all years old: by age alone it is
    // due, and it takes and releases the lock for every message.
    let live = Session::create_with(dir.path(), quiet()).unwrap();
    let log = live.path().to_path_buf();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let (live, stop) = (live.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                live.append_blocking(
                    Message::user(format!("message {n}"), "stt")
                        .timestamp("2020-01-01T00:00:00+00:00"),
                )
                .unwrap();
                n += 1;
            }
            n
        })
    };
    for _ in 0..5 {
        let out = run(&["prune", "--older-than", "30d"], &[dir.path()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(log.exists(), "{}", stdout(&out));
        assert!(!stdout(&out).contains(&format!("removed {}", log.display())));
    }
    assert!(!old.exists(), "the ended one goes");
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    let report = convlog::read::inspect(&log).unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(
        report.messages, written,
        "every acknowledged append is there"
    );

    // The library call checks under the lock too, whatever its caller read.
    match convlog::retain::remove_session(&log) {
        Err(convlog::retain::Kept::NotEnded) => {}
        other => panic!("{other:?}"),
    }
    assert!(log.exists());
    // Once ended (and older than the age) it goes, with its export.
    live.end_at_blocking("2020-01-01T00:00:01+00:00").unwrap();
    drop(live);
    let out = run(&["prune", "--older-than", "30d"], &[dir.path()]);
    assert!(
        stdout(&out).contains(&format!("removed {}", log.display())),
        "{}",
        stdout(&out)
    );
    assert!(!log.exists());
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}
