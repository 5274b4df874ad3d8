//! The library's writer and reader, end to end.

use crate::util::quiet;
use convlog::read::{Recovery, inspect, scan_file};
use convlog::record::Record;
use convlog::{Error, Message, Options, Session};

#[tokio::test]
async fn append_end_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let with_export = quiet().export_on_end(true);
    let s = Session::create_with(dir.path().join("conversations"), with_export).unwrap();
    let name = s.path().file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("conversation_") && name.ends_with(".jsonl"),
        "{name}"
    );
    assert_eq!(
        s.append(Message::user("नमस्कार, आप कैसे हैं?", "deepgram_stt"))
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        s.append(Message::user("   ", "deepgram_stt"))
            .await
            .unwrap(),
        None
    );
    let a = s.append(Message::agent("नमस्ते!", "cartesia_tts").turn("t1"));
    let b = s.append(Message::agent("मैं ठीक हूँ।", "cartesia_tts").turn("t1"));
    assert_eq!((a.await.unwrap(), b.await.unwrap()), (Some(2), Some(3)));
    let ended = s.end().await.unwrap();
    assert_eq!(ended.seq, 4);
    let err = s
        .append(Message::user("late", "deepgram_stt"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Ended { .. }), "{err}");

    let export = std::fs::read_to_string(ended.export.unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&export).unwrap();
    let conv = v["conversation"].as_array().unwrap();
    assert_eq!(conv.len(), 2);
    assert_eq!(conv[1]["content"], "नमस्ते! मैं ठीक हूँ।");
    assert_eq!(conv[0]["source"], "deepgram_stt");
    assert!(!export.ends_with('\n'));

    let report = inspect(s.path()).unwrap();
    assert!(report.is_intact() && report.ended);
    assert_eq!(report.messages, 3);
}

#[tokio::test]
async fn concurrent_appends_get_distinct_increasing_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                let seq = s
                    .append(Message::user(format!("task {t} msg {i}"), "stt"))
                    .await
                    .unwrap()
                    .unwrap();
                seqs.push(seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=800).collect::<Vec<_>>());
    let mut seen = Vec::new();
    scan_file(s.path(), Recovery::Absolute, |r| {
        if let Record::Message(m) = r {
            seen.push(m.seq);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(seen, (1..=800).collect::<Vec<_>>());
}

#[tokio::test]
async fn same_second_sessions_get_distinct_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = std::collections::HashSet::new();
    for _ in 0..100 {
        let s = Session::create_with(dir.path(), quiet()).unwrap();
        assert!(paths.insert(s.path().to_path_buf()));
    }
    assert_eq!(paths.len(), 100);
}

#[tokio::test]
async fn two_writers_on_one_file_continue_each_others_seq() {
    let dir = tempfile::tempdir().unwrap();
    let a = Session::create_with(dir.path(), quiet()).unwrap();
    let b = Session::open_with(a.path(), quiet()).unwrap();
    for i in 0..20u64 {
        let (w, role) = if i % 2 == 0 { (&a, "a") } else { (&b, "b") };
        let seq = w
            .append(Message::user(format!("{role}{i}"), role))
            .await
            .unwrap();
        assert_eq!(
            seq,
            Some(i + 1),
            "each writer reads the other's records under the lock"
        );
    }
    assert_eq!(a.id(), b.id());
    b.end().await.unwrap();
    let err = a.append(Message::user("after", "a")).await.unwrap_err();
    assert!(
        matches!(err, Error::Ended { .. }),
        "the other writer's end record is seen: {err}"
    );
    let err = Session::open(a.path()).unwrap_err();
    assert!(matches!(err, Error::Ended { .. }), "{err}");
}

#[tokio::test]
async fn a_dropped_append_future_still_writes_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    drop(s.append(Message::user("never awaited", "stt")));
    s.flush().await.unwrap();
    let report = inspect(s.path()).unwrap();
    assert_eq!(report.messages, 1);
}

#[tokio::test]
async fn log_without_waiting_is_durable_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    for i in 0..100 {
        s.log(Message::agent(format!("fragment {i}"), "tts").turn("t1"));
    }
    s.flush().await.unwrap();
    assert_eq!(s.last_error(), None);
    assert_eq!(inspect(s.path()).unwrap().messages, 100);
}

#[tokio::test]
async fn limits_and_bad_fields_are_rejected_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet().max_content_bytes(16)).unwrap();
    let err = s
        .append(Message::user("x".repeat(17), "stt"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { path, source }
            if path == s.path() && matches!(**source, Error::ContentTooLarge { len: 17, limit: 16 })),
        "{err}"
    );
    let err = s
        .append(Message::user("ok", "stt").meta(serde_json::json!([1, 2])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("object"), "{err}");
    let err = s
        .append(Message::user("ok", "stt").timestamp("18/08/2025"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("RFC 3339"), "{err}");
    s.log(Message::user("y".repeat(17), "stt"));
    assert!(s.last_error().unwrap().contains("over the limit"));
    assert_eq!(inspect(s.path()).unwrap().messages, 0);
    assert!(
        "bot"
            .parse::<convlog::Role>()
            .unwrap_err()
            .to_string()
            .contains("user, agent")
    );
}

#[tokio::test]
async fn export_on_end_can_be_turned_off() {
    assert!(
        Options::default().export_on_end,
        "an export is written by default"
    );
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet().export_on_end(false)).unwrap();
    s.append(Message::user("hi", "stt")).await.unwrap();
    let ended = s.end().await.unwrap();
    assert_eq!(ended.export, None);
    assert!(!convlog::export_path(s.path()).exists());
}

#[tokio::test]
async fn files_and_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b");
    let with_export = quiet().export_on_end(true);
    let s = Session::create_with(&nested, with_export).unwrap();
    s.append(Message::user("hi", "stt")).await.unwrap();
    let ended = s.end().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(s.path()), 0o600);
    assert_eq!(mode(&ended.export.unwrap()), 0o600);
}

#[test]
fn dropping_the_last_handle_writes_what_was_logged() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    let path = s.path().to_path_buf();
    let other = s.clone();
    for i in 0..500 {
        s.log(Message::agent(format!("fragment {i}"), "tts"));
    }
    drop(s);
    drop(other);
    // No flush, no runtime: the drop waited for the writer to drain the queue.
    assert_eq!(inspect(&path).unwrap().messages, 500);
}

/// Groups over `max_batch_bytes` are taken from the queue request by
/// request, the rest in one swap: either way every message lands once, in
/// the order queued, and blocking callers mixed in get their own seqs.
#[test]
fn groups_over_the_byte_budget_keep_every_message_in_order() {
    for budget in [1, 300, 4 << 20] {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::create_with(dir.path(), quiet().max_batch_bytes(budget)).unwrap();
        let path = s.path().to_path_buf();
        let mut blocking_seqs = Vec::new();
        for i in 0..400 {
            if i % 97 == 0 {
                let seq = s
                    .append_blocking(Message::user(format!("m{i}"), "stt"))
                    .unwrap();
                blocking_seqs.push((i, seq));
            } else {
                s.log(Message::agent(format!("m{i}"), "tts"));
            }
        }
        s.flush_blocking().unwrap();
        let mut contents = Vec::new();
        scan_file(&path, Recovery::Absolute, |r| {
            if let Record::Message(m) = r {
                contents.push(m.content.to_string());
            }
            Ok(())
        })
        .unwrap();
        let expected: Vec<String> = (0..400).map(|i| format!("m{i}")).collect();
        assert_eq!(contents, expected, "budget {budget}");
        for (i, seq) in blocking_seqs {
            assert_eq!(seq, Some(i as u64 + 1), "budget {budget}");
        }
    }
}

#[tokio::test]
async fn append_many_gives_consecutive_seqs_and_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    s.append(Message::user("before", "stt")).await.unwrap();
    let seqs = s
        .append_many(vec![
            Message::agent("a", "tts").turn("t1"),
            Message::agent("  ", "tts"),
            Message::agent("b", "tts")
                .turn("t1")
                .timestamp("2025-08-18T14:30:22.5+05:30"),
        ])
        .await
        .unwrap();
    assert_eq!(seqs, [Some(2), None, Some(3)]);
    let err = s
        .append_many(vec![
            Message::user("fine", "stt"),
            Message::user("bad", "stt").timestamp("nope"),
        ])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("RFC 3339"), "{err}");
    assert_eq!(s.append_many(Vec::new()).await.unwrap(), []);
    assert_eq!(
        s.append(Message::user("after", "stt")).await.unwrap(),
        Some(4)
    );
    let mut seen = Vec::new();
    scan_file(s.path(), Recovery::Absolute, |r| {
        if let Record::Message(m) = r {
            seen.push((m.seq, m.content.to_string(), m.ts.to_string()));
        }
        Ok(())
    })
    .unwrap();
    let contents: Vec<&str> = seen.iter().map(|(_, c, _)| c.as_str()).collect();
    assert_eq!(contents, ["before", "a", "b", "after"]);
    assert_eq!(seen[2].2, "2025-08-18T14:30:22.5+05:30");
}

#[tokio::test]
async fn a_rejected_message_names_the_log_it_was_meant_for() {
    let dir = tempfile::tempdir().unwrap();
    let log = Session::create(dir.path()).unwrap();
    let big = "x".repeat(convlog::DEFAULT_MAX_CONTENT_BYTES + 1);
    let e = log
        .append(Message::user(big, "stt"))
        .await
        .expect_err("content over the limit is rejected");
    assert!(
        e.to_string().contains(&log.path().display().to_string()),
        "{e}"
    );
    assert!(e.is_rejected_input(), "{e:?}");
    let e = log
        .append(Message::user("hi", "stt").timestamp("2025-08-18T14:30:22"))
        .await
        .expect_err("a time without an offset is rejected");
    assert!(
        e.to_string().contains(&log.path().display().to_string()),
        "{e}"
    );
    assert!(e.to_string().contains("offset"), "{e}");
}

/// `log_deferred` records are built, checked and encoded by whoever
/// commits them, in the place they were queued: among `log`, blocking
/// appends and groups split by the byte budget, the order is the queue's;
/// the record is byte for byte what `log` writes for the same message;
/// blank content is skipped, and a bad message or unreadable bytes are
/// reported as `log` reports a bad message.
#[test]
fn deferred_messages_keep_their_place_and_their_bytes() {
    fn finished(m: Message) -> Message {
        m.meta(serde_json::json!({"e2e_latency": 0.8, "stt_model": "nova-3"}))
            .timestamp("2026-01-02T03:04:05.678901+00:00")
    }
    // The caller's own form: the content's bytes.
    fn build(bytes: &[u8]) -> Option<Message> {
        let text = std::str::from_utf8(bytes).ok()?;
        Some(finished(Message::agent(text, "tts")))
    }
    let deferred =
        |s: &Session, text: &str| s.log_deferred(|b| b.extend_from_slice(text.as_bytes()), build);
    for budget in [1, 4 << 20] {
        let dir = tempfile::tempdir().unwrap();
        let s = Session::create_with(dir.path(), quiet().max_batch_bytes(budget)).unwrap();
        let path = s.path().to_path_buf();
        for i in 0..300 {
            let m = Message::agent(format!("m{i}"), "tts");
            match i % 5 {
                0 => s.log(m),
                1 if i % 89 == 1 => drop(s.append_blocking(m).unwrap()),
                _ => deferred(&s, &format!("m{i}")),
            }
        }
        deferred(&s, "  ");
        s.flush_blocking().unwrap();
        assert_eq!(s.last_error(), None, "budget {budget}");
        let mut contents = Vec::new();
        scan_file(&path, Recovery::Absolute, |r| {
            if let Record::Message(m) = r {
                let i: u32 = m.content[1..].parse().unwrap();
                let direct = i.is_multiple_of(5) || (i % 5 == 1 && i % 89 == 1);
                assert_eq!(m.meta.is_some(), !direct, "{}", m.content);
                contents.push(m.content.to_string());
            }
            Ok(())
        })
        .unwrap();
        let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        assert_eq!(contents, expected, "budget {budget}");
    }

    // The same message through `log` and deferred: the same line.
    let lines: Vec<String> = (0..2)
        .map(|way| {
            let dir = tempfile::tempdir().unwrap();
            let s = Session::create_with(dir.path(), quiet()).unwrap();
            if way == 0 {
                s.log(finished(Message::agent("नमस्कार", "tts")));
            } else {
                deferred(&s, "नमस्कार");
            }
            s.flush_blocking().unwrap();
            let text = std::fs::read_to_string(s.path()).unwrap();
            text.lines().nth(1).unwrap().to_owned()
        })
        .collect();
    assert_eq!(lines[0], lines[1]);
    assert!(lines[1].contains("\"e2e_latency\":0.8"), "{}", lines[1]);

    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet().max_content_bytes(16)).unwrap();
    deferred(&s, &"y".repeat(17));
    deferred(&s, "ok");
    s.flush_blocking().unwrap();
    assert!(s.last_error().unwrap().contains("over the limit"));
    assert_eq!(inspect(s.path()).unwrap().messages, 1);

    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    s.log_deferred(|b| b.push(0xff), build);
    s.flush_blocking().unwrap();
    assert!(s.last_error().unwrap().contains("do not hold a message"));
    assert_eq!(inspect(s.path()).unwrap().messages, 0);
}

const PLACEMENT_CHILD: &str = "CONVLOG_PLACEMENT_CHILD";

/// The CPUs in a `/proc` `Cpus_allowed_list` ("0-3,6").
fn cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap());
    }
    cpus
}

/// The CPUs this process may use, from `/proc/self/status`.
fn process_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"));
    cpu_list(list.unwrap())
}

/// Each thread's name and allowed CPUs, from `/proc/self/task`.
fn threads_allowed() -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        // A thread may exit between the listing and the reads.
        let (Ok(comm), Ok(status)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("status")),
        ) else {
            continue;
        };
        if let Some(list) = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        {
            out.push((comm.trim().to_owned(), cpu_list(list)));
        }
    }
    out
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: all zeros is the empty set; `cpu` is below CPU_SETSIZE (it
    // came from /proc); pid 0 names the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "pin to {cpu}: {}", std::io::Error::last_os_error());
    }
}

/// Not a test by itself: the child of the test below, alone in its process
/// because which CPU the commit threads keep off is process-wide. It logs
/// from this thread pinned to the first allowed CPU, then to the last,
/// and prints where the commit threads may run once they keep off it (or
/// after 10 s if they never do).
#[test]
#[ignore = "the body of a child process, run by a_commit_thread_keeps_off_the_cpu_of_a_thread_that_logs with --ignored"]
fn placement_child() {
    let Some(dir) = std::env::var_os(PLACEMENT_CHILD) else {
        return;
    };
    let s = Session::create_with(&dir, quiet()).unwrap();
    s.log(Message::user("hello", "stt"));
    s.flush_blocking().unwrap();
    let all = process_cpus();
    for cpu in [all[0], *all.last().unwrap()] {
        pin(cpu);
        let start = std::time::Instant::now();
        let mut commit = Vec::new();
        while start.elapsed() < std::time::Duration::from_secs(10) {
            for i in 0..20 {
                s.log(Message::user(format!("message {i} from {cpu}"), "stt"));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            commit = threads_allowed()
                .into_iter()
                .filter(|(name, _)| name == "convlog-commit")
                .map(|(_, cpus)| cpus)
                .collect();
            if !commit.is_empty() && commit.iter().all(|cpus| !cpus.contains(&cpu)) {
                break;
            }
        }
        println!("CALLER {cpu} COMMIT {commit:?}");
    }
    s.flush_blocking().unwrap();
}

/// A thread that logs without waiting (an event loop) keeps convlog's
/// commit threads off its CPU, where they would take the loop's time slice
/// at a scheduler tick, and they follow it when it moves.
#[test]
fn a_commit_thread_keeps_off_the_cpu_of_a_thread_that_logs() {
    let all = process_cpus();
    if all.len() < 2 {
        println!("skipped: one CPU allowed ({all:?}), nowhere else for a commit thread to run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = crate::util::child_test("session::placement_child")
        .env(PLACEMENT_CHILD, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (first, last) = (all[0], *all.last().unwrap());
    for cpu in [first, last] {
        let others: Vec<usize> = all.iter().copied().filter(|&c| c != cpu).collect();
        let want = format!("CALLER {cpu} COMMIT [{others:?}");
        assert!(stdout.contains(&want), "wanted {want:?} in:\n{stdout}");
    }
}
