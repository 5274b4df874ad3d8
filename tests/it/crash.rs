//! The kill -9 harness, in the manner of sled's crash tests.
//!
//! The parent test re-executes this test binary, running only `crash_child`
//! with `CONVLOG_CRASH_CHILD=<log>` set; that makes the child append at full
//! speed through a real [`Session`] from several tokio tasks (so batches are
//! group-committed) and print `ACK <seq> <task> <i>` on stdout, flushed,
//! after each acknowledged append. The parent SIGKILLs it at a random moment
//! and checks the log: every acknowledged record present and intact, at most
//! a torn tail, seqs strictly increasing; then it reopens the log with
//! `Session::open`, which must cut any torn tail, and appends.
//!
//! Every other cycle the child writes each batch in `write` calls of 4 to 31
//! bytes ([`ChunkedIo`]), so that the kill often tears a batch: one real
//! `write` is only ever cut by SIGKILL between pages, which almost never
//! happens. The torn tails the harness reports come from those cycles.
//!
//! `CONVLOG_CRASH_CYCLES` sets the number of kill cycles (default 25;
//! the full run is `CONVLOG_CRASH_CYCLES=100 cargo test --test it crash::`),
//! `CONVLOG_CRASH_SEED` replays a run, `CONVLOG_MULTI_ROUNDS` sets the rounds
//! of the four-process test (default 5).

use crate::util::{broken_files, quiet};

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use convlog::read::{Recovery, Report, inspect, scan_file};
use convlog::record::Record;
use convlog::{DamageKind, IoHooks, Message, Role, Session};

const CHILD_ENV: &str = "CONVLOG_CRASH_CHILD";
const TAG_ENV: &str = "CONVLOG_CRASH_TAG";
const TASKS_ENV: &str = "CONVLOG_CRASH_TASKS";
const LIMIT_ENV: &str = "CONVLOG_CRASH_LIMIT";
const CHUNK_ENV: &str = "CONVLOG_CRASH_CHUNK";
/// A child that is never killed stops by itself after this long.
const CHILD_DEADLINE: Duration = Duration::from_secs(30);

/// splitmix64: a tiny PRNG, enough to pick delays and sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

/// The content the child writes for `(tag, task, i)`; the parent recomputes
/// it to check every acknowledged record byte for byte. Most are short; one
/// in eight is 5 KiB to 70 KiB, so that a kill can land inside a `write`
/// that spans many pages and leave a torn tail.
fn content_for(tag: &str, task: u64, i: u64) -> String {
    let h = mix(tag
        .bytes()
        .fold(task.wrapping_mul(0x1_0000_0001) ^ i, |a, b| {
            a.wrapping_mul(31).wrapping_add(u64::from(b))
        }));
    let mut s = format!("{tag} t{task} i{i} नमस्ते, मैं आपकी कैसे मदद कर सकता हूँ?");
    if h.is_multiple_of(8) {
        let reps = 300 + (h >> 8) % 4_000;
        s.reserve(reps as usize * 16);
        for _ in 0..reps {
            s.push_str(" ऊर्जा");
        }
    }
    s
}

fn role_for(task: u64, i: u64) -> Role {
    if (task + i).is_multiple_of(2) {
        Role::User
    } else {
        Role::Agent
    }
}

/// Parses the `tag t<task> i<i>` prefix of a record's content.
fn parse_content(content: &str) -> Option<(String, u64, u64)> {
    let mut it = content.split(' ');
    let tag = it.next()?.to_string();
    let task = it.next()?.strip_prefix('t')?.parse().ok()?;
    let i = it.next()?.strip_prefix('i')?.parse().ok()?;
    Some((tag, task, i))
}

/// Writes each batch in `write` calls of at most `.0` bytes, as a `write`
/// that a signal interrupts returns short. The real path writes a batch in
/// one `write`, which SIGKILL can only cut between pages, so kills rarely
/// tear it; with this seam a kill often lands mid-batch and leaves a real
/// torn tail for the next writer to cut. Everything else is the real path.
pub(crate) struct ChunkedIo(pub(crate) usize);

impl IoHooks for ChunkedIo {
    fn write_all(&self, file: &mut File, buf: &[u8]) -> io::Result<()> {
        for piece in buf.chunks(self.0) {
            file.write_all(piece)?;
        }
        Ok(())
    }
}

/// Not a test by itself: the body of the child process. Without
/// `CONVLOG_CRASH_CHILD` it returns at once. Ignored, so that a normal run
/// does not count it as a passing test; the parent runs it with `--ignored`.
#[test]
#[ignore = "the body of a child process, run by the crash tests with --ignored"]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let tag = std::env::var(TAG_ENV).unwrap_or_else(|_| "c".into());
    let tasks = env_u64(TASKS_ENV).unwrap_or(4);
    let limit = env_u64(LIMIT_ENV);
    crate::util::rt().block_on(async move {
        let mut opts = quiet();
        if let Some(chunk) = env_u64(CHUNK_ENV) {
            opts.io = std::sync::Arc::new(ChunkedIo(chunk as usize));
        }
        let s = Session::open_with(&path, opts).expect("child: open the log");
        let deadline = Instant::now() + CHILD_DEADLINE;
        let mut handles = Vec::new();
        for t in 0..tasks {
            let s = s.clone();
            let tag = tag.clone();
            handles.push(tokio::spawn(async move {
                let mut i = 0;
                while limit.is_none_or(|l| i < l) && Instant::now() < deadline {
                    let msg = Message::new(role_for(t, i), content_for(&tag, t, i), "crash_child");
                    let seq = s
                        .append(msg)
                        .await
                        .expect("child: append")
                        .expect("content is not blank");
                    let mut out = std::io::stdout().lock();
                    // A leading newline keeps the line apart from anything
                    // the test harness printed without one.
                    if out
                        .write_all(format!("\nACK {seq} {t} {i}\n").as_bytes())
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        // The parent is gone: stop rather than run on.
                        std::process::exit(3);
                    }
                    i += 1;
                }
            }));
        }
        for h in handles {
            h.await.expect("child task");
        }
    });
}

/// One acknowledgement: seq, task, i.
type Ack = (u64, u64, u64);

struct Running {
    child: Child,
    reader: std::thread::JoinHandle<Vec<Ack>>,
    stderr: PathBuf,
}

/// How a child appends.
struct ChildSpec<'a> {
    tag: &'a str,
    tasks: u64,
    /// Records per task, or run until killed.
    limit: Option<u64>,
    /// Write batches in pieces of this many bytes (see [`ChunkedIo`]).
    chunk: Option<u64>,
}

fn spawn_child(log: &Path, spec: &ChildSpec<'_>, scratch: &Path) -> Running {
    let ChildSpec {
        tag,
        tasks,
        limit,
        chunk,
    } = *spec;
    let stderr = scratch.join(format!("{tag}.stderr"));
    let mut cmd = crate::util::child_test("crash::crash_child");
    cmd.env(CHILD_ENV, log)
        .env(TAG_ENV, tag)
        .env(TASKS_ENV, tasks.to_string())
        .env_remove(LIMIT_ENV)
        .env_remove(CHUNK_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    if let Some(l) = limit {
        cmd.env(LIMIT_ENV, l.to_string());
    }
    if let Some(c) = chunk {
        cmd.env(CHUNK_ENV, c.to_string());
    }
    let mut child = cmd.spawn().expect("spawn child");
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut r = BufReader::new(out);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // A line cut off by the kill has no newline: it proves nothing.
            if line.last() != Some(&b'\n') {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let Some(at) = text.rfind("ACK ") else {
                continue;
            };
            let nums: Vec<u64> = text[at + 4..]
                .split_whitespace()
                .map(|n| n.parse().expect("ACK line"))
                .collect();
            assert_eq!(nums.len(), 3, "bad ACK line {text:?}");
            acks.push((nums[0], nums[1], nums[2]));
        }
        acks
    });
    Running {
        child,
        reader,
        stderr,
    }
}

impl Running {
    fn finish(mut self, kill_after: Option<Duration>) -> (ExitStatus, Vec<Ack>, String) {
        if let Some(d) = kill_after {
            std::thread::sleep(d);
            // `Child::kill` is SIGKILL on Unix. The child may have died on
            // its own already; the status below tells.
            let _ = self.child.kill();
        }
        let status = self.child.wait().unwrap();
        let acks = self.reader.join().unwrap();
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status, acks, stderr)
    }
}

fn killed_by_sigkill(status: &ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGKILL)
}

/// All valid records of `log` under the default recovery mode: seq → (role, content).
fn records(log: &Path) -> (BTreeMap<u64, (Role, String)>, Report) {
    let mut out = BTreeMap::new();
    let mut last = 0;
    let report = scan_file(log, Recovery::TolerateTail, |r| {
        if let Record::Message(m) = r {
            assert!(m.seq > last, "seq {} after {last}", m.seq);
            last = m.seq;
            out.insert(m.seq, (m.role, m.content.to_string()));
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    (out, report)
}

/// The invariants after a crash: the log reads, any damage is a torn tail,
/// and seqs run 1, 2, 3, … with no gap.
fn check_after_crash(log: &Path, what: &str) -> (BTreeMap<u64, (Role, String)>, Report) {
    let report = inspect(log).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        report.mid_file_damage().collect::<Vec<_>>(),
        Vec::<&convlog::Damage>::new(),
        "{what}: damage in the middle of the file"
    );
    assert!(report.damage.iter().all(|d| d.kind == DamageKind::TornTail));
    let (recs, rep) = records(log);
    assert_eq!(rep.damage, report.damage);
    for (n, seq) in recs.keys().enumerate() {
        assert_eq!(*seq, n as u64 + 1, "{what}: seqs are not 1, 2, 3, …");
    }
    (recs, report)
}

/// Reopens `log` the way a restarted agent would, appends one record, and
/// checks that a torn tail (if any) was cut into a new `LOG.broken*` file
/// holding exactly the torn bytes. Returns the new record's seq and content.
fn restart_and_check_the_cut(log: &Path, report: &Report, what: &str) -> (u64, String) {
    let before = broken_files(log);
    let bytes = std::fs::read(log).unwrap();
    let torn = report
        .torn_bytes()
        .map(|_| bytes[report.valid_len as usize..].to_vec());
    let content = format!("parent after {what}: फिर से शुरू");
    let seq = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let s =
                Session::open_with(log, quiet()).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
            s.append(Message::agent(content.clone(), "crash_parent"))
                .await
                .unwrap_or_else(|e| panic!("{what}: append after reopen: {e}"))
                .unwrap()
        });
    assert_eq!(Some(seq), report.last_seq.map(|s| s + 1), "{what}");
    let after = inspect(log).unwrap();
    assert!(
        after.is_intact(),
        "{what}: after reopening: {:?}",
        after.damage
    );
    assert_eq!(after.last_seq, Some(seq));
    let new: Vec<_> = broken_files(log)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    match torn {
        None => assert!(new.is_empty(), "{what}: {new:?} made without a torn tail"),
        Some(torn) => {
            assert_eq!(
                new.len(),
                1,
                "{what}: expected one new .broken file, got {new:?}"
            );
            assert_eq!(
                std::fs::read(&new[0]).unwrap(),
                torn,
                "{what}: .broken holds the torn bytes"
            );
        }
    }
    (seq, content)
}

fn create_log(dir: &Path) -> PathBuf {
    let s = Session::create_with(dir, quiet()).unwrap();
    s.path().to_path_buf()
}

#[test]
fn kill9_cycles() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let cycles = env_u64("CONVLOG_CRASH_CYCLES").unwrap_or(25);
    let seed = env_u64("CONVLOG_CRASH_SEED").unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        mix(t.as_nanos() as u64 ^ u64::from(std::process::id()))
    });
    println!("crash-harness: seed {seed} (replay with CONVLOG_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();

    let mut log = create_log(dir.path());
    // Every acknowledged record of the current log: seq → (role, content).
    let mut acked: BTreeMap<u64, (Role, String)> = BTreeMap::new();
    let (mut total_acks, mut lost, mut torn_tails, mut unacked, mut logs) =
        (0u64, 0u64, 0u64, 0u64, 1u64);
    let (mut early_kills, mut max_len, mut prev_last, mut chunked) = (0u64, 0u64, 0u64, 0u64);

    for cycle in 0..cycles {
        // A fresh log now and then keeps each scan short; meanwhile every
        // later child reopens what earlier ones left.
        if cycle > 0 && (cycle % 5 == 0 || std::fs::metadata(&log).unwrap().len() > 8 << 20) {
            log = create_log(dir.path());
            acked.clear();
            prev_last = 0;
            logs += 1;
        }
        let tag = format!("k{cycle}");
        let tasks = 1 + rng.below(6);
        let delay = Duration::from_micros(rng.below(250_000));
        // Every other cycle writes batches in small pieces, so kills tear them.
        let chunk = (cycle % 2 == 1).then(|| 4 + rng.below(28));
        let what = format!(
            "cycle {cycle} (seed {seed}, {tasks} tasks, chunk {chunk:?}, kill after {delay:?})"
        );
        chunked += u64::from(chunk.is_some());
        let spec = ChildSpec {
            tag: &tag,
            tasks,
            limit: None,
            chunk,
        };
        let (status, acks, stderr) = spawn_child(&log, &spec, scratch.path()).finish(Some(delay));
        assert!(
            killed_by_sigkill(&status),
            "{what}: child was not killed but exited with {status}:\n{stderr}"
        );
        if acks.is_empty() {
            early_kills += 1;
        }

        let (recs, report) = check_after_crash(&log, &what);
        max_len = max_len.max(report.file_len);
        for &(seq, t, i) in &acks {
            let want = (role_for(t, i), content_for(&tag, t, i));
            assert!(
                acked.insert(seq, want).is_none(),
                "{what}: seq {seq} acknowledged twice"
            );
        }
        for (seq, want) in &acked {
            match recs.get(seq) {
                Some(got) if got == want => {}
                Some(got) => panic!(
                    "{what}: seq {seq} is {:?}…, expected {:?}…",
                    trunc(&got.1),
                    trunc(&want.1)
                ),
                None => lost += 1,
            }
        }
        total_acks += acks.len() as u64;
        // Records written but not acknowledged before the kill are there too.
        unacked += recs
            .keys()
            .filter(|&&s| s > prev_last && !acked.contains_key(&s))
            .count() as u64;
        if report.torn_bytes().is_some() {
            torn_tails += 1;
        }
        assert_eq!(lost, 0, "{what}: acknowledged records lost");

        let (seq, content) = restart_and_check_the_cut(&log, &report, &what);
        acked.insert(seq, (Role::Agent, content));
        prev_last = seq;
        total_acks += 1;
    }
    // Everything acknowledged in the last log is still there at the end.
    let (recs, _) = check_after_crash(&log, "final check");
    for (seq, want) in &acked {
        assert_eq!(recs.get(seq), Some(want), "final check: seq {seq}");
    }
    println!(
        "crash-harness: cycles={cycles} acked={total_acks} lost={lost} torn_tails={torn_tails} \
         unacked_survivors={unacked} kills_before_first_ack={early_kills} chunked_cycles={chunked} logs={logs} \
         largest_log={}KiB seed={seed}",
        max_len / 1024
    );
    assert_eq!(lost, 0);
}

fn trunc(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Four processes append to one log; one is killed at a random moment, the
/// others run to completion. Every acknowledged record of every process is
/// there, in order, with nothing damaged mid-file: a torn write by the victim
/// is cut by the next writer to take the lock, or is the tail.
#[test]
fn multi_process_kill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    const CHILDREN: u64 = 4;
    const TASKS: u64 = 2;
    const PER_TASK: u64 = 40;
    let rounds = env_u64("CONVLOG_MULTI_ROUNDS").unwrap_or(5);
    let seed = env_u64("CONVLOG_CRASH_SEED").unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        mix(t.as_nanos() as u64 ^ 0x5eed)
    });
    println!("multi-process: seed {seed} (replay with CONVLOG_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (mut total_acks, mut victim_acks, mut torn_tails, mut cut_by_survivors) =
        (0u64, 0u64, 0u64, 0u64);

    for round in 0..rounds {
        let log = create_log(dir.path());
        let victim = rng.below(CHILDREN);
        let delay = Duration::from_micros(rng.below(400_000));
        let what =
            format!("round {round} (seed {seed}, victim p{round}-{victim}, kill after {delay:?})");
        // The victim writes in small pieces, so its kill likely tears a
        // batch that a surviving writer must then cut.
        let running: Vec<_> = (0..CHILDREN)
            .map(|c| {
                let spec = ChildSpec {
                    tag: &format!("p{round}-{c}"),
                    tasks: TASKS,
                    limit: Some(PER_TASK),
                    chunk: (c == victim).then_some(4),
                };
                spawn_child(&log, &spec, scratch.path())
            })
            .collect();
        let mut results = Vec::new();
        let mut victim_run = None;
        for (c, r) in running.into_iter().enumerate() {
            if c as u64 == victim {
                victim_run = Some(r);
            } else {
                results.push((c as u64, r));
            }
        }
        // Kill the victim first (the others keep going meanwhile), then wait for them.
        let (vstatus, vacks, vstderr) = victim_run.unwrap().finish(Some(delay));
        let mut all: Vec<(u64, ExitStatus, Vec<Ack>, String)> =
            vec![(victim, vstatus, vacks, vstderr)];
        for (c, r) in results {
            let (status, acks, stderr) = r.finish(None);
            assert!(
                status.success(),
                "{what}: child p{round}-{c} failed with {status}:\n{stderr}"
            );
            assert_eq!(
                acks.len() as u64,
                TASKS * PER_TASK,
                "{what}: child p{round}-{c}"
            );
            all.push((c, status, acks, stderr));
        }
        // The victim may have finished before the kill landed; either way it
        // must not have failed.
        let (_, vstatus, vacks, vstderr) = &all[0];
        assert!(
            vstatus.success() || killed_by_sigkill(vstatus),
            "{what}: victim exited with {vstatus}:\n{vstderr}"
        );
        victim_acks += vacks.len() as u64;

        let (recs, report) = check_after_crash(&log, &what);
        if report.torn_bytes().is_some() {
            torn_tails += 1;
        }
        // Torn tails the victim left mid-run, cut by a surviving writer.
        let cut = broken_files(&log);
        for b in &cut {
            let bytes = std::fs::read(b).unwrap();
            assert!(
                bytes.is_empty()
                    || bytes.starts_with(b"{\"crc\":\"")
                    || b"{\"crc\":\"".starts_with(&bytes),
                "{what}: {} does not hold the start of a line",
                b.display()
            );
        }
        cut_by_survivors += cut.len() as u64;
        let mut seen = std::collections::HashSet::new();
        for (c, _, acks, _) in &all {
            let tag = format!("p{round}-{c}");
            for &(seq, t, i) in acks {
                assert!(seen.insert(seq), "{what}: seq {seq} acknowledged twice");
                let want = (role_for(t, i), content_for(&tag, t, i));
                assert_eq!(
                    recs.get(&seq),
                    Some(&want),
                    "{what}: {tag} seq {seq} lost or changed"
                );
                total_acks += 1;
            }
        }
        // Each task's records are in the order it appended them, and every
        // record in the file came from one of the children.
        let mut next: HashMap<(String, u64), u64> = HashMap::new();
        for (seq, (_, content)) in &recs {
            let (tag, t, i) =
                parse_content(content).unwrap_or_else(|| panic!("{what}: seq {seq}: {content:?}"));
            let n = next.entry((tag.clone(), t)).or_insert(0);
            assert_eq!(i, *n, "{what}: {tag} task {t} out of order at seq {seq}");
            *n += 1;
        }
        restart_and_check_the_cut(&log, &report, &what);
    }
    println!(
        "multi-process: rounds={rounds} children={CHILDREN} acked={total_acks} (victims {victim_acks}) \
         lost=0 torn_tails_cut_by_survivors={cut_by_survivors} torn_tails_at_end={torn_tails} seed={seed}"
    );
}
