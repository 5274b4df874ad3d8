//! `convlog search`: messages whose content matches a regular expression,
//! and tool calls and handoffs whose one-line summary does.
//!
//! Reads with skip-corrupt recovery, so it answers for live, ended, crashed
//! and damaged logs alike. Exit code 0 when something matched, 1 when
//! nothing did, 2 on errors, as grep and ripgrep do.

use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use clap::Args;
use convlog::export::{ExportOptions, escape_controls};
use convlog::read::read_header;
use convlog::search::{Hit, HitKind, Query, search_log};
use convlog::{Recovery, Result, Role};
use serde::Serialize;

use super::PathsArg;
use super::console::Paint;
use super::exit::{Exit, Tracker};
use super::util::{Progress, json_err, stdout_err, wall_clock_secs};
use super::values::RoleArg;

/// Find messages whose content matches a regular expression.
///
/// Prints each matching message with its log, time and role, the match
/// highlighted on a terminal. Fragments of one turn are merged before
/// matching, as in the export (--no-merge searches records one by one).
/// Exit code 0 when something matched, 1 when nothing did, 2 on errors,
/// as grep and ripgrep do. --json prints one object per message with the
/// byte offsets of the matches in its content.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog search -i 'jaipur|hotel'\n  convlog search 'cheapest' conversations/ --role user --since '2025-08-18 14:00'\n  convlog search . --session conversation_20250818_143022.jsonl --json"
)]
pub struct SearchArgs {
    /// A regular expression (Rust `regex` syntax) matched against message content.
    pattern: String,
    #[command(flatten)]
    paths: PathsArg,
    /// Match case-insensitively.
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Take PATTERN as plain text, not a regular expression.
    #[arg(short = 'F', long)]
    fixed_strings: bool,
    /// Only messages of this role.
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// Only messages from this source (exact), e.g. deepgram_stt.
    #[arg(long)]
    source: Option<String>,
    /// Only messages of this speaker (exact).
    #[arg(long)]
    speaker: Option<String>,
    /// Only messages at or after this time: RFC 3339 (the seconds may be
    /// left out: 2025-08-18T14:30+05:30), or local time such as
    /// 2025-08-18T14:30, "2025-08-18 14:30:00" or 2025-08-18.
    #[arg(long, value_parser = convlog::time::parse_time, value_name = "TIME")]
    since: Option<DateTime<FixedOffset>>,
    /// Only messages before this time (same forms as --since).
    #[arg(long, value_parser = convlog::time::parse_time, value_name = "TIME")]
    until: Option<DateTime<FixedOffset>>,
    /// Only this session: its id (or a prefix of it), or its log's file name.
    #[arg(long, value_name = "ID|NAME")]
    session: Option<String>,
    /// Search every record on its own; by default the fragments of one turn
    /// are merged first, as in the export.
    #[arg(long)]
    no_merge: bool,
    /// One JSON object per matching message (JSON Lines).
    #[arg(long)]
    json: bool,
    /// Leave out tool calls and handoffs; by default they are searched
    /// too, as `name(arguments) -> output` and `from -> to`.
    #[arg(long)]
    no_tools: bool,
}

#[derive(Serialize)]
struct Span {
    start: usize,
    end: usize,
}

/// One line of `search --json`.
#[derive(Serialize)]
struct MatchJson<'a> {
    path: String,
    session: Option<&'a str>,
    seq: u64,
    timestamp: &'a str,
    role: &'a str,
    source: &'a str,
    speaker: Option<&'a str>,
    turn: Option<&'a str>,
    interrupted: bool,
    content: &'a str,
    /// Byte offsets of each match in `content`.
    matches: Vec<Span>,
}

/// Prints the items that match.
struct Printer<'a> {
    out: &'a mut Vec<u8>,
    log: &'a Path,
    session: Option<&'a str>,
    json: bool,
    paint: Paint,
    found: u64,
}

impl Printer<'_> {
    fn print(&mut self, h: &Hit<'_>, spans: &[(usize, usize)]) -> Result<()> {
        self.found += 1;
        if self.json {
            let v = MatchJson {
                path: self.log.display().to_string(),
                session: self.session,
                seq: h.seq,
                timestamp: h.ts,
                role: h.role,
                source: h.source,
                speaker: h.speaker,
                turn: h.turn,
                interrupted: h.interrupted,
                content: h.content,
                matches: spans
                    .iter()
                    .map(|&(start, end)| Span { start, end })
                    .collect(),
            };
            let v = serde_json::to_string(&v).map_err(json_err)?;
            let _ = writeln!(self.out, "{v}");
            return Ok(());
        }
        let p = self.paint;
        // One line per message, nothing raw for the terminal to obey:
        // each piece is escaped on its own, so the spans stay valid.
        let text = h.content;
        let mut shown = String::with_capacity(text.len() + 16);
        let mut at = 0;
        for &(s, e) in spans {
            shown.push_str(&escape_controls(&text[at..s]));
            shown.push_str(&p.bold(&p.red(&escape_controls(&text[s..e]))));
            at = e;
        }
        shown.push_str(&escape_controls(&text[at..]));
        if h.interrupted {
            shown.push_str(&p.dim(" [interrupted]"));
        }
        let tag = match h.kind {
            HitKind::Message(role) => p.role_tag(role),
            HitKind::Action(a) => p.action_tag(a.tag()),
        };
        let _ = writeln!(
            self.out,
            "{}  {}  {tag} {shown}",
            p.bold(&self.log.display().to_string()),
            p.dim(&wall_clock_secs(h.ts)),
        );
        Ok(())
    }
}

fn session_matches(want: &str, log: &Path, id: Option<&str>) -> bool {
    let name = log.file_name().and_then(|n| n.to_str());
    let stem = log.file_stem().and_then(|n| n.to_str());
    name == Some(want)
        || stem == Some(want)
        || log.as_os_str() == want
        || (!want.is_empty() && id.is_some_and(|id| id.starts_with(want)))
}

pub fn run(a: SearchArgs, color: bool) -> Result<Exit> {
    let mut query = match Query::new(&a.pattern, a.fixed_strings, a.ignore_case) {
        Ok(q) => q,
        Err(e) => {
            // A bad pattern is a usage error: exit 2, as grep and ripgrep do.
            eprintln!("convlog: {e}");
            return Ok(Exit::Error);
        }
    };
    query.role = a.role.map(Role::from);
    query.source = a.source;
    query.speaker = a.speaker;
    query.since = a.since;
    query.until = a.until;
    let mut exit = Tracker::new();
    let logs = a.paths.logs(&mut exit);
    let bar = Progress::new(logs.len());
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let opts = ExportOptions {
        no_merge: a.no_merge,
        recovery: Recovery::SkipCorrupt,
        tools: Some(!a.no_tools),
        ..ExportOptions::default()
    };
    let mut found = 0u64;
    let mut buf = Vec::new();
    for log in &logs {
        let result = (|| -> Result<u64> {
            let header = read_header(log)?;
            let id = header.as_ref().map(|h| h.session.as_str());
            if a.session
                .as_ref()
                .is_some_and(|want| !session_matches(want, log, id))
            {
                return Ok(0);
            }
            let mut printer = Printer {
                out: &mut buf,
                log,
                session: id,
                json: a.json,
                paint: Paint(color),
                found: 0,
            };
            let rep = search_log(log, &query, &opts, |h, spans| printer.print(h, spans))?;
            let skipped = rep.mid_file_damage().count();
            if skipped > 0 {
                eprintln!(
                    "convlog: {}: skipped {skipped} damaged line(s); see `convlog verify`",
                    log.display()
                );
            }
            Ok(printer.found)
        })();
        match result {
            Ok(n) => found += n,
            Err(e) => bar.suspend(|| exit.unreadable(&e)),
        }
        let written = bar.suspend(|| out.write_all(&buf).and_then(|()| out.flush()));
        buf.clear();
        written.map_err(stdout_err)?;
        bar.inc();
    }
    drop(bar);
    out.flush().map_err(stdout_err)?;
    // Damage that search skipped over is noted, not a finding: here a
    // finding means nothing matched.
    if found == 0 {
        exit.finding();
    }
    Ok(exit.code())
}
