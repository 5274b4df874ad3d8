//! Commands that turn logs into insight: `ls`, `stats`, `search`.
//!
//! All three read with skip-corrupt recovery, so they answer for live,
//! ended, crashed and damaged logs alike; a file that cannot be read at all
//! is reported on stderr and the others go on (exit code 2 at the end). A
//! damaged log is answered for and makes the exit code 1.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use clap::Args;
use convlog::export::{ExportMessage, ExportOptions, Render, escape_controls, render_with};
use convlog::reader::Damage;
use convlog::stats::{
    Percentiles, RoleStats, Samples, SessionStats, State, Totals, read_header, session_stats,
    talk_ratio,
};
use convlog::time::parse_ts;
use convlog::{Error, Recovery, Report, Result, Role, export_path};
use regex::Regex;
use serde::Serialize;

use super::console::Paint;
use super::{Exit, expand, report};

/// The default when no path is given.
pub const DEFAULT_DIR: &str = "conversations";

/// `paths`, or `./conversations` when none were given.
pub fn paths_or_default(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(DEFAULT_DIR)]
    } else {
        paths
    }
}

/// A progress bar on stderr for long multi-file work, only on a terminal.
/// It is cleared when dropped, also when the work stops on an error (such
/// as a closed pipe), so it never lingers on the screen.
pub struct Progress(Option<indicatif::ProgressBar>);

/// A [`Progress`] for `files` files: a bar only for more than 20 files and
/// when stderr is a terminal.
pub fn progress(files: usize) -> Progress {
    Progress(
        (files > 20 && io::stderr().is_terminal())
            .then(|| indicatif::ProgressBar::new(files as u64)),
    )
}

impl Progress {
    /// Runs `f` (which prints) with the bar hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(b) => b.suspend(f),
            None => f(),
        }
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

fn stdout_err(e: io::Error) -> Error {
    Error::io(Path::new("<stdout>"), "write", e)
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

/// `412 ms`, `1.24 s`.
fn ms(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.0} ms")
    }
}

/// `missing`, `up to date`, `stale`, `original` (the file `convlog import`
/// read, which is never replaced) or `unknown` (no stamp: not convlog's).
fn export_state(log: &Path) -> (&'static str, PathBuf) {
    let state = convlog::export::export_state(log).map_or("stale", |s| s.as_str());
    (state, export_path(log))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Reads every log, reporting the ones that fail; returns the stats and the
/// worst exit: 2 for a path or file that could not be read, else 1 for a
/// damaged log.
fn collect(paths: Vec<PathBuf>) -> (Vec<SessionStats>, Exit) {
    let (logs, mut worst) = expand(&paths_or_default(paths));
    let bar = progress(logs.len());
    let mut out = Vec::with_capacity(logs.len());
    for log in &logs {
        match session_stats(log) {
            Ok(s) => {
                worst = worst.max(super::exit_for_damage(&s.report));
                out.push(s);
            }
            Err(e) => {
                bar.suspend(|| report(&e));
                worst = worst.max(Exit::Error);
            }
        }
        bar.inc();
    }
    (out, worst)
}

/// Message counts, the same object wherever `--json` counts messages.
#[derive(Serialize)]
pub struct Messages {
    user: u64,
    agent: u64,
    total: u64,
}

impl Messages {
    fn new(user: u64, agent: u64) -> Messages {
        Messages {
            user,
            agent,
            total: user + agent,
        }
    }
}

/// The keys every `--json` answer about one session starts with, in this
/// order: `ls`, `stats` and `verify` describe a session the same way.
#[derive(Serialize)]
pub struct SessionHead<'a> {
    path: String,
    session: Option<&'a str>,
    state: State,
    start: Option<&'a str>,
    stop: Option<&'a str>,
    duration_secs: Option<f64>,
    messages: Messages,
    damage: &'a [Damage],
}

impl<'a> SessionHead<'a> {
    /// The head for `path` as the reader's `report` describes it.
    pub fn new(path: &Path, report: &'a Report) -> SessionHead<'a> {
        let (start, stop) = convlog::stats::span(report);
        SessionHead {
            path: path.display().to_string(),
            session: report.header.as_ref().map(|h| h.session.as_str()),
            state: State::of(report),
            start,
            stop,
            duration_secs: convlog::stats::duration_secs(report),
            messages: Messages::new(report.user_messages, report.agent_messages),
            damage: &report.damage,
        }
    }
}

// ---------------------------------------------------------------- ls

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Logs or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
    /// One JSON object per session (JSON Lines) instead of the table.
    #[arg(long)]
    json: bool,
}

pub fn ls(a: LsArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let (sessions, worst) = collect(a.paths);
    if sessions.is_empty() {
        return Ok(worst);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if a.json {
        for s in &sessions {
            let (state, export) = export_state(&s.path);
            let v = LsLine {
                head: SessionHead::new(&s.path, &s.report),
                export: ExportInfo {
                    path: export.display().to_string(),
                    state: state.replace(' ', "-"),
                },
            };
            let v = serde_json::to_string(&v).map_err(json_err)?;
            writeln!(out, "{v}").map_err(stdout_err)?;
        }
        out.flush().map_err(stdout_err)?;
        return Ok(worst);
    }
    let mut rows: Vec<[String; 7]> = vec![[
        "LOG".into(),
        "START".into(),
        "DURATION".into(),
        "USER".into(),
        "AGENT".into(),
        "STATE".into(),
        "EXPORT".into(),
    ]];
    let mut states = Vec::new();
    for s in &sessions {
        let (export_state, export) = export_state(&s.path);
        let state = match s.damage_summary() {
            Some(d) => format!("damaged ({d})"),
            None => s.state().as_str().to_string(),
        };
        rows.push([
            s.path.display().to_string(),
            s.start().map(wall_clock_secs).unwrap_or_else(|| "-".into()),
            s.duration_secs()
                .map(clock_duration)
                .unwrap_or_else(|| "-".into()),
            s.user.records.to_string(),
            s.agent.records.to_string(),
            state,
            format!("{} ({export_state})", file_name(&export)),
        ]);
        states.push((s.state(), export_state));
    }
    let mut width = [0usize; 7];
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let pad = width[c] - cell.chars().count();
            // Numbers and durations are right-aligned.
            let padded = if (2..=4).contains(&c) {
                format!("{}{cell}", " ".repeat(pad))
            } else if c == 6 {
                cell.clone()
            } else {
                format!("{cell}{}", " ".repeat(pad))
            };
            let painted = match (i, c) {
                (0, _) => paint.bold(&padded),
                (_, 5) => match states[i - 1].0 {
                    State::Ended => paint.green(&padded),
                    State::Open => paint.yellow(&padded),
                    State::Damaged => paint.red(&padded),
                },
                (_, 6) if states[i - 1].1 != "up to date" => paint.yellow(&padded),
                _ => padded,
            };
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(&painted);
        }
        writeln!(out, "{}", line.trim_end()).map_err(stdout_err)?;
    }
    out.flush().map_err(stdout_err)?;
    Ok(worst)
}

// ---------------------------------------------------------------- stats

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Logs or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
    /// One JSON object on one line with every session and the totals, instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ExportInfo {
    path: String,
    state: String,
}

/// One line of `ls --json`.
#[derive(Serialize)]
struct LsLine<'a> {
    #[serde(flatten)]
    head: SessionHead<'a>,
    export: ExportInfo,
}

#[derive(Serialize)]
struct Ratio {
    user: f64,
    agent: f64,
}

fn ratio(user: &RoleStats, agent: &RoleStats) -> Option<Ratio> {
    talk_ratio(user, agent).map(|(user, agent)| Ratio { user, agent })
}

/// The figures shared by one session and the totals in `stats --json`.
#[derive(Serialize)]
struct Figures {
    user: RoleStats,
    agent: RoleStats,
    talk_ratio: Option<Ratio>,
    response_latency_ms: Option<Percentiles>,
    host_latency_ms: Option<Percentiles>,
    unordered_responses: u64,
}

impl Figures {
    fn new(
        user: &RoleStats,
        agent: &RoleStats,
        response: &Samples,
        host: &Samples,
        unordered: u64,
    ) -> Figures {
        Figures {
            user: *user,
            agent: *agent,
            talk_ratio: ratio(user, agent),
            response_latency_ms: response.summary(),
            host_latency_ms: host.summary(),
            unordered_responses: unordered,
        }
    }
}

#[derive(Serialize)]
struct SessionJson<'a> {
    #[serde(flatten)]
    head: SessionHead<'a>,
    #[serde(flatten)]
    figures: Figures,
}

#[derive(Serialize)]
struct TotalJson {
    sessions: u64,
    duration_secs: f64,
    messages: Messages,
    #[serde(flatten)]
    figures: Figures,
}

#[derive(Serialize)]
struct StatsJson<'a> {
    sessions: Vec<SessionJson<'a>>,
    total: TotalJson,
}

fn session_json(s: &SessionStats) -> SessionJson<'_> {
    SessionJson {
        head: SessionHead::new(&s.path, &s.report),
        figures: Figures::new(
            &s.user,
            &s.agent,
            &s.response_latency,
            &s.host_latency,
            s.unordered,
        ),
    }
}

fn json_err(e: serde_json::Error) -> Error {
    Error::InvalidInput(format!("cannot write JSON: {e}"))
}

fn percentiles_text(p: &Percentiles) -> String {
    format!(
        "p50 {} · p90 {} · p99 {} · max {}",
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.max)
    )
}

/// The readable block shared by one session and the totals.
struct Block<'a> {
    user: &'a RoleStats,
    agent: &'a RoleStats,
    response: &'a Samples,
    host: &'a Samples,
    unordered: u64,
}

impl Block<'_> {
    fn render(&self, paint: Paint, s: &mut String) {
        s.push_str(&paint.dim(&format!(
            "  {:<17}{:>6}{:>10}{:>8}{:>13}\n",
            "", "turns", "messages", "words", "interrupted"
        )));
        for (name, r) in [("user", self.user), ("agent", self.agent)] {
            s.push_str(&format!(
                "  {:<17}{:>6}{:>10}{:>8}{:>13}\n",
                name, r.turns, r.records, r.words, r.interrupted_turns
            ));
        }
        let ratio = match talk_ratio(self.user, self.agent) {
            Some((u, a)) => format!("user {:.0}% · agent {:.0}% of words", u * 100.0, a * 100.0),
            None => "no words".into(),
        };
        s.push_str(&format!("  {:<17}{ratio}\n", "talk ratio"));
        let resp = match self.response.summary() {
            Some(p) => format!(
                "{} ({} user → agent changes)",
                percentiles_text(&p),
                p.count
            ),
            None => "no user → agent changes".into(),
        };
        s.push_str(&format!("  {:<17}{resp}\n", "response latency"));
        if self.unordered > 0 {
            s.push_str(&format!(
                "  {:<17}{}\n",
                "",
                paint.yellow(&format!(
                    "{} agent record(s) timed before the user record they follow; left out",
                    self.unordered
                ))
            ));
        }
        if let Some(p) = self.host.summary() {
            s.push_str(&format!(
                "  {:<17}{} (meta.latency_ms of {} records)\n",
                "host latency",
                percentiles_text(&p),
                p.count
            ));
        }
    }
}

pub fn stats(a: StatsArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let (sessions, worst) = collect(a.paths);
    let mut totals = Totals::default();
    for s in &sessions {
        totals.add(s);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if a.json {
        let doc = StatsJson {
            sessions: sessions.iter().map(session_json).collect(),
            total: TotalJson {
                sessions: totals.sessions,
                duration_secs: totals.duration_secs,
                messages: Messages::new(totals.user.records, totals.agent.records),
                figures: Figures::new(
                    &totals.user,
                    &totals.agent,
                    &totals.response_latency,
                    &totals.host_latency,
                    totals.unordered,
                ),
            },
        };
        let text = serde_json::to_string(&doc).map_err(json_err)?;
        writeln!(out, "{text}").map_err(stdout_err)?;
        out.flush().map_err(stdout_err)?;
        return Ok(worst);
    }
    let mut text = String::new();
    for s in &sessions {
        let state = match s.damage_summary() {
            Some(d) => paint.red(&format!("damaged ({d})")),
            None if s.state() == State::Ended => paint.green("ended"),
            None => paint.yellow("open"),
        };
        text.push_str(&format!(
            "{}  {state} · started {} · {}\n",
            paint.bold(&s.path.display().to_string()),
            s.start().map(wall_clock_secs).unwrap_or_else(|| "-".into()),
            s.duration_secs()
                .map(clock_duration)
                .unwrap_or_else(|| "-".into()),
        ));
        Block {
            user: &s.user,
            agent: &s.agent,
            response: &s.response_latency,
            host: &s.host_latency,
            unordered: s.unordered,
        }
        .render(paint, &mut text);
        text.push('\n');
    }
    if sessions.len() > 1 {
        text.push_str(&format!(
            "{}  {} sessions · {} in all\n",
            paint.bold("all sessions"),
            totals.sessions,
            clock_duration(totals.duration_secs)
        ));
        Block {
            user: &totals.user,
            agent: &totals.agent,
            response: &totals.response_latency,
            host: &totals.host_latency,
            unordered: totals.unordered,
        }
        .render(paint, &mut text);
        text.push('\n');
    }
    out.write_all(text.trim_end_matches('\n').as_bytes())
        .and_then(|()| {
            if text.is_empty() {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush())
        .map_err(stdout_err)?;
    Ok(worst)
}

// ---------------------------------------------------------------- search

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// A regular expression (Rust `regex` syntax) matched against message content.
    pattern: String,
    /// Logs or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
    /// Match case-insensitively.
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Take PATTERN as plain text, not a regular expression.
    #[arg(short = 'F', long)]
    fixed_strings: bool,
    /// Only messages of this role.
    #[arg(long, value_enum)]
    role: Option<Role>,
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
}

struct Filters {
    re: Regex,
    role: Option<Role>,
    source: Option<String>,
    speaker: Option<String>,
    since: Option<DateTime<FixedOffset>>,
    until: Option<DateTime<FixedOffset>>,
}

impl Filters {
    fn keep(&self, m: &ExportMessage) -> Result<bool> {
        if self.role.is_some_and(|r| r != m.role())
            || self.source.as_ref().is_some_and(|s| *s != m.source)
            || self
                .speaker
                .as_ref()
                .is_some_and(|s| m.speaker.as_deref() != Some(s))
        {
            return Ok(false);
        }
        if self.since.is_some() || self.until.is_some() {
            let t = parse_ts(&m.ts)?;
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return Ok(false);
            }
        }
        Ok(true)
    }
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
    role: Role,
    source: &'a str,
    speaker: Option<&'a str>,
    turn: Option<&'a str>,
    interrupted: bool,
    content: &'a str,
    /// Byte offsets of each match in `content`.
    matches: Vec<Span>,
}

/// A renderer that prints the messages that match.
struct SearchSink<'a> {
    filters: &'a Filters,
    out: &'a mut Vec<u8>,
    log: &'a Path,
    session: Option<&'a str>,
    json: bool,
    paint: Paint,
    found: u64,
}

impl Render for SearchSink<'_> {
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn message(&mut self, m: &ExportMessage) -> Result<()> {
        if !self.filters.keep(m)? || !self.filters.re.is_match(&m.content) {
            return Ok(());
        }
        self.found += 1;
        let spans: Vec<(usize, usize)> = self
            .filters
            .re
            .find_iter(&m.content)
            .filter(|x| !x.is_empty())
            .map(|x| (x.start(), x.end()))
            .collect();
        if self.json {
            let v = MatchJson {
                path: self.log.display().to_string(),
                session: self.session,
                seq: m.seq,
                timestamp: &m.ts,
                role: m.role(),
                source: &m.source,
                speaker: m.speaker.as_deref(),
                turn: m.turn.as_deref(),
                interrupted: m.interrupted,
                content: &m.content,
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
        let text = &m.content;
        let mut shown = String::with_capacity(text.len() + 16);
        let mut at = 0;
        for &(s, e) in &spans {
            shown.push_str(&escape_controls(&text[at..s]));
            shown.push_str(&p.bold(&p.red(&escape_controls(&text[s..e]))));
            at = e;
        }
        shown.push_str(&escape_controls(&text[at..]));
        if m.interrupted {
            shown.push_str(&p.dim(" [interrupted]"));
        }
        let _ = writeln!(
            self.out,
            "{}  {}  {} {shown}",
            p.bold(&self.log.display().to_string()),
            p.dim(&wall_clock_secs(&m.ts)),
            p.role_tag(m.role()),
        );
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
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

pub fn search(a: SearchArgs, color: bool) -> Result<Exit> {
    let pattern = if a.fixed_strings {
        regex::escape(&a.pattern)
    } else {
        a.pattern.clone()
    };
    let re = match regex::RegexBuilder::new(&pattern)
        .case_insensitive(a.ignore_case)
        .build()
    {
        Ok(re) => re,
        Err(e) => {
            // A bad pattern is a usage error: exit 2, as grep and ripgrep do.
            eprintln!("convlog: invalid pattern: {e}");
            return Ok(Exit::Error);
        }
    };
    let filters = Filters {
        re,
        role: a.role,
        source: a.source,
        speaker: a.speaker,
        since: a.since,
        until: a.until,
    };
    let (logs, bad_paths) = expand(&paths_or_default(a.paths));
    let bar = progress(logs.len());
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let opts = ExportOptions {
        no_merge: a.no_merge,
        recovery: Recovery::SkipCorrupt,
        ..ExportOptions::default()
    };
    let mut found = 0u64;
    let mut errors = bad_paths == Exit::Error;
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
            let sink = SearchSink {
                filters: &filters,
                out: &mut buf,
                log,
                session: id,
                json: a.json,
                paint: Paint(color),
                found: 0,
            };
            let (sink, rep) = render_with(log, sink, &opts)?;
            let skipped = rep.mid_file_damage().count();
            if skipped > 0 {
                eprintln!(
                    "convlog: {}: skipped {skipped} damaged line(s); see `convlog verify`",
                    log.display()
                );
            }
            Ok(sink.found)
        })();
        match result {
            Ok(n) => found += n,
            Err(e) => {
                errors = true;
                bar.suspend(|| report(&e));
            }
        }
        let written = bar.suspend(|| out.write_all(&buf).and_then(|()| out.flush()));
        buf.clear();
        written.map_err(stdout_err)?;
        bar.inc();
    }
    drop(bar);
    out.flush().map_err(stdout_err)?;
    Ok(if errors {
        Exit::Error
    } else if found > 0 {
        Exit::Ok
    } else {
        Exit::Finding
    })
}
