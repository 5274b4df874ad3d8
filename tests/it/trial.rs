//! What a new user met on a first trial of the command line (issue 22): the
//! torn-tail exit rule, a write past `ulimit -f`, importing compact or
//! blank-entry seed files, the backup verify names, stray files in a scanned
//! directory, and the sentences that point the way.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::util::{
    broken_files, convlog, convlog_command, corrupt_line, ingested, new_log, run, stderr, stdout,
    tear_tail,
};

/// A log of three messages, ended when `end`.
fn three(dir: &Path, end: bool) -> PathBuf {
    ingested(
        dir,
        &[
            ("user", "message 0", "2025-08-18T14:30:20.000000+05:30"),
            ("agent", "message 1", "2025-08-18T14:30:21.000000+05:30"),
            ("user", "message 2", "2025-08-18T14:30:22.000000+05:30"),
        ],
        end,
    )
}

// ------------------------------------------------------- torn-tail exit rule

#[test]
fn a_torn_tail_alone_is_exit_0_for_export_and_refresh_and_1_for_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let log = three(tmp.path(), false);
    tear_tail(&log);

    for args in [
        &["export"][..],
        &["export", "--recovery", "point-in-time"],
        &["export", "--recovery", "skip-corrupt"],
    ] {
        let out = run(args, &[&log]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains("message 2"), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("torn tail") && err.contains("line 5"),
            "{args:?}: {err}"
        );
    }
    // Into a file too.
    let out_file = tmp.path().join("out.json");
    let out = convlog()
        .arg("export")
        .arg(&log)
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("torn tail"));

    // `absolute` accepts no damage at all.
    let out = run(&["export", "--recovery", "absolute"], &[&log]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let out = run(&["refresh"], &[tmp.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("torn tail"), "{}", stderr(&out));
    assert!(log.with_extension("json").exists());

    // verify is the command that reports findings.
    let out = run(&["verify"], &[&log]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn mid_file_damage_passed_over_by_a_lenient_mode_stays_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let log = three(tmp.path(), true);
    corrupt_line(&log, 3);
    for mode in ["point-in-time", "skip-corrupt"] {
        let out = run(&["export", "--recovery", mode], &[&log]);
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", stderr(&out));
        assert!(stdout(&out).contains("message 0"), "{mode}");
    }
    // The default refuses it: nothing written, exit 1.
    let out = run(&["export"], &[&log]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let out = run(&["refresh"], &[tmp.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

// ------------------------------------------------------------------ SIGXFSZ

#[test]
fn a_write_past_ulimit_f_is_exit_2_with_a_sentence_not_a_signal() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    let big = "x".repeat(4000);
    let out = convlog()
        .args(["append", "--role", "user", "--source", "s"])
        .arg(&log)
        .arg(&big)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // `ulimit -f 2`: files may not grow past 2 KiB, in a child shell as a
    // user would meet it.
    let out_file = tmp.path().join("out.json");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("ulimit -f 2 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_convlog"))
        .arg("export")
        .arg(&log)
        .arg("-o")
        .arg(&out_file)
        .env("TZ", crate::util::TZ)
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), None, "killed by a signal: {out:?}");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("convlog: ") && err.contains("File too large"),
        "{err}"
    );
    assert!(err.contains(&out_file.display().to_string()), "{err}");
    assert!(!out_file.exists(), "a half-written export was left behind");

    // An append that would grow the log past the limit fails the same way.
    // (bash counts `ulimit -f` in KiB.) What the short write left is a torn
    // tail, which the next writer cuts, as after any failed write.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("ulimit -f 6 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_convlog"))
        .args(["append", "--role", "user", "--source", "s"])
        .arg(&log)
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), None, "killed by a signal: {out:?}");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("File too large"), "{}", stderr(&out));
    let report = convlog::read::inspect(&log).unwrap();
    assert_eq!(report.messages, 1);
    assert!(report.mid_file_damage().next().is_none(), "{report:?}");
    let out = convlog()
        .args(["append", "--role", "user", "--source", "s"])
        .arg(&log)
        .arg("after")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["verify"], &[&log]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

// ------------------------------------------------------------------- import

const SEED: &str = r#"{"conversation": [{"role": "user", "content": "नमस्कार, आप कैसे हैं?", "timestamp": "2025-08-18T14:30:22.123456", "source": "deepgram_stt"}, {"role": "agent", "content": "नमस्ते!", "timestamp": "2025-08-18T14:30:23.456789", "source": "cartesia_tts"}]}"#;

/// Writes `text` to `original` and imports it, which must exit with `code`.
fn import(original: &Path, text: &str, code: i32) -> std::process::Output {
    std::fs::write(original, text).unwrap();
    let out = run(&["import"], &[original]);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

#[test]
fn a_compact_seed_file_imports_with_exit_0_and_a_note_about_its_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("conversation_20250818_143022.json");
    let out = import(&original, SEED, 0);
    let err = stderr(&out);
    assert!(err.contains("layout"), "{err}");
    assert!(err.contains("2 messages"), "{err}");
    assert!(!stdout(&out).contains("differs"), "{}", stdout(&out));
    // The messages are the original's.
    let log = original.with_extension("jsonl");
    let exported = run(&["export"], &[&log]);
    let a: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_str(SEED).unwrap();
    assert_eq!(a, b);
}

#[test]
fn an_import_whose_messages_differ_is_still_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    // A timestamp with an offset: the export writes local wall-clock time.
    let original = tmp.path().join("conversation_20250818_143022.json");
    let out = import(
        &original,
        &SEED.replace("14:30:23.456789", "14:30:23.456789+00:00"),
        1,
    );
    assert!(stdout(&out).contains("differs"), "{}", stdout(&out));
}

#[test]
fn a_blank_content_entry_is_imported_as_the_original_showed_it() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("conversation_20250818_143022.json");
    let doc = json!({"conversation": [
        {"role": "user", "content": "Hello?", "timestamp": "2025-08-18T14:30:22.123456", "source": "deepgram_stt"},
        {"role": "agent", "content": " ", "timestamp": "2025-08-18T14:30:22.500000", "source": "cartesia_tts"},
        {"role": "agent", "content": "", "timestamp": "2025-08-18T14:30:22.600000", "source": "cartesia_tts"},
        {"role": "agent", "content": "Hi!", "timestamp": "2025-08-18T14:30:23.456789", "source": "cartesia_tts"}
    ]});
    // Written as the original design wrote it: json.dump(…, indent=2).
    let text = format!(
        "{{\n  \"conversation\": [\n{}\n  ]\n}}",
        doc["conversation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!(
                "    {{\n      \"role\": {},\n      \"content\": {},\n      \"timestamp\": {},\n      \"source\": {}\n    }}",
                e["role"], e["content"], e["timestamp"], e["source"]
            ))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    let out = import(&original, &text, 0);
    assert!(stdout(&out).contains("(4 messages)"), "{}", stdout(&out));
    assert!(stdout(&out).contains("conversation[1]"), "{}", stdout(&out));
    let log = original.with_extension("jsonl");
    let exported = run(&["export"], &[&log]);
    assert_eq!(exported.status.code(), Some(0));
    assert_eq!(String::from_utf8(exported.stdout).unwrap(), text);
    let out = run(&["verify"], &[&log]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

// ------------------------------------------------------------ verify advice

#[test]
fn verify_names_the_backup_the_repair_will_write() {
    let tmp = tempfile::tempdir().unwrap();
    let log = three(tmp.path(), false);
    tear_tail(&log);
    let first = run(&["verify"], &[&log]);
    let broken = format!("{}.broken", log.display());
    assert!(stdout(&first).contains(&broken), "{}", stdout(&first));
    let out = run(&["verify", "--repair"], &[&log]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Torn again: the next backup is LOG.broken.2, and verify says so.
    tear_tail(&log);
    let out = run(&["verify"], &[&log]);
    let text = stdout(&out);
    assert!(text.contains(&format!("{broken}.2")), "{text}");
    let json = run(&["verify", "--json"], &[&log]);
    assert!(
        stdout(&json).contains(&format!("{broken}.2")),
        "{}",
        stdout(&json)
    );
    let out = run(&["verify", "--repair"], &[&log]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        broken_files(&log),
        [PathBuf::from(&broken), PathBuf::from(format!("{broken}.2"))]
    );
}

// ------------------------------------------------- stray files in directories

#[test]
fn a_stray_non_log_in_a_scanned_directory_is_skipped_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let log = three(tmp.path(), true);
    let notes = tmp.path().join("notes.jsonl");
    std::fs::write(&notes, "{\"todo\": \"call back\"}\n").unwrap();
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    for cmd in ["ls", "verify", "stats", "refresh"] {
        let out = run(&[cmd], &[tmp.path()]);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("skipped {}", notes.display()))
                && err.contains("not a convlog log"),
            "{cmd}: {err}"
        );
        assert!(
            err.contains(&format!("skipped {}", empty.display())),
            "{cmd}: {err}"
        );
        if cmd != "refresh" {
            assert!(stdout(&out).contains(&log.display().to_string()), "{cmd}");
        }
    }
    // Named explicitly, it is an error.
    for cmd in ["ls", "verify", "stats", "refresh"] {
        let out = run(&[cmd], &[&notes]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        assert!(stderr(&out).contains("not a convlog log"), "{cmd}");
    }
}

#[test]
fn a_log_whose_every_line_is_damaged_is_not_skipped_as_a_stray() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    // Only the header, and it is damaged: still a convlog file, so an error.
    corrupt_header(&log);
    let out = run(&["verify"], &[tmp.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

fn corrupt_header(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap();
    std::fs::write(log, text.replacen("\"session\"", "\"sessiom\"", 1)).unwrap();
}

// ---------------------------------------------------- sentences that point

#[test]
fn export_of_a_directory_points_to_refresh() {
    let tmp = tempfile::tempdir().unwrap();
    three(tmp.path(), true);
    let out = run(&["export"], &[tmp.path()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("convlog refresh {}", tmp.path().display())),
        "{err}"
    );
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn a_log_under_a_path_through_a_file_says_the_file_is_not_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let afile = tmp.path().join("afile");
    std::fs::write(&afile, "x").unwrap();
    let out = convlog_command()
        .args(["new", "--dir"])
        .arg(afile.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{} is not a directory", afile.display())),
        "{err}"
    );
    // The library says the same to any caller (the Python binding included).
    let e = convlog::Session::create(afile.join("sub").join("deeper")).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("{} is not a directory", afile.display())),
        "{e}"
    );
    // And a file where the directory itself should be.
    let e = convlog::Session::create(&afile).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("{} is not a directory", afile.display())),
        "{e}"
    );
}

// ------------------------------------------------------------------- ship

/// `convlog ship` follows the same rule as export: a torn tail alone is
/// exit 0 and a note; the records before it are shipped.
#[cfg(feature = "postgres")]
#[test]
fn ship_notes_a_torn_tail_and_exits_0() {
    use convlog::ship::tokio_postgres::{self, NoTls};
    let url = match std::env::var("CONVLOG_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            crate::util::skip(
                "trial::ship_notes_a_torn_tail_and_exits_0",
                "CONVLOG_TEST_PG_URL is not set (source .ci/postgres.sh to start a throwaway PostgreSQL)",
            );
            return;
        }
    };
    let db = format!("convlog_trial_torn_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sql = |q: String| {
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client.batch_execute(&q).await.unwrap();
        })
    };
    sql(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    sql(format!("CREATE DATABASE {db}"));
    let (base, _) = url.rsplit_once('/').unwrap();
    let to = format!("{base}/{db}");

    let tmp = tempfile::tempdir().unwrap();
    let log = three(tmp.path(), false);
    tear_tail(&log);
    let out = convlog_command()
        .arg("ship")
        .arg(tmp.path())
        .args(["--to", &to])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("torn tail") && err.contains("line 5"), "{err}");
    assert!(err.contains("3 messages shipped"), "{err}");
    // Under absolute it is refused: exit 1.
    let out = convlog_command()
        .arg("ship")
        .arg(tmp.path())
        .args(["--to", &to, "--recovery", "absolute"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    sql(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
