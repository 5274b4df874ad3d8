//! Insight into logs: what `convlog ls` and `convlog stats` report.
//!
//! One streaming pass per log ([`session_stats`]) collects everything: the
//! header, the end record, message counts, turns and words per role,
//! interrupted agent turns and two kinds of latency samples. It reads with
//! [`Recovery::SkipCorrupt`], so live (open), ended, crashed (torn tail) and
//! damaged logs all give an answer; the [`Report`] says what was skipped.
//!
//! Definitions, which `convlog stats --help` repeats:
//!
//! - A **turn** is a maximal run of consecutive records of one role. Turn ids
//!   do not matter here: an agent answer streamed as five fragments is one
//!   turn, and so are five sentences logged one by one by the original design.
//! - **Words** are whitespace-separated tokens of the content.
//! - **Response latency** is measured at every change from a user record to
//!   an agent record: the agent record's timestamp minus the user record's
//!   (the last record of the user's turn to the first of the agent's).
//!   Timestamps say when text reached the logger (the final transcript, the
//!   text sent to speech synthesis), not when audio was heard or played.
//! - **Host latency** is `meta.latency_ms` (a number) wherever a producer
//!   recorded it, aggregated as it is.
//! - Percentiles use the nearest-rank method: p50 of `n` sorted samples is
//!   the `ceil(0.5 n)`-th smallest.

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::error::Result;
/// Reading a header is [`read`](crate::read)'s job; the name stays here for
/// callers of the path it had before.
#[doc(no_inline)]
pub use crate::read::read_header;
use crate::read::{Checked, DamageKind, Lock, Recovery, Report};
use crate::record::{Record, Role};
use crate::redact::Audit;
use crate::time::parse_ts;

/// Counts for one role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoleStats {
    /// Message records (`messages` in JSON, the word every `--json` answer uses).
    #[serde(rename = "messages")]
    pub records: u64,
    /// Maximal runs of consecutive records of this role.
    pub turns: u64,
    /// Whitespace-separated words.
    pub words: u64,
    /// Turns with at least one interrupted record.
    pub interrupted_turns: u64,
}

impl RoleStats {
    /// Adds another session's counts.
    pub fn add(&mut self, o: &RoleStats) {
        self.records += o.records;
        self.turns += o.turns;
        self.words += o.words;
        self.interrupted_turns += o.interrupted_turns;
    }
}

/// Latency samples in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples(pub Vec<f64>);

/// A distribution summary of [`Samples`], in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Number of samples.
    pub count: usize,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile (nearest rank).
    pub p90: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Samples {
    /// Adds one sample; NaN and infinities are ignored.
    pub fn push(&mut self, ms: f64) {
        if ms.is_finite() {
            self.0.push(ms);
        }
    }

    /// Adds every sample of `o`.
    pub fn extend(&mut self, o: &Samples) {
        self.0.extend_from_slice(&o.0);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// p50/p90/p99/max/mean, or `None` without samples.
    pub fn summary(&self) -> Option<Percentiles> {
        if self.0.is_empty() {
            return None;
        }
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let rank = |q: f64| {
            // Nearest rank: the ceil(q·n)-th smallest, 1-based.
            let r = (q * n as f64).ceil() as usize;
            v[r.clamp(1, n) - 1]
        };
        Some(Percentiles {
            count: n,
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: v[n - 1],
            // Rounded to the microsecond, like the samples.
            mean: (v.iter().sum::<f64>() / n as f64 * 1e3).round() / 1e3,
        })
    }
}

/// The state `convlog ls` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Intact with an end record.
    Ended,
    /// Intact without an end record: a live session, or its writer stopped without ending it.
    Open,
    /// Some line is damaged (a torn tail, a corrupt record, …); see `convlog verify`.
    Damaged,
}

impl State {
    /// The state of a log the reader reported on.
    pub fn of(report: &Report) -> State {
        if !report.damage.is_empty() {
            State::Damaged
        } else if report.ended {
            State::Ended
        } else {
            State::Open
        }
    }

    /// `ended`, `open` or `damaged`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ended => "ended",
            State::Open => "open",
            State::Damaged => "damaged",
        }
    }
}

/// Everything one pass over a log learned.
#[derive(Debug, Clone)]
pub struct SessionStats {
    #[allow(missing_docs)] // the log's path
    pub path: PathBuf,
    /// What the reader found (header, damage, counts).
    pub report: Report,
    /// Time of the end record, if there is one.
    pub end_ts: Option<String>,
    /// User counts.
    pub user: RoleStats,
    /// Agent counts.
    pub agent: RoleStats,
    /// Response latency samples (user record → next agent record), ms.
    pub response_latency: Samples,
    /// `meta.latency_ms` as recorded by the host, ms.
    pub host_latency: Samples,
    /// User → agent changes whose agent record is timed before the user record
    /// (clocks of different producers, or ingested times); left out of the latency.
    pub unordered: u64,
    /// What the writer redacted, summed over the records' `redacted` fields.
    pub redacted: Audit,
}

impl SessionStats {
    /// The session id from the header, if the header is intact.
    pub fn session_id(&self) -> Option<&str> {
        self.report.header.as_ref().map(|h| h.session.as_str())
    }

    /// When the session started. See [`span`].
    pub fn start(&self) -> Option<&str> {
        span(&self.report).0
    }

    /// When it stopped. See [`span`].
    pub fn stop(&self) -> Option<&str> {
        span(&self.report).1
    }

    /// From [`start`](Self::start) to [`stop`](Self::stop), in seconds (never negative).
    pub fn duration_secs(&self) -> Option<f64> {
        duration_secs(&self.report)
    }

    /// Ended, open or damaged.
    pub fn state(&self) -> State {
        State::of(&self.report)
    }

    /// A short description of the damage. See [`damage_summary`].
    pub fn damage_summary(&self) -> Option<String> {
        damage_summary(&self.report)
    }

    /// The counts for `role`.
    pub fn role(&self, role: Role) -> &RoleStats {
        match role {
            Role::User => &self.user,
            Role::Agent => &self.agent,
        }
    }
}

/// A session's time span: its first and last message's timestamps, the same
/// span `convlog verify` shows. Messages carry the time the producer gave
/// them (ingested transcripts keep their own, possibly from another day),
/// while the header and the end record carry the writer's clock, so mixing
/// the two would put a stop before a start. A session without messages
/// starts and stops at the header's creation time.
pub fn span(report: &Report) -> (Option<&str>, Option<&str>) {
    match (&report.first_ts, &report.last_ts) {
        (Some(a), Some(b)) => (Some(a.as_str()), Some(b.as_str())),
        _ => {
            let created = report.header.as_ref().map(|h| h.created.as_str());
            (created, created)
        }
    }
}

/// The length of [`span`] in seconds, never negative.
pub fn duration_secs(report: &Report) -> Option<f64> {
    let (start, stop) = span(report);
    let a = parse_ts(start?).ok()?;
    let b = parse_ts(stop?).ok()?;
    Some(secs_between(&a, &b).max(0.0))
}

/// A short description of a log's damage for tables, e.g. `torn tail`,
/// `line 4 corrupt`, `seq 7 missing` or `lines 4, 9 corrupt, torn tail`.
pub fn damage_summary(report: &Report) -> Option<String> {
    if report.damage.is_empty() {
        return None;
    }
    let lines = |kind: fn(&DamageKind) -> bool| -> Vec<String> {
        report
            .damage
            .iter()
            .filter(|d| kind(&d.kind))
            .map(|d| d.line.to_string())
            .collect()
    };
    let listed = |what: &str, lines: Vec<String>| -> Option<String> {
        match lines.len() {
            0 => None,
            1 => Some(format!("line {} {what}", lines[0])),
            _ => Some(format!("lines {} {what}", lines.join(", "))),
        }
    };
    let mut parts: Vec<String> = Vec::new();
    parts.extend(listed("corrupt", lines(|k| *k == DamageKind::Corrupt)));
    parts.extend(
        report
            .damage
            .iter()
            .filter_map(|d| d.missing_seqs().map(|s| format!("{s} missing"))),
    );
    parts.extend(listed(
        "out of order",
        lines(|k| matches!(k, DamageKind::SeqRegression { .. })),
    ));
    if report
        .damage
        .iter()
        .any(|d| d.kind == DamageKind::MissingHeader)
    {
        parts.push("no header".into());
    }
    parts.extend(listed(
        "after the end",
        lines(|k| *k == DamageKind::AfterEnd),
    ));
    if report.torn_bytes().is_some() {
        parts.push("torn tail".into());
    }
    Some(parts.join(", "))
}

/// Share of the words spoken by the user and by the agent, each in `0..=1`,
/// or `None` when nobody said a word.
pub fn talk_ratio(user: &RoleStats, agent: &RoleStats) -> Option<(f64, f64)> {
    let total = user.words + agent.words;
    (total > 0).then(|| {
        (
            user.words as f64 / total as f64,
            agent.words as f64 / total as f64,
        )
    })
}

fn secs_between(a: &DateTime<FixedOffset>, b: &DateTime<FixedOffset>) -> f64 {
    let d = *b - *a;
    match d.num_microseconds() {
        Some(us) => us as f64 / 1e6,
        None => d.num_milliseconds() as f64 / 1e3,
    }
}

/// Milliseconds from `a` to `b`, exact to the microsecond.
fn millis_between(a: &DateTime<FixedOffset>, b: &DateTime<FixedOffset>) -> f64 {
    let d = *b - *a;
    match d.num_microseconds() {
        Some(us) => us as f64 / 1e3,
        None => d.num_milliseconds() as f64,
    }
}

#[derive(Deserialize)]
struct HostMeta {
    latency_ms: Option<f64>,
}

/// Reads `log` once and collects its [`SessionStats`].
pub fn session_stats(log: &Path) -> Result<SessionStats> {
    let mut user = RoleStats::default();
    let mut agent = RoleStats::default();
    let mut response = Samples::default();
    let mut host = Samples::default();
    let mut unordered = 0u64;
    let mut end_ts = None;
    let mut redacted = Audit::default();
    // The previous message's role and time, and whether the current agent
    // turn has already been counted as interrupted.
    let mut prev: Option<(Role, Option<DateTime<FixedOffset>>)> = None;
    let mut turn_interrupted = false;

    // As `read::inspect` reads: a batch a live writer is writing is waited
    // out rather than reported as a torn tail.
    let report = Checked::open(log, Recovery::SkipCorrupt, Lock::WaitForBatch, |rec| {
        match rec {
            Record::Message(m) => {
                let ts = parse_ts(&m.ts).ok();
                let stats = match m.role {
                    Role::User => &mut user,
                    Role::Agent => &mut agent,
                };
                // The later parts of one message are not more messages.
                if !crate::parts::marks(m.meta).continues() {
                    stats.records += 1;
                }
                stats.words += m.content.split_whitespace().count() as u64;
                let new_turn = prev.as_ref().is_none_or(|(r, _)| *r != m.role);
                if new_turn {
                    stats.turns += 1;
                    turn_interrupted = false;
                }
                if m.interrupted && !turn_interrupted {
                    stats.interrupted_turns += 1;
                    turn_interrupted = true;
                }
                if let (Some((Role::User, Some(u))), Role::Agent, Some(a)) = (&prev, m.role, &ts) {
                    let ms = millis_between(u, a);
                    if ms < 0.0 {
                        unordered += 1;
                    } else {
                        response.push(ms);
                    }
                }
                if let Some(ms) = m
                    .meta
                    .filter(|r| r.get().contains("\"latency_ms\""))
                    .and_then(|r| serde_json::from_str::<HostMeta>(r.get()).ok())
                    .and_then(|h| h.latency_ms)
                {
                    host.push(ms);
                }
                if let Some(audit) = m.redacted.and_then(|r| Audit::from_json(r.get()).ok()) {
                    redacted.merge(&audit);
                }
                prev = Some((m.role, ts));
            }
            Record::End { ts, .. } => end_ts = Some(ts.to_string()),
            // Counted by the reader's report; they are not turns.
            Record::Tool(_) | Record::Handoff(_) | Record::Header(_) => {}
        }
        Ok(())
    })?
    .into_report();
    Ok(SessionStats {
        path: log.to_path_buf(),
        report,
        end_ts,
        user,
        agent,
        response_latency: response,
        host_latency: host,
        unordered,
        redacted,
    })
}

/// Sums over several sessions.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Sessions added.
    pub sessions: u64,
    /// Sum of the sessions' durations, in seconds.
    pub duration_secs: f64,
    /// User counts.
    pub user: RoleStats,
    /// Agent counts.
    pub agent: RoleStats,
    /// Every session's response latency samples.
    pub response_latency: Samples,
    /// Every session's host latency samples.
    pub host_latency: Samples,
    /// Unordered user → agent changes, summed.
    pub unordered: u64,
    /// Tool calls, summed.
    pub tool_calls: u64,
    /// Tool calls that failed, summed.
    pub tool_errors: u64,
    /// Handoffs, summed.
    pub handoffs: u64,
    /// Redactions by kind, summed.
    pub redacted: Audit,
}

impl Totals {
    /// Adds one session.
    pub fn add(&mut self, s: &SessionStats) {
        self.sessions += 1;
        self.duration_secs += s.duration_secs().unwrap_or(0.0);
        self.user.add(&s.user);
        self.agent.add(&s.agent);
        self.response_latency.extend(&s.response_latency);
        self.host_latency.extend(&s.host_latency);
        self.unordered += s.unordered;
        self.tool_calls += s.report.tool_calls;
        self.tool_errors += s.report.tool_errors;
        self.handoffs += s.report.handoffs;
        self.redacted.merge(&s.redacted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Samples((1..=100).map(f64::from).collect());
        let p = s.summary().unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(p.count, 100);
        let one = Samples(vec![7.0]).summary().unwrap();
        assert_eq!((one.p50, one.p99, one.max, one.mean), (7.0, 7.0, 7.0, 7.0));
        let three = Samples(vec![30.0, 10.0, 20.0]).summary().unwrap();
        assert_eq!((three.p50, three.p90), (20.0, 30.0));
        assert!(Samples::default().summary().is_none());
    }

    #[test]
    fn talk_ratio_shares_words() {
        let u = RoleStats {
            words: 30,
            ..RoleStats::default()
        };
        let a = RoleStats {
            words: 90,
            ..RoleStats::default()
        };
        assert_eq!(talk_ratio(&u, &a), Some((0.25, 0.75)));
        assert_eq!(
            talk_ratio(&RoleStats::default(), &RoleStats::default()),
            None
        );
    }
}
