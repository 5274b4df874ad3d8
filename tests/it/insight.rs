//! `ls`, `stats`, `search`, `tail`, `completions` and `man` from the
//! outside, on ended, open (live) and damaged logs.

use crate::util::{LogBuilder, convlog, entries, json_lines, quiet, run, stderr, stdout};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use convlog::{Message, Session};
use serde_json::{Value, json};

/// Writes a log line by line with the real codec, so every time is known.
fn write_log(path: &Path, created: &str, msgs: &[Message], end: Option<&str>) {
    let session = format!("{:032x}", path.to_string_lossy().len() as u128 * 7919);
    let log = msgs
        .iter()
        .fold(LogBuilder::new(&session, created), |b, m| {
            b.message(m, m.timestamp.as_deref().unwrap())
        });
    match end {
        Some(ts) => log.end(ts),
        None => log,
    }
    .write(path);
}

const T: &str = "2025-08-18T10:00:";

/// The ended session: 3 user and 4 agent records, one agent turn streamed in
/// two fragments, one interrupted. Response latencies 400, 1000 and 250 ms;
/// host latencies 380 and 950 ms. 18 user words, 14 agent words.
fn table_session() -> Vec<Message> {
    let at = |s: &str| format!("{T}{s}+05:30");
    vec![
        Message::user(
            "Hi, can you book a table at the Spice Route?",
            "deepgram_stt",
        )
        .turn("t1")
        .speaker("caller")
        .timestamp(at("00.000000")),
        Message::agent("Sure.", "cartesia_tts")
            .turn("t1")
            .meta(json!({"latency_ms": 380}))
            .timestamp(at("00.400000")),
        Message::agent("For how many people?", "cartesia_tts")
            .turn("t1")
            .timestamp(at("00.900000")),
        Message::user("Two people, at eight.", "deepgram_stt")
            .turn("t2")
            .speaker("caller")
            .timestamp(at("03.000000")),
        Message::agent("Booking a table for two at", "cartesia_tts")
            .turn("t2")
            .interrupted(true)
            .meta(json!({"latency_ms": 950}))
            .timestamp(at("04.000000")),
        Message::user("Actually make it nine.", "deepgram_stt")
            .turn("t3")
            .timestamp(at("05.000000")),
        Message::agent("Done: nine o'clock.", "cartesia_tts")
            .turn("t3")
            .timestamp(at("05.250000")),
    ]
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    ended: PathBuf,
    open: PathBuf,
    damaged: PathBuf,
}

/// Three logs in one directory: ended (`a_…`), open through the real writer
/// (`b_…`), and damaged (`c_…`: a copy of the ended one with line 3 corrupt
/// and a torn tail).
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("conversations");
    std::fs::create_dir(&dir).unwrap();
    let ended = dir.join("a_ended.jsonl");
    write_log(
        &ended,
        "2025-08-18T09:59:59.500000+05:30",
        &table_session(),
        Some(&format!("{T}06.000000+05:30")),
    );

    // A live session: the writer appends, nobody ends it.
    let s = Session::create_with(&dir, quiet()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        s.append(Message::user("Is anyone there?", "deepgram_stt"))
            .await
            .unwrap();
        s.append(Message::agent("Yes, I'm here.", "cartesia_tts").turn("x"))
            .await
            .unwrap();
    });
    let open = dir.join("b_open.jsonl");
    std::fs::rename(s.path(), &open).unwrap();
    drop(s);

    let damaged = dir.join("c_damaged.jsonl");
    let mut bytes = std::fs::read(&ended).unwrap();
    let line3 = crate::util::line_start(&bytes, 3);
    // "Sure." becomes "Sura." in line 3: its checksum no longer matches.
    let at = line3 + find(&bytes[line3..], b"Sure.").unwrap() + 3;
    bytes[at] = b'a';
    // What a crash leaves: half a line without its newline.
    bytes.extend_from_slice(b"{\"crc\":\"0000");
    std::fs::write(&damaged, bytes).unwrap();
    Fixture {
        _tmp: tmp,
        dir,
        ended,
        open,
        damaged,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Help text with line wrapping undone.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------- ls

#[test]
fn ls_lists_ended_open_and_damaged_sessions() {
    let f = fixture();
    // An up-to-date export for the ended log, a stale one for the open log.
    assert!(run(&["compact"], &[&f.ended, &f.open]).status.success());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = Session::open_with(&f.open, quiet()).unwrap();
        s.append(Message::user("Hello?", "deepgram_stt"))
            .await
            .unwrap();
    });
    // Make "the log changed after its export" independent of mtime granularity.
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(f.open.with_extension("json"))
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();

    let out = run(&["ls", "--color", "never"], &[&f.dir]);
    // One of the three is damaged: a finding.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("LOG ") && lines[0].contains("EXPORT"));
    let a = lines[1];
    assert!(a.contains("a_ended.jsonl"), "{a}");
    // From the first message to the last, as verify counts.
    assert!(a.contains("2025-08-18 10:00:00"), "{a}");
    assert!(a.contains("5.2 s"), "{a}");
    assert!(a.contains("  ended  "), "{a}");
    assert!(a.ends_with("a_ended.json (up to date)"), "{a}");
    assert!(lines[2].contains("  open  "), "{}", lines[2]);
    assert!(lines[2].ends_with("b_open.json (stale)"), "{}", lines[2]);
    assert!(
        lines[3].contains("damaged (line 3 corrupt, torn tail)"),
        "{}",
        lines[3]
    );
    assert!(
        lines[3].ends_with("c_damaged.json (missing)"),
        "{}",
        lines[3]
    );

    // Default directory: ./conversations.
    let here = convlog()
        .current_dir(f.dir.parent().unwrap())
        .args(["ls", "--json"])
        .output()
        .unwrap();
    let v = json_lines(&stdout(&here));
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["state"], "ended");
    assert_eq!(v[0]["messages"], json!({"user": 3, "agent": 4, "total": 7}));
    assert_eq!(v[0]["duration_secs"], 5.25);
    assert_eq!(v[0]["start"], "2025-08-18T10:00:00.000000+05:30");
    assert_eq!(v[0]["export"]["state"], "up-to-date");
    assert_eq!(v[1]["state"], "open");
    assert_eq!(v[1]["messages"], json!({"user": 2, "agent": 1, "total": 3}));
    assert_eq!(v[1]["export"]["state"], "stale");
    assert_eq!(v[2]["state"], "damaged");
    assert_eq!(v[2]["messages"], json!({"user": 3, "agent": 3, "total": 6}));
    assert_eq!(v[2]["export"]["state"], "missing");
}

#[test]
fn ls_reports_unreadable_files_and_missing_directories() {
    let f = fixture();
    let junk = f.dir.join("junk.jsonl");
    std::fs::write(&junk, "not a log\n").unwrap();
    // Found by scanning the directory, it is a stray: skipped with a note
    // (the 1 is the fixture's damaged log).
    let out = run(&["ls"], &[&f.dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("skipped {}: not a convlog log", junk.display())),
        "{}",
        stderr(&out)
    );
    // The others are still listed.
    assert_eq!(stdout(&out).lines().count(), 4);
    // Named, it is an error.
    let out = run(&["ls"], &[&f.ended, &junk]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("junk.jsonl: not a convlog log"));
    assert_eq!(stdout(&out).lines().count(), 2);

    let out = run(&["ls"], &[&f.dir.join("nowhere")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nowhere"));
}

#[test]
fn ls_colours_only_when_asked() {
    let f = fixture();
    let plain = stdout(&run(&["ls"], &[&f.ended]));
    assert!(!plain.contains('\x1b'));
    let color = stdout(&run(&["ls", "--color", "always"], &[&f.ended]));
    assert!(color.contains("\x1b[32mended"), "{color:?}");
    let no_color = convlog()
        .env("NO_COLOR", "1")
        .args(["ls"])
        .arg(&f.ended)
        .output()
        .unwrap();
    assert!(!stdout(&no_color).contains('\x1b'));
}

// ---------------------------------------------------------------- stats

#[test]
fn stats_counts_turns_words_interruptions_and_latency() {
    let f = fixture();
    let out = run(&["stats", "--json"], &[&f.ended]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["sessions"][0];
    assert_eq!(s["state"], "ended");
    assert_eq!(s["duration_secs"], 5.25);
    assert_eq!(
        s["user"],
        json!({"messages": 3, "turns": 3, "words": 18, "interrupted_turns": 0})
    );
    assert_eq!(
        s["agent"],
        json!({"messages": 4, "turns": 3, "words": 14, "interrupted_turns": 1})
    );
    assert_eq!(s["talk_ratio"], json!({"user": 0.5625, "agent": 0.4375}));
    // Last user record of a turn → first agent record after it: 400, 1000, 250 ms.
    assert_eq!(
        s["response_latency_ms"],
        json!({"count": 3, "p50": 400.0, "p90": 1000.0, "p99": 1000.0, "max": 1000.0, "mean": 550.0})
    );
    assert_eq!(
        s["host_latency_ms"],
        json!({"count": 2, "p50": 380.0, "p90": 950.0, "p99": 950.0, "max": 950.0, "mean": 665.0})
    );
    assert_eq!(v["total"]["sessions"], 1);

    let human = stdout(&run(&["stats", "--color", "never"], &[&f.ended]));
    assert!(
        human.contains("ended · started 2025-08-18 10:00:00 · 5.2 s"),
        "{human}"
    );
    assert!(
        human.contains("talk ratio       user 56% · agent 44% of words"),
        "{human}"
    );
    assert!(
        human.contains(
            "response latency p50 400 ms · p90 1.00 s · p99 1.00 s · max 1.00 s (3 user → agent changes)"
        ),
        "{human}"
    );
    assert!(
        human.contains("host latency     p50 380 ms · p90 950 ms"),
        "{human}"
    );
    // One session: no totals block.
    assert!(!human.contains("all sessions"), "{human}");
}

#[test]
fn stats_aggregates_across_sessions_including_damaged_and_live_ones() {
    let f = fixture();
    let out = run(&["stats", "--json"], &[&f.dir]);
    // One of the three is damaged: a finding.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[1]["state"], "open");
    assert_eq!(sessions[2]["state"], "damaged");
    // The corrupt "Sure." is skipped: the first response is now 900 ms.
    assert_eq!(sessions[2]["agent"]["messages"], 3);
    assert_eq!(sessions[2]["response_latency_ms"]["p50"], 900.0);
    let t = &v["total"];
    assert_eq!(t["sessions"], 3);
    let sum = |role: &str, k: &str| -> u64 {
        sessions.iter().map(|s| s[role][k].as_u64().unwrap()).sum()
    };
    for role in ["user", "agent"] {
        for k in ["messages", "turns", "words", "interrupted_turns"] {
            assert_eq!(t[role][k].as_u64().unwrap(), sum(role, k), "{role}.{k}");
        }
    }
    let counts: u64 = sessions
        .iter()
        .map(|s| s["response_latency_ms"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(t["response_latency_ms"]["count"].as_u64().unwrap(), counts);
    assert!(t["response_latency_ms"]["max"].as_f64().unwrap() >= 1000.0);
    assert_eq!(t["host_latency_ms"]["count"], 3);

    let human = stdout(&run(&["stats", "--color", "never"], &[&f.dir]));
    assert!(human.contains("all sessions  3 sessions"), "{human}");
}

#[test]
fn stats_help_says_what_timestamps_mean() {
    let out = run(&["stats", "--help"], &[]);
    let help = words(&stdout(&out));
    assert!(help.contains("when the text reached the logger"), "{help}");
    assert!(help.contains("not when audio"), "{help}");
}

// ---------------------------------------------------------------- search

#[test]
fn search_finds_highlights_and_exits_like_grep() {
    let f = fixture();
    let out = run(&["search", "table", "--color", "never"], &[&f.ended]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let name = f.ended.display().to_string();
    assert_eq!(
        text,
        format!(
            "{name}  2025-08-18 10:00:00  [USER] Hi, can you book a table at the Spice Route?\n\
             {name}  2025-08-18 10:00:04  [AGENT] Booking a table for two at [interrupted]\n"
        )
    );
    let colored = stdout(&run(&["search", "table", "--color", "always"], &[&f.ended]));
    assert!(
        colored.contains("\x1b[1m\x1b[31mtable\x1b[0m\x1b[0m"),
        "{colored:?}"
    );
    assert!(colored.contains("\x1b[36m[USER]\x1b[0m"), "{colored:?}");
    let no_color = convlog()
        .env("NO_COLOR", "1")
        .args(["search", "table"])
        .arg(&f.ended)
        .output()
        .unwrap();
    assert!(!stdout(&no_color).contains('\x1b'));

    let none = run(&["search", "pizza"], &[&f.ended]);
    assert_eq!(none.status.code(), Some(1));
    assert!(none.stdout.is_empty());
    let bad = run(&["search", "(unclosed"], &[&f.ended]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("invalid pattern"), "{}", stderr(&bad));
    let missing = run(&["search", "table"], &[&f.dir.join("nowhere")]);
    assert_eq!(missing.status.code(), Some(2));
    // -i and -F.
    assert_eq!(
        run(&["search", "-i", "SPICE"], &[&f.ended]).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["search", "-F", "o'clock."], &[&f.ended])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["search", "-F", "o.clock"], &[&f.ended]).status.code(),
        Some(1)
    );
}

fn count(args: &[&str], paths: &[&Path]) -> usize {
    let out = run(args, paths);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        stderr(&out)
    );
    stdout(&out).lines().count()
}

#[test]
fn search_filters_by_role_source_speaker_time_and_session() {
    let f = fixture();
    let p: &[&Path] = &[&f.ended];
    assert_eq!(
        count(&["search", "."], p),
        6,
        "merged: the t1 fragments are one"
    );
    assert_eq!(count(&["search", ".", "--no-merge"], p), 7);
    assert_eq!(count(&["search", "Sure. For how"], p), 1);
    assert_eq!(count(&["search", "Sure. For how", "--no-merge"], p), 0);
    assert_eq!(count(&["search", ".", "--role", "user"], p), 3);
    assert_eq!(count(&["search", ".", "--role", "agent"], p), 3);
    assert_eq!(count(&["search", ".", "--source", "cartesia_tts"], p), 3);
    assert_eq!(count(&["search", ".", "--speaker", "caller"], p), 2);
    // RFC 3339, and local times (TZ=Asia/Kolkata for these runs).
    for since in [
        "2025-08-18T10:00:03+05:30",
        "2025-08-18T04:30:03Z",
        "2025-08-18T10:00:03",
        "2025-08-18 10:00:03",
    ] {
        assert_eq!(count(&["search", ".", "--since", since], p), 4, "{since}");
    }
    assert_eq!(count(&["search", ".", "--since", "2025-08-18T10:00"], p), 6);
    assert_eq!(count(&["search", ".", "--since", "2025-08-19"], p), 0);
    // --until is exclusive.
    assert_eq!(
        count(&["search", ".", "--until", "2025-08-18T10:00:03+05:30"], p),
        2
    );
    let bad = run(&["search", ".", "--since", "last tuesday"], p);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("is not a time"), "{}", stderr(&bad));

    let d: &[&Path] = &[&f.dir];
    assert_eq!(
        count(&["search", "table"], d),
        4,
        "ended and damaged copies"
    );
    assert_eq!(
        count(&["search", "table", "--session", "a_ended.jsonl"], d),
        2
    );
    assert_eq!(count(&["search", "table", "--session", "c_damaged"], d), 2);
    // The damaged log is a copy of the ended one, so it has the same session id.
    let id = format!("{:032x}", f.ended.to_string_lossy().len() as u128 * 7919);
    assert_eq!(count(&["search", "table", "--session", &id], d), 4);
    assert_eq!(count(&["search", "table", "--session", "ffffffff"], d), 0);
}

#[test]
fn search_json_gives_byte_offsets() {
    let f = fixture();
    let out = run(&["search", "table|नहीं", "--json"], &[&f.ended]);
    let v = json_lines(&stdout(&out));
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["role"], "user");
    assert_eq!(v[0]["seq"], 1);
    assert_eq!(v[0]["timestamp"], "2025-08-18T10:00:00.000000+05:30");
    assert_eq!(v[0]["speaker"], "caller");
    let content = v[0]["content"].as_str().unwrap();
    let m = &v[0]["matches"][0];
    let (s, e) = (
        m["start"].as_u64().unwrap() as usize,
        m["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&content[s..e], "table");
    assert_eq!(v[1]["interrupted"], true);
}

#[test]
fn search_reads_damaged_and_live_logs() {
    let f = fixture();
    let out = run(&["search", "people"], &[&f.damaged]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("[AGENT] For how many people?"));
    assert!(
        stderr(&out).contains("skipped 1 damaged line(s)"),
        "{}",
        stderr(&out)
    );
    let out = run(&["search", "anyone"], &[&f.open]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("[USER] Is anyone there?"));
}
// ---------------------------------------------------------------- tail

#[test]
fn tail_prints_every_record_and_marks_interruptions() {
    let f = fixture();
    let out = run(&["tail", "--color", "never"], &[&f.ended]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "[USER] Hi, can you book a table at the Spice Route?\n\
         [AGENT] Sure.\n\
         [AGENT] For how many people?\n\
         [USER] Two people, at eight.\n\
         [AGENT] Booking a table for two at [interrupted]\n\
         [USER] Actually make it nine.\n\
         [AGENT] Done: nine o'clock.\n"
    );
    let colored = stdout(&run(&["tail", "--color", "always"], &[&f.ended]));
    assert!(colored.contains("\x1b[36m[USER]\x1b[0m Hi"), "{colored:?}");
    assert!(
        colored.contains("\x1b[35m[AGENT]\x1b[0m Sure."),
        "{colored:?}"
    );
    assert!(
        colored.contains("two at\x1b[33m [interrupted]\x1b[0m"),
        "{colored:?}"
    );
}

#[test]
fn tail_skips_damage_and_stops_at_a_torn_tail() {
    let f = fixture();
    let out = run(&["tail", "--color", "never"], &[&f.damaged]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(!text.contains("Sure."), "{text}");
    assert_eq!(text.lines().count(), 6, "{text}");
    let err = stderr(&out);
    assert!(err.contains("line 3") && err.contains("skipped"), "{err}");
    // The half-written last line is not a record yet; tail says nothing about it.
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = run(&["tail", "-n", "1", "--color", "never"], &[&f.open]);
    assert_eq!(stdout(&out), "[AGENT] Yes, I'm here.\n");
}

/// `tail -f` prints each agent fragment as it is written, not once the turn is
/// over: every line is read back before the next fragment is even appended.
#[test]
fn tail_follow_shows_fragments_as_they_stream() {
    let f = fixture();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("convlog"))
        .args(["tail", "-f", "--color", "never"])
        .arg(&f.open)
        .env("CONVLOG_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // A safety net so a broken tail fails the test instead of hanging it.
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .is_err()
        {
            let _ = StdCommand::new("kill").arg(pid.to_string()).status();
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().map(|l| l.unwrap()).unwrap_or_default();
    assert_eq!(next(), "[USER] Is anyone there?");
    assert_eq!(next(), "[AGENT] Yes, I'm here.");

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let s = Session::open_with(&f.open, quiet()).unwrap();
    let fragments = ["How can", "I help", "you today?"];
    for frag in fragments {
        rt.block_on(s.append(Message::agent(frag, "cartesia_tts").turn("t9")))
            .unwrap();
        assert_eq!(next(), format!("[AGENT] {frag}"));
    }
    rt.block_on(s.append(Message::agent("Hello", "cartesia_tts").interrupted(true)))
        .unwrap();
    assert_eq!(next(), "[AGENT] Hello [interrupted]");
    rt.block_on(s.end()).unwrap();
    // tail -f stops by itself at the end record.
    assert!(child.wait().unwrap().success());
    let _ = done_tx.send(());
    watchdog.join().unwrap();
}

// ---------------------------------------------------------------- extras

#[test]
fn completions_and_man_pages_come_from_the_cli_definitions() {
    for (shell, marker) in [
        ("bash", "_convlog()"),
        ("zsh", "#compdef convlog"),
        ("fish", "complete -c convlog"),
    ] {
        let out = run(&["completions", shell], &[]);
        assert!(out.status.success());
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell}");
        assert!(
            text.contains("search") && text.contains("markdown"),
            "{shell}"
        );
    }
    let out = run(&["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2));

    let man = stdout(&run(&["man"], &[]));
    assert!(man.contains(".TH convlog 1"), "{man}");
    assert!(man.contains("convlog\\-search(1)"), "{man}");

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let out = run(&["man", "--dir"], &[&dir]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pages = entries(&dir);
    for want in [
        "convlog.1",
        "convlog-search.1",
        "convlog-stats.1",
        "convlog-import.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{pages:?}");
    }
    let stats = words(&std::fs::read_to_string(dir.join("convlog-stats.1")).unwrap());
    assert!(stats.contains("not when audio"), "{stats}");
    let page = tmp.path().join("convlog.1");
    assert!(run(&["man", "-o"], &[&page]).status.success());
    assert_eq!(std::fs::read_to_string(&page).unwrap(), man);
}

#[test]
fn every_subcommand_help_has_an_example() {
    let help = stdout(&run(&["--help"], &[]));
    let subcommands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    for want in [
        "ls",
        "stats",
        "search",
        "import",
        "completions",
        "man",
        "export",
    ] {
        assert!(subcommands.iter().any(|c| c == want), "{subcommands:?}");
    }
    for sub in &subcommands {
        let out = run(&[sub, "--help"], &[]);
        assert!(out.status.success(), "{sub}");
        assert!(
            stdout(&out).contains("Example"),
            "{sub} --help has no example"
        );
    }
}

#[test]
fn export_help_lists_every_format() {
    let help = words(&stdout(&run(&["export", "--help"], &[])));
    for f in ["json", "jsonl", "markdown", "text", "csv", "srt", "vtt"] {
        assert!(help.contains(f), "{f}");
    }
    assert!(help.contains("not audio times"), "{help}");
}

#[test]
fn output_dash_means_stdout() {
    let f = fixture();
    let a = run(&["export", "--format", "text", "-o", "-"], &[&f.ended]);
    let b = run(&["export", "--format", "text"], &[&f.ended]);
    assert_eq!(stdout(&a), stdout(&b));
    assert!(stdout(&a).starts_with("[USER] Hi"));
    assert!(!Path::new("-").exists());
    let m = run(&["man", "-o", "-"], &[]);
    assert!(stdout(&m).contains(".TH convlog 1"));
}
