//! Child processes, for the tests that must limit, kill or drop the
//! privileges of a process: this test binary run again on one `#[ignore]`d
//! body, and a file-size limit under which a write fails as it does on a
//! full disk. The library's unit tests (`src/test_support.rs`) and the
//! integration tests (`tests/it/util.rs`) both include this file with
//! `#[path]`, so there is one of each.

/// This test binary, set to run the test `name` (a child body, which is
/// `#[ignore]`d so that a normal run does not count it) alone: how a test
/// that must kill, limit or drop the privileges of a process gets one.
pub fn child_test(name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd
}

/// Lowers this process's file-size limit to `limit` bytes and ignores
/// `SIGXFSZ`, so that a write past it fails with `EFBIG`: how a full disk
/// looks to a writer (the same code path as `ENOSPC`). Only
/// async-signal-safe calls, so that a `pre_exec` hook may make it.
pub fn limit_file_size(limit: u64) -> std::io::Result<()> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on valid, initialised structs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        if libc::getrlimit(libc::RLIMIT_FSIZE, &mut cur) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let new = libc::rlimit {
            rlim_cur: limit as libc::rlim_t,
            rlim_max: cur.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_FSIZE, &new) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
