//! Helpers the library's own unit tests share: a child process per
//! full-disk test, since a file-size limit holds for the whole process.
//! The child and the limit are the integration tests' own
//! (`tests/shared/child.rs`).

#[path = "../tests/shared/child.rs"]
mod child;

pub(crate) use child::limit_file_size;

/// Runs the unit test `name` alone in a child of this test binary, with
/// `var` set to `value` (what tells it it is the child), and returns its
/// stdout once it has passed. Child bodies are `#[ignore]`d, so that a
/// normal run does not count them as passing tests: this runs them with
/// `--ignored`.
pub(crate) fn run_child(name: &str, var: &str, value: impl AsRef<std::ffi::OsStr>) -> String {
    let out = child::child_test(name).env(var, value).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
