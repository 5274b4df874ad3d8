//! Each command end to end (new, append, ingest, export, verify, repair,
//! compact, tail, demo), run as a separate process the way a user would.

use crate::util::{convlog, new_log};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use predicates::prelude::*;

fn ingest(log: &Path, input: &str, extra: &[&str]) -> std::process::Output {
    convlog()
        .arg("ingest")
        .arg(log)
        .args(extra)
        .write_stdin(input)
        .output()
        .unwrap()
}

fn export(log: &Path, extra: &[&str]) -> std::process::Output {
    convlog()
        .arg("export")
        .arg(log)
        .args(extra)
        .output()
        .unwrap()
}

fn export_json(log: &Path) -> serde_json::Value {
    let out = export(log, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn lines(s: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(s)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn new_creates_a_private_log_and_prints_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("conversations");
    let log = new_log(&dir);
    assert_eq!(log.parent().unwrap(), dir);
    let name = log.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("conversation_") && name.ends_with(".jsonl"),
        "{name}"
    );
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let first = std::fs::read_to_string(&log).unwrap();
    let header: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(header["kind"], "header");
    assert_eq!(header["version"], 1);
    // Same second, distinct file: never reuse or truncate.
    let again = new_log(&dir);
    assert_ne!(again, log);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), first);
}

#[test]
fn append_writes_every_field_and_export_merges_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    convlog()
        .arg("append")
        .arg(&log)
        .args([
            "--role",
            "user",
            "--source",
            "deepgram_stt",
            "--speaker",
            "caller",
            "--lang",
            "hi",
        ])
        .arg("नमस्कार, आप कैसे हैं?")
        .assert()
        .success();
    for (text, interrupted) in [("नमस्ते!", false), ("मैं ठीक हूँ।", true)]
    {
        let mut c = convlog();
        c.arg("append").arg(&log).args([
            "--role",
            "agent",
            "--source",
            "cartesia_tts",
            "--turn",
            "t1",
        ]);
        if interrupted {
            c.arg("--interrupted");
        }
        c.arg(text).assert().success();
    }
    let raw = std::fs::read_to_string(&log).unwrap();
    let recs: Vec<serde_json::Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[1]["speaker"], "caller");
    assert_eq!(recs[1]["lang"], "hi");
    assert_eq!(recs[3]["interrupted"], true);
    assert_eq!(recs[3]["turn"], "t1");
    let ts = recs[1]["ts"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(ts).unwrap();
    assert_eq!(ts.len(), "2025-08-18T14:30:22.123456+05:30".len(), "{ts}");

    let v = export_json(&log);
    let conv = v["conversation"].as_array().unwrap();
    assert_eq!(conv.len(), 2);
    assert_eq!(conv[1]["content"], "नमस्ते! मैं ठीक हूँ।");
    // serde_json's Value sorts keys, so check the order on the bytes.
    let text = String::from_utf8(export(&log, &[]).stdout).unwrap();
    let at = |k: &str| text.find(&format!("\"{k}\": ")).unwrap();
    assert!(
        at("role") < at("content")
            && at("content") < at("timestamp")
            && at("timestamp") < at("source")
    );
    let documented = conv[0]["timestamp"].as_str().unwrap();
    assert_eq!(documented, &ts[..26]);

    let no_merge = export(&log, &["--no-merge"]);
    let v: serde_json::Value = serde_json::from_slice(&no_merge.stdout).unwrap();
    assert_eq!(v["conversation"].as_array().unwrap().len(), 3);

    let rfc = export(&log, &["--timestamps", "rfc3339"]);
    let v: serde_json::Value = serde_json::from_slice(&rfc.stdout).unwrap();
    assert_eq!(v["conversation"][0]["timestamp"], ts);
}

#[test]
fn append_rejects_an_unknown_role_listing_the_valid_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    convlog()
        .arg("append")
        .arg(&log)
        .args(["--role", "bot", "--source", "x", "hello"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("user, agent"));
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

#[test]
fn append_skips_blank_text_and_rejects_oversized_text() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    convlog()
        .arg("append")
        .arg(&log)
        .args(["--role", "user", "--source", "stt", "  \t "])
        .assert()
        .success()
        .stderr(predicate::str::contains("blank"));
    // Linux caps one argv string at 128 KiB, so oversized text arrives through ingest.
    let big = "x".repeat((1 << 20) + 1);
    let out = ingest(
        &log,
        &format!("{{\"role\":\"user\",\"content\":\"{big}\",\"source\":\"stt\"}}\n"),
        &["--ack"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 1:") && err.contains("over the limit"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

#[test]
fn ingest_acks_in_order_rejects_bad_lines_and_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    let input = [
        r#"{"role":"user","content":"first","source":"stt","timestamp":"2025-08-18T14:30:22.5+05:30"}"#,
        r#"{"role":"bot","content":"who?","source":"stt"}"#,
        r#"not json"#,
        r#"{"role":"agent","content":"second","source":"tts","turn":7,"meta":{"latency_ms":12}}"#,
        r#"{"role":"agent","content":"third","source":"tts","turn":7,"interrupted":true}"#,
        r#"{"role":"user","content":"x","source":"stt","meta":[1]}"#,
        r#"{"role":"user","content":"y","source":"stt","timestamp":"yesterday"}"#,
        r#"{"role":"user","content":"   ","source":"stt"}"#,
        r#"{"role":"user","content":"fourth","source":"stt"}"#,
    ]
    .join("\n");
    let out = ingest(&log, &input, &["--ack", "--end"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(&out.stdout), ["1 1", "4 2", "5 3", "9 4"]);
    let err = String::from_utf8_lossy(&out.stderr);
    for n in [2, 3, 6, 7] {
        assert!(
            err.contains(&format!("line {n}:")),
            "line {n} not reported in {err}"
        );
    }
    assert!(err.contains("user, agent"), "{err}");

    let raw = std::fs::read_to_string(&log).unwrap();
    let first: serde_json::Value = serde_json::from_str(raw.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        first["ts"], "2025-08-18T14:30:22.5+05:30",
        "timestamp kept as given"
    );
    // --end wrote the end record and the export beside the log.
    let exported = std::fs::read_to_string(log.with_extension("json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&exported).unwrap();
    let conv = v["conversation"].as_array().unwrap();
    assert_eq!(conv.len(), 3);
    assert_eq!(conv[0]["timestamp"], "2025-08-18T14:30:22.500000");
    assert_eq!(conv[1]["content"], "second third");
    // Appending after the end is an error.
    let late = ingest(
        &log,
        r#"{"role":"user","content":"late","source":"stt"}"#,
        &[],
    );
    assert_ne!(late.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&late.stderr).contains("ended"));
}

#[test]
fn export_to_a_file_equals_stdout_and_replaces_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    ingest(
        &log,
        r#"{"role":"user","content":"hi","source":"stt"}"#,
        &[],
    );
    let out = tmp.path().join("out.json");
    std::fs::write(&out, "old").unwrap();
    convlog()
        .arg("export")
        .arg(&log)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let stdout = export(&log, &["-o", "-"]).stdout;
    assert_eq!(std::fs::read(&out).unwrap(), stdout);
    assert!(!stdout.ends_with(b"\n"));
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A log with three messages and the byte range of each line.
fn three_messages(dir: &Path) -> (PathBuf, Vec<(usize, usize)>) {
    let log = new_log(dir);
    let input: String = ["one", "two", "three"]
        .iter()
        .map(|c| format!("{{\"role\":\"user\",\"content\":\"{c}\",\"source\":\"stt\"}}\n"))
        .collect();
    assert!(ingest(&log, &input, &[]).status.success());
    let raw = std::fs::read(&log).unwrap();
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' {
            spans.push((start, i + 1));
            start = i + 1;
        }
    }
    (log, spans)
}

#[test]
fn verify_reports_a_torn_tail_and_repair_keeps_the_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, spans) = three_messages(tmp.path());
    convlog().arg("verify").arg(&log).assert().code(0).stdout(
        predicate::str::contains("intact but still open")
            .and(predicate::str::contains("3 messages")),
    );
    let raw = std::fs::read(&log).unwrap();
    let (start, end) = spans[3];
    let cut = start + (end - start) / 2;
    std::fs::write(&log, &raw[..cut]).unwrap();

    convlog().arg("verify").arg(&log).assert().code(1).stdout(
        predicate::str::contains(format!("torn tail ({} bytes)", cut - start))
            .and(predicate::str::contains(format!("line 4 (byte {start})")))
            .and(predicate::str::contains("--repair")),
    );
    // The default export tolerates the torn tail (a write never
    // acknowledged), says so, and exits 0: the export is complete.
    let out = export(&log, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("torn tail"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["conversation"].as_array().unwrap().len(), 2);
    assert_eq!(
        export(&log, &["--recovery", "absolute"]).status.code(),
        Some(1)
    );

    convlog()
        .arg("verify")
        .arg("--repair")
        .arg(&log)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("repaired"));
    let broken = PathBuf::from(format!("{}.broken", log.display()));
    assert_eq!(std::fs::read(&broken).unwrap(), &raw[start..cut]);
    assert_eq!(std::fs::read(&log).unwrap(), &raw[..start]);
    // Idempotent, and appends extend the repaired log.
    convlog()
        .arg("verify")
        .arg("--repair")
        .arg(&log)
        .assert()
        .code(0);
    let acks = ingest(
        &log,
        r#"{"role":"agent","content":"four","source":"tts"}"#,
        &["--ack"],
    );
    assert_eq!(lines(&acks.stdout), ["1 3"]);
    convlog().arg("verify").arg(&log).assert().code(0);
}

#[test]
fn verify_names_mid_file_corruption_and_repair_refuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, spans) = three_messages(tmp.path());
    let mut raw = std::fs::read(&log).unwrap();
    let (start, _) = spans[2];
    raw[start + 40] ^= 0x01;
    std::fs::write(&log, &raw).unwrap();

    convlog().arg("verify").arg(&log).assert().code(1).stdout(
        predicate::str::contains("damaged (line 3 corrupt)")
            .and(predicate::str::contains(format!("line 3 (byte {start})")))
            .and(predicate::str::contains("skip-corrupt")),
    );
    let json = convlog()
        .arg("verify")
        .arg("--json")
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["state"], "damaged");
    assert_eq!(v["damage"][0]["line"], 3);
    assert_eq!(v["damage"][0]["offset"], start);
    assert_eq!(v["damage"][0]["kind"], "corrupt");

    convlog()
        .arg("verify")
        .arg("--repair")
        .arg(&log)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("not repaired"));
    assert_eq!(
        std::fs::read(&log).unwrap(),
        raw,
        "repair must not touch mid-file corruption"
    );

    assert_eq!(export(&log, &[]).status.code(), Some(1));
    let pit: serde_json::Value =
        serde_json::from_slice(&export(&log, &["--recovery", "point-in-time"]).stdout).unwrap();
    assert_eq!(pit["conversation"].as_array().unwrap().len(), 1);
    let skip = export(&log, &["--recovery", "skip-corrupt"]);
    let v: serde_json::Value = serde_json::from_slice(&skip.stdout).unwrap();
    let contents: Vec<&str> = v["conversation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["one", "three"]);
    assert!(String::from_utf8_lossy(&skip.stderr).contains("skipped line 3"));
}

#[test]
fn refresh_renders_exports_and_skips_up_to_date_ones() {
    renders_exports_and_skips_up_to_date_ones("refresh");
}

/// `compact`, the command's former name, still does the same.
#[test]
fn compact_renders_exports_and_skips_up_to_date_ones() {
    renders_exports_and_skips_up_to_date_ones("compact");
}

fn renders_exports_and_skips_up_to_date_ones(cmd: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = three_messages(tmp.path());
    convlog()
        .arg(cmd)
        .arg(tmp.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote"));
    assert_eq!(
        std::fs::read(log.with_extension("json")).unwrap(),
        export(&log, &[]).stdout
    );
    convlog()
        .arg(cmd)
        .arg(&log)
        .assert()
        .success()
        .stdout(predicate::str::contains("up to date"));
}

#[test]
fn tail_prints_console_lines_and_follows_until_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = three_messages(tmp.path());
    convlog()
        .args(["tail", "-n", "2"])
        .arg(&log)
        .assert()
        .success()
        .stdout("[USER] two\n[USER] three\n");

    let mut follower = StdCommand::new(assert_cmd::cargo::cargo_bin("convlog"))
        .args(["tail", "-f", "--color", "never"])
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let more = r#"{"role":"agent","content":"live","source":"tts"}"#;
    assert!(ingest(&log, more, &["--end"]).status.success());
    // tail -f exits by itself once it reads the end record.
    let mut out = String::new();
    follower
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(follower.wait().unwrap().success());
    assert_eq!(out, "[USER] one\n[USER] two\n[USER] three\n[AGENT] live\n");
}

#[test]
fn demo_writes_and_exports_a_real_session() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("conversations");
    let out = convlog()
        .arg("demo")
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let export_path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("export: "))
        .unwrap()
        .trim();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export_path).unwrap()).unwrap();
    let conv = v["conversation"].as_array().unwrap();
    assert!(conv.len() >= 6);
    assert!(
        conv.iter()
            .any(|m| m["content"].as_str().unwrap().contains("नमस्कार"))
    );
    // Streamed fragments were merged into whole turns.
    let raw = std::fs::read_to_string(
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("log:"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert!(raw.lines().count() > conv.len() + 2);
    convlog()
        .arg("verify")
        .arg(&dir)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("intact and ended"));
}

#[test]
fn errors_name_the_file_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.jsonl");
    convlog()
        .arg("export")
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope.jsonl"));
    let not_log = tmp.path().join("notes.jsonl");
    std::fs::write(&not_log, "hello\n").unwrap();
    convlog()
        .arg("verify")
        .arg(&not_log)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("not a convlog log"));
}

#[test]
fn a_symlinked_log_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    let link = tmp.path().join("link.jsonl");
    std::os::unix::fs::symlink(&log, &link).unwrap();
    let before = std::fs::read(&log).unwrap();
    convlog()
        .arg("append")
        .arg(&link)
        .args(["--role", "user", "--source", "s", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("symbolic link"));
    assert_eq!(std::fs::read(&log).unwrap(), before);
}

#[test]
fn a_closed_stdout_exits_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    let input: String = (0..20_000)
        .map(|i| {
            format!("{{\"role\":\"user\",\"content\":\"message number {i}\",\"source\":\"stt\"}}\n")
        })
        .collect();
    assert!(ingest(&log, &input, &[]).status.success());
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("convlog"))
        .args(["export", "--no-merge"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn several_processes_ingest_into_one_log_without_loss_or_interleaving() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    const PROCS: usize = 4;
    const EACH: usize = 400;
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("convlog"))
                .arg("ingest")
                .arg(&log)
                .arg("--ack")
                .env("CONVLOG_LOG", "warn")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    writeln!(
                        stdin,
                        r#"{{"role":"user","content":"p{p} m{i}","source":"proc{p}"}}"#
                    )
                    .unwrap();
                }
            });
            child
        })
        .collect();
    let mut acked = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        acked += lines(&out.stdout).len();
    }
    assert_eq!(acked, PROCS * EACH);

    let raw = std::fs::read_to_string(&log).unwrap();
    let recs: Vec<serde_json::Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 1 + PROCS * EACH);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["seq"], i as u64, "seq must be dense and increasing");
    }
    for p in 0..PROCS {
        let mine: Vec<&str> = recs
            .iter()
            .filter(|r| r["source"] == format!("proc{p}").as_str())
            .map(|r| r["content"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..EACH).map(|i| format!("p{p} m{i}")).collect();
        assert_eq!(mine, want, "process {p}'s records lost or reordered");
    }
    convlog().arg("verify").arg(&log).assert().code(0);
}

/// `-o` naming a FIFO or a device (`/dev/null`, `/dev/stdout`) writes into
/// it: renaming a temporary file over it would replace the node itself.
#[test]
fn export_into_a_fifo_writes_through_it_instead_of_replacing_it() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = three_messages(tmp.path());
    let fifo = tmp.path().join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    convlog()
        .arg("export")
        .arg(&log)
        .arg("-o")
        .arg(&fifo)
        .assert()
        .success();
    let got = reader.join().unwrap();
    assert_eq!(got, export(&log, &[]).stdout);
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    convlog()
        .arg("export")
        .arg(&log)
        .arg("-o")
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory"));
}

#[test]
fn ingest_rejects_a_line_of_invalid_utf8_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    let mut input = b"{\"role\":\"user\",\"content\":\"ok\",\"source\":\"s\"}\n".to_vec();
    input.extend_from_slice(b"{\"role\":\"user\",\"content\":\"\xff\xfe\",\"source\":\"s\"}\n");
    input.extend_from_slice(b"{\"role\":\"agent\",\"content\":\"still here\",\"source\":\"s\"}\n");
    let out = convlog()
        .arg("ingest")
        .arg(&log)
        .arg("--ack")
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out.stdout), ["1 1", "3 2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2:"));
}
