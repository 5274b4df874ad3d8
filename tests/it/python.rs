//! Runs the Python package's test suite (python/tests) with the interpreter
//! named by `CONVLOG_TEST_PYTHON`, which must have the package
//! (`pip install ./python`), pytest, pytest-asyncio, livekit-agents and
//! pipecat-ai installed. `.ci/run` makes such a venv; elsewhere the suite
//! skips with a printed reason, unless `CONVLOG_REQUIRE_ALL=1`, which also
//! makes a skip inside the Python suite a failure.

use std::path::Path;
use std::process::Command;

#[test]
fn python_suite() {
    let Some(python) = std::env::var_os("CONVLOG_TEST_PYTHON") else {
        let reason = "CONVLOG_TEST_PYTHON is not set (a python with `pip install ./python`, \
                      pytest, pytest-asyncio, livekit-agents and pipecat-ai)";
        crate::util::skip("the Python suite", reason);
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "python/tests",
            "-q",
            // Each skip with its reason (with CONVLOG_REQUIRE_ALL=1 a skip
            // fails instead: python/tests/conftest.py).
            "-rs",
            "-p",
            "no:cacheprovider",
        ])
        .current_dir(root)
        .env("CONVLOG_BIN", env!("CARGO_BIN_EXE_convlog"))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(&python).display()));
    assert!(status.success(), "the Python suite failed: {status}");
}
