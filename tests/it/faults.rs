//! Faults: a full disk, failed and short writes, a failed fdatasync, a lock
//! someone else holds, and a hostile directory.
//!
//! Disk full is real: a child process (this test binary re-executed, running
//! only `fsize_child`) lowers its own `RLIMIT_FSIZE` and ignores `SIGXFSZ`,
//! so the kernel fails the writer's `write` with `EFBIG`. The other I/O
//! failures are injected through [`Options::io`], the writer's `IoHooks` seam.

use crate::util::{broken_files, limit_file_size, quiet};

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use convlog::read::{Recovery, inspect, scan_file};
use convlog::record::Record;
use convlog::{DamageKind, Error, IoHooks, Message, Options, Session};

const FSIZE_ENV: &str = "CONVLOG_FSIZE_CHILD";
const LOCK_ENV: &str = "CONVLOG_LOCK_CHILD";

fn with_io(io: Arc<dyn IoHooks>) -> Options {
    quiet().io(io)
}

fn msg(i: usize) -> Message {
    Message::user(format!("संदेश संख्या {i}: नमस्ते"), "faults")
}

/// Message contents of `log` under the default recovery mode, by seq.
fn contents(log: &Path) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    scan_file(log, Recovery::TolerateTail, |r| {
        if let Record::Message(m) = r {
            out.push((m.seq, m.content.to_string()));
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    out
}

fn expected(range: std::ops::RangeInclusive<usize>) -> Vec<(u64, String)> {
    range.map(|i| (i as u64, msg(i).content)).collect()
}

fn is_poisoned(e: &Error, cause: &str) -> bool {
    matches!(e, Error::Poisoned { cause: c, .. } if c.contains(cause))
}

/// The failure itself, as the request that hit it gets it: an I/O error
/// with its errno (only later requests get [`Error::Poisoned`]).
fn is_io_failure(e: &Error, text: &str, errno: Option<i32>) -> bool {
    matches!(e, Error::Io { source, .. }
        if errno.is_none_or(|n| source.raw_os_error() == Some(n)))
        && e.to_string().contains(text)
}

/// A log holding messages 1 to `n`, its session dropped, in a new directory.
async fn written(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    for i in 1..=n {
        assert_eq!(s.append(msg(i)).await.unwrap(), Some(i as u64));
    }
    let log = s.path().to_path_buf();
    drop(s);
    (dir, log)
}

/// A live session (opened with `opts`) that holds message 1, in a new
/// directory: the session, its log and the log's bytes.
async fn live_with_one(opts: Options) -> (tempfile::TempDir, Session, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), opts).unwrap();
    assert_eq!(s.append(msg(1)).await.unwrap(), Some(1));
    let log = s.path().to_path_buf();
    let before = std::fs::read(&log).unwrap();
    (dir, s, log, before)
}

/// Everything a poisoned session refuses, checked in one place.
async fn assert_refuses_everything(s: &Session, cause: &str) {
    assert!(s.is_broken());
    // Broken means a last error to show, whoever awaited the failing request.
    let first = s.last_error().expect("last_error agrees with is_broken");
    assert!(first.contains(cause), "{first}");
    let e = s.append(msg(999)).await.unwrap_err();
    assert!(is_poisoned(&e, cause), "{e}");
    assert!(e.to_string().contains("no further appends"), "{e}");
    let e = s.flush().await.unwrap_err();
    assert!(is_poisoned(&e, cause), "{e}");
    let e = s.end().await.unwrap_err();
    assert!(is_poisoned(&e, cause), "{e}");
    s.log(msg(1000));
    let last = s.last_error().expect("log() records the failure");
    assert!(last.contains(cause), "{last}");
}

// ---------------------------------------------------------------------------
// Disk full: RLIMIT_FSIZE in a child process.

/// Not a test by itself: the child of `disk_full_via_rlimit_fsize`. Without
/// `CONVLOG_FSIZE_CHILD` it returns at once. Ignored, so that a normal run
/// does not count it as a passing test; the parent runs it with `--ignored`.
#[test]
#[ignore = "the body of a child process, run by disk_full_via_rlimit_fsize with --ignored"]
fn fsize_child() {
    let Some(log) = std::env::var_os(FSIZE_ENV) else {
        return;
    };
    let log = PathBuf::from(log);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let len = std::fs::metadata(&log).unwrap().len();

        // No room at all: the write fails with EFBIG and writes nothing.
        limit_file_size(len).unwrap();
        let s = Session::open_with(&log, quiet()).unwrap();
        let e = s.append(msg(4)).await.unwrap_err();
        assert!(is_io_failure(&e, "write failed", Some(libc::EFBIG)), "{e}");
        assert!(e.to_string().contains("File too large"), "{e}");
        assert!(s.last_error().unwrap().contains("File too large"));
        assert!(e.to_string().contains(&*log.to_string_lossy()), "{e}");
        assert_refuses_everything(&s, "File too large").await;
        drop(s);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), len);

        // 100 bytes of room: a short write, then EFBIG. The record is torn.
        limit_file_size(len + 100).unwrap();
        let s = Session::open_with(&log, quiet()).unwrap();
        let e = s.append(msg(4)).await.unwrap_err();
        assert!(
            is_io_failure(&e, "File too large", Some(libc::EFBIG)),
            "{e}"
        );
        assert_refuses_everything(&s, "File too large").await;
        drop(s);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), len + 100);
    });
    println!("\nFSIZE-CHILD-OK");
}

#[tokio::test]
async fn disk_full_via_rlimit_fsize() {
    if std::env::var_os(FSIZE_ENV).is_some() {
        return;
    }
    let (_dir, log) = written(3).await;
    let before = std::fs::read(&log).unwrap();

    let out = crate::util::child_test("faults::fsize_child")
        .env(FSIZE_ENV, &log)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("FSIZE-CHILD-OK"),
        "child failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // The earlier records are intact; the 100 torn bytes are a torn tail.
    let now = std::fs::read(&log).unwrap();
    assert_eq!(now.len(), before.len() + 100);
    assert_eq!(&now[..before.len()], &before[..]);
    assert!(now[before.len()..].starts_with(b"{\"crc\":\""));
    let report = inspect(&log).unwrap();
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    assert_eq!(report.damage[0].kind, DamageKind::TornTail);
    assert_eq!(report.damage[0].offset, before.len() as u64);
    assert_eq!(report.torn_bytes(), Some(100));
    assert_eq!(contents(&log), expected(1..=3));

    // With room again, a new session cuts the tail and carries on.
    next_writer_cuts(&log, 4, &now[before.len()..]).await;
}

/// A new writer on `log`, whose tail is the torn bytes `torn`, cuts them
/// into the one `LOG.broken` and carries on with record `next`.
async fn next_writer_cuts(log: &Path, next: usize, torn: &[u8]) {
    let s = Session::open_with(log, quiet()).unwrap();
    assert_eq!(s.append(msg(next)).await.unwrap(), Some(next as u64));
    drop(s);
    assert!(inspect(log).unwrap().is_intact());
    assert_eq!(contents(log), expected(1..=next));
    let broken = broken_files(log);
    assert_eq!(broken.len(), 1);
    assert_eq!(std::fs::read(&broken[0]).unwrap(), torn);
}

// ---------------------------------------------------------------------------
// Injected write, short-write and fdatasync failures.

/// What to break, counted in calls (1-based).
#[derive(Default)]
struct Faulty {
    writes: AtomicUsize,
    syncs: AtomicUsize,
    fail_write_at: Option<usize>,
    short_write_at: Option<usize>,
    fail_sync_at: Option<usize>,
    /// Holds the first write until opened, so a test can queue a batch behind it.
    gate: Option<Gate>,
}

#[derive(Default)]
struct Gate {
    state: Mutex<(bool, bool)>, // (a write is waiting, open)
    cv: Condvar,
}

impl Gate {
    fn wait_open(&self) {
        let mut g = self.state.lock().unwrap();
        g.0 = true;
        self.cv.notify_all();
        while !g.1 {
            g = self.cv.wait(g).unwrap();
        }
    }
    fn wait_entered(&self) {
        let mut g = self.state.lock().unwrap();
        while !g.0 {
            g = self.cv.wait(g).unwrap();
        }
    }
    fn open(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }
}

impl IoHooks for Faulty {
    fn write_all(&self, file: &mut File, buf: &[u8]) -> io::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if let (1, Some(g)) = (n, &self.gate) {
            g.wait_open();
        }
        if self.fail_write_at == Some(n) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        if self.short_write_at == Some(n) {
            file.write_all(&buf[..buf.len() / 2])?;
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "injected short write",
            ));
        }
        file.write_all(buf)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        let n = self.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_sync_at == Some(n) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        file.sync_data()
    }
}

impl Faulty {
    fn counts(&self) -> (usize, usize) {
        (
            self.writes.load(Ordering::SeqCst),
            self.syncs.load(Ordering::SeqCst),
        )
    }
}

/// Appends record 1 (held in its write by the gate), queues ten more behind
/// it so they form one batch, opens the gate, and returns the eleven results.
async fn one_then_a_batch(s: &Session, io: &Faulty) -> Vec<convlog::Result<Option<u64>>> {
    let first = s.append(msg(1));
    io.gate.as_ref().unwrap().wait_entered();
    let batch: Vec<_> = (2..=11).map(|i| s.append(msg(i))).collect();
    io.gate.as_ref().unwrap().open();
    let mut out = vec![first.await];
    for f in batch {
        out.push(f.await);
    }
    out
}

/// Which call of the disk seam fails: its second, the batch's.
enum Fault {
    Write,
    Sync,
}

/// How every injected fault ends: the disk seam saw `counts` (writes,
/// syncs), the session refuses everything with `cause`, and nothing more
/// reached the seam.
async fn refuses_after(s: &Session, io: &Faulty, cause: &str, counts: (usize, usize)) {
    assert_eq!(io.counts(), counts);
    assert_refuses_everything(s, cause).await;
    assert_eq!(io.counts(), counts);
}

/// Appends one record, then a batch of ten that `fault` hits
/// (through a gate, so that the ten form one batch), and checks what every
/// such fault must do: each record of the batch gets the I/O error itself
/// (`cause`, with its errno), the disk seam saw `counts` (writes, syncs)
/// and nothing after the failure, and the session refuses everything. Returns the directory, the log
/// (its session dropped) and the batch's errors.
async fn poison_a_batch(
    fault: Fault,
    cause: &str,
    counts: (usize, usize),
) -> (tempfile::TempDir, PathBuf, Vec<Error>) {
    let dir = tempfile::tempdir().unwrap();
    let mut io = Faulty {
        gate: Some(Gate::default()),
        ..Faulty::default()
    };
    match fault {
        Fault::Write => io.fail_write_at = Some(2),
        Fault::Sync => io.fail_sync_at = Some(2),
    }
    let io = Arc::new(io);
    let s = Session::create_with(dir.path(), with_io(io.clone())).unwrap();
    let mut results = one_then_a_batch(&s, &io).await.into_iter();
    assert_eq!(results.next().unwrap().unwrap(), Some(1));
    let errors: Vec<Error> = results.map(|r| r.unwrap_err()).collect();
    for e in &errors {
        assert!(is_io_failure(e, cause, None), "{e}");
    }
    refuses_after(&s, &io, cause, counts).await;
    let log = s.path().to_path_buf();
    drop(s);
    (dir, log, errors)
}

#[tokio::test]
async fn failed_fdatasync_poisons_the_batch_and_is_never_retried() {
    let (_dir, log, _) = poison_a_batch(Fault::Sync, "fdatasync failed", (2, 2)).await;

    // The acknowledged record is there. The failed batch was written before
    // its sync failed, so its records may be there too: never acknowledged,
    // but valid, and a later writer continues after them.
    let report = inspect(&log).unwrap();
    assert!(report.is_intact(), "{:?}", report.damage);
    assert_eq!(contents(&log), expected(1..=11));
    let s = Session::open_with(&log, quiet()).unwrap();
    assert_eq!(s.append(msg(12)).await.unwrap(), Some(12));
}

#[tokio::test]
async fn failed_write_poisons_the_batch_and_writes_nothing() {
    // The failed write was never followed by a sync: (2, 1).
    let (_dir, log, errors) = poison_a_batch(Fault::Write, "write failed", (2, 1)).await;
    for e in errors {
        assert!(e.to_string().contains("Input/output error"), "{e}");
    }
    assert!(inspect(&log).unwrap().is_intact());
    assert_eq!(contents(&log), expected(1..=1));
}

#[tokio::test]
async fn short_write_leaves_a_torn_tail_that_the_next_writer_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let io = Arc::new(Faulty {
        short_write_at: Some(2),
        ..Faulty::default()
    });
    let s = Session::create_with(dir.path(), with_io(io.clone())).unwrap();
    assert_eq!(s.append(msg(1)).await.unwrap(), Some(1));
    let log = s.path().to_path_buf();
    let good = std::fs::read(&log).unwrap();
    let e = s.append(msg(2)).await.unwrap_err();
    assert!(is_io_failure(&e, "injected short write", None), "{e}");
    refuses_after(&s, &io, "injected short write", (2, 1)).await;
    drop(s);

    let now = std::fs::read(&log).unwrap();
    assert!(now.len() > good.len() && now.starts_with(&good));
    let torn = now[good.len()..].to_vec();
    let report = inspect(&log).unwrap();
    assert_eq!(report.mid_file_damage().count(), 0);
    assert_eq!(report.torn_bytes(), Some(torn.len() as u64));
    assert_eq!(contents(&log), expected(1..=1));

    // Another writer (another process, or this one restarted) cuts it.
    next_writer_cuts(&log, 2, &torn).await;
}

#[tokio::test]
async fn failed_fdatasync_after_cutting_a_torn_tail_poisons() {
    let (_dir, log) = written(1).await;
    let good = std::fs::read(&log).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(b"{\"crc\":\"0000");
    std::fs::write(&log, &torn).unwrap();

    let io = Arc::new(Faulty {
        fail_sync_at: Some(1),
        ..Faulty::default()
    });
    let s = Session::open_with(&log, with_io(io.clone())).unwrap();
    let e = s.append(msg(2)).await.unwrap_err();
    assert!(is_io_failure(&e, "after truncation", None), "{e}");
    // Cut, but the batch itself was never written: (0, 1).
    refuses_after(&s, &io, "after truncation", (0, 1)).await;
    drop(s);
    assert_eq!(std::fs::read(&log).unwrap(), good);
}

// ---------------------------------------------------------------------------
// A lock held by someone else.

#[tokio::test]
async fn appends_wait_for_a_lock_held_elsewhere() {
    let (_dir, s, log, before) = live_with_one(quiet()).await;

    // Another open file description holding flock: as another process would.
    let holder = File::open(&log).unwrap();
    holder.lock().unwrap();
    let mut pending = Box::pin(s.append(msg(2)));
    // It cannot finish while the lock is held, however long we wait.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut pending)
            .await
            .is_err()
    );
    assert_eq!(
        std::fs::read(&log).unwrap(),
        before,
        "nothing written while locked"
    );
    holder.unlock().unwrap();
    assert_eq!(pending.await.unwrap(), Some(2));
    assert_eq!(contents(&log), expected(1..=2));
}

#[tokio::test]
async fn lock_timeout_fails_every_waiting_append_and_recovers() {
    let opts = quiet().lock_timeout(Some(Duration::from_millis(200)));
    let (_dir, s, log, before) = live_with_one(opts).await;

    let holder = File::open(&log).unwrap();
    holder.lock().unwrap();
    // Several appends, so some share a batch: each must get LockTimeout.
    let waiting: Vec<_> = (2..=6).map(|i| s.append(msg(i))).collect();
    for f in waiting {
        let e = f.await.unwrap_err();
        assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
        assert!(e.to_string().contains("held the log's lock"), "{e}");
    }
    assert_eq!(
        std::fs::read(&log).unwrap(),
        before,
        "nothing written while locked"
    );
    // A timeout is not a write failure: once the lock is free, appends work.
    assert!(!s.is_broken());
    holder.unlock().unwrap();
    assert_eq!(s.append(msg(2)).await.unwrap(), Some(2));
    assert_eq!(contents(&log), expected(1..=2));
}

/// Not a test by itself: holds the log's lock for `lock_held_by_a_process`
/// until it is killed. Without `CONVLOG_LOCK_CHILD` it returns at once.
/// Ignored, so that a normal run does not count it as a passing test; the
/// parent runs it with `--ignored`.
#[test]
#[ignore = "the body of a child process, run by lock_held_by_a_process_that_then_dies with --ignored"]
fn lock_child() {
    let Some(log) = std::env::var_os(LOCK_ENV) else {
        return;
    };
    let f = File::open(log).unwrap();
    f.lock().unwrap();
    let mut out = io::stdout().lock();
    out.write_all(b"\nLOCKED\n").unwrap();
    out.flush().unwrap();
    // Held until the parent kills us; a stray child gives up after a while.
    std::thread::sleep(Duration::from_secs(30));
}

#[tokio::test]
async fn lock_held_by_a_process_that_then_dies() {
    if std::env::var_os(LOCK_ENV).is_some() {
        return;
    }
    let opts = quiet().lock_timeout(Some(Duration::from_millis(200)));
    let (_dir, s, log, before) = live_with_one(opts).await;

    let mut child = crate::util::child_test("faults::lock_child")
        .env(LOCK_ENV, &log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains("LOCKED"))),
        "lock child did not take the lock"
    );
    let e = s.append(msg(2)).await.unwrap_err();
    assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
    assert_eq!(std::fs::read(&log).unwrap(), before);
    // A holder that dies (here: SIGKILL) releases the lock with it.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(s.append(msg(2)).await.unwrap(), Some(2));
    assert_eq!(contents(&log), expected(1..=2));
}

/// Opens `log` on another thread, failing (instead of hanging the test run)
/// if `Session::open_with` does not return.
fn open_elsewhere(log: &Path, opts: Options) -> convlog::Result<Session> {
    let log = log.to_path_buf();
    bounded("Session::open_with on a log locked elsewhere", move || {
        Session::open_with(&log, opts)
    })
}

/// What another process appends while holding the lock: whole lines, synced.
fn append_raw(log: &Path, lines: &[(convlog::line::Kind, u64, Vec<u8>)]) {
    let mut buf = Vec::new();
    for (kind, seq, fields) in lines {
        convlog::line::frame(*kind, *seq, fields, &mut buf);
    }
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    f.write_all(&buf).unwrap();
    f.sync_data().unwrap();
}

const TS: &str = "2025-08-18T14:30:22.123456+05:30";

/// Opening a log must not wait for a lock another process holds (it did:
/// the open-time scan blocked on a shared lock, ignoring `lock_timeout`).
/// What that process appends meanwhile is picked up before the first
/// append, under the exclusive lock.
#[tokio::test]
async fn open_does_not_block_on_a_held_lock_and_catches_up_after() {
    use convlog::line::{Kind, end_fields, message_fields};
    let (_dir, log) = written(1).await;
    let opts = quiet().lock_timeout(Some(Duration::from_millis(200)));

    let holder = File::open(&log).unwrap();
    holder.lock().unwrap();
    let s = open_elsewhere(&log, opts.clone()).unwrap();
    let e = s.append(msg(4)).await.unwrap_err();
    assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
    // The lock holder appends two records while this session is open.
    append_raw(
        &log,
        &[
            (Kind::Message, 2, message_fields(&msg(2), TS)),
            (Kind::Message, 3, message_fields(&msg(3), TS)),
        ],
    );
    holder.unlock().unwrap();
    assert_eq!(s.append(msg(4)).await.unwrap(), Some(4));
    drop(s);
    assert!(inspect(&log).unwrap().is_intact());
    assert_eq!(contents(&log), expected(1..=4));

    // Likewise if the holder ends the session meanwhile: the append is refused.
    holder.lock().unwrap();
    let s = open_elsewhere(&log, opts).unwrap();
    append_raw(&log, &[(Kind::End, 5, end_fields(TS))]);
    holder.unlock().unwrap();
    let e = s.append(msg(6)).await.unwrap_err();
    assert!(matches!(e, Error::Ended { .. }), "{e:?}");
    drop(s);
    let report = inspect(&log).unwrap();
    assert!(report.is_intact() && report.ended);
    assert_eq!(report.last_seq, Some(5));
}

// ---------------------------------------------------------------------------
// A hostile directory.

#[tokio::test]
async fn a_symlinked_log_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path().join("real"), quiet()).unwrap();
    assert_eq!(s.append(msg(1)).await.unwrap(), Some(1));
    let target = s.path().to_path_buf();
    drop(s);
    let before = std::fs::read(&target).unwrap();
    // An unrelated file a planted link might point at.
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"not yours\n").unwrap();

    for (name, to) in [("link.jsonl", &target), ("other.jsonl", &victim)] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(to, &link).unwrap();
        let e = Session::open_with(&link, quiet()).unwrap_err();
        assert!(matches!(e, Error::NotALog { .. }), "{e:?}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(matches!(
            convlog::repair::repair(&link, None),
            Err(Error::NotALog { .. })
        ));
        assert!(matches!(inspect(&link), Err(Error::NotALog { .. })));
    }
    assert_eq!(std::fs::read(&target).unwrap(), before);
    assert_eq!(std::fs::read(&victim).unwrap(), b"not yours\n");
    assert!(broken_files(&target).is_empty());
}

/// A directory that cannot be written to fails clearly. Mode bits do not
/// stop root, so as root (CI runs as root) the checks run in a child of
/// this test binary as the unprivileged user `nobody`.
#[tokio::test]
async fn an_unwritable_directory_fails_clearly() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return unwritable_directory_checks().await;
    }
    use std::os::unix::process::CommandExt;
    let out = crate::util::child_test("faults::unwritable_directory_child")
        .env(UNWRITABLE_ENV, "1")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("test result: ok. 1 passed"), "{text}");
}

const UNWRITABLE_ENV: &str = "CONVLOG_UNWRITABLE_CHILD";
/// The uid and gid of `nobody` on Debian.
const NOBODY: u32 = 65534;

/// Not a test by itself: the checks of `an_unwritable_directory_fails_clearly`
/// in a child running as `nobody`. Without `CONVLOG_UNWRITABLE_CHILD` it
/// returns at once; the parent runs it with `--ignored`.
#[tokio::test]
#[ignore = "the body of a child process, run by an_unwritable_directory_fails_clearly with --ignored"]
async fn unwritable_directory_child() {
    if std::env::var_os(UNWRITABLE_ENV).is_none() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    assert_ne!(unsafe { libc::geteuid() }, 0, "the child must not be root");
    unwritable_directory_checks().await;
}

async fn unwritable_directory_checks() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let e = Session::create_with(&ro, quiet()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("Permission denied"), "{e}");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);

    // A log whose directory became read-only: appends go on (the file is
    // writable), but cutting a torn tail needs LOG.broken, so that fails
    // clearly instead of discarding the bytes.
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
    let s = Session::create_with(&ro, quiet()).unwrap();
    assert_eq!(s.append(msg(1)).await.unwrap(), Some(1));
    let log = s.path().to_path_buf();
    drop(s);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let s = Session::open_with(&log, quiet()).unwrap();
    assert_eq!(s.append(msg(2)).await.unwrap(), Some(2));
    drop(s);
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(b"{\"crc\":\"12").unwrap();
    let torn = std::fs::read(&log).unwrap();
    let s = Session::open_with(&log, quiet()).unwrap();
    let e = s.append(msg(3)).await.unwrap_err();
    assert!(e.to_string().contains("broken"), "{e}");
    assert_eq!(std::fs::read(&log).unwrap(), torn);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[tokio::test]
async fn a_log_replaced_or_removed_underneath_an_open_session() {
    let dir = tempfile::tempdir().unwrap();
    for remove in [false, true] {
        let s = Session::create_with(dir.path(), quiet()).unwrap();
        assert_eq!(s.append(msg(1)).await.unwrap(), Some(1));
        let log = s.path().to_path_buf();
        // A second name for the original inode, to read it afterwards.
        let original = dir.path().join(format!("original-{remove}"));
        std::fs::hard_link(&log, &original).unwrap();
        let before = std::fs::read(&log).unwrap();
        let other = b"someone else's file\n";
        if remove {
            std::fs::remove_file(&log).unwrap();
        } else {
            let tmp = dir.path().join("replacement");
            std::fs::write(&tmp, other).unwrap();
            std::fs::rename(&tmp, &log).unwrap();
        }
        let e = s.append(msg(2)).await.unwrap_err();
        assert!(is_poisoned(&e, "removed or replaced"), "{e}");
        assert!(e.to_string().contains(&*log.to_string_lossy()), "{e}");
        assert_refuses_everything(&s, "removed or replaced").await;
        drop(s);
        assert_eq!(std::fs::read(&original).unwrap(), before);
        if remove {
            assert!(!log.exists());
        } else {
            assert_eq!(std::fs::read(&log).unwrap(), other);
        }
        std::fs::remove_file(&original).unwrap();
        if !remove {
            std::fs::remove_file(&log).unwrap();
        }
    }
}

/// Runs `f` on another thread and fails, instead of hanging the test run, if
/// it does not return.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not return"))
}

/// A FIFO or a directory where a log should be is refused at once (a FIFO
/// used to hang `inspect` forever, waiting in `open` for a writer).
#[test]
fn a_fifo_or_directory_at_the_log_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.jsonl");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let subdir = dir.path().join("dir.jsonl");
    std::fs::create_dir(&subdir).unwrap();

    for path in [fifo, subdir] {
        let p = path.clone();
        let e = bounded("inspect", move || inspect(&p).unwrap_err());
        assert!(matches!(e, Error::NotALog { .. }), "{e:?}");
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let p = path.clone();
        let e = bounded("open", move || Session::open_with(&p, quiet()).unwrap_err());
        assert!(
            e.to_string().contains("not a regular file")
                || e.to_string().contains("Is a directory"),
            "{e}"
        );
        let p = path.clone();
        let e = bounded("repair", move || {
            convlog::repair::repair(&p, None).unwrap_err()
        });
        assert!(
            e.to_string().contains("not a regular file")
                || e.to_string().contains("Is a directory"),
            "{e}"
        );
    }
}
