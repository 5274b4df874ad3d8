//! The command line's shared contract: exit codes, error messages, paths that
//! go wrong, the `--json` vocabulary, time spans, damage wording and escaped
//! terminal output, checked the way a new user or a script meets them.

use crate::util::{
    convlog, corrupt_line, ingested, json_lines, new_log, run, stderr, stdout, tear_tail,
};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Ten user messages a second apart, not ended.
fn ten(dir: &Path) -> PathBuf {
    let ts: Vec<String> = (0..10)
        .map(|i| format!("2025-08-18T14:30:{:02}.000000+05:30", i))
        .collect();
    let contents: Vec<String> = (0..10).map(|i| format!("message {i}")).collect();
    let msgs: Vec<(&str, &str, &str)> = (0..10)
        .map(|i| ("user", contents[i].as_str(), ts[i].as_str()))
        .collect();
    ingested(dir, &msgs, false)
}

fn delete_line(log: &Path, n: usize) {
    let text = std::fs::read_to_string(log).unwrap();
    let kept: String = text
        .split_inclusive('\n')
        .enumerate()
        .filter(|(i, _)| i + 1 != n)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(log, kept).unwrap();
}

// ------------------------------------------------------------ time spans

#[test]
fn ls_stats_and_verify_time_a_session_by_its_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("conv");
    let log = ingested(
        &dir,
        &[
            ("user", "hello", "2025-08-18T14:30:00.000000+05:30"),
            ("agent", "hi there", "2025-08-18T14:40:00.000000+05:30"),
            ("user", "bye", "2025-08-18T14:45:13.500000+05:30"),
        ],
        true,
    );
    let ls = json_lines(&stdout(&run(&["ls", "--json"], &[&log])));
    assert_eq!(ls[0]["start"], "2025-08-18T14:30:00.000000+05:30");
    assert_eq!(ls[0]["stop"], "2025-08-18T14:45:13.500000+05:30");
    assert_eq!(ls[0]["duration_secs"], 913.5);

    let text = stdout(&run(&["ls", "--color", "never"], &[&log]));
    let row = text.lines().nth(1).unwrap();
    assert!(row.contains("2025-08-18 14:30:00"), "{row}");
    assert!(row.contains("15:14"), "{row}");

    let stats: Value = serde_json::from_str(&stdout(&run(&["stats", "--json"], &[&log]))).unwrap();
    assert_eq!(stats["sessions"][0]["duration_secs"], 913.5);
    assert_eq!(stats["total"]["duration_secs"], 913.5);

    let verify = json_lines(&stdout(&run(&["verify", "--json"], &[&log])));
    assert_eq!(verify[0]["start"], ls[0]["start"]);
    assert_eq!(verify[0]["stop"], ls[0]["stop"]);
    assert_eq!(verify[0]["duration_secs"], 913.5);
}

// ------------------------------------------------------------ seq gaps

#[test]
fn a_deleted_line_names_the_missing_seq_and_nothing_kept_is_called_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(tmp.path());
    // Line 1 is the header, so line 5 holds seq 4.
    delete_line(&log, 5);

    let out = run(&["verify", "--color", "never"], &[&log]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("seq 4 is missing"), "{text}");
    assert!(!text.contains("salvages all but"), "{text}");
    assert!(text.contains("all 9 messages"), "{text}");

    let out = run(
        &["export", "--recovery", "skip-corrupt", "--format", "jsonl"],
        &[&log],
    );
    assert_eq!(stdout(&out).lines().count(), 9);
    let err = stderr(&out);
    assert!(!err.contains("skipped"), "{err}");
    assert!(err.contains("seq 4 is missing"), "{err}");

    let ls = stdout(&run(&["ls", "--color", "never"], &[&log]));
    assert!(ls.contains("damaged (seq 4 missing)"), "{ls}");
}

#[test]
fn a_corrupt_line_is_named_as_the_one_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(tmp.path());
    corrupt_line(&log, 5);
    let text = stdout(&run(&["verify", "--color", "never"], &[&log]));
    assert!(text.contains("salvages all but line 5"), "{text}");
    let out = run(
        &["export", "--recovery", "skip-corrupt", "--format", "jsonl"],
        &[&log],
    );
    assert_eq!(stdout(&out).lines().count(), 9);
    assert!(stderr(&out).contains("skipped line 5"), "{}", stderr(&out));
    let ls = stdout(&run(&["ls", "--color", "never"], &[&log]));
    assert!(ls.contains("damaged (line 5 corrupt)"), "{ls}");
}

// ------------------------------------------------------------ verify --repair --json

#[test]
fn verify_json_repair_reports_what_it_found_and_what_the_file_is_now() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(tmp.path());
    tear_tail(&log);
    let out = run(&["verify", "--json", "--repair"], &[&log]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = &json_lines(&stdout(&out))[0];
    assert_eq!(v["state"], "open", "{v}");
    assert_eq!(v["damage"], json!([]), "{v}");
    assert_eq!(v["repair"]["action"], "truncated", "{v}");
    assert_eq!(v["repair"]["found"]["state"], "damaged", "{v}");
    assert_eq!(
        v["repair"]["found"]["damage"][0]["kind"], "torn-tail",
        "{v}"
    );

    let human = stdout(&run(&["verify", "--color", "never"], &[&log]));
    assert!(human.contains("intact"), "{human}");
}

// ------------------------------------------------------------ exit codes

#[test]
fn tail_of_an_empty_file_or_a_non_log_exits_2_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let other = tmp.path().join("notes.jsonl");
    std::fs::write(&other, "hello\nworld\n").unwrap();
    for p in [&empty, &other] {
        let out = run(&["tail"], &[p]);
        assert_eq!(out.status.code(), Some(2), "{}", p.display());
        assert!(stderr(&out).contains(&p.display().to_string()));
        assert!(stdout(&out).is_empty());
    }
}

#[test]
fn readers_exit_1_on_a_damaged_log_after_printing_what_they_can() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(tmp.path());
    corrupt_line(&log, 5);
    for args in [
        &["ls"][..],
        &["ls", "--json"],
        &["stats"],
        &["stats", "--json"],
        &["tail"],
        &["verify"],
        &["export", "--recovery", "skip-corrupt"],
    ] {
        let out = run(args, &[&log]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
    // A torn tail is damage too.
    let torn = ten(&tmp.path().join("torn"));
    tear_tail(&torn);
    for args in [&["ls"][..], &["stats"], &["tail"], &["verify"]] {
        let out = run(args, &[&torn]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    }
    // And an intact one is fine.
    let fine = ten(&tmp.path().join("fine"));
    for args in [&["ls"][..], &["stats"], &["tail"], &["verify"], &["export"]] {
        let out = run(args, &[&fine]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn an_empty_directory_says_no_logs_were_found_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for cmd in ["ls", "stats", "verify", "refresh", "compact"] {
        let out = run(&[cmd], &[&empty]);
        assert_eq!(out.status.code(), Some(0), "{cmd}");
        assert!(
            stderr(&out).contains(&format!("no logs found in {}", empty.display())),
            "{cmd}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{cmd}");
    }
    // search keeps grep's rule: nothing found is 1.
    let out = run(&["search", "x"], &[&empty]);
    assert_eq!(out.status.code(), Some(1));
}

// ------------------------------------------------------------ bad paths

#[test]
fn one_bad_path_is_reported_and_the_others_still_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("conv");
    let log = ten(&dir);
    let missing = tmp.path().join("nonexist");
    let name = log.file_stem().unwrap().to_string_lossy().into_owned();
    for args in [
        &["ls"][..],
        &["ls", "--json"],
        &["stats"],
        &["verify"],
        &["verify", "--json"],
        &["search", "message 3"],
        &["compact"],
    ] {
        // The bad path first, so that stopping at it would print nothing.
        let out = run(args, &[&missing, &dir]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(
            err.matches(&missing.display().to_string()).count(),
            1,
            "{args:?}: {err}"
        );
        let text = stdout(&out);
        assert!(
            text.contains(&name),
            "{args:?} printed nothing for the good path: {text}"
        );
    }
}

// ------------------------------------------------------------ errors

#[test]
fn errors_name_the_path_given_not_a_hidden_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("full");
    std::fs::create_dir(&dir).unwrap();
    // A disk with no room: writes fail with EFBIG (SIGXFSZ ignored).
    let mut cmd = crate::util::convlog_command();
    cmd.args(["new", "--dir"]).arg(&dir);
    let out = crate::util::with_fsize_limit(&mut cmd, 0).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert!(!err.contains(".conversation_"), "{err}");
    assert!(!err.contains("tmp-"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn verify_prints_a_file_error_on_stderr_naming_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("notes.jsonl");
    std::fs::write(&bad, "hello\n").unwrap();
    for args in [&["verify"][..], &["verify", "--json"]] {
        let out = run(args, &[&bad]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(err.matches("notes.jsonl").count(), 1, "{err}");
    }
}

#[test]
fn a_rejected_value_names_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let log = new_log(tmp.path());
    let out = convlog()
        .args(["append"])
        .arg(&log)
        .args([
            "--role",
            "user",
            "--source",
            "s",
            "--timestamp",
            "bad",
            "hi",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&log.display().to_string()), "{err}");
    assert!(err.contains("\"bad\""), "{err}");
}

// ------------------------------------------------------------ --json vocabulary

const SESSION_KEYS: [&str; 8] = [
    "path",
    "session",
    "state",
    "start",
    "stop",
    "duration_secs",
    "messages",
    "damage",
];

/// An object's keys in the order they were written.
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct StatsKeys {
    sessions: Vec<Keys>,
}

#[test]
fn every_json_answer_about_a_session_has_one_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("conv");
    let ended = ingested(
        &dir,
        &[
            ("user", "hello", "2025-08-18T14:30:00.000000+05:30"),
            ("agent", "hi", "2025-08-18T14:30:01.000000+05:30"),
        ],
        true,
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let damaged = ten(&dir);
    corrupt_line(&damaged, 5);

    let ls = stdout(&run(&["ls", "--json"], &[&dir]));
    let verify = stdout(&run(&["verify", "--json"], &[&dir]));
    let stats = stdout(&run(&["stats", "--json"], &[&dir]));
    let order = |line: &str| serde_json::from_str::<Keys>(line).unwrap().0;
    let stats_order: StatsKeys = serde_json::from_str(stats.trim()).unwrap();
    let key_orders = [
        ls.lines().map(order).collect::<Vec<_>>(),
        verify.lines().map(order).collect(),
        stats_order.sessions.into_iter().map(|k| k.0).collect(),
    ];
    // Every --json answer is JSON Lines: one compact object per line.
    let ls = json_lines(&ls);
    let verify = json_lines(&verify);
    let stats = json_lines(&stats);
    assert_eq!((ls.len(), verify.len(), stats.len()), (2, 2, 1));
    let stats_sessions = stats[0]["sessions"].as_array().unwrap().clone();

    for (i, log) in [&ended, &damaged].into_iter().enumerate() {
        for (c, (cmd, v)) in [
            ("ls", &ls[i]),
            ("verify", &verify[i]),
            ("stats", &stats_sessions[i]),
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(
                &key_orders[c][i][..SESSION_KEYS.len()],
                SESSION_KEYS,
                "{cmd}: keys in logical order"
            );
            assert_eq!(v["path"], log.display().to_string(), "{cmd}");
            assert_eq!(v["session"], ls[i]["session"], "{cmd}");
            assert_eq!(v["state"], ["ended", "damaged"][i], "{cmd}");
            assert_eq!(v["start"], ls[i]["start"], "{cmd}");
            assert_eq!(v["stop"], ls[i]["stop"], "{cmd}");
            assert_eq!(v["duration_secs"], ls[i]["duration_secs"], "{cmd}");
            assert_eq!(v["damage"], ls[i]["damage"], "{cmd}");
        }
    }
    assert_eq!(
        ls[0]["messages"],
        json!({"user": 1, "agent": 1, "total": 2})
    );
    assert_eq!(
        ls[1]["messages"],
        json!({"user": 9, "agent": 0, "total": 9})
    );
    assert_eq!(ls[1]["damage"][0]["line"], 5);
    assert_eq!(ls[1]["damage"][0]["kind"], "corrupt");
    for v in verify.iter().chain(&stats_sessions) {
        assert_eq!(
            v["messages"],
            ls[verify.iter().position(|x| x["path"] == v["path"]).unwrap()]["messages"]
        );
    }
    // The per-role figures of stats count messages under the same name.
    assert_eq!(stats_sessions[0]["user"]["messages"], 1);
    assert_eq!(
        stats[0]["total"]["messages"],
        json!({"user": 10, "agent": 1, "total": 11})
    );

    // A message (search) uses `timestamp`, as the export does.
    let found = json_lines(&stdout(&run(&["search", "--json", "hello"], &[&dir])));
    assert_eq!(found[0]["timestamp"], "2025-08-18T14:30:00.000000+05:30");
}

// ------------------------------------------------------------ terminal escaping

#[test]
fn terminal_output_escapes_newlines_and_control_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ingested(
        tmp.path(),
        &[(
            "user",
            "first line\nsecond\r line \u{1b}[31mred\u{1b}[0m \u{7}bell\ttab \u{9b}c1 é",
            "2025-08-18T14:30:00.000000+05:30",
        )],
        true,
    );
    let want =
        "[USER] first line\\nsecond\\r line \\x1b[31mred\\x1b[0m \\x07bell\ttab \\u{9b}c1 é\n";
    let tail = run(&["tail", "--color", "never"], &[&log]);
    assert_eq!(stdout(&tail), want);
    let text = run(&["export", "--format", "text"], &[&log]);
    assert_eq!(stdout(&text), want);
    let search = stdout(&run(&["search", "--color", "never", "red"], &[&log]));
    assert!(!search.contains('\u{1b}'), "{search:?}");
    assert!(search.contains("\\x1b[31m"), "{search:?}");
    // The data formats keep the content as it is.
    let jsonl = stdout(&run(&["export", "--format", "jsonl"], &[&log]));
    let v: Value = serde_json::from_str(jsonl.trim()).unwrap();
    assert!(v["content"].as_str().unwrap().contains("\u{1b}[31m"));
}

// ------------------------------------------------------------ search times

#[test]
fn search_accepts_a_minute_time_with_an_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(tmp.path());
    for until in [
        "2025-08-18T14:30:03+05:30",
        "2025-08-18T09:00:03Z",
        "2025-08-18T14:31+05:30",
        "2025-08-18 14:31+05:30",
        "2025-08-18T09:01Z",
    ] {
        let out = run(&["search", "--json", "message", "--until", until], &[&log]);
        assert_eq!(out.status.code(), Some(0), "{until}: {}", stderr(&out));
        let n = stdout(&out).lines().count();
        assert_eq!(n, if until.contains(":03") { 3 } else { 10 }, "{until}");
    }
    let out = run(
        &["search", "message", "--since", "2025-08-18T22:00+05:30"],
        &[&log],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

// ------------------------------------------------------------ defaults

#[test]
fn verify_defaults_to_the_conversations_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(&tmp.path().join("conversations"));
    let out = convlog()
        .current_dir(tmp.path())
        .args(["verify", "--color", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    assert!(stdout(&out).contains(&name));
}

// ------------------------------------------------------------ wording

#[test]
fn one_message_is_not_called_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ingested(
        tmp.path(),
        &[("user", "hello", "2025-08-18T14:30:00.000000+05:30")],
        true,
    );
    let text = stdout(&run(&["verify", "--color", "never"], &[&log]));
    assert!(text.contains("1 message,"), "{text}");
    assert!(!text.contains("1 messages"), "{text}");
    let out = run(&["compact"], &[tmp.path()]);
    let text = stdout(&out);
    assert!(!text.contains("1 messages"), "{text}");
}

/// The README's `convlog import` example, run on the example file it names.
#[test]
fn the_readme_import_example_is_what_import_prints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("$ convlog import old/*.json").unwrap();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    let tmp = tempfile::tempdir().unwrap();
    let old = tmp.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/conversations/conversation_20250818_143022.json"
        ),
        old.join("conversation_20250818_143022.json"),
    )
    .unwrap();
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let import = convlog()
        .current_dir(tmp.path())
        .env("TZ", "Asia/Kolkata")
        .args(["import", "old/conversation_20250818_143022.json"])
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", stderr(&import));
    let ls = convlog()
        .current_dir(tmp.path())
        .args(["ls", "--color", "never", "old"])
        .output()
        .unwrap();
    for out in [&import, &ls] {
        for line in stdout(out).lines() {
            assert!(
                norm(block).contains(&norm(line)),
                "README lacks {line:?}:\n{block}"
            );
        }
    }
}

/// A torn tail is a write never acknowledged: the export is complete, so
/// refresh (`compact`) notes it and exits 0.
#[test]
fn compact_notes_a_torn_tail_it_rendered_past() {
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(tmp.path());
    tear_tail(&log);
    let out = run(&["compact"], &[tmp.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(log.with_extension("json").exists());
    let err = stderr(&out);
    assert!(err.contains("torn tail"), "{err}");
    assert!(err.contains(&log.display().to_string()), "{err}");
}

/// A batch being written under the writer's lock is not a torn tail: the
/// readers that judge damage wait for the lock, as verify does.
#[test]
fn ls_and_stats_wait_out_a_batch_in_flight_instead_of_calling_it_damage() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let tmp = tempfile::tempdir().unwrap();
    let log = ten(tmp.path());
    let whole = std::fs::read(&log).unwrap();
    let last = whole[..whole.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let half = last + (whole.len() - last) / 2;
    for cmd in ["ls", "stats"] {
        let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
        assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
        f.set_len(half as u64).unwrap();
        let rest = whole[half..].to_vec();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(400));
            let mut f = f;
            use std::io::Seek;
            f.seek(std::io::SeekFrom::End(0)).unwrap();
            f.write_all(&rest).unwrap();
            // Closing the file releases the lock.
        });
        let out = run(&[cmd], &[&log]);
        writer.join().unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", stdout(&out));
        assert_eq!(std::fs::read(&log).unwrap(), whole);
    }
}
