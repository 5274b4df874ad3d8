//! `convlog stats`: turns, words, talk ratio, interruptions and response latency.
//!
//! Reads with skip-corrupt recovery, so it answers for live, ended, crashed
//! and damaged logs alike; a damaged log is counted and makes the exit code 1.

use std::io::{self, Write};

use clap::Args;
use convlog::Result;
use convlog::redact::Audit;
use convlog::stats::{Percentiles, RoleStats, Samples, SessionStats, State, Totals, talk_ratio};
use serde::Serialize;

use super::PathsArg;
use super::console::Paint;
use super::exit::Exit;
use super::util::{clock_duration, collect_stats, json_err, stdout_err, wall_clock_secs};
use convlog::describe::{Messages, SessionHead, Tools};

/// Turns, words, talk ratio, interruptions and response latency.
///
/// Per session and across all sessions given. A turn is a run of
/// consecutive messages of one role (the fragments of a streamed answer
/// are one turn); words are whitespace-separated. Response latency is the
/// time from the last user message of a turn to the first agent message
/// after it, as p50/p90/p99/max (nearest rank). When producers recorded
/// meta.latency_ms, that is aggregated too as host latency.
///
/// Timestamps are when the text reached the logger (the final transcript
/// from speech-to-text, the text handed to text-to-speech), not when audio
/// was heard or played: response latency here is transcript-to-reply time,
/// without speech detection before it or synthesis and playback after it.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog stats\n  convlog stats conversations/ --json | jq .total.response_latency_ms.p90"
)]
pub struct StatsArgs {
    #[command(flatten)]
    paths: PathsArg,
    /// One JSON object on one line with every session and the totals, instead of tables.
    #[arg(long)]
    json: bool,
}

/// `412 ms`, `1.24 s`.
fn ms(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.0} ms")
    }
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
    /// Values the writer redacted, by kind (never the values).
    redacted: Audit,
}

impl Figures {
    fn new(
        user: &RoleStats,
        agent: &RoleStats,
        response: &Samples,
        host: &Samples,
        unordered: u64,
        redacted: &Audit,
    ) -> Figures {
        Figures {
            user: *user,
            agent: *agent,
            talk_ratio: ratio(user, agent),
            response_latency_ms: response.summary(),
            host_latency_ms: host.summary(),
            unordered_responses: unordered,
            redacted: *redacted,
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
    tools: Tools,
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
            &s.redacted,
        ),
    }
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
struct FiguresText<'a> {
    user: &'a RoleStats,
    agent: &'a RoleStats,
    response: &'a Samples,
    host: &'a Samples,
    unordered: u64,
    /// Tool calls, failed tool calls, handoffs.
    tools: (u64, u64, u64),
    redacted: &'a Audit,
}

impl FiguresText<'_> {
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
        let (calls, errors, handoffs) = self.tools;
        if calls + handoffs > 0 {
            let mut t = format!("{calls} ({errors} failed)");
            if handoffs > 0 {
                t.push_str(&format!(" · {handoffs} handoff(s)"));
            }
            s.push_str(&format!("  {:<17}{t}\n", "tool calls"));
        }
        if !self.redacted.is_empty() {
            s.push_str(&format!("  {:<17}{}\n", "redacted", self.redacted));
        }
    }
}

pub fn run(a: StatsArgs, color: bool) -> Result<Exit> {
    let paint = Paint(color);
    let (sessions, exit) = collect_stats(a.paths);
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
                tools: Tools::new(totals.tool_calls, totals.tool_errors, totals.handoffs),
                figures: Figures::new(
                    &totals.user,
                    &totals.agent,
                    &totals.response_latency,
                    &totals.host_latency,
                    totals.unordered,
                    &totals.redacted,
                ),
            },
        };
        let text = serde_json::to_string(&doc).map_err(json_err)?;
        writeln!(out, "{text}").map_err(stdout_err)?;
        out.flush().map_err(stdout_err)?;
        return Ok(exit.code());
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
        FiguresText {
            user: &s.user,
            agent: &s.agent,
            response: &s.response_latency,
            host: &s.host_latency,
            unordered: s.unordered,
            tools: (s.report.tool_calls, s.report.tool_errors, s.report.handoffs),
            redacted: &s.redacted,
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
        FiguresText {
            user: &totals.user,
            agent: &totals.agent,
            response: &totals.response_latency,
            host: &totals.host_latency,
            unordered: totals.unordered,
            tools: (totals.tool_calls, totals.tool_errors, totals.handoffs),
            redacted: &totals.redacted,
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
    Ok(exit.code())
}
