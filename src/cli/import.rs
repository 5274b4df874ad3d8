//! `convlog import`: brings the original design's JSON files into convlog.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use convlog::import::{RoundTrip, import_file};
use convlog::{Error, Result};

use super::console::Paint;
use super::insight::progress;
use super::{Exit, exit_for};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Files written by the original design: {"conversation": [...]}.
    #[arg(required = true, value_name = "FILE.json")]
    files: Vec<PathBuf>,
}

pub fn import(a: ImportArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let bar = progress(a.files.len());
    let mut worst = Exit::Ok;
    for file in &a.files {
        let (text, code, to_stderr) = match import_file(file) {
            Ok(done) => {
                let mut text = format!(
                    "{} {} → {} ({} message{})\n",
                    paint.green("imported"),
                    done.source.display(),
                    done.log.display(),
                    done.messages,
                    if done.messages == 1 { "" } else { "s" }
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
                        let list: Vec<String> = entries
                            .iter()
                            .map(|i| format!("conversation[{i}]"))
                            .collect();
                        text.push_str(&format!(
                            "  {} `convlog export` reproduces the original except that the \
                             timestamp of {} gains .000000: Python's isoformat() leaves out \
                             zero microseconds, the export always writes six digits\n",
                            paint.yellow("note:"),
                            list.join(", ")
                        ));
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
                (text, code, false)
            }
            // A rejected file is a finding (1); I/O trouble is an error (2).
            Err(e) => (format!("convlog: {e}\n"), exit_for(&e), true),
        };
        worst = worst.max(code);
        let print = || {
            if to_stderr {
                eprint!("{text}");
                Ok(())
            } else {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
        };
        bar.suspend(print)
            .map_err(|e| Error::io(Path::new("<stdout>"), "write", e))?;
        bar.inc();
    }
    Ok(worst)
}
