//! The viewer in a real browser: headless Chromium (Debian's `chromium`
//! and `chromium-driver`), driven over the WebDriver protocol by a client
//! small enough to read here. Checks the DOM (turns, interruptions, a live
//! update arriving, the XSS payloads inert) and saves screenshots of the
//! sessions list and a session page under `target/tmp/viewer-artifacts/`.
//!
//! Without Chromium the suite skips with a printed reason, unless
//! `CONVLOG_REQUIRE_ALL=1`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use convlog::Session;
use convlog::record::Message;
use serde_json::{Value, json};

use crate::util::{LogBuilder, quiet, skip};
use crate::viewer::{Server, sample_log};

/// Where the screenshots go.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// A chromedriver process and one browser session on it.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    /// Starts headless Chromium, or says why it cannot.
    pub fn start() -> Result<Browser, String> {
        let driver = find(&["chromedriver"])
            .ok_or("chromedriver is not installed (apt-get install chromium-driver)")?;
        let chromium = find(&["chromium", "chromium-browser"])
            .ok_or("chromium is not installed (apt-get install chromium)")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver did not start: {e}"))?;
        let mut b = Browser {
            driver: child,
            port,
            session: String::new(),
        };
        let t = Instant::now();
        while b.call("GET", "/status", None).is_err() {
            if t.elapsed() > Duration::from_secs(20) {
                return Err("chromedriver did not answer within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1100,860", "--hide-scrollbars", "--lang=en-US"]
            }
        }}});
        let v = b.call("POST", "/session", Some(caps))?;
        b.session = v["sessionId"]
            .as_str()
            .ok_or(format!("no session: {v}"))?
            .to_string();
        Ok(b)
    }

    /// One WebDriver command: its `value`, or the error it reported.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .map_err(|e| e.to_string())?;
        // chromedriver keeps the connection open: read the head, then
        // exactly the body it announces.
        let mut r = std::io::BufReader::new(s);
        let mut len = None;
        let mut line = String::new();
        loop {
            line.clear();
            if std::io::BufRead::read_line(&mut r, &mut line).map_err(|e| e.to_string())? == 0 {
                return Err("connection closed".into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse::<usize>().ok();
            }
        }
        let mut raw = vec![0; len.ok_or("no Content-Length")?];
        r.read_exact(&mut raw).map_err(|e| e.to_string())?;
        let body = String::from_utf8_lossy(&raw).into_owned();
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if v["value"]["error"].is_string() {
            return Err(format!(
                "{}: {}",
                v["value"]["error"], v["value"]["message"]
            ));
        }
        Ok(v["value"].clone())
    }

    fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{what}", self.session);
        self.call(method, &path, body)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page and returns its result.
    pub fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Waits up to `limit` for `script` to return true.
    pub fn wait_for(&self, script: &str, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.js(script) == Value::Bool(true) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let v = self.cmd("GET", "/screenshot", None);
        std::fs::write(path, base64(v.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !matches!(c, b'=' | b'\n' | b'\r'))
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= (val(c) as u32) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// A pleasant session to look at: the README's screenshot.
fn showcase(path: &Path) {
    let ts = |s: u32| {
        format!(
            "2025-08-18T14:30:{s:02}.{:06}+05:30",
            s * 37_000 % 1_000_000
        )
    };
    let user = |text: &str, eot: f64| {
        Message::user(text, "deepgram_stt")
            .speaker("caller")
            .meta(json!({ "end_of_turn_delay": eot, "transcript_confidence": 0.96 }))
    };
    let agent = |text: &str, ttft: f64, ttfb: f64, e2e: f64| {
        Message::agent(text, "cartesia_tts").meta(json!({ "llm_node_ttft": ttft, "tts_node_ttfb": ttfb, "e2e_latency": e2e, "llm_model": "gpt-4o-mini" }))
    };
    LogBuilder::new("7f3a9c2e41d84b0f", "2025-08-18T14:30:01.000000+05:30")
        .message(
            &user("Hi, I'd like to book a table for four tonight.", 0.28),
            &ts(2),
        )
        .message(
            &agent(
                "Of course! What time would you like, and is it for the rooftop or inside?",
                0.41,
                0.19,
                0.88,
            )
            .turn("a1"),
            &ts(4),
        )
        .message(&user("Around eight, rooftop please.", 0.31), &ts(9))
        .message(
            &agent(
                "Let me check the rooftop for eight o'clock…",
                0.52,
                0.21,
                1.02,
            )
            .turn("a2"),
            &ts(11),
        )
        .message(
            &agent("I'm sorry, the rooftop is fully", 2.9, 0.24, 3.61)
                .turn("a3")
                .interrupted(true),
            &ts(17),
        )
        .message(&user("Then inside is fine.", 0.26), &ts(19))
        .message(
            &agent(
                "Done: a table for four inside at 8 pm. See you tonight!",
                0.38,
                0.18,
                0.83,
            )
            .turn("a4"),
            &ts(21),
        )
        .end(&ts(23))
        .write(path);
}

#[test]
fn the_viewer_in_a_real_browser() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) => return skip("the browser suite", &why),
    };
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("conversation_20250818_143022.jsonl");
    sample_log(&hostile, true);
    showcase(&dir.path().join("conversation_20250818_143001.jsonl"));
    let live = Session::create_with(dir.path(), quiet()).unwrap();
    live.append_blocking(Message::user("Is anyone there?", "deepgram_stt"))
        .unwrap();
    let live_name = live
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let server = Server::start(&[dir.path()], &[]);
    let out = artifacts();

    // The list.
    browser.goto(&format!("{}/", server.base));
    assert_eq!(
        browser.js("return document.querySelectorAll('#sessions tbody tr').length"),
        json!(3)
    );
    browser.screenshot(&out.join("sessions.png"));

    // A page full of payloads: shown as text, none of them runs.
    browser.goto(&format!(
        "{}/s/0/conversation_20250818_143022.jsonl",
        server.base
    ));
    assert_eq!(
        browser.js("return document.querySelectorAll('li.msg').length"),
        json!(4)
    );
    assert_eq!(
        browser.js("return document.querySelectorAll('li.msg.interrupted').length"),
        json!(1)
    );
    assert_eq!(
        browser.js("return typeof window.__xss"),
        json!("undefined"),
        "a payload ran"
    );
    assert_eq!(browser.js("return document.images.length"), json!(0));
    assert_eq!(browser.js("return document.scripts.length"), json!(1));
    let text = browser
        .js("return document.body.innerText")
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("<script>window.__xss=1</script>"),
        "payloads show as text"
    );
    assert!(text.contains("javascript:window.__xss=3"));

    // The same page as an exported file, opened from disk.
    let exported = dir.path().join("export.html");
    let status = crate::util::convlog()
        .args(["export", "--format", "html", "-o"])
        .arg(&exported)
        .arg(&hostile)
        .output()
        .unwrap();
    assert!(status.status.success());
    browser.goto(&format!("file://{}", exported.display()));
    assert_eq!(
        browser.js("return document.querySelectorAll('li.msg').length"),
        json!(4)
    );
    assert_eq!(browser.js("return typeof window.__xss"), json!("undefined"));
    assert_eq!(browser.js("return document.scripts.length"), json!(0));

    // A live session: an append shows up, the end stops the stream.
    browser.goto(&format!("{}/s/0/{live_name}", server.base));
    assert_eq!(
        browser.js("return document.querySelectorAll('li.msg').length"),
        json!(1)
    );
    live.append_blocking(Message::agent("Yes, <i>I'm</i> here.", "cartesia_tts").turn("x"))
        .unwrap();
    assert!(
        browser.wait_for(
            "return document.querySelectorAll('li.msg').length === 2",
            Duration::from_secs(10)
        ),
        "the live update did not arrive"
    );
    live.append_blocking(
        Message::agent("How can I help?", "cartesia_tts")
            .turn("x")
            .interrupted(true),
    )
    .unwrap();
    assert!(browser.wait_for(
        "var l = document.querySelectorAll('li.msg'); return l.length === 2 && l[1].classList.contains('interrupted') && l[1].innerText.indexOf('How can I help?') >= 0",
        Duration::from_secs(10)
    ), "a fragment of the same turn joins it");
    assert_eq!(
        browser.js("return document.querySelectorAll('li.msg i').length"),
        json!(0)
    );
    live.end_blocking().unwrap();
    assert!(browser.wait_for(
        "return document.getElementById('state').textContent === 'ended'",
        Duration::from_secs(10)
    ));

    // The README's picture.
    browser.goto(&format!(
        "{}/s/0/conversation_20250818_143001.jsonl",
        server.base
    ));
    assert_eq!(
        browser.js("return document.querySelectorAll('li.msg.slow').length"),
        json!(1)
    );
    browser.screenshot(&out.join("session.png"));
    eprintln!("browser: screenshots in {}", out.display());
}
