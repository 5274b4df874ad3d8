//! The viewer (`convlog serve`): how quickly its pages come up, what the
//! server holds in memory, and what watching a live session costs.
//!
//! - a 10,000-message session page: first contentful paint in headless
//!   Chromium (the Performance API), goal ≤ 1 s;
//! - the list of 10,000 sessions: first contentful paint, and the response
//!   time of its first page over HTTP, goal ≤ 1 s; and the first look at a
//!   server just started, before it has summarised any log;
//! - the server's peak RSS after all of this, goal ≤ 64 MiB;
//! - 50 viewers (server-sent event streams, as the page's script opens
//!   them) of a session appended to 20 times a second: the lag from each
//!   acknowledged append to its event at every viewer, p99 goal ≤ 1 s; and
//!   the writer's throughput at full speed with those 50 viewers against
//!   none, alternating, in the same run (goal: unchanged, ≥ 0.9).
//!
//! Without Chromium the paint figures are skipped with the reason.

use std::io::BufReader;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use convlog::line::{self as codec, Kind};
use convlog::record::{Header, Message};
use convlog::{Options, Session};

use crate::harness::*;

#[path = "../../tests/it/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../../tests/it/webdriver.rs"]
#[allow(dead_code)]
mod webdriver;

/// The bytes of a log of `n` messages, alternating roles, a second apart.
fn log_bytes(session: &str, n: usize, end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let header = Header {
        version: convlog::FORMAT_VERSION,
        session: session.into(),
        created: "2025-08-18T14:30:00.000000+05:30".into(),
        redact: None,
    };
    codec::frame(Kind::Header, 0, &codec::header_fields(&header), &mut out);
    for i in 0..n {
        let ts = format!(
            "2025-08-18T{:02}:{:02}:{:02}.000000+05:30",
            14 + i / 3600,
            i / 60 % 60,
            i % 60
        );
        let m = if i % 2 == 0 {
            Message::user(
                format!("Message {i}: could you check the booking for next week?"),
                "deepgram_stt",
            )
        } else {
            Message::agent(format!("Reply {i}: of course, let me look that up for you."), "cartesia_tts")
                .meta(serde_json::json!({ "llm_node_ttft": 0.4, "tts_node_ttfb": 0.2, "e2e_latency": 0.9 }))
        };
        codec::frame(
            Kind::Message,
            i as u64 + 1,
            &codec::message_fields(&m, &ts),
            &mut out,
        );
    }
    if end {
        codec::frame(
            Kind::End,
            n as u64 + 1,
            &codec::end_fields("2025-08-18T23:00:00.000000+05:30"),
            &mut out,
        );
    }
    out
}

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(bin: &Path, paths: &[&Path]) -> Server {
        let mut child = Command::new(bin)
            .arg("serve")
            .args(paths)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start convlog serve");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        let port = line
            .trim()
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Server { child, port }
    }

    fn peak_rss(&self) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            << 10
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One load's paint, as the Performance API reports it: first contentful
/// paint and the arrival of the response's first byte, both in
/// milliseconds from the start of the navigation.
#[derive(Debug, Clone, Copy)]
struct Paint {
    fcp: f64,
    ttfb: f64,
}

/// Loads `url` and waits for its first contentful paint.
///
/// WebDriver's navigation returns at the `load` event, and a small page
/// (the list's hundred rows) is loaded before its first frame is painted:
/// asking the Performance API right then finds no paint entry yet. So wait
/// for the entry; its `startTime` is when the paint happened, not when it
/// was asked for, so the wait adds nothing to the figure.
fn paint(browser: &webdriver::Browser, url: &str) -> Option<Paint> {
    browser.goto(url);
    let found = browser.wait_for(
        "return performance.getEntriesByName('first-contentful-paint').length > 0",
        Duration::from_secs(30),
    );
    if !found {
        return None;
    }
    let v = browser.js(
        "var n = performance.getEntriesByType('navigation')[0]; \
         return [performance.getEntriesByName('first-contentful-paint')[0].startTime, n ? n.responseStart : -1];",
    );
    Some(Paint {
        fcp: v[0].as_f64()?,
        ttfb: v[1].as_f64()?,
    })
}

/// The median paint of several loads (a load that never painted counts as
/// the worst), and the runs to show.
fn median_paint(runs: &[Option<Paint>]) -> (Option<f64>, String) {
    let mut fcps: Vec<f64> = runs
        .iter()
        .map(|r| r.map_or(f64::INFINITY, |p| p.fcp))
        .collect();
    fcps.sort_by(f64::total_cmp);
    let median = fcps.get(fcps.len() / 2).copied().filter(|v| v.is_finite());
    let shown: Vec<String> = runs
        .iter()
        .map(|r| match r {
            Some(p) => format!("{:.0} ms (first byte {:.0} ms)", p.fcp, p.ttfb),
            None => "no paint within 30 s".into(),
        })
        .collect();
    (median, shown.join(", "))
}

fn ms_row(scenario: &str, ms: impl Into<Option<f64>>, goal: f64, note: &str) -> Row {
    let ms = ms.into();
    let shown = ms.map_or("no paint".to_string(), |ms| format!("{ms:.0} ms"));
    println!("  {scenario}: {shown}");
    Row {
        scenario: scenario.into(),
        convlog: shown,
        baseline: "-".into(),
        value: ms,
        goal: Goal::MaxMillis(goal),
        note: (!note.is_empty()).then(|| note.to_string()),
    }
}

pub(crate) fn viewer(cfg: &Config, rows: &mut Vec<Row>) {
    println!("[viewer]");
    let Some(bin) = convlog_bin() else {
        rows.push(skipped(
            "viewer",
            Goal::Report,
            "the convlog binary is not built",
        ));
        return;
    };
    let sessions = cfg.size("CONVLOG_REPORT_VIEWER_SESSIONS", 10_000, 100);
    let messages = cfg.size("CONVLOG_REPORT_VIEWER_MESSAGES", 10_000, 100);
    let list_dir = cfg.dir("viewer/list");
    let big_dir = cfg.dir("viewer/big");
    let live_dir = cfg.dir("viewer/live");
    let small = log_bytes("s", 6, true);
    for i in 0..sessions {
        std::fs::write(
            list_dir.join(format!("conversation_20250818_{i:06}.jsonl")),
            &small,
        )
        .unwrap();
    }
    std::fs::write(
        big_dir.join("conversation_20250818_143000.jsonl"),
        log_bytes("big", messages, true),
    )
    .unwrap();
    let live = Session::create_with(
        &live_dir,
        Options::default().echo(false).export_on_end(false),
    )
    .expect("create");
    let live_name = live
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let browser = webdriver::Browser::start();

    // The very first look: a server just started, the list opened at once,
    // before any log is summarised (a browser if there is one, else HTTP).
    let cold = {
        let fresh = Server::start(&bin, &[&list_dir]);
        let url = format!("http://127.0.0.1:{}/", fresh.port);
        match &browser {
            Ok(b) => match paint(b, &url) {
                Some(p) => format!("FCP {:.0} ms (first byte {:.0} ms)", p.fcp, p.ttfb),
                None => "no paint within 30 s".into(),
            },
            Err(_) => {
                let t = Instant::now();
                http::get(fresh.port, "/", &[]);
                format!("HTTP {:.0} ms", t.elapsed().as_secs_f64() * 1e3)
            }
        }
    };
    println!("  list of {sessions} sessions, first look at a fresh server: {cold}");

    let server = Server::start(&bin, &[&list_dir, &big_dir, &live_dir]);
    // The list over HTTP: the first request (every log summarised), then warm.
    let t = Instant::now();
    let first = http::get(server.port, "/", &[]);
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(first.status, 200);
    let mut warm: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            http::get(server.port, "/?sort=duration", &[]);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    warm.sort_by(f64::total_cmp);
    rows.push(ms_row(
        &format!("viewer: list of {sessions} sessions, HTTP"),
        warm[warm.len() / 2],
        1000.0,
        &format!(
            "median of 5 sorted requests once summarised; the first request took {first_ms:.0} ms"
        ),
    ));

    match &browser {
        Err(why) => rows.push(skipped(
            "viewer: first contentful paint",
            Goal::MaxMillis(1000.0),
            why,
        )),
        Ok(browser) => {
            let base = format!("http://127.0.0.1:{}", server.port);
            let page: Vec<Option<Paint>> = (0..5)
                .map(|_| {
                    paint(
                        browser,
                        &format!("{base}/s/1/conversation_20250818_143000.jsonl"),
                    )
                })
                .collect();
            let (median, runs) = median_paint(&page);
            rows.push(ms_row(
                &format!("viewer: {messages}-message page, FCP"),
                median,
                1000.0,
                &format!("headless Chromium, Performance API, median of 5: {runs}"),
            ));
            let list: Vec<Option<Paint>> = (0..5)
                .map(|i| paint(browser, &format!("{base}/?sort=start&page={}", 1 + i * 20)))
                .collect();
            let (median, runs) = median_paint(&list);
            rows.push(ms_row(
                &format!("viewer: list of {sessions} sessions, FCP"),
                median,
                1000.0,
                &format!(
                    "median of 5 (pages 1, 21, 41, 61, 81): {runs}; the first look at a fresh server: {cold}"
                ),
            ));
        }
    }

    // 50 viewers of a session appended to 20 times a second.
    let viewers = 50;
    let appends = cfg.size("CONVLOG_REPORT_VIEWER_APPENDS", 100, 20);
    let target = format!("/s/2/{live_name}/events?after=0");
    let streams: Vec<_> = (0..viewers)
        .map(|_| {
            let (port, target) = (server.port, target.clone());
            std::thread::spawn(move || {
                let mut r = http::sse(port, &target);
                let mut seen: Vec<(u64, Instant)> = Vec::new();
                while let Some((ev, data)) = http::next_event(&mut r) {
                    if ev == "end" {
                        break;
                    }
                    if ev == "msg" {
                        // Only the seq, without parsing the rest: the
                        // viewers share the writer's two cores, and their
                        // own work is not the server's.
                        let at = Instant::now();
                        let seq = data
                            .split("\"seq\":")
                            .nth(1)
                            .and_then(|r| r.split([',', '}']).next())
                            .and_then(|n| n.trim().parse::<u64>().ok())
                            .expect("an event with its seq");
                        seen.push((seq, at));
                    }
                }
                seen
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut acked: Vec<Instant> = Vec::with_capacity(appends);
    let t0 = Instant::now();
    for i in 0..appends {
        let due = t0 + Duration::from_millis(50 * i as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        live.append_blocking(message(i)).expect("append");
        acked.push(Instant::now());
    }
    std::thread::sleep(Duration::from_millis(300));

    // The writer at full speed, alternating: no viewers, then these 50.
    let burst = cfg.size("CONVLOG_REPORT_VIEWER_BURST", 300, 50);
    let plain_dir = cfg.dir("viewer/plain");
    let plain = Session::create_with(
        &plain_dir,
        Options::default().echo(false).export_on_end(false),
    )
    .expect("create");
    let (mut without, mut with) = (0.0f64, 0.0f64);
    for _ in 0..cfg.reps.min(3) {
        let t = Instant::now();
        for i in 0..burst {
            plain.append_blocking(message(i)).expect("append");
        }
        without = without.max(rate(burst, t.elapsed().as_secs_f64()));
        let t = Instant::now();
        for i in 0..burst {
            live.append_blocking(message(i)).expect("append");
        }
        with = with.max(rate(burst, t.elapsed().as_secs_f64()));
    }
    live.end_blocking().expect("end");
    let mut lags: Vec<f64> = Vec::new();
    let mut missing = 0usize;
    for s in streams {
        let seen = s.join().unwrap();
        for (i, at) in acked.iter().enumerate() {
            match seen.iter().find(|(seq, _)| *seq == i as u64 + 1) {
                Some((_, got)) => lags.push(got.saturating_duration_since(*at).as_secs_f64() * 1e3),
                None => missing += 1,
            }
        }
    }
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lags.get(((lags.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let (p50, p99, max) = (
        pct(0.5),
        pct(0.99),
        lags.last().copied().unwrap_or(f64::NAN),
    );
    println!("  live lag: p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms, {missing} missed");
    rows.push(Row {
        scenario: format!("viewer: {viewers} viewers, 20 appends/s, update lag"),
        convlog: format!("p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms"),
        baseline: "-".into(),
        value: (missing == 0).then_some(p99),
        goal: Goal::MaxP99Millis(1000.0),
        note: Some(format!(
            "{} samples ({appends} appends x {viewers} event streams), from the acknowledged append to its event; {missing} missed",
            lags.len()
        )),
    });
    println!("  writer: {without:.0}/s alone, {with:.0}/s with {viewers} viewers");
    rows.push(Row {
        scenario: format!("viewer: writer throughput with {viewers} viewers"),
        convlog: fmt_rate(with, "appends"),
        baseline: fmt_rate(without, "appends"),
        value: Some(with / without),
        goal: Goal::Ratio(0.9),
        note: Some(format!(
            "blocking appends (fdatasync each), {burst} per run, best of {} alternating runs",
            cfg.reps.min(3)
        )),
    });
    let rss = server.peak_rss();
    println!("  server peak RSS {}", mib(rss));
    rows.push(Row {
        scenario: "viewer: server peak RSS".into(),
        convlog: mib(rss),
        baseline: "-".into(),
        value: Some(rss as f64),
        goal: Goal::MaxBytes(64 << 20),
        note: Some("VmHWM of `convlog serve` after every figure above".into()),
    });
}
