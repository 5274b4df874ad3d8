//! What `ingest` accepts and how it says what it rejects: naive timestamps
//! (the original design's), clear parse errors, and `meta` kept exactly.

use crate::util::{convlog, new_log};
use std::path::Path;

fn ingest(log: &Path, input: &str) -> std::process::Output {
    convlog()
        .arg("ingest")
        .arg(log)
        .write_stdin(input)
        .output()
        .unwrap()
}

#[test]
fn naive_timestamps_are_local_time_as_import_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let out = ingest(
        &log,
        "{\"role\":\"user\",\"content\":\"hi\",\"source\":\"s\",\"timestamp\":\"2025-08-18T14:30:22.123456\"}\n\
         {\"role\":\"agent\",\"content\":\"yo\",\"source\":\"s\",\"timestamp\":\"2025-08-18T14:30:23\"}\n",
    );
    assert!(out.status.success(), "{out:?}");
    let export = convlog().arg("export").arg(&log).output().unwrap();
    let text = String::from_utf8(export.stdout).unwrap();
    assert!(
        text.contains("\"timestamp\": \"2025-08-18T14:30:22.123456\""),
        "{text}"
    );
    assert!(
        text.contains("\"timestamp\": \"2025-08-18T14:30:23.000000\""),
        "{text}"
    );
}

#[test]
fn a_bad_timestamp_says_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let out = ingest(
        &log,
        "{\"role\":\"user\",\"content\":\"hi\",\"source\":\"s\",\"timestamp\":\"later\"}\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdin line 1"), "{err}");
    assert!(err.contains("\"later\""), "{err}");
    assert!(err.contains("2025-08-18T14:30:22.123456"), "{err}");
}

#[test]
fn append_rejecting_a_naive_timestamp_says_the_offset_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let out = convlog()
        .arg("append")
        .arg(&log)
        .args(["--role", "user", "--source", "s"])
        .args(["--timestamp", "2025-08-18T14:30:22.123456", "hi"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("offset is missing"), "{err}");
}

#[test]
fn parse_errors_say_what_each_line_must_be_and_give_one_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    for (input, detail) in [
        ("[1,2,3]", "not a JSON object"),
        ("\"hello\"", "not a JSON object"),
        (
            "{\"role\":\"user\",\"content\":\"hi\"}",
            "missing field `source`",
        ),
        (
            "{\"role\":\"user\",\"content\":\"hi\",\"source\":7}",
            "source",
        ),
        (
            "{\"role\":\"user\",\"content\":\"hi\",\"source\":\"s\"",
            "EOF",
        ),
    ] {
        let out = ingest(&log, &format!("\n{input}\n"));
        assert_eq!(out.status.code(), Some(1), "{input}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("each line must be a JSON object with role, content, source"),
            "{input}: {err}"
        );
        assert!(err.contains(detail), "{input}: {err}");
        assert!(err.contains("stdin line 2"), "{input}: {err}");
        assert_eq!(err.matches("line").count(), 2, "{input}: {err}");
    }
}

fn last_record(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines().last().unwrap().to_string()
}

/// Each value as it was given (key order is the log's own: sorted).
fn assert_meta_kept(line: &str) {
    for kv in [
        r#""c":0.9299999999999999"#,
        r#""big":123456789012345678901234567890"#,
        // serde_json spells an exponent e+N: the same number.
        r#""e":1e+5"#,
        r#""x":1.50"#,
    ] {
        assert!(line.contains(kv), "{kv} not in {line}");
    }
}

const META: &str =
    r#"{"c":0.9299999999999999,"big":123456789012345678901234567890,"e":1e5,"x":1.50}"#;

#[test]
fn ingest_keeps_meta_numbers_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let out = ingest(
        &log,
        &format!("{{\"role\":\"user\",\"content\":\"hi\",\"source\":\"s\",\"meta\":{META}}}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert_meta_kept(&last_record(&log));
}

#[test]
fn append_keeps_meta_numbers_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let out = convlog()
        .arg("append")
        .arg(&log)
        .args(["--role", "user", "--source", "s", "--meta", META, "hi"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_meta_kept(&last_record(&log));
}

#[test]
fn import_keeps_extra_numbers_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("conversation_20250818_143022.json");
    std::fs::write(
        &original,
        r#"{"conversation": [{"role": "user", "content": "hi", "timestamp": "2025-08-18T14:30:22.123456", "source": "s", "confidence": 0.9299999999999999, "id": 123456789012345678901234567890}]}"#,
    )
    .unwrap();
    let out = convlog().arg("import").arg(&original).output().unwrap();
    assert!(out.status.code().unwrap() <= 1, "{out:?}");
    let text =
        std::fs::read_to_string(dir.path().join("conversation_20250818_143022.jsonl")).unwrap();
    assert!(text.contains("0.9299999999999999"), "{text}");
    assert!(text.contains("123456789012345678901234567890"), "{text}");
}

#[test]
fn a_rejected_line_names_the_log_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let out = ingest(
        &log,
        "{\"role\":\"user\",\"content\":\"x\",\"source\":\"s\",\"meta\":[1]}\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("stdin line 1: rejected: `meta` must be a JSON object"),
        "{err}"
    );
    let name = log.file_name().unwrap().to_str().unwrap();
    assert_eq!(err.matches(name).count(), 1, "{err}");
}
