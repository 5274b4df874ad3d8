//! What the fuzz targets (fuzz/, README "Fuzzing") found, each kept as the
//! smallest input that showed it, run through the public API or the
//! command as a user meets it.

use convlog::Message;

use crate::util::{run, stderr, stdout};

/// `time` found: chrono reads a naive year with a sign or a fifth digit
/// (`-2025-…`, `+12025-…`), and the log would have stored it as a
/// timestamp that is not RFC 3339, a line every reader refuses. Such a
/// time is now refused where it is read, with the sentence every other
/// unreadable time gets.
const SIGNED_YEARS: [&str; 3] = [
    "-2025-08-18T14:30:22.2123408", // the fuzzer's input
    "+12025-08-18T14:30:22.200000",
    "-0001-12-31 23:59:59",
];

#[test]
fn an_ingest_line_with_a_signed_or_five_digit_year_is_refused_as_it_is_read() {
    for ts in SIGNED_YEARS {
        let line = format!(r#"{{"role":"user","content":"hi","source":"s","timestamp":"{ts}"}}"#);
        let err = Message::from_json(line.as_bytes())
            .expect_err(ts)
            .to_string();
        assert!(
            err.contains(&format!("timestamp {ts:?} is neither RFC 3339")),
            "{ts}: {err}"
        );
    }
    // A four-digit year at either end of the range still reads.
    for ts in ["0000-01-01T00:00:00", "9999-12-31T23:59:59.999999"] {
        let line = format!(r#"{{"role":"user","content":"hi","source":"s","timestamp":"{ts}"}}"#);
        let m = Message::from_json(line.as_bytes()).expect(ts);
        let stored = m.timestamp.expect("a timestamp");
        convlog::time::parse_ts(&stored).expect("stored as RFC 3339");
        assert!(stored.starts_with(ts), "{ts} -> {stored}");
    }
}

#[test]
fn an_import_with_a_signed_year_names_the_entry_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("conversation_20250818_143022.json");
    for ts in SIGNED_YEARS {
        let file = format!(
            r#"{{"conversation": [{{"role": "user", "content": "a", "timestamp": "2025-08-18T14:30:22.100000", "source": "s"}}, {{"role": "agent", "content": "b", "timestamp": "{ts}", "source": "s"}}]}}"#
        );
        std::fs::write(&original, file).unwrap();
        let out = run(&["import"], &[&original]);
        let err = stderr(&out);
        // Before: the writer refused the converted time, naming a hidden
        // temporary file and a timestamp the file never held.
        assert_eq!(out.status.code(), Some(1), "{}{err}", stdout(&out));
        assert!(
            err.contains("conversation_20250818_143022.json: conversation[1]: timestamp")
                && err.contains(&format!("{ts:?} is neither")),
            "{ts}: {err}"
        );
        assert!(!err.contains("/.conversation_"), "{err}");
        assert!(!original.with_extension("jsonl").exists());
    }
}
