//! Export formats against golden files.
//!
//! The golden files in `tests/golden/` are the real output of
//! `convlog export --format F` for the example session in `conversations/`.
//! After a deliberate change, regenerate them with
//! `CONVLOG_BLESS=1 cargo test --test it formats::` and review the diff.

use crate::util::{convlog, export};
use std::path::{Path, PathBuf};

const STEM: &str = "conversation_20250818_143022";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn example_log() -> PathBuf {
    root().join("conversations").join(format!("{STEM}.jsonl"))
}

/// Compares `actual` with the golden file `name`, or rewrites it when `CONVLOG_BLESS=1`.
fn golden(name: &str, actual: &[u8]) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("CONVLOG_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run CONVLOG_BLESS=1 cargo test --test it formats::",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs from the real output (CONVLOG_BLESS=1 regenerates it)\n--- golden\n{}\n--- actual\n{}",
            path.display(),
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual)
        );
    }
}

#[test]
fn every_format_matches_its_golden_file() {
    let log = example_log();
    for (format, ext) in [
        ("json", "json"),
        ("jsonl", "jsonl"),
        ("markdown", "md"),
        ("text", "txt"),
        ("csv", "csv"),
        ("srt", "srt"),
        ("vtt", "vtt"),
    ] {
        let out = export(&log, &["--format", format]);
        golden(&format!("{STEM}.{ext}"), &out);
    }
    // Merge rules apply to every format: --no-merge keeps the fragments apart.
    golden(
        &format!("{STEM}.no-merge.csv"),
        &export(&log, &["--format", "csv", "--no-merge"]),
    );
    golden(
        &format!("{STEM}.rfc3339.jsonl"),
        &export(&log, &["--format", "jsonl", "--timestamps", "rfc3339"]),
    );
}

#[test]
fn json_golden_is_the_committed_export_and_the_default() {
    let log = example_log();
    let committed = std::fs::read(log.with_extension("json")).unwrap();
    assert_eq!(export(&log, &[]), committed, "default format is json");
    assert_eq!(export(&log, &["--format", "json"]), committed);
}

#[test]
fn formats_merge_fragments_like_the_json_export() {
    let log = example_log();
    let json: serde_json::Value = serde_json::from_slice(&export(&log, &[])).unwrap();
    let messages = json["conversation"].as_array().unwrap();
    let jsonl = String::from_utf8(export(&log, &["--format", "jsonl"])).unwrap();
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The same documented messages, one per line.
    assert_eq!(&lines, messages);
    let text = String::from_utf8(export(&log, &["--format", "text"])).unwrap();
    assert_eq!(text.lines().count(), messages.len());
    let csv = String::from_utf8(export(&log, &["--format", "csv"])).unwrap();
    assert_eq!(
        csv.split("\r\n").filter(|l| !l.is_empty()).count(),
        messages.len() + 1
    );
    let srt = String::from_utf8(export(&log, &["--format", "srt"])).unwrap();
    assert_eq!(srt.matches(" --> ").count(), messages.len());
    let vtt = String::from_utf8(export(&log, &["--format", "vtt"])).unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n"));
    assert_eq!(vtt.matches(" --> ").count(), messages.len());
    // Fewer messages than records: the example streams agent replies in fragments.
    let records = convlog::read::inspect(&log).unwrap().messages;
    assert!(messages.len() < records as usize);
}

#[test]
fn export_to_a_file_is_private_and_matches_stdout() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let log = example_log();
    for (format, ext) in [("markdown", "md"), ("srt", "srt"), ("csv", "csv")] {
        let out = tmp.path().join(format!("t.{ext}"));
        convlog()
            .arg("export")
            .arg(&log)
            .args(["--format", format, "-o"])
            .arg(&out)
            .assert()
            .success();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            export(&log, &["--format", format])
        );
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{format}");
    }
    // Nothing but the outputs is left behind (no temporary files).
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 3);
}

/// A log written through the library with awkward content, for the renderers' edge cases.
fn awkward_log(dir: &Path) -> PathBuf {
    use convlog::{Message, Options, Session};
    let s = Session::create_with(dir, Options::default().echo(false).export_on_end(false)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let msgs = [
            Message::user("a, \"quoted\"\nsecond line", "stt")
                .timestamp("2025-08-18T14:30:22.000000+05:30")
                .meta(serde_json::json!({"duration_ms": 1250})),
            Message::agent("*not bold* <b>x</b> & --> done", "tts")
                .turn("t1")
                .timestamp("2025-08-18T14:30:25.500000+05:30")
                .meta(serde_json::json!({"duration_ms": 999})),
            Message::agent("more", "tts")
                .turn("t1")
                .timestamp("2025-08-18T14:30:26.000000+05:30"),
            Message::user("# not a heading", "stt")
                .speaker("spk_1")
                .timestamp("2025-08-19T00:00:01.000000+05:30"),
        ];
        for m in msgs {
            s.append(m).await.unwrap();
        }
    });
    s.path().to_path_buf()
}

#[test]
fn renderers_escape_and_time_edge_cases() {
    let tmp = tempfile::tempdir().unwrap();
    let log = awkward_log(tmp.path());
    let text = |args: &[&str]| String::from_utf8(export(&log, args)).unwrap();

    let csv = text(&["--format", "csv"]);
    assert_eq!(
        csv,
        "role,content,timestamp,source,turn,interrupted,speaker,lang\r\n\
         user,\"a, \"\"quoted\"\"\nsecond line\",2025-08-18T14:30:22.000000,stt,,false,,\r\n\
         agent,*not bold* <b>x</b> & --> done more,2025-08-18T14:30:25.500000,tts,t1,false,,\r\n\
         user,# not a heading,2025-08-19T00:00:01.000000,stt,,false,spk_1,\r\n"
    );

    // The header's `created` is now, after every message: cues count from the
    // first message. A single record ends after its meta.duration_ms (1.25 s);
    // a merged turn at the next message (its first fragment's duration would
    // cut it short); the last after a reading time (15 characters: 1.05 s).
    let vtt = text(&["--format", "vtt"]);
    assert_eq!(
        vtt,
        "WEBVTT\n\n\
         00:00:00.000 --> 00:00:01.250\n<v User>a, \"quoted\"\nsecond line\n\n\
         00:00:03.500 --> 09:29:39.000\n<v Agent>*not bold* &lt;b&gt;x&lt;/b&gt; &amp; --&gt; done more\n\n\
         09:29:39.000 --> 09:29:40.050\n<v User># not a heading\n\n"
    );

    let md = text(&["--format", "markdown"]);
    assert!(md.contains("## 2025-08-18\n"), "{md}");
    assert!(md.contains("## 2025-08-19\n"), "{md}");
    assert!(
        md.contains("**14:30:22 · User:** a, \"quoted\"  \nsecond line\n"),
        "{md}"
    );
    assert!(
        md.contains("**14:30:25 · Agent:** \\*not bold\\* \\<b>x\\</b> & --> done more\n"),
        "{md}"
    );
    assert!(
        md.contains("**00:00:01 · User:** # not a heading\n"),
        "{md}"
    );

    let srt = text(&["--format", "srt"]);
    assert!(
        srt.contains("[AGENT] *not bold* <b>x</b> & -> done more"),
        "{srt}"
    );
}

#[test]
fn subtitle_cues_follow_timestamps_and_duration_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("s.jsonl");
    // A header created at 14:30:20 (+05:30): cues count from there.
    let header = convlog::record::Header {
        version: 1,
        session: "0".repeat(32),
        created: "2025-08-18T14:30:20.000000+05:30".into(),
        redact: None,
    };
    let mut bytes = Vec::new();
    use convlog::line::{Kind, frame, header_fields, message_fields};
    frame(Kind::Header, 0, &header_fields(&header), &mut bytes);
    let rows = [
        (
            convlog::Message::user("one", "stt").meta(serde_json::json!({"duration_ms": 1250})),
            "2025-08-18T14:30:22.000000+05:30",
        ),
        (
            convlog::Message::agent("two", "tts"),
            "2025-08-18T14:30:25.500000+05:30",
        ),
        (
            convlog::Message::user("three", "stt"),
            "2025-08-18T15:31:26.042000+05:30",
        ),
    ];
    for (seq, (m, ts)) in rows.iter().enumerate() {
        frame(
            Kind::Message,
            seq as u64 + 1,
            &message_fields(m, ts),
            &mut bytes,
        );
    }
    std::fs::write(&log, bytes).unwrap();
    let srt = String::from_utf8(export(&log, &["--format", "srt"])).unwrap();
    assert_eq!(
        srt,
        "1\n00:00:02,000 --> 00:00:03,250\n[USER] one\n\n\
         2\n00:00:05,500 --> 01:01:06,042\n[AGENT] two\n\n\
         3\n01:01:06,042 --> 01:01:07,042\n[USER] three\n\n"
    );
    let vtt = String::from_utf8(export(&log, &["--format", "vtt"])).unwrap();
    assert_eq!(
        vtt,
        "WEBVTT\n\n00:00:02.000 --> 00:00:03.250\n<v User>one\n\n\
         00:00:05.500 --> 01:01:06.042\n<v Agent>two\n\n\
         01:01:06.042 --> 01:01:07.042\n<v User>three\n\n"
    );
}

#[test]
fn an_empty_log_renders_an_empty_document_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let out = convlog()
        .args(["new", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let log = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let name = log.file_stem().unwrap().to_str().unwrap().to_string();
    for (format, expected) in [
        ("json", "{\n  \"conversation\": []\n}".to_string()),
        ("jsonl", String::new()),
        ("markdown", format!("# {name}\n")),
        ("text", String::new()),
        (
            "csv",
            "role,content,timestamp,source,turn,interrupted,speaker,lang\r\n".to_string(),
        ),
        ("srt", String::new()),
        ("vtt", "WEBVTT\n\n".to_string()),
    ] {
        assert_eq!(
            String::from_utf8(export(&log, &["--format", format])).unwrap(),
            expected,
            "{format}"
        );
    }
}

/// A message split into parts (`convlog::parts`) comes back whole, merged
/// or not, and counts once; a streamed reply's final record takes its
/// fragments' place when the export merges.
#[test]
fn parts_join_whole_and_a_final_record_replaces_its_fragments() {
    use convlog::{Message, Session};
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), crate::util::quiet()).unwrap();
    let big = "ab, नमस्ते. ".repeat(40);
    let parts = convlog::parts::split(Message::agent(big.clone(), "tts").turn("t1"), 64);
    assert!(parts.len() > 5);
    for m in parts {
        s.append_blocking(m).unwrap();
    }
    s.append_blocking(Message::user("and then?", "stt").turn("u1"))
        .unwrap();
    for fragment in ["One.", "Two and three."] {
        s.append_blocking(Message::agent(fragment, "tts").turn("stream_1"))
            .unwrap();
    }
    let final_meta = serde_json::json!({"convlog.replaces": "stream_1", "llm_node_ttft": 0.3});
    let played = Message::agent("One. Two", "cartesia_tts")
        .turn("item_9")
        .interrupted(true)
        .meta(final_meta);
    s.append_blocking(played).unwrap();
    s.end_blocking().unwrap();
    let log = s.path().to_path_buf();

    let doc: serde_json::Value = serde_json::from_slice(&export(&log, &[])).unwrap();
    let contents: Vec<&str> = doc["conversation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, [big.as_str(), "and then?", "One. Two"]);
    assert_eq!(doc["conversation"][2]["source"], "cartesia_tts");

    let raw = export(&log, &["--format", "jsonl", "--no-merge"]);
    let lines = crate::util::json_lines(&String::from_utf8(raw).unwrap());
    let unmerged: Vec<&str> = lines
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        unmerged,
        [
            big.as_str(),
            "and then?",
            "One.",
            "Two and three.",
            "One. Two"
        ]
    );

    let text = String::from_utf8(export(&log, &["--format", "text"])).unwrap();
    assert_eq!(text.matches("[interrupted]").count(), 1, "{text}");
    assert!(!text.contains("three"), "{text}");

    let out = convlog()
        .args(["verify", "--json"])
        .arg(&log)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["messages"],
        serde_json::json!({"user": 1, "agent": 4, "total": 5})
    );
}
