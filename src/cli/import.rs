//! `convlog import`: brings the original design's JSON files into convlog.

use std::path::PathBuf;

use clap::Args;
use convlog::Result;
use convlog::import::{RoundTrip, import_file};

use super::console::Paint;
use super::exit::{Exit, Tracker};
use super::util::{Progress, plural};

/// Import files written by the original design into convlog logs.
///
/// Each FILE.json ({"conversation": [...]}, timestamps from Python's
/// datetime.now().isoformat()) becomes FILE.jsonl beside it; an existing
/// log is never overwritten. Naive timestamps are read as local time (set
/// TZ to import files from another machine's zone). The import checks that
/// `convlog export` gives the original back byte for byte and says so; the
/// one expected difference is a timestamp whose microseconds were 0, which
/// Python writes without a fraction and the export writes with .000000.
///
/// A compact file (not indent=2) imports too: when every message comes
/// back, the byte layout is only noted. A blank content entry is kept as
/// the file has it.
///
/// Exit code 0 when every file was imported and every message comes back
/// in its export, 1 when a file was rejected (malformed, or its log
/// exists) or a message differs in its export, 2 on I/O errors.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  convlog import conversations/conversation_*.json")]
pub struct ImportArgs {
    /// Files written by the original design: {"conversation": [...]}.
    #[arg(required = true, value_name = "FILE.json")]
    files: Vec<PathBuf>,
}

pub fn run(a: ImportArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let bar = Progress::new(a.files.len());
    let mut exit = Tracker::new();
    for file in &a.files {
        let answer = match import_file(file) {
            Ok(done) => {
                let mut text = format!(
                    "{} {} → {} ({})\n",
                    paint.green("imported"),
                    done.source.display(),
                    done.log.display(),
                    plural(done.messages as u64, "message", "messages"),
                );
                for note in &done.notes {
                    text.push_str(&format!("  {} {note}\n", paint.yellow("note:")));
                }
                let code = match &done.round_trip {
                    RoundTrip::Exact => {
                        text.push_str("  `convlog export` reproduces the original byte for byte\n");
                        Exit::Ok
                    }
                    RoundTrip::WholeSecondsOnly(entries) => {
                        text.push_str(&format!(
                            "  {} `convlog export` reproduces the original except that the \
                             timestamp of {} gains .000000: Python's isoformat() leaves out \
                             zero microseconds, the export always writes six digits\n",
                            paint.yellow("note:"),
                            entry_list(entries)
                        ));
                        Exit::Ok
                    }
                    RoundTrip::Layout(entries) => {
                        let mut note = format!(
                            "convlog: {}: note: all {} round-trip; only the byte layout differs \
                             (the file was not written by json.dump(…, ensure_ascii=False, indent=2), \
                             the layout `convlog export` writes)",
                            done.source.display(),
                            plural(done.messages as u64, "message", "messages"),
                        );
                        if !entries.is_empty() {
                            note.push_str(&format!(
                                "; the timestamp of {} gains .000000",
                                entry_list(entries)
                            ));
                        }
                        bar.suspend(|| eprintln!("{note}"));
                        Exit::Ok
                    }
                    RoundTrip::Differs {
                        line,
                        original,
                        exported,
                    } => {
                        text.push_str(&format!(
                            "  {} `convlog export` differs from the original from line {line}:\n    \
                             original: {}\n    export:   {}\n",
                            paint.yellow("warning:"),
                            original.trim(),
                            exported.trim()
                        ));
                        Exit::Finding
                    }
                };
                exit.record(code);
                Ok(text)
            }
            // A rejected file is a finding (1); I/O trouble is an error (2).
            Err(e) => Err(e),
        };
        bar.done(&mut exit, answer)?;
    }
    Ok(exit.code())
}

/// `conversation[1], conversation[4]`.
fn entry_list(entries: &[usize]) -> String {
    entries
        .iter()
        .map(|i| format!("conversation[{i}]"))
        .collect::<Vec<_>>()
        .join(", ")
}
