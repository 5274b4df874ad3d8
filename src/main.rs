//! The `convlog` command: a thin client of the library.

mod cli;

fn main() {
    // A write past `ulimit -f` raises SIGXFSZ, whose default action kills
    // the process mid-write (exit 153, a torn tail, no word from convlog).
    // Ignored, the write fails with EFBIG instead, and the error is
    // reported and exits 2 like any other I/O failure.
    // SAFETY: setting a signal's disposition to SIG_IGN before any thread
    // starts has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    std::process::exit(cli::main());
}
