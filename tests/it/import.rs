//! `convlog import`: files the original design wrote come in with their
//! wall-clock times and extra fields and export back byte for byte; bad input
//! is named by file, entry and reason; and the originals stay the user's:
//! `ls` shows them as originals, and neither `compact` nor `export -o`
//! replaces them.

use std::path::{Path, PathBuf};

use std::process::Command as StdCommand;

use serde_json::Value;

use crate::util::{convlog, entries, export, json_lines, run, stderr, stdout};

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

// ------------------------------------------------------------ round trip

/// The original design's code (original-design.md): `setup_conversation_log`
/// and the body of `_log_stt_message` / `_log_tts_message`, which read the
/// whole file, append one message and `json.dump(..., ensure_ascii=False,
/// indent=2)` it back. Extra messages with fixed times come from argv.
const ORIGINAL_DESIGN_PY: &str = r#"
import datetime, json, os, sys

def setup_conversation_log(base):
    log_dir = os.path.join(base, "conversations")
    os.makedirs(log_dir, exist_ok=True)
    timestamp = datetime.datetime.now().strftime("%Y%m%d_%H%M%S")
    log_path = os.path.join(log_dir, f"conversation_{timestamp}.json")
    with open(log_path, "w", encoding="utf-8") as f:
        json.dump({"conversation": []}, f, ensure_ascii=False, indent=2)
    return log_path

def log_message(log_file, role, text, source, now=None):
    with open(log_file, "r", encoding="utf-8") as f:
        data = json.load(f)
    message = {
        "role": role,
        "content": text,
        "timestamp": (now or datetime.datetime.now()).isoformat(),
        "source": source,
    }
    data["conversation"].append(message)
    with open(log_file, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)

path = setup_conversation_log(sys.argv[1])
log_message(path, "user", "नमस्कार, आप कैसे हैं?", "deepgram_stt")
log_message(path, "agent", "नमस्ते! मैं ठीक हूँ, धन्यवाद।", "cartesia_tts")
log_message(path, "agent", "आपका दिन कैसा जा रहा है?", "cartesia_tts")
log_message(path, "user", "Hello, how are you? \"quoted\" back\\slash\ttab\nnew line \x01 \u2028 😀", "deepgram_stt")
log_message(path, "agent", "ठीक है। ₹2,400 per night — शुभ यात्रा! 🙏", "cartesia_tts")
for arg in sys.argv[2:]:
    log_message(path, "user", "fixed time " + arg, "deepgram_stt", datetime.datetime.fromisoformat(arg))
print(path)
"#;

/// Runs the original design's Python in `dir`; `None` when python3 is
/// missing (a skip, through the one gate).
fn original_file(dir: &Path, fixed_times: &[&str], tz: Option<&str>) -> Option<PathBuf> {
    let script = dir.join("original_design.py");
    std::fs::write(&script, ORIGINAL_DESIGN_PY).unwrap();
    let mut cmd = StdCommand::new("python3");
    cmd.arg(&script).arg(dir).args(fixed_times);
    if let Some(tz) = tz {
        cmd.env("TZ", tz);
    }
    match cmd.output() {
        Ok(out) if out.status.success() => {
            Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
        }
        Ok(out) => panic!("python3 failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => {
            crate::util::skip(
                "the import round trip",
                &format!("python3 is not available ({e})"),
            );
            None
        }
    }
}

fn import_files(files: &[&Path], tz: Option<&str>) -> std::process::Output {
    let mut c = convlog();
    c.arg("import").args(files);
    if let Some(tz) = tz {
        c.env("TZ", tz);
    }
    c.output().unwrap()
}

#[test]
fn import_then_export_reproduces_the_original_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(original) = original_file(tmp.path(), &[], None) else {
        return;
    };
    let bytes = std::fs::read(&original).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("नमस्कार"));
    let out = import_files(&[&original], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(5 messages)"), "{stdout}");
    assert!(
        stdout.contains("reproduces the original byte for byte"),
        "{stdout}"
    );
    let log = original.with_extension("jsonl");
    assert_eq!(export(&log, &[]), bytes);
    // The original was not touched.
    assert_eq!(std::fs::read(&original).unwrap(), bytes);

    // The log is a real, ended, intact convlog log, written 0600.
    use std::os::unix::fs::PermissionsExt;
    let report = convlog::read::inspect(&log).unwrap();
    assert!(report.ended && report.is_intact());
    assert_eq!(report.messages, 5);
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The original sits where the log's export goes: compact leaves it alone.
    convlog()
        .arg("compact")
        .arg(&log)
        .assert()
        .success()
        .stdout(predicates::str::contains("kept original"));
    assert_eq!(std::fs::read(&original).unwrap(), bytes);
    // Nothing else was left in the directory (no temporary files): the log,
    // the original and the stamp that marks it as the original.
    let mut names: Vec<String> = std::fs::read_dir(original.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let stem = log.file_stem().unwrap().to_str().unwrap();
    assert_eq!(
        names,
        [
            format!(".{stem}.json.stamp"),
            format!("{stem}.json"),
            format!("{stem}.jsonl")
        ],
        "{names:?}"
    );
}

#[test]
fn import_keeps_wall_clock_times_in_any_time_zone() {
    // Naive times are local: in New York, 2025-03-09T02:30 never happened (DST
    // gap) and 2025-11-02T01:30 happened twice; both must still round-trip.
    for tz in ["Asia/Kolkata", "America/New_York", "UTC"] {
        let tmp = tempfile::tempdir().unwrap();
        let Some(original) = original_file(
            tmp.path(),
            &["2025-03-09T02:30:00.250000", "2025-11-02T01:30:00.500000"],
            Some(tz),
        ) else {
            return;
        };
        let out = import_files(&[&original], Some(tz));
        assert!(
            out.status.success(),
            "{tz}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = original.with_extension("jsonl");
        assert_eq!(export(&log, &[]), std::fs::read(&original).unwrap(), "{tz}");
    }
}

#[test]
fn zero_microseconds_are_the_one_documented_exception() {
    let tmp = tempfile::tempdir().unwrap();
    // Python's isoformat() leaves out the fraction when microseconds are 0.
    let Some(original) = original_file(tmp.path(), &["2025-08-18T14:30:22"], None) else {
        return;
    };
    let bytes = String::from_utf8(std::fs::read(&original).unwrap()).unwrap();
    assert!(bytes.contains("\"timestamp\": \"2025-08-18T14:30:22\""));
    let out = import_files(&[&original], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("the timestamp of conversation[5] gains .000000"),
        "{stdout}"
    );
    // The export is the original with exactly that fraction added.
    let exported = String::from_utf8(export(&original.with_extension("jsonl"), &[])).unwrap();
    assert_eq!(
        exported,
        bytes.replace(
            "\"timestamp\": \"2025-08-18T14:30:22\"",
            "\"timestamp\": \"2025-08-18T14:30:22.000000\""
        )
    );
    assert_ne!(exported, bytes);
}

// ------------------------------------------------------------ bad input

fn original(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

const GOOD: &str = "{\n  \"conversation\": [\n    {\n      \"role\": \"user\",\n      \"content\": \"नमस्कार\",\n      \"timestamp\": \"2025-08-18T14:30:22.123456\",\n      \"source\": \"deepgram_stt\"\n    }\n  ]\n}";

#[test]
fn import_names_the_file_entry_and_reason_of_malformed_input() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bad_role = original(
        d,
        "bad_role.json",
        r#"{"conversation": [{"role":"user","content":"a","timestamp":"2025-08-18T14:30:22.1","source":"s"},
                            {"role":"bot","content":"b","timestamp":"2025-08-18T14:30:23.1","source":"s"}]}"#,
    );
    let out = run(&["import"], &[&bad_role]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}: conversation[1]: invalid role \"bot\"",
            bad_role.display()
        )),
        "{err}"
    );

    let cases = [
        ("not_json.json", "{\"conversation\": [", "not valid JSON"),
        (
            "no_key.json",
            "{\"messages\": []}",
            "no \"conversation\" key",
        ),
        (
            "bad_ts.json",
            r#"{"conversation": [{"role":"user","content":"a","timestamp":"noon","source":"s"}]}"#,
            "conversation[0]: timestamp \"noon\"",
        ),
        (
            "no_source.json",
            r#"{"conversation": [{"role":"user","content":"a","timestamp":"2025-08-18T14:30:22"}]}"#,
            "conversation[0]: `source` is missing",
        ),
    ];
    for (name, body, want) in cases {
        let p = original(d, name, body);
        let out = run(&["import"], &[&p]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains(want), "{name}: {err}");
    }
    // Nothing was written for any rejected file: no logs, no temporary files.
    assert!(
        entries(d).iter().all(|n| n.ends_with(".json")),
        "{:?}",
        entries(d)
    );

    // A good file among bad ones is still imported; the exit code says 1.
    let good = original(d, "good.json", GOOD);
    let out = run(&["import"], &[&bad_role, &good]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("byte for byte"), "{}", stdout(&out));
    assert!(d.join("good.jsonl").exists());

    let out = run(&["import"], &[&d.join("absent.json")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("absent.json"));
}

#[test]
fn import_refuses_to_overwrite_a_log() {
    let tmp = tempfile::tempdir().unwrap();
    let good = original(tmp.path(), "conversation_20250818_143022.json", GOOD);
    let out = run(&["import"], &[&good]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = good.with_extension("jsonl");
    let before = std::fs::read(&log).unwrap();
    let again = run(&["import"], &[&good]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists; refusing to overwrite it"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&log).unwrap(), before);
    // The original, the log and the stamp marking the original as such.
    assert_eq!(entries(tmp.path()).len(), 3);

    // The imported session spans its messages and is ended.
    let v = json_lines(&stdout(&run(&["ls", "--json"], &[&log])));
    assert_eq!(v[0]["state"], "ended");
    // The file beside the log is the user's original, which is never replaced.
    assert_eq!(v[0]["export"]["state"], "original");
    assert!(
        v[0]["start"]
            .as_str()
            .unwrap()
            .starts_with("2025-08-18T14:30:22.123456"),
        "{}",
        v[0]
    );
    assert_eq!(
        v[0]["stop"].as_str().unwrap(),
        "2025-08-18T14:30:22.123456+05:30"
    );
}

#[test]
fn import_keeps_extra_fields_in_meta_and_says_the_export_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let p = original(
        tmp.path(),
        "extra.json",
        "{\n  \"conversation\": [\n    {\n      \"role\": \"agent\",\n      \"content\": \"hi\",\n      \"timestamp\": \"2025-08-18T14:30:22.123456\",\n      \"source\": \"tts\",\n      \"latency_ms\": 412\n    }\n  ]\n}",
    );
    let out = run(&["import"], &[&p]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("extra field(s) latency_ms are kept in `meta`"),
        "{text}"
    );
    assert!(
        text.contains("differs from the original from line 7"),
        "{text}"
    );
    // And stats picks the kept latency up.
    let v: Value =
        serde_json::from_slice(&run(&["stats", "--json"], &[&p.with_extension("jsonl")]).stdout)
            .unwrap();
    assert_eq!(v["total"]["host_latency_ms"]["max"], 412.0);
}
