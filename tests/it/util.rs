//! Fixtures shared by every integration test module: one of each, so that a
//! change to the options, the CLI's environment or the line format is made
//! in one place.

use std::path::{Path, PathBuf};

use convlog::line::{self as codec, Kind};
use convlog::read::inspect;
use convlog::record::{Header, Message, Role};
use convlog::{Options, Session};
use proptest::prelude::*;

#[path = "../shared/child.rs"]
mod child;

pub use child::{child_test, limit_file_size};

/// Options for a session under test: no `[USER]`/`[AGENT]` console lines and
/// no export beside the log on `end`, so a directory holds only what the
/// test wrote. A test that wants the export asks for it:
/// `quiet().export_on_end(true)`.
pub fn quiet() -> Options {
    Options::default().echo(false).export_on_end(false)
}

/// The time zone every `convlog` child runs in. Not UTC, and with a
/// half-hour offset, so that a reader using local time where it should not
/// (or the reverse) shows up as a wrong answer rather than passing by luck.
pub const TZ: &str = "Asia/Kolkata";

/// The `convlog` binary as a plain [`std::process::Command`], for tests
/// that need `pre_exec` or a long-lived child: `TZ` pinned, `NO_COLOR`
/// removed (a test that wants it sets it), and the console log at `warn`.
pub fn convlog_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_convlog"));
    c.env_remove("NO_COLOR")
        .env("CONVLOG_LOG", "warn")
        .env("TZ", TZ);
    c
}

/// The `convlog` binary with the environment of [`convlog_command`], as an
/// `assert_cmd` command (for `write_stdin`).
pub fn convlog() -> assert_cmd::Command {
    assert_cmd::Command::from_std(convlog_command())
}

/// Runs `convlog ARGS PATHS…` to completion.
pub fn run(args: &[&str], paths: &[&Path]) -> std::process::Output {
    convlog().args(args).args(paths).output().unwrap()
}

/// A child's stdout, which must be UTF-8.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

/// A child's stderr, which must be UTF-8.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// Every line of `s` as JSON.
pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// `convlog export LOG ARGS…`, which must succeed: what it printed.
pub fn export(log: &Path, args: &[&str]) -> Vec<u8> {
    let out = convlog()
        .arg("export")
        .arg(log)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The names in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// A new, empty log in `dir`, made by `convlog new` as a user would.
pub fn new_log(dir: &Path) -> PathBuf {
    let out = convlog().args(["new", "--dir"]).arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A log holding one message per `(role, content, timestamp)`, written by
/// `convlog ingest` (ended when `end`), as a user would make it.
pub fn ingested(dir: &Path, msgs: &[(&str, &str, &str)], end: bool) -> PathBuf {
    let log = new_log(dir);
    let input: String = msgs
        .iter()
        .map(|(role, content, ts)| {
            format!(
                "{}\n",
                serde_json::json!({"role": role, "content": content, "source": "s", "timestamp": ts})
            )
        })
        .collect();
    let mut args = vec!["ingest"];
    if end {
        args.push("--end");
    }
    let out = convlog()
        .args(&args)
        .arg(&log)
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    log
}

/// Changes `message` to `massage` inside line `n` (1-based), so that its
/// checksum no longer matches.
pub fn corrupt_line(log: &Path, n: usize) {
    let text = std::fs::read_to_string(log).unwrap();
    let changed: String = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == n {
                l.replacen("message", "massage", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(log, changed).unwrap();
}

/// What a writer killed inside its `write` leaves: half a line.
pub fn tear_tail(log: &Path) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    f.write_all(b"{\"crc\":\"0a1b").unwrap();
}

/// `cmd`, set to run with [`limit_file_size`]`(limit)`.
pub fn with_fsize_limit(cmd: &mut std::process::Command, limit: u64) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook makes only async-signal-safe calls.
    unsafe { cmd.pre_exec(move || limit_file_size(limit)) }
}

/// The file name of `path` (a log's, which is ASCII), as a string.
pub fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The byte offset where line `n` (1-based) of `bytes` starts.
pub fn line_start(bytes: &[u8], n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(n - 2)
        .unwrap()
        .0
        + 1
}

/// The `LOG.broken`, `LOG.broken.2`, … backups beside `log`, sorted.
pub fn broken_files(log: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.broken", log.file_name().unwrap().to_string_lossy());
    let mut out: Vec<PathBuf> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect();
    out.sort();
    out
}

/// Reopens `path` with [`Session::open_with`], appends one message, checks
/// it got `expect_seq`, and checks that the log is then intact and ends
/// there: whatever damage the tail had, the writer dealt with it.
pub async fn reopen_and_append(path: &Path, expect_seq: u64) {
    let s = Session::open_with(path, quiet()).unwrap();
    let seq = s
        .append(Message::agent("फिर से शुरू करते हैं।", "reopened"))
        .await
        .unwrap();
    assert_eq!(seq, Some(expect_seq), "{}", path.display());
    drop(s);
    let report = inspect(path).unwrap();
    assert!(
        report.is_intact(),
        "{}: {:?}",
        path.display(),
        report.damage
    );
    assert_eq!(report.last_seq, Some(expect_seq));
}

/// The bytes of a log built line by line on the library's own line
/// encoder, for tests that need a log with exact timestamps, seqs or
/// damage that a [`Session`] would never write.
pub struct LogBuilder {
    bytes: Vec<u8>,
    next_seq: u64,
}

impl LogBuilder {
    /// A log whose header names `session` and was `created` then.
    pub fn new(session: &str, created: &str) -> Self {
        let header = Header {
            version: convlog::FORMAT_VERSION,
            session: session.into(),
            created: created.into(),
            redact: None,
        };
        let mut b = LogBuilder {
            bytes: Vec::new(),
            next_seq: 0,
        };
        b.line(Kind::Header, &codec::header_fields(&header));
        b
    }

    fn line(&mut self, kind: Kind, fields: &[u8]) {
        codec::frame(kind, self.next_seq, fields, &mut self.bytes);
        self.next_seq += 1;
    }

    /// Appends `m` with the next seq, timestamped `ts`.
    pub fn message(mut self, m: &Message, ts: &str) -> Self {
        self.line(Kind::Message, &codec::message_fields(m, ts));
        self
    }

    /// Appends a tool call with the next seq, timestamped `ts`.
    pub fn tool(mut self, t: &convlog::ToolCall, ts: &str) -> Self {
        self.line(Kind::Tool, &codec::tool_fields(t, ts));
        self
    }

    /// Appends a handoff with the next seq, timestamped `ts`.
    pub fn handoff(mut self, h: &convlog::Handoff, ts: &str) -> Self {
        self.line(Kind::Handoff, &codec::handoff_fields(h, ts));
        self
    }

    /// Appends the end record with the next seq.
    pub fn end(mut self, ts: &str) -> Self {
        self.line(Kind::End, &codec::end_fields(ts));
        self
    }

    /// The log's bytes.
    pub fn bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Writes the log to `path`, replacing anything there.
    pub fn write(self, path: &Path) {
        std::fs::write(path, self.bytes).unwrap();
    }
}

/// Any string a caller might send: arbitrary Unicode, or a mix weighted
/// towards what JSON must escape, Devanagari, emoji and U+2028.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\"\\\\ a-zअ-ह😀\\u{2028}]{0,40}",
    ]
}

/// Any message a caller might send, every optional field included.
pub fn any_message() -> impl Strategy<Value = Message> {
    (
        any::<bool>(),
        any_text(),
        any_text(),
        proptest::option::of(any_text()),
        any::<bool>(),
        proptest::option::of(any_text()),
        proptest::option::of(any_text()),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(
            |(user, content, source, turn, interrupted, speaker, lang, meta)| {
                let mut m =
                    Message::new(if user { Role::User } else { Role::Agent }, content, source)
                        .interrupted(interrupted);
                m.turn = turn;
                m.speaker = speaker;
                m.lang = lang;
                m.meta = meta.map(|n| serde_json::json!({ "n": n, "nested": { "ok": true } }));
                m
            },
        )
}

/// A runtime of two worker threads with I/O and timers, for tests that
/// need one of their own (a child body, a thread beside the test's).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Skips a suite that needs something this machine lacks (Python,
/// PostgreSQL): prints why, or fails the test if `CONVLOG_REQUIRE_ALL=1`,
/// since CI has everything and a skip there would hide a suite.
///
/// The reason goes to the stderr handle itself, not through `eprintln!`:
/// libtest captures the print macros of a passing test, so a bare
/// `cargo test` would show the skip only with `--nocapture`.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    if std::env::var("CONVLOG_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{test}: CONVLOG_REQUIRE_ALL=1 but {why}");
    }
    let _ = writeln!(std::io::stderr().lock(), "skipping {test}: {why}");
}
