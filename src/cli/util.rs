//! What the commands share: stdout, progress, default paths, the runtime
//! and the small formatters of times and names.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use convlog::stats::{SessionStats, session_stats};
use convlog::time::parse_ts;
use convlog::{Error, Options, Result};

use super::PathsArg;
use super::exit::Tracker;

/// The directory commands read and write when given no path.
pub const DEFAULT_DIR: &str = "conversations";

/// `paths`, or `./conversations` when none were given.
pub fn paths_or_default(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(DEFAULT_DIR)]
    } else {
        paths
    }
}

/// Whether an output path means stdout.
pub fn is_stdout(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// A failed write to stdout, named as such; a closed pipe is recognised by
/// `main` and exits quietly.
pub fn stdout_err(e: io::Error) -> Error {
    Error::io(Path::new("<stdout>"), "write", e)
}

/// Writes `bytes` and flushes, so a closed pipe is seen at once.
pub fn write_flush(out: &mut impl Write, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(stdout_err)
}

/// Writes `bytes` to stdout and flushes.
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    write_flush(&mut io::stdout().lock(), bytes)
}

/// `--json` output that cannot be serialised.
pub fn json_err(e: serde_json::Error) -> Error {
    Error::InvalidInput(format!("cannot write JSON: {e}"))
}

/// Options for commands that print their own output: no `[USER]`/`[AGENT]` echo.
pub fn silent_options() -> Options {
    Options::default().echo(false)
}

/// A current-thread tokio runtime, for commands with truly async work.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(Path::new("<runtime>"), "start tokio runtime", e))
}

/// A progress bar on stderr for long multi-file work, only on a terminal.
/// It is cleared when dropped, also when the work stops on an error (such
/// as a closed pipe), so it never lingers on the screen.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    /// A bar for `files` files: only for more than 20 and when stderr is a terminal.
    pub fn new(files: usize) -> Progress {
        Progress(
            (files > 20 && io::stderr().is_terminal())
                .then(|| indicatif::ProgressBar::new(files as u64)),
        )
    }

    /// Runs `f` (which prints) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// One more file done: its answer goes to stdout, or its error to
    /// stderr (recorded as [`Tracker::error`] classifies it).
    pub fn done(&self, exit: &mut Tracker, answer: Result<String>) -> Result<()> {
        let shown = match answer {
            Ok(text) => self.suspend(|| print_bytes(text.as_bytes())),
            Err(e) => {
                self.suspend(|| exit.error(&e));
                Ok(())
            }
        };
        self.inc();
        shown
    }

    /// One more file done.
    pub fn inc(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A stored RFC 3339 time as the wall clock it was written in: `2025-08-18 14:30:22`.
pub fn wall_clock_secs(ts: &str) -> String {
    match parse_ts(ts) {
        Ok(t) => t.naive_local().format("%Y-%m-%d %H:%M:%S").to_string(),
        Err(_) => ts.to_string(),
    }
}

/// `8.3 s` under a minute, then `12:34`, `1:02:03`.
pub fn clock_duration(secs: f64) -> String {
    if secs < 59.95 {
        return format!("{:.1} s", secs.max(0.0));
    }
    let s = secs.round() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A path's last component, or the whole path when it has none.
pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// `1 message`, `2 messages`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Reads every log's figures for `ls` and `stats`, reporting the ones that
/// cannot be read; a damaged log is answered for and is a finding.
pub fn collect_stats(paths: PathsArg) -> (Vec<SessionStats>, Tracker) {
    let mut exit = Tracker::new();
    let logs = paths.logs(&mut exit);
    let bar = Progress::new(logs.len());
    let mut out = Vec::with_capacity(logs.len());
    for log in &logs {
        match session_stats(log) {
            Ok(s) => {
                exit.damage(&s.report);
                out.push(s);
            }
            Err(e) => bar.suspend(|| exit.unreadable(&e)),
        }
        bar.inc();
    }
    (out, exit)
}
