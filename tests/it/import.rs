//! The original files `convlog import` read stay the user's: `ls` shows them
//! as originals, and neither `compact` nor `export -o` replaces them.

use crate::util::convlog;
use std::path::Path;

/// An original with a field the documented export leaves out and a
/// timestamp with an offset: an export would lose both.
const ORIGINAL: &str = r#"{
  "conversation": [
    {
      "role": "user",
      "content": "नमस्कार",
      "timestamp": "2025-08-18T14:30:22.123456+05:30",
      "source": "deepgram_stt",
      "confidence": 0.93
    }
  ]
}"#;

fn import(dir: &Path, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let original = dir.join("conversation_20250818_143022.json");
    std::fs::write(&original, text).unwrap();
    let out = convlog().arg("import").arg(&original).output().unwrap();
    assert!(out.status.code().unwrap() <= 1, "{out:?}");
    (original, dir.join("conversation_20250818_143022.jsonl"))
}

#[test]
fn compact_never_replaces_an_imported_original() {
    let dir = tempfile::tempdir().unwrap();
    let (original, log) = import(dir.path(), ORIGINAL);
    let out = convlog().arg("compact").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kept original"), "{text}");
    assert_eq!(std::fs::read_to_string(&original).unwrap(), ORIGINAL);

    // ls says what the file is, in text and in JSON.
    let out = convlog()
        .args(["ls", "--color", "never"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("conversation_20250818_143022.json (original)"),
        "{text}"
    );
    let out = convlog()
        .args(["ls", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"original\""), "{text}");

    // An explicit -o onto it is refused too.
    for format in ["json", "markdown"] {
        let out = convlog()
            .arg("export")
            .arg(&log)
            .args(["--format", format, "-o"])
            .arg(&original)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("original"));
        assert_eq!(std::fs::read_to_string(&original).unwrap(), ORIGINAL);
    }
}

#[test]
fn an_original_that_round_trips_exactly_is_kept_too() {
    let dir = tempfile::tempdir().unwrap();
    let exact = ORIGINAL
        .replace("+05:30", "")
        .replace(",\n      \"confidence\": 0.93", "");
    let (original, _log) = import(dir.path(), &exact);
    let out = convlog().arg("compact").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept original"));
    assert_eq!(std::fs::read_to_string(&original).unwrap(), exact);
}

#[test]
fn compact_leaves_a_file_it_did_not_write_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = convlog()
        .args(["new", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let log = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let beside = log.with_extension("json");
    std::fs::write(&beside, "my notes").unwrap();
    let out = convlog().arg("compact").arg(&log).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a convlog export"));
    assert_eq!(std::fs::read_to_string(&beside).unwrap(), "my notes");
}
