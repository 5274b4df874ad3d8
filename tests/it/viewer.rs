//! `convlog serve` and `export --format html` over HTTP, as a browser or a
//! script talks to them: the pages, the security rules, the live updates,
//! and bad input. The browser itself is in `browser.rs`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use convlog::Session;
use convlog::record::Message;

use crate::http::{get, next_event, request, sse};
use crate::util::{LogBuilder, convlog, convlog_command, quiet};

/// What every field of a message gets in the XSS test: markup, an
/// attribute breakout, a URL scheme and control characters.
pub const PAYLOADS: [&str; 4] = [
    "<script>window.__xss=1</script>",
    "\"><img src=x onerror=\"window.__xss=2\">",
    "javascript:window.__xss=3",
    "\u{1b}[31m\u{7}\u{0}\u{202e}ctl",
];

const T0: &str = "2025-08-18T14:30:22.000000+05:30";

fn ts(secs: u32) -> String {
    format!(
        "2025-08-18T14:{:02}:{:02}.000000+05:30",
        30 + secs / 60,
        secs % 60
    )
}

/// A log with turns, fragments, an interruption, latency metrics and, when
/// `hostile`, the payloads in every field.
pub fn sample_log(path: &Path, hostile: bool) {
    let p = |i: usize| {
        if hostile {
            PAYLOADS[i % PAYLOADS.len()]
        } else {
            ""
        }
    };
    let mut b = LogBuilder::new(&format!("sample-session{}", p(1)), T0);
    b = b.message(
        &Message::user(
            format!("Hi, can you book Jaipur? {}", p(0)),
            format!("deepgram_stt{}", p(1)),
        )
        .turn("u1")
        .speaker(format!("caller{}", p(2)))
        .meta(serde_json::json!({ "end_of_turn_delay": 0.31, p(3).to_string() + "key": p(1) })),
        &ts(1),
    );
    b = b.message(
        &Message::agent(format!("Sure, which dates {}", p(1)), "cartesia_tts")
            .turn(format!("a1{}", p(2)))
            .lang(format!("en{}", p(0)))
            .meta(serde_json::json!({ "llm_node_ttft": 0.42, "tts_node_ttfb": 0.18, "e2e_latency": 0.9 })),
        &ts(3),
    );
    b = b.message(
        &Message::agent("would you like?", "cartesia_tts")
            .turn(format!("a1{}", p(2)))
            .interrupted(true),
        &ts(4),
    );
    b = b.tool(
        &convlog::ToolCall::new(
            format!("book_table{}", p(0)),
            format!("{{\"when\":\"{}\"}}", p(1)),
            "livekit",
        )
        .output(format!("booked {}", p(2)))
        .duration_ms(120.0),
        &ts(5),
    );
    b = b.message(
        &Message::user(format!("Next week. {}", p(2)), "deepgram_stt"),
        &ts(6),
    );
    b = b.message(
        &Message::agent(format!("Booked. {}", p(3)), "cartesia_tts").meta(
            serde_json::json!({ "llm_node_ttft": 2.5, "tts_node_ttfb": 0.2, "e2e_latency": 3.4 }),
        ),
        &ts(11),
    );
    b.end(&ts(12)).write(path);
}

/// A running `convlog serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    pub port: u16,
}

impl Server {
    /// Serves `paths` on a free loopback port (unless `args` name an
    /// `--addr`), with extra `args`.
    pub fn start(paths: &[&Path], args: &[&str]) -> Server {
        let addr: &[&str] = if args.contains(&"--addr") {
            &[]
        } else {
            &["--addr", "127.0.0.1:0"]
        };
        let mut child = convlog_command()
            .arg("serve")
            .args(paths)
            .args(addr)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line.trim().trim_end_matches('/').to_string();
        assert!(
            base.starts_with("http://127.0.0.1:") || base.starts_with("http://localhost:"),
            "serve printed {line:?}"
        );
        let port = base.rsplit(':').next().unwrap().parse().unwrap();
        Server { child, base, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn the_html_export_is_self_contained_escaped_and_the_same_every_time() {
    let dir = tmp();
    let log = dir.path().join("conversation_20250818_143022.jsonl");
    sample_log(&log, true);
    let a = convlog()
        .args(["export", "--format", "html"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let out = dir.path().join("page.html");
    let b = convlog()
        .args(["export", "--format", "html", "-o"])
        .arg(&out)
        .arg(&log)
        .output()
        .unwrap();
    assert!(b.status.success());
    assert_eq!(
        a.stdout,
        std::fs::read(&out).unwrap(),
        "byte-for-byte stable"
    );
    let page = String::from_utf8(a.stdout).unwrap();
    // Self-contained: no script at all, no reference to anything outside,
    // and a policy of its own that forbids both (no server sends one for a
    // file opened from disk).
    assert!(!page.contains("<script"), "an export carries no script");
    assert!(page.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline';"
    ));
    let lower = page.to_ascii_lowercase();
    for tag in [
        "<img",
        "<link",
        "<iframe",
        "<object",
        "<embed",
        "href=\"http",
        "href=\"//",
        "url(",
        "@import",
    ] {
        assert!(!lower.contains(tag), "{tag}");
    }
    // Every payload shows as text, never as markup.
    assert!(!page.contains("<img"));
    assert!(page.contains("&lt;script&gt;window.__xss=1&lt;/script&gt;"));
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;"));
    assert!(page.contains("\\x1b[31m\\x07\\x00\\u{202e}ctl"));
    assert!(!page.contains('\u{1b}') && !page.contains('\u{0}') && !page.contains('\u{202e}'));
    // Four turns (the two fragments of a1 merged), one interrupted, one slow.
    assert_eq!(page.matches("class=\"msg ").count(), 4);
    assert_eq!(
        page.matches("class=\"act tool\"").count(),
        1,
        "the tool call, folded in"
    );
    assert_eq!(page.matches("class=\"msg agent interrupted").count(), 1);
    assert_eq!(page.matches("2 fragments merged").count(), 1);
    assert_eq!(
        page.matches(" slow\" data-seq").count(),
        1,
        "the 3.4 s turn stands out"
    );
    assert!(page.contains("LLM TTFT") && page.contains("end of turn") && page.contains("0.310 s"));
}

#[test]
fn a_damaged_log_shows_its_damage_where_it_is() {
    let dir = tmp();
    let log = dir.path().join("conversation_20250818_143022.jsonl");
    sample_log(&log, false);
    let mut bytes = std::fs::read(&log).unwrap();
    // Flip a byte in line 3 (the second message).
    let line3 = crate::util::line_start(&bytes, 3) + 9;
    bytes[line3] ^= 0x20;
    std::fs::write(&log, &bytes).unwrap();
    let refused = convlog()
        .args(["export", "--format", "html"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(1),
        "mid-file damage under the default mode"
    );
    let out = convlog()
        .args(["export", "--format", "html", "--recovery", "skip-corrupt"])
        .arg(&log)
        .output()
        .unwrap();
    let page = String::from_utf8(out.stdout).unwrap();
    let damage = page
        .find("<li class=\"damage\" id=\"line-3\">")
        .expect("damage item");
    let first = page.find("<li id=\"seq-1\"").unwrap();
    let next = page.find("<li id=\"seq-3\"").unwrap();
    assert!(
        first < damage && damage < next,
        "between the records around it"
    );
    assert!(page.contains("state damaged") && page.contains("line 3 corrupt"));
}

#[test]
fn sessions_list_sorts_filters_and_pages() {
    let dir = tmp();
    for i in 0..230u32 {
        let name = format!("conversation_20250818_{:06}.jsonl", 100000 + i);
        let mut b = LogBuilder::new(&format!("s{i}"), T0);
        let n = 1 + i % 5;
        for k in 0..n {
            let word = if i == 77 { "needle" } else { "hay" };
            b = b.message(
                &Message::user(format!("{word} {k}"), "stt"),
                &format!(
                    "2025-08-18T{:02}:{:02}:{:02}.000000+05:30",
                    10 + i / 60,
                    i % 60,
                    k
                ),
            );
        }
        let b = if i % 2 == 0 {
            b.end(&format!(
                "2025-08-18T{:02}:{:02}:30.000000+05:30",
                10 + i / 60,
                i % 60
            ))
        } else {
            b
        };
        b.write(&dir.path().join(name));
    }
    let s = Server::start(&[dir.path()], &[]);
    let rows = |body: &str| body.matches("<tr><td class=\"name\">").count();
    let page1 = get(s.port, "/", &[]);
    assert_eq!(page1.status, 200);
    assert_eq!(rows(&page1.body), 100);
    assert!(page1.body.contains("1–100 of 230"));
    // Newest first by default: session 229 starts latest.
    let first_row = &page1.body[page1.body.find("<tbody>").unwrap()..];
    assert!(
        first_row[..300].contains("conversation_20250818_100229.jsonl"),
        "{}",
        &first_row[..300]
    );
    let page3 = get(s.port, "/?page=3", &[]);
    assert_eq!(rows(&page3.body), 30);
    let by_name = get(s.port, "/?sort=name&order=asc", &[]);
    let t = &by_name.body[by_name.body.find("<tbody>").unwrap()..];
    assert!(t[..300].contains("conversation_20250818_100000.jsonl"));
    let by_user = get(s.port, "/?sort=user&order=desc", &[]);
    let t = &by_user.body[by_user.body.find("<tbody>").unwrap()..];
    assert!(t[..400].contains("<td class=\"num\">5</td>"));
    // Text through the search engine, and time.
    let found = get(s.port, "/?q=needle", &[]);
    assert_eq!(rows(&found.body), 1);
    assert!(found.body.contains("conversation_20250818_100077.jsonl"));
    let timed = get(s.port, "/?since=2025-08-18T13:00%2B05:30", &[]);
    assert_eq!(rows(&timed.body), 230 - 180);
    let bad = get(s.port, "/?since=yesterday-ish", &[]);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("since"));
    let bad_re = get(s.port, "/?q=(&regex=1", &[]);
    assert_eq!(bad_re.status, 400);
}

#[test]
fn only_logs_under_the_served_paths_can_be_read() {
    let root = tmp();
    let served = root.path().join("served");
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    sample_log(&served.join("conversation_20250818_143022.jsonl"), false);
    sample_log(&outside.join("conversation_20250818_999999.jsonl"), false);
    std::os::unix::fs::symlink(
        outside.join("conversation_20250818_999999.jsonl"),
        served.join("conversation_20250818_000000.jsonl"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, served.join("linked")).unwrap();
    let s = Server::start(&[&served], &[]);
    let ok = get(s.port, "/s/0/conversation_20250818_143022.jsonl", &[]);
    assert_eq!(ok.status, 200);
    let list = get(s.port, "/", &[]);
    assert!(
        !list.body.contains("conversation_20250818_000000") && !list.body.contains("999999"),
        "symlinks are not listed"
    );
    for target in [
        "/s/0/conversation_20250818_000000.jsonl",
        "/s/0/../outside/conversation_20250818_999999.jsonl",
        "/s/0/..%2foutside%2fconversation_20250818_999999.jsonl",
        "/s/0/%2e%2e%2foutside%2fconversation_20250818_999999.jsonl",
        "/s/0/%2e%2e",
        "/s/0/linked%2fconversation_20250818_999999.jsonl",
        "/s/0/%2Fetc%2Fpasswd",
        &format!(
            "/s/0/{}",
            outside.join("conversation_20250818_999999.jsonl").display()
        ),
        "/s/1/conversation_20250818_999999.jsonl",
        "/s/-1/x.jsonl",
        "/s/0/conversation_20250818_000000.jsonl/log",
        "/s/0/..%2foutside%2fconversation_20250818_999999.jsonl/log",
        "/s/0/..%2foutside%2fconversation_20250818_999999.jsonl/events",
        "/s/0/..%2foutside%2fconversation_20250818_999999.jsonl/export/json",
    ] {
        let r = get(s.port, target, &[]);
        assert_eq!(r.status, 404, "{target}");
        assert!(!r.body.contains("sample-session"), "{target}");
    }
}

#[test]
fn every_response_forbids_inline_script_and_sniffing() {
    let dir = tmp();
    let log = dir.path().join("conversation_20250818_143022.jsonl");
    sample_log(&log, true);
    let s = Server::start(&[dir.path()], &[]);
    let name = "conversation_20250818_143022.jsonl";
    for target in [
        "/".to_string(),
        format!("/s/0/{name}"),
        format!("/s/0/{name}/log"),
        format!("/s/0/{name}/export/json"),
        format!("/s/0/{name}/export/html"),
        "/assets/viewer.js".into(),
        "/nope".into(),
    ] {
        let r = get(s.port, &target, &[]);
        let csp = r.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{target}: {csp}"
        );
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{target}"
        );
    }
    let page = get(s.port, &format!("/s/0/{name}"), &[]);
    // Sent as it renders (a long session starts to show at once), whole.
    assert_eq!(page.header("transfer-encoding"), Some("chunked"));
    assert!(page.body.ends_with("</html>\n"));
    assert!(!page.body.contains("<img") && !page.body.contains("<script>window"));
    assert!(
        page.body
            .contains("<script src=\"/assets/viewer.js\" defer></script>")
    );
    assert_eq!(
        page.body.matches("<script").count(),
        1,
        "only the served script"
    );
    let log_bytes = get(s.port, &format!("/s/0/{name}/log"), &[]);
    assert_eq!(
        log_bytes.body.as_bytes(),
        std::fs::read(&log).unwrap().as_slice()
    );
    assert!(
        log_bytes
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    let json = get(s.port, &format!("/s/0/{name}/export/json"), &[]);
    let export = crate::util::export(&log, &[]);
    assert_eq!(json.body.as_bytes(), export.as_slice());
    // A page elsewhere that rebinds its name to 127.0.0.1 is refused.
    assert_eq!(get(s.port, "/", &["Host: attacker.example:80"]).status, 421);
    assert_eq!(get(s.port, "/", &["Host: localhost"]).status, 200);
    assert_eq!(
        request(s.port, "POST", "/", &["Content-Length: 0"]).status,
        405
    );
}

#[test]
fn a_token_guards_every_request() {
    let dir = tmp();
    sample_log(
        &dir.path().join("conversation_20250818_143022.jsonl"),
        false,
    );
    // Beyond loopback without a token: refused before anything listens.
    let out = convlog()
        .args(["serve", "--addr", "0.0.0.0:0"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token"), "{err}");
    let help = convlog().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("401") && help.contains("--token"), "{help}");

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let s = Server::start(
        &[dir.path()],
        &["--token-file", token_file.to_str().unwrap()],
    );
    let page = "/s/0/conversation_20250818_143022.jsonl";
    for target in ["/", page, "/assets/viewer.css", "/nope"] {
        let r = get(s.port, target, &[]);
        assert_eq!(r.status, 401, "{target}");
        assert!(!r.body.contains("sample-session"));
    }
    assert_eq!(
        get(s.port, page, &["Authorization: Bearer wrong"]).status,
        401
    );
    assert_eq!(
        get(s.port, page, &["Authorization: Bearer s3cret-token"]).status,
        200
    );
    let set = get(s.port, &format!("{page}?token=s3cret-token"), &[]);
    assert_eq!(set.status, 303);
    assert_eq!(set.header("location"), Some(page));
    let cookie = set.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let cookie = cookie.split(';').next().unwrap();
    assert_eq!(
        get(s.port, page, &[&format!("Cookie: {cookie}")]).status,
        200
    );
}

#[test]
fn bad_input_gets_a_clear_page_or_error() {
    let dir = tmp();
    let good = dir.path().join("conversation_20250818_143022.jsonl");
    sample_log(&good, false);
    std::fs::write(dir.path().join("notes.jsonl"), "{\"not\": \"a log\"}\n").unwrap();
    std::fs::write(dir.path().join("empty.jsonl"), "").unwrap();
    // A log whose name is not UTF-8: a URL cannot name it, so it is listed
    // with why rather than left out.
    use std::os::unix::ffi::OsStrExt;
    let odd = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"conversation_caf\xe9.jsonl"));
    std::fs::copy(&good, odd).unwrap();
    let s = Server::start(&[dir.path()], &[]);
    let list = get(s.port, "/", &[]);
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("3 file(s) could not be read")
            && list.body.contains("notes.jsonl")
            && list.body.contains("conversation_caf\u{FFFD}.jsonl")
            && list.body.contains("the file name is not UTF-8"),
        "{}",
        list.body
    );
    let r = get(s.port, "/s/0/notes.jsonl", &[]);
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("not a convlog log") || r.body.contains("no valid record"),
        "{}",
        r.body
    );
    assert_eq!(
        get(
            s.port,
            "/s/0/conversation_20250818_143022.jsonl/export/xml",
            &[]
        )
        .status,
        404
    );
    std::fs::remove_file(&good).unwrap();
    let gone = get(s.port, "/s/0/conversation_20250818_143022.jsonl", &[]);
    assert_eq!(gone.status, 404);
    assert!(!get(s.port, "/", &[]).body.contains("143022"));

    // The port in use, and an address that is not one.
    let out = convlog()
        .args(["serve", "--addr", &format!("127.0.0.1:{}", s.port)])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for bad in [
        "nonsense",
        "127.0.0.1",
        "127.0.0.1:99999",
        "http://127.0.0.1:80/",
    ] {
        let out = convlog()
            .args(["serve", "--addr", bad])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--addr"),
            "{bad}"
        );
    }
    let out = convlog()
        .args(["serve", "--addr", "127.0.0.1:0", "/nonexistent/convlog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/convlog"));
}

#[test]
fn a_huge_message_shows_cut_and_downloads_whole() {
    let dir = tmp();
    let log = dir.path().join("conversation_20250818_143022.jsonl");
    let big = "नमस्ते ".repeat(50 << 20 >> 4); // ~50 MB
    // Not only the content: any field may be the huge one.
    let wide = "x".repeat(3 << 20);
    LogBuilder::new("big", T0)
        .message(&Message::user(big.clone(), "stt"), &ts(1))
        .message(&Message::agent("ok", "tts"), &ts(2))
        .message(
            &Message::agent("meta", &wide)
                .speaker(wide.clone())
                .meta(serde_json::json!({ "raw": wide.clone(), wide.clone(): 1 })),
            &ts(3),
        )
        .write(&log);
    let s = Server::start(&[dir.path()], &[]);
    let page = get(s.port, "/s/0/conversation_20250818_143022.jsonl", &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.body.len() < 2 << 20,
        "the page stays small: {}",
        page.body.len()
    );
    assert!(page.body.contains(&format!("of {} bytes", big.len())));
    assert_eq!(
        page.body
            .matches(&format!("cut at 256 KiB of {} bytes</span>", wide.len()))
            .count(),
        4,
        "source, speaker, a meta key and a meta value"
    );
    let text = get(
        s.port,
        "/s/0/conversation_20250818_143022.jsonl/export/text",
        &[],
    );
    assert!(text.body.len() > big.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_session_streams_each_append_and_stops_at_the_end() {
    let dir = tmp();
    let log = Session::create_with(dir.path(), quiet()).unwrap();
    log.append(Message::user("first", "stt")).await.unwrap();
    let name = crate::util::name_of(log.path());
    let s = Server::start(&[dir.path()], &[]);
    let page = get(s.port, &format!("/s/0/{name}"), &[]);
    assert!(page.body.contains("data-live=\"/s/0/") && page.body.contains("data-last-seq=\"1\""));
    let port = s.port;
    let target = format!("/s/0/{name}/events?after=1");
    let reader = std::thread::spawn(move || {
        let mut r = sse(port, &target);
        let mut got = Vec::new();
        while let Some((ev, data)) = next_event(&mut r) {
            got.push((ev.clone(), data, Instant::now()));
            if ev == "end" {
                break;
            }
        }
        got
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let appended = Instant::now();
    log.append(Message::agent("<b>second</b>", "tts").turn("t9"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    log.end().await.unwrap();
    let got = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(names, ["msg", "end"], "{got:?}");
    let (_, data, at) = &got[0];
    let v: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(
        (v["seq"].as_u64(), v["turn"].as_str()),
        (Some(2), Some("t9"))
    );
    assert!(
        v["html"]
            .as_str()
            .unwrap()
            .contains("&lt;b&gt;second&lt;/b&gt;")
    );
    // How soon is a figure of the bench report (`viewer`), not a timed test.
    assert!(*at > appended);
    // A log deleted while a page follows it: the stream says so and ends.
    let doomed = Session::create_with(dir.path(), quiet()).unwrap();
    doomed
        .append(Message::user("soon gone", "stt"))
        .await
        .unwrap();
    let doomed_name = crate::util::name_of(doomed.path());
    let target = format!("/s/0/{doomed_name}/events?after=1");
    let reader = std::thread::spawn(move || {
        let mut r = sse(port, &target);
        next_event(&mut r)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::remove_file(doomed.path()).unwrap();
    let ev = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    let (event, data) = ev.expect("an event before the stream ends");
    assert_eq!(event, "gone", "{data}");
    assert_eq!(get(port, &format!("/s/0/{doomed_name}"), &[]).status, 404);
    drop(doomed);

    // Nothing was written beside the log, and the log is as the writer left it.
    assert_eq!(crate::util::entries(dir.path()).len(), 1);
    assert!(
        convlog::read::inspect(&PathBuf::from(dir.path()).join(&name))
            .unwrap()
            .is_intact()
    );
}

#[test]
fn the_list_shows_what_each_session_redacted() {
    use convlog::redact::Policy;
    let dir = tmp();
    let policy = Policy::parse("card,phone").unwrap();
    let redacting =
        convlog::Session::create_with(dir.path(), crate::util::quiet().redact(policy)).unwrap();
    redacting
        .append_blocking(Message::user(
            "card 4111 1111 1111 1111 and 4012 8888 8888 1881, call +91 98765 43210",
            "stt",
        ))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let plain = convlog::Session::create_with(dir.path(), crate::util::quiet()).unwrap();
    plain
        .append_blocking(Message::user("hello", "stt"))
        .unwrap();
    let s = Server::start(&[dir.path()], &[]);
    let page = get(s.port, "/?sort=redacted&order=desc", &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains(">Redacted ▼</a>"), "{}", page.body);
    let body = &page.body[page.body.find("<tbody>").unwrap()..];
    let first = &body[..body.find("</tr>").unwrap()];
    let name = redacting
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(first.contains(&name), "{first}");
    assert!(
        first.contains("<td class=\"redacted\" title=\"policy: phone,card\">phone 1, card 2</td>"),
        "{first}"
    );
    let second = &body[body.find("</tr>").unwrap()..];
    assert!(second.contains("<td class=\"redacted\">-</td>"), "{second}");
    // A later append is counted: the summary follows the file.
    redacting
        .append_blocking(Message::agent("noted 4111 1111 1111 1111", "tts"))
        .unwrap();
    let page = get(s.port, "/?sort=redacted&order=desc", &[]);
    assert!(page.body.contains(">phone 1, card 3</td>"), "{}", page.body);
}

/// `mkfifo`: a named pipe, which a plain `open` for reading waits on
/// until a writer comes (forever, here).
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn a_directory_of_odd_files_and_damaged_logs_never_hangs_the_list() {
    let dir = tmp();
    let d = dir.path();
    // Logs: one fine, one with a corrupt line in the middle, one torn.
    sample_log(&d.join("conversation_20250818_100000.jsonl"), false);
    let corrupt = d.join("conversation_20250818_100001.jsonl");
    sample_log(&corrupt, false);
    crate::util::corrupt_line(&corrupt, 3);
    let torn = d.join("conversation_20250818_100002.jsonl");
    sample_log(&torn, false);
    crate::util::tear_tail(&torn);
    // Beside them, what a directory of logs also holds.
    std::fs::write(d.join("README.txt"), "not a log").unwrap();
    std::fs::write(d.join("garbage.jsonl"), [0xffu8, 0xfe, 0, 1, 2, b'\n']).unwrap();
    std::fs::create_dir(d.join("folder.jsonl")).unwrap();
    mkfifo(&d.join("pipe.jsonl"));
    // A FIFO where the fine log's export would be, and one where a stamp
    // would be: reading either with a plain open would never return.
    mkfifo(&d.join("conversation_20250818_100000.json"));
    sample_log(&d.join("conversation_20250818_100003.jsonl"), false);
    mkfifo(&d.join(".conversation_20250818_100003.json.stamp"));
    std::fs::write(d.join("conversation_20250818_100003.json"), "{}").unwrap();

    let s = Server::start(&[d], &[]);
    // `get` gives up after 30 s: a hang fails the test.
    let list = get(s.port, "/", &[]);
    assert_eq!(list.status, 200);
    let b = &list.body;
    assert!(b.contains("4 session(s)"), "{b}");
    for name in ["100000", "100001", "100002", "100003"] {
        assert!(
            b.contains(&format!("conversation_20250818_{name}.jsonl")),
            "{name}"
        );
    }
    assert!(
        b.contains("garbage.jsonl") && b.contains("1 file(s) could not be read"),
        "{b}"
    );
    assert!(!b.contains("pipe.jsonl") && !b.contains("folder.jsonl") && !b.contains("README"));
    assert!(b.contains("line 3 corrupt"), "the damage, in the list: {b}");
    assert_eq!(
        b.matches("<span class=\"state damaged\">").count(),
        2,
        "{b}"
    );
    // The export column says what sits beside each log, never waits on it.
    assert!(b.contains("class=\"export unknown\""), "{b}");

    // The damaged log's page shows the damage where it is; its exports
    // download whole (what could be read, as the page shows it).
    let page = get(s.port, "/s/0/conversation_20250818_100001.jsonl", &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<li class=\"damage\" id=\"line-3\">"));
    assert!(page.body.contains("state damaged"));
    let torn_page = get(s.port, "/s/0/conversation_20250818_100002.jsonl", &[]);
    assert_eq!(torn_page.status, 200);
    assert!(
        torn_page.body.contains("class=\"damage\""),
        "{}",
        torn_page.body
    );
    let json = get(
        s.port,
        "/s/0/conversation_20250818_100001.jsonl/export/json",
        &[],
    );
    assert_eq!(json.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&json.body).is_ok());
    // A page for what is not a log says so.
    for (target, status) in [
        ("/s/0/garbage.jsonl", 422),
        ("/s/0/pipe.jsonl", 404),
        ("/s/0/folder.jsonl", 404),
        ("/s/0/README.txt", 404),
        ("/s/0/pipe.jsonl/events", 404),
        ("/s/0/pipe.jsonl/log", 404),
    ] {
        let r = get(s.port, target, &[]);
        assert_eq!(r.status, status, "{target}: {}", r.body);
        assert!(r.body.contains("<p class=\"error\">"), "{target}");
    }
}

#[test]
fn serving_beyond_loopback_needs_the_token_on_every_request() {
    let dir = tmp();
    let name = "conversation_20250818_143022.jsonl";
    sample_log(&dir.path().join(name), false);
    let s = Server::start(&[dir.path()], &["--addr", "0.0.0.0:0", "--token", "t0ken"]);
    let targets = [
        "/".to_string(),
        format!("/s/0/{name}"),
        format!("/s/0/{name}/events"),
        format!("/s/0/{name}/log"),
        format!("/s/0/{name}/export/json"),
        "/assets/viewer.js".into(),
        "/nope".into(),
    ];
    for t in &targets {
        for auth in [
            None,
            Some("Authorization: Bearer t0ke"),
            Some("Cookie: convlog_token=x"),
        ] {
            let r = get(s.port, t, &auth.into_iter().collect::<Vec<_>>());
            assert_eq!(r.status, 401, "{t} {auth:?}");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
            assert!(!r.body.contains("sample-session") && !r.body.contains("convlog serve:"));
        }
    }
    // With it, from a name that is not loopback (this server is meant to be
    // reached from elsewhere).
    for t in &targets[..5] {
        let r = get(
            s.port,
            t,
            &[
                "Authorization: Bearer t0ken",
                "Host: transcripts.example:8080",
            ],
        );
        assert_eq!(r.status, 200, "{t}");
    }
    // The token in the address sets the cookie and is dropped from the
    // address, sending the browser nowhere but this server.
    for (target, to) in [
        ("/?token=t0ken", "/"),
        ("//evil.example/?token=t0ken", "/evil.example/"),
        (
            "/\\evil.example/?token=t0ken&page=2",
            "/evil.example/?page=2",
        ),
    ] {
        let r = get(s.port, target, &[]);
        assert_eq!(r.status, 303, "{target}");
        assert_eq!(r.header("location"), Some(to), "{target}");
    }
}
