//! Commands that read: `export`, `compact`, `tail`.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use convlog::export::{
    ExportOptions, ExportState, Format, Refreshed, TimestampStyle, refresh_export,
};
use convlog::read::follow::POLL;
use convlog::read::{Followed, Follower};
use convlog::reader::DamageKind;
use convlog::{Error, Recovery, Report, Result};

use super::console::Paint;
use super::{Exit, exit_for, report};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The session log to export.
    log: PathBuf,
    /// Where to write: a file (replaced atomically) or - for stdout.
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
    /// Output format. json is the original design's documented file. Every
    /// format merges the fragments of a turn the same way (see --no-merge).
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// documented: local wall-clock time with six fractional digits, as the
    /// original design wrote; rfc3339: as stored, with the UTC offset. Applies
    /// to json, jsonl and csv.
    #[arg(long, value_enum, default_value_t = TimestampStyle::WallClock)]
    timestamps: TimestampStyle,
    /// Keep every record; by default consecutive fragments of one turn merge.
    #[arg(long)]
    no_merge: bool,
    /// How to treat damage: tolerate-tail ignores what a crash leaves and
    /// fails on anything else; absolute fails on any damage; point-in-time
    /// stops before the first damage; skip-corrupt skips bad lines.
    #[arg(long, value_enum, default_value_t = Recovery::TolerateTail)]
    recovery: Recovery,
}

impl ExportArgs {
    fn options(&self) -> ExportOptions {
        ExportOptions {
            timestamps: self.timestamps,
            no_merge: self.no_merge,
            recovery: self.recovery,
        }
    }
}

fn is_stdout(p: &Path) -> bool {
    p.as_os_str() == "-"
}

pub fn export(a: ExportArgs) -> Result<Exit> {
    let opts = a.options();
    let format = a.format;
    let report = if is_stdout(&a.output) {
        refuse_stdout_onto_log(&a.log)?;
        let stdout = io::stdout();
        let out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
        convlog::export::render(&a.log, format, out, Path::new("<stdout>"), &opts)?
    } else {
        // Refuses a log or an original as the output before anything is read.
        convlog::export::export_file(&a.log, &a.output, format, &opts)?
    };
    note_damage(&a.log, &report, opts.recovery);
    Ok(super::exit_for_damage(&report))
}

/// `convlog export LOG >> LOG` would append the export to the log itself:
/// refuse when stdout is the log's own file.
fn refuse_stdout_onto_log(log: &Path) -> Result<()> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let stdout = io::stdout();
    let Ok(fd) = stdout.as_fd().try_clone_to_owned() else {
        return Ok(());
    };
    let Ok(out) = std::fs::File::from(fd).metadata() else {
        return Ok(());
    };
    let same = std::fs::metadata(log).is_ok_and(|m| m.dev() == out.dev() && m.ino() == out.ino());
    if out.is_file() && same {
        return Err(Error::io(
            log,
            "write the export",
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "standard output is the log being exported; refusing to write a log's export into it",
            ),
        ));
    }
    Ok(())
}

/// Tells the user on stderr what the recovery mode passed over, so a
/// salvaged export is never mistaken for a complete one.
fn note_damage(log: &Path, report: &Report, mode: Recovery) {
    for d in &report.damage {
        let what = match (d.kind == DamageKind::TornTail, mode) {
            (true, _) => "ignored torn tail",
            (false, Recovery::SkipCorrupt) if d.skips_record() => "skipped",
            // A seq gap is reported at a record that is exported: what is
            // missing is the seq before it, which the reason names.
            (false, Recovery::SkipCorrupt) => "kept",
            (false, _) => "stopped before",
        };
        eprintln!(
            "convlog: {}: {what} line {} (byte {}): {}: {}",
            log.display(),
            d.line,
            d.offset,
            d.kind.name(),
            d.reason
        );
    }
}

#[derive(Args, Debug)]
pub struct CompactArgs {
    /// Logs or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
}

pub fn compact(a: CompactArgs) -> Result<Exit> {
    let (logs, mut worst) = super::expand(&super::insight::paths_or_default(a.paths));
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let stdout_err = |e| Error::io(Path::new("<stdout>"), "write", e);
    let bar = super::insight::progress(logs.len());
    for log in &logs {
        let compacted = refresh_export(log, &ExportOptions::default());
        // The export holds what is readable; damage it passed over (a torn
        // tail) is a finding, as in every reader.
        let torn = compacted
            .as_ref()
            .ok()
            .and_then(|_| convlog::reader::inspect(log).ok())
            .and_then(|r| r.torn_bytes());
        if let Some(bytes) = torn {
            worst = worst.max(Exit::Finding);
            bar.suspend(|| {
                eprintln!(
                    "convlog: {}: torn tail ({bytes} bytes) left out of the export; see `convlog verify`",
                    log.display()
                )
            });
        }
        let line = match compacted {
            Ok(Refreshed::Written { export, messages }) => Ok(format!(
                "wrote {} ({messages} message{})\n",
                export.display(),
                if messages == 1 { "" } else { "s" }
            )),
            Ok(Refreshed::UpToDate { export }) => Ok(format!("up to date: {}\n", export.display())),
            Ok(Refreshed::Kept {
                export,
                state: ExportState::Original,
            }) => Ok(format!(
                "kept original: {} (the file `convlog import` read; compact never replaces it)\n",
                export.display()
            )),
            Ok(Refreshed::Kept { export, .. }) => {
                // Nothing was rendered for this log: a finding, not an error.
                worst = worst.max(Exit::Finding);
                Ok(format!(
                    "skipped: {} is not a convlog export (it has no stamp), so it is left as it is; \
                     move it away, or render elsewhere with `convlog export {} -o FILE`\n",
                    export.display(),
                    log.display()
                ))
            }
            Err(e) => {
                worst = worst.max(exit_for(&e));
                Err(e)
            }
        };
        let shown = || match &line {
            Ok(text) => out.write_all(text.as_bytes()).and_then(|()| out.flush()),
            Err(e) => {
                report(e);
                Ok(())
            }
        };
        bar.suspend(shown).map_err(stdout_err)?;
        bar.inc();
    }
    Ok(worst)
}

#[derive(Args, Debug)]
pub struct TailArgs {
    /// The session log.
    log: PathBuf,
    /// Keep following the log as records arrive, until the session ends.
    #[arg(short, long)]
    follow: bool,
    /// Print only the last N messages first.
    #[arg(short = 'n', long, value_name = "N")]
    lines: Option<usize>,
}

pub fn tail(a: TailArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let mut log = Follower::open(&a.log)?;
    // Check the whole log first, as every reader does: an empty file or a
    // non-log is an error (exit 2) before anything is printed, and damage
    // anywhere in it, a torn tail included, makes the exit code 1.
    let mut exit = super::exit_for_damage(&convlog::reader::inspect(&a.log)?);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let stdout_err = |e| Error::io(Path::new("<stdout>"), "write", e);
    let mut backlog: Option<VecDeque<String>> = a.lines.map(VecDeque::with_capacity);
    loop {
        while let Some(event) = log.next_event()? {
            match event {
                Followed::Message(m) => {
                    let mut text = format!(
                        "{} {}",
                        paint.role_tag(m.role),
                        convlog::export::escape_controls(&m.content)
                    );
                    if m.interrupted {
                        text.push_str(&paint.yellow(" [interrupted]"));
                    }
                    match backlog.as_mut() {
                        Some(q) => {
                            if q.len() == a.lines.unwrap_or(0) {
                                q.pop_front();
                            }
                            if a.lines != Some(0) {
                                q.push_back(text);
                            }
                        }
                        None => writeln!(out, "{text}").map_err(stdout_err)?,
                    }
                }
                Followed::End => {}
                Followed::Skipped {
                    line,
                    offset,
                    error,
                } => {
                    exit = exit.max(Exit::Finding);
                    eprintln!(
                        "convlog: {}: line {line} (byte {offset}): skipped: {error}",
                        a.log.display(),
                    )
                }
                Followed::Shrunk { len } => {
                    // Repaired or truncated underneath us: the bytes we were waiting on are gone.
                    eprintln!(
                        "convlog: {}: the log got shorter; following from byte {len}",
                        a.log.display()
                    );
                }
            }
        }
        for text in backlog.take().into_iter().flatten() {
            writeln!(out, "{text}").map_err(stdout_err)?;
        }
        out.flush().map_err(stdout_err)?;
        if !a.follow || log.ended() {
            return Ok(exit);
        }
        std::thread::sleep(POLL);
    }
}
