//! The blocking API and the leader/follower commit: blocking callers commit
//! on their own threads, async callers through the pool, and both keep the
//! log's promises (contiguous seqs, order per caller, poisoning, the end).

use crate::util::quiet;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use convlog::{Error, IoHooks, Message, Session};

fn seqs_in(log: &std::path::Path) -> Vec<u64> {
    let mut seqs = Vec::new();
    convlog::read::scan(
        log,
        io::BufReader::new(std::fs::File::open(log).unwrap()),
        convlog::Recovery::Absolute,
        |rec| {
            if let convlog::record::Record::Message(_) = rec {
                seqs.push(rec.seq());
            }
            Ok(())
        },
    )
    .unwrap();
    seqs
}

#[test]
fn blocking_and_async_callers_share_one_ordered_log() {
    let dir = tempfile::tempdir().unwrap();
    let with_export = quiet().export_on_end(true);
    let s = Session::create_with(dir.path(), with_export).unwrap();
    let threads = 6;
    let per = 40;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    // Half the callers block, half await; each checks its own seqs rise.
    let mut handles = Vec::new();
    for t in 0..threads {
        let s = s.clone();
        handles.push(std::thread::spawn(move || {
            let mut last = 0;
            for i in 0..per {
                let m = Message::user(format!("blocking {t} {i}"), "stt");
                let seq = s.append_blocking(m).unwrap().unwrap();
                assert!(seq > last, "{seq} after {last}");
                last = seq;
            }
        }));
    }
    let tasks: Vec<_> = (0..threads)
        .map(|t| {
            let s = s.clone();
            rt.spawn(async move {
                let mut last = 0;
                for i in 0..per {
                    let m = Message::agent(format!("async {t} {i}"), "tts");
                    let seq = s.append(m).await.unwrap().unwrap();
                    assert!(seq > last, "{seq} after {last}");
                    last = seq;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let n = (2 * threads * per) as u64;
    assert_eq!(seqs_in(s.path()), (1..=n).collect::<Vec<_>>());

    // log() from a plain thread, then flush_blocking: durable on return.
    for i in 0..10 {
        s.log(Message::user(format!("logged {i}"), "stt"));
    }
    s.flush_blocking().unwrap();
    assert_eq!(seqs_in(s.path()).len() as u64, n + 10);

    let many = s
        .append_many_blocking([
            Message::user("a", "stt"),
            Message::user("  ", "stt"),
            Message::user("b", "stt"),
        ])
        .unwrap();
    assert_eq!(many, vec![Some(n + 11), None, Some(n + 12)]);

    let ended = s.end_blocking().unwrap();
    assert_eq!(ended.seq, n + 13);
    assert!(ended.export.as_ref().unwrap().exists());
    assert!(matches!(
        s.append_blocking(Message::user("late", "stt")),
        Err(Error::Ended { .. })
    ));
    assert!(convlog::read::inspect(s.path()).unwrap().is_intact());
}

/// Fails the n-th fdatasync, after pausing in it so that other callers
/// queue behind the failing group.
struct FailSync {
    syncs: AtomicUsize,
    fail_at: usize,
}

impl IoHooks for FailSync {
    fn sync_data(&self, file: &std::fs::File) -> io::Result<()> {
        let n = self.syncs.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at {
            std::thread::sleep(Duration::from_millis(100));
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        file.sync_data()
    }
}

#[test]
fn a_failed_sync_fails_every_blocking_waiter_and_is_never_retried() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(FailSync {
        syncs: AtomicUsize::new(0),
        fail_at: 2,
    });
    let s = Session::create_with(dir.path(), quiet().io(hooks.clone())).unwrap();
    assert_eq!(
        s.append_blocking(Message::user("one", "stt")).unwrap(),
        Some(1)
    );
    let callers: Vec<_> = (0..4)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(i * 20));
                s.append_blocking(Message::user(format!("lost {i}"), "stt"))
            })
        })
        .collect();
    // The caller whose group hit the failure gets it, errno and all; the
    // ones queued behind it are refused as broken.
    let errors: Vec<Error> = callers
        .into_iter()
        .map(|c| c.join().unwrap().unwrap_err())
        .collect();
    let failed = errors
        .iter()
        .filter(
            |e| matches!(e, Error::Io { source, .. } if source.raw_os_error() == Some(libc::EIO)),
        )
        .count();
    assert_eq!(failed, 1, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, Error::Io { .. } | Error::Poisoned { .. })),
        "{errors:?}"
    );
    assert!(s.is_broken());
    assert!(s.flush_blocking().is_err());
    assert!(s.end_blocking().is_err());
    assert_eq!(
        hooks.syncs.load(Ordering::SeqCst),
        2,
        "no sync after the failed one"
    );
}

#[test]
fn a_lock_timeout_fails_the_call_but_not_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(
        dir.path(),
        quiet().lock_timeout(Some(Duration::from_millis(200))),
    )
    .unwrap();
    let holder = std::fs::File::open(s.path()).unwrap();
    holder.lock().unwrap();
    let e = s
        .append_blocking(Message::user("waits", "stt"))
        .unwrap_err();
    assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
    assert!(!s.is_broken());
    holder.unlock().unwrap();
    assert_eq!(
        s.append_blocking(Message::user("goes", "stt")).unwrap(),
        Some(1)
    );
}

#[test]
fn many_sessions_share_a_bounded_pool() {
    let dir = tempfile::tempdir().unwrap();
    let sessions: Vec<Session> = (0..200)
        .map(|_| Session::create_with(dir.path(), quiet()).unwrap())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = sessions
            .iter()
            .map(|s| {
                let s = s.clone();
                tokio::spawn(async move {
                    for i in 0..3 {
                        s.append(Message::user(format!("m{i}"), "stt"))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert!(convlog::Session::pool_threads() <= convlog::Session::MAX_POOL_THREADS);
    for s in &sessions {
        assert_eq!(seqs_in(s.path()), vec![1, 2, 3]);
    }
}

#[test]
fn dropping_the_last_handle_commits_what_log_queued() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet()).unwrap();
    let log = s.path().to_path_buf();
    for i in 0..100 {
        s.log(Message::user(format!("m{i}"), "stt"));
    }
    drop(s);
    assert_eq!(seqs_in(&log), (1..=100).collect::<Vec<_>>());
}

/// Holds every fdatasync for a while and says when one is in progress.
struct HeldSync {
    in_sync: std::sync::atomic::AtomicBool,
}

impl IoHooks for HeldSync {
    fn sync_data(&self, file: &std::fs::File) -> io::Result<()> {
        self.in_sync.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        let r = file.sync_data();
        self.in_sync.store(false, Ordering::SeqCst);
        r
    }
}

#[test]
fn an_awaited_append_leaves_the_runtime_thread_free_during_fdatasync() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(HeldSync {
        in_sync: Default::default(),
    });
    let s = Session::create_with(dir.path(), quiet().io(hooks.clone())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let ran_during_sync = rt.block_on(async {
        let append = tokio::spawn(s.append(Message::user("slow disk", "stt")));
        let mut ran_during_sync = false;
        while !append.is_finished() {
            // This task runs on the only runtime thread: if the append held
            // that thread through its fdatasync, it could not see one.
            ran_during_sync |= hooks.in_sync.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(append.await.unwrap().unwrap(), Some(1));
        ran_during_sync
    });
    assert!(
        ran_during_sync,
        "the runtime thread was held through the fdatasync"
    );
}

/// Holds every fdatasync briefly, counting finished ones and noting the
/// threads they ran on.
struct SlowSync {
    done: AtomicUsize,
    threads: std::sync::Mutex<Vec<std::thread::ThreadId>>,
}

impl IoHooks for SlowSync {
    fn sync_data(&self, file: &std::fs::File) -> io::Result<()> {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        std::thread::sleep(Duration::from_millis(50));
        let r = file.sync_data();
        self.done.fetch_add(1, Ordering::SeqCst);
        r
    }
}

#[test]
fn a_callback_runs_on_the_committing_thread_once_the_record_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(SlowSync {
        done: AtomicUsize::new(0),
        threads: Default::default(),
    });
    let s = Session::create_with(dir.path(), quiet().io(hooks.clone())).unwrap();
    let path = s.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let seen = hooks.clone();
    s.append_with(Message::user("called back", "stt"), move |r| {
        // What `done` sees when it runs: the sync finished, the record in
        // the file, and the thread it runs on.
        let synced = seen.done.load(Ordering::SeqCst);
        tx.send((r, synced, seqs_in(&path), std::thread::current().id()))
            .unwrap();
    });
    let (r, synced, on_disk, thread) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(r.unwrap(), Some(1));
    assert_eq!(synced, 1, "done ran before the fdatasync finished");
    assert_eq!(on_disk, vec![1]);
    assert_ne!(
        thread,
        std::thread::current().id(),
        "the caller's thread waited"
    );
    assert_eq!(
        hooks.threads.lock().unwrap().as_slice(),
        &[thread],
        "done ran on a thread other than the one that committed"
    );
}

#[test]
fn callbacks_answer_every_append_flush_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = Session::create_with(dir.path(), quiet().export_on_end(true)).unwrap();
    let n = 200;
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..n {
        let tx = tx.clone();
        s.append_with(Message::agent(format!("m{i}"), "tts"), move |r| {
            tx.send(r.unwrap().unwrap()).unwrap()
        });
    }
    let mut seqs: Vec<u64> = (0..n)
        .map(|_| rx.recv_timeout(Duration::from_secs(30)).unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>());

    // Blank content is skipped and answered at once, on this thread.
    let here = std::thread::current().id();
    let (btx, brx) = std::sync::mpsc::channel();
    s.append_with(Message::user("  ", "stt"), move |r| {
        btx.send((r.unwrap(), std::thread::current().id())).unwrap()
    });
    assert_eq!(brx.try_recv().unwrap(), (None, here));

    // A flush answers once what `log` queued before it is durable.
    s.log(Message::user("detached", "stt"));
    let path = s.path().to_path_buf();
    let (ftx, frx) = std::sync::mpsc::channel();
    s.flush_with(move |r| ftx.send((r, seqs_in(&path).len())).unwrap());
    let (r, on_disk) = frx.recv_timeout(Duration::from_secs(10)).unwrap();
    r.unwrap();
    assert_eq!(on_disk, n + 1);

    // The end answers once the end record is written and the export rendered.
    let (etx, erx) = std::sync::mpsc::channel();
    s.end_with(move |r| {
        let ended = r.unwrap();
        let rendered = ended.export.as_ref().is_some_and(|p| p.exists());
        etx.send((ended, rendered)).unwrap()
    });
    let (ended, rendered) = erx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(ended.seq, n as u64 + 2);
    assert!(rendered, "done ran before the export was rendered");
    assert!(convlog::read::inspect(s.path()).unwrap().ended);

    // After the end an append is refused.
    let (ltx, lrx) = std::sync::mpsc::channel();
    s.append_with(Message::user("late", "stt"), move |r| ltx.send(r).unwrap());
    let late = lrx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(matches!(late, Err(Error::Ended { .. })), "{late:?}");
}

#[test]
fn a_failed_sync_reaches_the_callback_and_later_calls_fail_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(FailSync {
        syncs: AtomicUsize::new(0),
        fail_at: 1,
    });
    let s = Session::create_with(dir.path(), quiet().io(hooks.clone())).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    s.append_with(Message::user("lost", "stt"), move |r| tx.send(r).unwrap());
    let e = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(e, Error::Io { .. } | Error::Poisoned { .. }),
        "{e:?}"
    );
    let (ftx, frx) = std::sync::mpsc::channel();
    s.flush_with(move |r| ftx.send(r).unwrap());
    assert!(matches!(
        frx.try_recv().unwrap(),
        Err(Error::Poisoned { .. })
    ));
    let (etx, erx) = std::sync::mpsc::channel();
    s.end_with(move |r| etx.send(r.map(|_| ())).unwrap());
    assert!(matches!(
        erx.try_recv().unwrap(),
        Err(Error::Poisoned { .. })
    ));
    assert_eq!(
        hooks.syncs.load(Ordering::SeqCst),
        1,
        "the sync was retried"
    );
}

/// Notes the scheduling policy of the thread running each fdatasync.
#[derive(Default)]
struct PolicyAtSync {
    policies: std::sync::Mutex<Vec<i32>>,
}

impl IoHooks for PolicyAtSync {
    fn sync_data(&self, file: &std::fs::File) -> io::Result<()> {
        // SAFETY: pid 0 names the calling thread; the call reads only.
        let policy = unsafe { libc::sched_getscheduler(0) };
        self.policies.lock().unwrap().push(policy);
        file.sync_data()
    }
}

impl PolicyAtSync {
    /// Waits (up to 10 s) until `n` fdatasyncs have run; their policies.
    fn after(&self, n: usize) -> Vec<i32> {
        for _ in 0..1000 {
            let p = self.policies.lock().unwrap().clone();
            if p.len() >= n {
                return p;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("fewer than {n} fdatasyncs in 10 s");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_commit_thread_yields_for_detached_records_and_not_for_awaited_ones() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Arc::new(PolicyAtSync::default());
    let s = Session::create_with(dir.path(), quiet().io(hooks.clone())).unwrap();
    // (Whatever ran at create ran on this thread.)
    let base = hooks.after(0).len();
    // `log()` (an event loop's records, nobody waiting): committed under
    // SCHED_BATCH, so that the commit thread's wake-ups never preempt the loop.
    s.log(Message::user("one", "stt"));
    let p = hooks.after(base + 1);
    assert_eq!(p[base], libc::SCHED_BATCH, "detached records: {p:?}");
    // An awaited append (ingest's chunks): committed under the default
    // policy, so that whoever waits is not kept waiting for a free core.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(s.append(Message::user("two", "stt"))).unwrap(),
        Some(2)
    );
    let p = hooks.after(base + 2);
    assert_eq!(p[base + 1], libc::SCHED_OTHER, "an awaited append: {p:?}");
    // And batched again for the next detached record.
    s.log(Message::user("three", "stt"));
    let p = hooks.after(base + 3);
    assert_eq!(p[base + 2], libc::SCHED_BATCH, "detached again: {p:?}");
    assert_eq!(seqs_in(s.path()), vec![1, 2, 3]);
}
