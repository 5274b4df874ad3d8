//! `convlog tail`: a log's messages as `[USER] …` / `[AGENT] …` lines, and
//! its tool calls and handoffs as `[TOOL] …` / `[HANDOFF] …` lines, followed
//! live with `-f`.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use convlog::Result;
use convlog::read::POLL;
use convlog::read::{Followed, Follower};

use super::console::Paint;
use super::exit::{Exit, Tracker};
use super::util::stdout_err;

/// Print a log's messages as [USER] … / [AGENT] … lines; -f follows it live.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  convlog tail -f \"$log\"")]
pub struct TailArgs {
    /// The session log.
    log: PathBuf,
    /// Keep following the log as records arrive, until the session ends.
    #[arg(short, long)]
    follow: bool,
    /// Print only the last N lines (messages, tool calls, handoffs) first.
    #[arg(short = 'n', long, value_name = "N")]
    lines: Option<usize>,
}

pub fn run(a: TailArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let mut log = Follower::open(&a.log)?;
    // Check the whole log first, as every reader does: an empty file or a
    // non-log is an error (exit 2) before anything is printed, and damage
    // anywhere in it, a torn tail included, makes the exit code 1.
    let mut exit = Tracker::new();
    exit.damage(&convlog::read::inspect(&a.log)?);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut backlog: Option<VecDeque<String>> = a.lines.map(VecDeque::with_capacity);
    loop {
        while let Some(event) = log.next_event()? {
            let text = match event {
                Followed::Message(m) => {
                    let mut text = format!(
                        "{} {}",
                        paint.role_tag(m.role),
                        convlog::export::escape_controls(&m.content)
                    );
                    if m.interrupted {
                        text.push_str(&paint.yellow(" [interrupted]"));
                    }
                    text
                }
                Followed::Tool(t) => format!(
                    "{} {}",
                    paint.action_tag("TOOL"),
                    convlog::export::escape_controls(&t.summary())
                ),
                Followed::Handoff(h) => format!(
                    "{} {}",
                    paint.action_tag("HANDOFF"),
                    convlog::export::escape_controls(&h.summary())
                ),
                Followed::End => continue,
                Followed::Skipped {
                    line,
                    offset,
                    error,
                } => {
                    exit.finding();
                    eprintln!(
                        "convlog: {}: line {line} (byte {offset}): skipped: {error}",
                        a.log.display(),
                    );
                    continue;
                }
                Followed::Shrunk { len } => {
                    // Repaired or truncated underneath us: the bytes we were waiting on are gone.
                    eprintln!(
                        "convlog: {}: the log got shorter; following from byte {len}",
                        a.log.display()
                    );
                    continue;
                }
            };
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
        for text in backlog.take().into_iter().flatten() {
            writeln!(out, "{text}").map_err(stdout_err)?;
        }
        out.flush().map_err(stdout_err)?;
        if !a.follow || log.ended() {
            return Ok(exit.code());
        }
        std::thread::sleep(POLL);
    }
}
