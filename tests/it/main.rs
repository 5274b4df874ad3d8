//! convlog's integration tests: one binary, one module per subject, and one
//! `util` module with the fixtures they share.
//!
//! Run one subject with `cargo test --test it SUBJECT::`. Two suites are
//! their own binaries because they need a process to themselves:
//! `tests/allocations.rs` (a counting global allocator sees every thread's
//! allocations) and `tests/global.rs` (the default session is per process).
//! Tests here that need a fresh process (crash, faults) re-execute this
//! binary, naming the child test by its full path (`crash::crash_child`).

mod http;
mod util;

// The library, from the line up.
mod blocking;
mod compat;
mod corruption;
mod crash;
mod example;
mod faults;
mod props;
mod reader;
mod redact;
mod retain;
mod session;
mod tools;

// The command line.
mod cli;
mod cli_contract;
mod export_safety;
mod formats;
mod import;
mod ingest_input;
mod insight;
mod symlinked_dirs;
mod trial;
mod viewer;
mod write_path;

// Suites that need a system beside Rust: they skip with a printed reason,
// unless `CONVLOG_REQUIRE_ALL=1`.
mod browser;
mod python;
mod ship;
mod webdriver;
