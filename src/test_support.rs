//! Helpers the library's own unit tests share: a child process per
//! full-disk test, since a file-size limit holds for the whole process.

/// Runs the unit test `name` alone in a child of this test binary, with
/// `var` set to `value` (what tells it it is the child), and returns its
/// stdout once it has passed. Child bodies are `#[ignore]`d, so that a
/// normal run does not count them as passing tests: this runs them with
/// `--ignored`.
pub(crate) fn run_child(name: &str, var: &str, value: impl AsRef<std::ffi::OsStr>) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--ignored", "--nocapture"])
        .env(var, value)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A full disk for the child process a full-disk test runs: no file may
/// grow past `bytes`, and a write past it fails with EFBIG instead of
/// killing the process with SIGXFSZ.
pub(crate) fn limit_file_size(bytes: libc::rlim_t) {
    // SAFETY: plain syscalls on valid, initialised arguments.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut cur), 0);
        let limit = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: cur.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}
