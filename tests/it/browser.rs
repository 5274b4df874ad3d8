//! The viewer in a real browser: headless Chromium (Debian's `chromium`
//! and `chromium-driver`), driven over the WebDriver protocol by a client
//! small enough to read here. Checks the DOM (turns, interruptions, a live
//! update arriving, the XSS payloads inert) and saves screenshots of the
//! sessions list and a session page under `target/tmp/viewer-artifacts/`.
//!
//! Without Chromium the suite skips with a printed reason, unless
//! `CONVLOG_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use convlog::Session;
use convlog::record::Message;
use serde_json::json;

use crate::util::{LogBuilder, quiet, skip};
use crate::viewer::{Server, sample_log};
use crate::webdriver::Browser;

/// Where the screenshots go.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

/// A real browser, or `None` when this machine has none (the suite then
/// skips through the one gate).
fn browser_or_skip() -> Option<Browser> {
    Browser::start()
        .map_err(|why| skip("the browser suite", &why))
        .ok()
}

/// No payload from the log ran on the page: none set its marker, no image
/// was made, and the page's own script is the only one.
fn assert_no_payload_ran(browser: &Browser) {
    assert_eq!(
        browser.js("return typeof window.__xss"),
        json!("undefined"),
        "a payload ran"
    );
    assert_eq!(browser.js("return document.images.length"), json!(0));
    assert_eq!(browser.js("return document.scripts.length"), json!(1));
}

#[test]
fn the_viewer_in_a_real_browser() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("conversation_20250818_143022.jsonl");
    sample_log(&hostile, true);
    // A file name is from the log's side too.
    let evil_name = "\"><img src=x onerror=\"window.__xss=4\">.jsonl";
    sample_log(&dir.path().join(evil_name), true);
    showcase(&dir.path().join("conversation_20250818_143001.jsonl"));
    let live = Session::create_with(dir.path(), quiet()).unwrap();
    live.append_blocking(Message::user("Is anyone there?", "deepgram_stt"))
        .unwrap();
    let live_name = crate::util::name_of(live.path());
    let server = Server::start(&[dir.path()], &[]);
    let out = artifacts();

    // The list.
    browser.goto(&format!("{}/", server.base));
    assert_eq!(
        browser.js("return document.querySelectorAll('#sessions tbody tr').length"),
        json!(4)
    );
    assert_eq!(browser.js("return typeof window.__xss"), json!("undefined"));
    assert_eq!(browser.js("return document.images.length"), json!(0));
    browser.screenshot(&out.join("sessions.png"));
    // Its link leads to its page, named as text.
    browser.js("document.querySelector('a[href*=\"%3Cimg\"]').click(); return 1");
    assert!(browser.wait_for(
        "return document.querySelector('h1') && document.querySelector('h1').textContent.indexOf('<img') >= 0",
        Duration::from_secs(10)
    ));
    assert_eq!(browser.js("return typeof window.__xss"), json!("undefined"));

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
    assert_no_payload_ran(&browser);
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
    // The header's session id and the meta keys are from the log too.
    assert!(
        text.contains("sample-session\"><img src=x onerror=\"window.__xss=2\">"),
        "{text}"
    );
    assert!(
        browser
            .js("return document.querySelector('details.meta dl').textContent")
            .as_str()
            .unwrap()
            .contains("\\x1b[31m\\x07\\x00\\u{202e}ctlkey"),
        "meta keys, control characters escaped"
    );

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
    // The timeline is there from the first message: one user bar.
    assert_eq!(
        browser.js("return Array.from(document.querySelectorAll('#tl rect')).map(r => r.getAttribute('class'))"),
        json!(["user"])
    );
    let span_before = browser.js("return document.getElementById('tl-span').textContent");
    std::thread::sleep(Duration::from_millis(300));
    live.append_blocking(Message::agent("Yes, <i>I'm</i> here.", "cartesia_tts").turn("x"))
        .unwrap();
    assert!(
        browser.wait_for(
            "return document.querySelectorAll('li.msg').length === 2",
            Duration::from_secs(10)
        ),
        "the live update did not arrive"
    );
    // …and the timeline grew with it: an agent bar after the user's, which
    // now holds the floor until the agent spoke, and a longer axis.
    assert!(
        browser.wait_for(
            "var r = document.querySelectorAll('#tl rect'); return r.length === 2 && \
             r[1].getAttribute('class') === 'agent' && Number(r[0].getAttribute('data-end')) >= 300 && \
             Number(r[0].getAttribute('width')) > 900",
            Duration::from_secs(10)
        ),
        "the timeline did not grow: {}",
        browser.js("return document.getElementById('tl').outerHTML")
    );
    assert_ne!(
        browser.js("return document.getElementById('tl-span').textContent"),
        span_before
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

/// Bad input in a real tab: each page comes up and says what it can,
/// nothing hangs, and payloads that arrive live stay text.
#[test]
fn bad_input_and_live_payloads_in_a_real_browser() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let damaged = d.join("conversation_20250818_100001.jsonl");
    sample_log(&damaged, false);
    crate::util::corrupt_line(&damaged, 3);
    let big = "नमस्ते ".repeat(50 << 20 >> 4); // ~50 MB
    LogBuilder::new("big", "2025-08-18T14:30:00.000000+05:30")
        .message(
            &Message::user(big.as_str(), "stt"),
            "2025-08-18T14:30:01.000000+05:30",
        )
        .message(
            &Message::agent("ok", "tts"),
            "2025-08-18T14:30:02.000000+05:30",
        )
        .write(&d.join("conversation_20250818_100002.jsonl"));
    drop(big);
    std::fs::write(d.join("garbage.jsonl"), "not a log\n").unwrap();
    let live = Session::create_with(d, quiet()).unwrap();
    live.append_blocking(Message::user("hello", "stt")).unwrap();
    let live_name = crate::util::name_of(live.path());
    std::thread::sleep(Duration::from_millis(1100)); // a second name
    let doomed = Session::create_with(d, quiet()).unwrap();
    doomed
        .append_blocking(Message::user("soon gone", "stt"))
        .unwrap();
    let doomed_name = crate::util::name_of(doomed.path());
    let server = Server::start(&[d], &[]);

    // The list: every log, the file that is not one named with why.
    browser.goto(&format!("{}/", server.base));
    assert_eq!(
        browser.js("return document.querySelectorAll('#sessions tbody tr').length"),
        json!(4)
    );
    assert!(
        browser
            .js("return document.querySelector('details.error').innerText")
            .as_str()
            .unwrap()
            .contains("1 file(s) could not be read")
    );

    // Damage, shown where it is.
    browser.goto(&format!(
        "{}/s/0/conversation_20250818_100001.jsonl",
        server.base
    ));
    assert_eq!(
        browser.js("return [document.getElementById('state').textContent, document.querySelectorAll('#conversation li.damage').length, document.querySelector('li.damage').id]"),
        json!(["damaged", 1, "line-3"])
    );

    // A 50 MB message: the tab gets a page it can hold, and says so.
    browser.goto(&format!(
        "{}/s/0/conversation_20250818_100002.jsonl",
        server.base
    ));
    // Counted once the page shows them: once, under CI load, the count read
    // 0 right after the navigation returned (cause not found; not seen in 12
    // runs since). The assertion below is unchanged.
    browser.wait_for(
        "return document.querySelectorAll('li.msg').length == 2",
        Duration::from_secs(10),
    );
    assert_eq!(
        browser.js("return document.querySelectorAll('li.msg').length"),
        json!(2)
    );
    let cut = browser.js("return document.querySelector('p.cut').textContent");
    assert!(
        cut.as_str().unwrap().contains("Shown cut at 256 KiB"),
        "{cut}"
    );

    // Not a log: a page that says so, with the way back.
    browser.goto(&format!("{}/s/0/garbage.jsonl", server.base));
    assert_eq!(
        browser.js("return document.querySelector('h1').textContent"),
        json!("Unprocessable Entity")
    );
    assert_eq!(
        browser.js("return document.querySelectorAll('p.error').length"),
        json!(1)
    );
    // A path out of the tree: nothing.
    browser.goto(&format!("{}/s/0/..%2f..%2f..%2fetc%2fpasswd", server.base));
    assert_eq!(
        browser.js("return document.querySelector('h1').textContent"),
        json!("Not Found")
    );

    // Payloads in every field of a message that arrives live: text, inert.
    browser.goto(&format!("{}/s/0/{live_name}", server.base));
    std::thread::sleep(Duration::from_millis(300));
    let p = |i: usize| crate::viewer::PAYLOADS[i % crate::viewer::PAYLOADS.len()];
    live.append_blocking(
        Message::agent(format!("live {}", p(0)), format!("tts{}", p(1)))
            .speaker(format!("bot{}", p(2)))
            .lang(format!("en{}", p(3)))
            .turn(format!("t{}", p(1)))
            .meta(json!({ p(0): p(1), "k": p(2) })),
    )
    .unwrap();
    live.append_blocking(
        convlog::ToolCall::new(
            format!("book{}", p(1)),
            format!("{{\"a\":\"{}\"}}", p(0)),
            p(2),
        )
        .output(p(0)),
    )
    .unwrap();
    assert!(
        browser.wait_for(
            "return document.querySelectorAll('#conversation > li').length === 3",
            Duration::from_secs(10)
        ),
        "the live updates did not arrive"
    );
    assert_no_payload_ran(&browser);
    let text = browser.js("return document.getElementById('conversation').textContent");
    let text = text.as_str().unwrap();
    assert!(
        text.contains("live <script>window.__xss=1</script>"),
        "{text}"
    );
    assert!(
        text.contains("bot javascript:window.__xss=3")
            || text.contains("botjavascript:window.__xss=3"),
        "{text}"
    );
    assert!(
        text.contains("\\x1b[31m"),
        "control characters show escaped: {text}"
    );

    // The log deleted while its page follows it: the page says so and the
    // tab stays responsive.
    browser.goto(&format!("{}/s/0/{doomed_name}", server.base));
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(doomed.path()).unwrap();
    assert!(
        browser.wait_for(
            "return document.getElementById('live').textContent.indexOf('The log is gone') === 0",
            Duration::from_secs(10)
        ),
        "{}",
        browser.js("return document.getElementById('live').textContent")
    );
    browser.js("location.reload(); return 1");
    assert!(browser.wait_for(
        "return document.querySelector('h1') && document.querySelector('h1').textContent === 'Not Found'",
        Duration::from_secs(10)
    ));
}

/// The suite's one skip gate, seen from outside: on a machine without
/// Chromium the suite passes saying why it skipped, and under
/// `CONVLOG_REQUIRE_ALL=1` the same skip fails it.
#[test]
fn without_chromium_the_browser_suite_skips_or_fails_under_require_all() {
    let bare = tempfile::tempdir().unwrap();
    let run = |require_all: bool| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "browser::the_viewer_in_a_real_browser",
            "--exact",
            "--test-threads=1",
        ])
        // A PATH with neither chromium nor chromedriver on it.
        .env("PATH", bare.path())
        .env_remove("CONVLOG_REQUIRE_ALL");
        if require_all {
            cmd.env("CONVLOG_REQUIRE_ALL", "1");
        }
        cmd.output().unwrap()
    };
    let bare_run = run(false);
    let err = String::from_utf8_lossy(&bare_run.stderr);
    assert!(bare_run.status.success(), "{err}");
    assert!(
        err.contains("skipping the browser suite: chromedriver is not installed (apt-get install chromium-driver)"),
        "{err}"
    );
    let strict = run(true);
    let out = String::from_utf8_lossy(&strict.stdout);
    assert!(!strict.status.success(), "{out}");
    assert!(
        out.contains("CONVLOG_REQUIRE_ALL=1 but chromedriver is not installed"),
        "{out}"
    );
}
