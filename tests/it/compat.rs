//! Export bytes equal Python's `json.dump(data, f, ensure_ascii=False, indent=2)`,
//! the call the original design used, on the inputs most likely to differ.

use std::io::Write;
use std::process::{Command, Stdio};

use convlog::export::{ExportOptions, TimestampStyle};
use convlog::record::{Message, Role};

use crate::util::LogBuilder;

const PYTHON: &str = r#"
import io, json, sys
rows = [json.loads(l) for l in sys.stdin.buffer.read().decode("utf-8").split("\n") if l]
out = io.StringIO()
json.dump({"conversation": rows}, out, ensure_ascii=False, indent=2)
sys.stdout.buffer.write(out.getvalue().encode("utf-8"))
"#;

pub(crate) fn python_render(rows: &[String]) -> Option<Vec<u8>> {
    let mut child = match Command::new("python3")
        .args(["-c", PYTHON])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            crate::util::skip(
                "the Python comparison",
                &format!("python3 is not available ({e})"),
            );
            return None;
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    for r in rows {
        // One JSON object per line, keys in the documented order; Python's
        // dicts keep insertion order, as the original design relied on.
        writeln!(stdin, "{r}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    Some(out.stdout)
}

fn tricky_contents() -> Vec<String> {
    let mut v: Vec<String> = [
        "नमस्कार, आप कैसे हैं?",
        "emoji 😀👍🏽 and ZWJ 👩‍💻",
        r#"quotes "double" and 'single'"#,
        r"back\slash \n not a newline \\",
        "line one\nline two\r\nthree\ttab",
        "bell \u{7} backspace \u{8} formfeed \u{c} vertical tab \u{b} escape \u{1b}",
        "nul \u{0} unit separator \u{1f} delete \u{7f}",
        "line separator \u{2028} paragraph separator \u{2029}",
        "BOM \u{feff} and replacement \u{fffd}",
        "slash / and <script>&amp;</script>",
        "astral 𝄞 𐍈",
        "  leading and trailing spaces  ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push((0u8..0x20).map(char::from).collect::<String>() + "x");
    v
}

fn log_with(dir: &std::path::Path, contents: &[String]) -> std::path::PathBuf {
    let mut log = LogBuilder::new("compat", "2025-08-18T14:30:21.000000+05:30");
    for (i, c) in contents.iter().enumerate() {
        let role = if i % 2 == 0 { Role::User } else { Role::Agent };
        let ts = format!("2025-08-18T14:30:{:02}.{:06}+05:30", 22 + i, 123456 + i);
        log = log.message(&Message::new(role, c.clone(), "src \"x\" ✓"), &ts);
    }
    let path = dir.join("compat.jsonl");
    log.write(&path);
    path
}

fn expected_rows(contents: &[String], style: TimestampStyle) -> Vec<String> {
    contents
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let local = format!("2025-08-18T14:30:{:02}.{:06}", 22 + i, 123456 + i);
            let ts = match style {
                TimestampStyle::WallClock => local,
                TimestampStyle::Rfc3339 => format!("{local}+05:30"),
            };
            let role = if i % 2 == 0 { "user" } else { "agent" };
            format!(
                r#"{{"role":{},"content":{},"timestamp":{},"source":{}}}"#,
                serde_json::to_string(role).unwrap(),
                serde_json::to_string(c).unwrap(),
                serde_json::to_string(&ts).unwrap(),
                serde_json::to_string("src \"x\" ✓").unwrap(),
            )
        })
        .collect()
}

fn check(contents: &[String], style: TimestampStyle) {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with(dir.path(), contents);
    let mut ours = Vec::new();
    let opts = ExportOptions {
        timestamps: style,
        ..ExportOptions::default()
    };
    convlog::export::render(
        &log,
        convlog::Format::Json,
        &mut ours,
        std::path::Path::new("<stdout>"),
        &opts,
    )
    .unwrap();
    let Some(theirs) = python_render(&expected_rows(contents, style)) else {
        return;
    };
    assert_eq!(
        String::from_utf8(ours).unwrap(),
        String::from_utf8(theirs).unwrap()
    );
}

#[test]
fn export_bytes_equal_python_json_dump_on_tricky_text() {
    check(&tricky_contents(), TimestampStyle::WallClock);
}

#[test]
fn rfc3339_timestamps_are_the_only_difference() {
    check(&tricky_contents(), TimestampStyle::Rfc3339);
}

#[test]
fn empty_conversation_equals_python() {
    check(&[], TimestampStyle::WallClock);
}

#[test]
fn single_message_equals_python() {
    check(&["only one".to_string()], TimestampStyle::WallClock);
}
