//! `convlog export`: a log rendered as the original design's JSON or another format.

use std::io;
use std::path::{Path, PathBuf};

use clap::Args;
use convlog::export::{ExportOptions, Format};
use convlog::read::DamageKind;
use convlog::{Error, Recovery, Report, Result};

use super::exit::Exit;
use super::redact::RedactArgs;
use super::util::is_stdout;
use super::values::{FormatArg, RecoveryArg, TimestampsArg};

/// Render a log as the documented JSON or another format (stdout by default).
///
/// Formats: json (the original design's file, byte for byte), jsonl,
/// markdown, text, csv, srt, vtt and html (the `convlog serve` session
/// page as one self-contained file, the same bytes for the same log). Subtitle cues start at each message's
/// time after the session start and end at the next message, or after
/// meta.duration_ms when a single-record message has it; the last cue
/// lasts 70 ms per character (1 to 10 s). These are times text reached the
/// logger, not audio times.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog export \"$log\" -o conversation.json\n  convlog export \"$log\" --format markdown -o transcript.md\n  convlog export \"$log\" --format srt -o conversation.srt"
)]
pub struct ExportArgs {
    /// The session log to export.
    log: PathBuf,
    /// Where to write: a file (replaced atomically) or - for stdout.
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
    /// Output format. json is the original design's documented file. Every
    /// format merges the fragments of a turn the same way (see --no-merge).
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    format: FormatArg,
    /// documented: local wall-clock time with six fractional digits, as the
    /// original design wrote; rfc3339: as stored, with the UTC offset. Applies
    /// to json, jsonl and csv.
    #[arg(long, value_enum, default_value_t = TimestampsArg::WallClock)]
    timestamps: TimestampsArg,
    /// Keep every record; by default consecutive fragments of one turn merge.
    #[arg(long)]
    no_merge: bool,
    /// How to treat damage: tolerate-tail ignores what a crash leaves and
    /// fails on anything else; absolute fails on any damage; point-in-time
    /// stops before the first damage; skip-corrupt skips bad lines.
    #[arg(long, value_enum, default_value_t = RecoveryArg::TolerateTail)]
    recovery: RecoveryArg,
    /// Include tool calls and handoffs in json and csv too (as objects with
    /// "role": "tool" / "handoff"). jsonl, markdown and text show them
    /// without it; srt and vtt never do.
    #[arg(long, conflicts_with = "no_tools")]
    tools: bool,
    /// Leave tool calls and handoffs out of every format.
    #[arg(long)]
    no_tools: bool,
    /// Redact on the way out, for a log written without redaction.
    #[command(flatten)]
    redact: RedactArgs,
}

impl ExportArgs {
    fn options(&self) -> Result<ExportOptions> {
        Ok(ExportOptions {
            timestamps: self.timestamps.into(),
            no_merge: self.no_merge,
            recovery: self.recovery.into(),
            tools: match (self.tools, self.no_tools) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            redact: self.redact.policy()?,
        })
    }
}

pub fn run(a: ExportArgs) -> Result<Exit> {
    if a.log.is_dir() {
        return Err(Error::NotALog {
            path: a.log.clone(),
            reason: format!(
                "it is a directory; `convlog refresh {}` renders the export beside every log in it",
                a.log.display()
            ),
        });
    }
    let opts = a.options()?;
    let format = Format::from(a.format);
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
    Ok(Exit::of_salvage(&report))
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
