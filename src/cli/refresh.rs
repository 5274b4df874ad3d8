//! `convlog refresh`: render the export beside each log whose export is
//! missing or stale.

use clap::Args;
use convlog::Result;
use convlog::export::{ExportOptions, ExportState, Refreshed, refresh_export};
use convlog::record::StoredPolicy;
use convlog::redact::Policy;

use super::PathsArg;
use super::exit::{Exit, Tracker};
use super::redact::RedactAllArgs;
use super::util::Progress;

/// Render the export beside each log whose export is missing or stale.
///
/// An export that is up to date is left alone, and so are the original
/// file `convlog import` read and a file convlog did not write.
/// `compact`, this command's former name, still works.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  convlog refresh conversations/")]
pub struct RefreshArgs {
    #[command(flatten)]
    paths: PathsArg,
    /// Render the exports redacted (`--redact` alone: every kind), for logs
    /// written without redaction: the logs themselves are left as they are.
    #[command(flatten)]
    redact: RedactAllArgs,
}

/// What `wrote …` says about redaction. A plain refresh of an export that
/// was rendered redacted keeps it redacted, and says so: the way back to a
/// plain export is explicit (remove it and its stamp, then refresh).
fn redaction_note(stored: Option<&StoredPolicy>, asked: &Policy) -> String {
    let Some(stored) = stored else {
        return String::new();
    };
    let kinds = stored.kinds.join(",");
    let keyed = if stored.keyed { ", keyed" } else { "" };
    if asked.is_covered_by(Some(stored))
        && !asked.is_empty()
        && asked.kinds().count() == stored.kinds.len()
    {
        format!(", redacted: {kinds}{keyed}")
    } else {
        format!(
            ", redacted: {kinds}{keyed}, as the export it replaced was: a redacted export stays \
             redacted; to render it plain, remove it and its stamp (.NAME.json.stamp) first"
        )
    }
}

pub fn run(a: RefreshArgs) -> Result<Exit> {
    let opts = ExportOptions {
        redact: a.redact.policy()?,
        ..ExportOptions::default()
    };
    let mut exit = Tracker::new();
    let logs = a.paths.logs(&mut exit);
    let bar = Progress::new(logs.len());
    for log in &logs {
        let refreshed = refresh_export(log, &opts);
        // The export holds every record: a torn tail it passed over was
        // never acknowledged, so it is noted and is not a finding (the
        // default mode refuses damage inside the file, which is).
        let torn = refreshed
            .as_ref()
            .ok()
            .and_then(|_| convlog::read::inspect(log).ok())
            .and_then(|r| r.torn_bytes());
        if let Some(bytes) = torn {
            bar.suspend(|| {
                eprintln!(
                    "convlog: {}: torn tail ({bytes} bytes) left out of the export; see `convlog verify`",
                    log.display()
                )
            });
        }
        let answer = match refreshed {
            Ok(Refreshed::Written {
                export,
                messages,
                redacted,
            }) => Ok(format!(
                "wrote {} ({messages} message{}{})\n",
                export.display(),
                if messages == 1 { "" } else { "s" },
                redaction_note(redacted.as_ref(), &opts.redact)
            )),
            Ok(Refreshed::UpToDate { export }) => Ok(format!("up to date: {}\n", export.display())),
            Ok(Refreshed::Kept {
                export,
                state: ExportState::Original,
            }) => Ok(format!(
                "kept original: {} (the file `convlog import` read; refresh never replaces it)\n",
                export.display()
            )),
            Ok(Refreshed::Kept { export, .. }) => {
                // Nothing was rendered for this log: a finding, not an error.
                exit.finding();
                Ok(format!(
                    "skipped: {} is not a convlog export (it has no stamp), so it is left as it is; \
                     move it away, or render elsewhere with `convlog export {} -o FILE`\n",
                    export.display(),
                    log.display()
                ))
            }
            Err(e) => Err(e),
        };
        bar.done(&mut exit, answer)?;
    }
    Ok(exit.code())
}
