//! The `--json` vocabulary that `ls`, `stats` and `verify` share: a session
//! is described the same way wherever it appears.

use std::path::Path;

use convlog::Report;
use convlog::read::Damage;
use convlog::stats::State;
use serde::Serialize;

/// Message counts, the same object wherever `--json` counts messages.
#[derive(Serialize)]
pub struct Messages {
    user: u64,
    agent: u64,
    total: u64,
}

impl Messages {
    pub fn new(user: u64, agent: u64) -> Messages {
        Messages {
            user,
            agent,
            total: user + agent,
        }
    }
}

/// Tool call and handoff counts, beside the message counts.
#[derive(Serialize)]
pub struct Tools {
    calls: u64,
    errors: u64,
    handoffs: u64,
}

impl Tools {
    pub fn new(calls: u64, errors: u64, handoffs: u64) -> Tools {
        Tools {
            calls,
            errors,
            handoffs,
        }
    }
}

/// The keys every `--json` answer about one session starts with, in this
/// order.
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
    /// After the keys every answer has always started with.
    tools: Tools,
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
            tools: Tools::new(report.tool_calls, report.tool_errors, report.handoffs),
        }
    }
}
