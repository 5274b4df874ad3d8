//! The write path as a user meets it: what `ingest --ack` does when its
//! reader goes away, when the echo appears, what a full disk leaves behind,
//! and how `append` behaves behind another process's lock. Each scenario is
//! driven through the real binary, on a real filesystem.

use crate::util::{convlog_command, new_log, stderr, with_fsize_limit};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::broken_files;

/// `convlog` with its console log at `info`: the echo lines are what some of
/// these tests watch.
fn convlog() -> Command {
    let mut c = convlog_command();
    c.env("CONVLOG_LOG", "info");
    c
}
use convlog::Recovery;

/// (messages, ended) as a reader sees the log.
fn contents(log: &Path) -> (u64, bool) {
    let report = convlog::read::scan(
        log,
        std::io::BufReader::new(std::fs::File::open(log).unwrap()),
        Recovery::Absolute,
        |_| Ok(()),
    )
    .unwrap();
    (report.last_seq.unwrap_or(0), report.ended)
}

/// `convlog append LOG ARGS… --role user --source s TEXT`.
fn append(log: &Path, args: &[&str], text: &str) -> Command {
    let mut cmd = convlog();
    cmd.arg("append")
        .arg(log)
        .args(args)
        .args(["--role", "user", "--source", "s", text]);
    cmd
}

/// Spawns `cmd` with its three standard streams piped.
fn spawn_piped(cmd: &mut Command) -> std::process::Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `convlog ingest LOG ARGS` fed `total` lines (`line(n)` for line n) and
/// read like `head -1`: one ack, then stdout closes. It must exit 2 with
/// one line of reason that names the line to resend from; returns that
/// line of reason and the number.
fn head_one(log: &Path, args: &[&str], total: u64, line: fn(u64) -> String) -> (String, u64) {
    let mut child = spawn_piped(convlog().arg("ingest").arg(log).args(args));
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for n in 1..=total {
            if stdin.write_all(line(n).as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "1 1\n");
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "one line of reason: {err}");
    let resend: u64 = err
        .rsplit("resend from line ")
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no resume line in: {err}"));
    (err, resend)
}

#[test]
fn ingest_ack_with_stdout_closed_keeps_what_it_read_and_says_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let total = 200_000;
    let (err, resend) = head_one(&log, &["--ack", "--end"], total, |_| {
        "{\"role\":\"user\",\"content\":\"hi\",\"source\":\"s\"}\n".to_string()
    });
    assert!(err.contains("stdout closed"), "{err}");
    assert!(err.contains("--end was not applied"), "{err}");
    // Everything before the resume line is durable, nothing after it was
    // written, and the session was not ended.
    let (messages, ended) = contents(&log);
    assert_eq!(messages, resend - 1, "{err}");
    assert!(!ended);
    assert!(resend <= total, "stopped before the end of input: {err}");
}

#[test]
fn the_echo_appears_only_for_a_durable_message() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let len = std::fs::metadata(&log).unwrap().len();
    // A full disk: the record cannot be written, so it must not be echoed.
    let mut child = spawn_piped(with_fsize_limit(
        convlog().arg("ingest").arg(&log).arg("--echo"),
        len,
    ));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"role\":\"user\",\"content\":\"lost words\",\"source\":\"s\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("File too large"), "{err}");
    assert!(
        !err.contains("lost words"),
        "echoed a message that is not in the log: {err}"
    );
    assert_eq!(contents(&log), (0, false));

    // With room, the echo comes, after the record is in the log.
    let log = new_log(dir.path());
    let mut child = spawn_piped(convlog().arg("ingest").arg(&log).args(["--echo", "--ack"]));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"role\":\"user\",\"content\":\"kept words\",\"source\":\"s\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[USER] kept words"),
        "{}",
        stderr(&out)
    );
    assert_eq!(contents(&log), (1, false));
}

#[test]
fn a_full_disk_leaves_no_empty_backup_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let out = append(&log, &[], "kept").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A torn tail, which the next append must save in LOG.broken before cutting it.
    let torn = format!(
        "{{\"crc\":\"1234\",\"seq\":2,\"content\":\"{}",
        "x".repeat(300)
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(torn.as_bytes())
        .unwrap();
    let before = std::fs::read(&log).unwrap();
    for attempt in 1..=3 {
        let mut cmd = append(&log, &[], "again");
        let out = with_fsize_limit(&mut cmd, 100).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "attempt {attempt}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(".broken"), "{}", stderr(&out));
        assert_eq!(
            broken_files(&log),
            Vec::<PathBuf>::new(),
            "attempt {attempt}"
        );
        let hidden: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "temporary files left: {hidden:?}");
        assert_eq!(std::fs::read(&log).unwrap(), before);
    }
    // With room again, the tail is saved once and the append goes through.
    let out = append(&log, &[], "again").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let broken = broken_files(&log);
    assert_eq!(broken.len(), 1);
    assert_eq!(std::fs::read(&broken[0]).unwrap(), torn.as_bytes());
    assert_eq!(contents(&log), (2, false));
}

#[test]
fn append_announces_a_lock_wait_and_honours_lock_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let holder = std::fs::File::open(&log).unwrap();
    holder.lock().unwrap();

    // Bounded: gives up, says why, writes nothing.
    let out = append(&log, &["--lock-timeout", "1.5"], "hi")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("waiting for the lock"), "{err}");
    assert!(err.contains("held the log's lock for over"), "{err}");
    assert_eq!(contents(&log), (0, false));

    // Unbounded: announces the wait, then succeeds once the lock is free.
    let child = append(&log, &[], "hi")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    holder.unlock().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("waiting for the lock"), "{err}");
    assert_eq!(contents(&log), (1, false));

    // A bad value is a usage error.
    let out = append(&log, &["--lock-timeout", "soon"], "hi")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a number of seconds"),
        "{}",
        stderr(&out)
    );
}

/// Personal data for the pipelined ingests below: a card and a spoken OTP.
const CARD_LINE: &str = "card 4111 1111 1111 1111, otp four five six one two three";

/// Input line `n` of the pipelined ingests below.
fn card_line(n: u64) -> String {
    format!("{{\"role\":\"user\",\"content\":\"{n}: {CARD_LINE}\",\"source\":\"s\"}}\n")
}

/// The acks on stdout, as (line, seq).
fn acks(out: &std::process::Output) -> Vec<(u64, u64)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (line, seq) = l.split_once(' ').unwrap();
            (line.parse().unwrap(), seq.parse().unwrap())
        })
        .collect()
}

/// The contents of a log's messages in seq order (a torn tail left out).
fn written(log: &Path) -> Vec<String> {
    String::from_utf8_lossy(&std::fs::read(log).unwrap())
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "message")
        .map(|v| v["content"].as_str().unwrap().to_string())
        .collect()
}

/// Record N holds input line N's text, redacted, and no raw card number
/// is anywhere in the log (not even in a torn tail).
fn assert_redacted_lines(log: &Path, texts: &[String]) {
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(
            text,
            &format!("{}: card [CARD], otp [SPOKEN_DIGITS]", i + 1)
        );
    }
    assert!(!String::from_utf8_lossy(&std::fs::read(log).unwrap()).contains("4111 1111"));
}

/// With redaction, chunks are redacted on a stage thread while the next is
/// parsed: across many chunks every line keeps its place. Acks name input
/// lines in order with consecutive seqs, rejected and blank lines get none
/// (and a rejected line is named), and record N holds line N's text.
#[test]
fn ingest_with_redaction_keeps_input_order_across_many_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let total = 20_000u64;
    let mut input = String::new();
    let mut good = Vec::new();
    for n in 1..=total {
        if n % 1000 == 500 {
            input.push_str(&format!("not json {n}\n"));
        } else if n % 777 == 0 {
            input.push_str("{\"role\":\"user\",\"content\":\"  \",\"source\":\"s\"}\n");
        } else {
            input.push_str(&card_line(n));
            good.push(n);
        }
    }
    let file = dir.path().join("input.jsonl");
    std::fs::write(&file, input).unwrap();
    let out = convlog()
        .arg("ingest")
        .arg(&log)
        .args(["--ack", "--redact", "all", "--end"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "rejected lines are findings: {err}"
    );
    for n in (500..total).step_by(1000) {
        assert!(
            err.contains(&format!("stdin line {n}: rejected")),
            "line {n}: {err}"
        );
    }
    let expected: Vec<(u64, u64)> = good.iter().zip(1..).map(|(&n, seq)| (n, seq)).collect();
    assert_eq!(acks(&out), expected);
    let texts = written(&log);
    assert_eq!(texts.len(), good.len());
    for (text, n) in texts.iter().zip(&good) {
        assert_eq!(text, &format!("{n}: card [CARD], otp [SPOKEN_DIGITS]"));
    }
    // The end record takes the next seq.
    assert_eq!(contents(&log), (good.len() as u64 + 1, true));
}

/// A full disk in the middle of a pipelined ingest: the writer breaks and
/// stays broken (later chunks fail, nothing is retried), only durable lines
/// are acked, in order, and the log holds exactly a prefix of the input.
#[test]
fn a_full_disk_mid_ingest_with_redaction_acks_only_what_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let total = 40_000u64;
    let file = dir.path().join("input.jsonl");
    std::fs::write(&file, (1..=total).map(card_line).collect::<String>()).unwrap();
    let room = std::fs::metadata(&log).unwrap().len() + 2_000_000;
    let out = with_fsize_limit(
        convlog()
            .arg("ingest")
            .arg(&log)
            .args(["--ack", "--redact", "all"])
            .stdin(std::fs::File::open(&file).unwrap()),
        room,
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("File too large"), "{err}");
    let acked = acks(&out);
    let texts = written(&log);
    assert!(texts.len() < total as usize, "it stopped: {err}");
    assert!(
        !acked.is_empty(),
        "the chunks before the failure were acked"
    );
    assert!(acked.len() <= texts.len(), "acked only what is durable");
    for (i, &(line, seq)) in acked.iter().enumerate() {
        assert_eq!((line, seq), (i as u64 + 1, i as u64 + 1));
    }
    assert_redacted_lines(&log, &texts);
}

/// Stdout closing while redacted chunks are still in the stage: what was
/// read is made durable (redacted), quietly, and the resume line is right.
#[test]
fn ingest_with_redaction_and_stdout_closed_keeps_what_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let (err, resend) = head_one(&log, &["--ack", "--redact", "all"], 200_000, card_line);
    let texts = written(&log);
    assert_eq!(texts.len() as u64, resend - 1, "{err}");
    assert_redacted_lines(&log, &texts);
}

/// A message that outgrows the size limit only once redacted (keyed tokens
/// are longer than the addresses they replace) fails its chunk on the
/// worker that prepares it, before the chunk is queued: the chunks before
/// it are acked, nothing from it or after it reaches the log (not even a
/// later chunk another worker has already prepared), and ingest says why.
/// With chunks of 1024 lines dealt to two workers in turn, line 6000 is in
/// the sixth chunk (the second worker's) and line 7000 in the seventh (the
/// first worker's, with the eighth on the second).
#[test]
fn a_chunk_that_fails_on_a_worker_stops_ingest_with_nothing_after_it() {
    for (bad, before) in [(6_000u64, 5120usize), (7_000, 6144)] {
        let (out, texts) = ingest_with_a_growing_line(bad);
        let err = stderr(&out);
        // Exit 1, as for any bad input (the same as without the workers).
        assert_eq!(out.status.code(), Some(1), "line {bad}: {err}");
        assert!(err.contains("over the limit"), "{err}");
        assert!(!err.contains("1.2.3.4"), "{err}");
        // Whole chunks before the bad line's chunk are durable and acked;
        // that chunk and every later one were never queued.
        let first: Vec<(u64, u64)> = (1..=before as u64).map(|n| (n, n)).collect();
        assert_eq!(acks(&out), first, "line {bad}");
        assert_eq!(texts.len(), before, "line {bad}");
        for (i, text) in texts.iter().enumerate() {
            assert!(
                text.starts_with(&format!("{}: card [CARD:", i + 1)),
                "{text}"
            );
        }
    }
}

/// `ingest --ack --redact all --redact-key` over 20,000 card lines, with
/// line `bad` just under 1 MiB as read and over it once each of its hundred
/// addresses is `[IP:xxxxxx]`, four bytes longer: the output and the texts
/// written.
fn ingest_with_a_growing_line(bad: u64) -> (std::process::Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let log = new_log(dir.path());
    let key = dir.path().join("key");
    std::fs::write(&key, "a key of thirty-two bytes, or so").unwrap();
    let ips = "1.2.3.4 ".repeat(100);
    let grows = format!(
        "{}{ips}",
        "lorem ipsum ".repeat((1_048_576 - ips.len() - 200) / 12)
    );
    let input: String = (1..=20_000u64)
        .map(|n| match n {
            _ if n == bad => {
                format!("{{\"role\":\"user\",\"content\":\"{grows}\",\"source\":\"s\"}}\n")
            }
            _ => card_line(n),
        })
        .collect();
    let file = dir.path().join("input.jsonl");
    std::fs::write(&file, input).unwrap();
    let out = convlog()
        .arg("ingest")
        .arg(&log)
        .args(["--ack", "--redact", "all", "--redact-key"])
        .arg(&key)
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    let texts = written(&log);
    (out, texts)
}

/// Bursts made ready on two threads are written in the order they are
/// queued, not the order they were made in, with their blank messages left
/// out; a burst made ready by one session is refused by another, which
/// writes nothing.
#[test]
fn prepared_bursts_are_written_in_the_order_they_are_queued() {
    use convlog::redact::Policy;
    use convlog::{Message, Options, Session};
    let dir = tempfile::tempdir().unwrap();
    let opts = || Options::default().redact(Policy::all());
    let s = Session::create_with(dir.path(), opts()).unwrap();
    let burst = |name: &'static str| {
        (0..100).map(move |i| match i {
            50 => Message::user(" ", "s"),
            _ => Message::user(format!("{name}{i} {CARD_LINE}"), "s"),
        })
    };
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| s.prepare_many(burst("a")));
        let b = scope.spawn(|| s.prepare_many(burst("b")));
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let seqs = |first: u64| -> Vec<Option<u64>> {
        (0..100)
            .map(|i: u64| match i {
                50 => None,
                _ if i < 50 => Some(first + i),
                _ => Some(first + i - 1),
            })
            .collect()
    };
    assert_eq!(s.append_prepared_blocking(b).unwrap(), seqs(1));
    assert_eq!(s.append_prepared_blocking(a).unwrap(), seqs(100));
    let expected: Vec<String> = ["b", "a"]
        .iter()
        .flat_map(|name| {
            (0..100)
                .filter(|&i| i != 50)
                .map(move |i| format!("{name}{i} card [CARD], otp [SPOKEN_DIGITS]"))
        })
        .collect();
    assert_eq!(written(s.path()), expected);

    let other_dir = tempfile::tempdir().unwrap();
    let other = Session::create_with(other_dir.path(), opts()).unwrap();
    let refused = other.append_prepared_blocking(s.prepare_many(burst("c")).unwrap());
    assert!(
        refused.is_err_and(|e| e.to_string().contains("another session")),
        "refused"
    );
    assert!(written(other.path()).is_empty());
    assert_eq!(written(s.path()).len(), 198);
}
