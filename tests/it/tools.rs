//! Tool calls and handoffs: appended through a session like messages, read
//! back, and shown by every export, `tail`, `search`, `verify` and `stats`,
//! while the documented JSON stays byte-exact for the messages by default.

use std::path::{Path, PathBuf};

use convlog::record::{MAX_TOOL_TEXT_BYTES, Record};
use convlog::{Handoff, Message, Role, Session, ToolCall};

use crate::compat::python_render;
use crate::util::{LogBuilder, export, json_lines, quiet, run, stdout};

const CREATED: &str = "2025-08-18T14:30:21.000000+05:30";

fn ts(sec: u32) -> String {
    format!("2025-08-18T14:30:{sec:02}.{:06}+05:30", 100_000 + sec)
}

fn weather() -> ToolCall {
    ToolCall::new(
        "lookup_weather",
        r#"{"city": "Pune", "days": 2.50}"#,
        "livekit",
    )
    .call_id("call_1")
    .output("sunny, 31°C\n\"clear\"")
    .duration_ms(84.25)
    .turn("speech_2")
}

fn booking_failure() -> ToolCall {
    ToolCall::new("book_table", "{\"time\":\"19:00\"}", "livekit")
        .output("no table free")
        .error(true)
}

/// The same conversation twice: with its tool calls and handoff, and
/// without them. The agent's reply is streamed as two fragments of one
/// turn, with the tool call logged between them.
fn logs(dir: &Path) -> (PathBuf, PathBuf) {
    let user = Message::user("What's the weather in Pune?", "deepgram_stt");
    let first = Message::agent("Let me check.", "cartesia_tts").turn("t1");
    let second = Message::agent("It is sunny.", "cartesia_tts").turn("t1");
    let later = Message::user("Book a table then", "deepgram_stt");
    let with = LogBuilder::new("tools", CREATED)
        .message(&user, &ts(22))
        .message(&first, &ts(23))
        .tool(&weather(), &ts(24))
        .message(&second, &ts(25))
        .handoff(&Handoff::new("booking", "livekit").from("greeter"), &ts(26))
        .message(&later, &ts(27))
        .tool(&booking_failure(), &ts(28))
        .end(&ts(29));
    let without = LogBuilder::new("tools", CREATED)
        .message(&user, &ts(22))
        .message(&first, &ts(23))
        .message(&second, &ts(25))
        .message(&later, &ts(27))
        .end(&ts(29));
    // The same name in two directories: the Markdown title is the name.
    let name = "conversation_20250818_143021.jsonl";
    for sub in ["with", "without"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    let (a, b) = (dir.join("with").join(name), dir.join("without").join(name));
    with.write(&a);
    without.write(&b);
    (a, b)
}

#[test]
fn the_documented_json_is_byte_exact_for_the_messages_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = logs(dir.path());
    for args in [&[][..], &["--timestamps", "rfc3339"], &["--no-merge"]] {
        assert_eq!(export(&with, args), export(&without, args), "{args:?}");
    }
    // Every format, told to leave them out, is the same as for a log
    // without them; the fragments around the tool call still merge.
    for format in ["json", "jsonl", "markdown", "text", "csv", "srt", "vtt"] {
        let args = ["--format", format, "--no-tools"];
        let (a, b) = (export(&with, &args), export(&without, &args));
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "{format}"
        );
    }
    let text = String::from_utf8(export(&without, &["--format", "text"])).unwrap();
    assert!(
        text.contains("[AGENT] Let me check. It is sunny.\n"),
        "{text}"
    );
    // CSV and subtitles leave them out by default too.
    for format in ["csv", "srt", "vtt"] {
        let args = ["--format", format];
        assert_eq!(export(&with, &args), export(&without, &args), "{format}");
    }
}

#[test]
fn with_the_flag_the_documented_json_is_what_python_would_dump() {
    let dir = tempfile::tempdir().unwrap();
    let (with, _) = logs(dir.path());
    let json = export(&with, &["--tools"]);
    let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let items = doc["conversation"].as_array().unwrap();
    let roles: Vec<&str> = items.iter().map(|i| i["role"].as_str().unwrap()).collect();
    // The tool call logged inside the agent's streamed turn comes after it.
    assert_eq!(roles, ["user", "agent", "tool", "handoff", "user", "tool"]);
    assert_eq!(items[1]["content"], "Let me check. It is sunny.");
    let tool = &items[2];
    assert_eq!(tool["name"], "lookup_weather");
    assert_eq!(tool["call_id"], "call_1");
    // The arguments are the model's text, as a string, unchanged.
    assert_eq!(tool["arguments"], r#"{"city": "Pune", "days": 2.50}"#);
    assert_eq!(tool["output"], "sunny, 31°C\n\"clear\"");
    assert_eq!(tool["duration_ms"].to_string(), "84.25");
    assert_eq!(tool["timestamp"], "2025-08-18T14:30:24.100024");
    assert_eq!(tool["source"], "livekit");
    assert!(tool.get("error").is_none());
    assert_eq!(items[3]["from"], "greeter");
    assert_eq!(items[3]["to"], "booking");
    assert_eq!(items[5]["error"], true);
    assert_eq!(items[5]["output"], "no table free");

    // The JSON Lines export shows the same objects by default; Python's
    // json.dump of them, one list, is byte for byte the --tools export.
    let jsonl = String::from_utf8(export(&with, &["--format", "jsonl"])).unwrap();
    let rows: Vec<String> = jsonl.lines().map(str::to_string).collect();
    assert_eq!(rows.len(), 6);
    assert_eq!(json_lines(&jsonl)[2], *tool);
    if let Some(python) = python_render(&rows) {
        assert_eq!(
            String::from_utf8(json).unwrap(),
            String::from_utf8(python).unwrap()
        );
    }
}

#[test]
fn text_markdown_and_csv_show_what_the_agent_did() {
    let dir = tempfile::tempdir().unwrap();
    let (with, _) = logs(dir.path());
    let text = String::from_utf8(export(&with, &["--format", "text"])).unwrap();
    assert_eq!(
        text,
        "[USER] What's the weather in Pune?\n\
         [AGENT] Let me check. It is sunny.\n\
         [TOOL] lookup_weather({\"city\": \"Pune\", \"days\": 2.50}) -> sunny, 31°C\\n\"clear\"\n\
         [HANDOFF] greeter -> booking\n\
         [USER] Book a table then\n\
         [TOOL] book_table({\"time\":\"19:00\"}) -> error: no table free\n"
    );
    let md = String::from_utf8(export(&with, &["--format", "markdown"])).unwrap();
    assert!(
        md.contains("\n**14:30:24 · Tool:** *lookup_weather({\"city\": \"Pune\", \"days\": 2.50}) -> sunny, 31°C  \n\"clear\"*\n"),
        "{md}"
    );
    assert!(
        md.contains("\n**14:30:26 · Handoff:** *greeter -> booking*\n"),
        "{md}"
    );
    let csv = String::from_utf8(export(&with, &["--format", "csv", "--tools"])).unwrap();
    assert!(
        csv.contains(
            "\r\nhandoff,greeter -> booking,2025-08-18T14:30:26.100026,livekit,,false,,\r\n"
        ),
        "{csv}"
    );
    assert_eq!(csv.matches("\r\ntool,").count(), 2, "{csv}");
}

#[test]
fn tail_and_search_show_tool_calls() {
    let dir = tempfile::tempdir().unwrap();
    let (with, _) = logs(dir.path());
    let out = run(&["tail"], &[&with]);
    assert!(out.status.success());
    let tail = stdout(&out);
    assert!(
        tail.contains("[AGENT] It is sunny.\n[HANDOFF] greeter -> booking\n[USER] Book a table then\n[TOOL] book_table"),
        "{tail}"
    );
    assert!(tail.contains("[TOOL] lookup_weather({\"city\": \"Pune\", \"days\": 2.50}) -> sunny"));
    let out = run(&["tail", "-n", "2"], &[&with]);
    assert_eq!(
        stdout(&out),
        "[USER] Book a table then\n[TOOL] book_table({\"time\":\"19:00\"}) -> error: no table free\n"
    );

    let out = run(&["search", "no table", "--json"], &[&with]);
    assert!(out.status.success());
    let hits = json_lines(&stdout(&out));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["role"], "tool");
    assert_eq!(hits[0]["seq"], 7);
    let content = hits[0]["content"].as_str().unwrap();
    let span = &hits[0]["matches"][0];
    let (s, e) = (
        span["start"].as_u64().unwrap() as usize,
        span["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&content[s..e], "no table");
    let out = run(&["search", "lookup_weather"], &[&with]);
    assert!(
        stdout(&out).contains("[TOOL] lookup_weather("),
        "{}",
        stdout(&out)
    );
    // Filters that only messages have leave tool calls out.
    assert_eq!(
        run(&["search", "lookup", "--role", "agent"], &[&with])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&["search", "lookup", "--no-tools"], &[&with])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn a_session_appends_tool_calls_durably_and_readers_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = Session::create_with(dir.path(), quiet()).unwrap();
    log.append_blocking(Message::user("Weather?", "stt"))
        .unwrap();
    let seq = log.append_blocking(weather()).unwrap();
    assert_eq!(seq, Some(2));
    let huge = "x".repeat(MAX_TOOL_TEXT_BYTES * 3);
    log.log(ToolCall::new("dump", "{}", "pipecat").output(huge.clone()));
    log.log(Handoff::new("booking", "livekit"));
    // Refused with the log named, and nothing written.
    let err = log
        .append_blocking(ToolCall::new("", "{}", "x"))
        .unwrap_err();
    assert!(
        err.to_string().contains(&log.path().display().to_string()),
        "{err}"
    );
    assert!(
        log.append_blocking(ToolCall::new("f", "{}", "x").duration_ms(-2.0))
            .is_err()
    );
    log.flush_blocking().unwrap();
    assert_eq!(log.last_error(), None);
    log.end_blocking().unwrap();

    let mut tools = Vec::new();
    let report = convlog::read::scan_file(log.path(), convlog::Recovery::Absolute, |r| {
        match r {
            Record::Tool(t) => tools.push(t.clone().into_owned()),
            Record::Handoff(h) => assert_eq!(h.to, "booking"),
            Record::Message(m) => assert_eq!(m.role, Role::User),
            _ => {}
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(
        (report.messages, report.tool_calls, report.handoffs),
        (1, 2, 1)
    );
    assert_eq!(report.last_seq, Some(5));
    assert_eq!(tools[0].arguments, r#"{"city": "Pune", "days": 2.50}"#);
    assert_eq!(tools[1].output_truncated, Some(huge.len() as u64));
    assert_eq!(
        tools[1].output.as_deref().map(str::len),
        Some(MAX_TOOL_TEXT_BYTES)
    );
    // `messages()` is still the messages only.
    assert_eq!(
        convlog::read::messages(log.path(), convlog::Recovery::Absolute)
            .unwrap()
            .count(),
        1
    );

    let out = run(&["verify"], &[log.path()]);
    assert!(
        stdout(&out).contains("1 message, 2 tool calls, 1 handoff, seq 1–5"),
        "{}",
        stdout(&out)
    );
    let out = run(&["stats", "--json"], &[log.path()]);
    let stats: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        stats["sessions"][0]["tools"],
        serde_json::json!({"calls": 2, "errors": 0, "handoffs": 1})
    );
    assert_eq!(stats["total"]["tools"]["calls"], 2);
    let out = run(&["stats"], &[log.path()]);
    assert!(
        stdout(&out).contains("tool calls       2 (0 failed) · 1 handoff(s)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_live_log_is_followed_with_its_tool_calls() {
    let dir = tempfile::tempdir().unwrap();
    let log = Session::create_with(dir.path(), quiet()).unwrap();
    log.append_blocking(Message::agent("Checking.", "tts"))
        .unwrap();
    log.append_blocking(booking_failure()).unwrap();
    let mut f = convlog::Follower::open(log.path()).unwrap();
    let mut seen = Vec::new();
    while let Some(e) = f.next_event().unwrap() {
        seen.push(e);
    }
    assert!(matches!(&seen[0], convlog::Followed::Message(m) if m.content == "Checking."));
    match &seen[1] {
        convlog::Followed::Tool(t) => {
            assert_eq!(
                t.summary(),
                "book_table({\"time\":\"19:00\"}) -> error: no table free"
            )
        }
        other => panic!("{other:?}"),
    }
}
