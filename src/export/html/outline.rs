//! The first pass over a log for its page: what the page shows above and
//! beside the conversation, which needs the whole session before the first
//! message is written (the timeline, the latency scale, where each damaged
//! line sits among the messages).
//!
//! Memory grows with the number of turns (one timeline segment per run of
//! one role) and of damaged lines, not with the text.

use std::path::Path;

use chrono::{DateTime, FixedOffset};

use crate::error::Result;
use crate::read::{self as reader, Damage, Recovery, Report};
use crate::record::{Record, Role};
use crate::time::parse_ts;

/// The latency figures a recorder keeps in `meta`, in seconds (LiveKit's
/// `ChatMessage.metrics` names), or `latency_ms` in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// User message: from the end of speech to the end of the turn.
    pub end_of_turn: Option<f64>,
    /// Agent message: the LLM's time to first token.
    pub llm_ttft: Option<f64>,
    /// Agent message: the TTS's time to first byte.
    pub tts_ttfb: Option<f64>,
    /// Agent message: end of user speech to the agent's first audio.
    pub e2e: Option<f64>,
    /// `meta.latency_ms` as a host recorded it, in seconds.
    pub host: Option<f64>,
}

impl Latency {
    /// The figures in `meta` (raw JSON), if it holds any.
    pub fn of(meta: Option<&str>) -> Latency {
        let Some(raw) = meta.filter(|m| {
            [
                "_delay\"",
                "_ttft\"",
                "_ttfb\"",
                "e2e_latency\"",
                "latency_ms\"",
            ]
            .iter()
            .any(|k| m.contains(k))
        }) else {
            return Latency::default();
        };
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(raw) else {
            return Latency::default();
        };
        let num = |k: &str| {
            map.get(k)
                .and_then(serde_json::Value::as_f64)
                .filter(|v| v.is_finite() && *v >= 0.0)
        };
        Latency {
            end_of_turn: num("end_of_turn_delay"),
            llm_ttft: num("llm_node_ttft"),
            tts_ttfb: num("tts_node_ttfb"),
            e2e: num("e2e_latency"),
            host: num("latency_ms").map(|ms| ms / 1000.0),
        }
    }

    /// The largest figure.
    pub fn max(&self) -> f64 {
        [
            self.end_of_turn,
            self.llm_ttft,
            self.tts_ttfb,
            self.e2e,
            self.host,
        ]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max)
    }

    /// The figure a turn is judged slow by: end to end, or the host's.
    pub fn total(&self) -> Option<f64> {
        self.e2e.or(self.host)
    }
}

/// One run of consecutive messages of one role, for the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Who spoke.
    pub role: Role,
    /// Milliseconds from the first message to the run's first message.
    pub start_ms: f64,
    /// Milliseconds from the first message to where the next run starts
    /// (the last run: to its last message).
    pub end_ms: f64,
    /// Seq of the run's first message, to link to it.
    pub seq: u64,
}

/// What the first pass learned.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    /// The reader's report (header, counts, damage).
    pub report: Report,
    /// Time of the first message: offsets count from it.
    pub origin: Option<DateTime<FixedOffset>>,
    /// Milliseconds from the first message to the last.
    pub span_ms: f64,
    /// Who spoke when.
    pub segments: Vec<Segment>,
    /// The largest latency figure of the session, in seconds: the bars' scale.
    pub latency_max: f64,
    /// A turn whose end-to-end latency reaches this is marked slow.
    pub slow_from: Option<f64>,
    /// For each damaged line (in the report's order), the seq of the last
    /// valid record before it (`None`: before every record).
    pub damage_after: Vec<Option<u64>>,
}

/// A turn is slow when its end-to-end latency is at least this many times
/// the session's median…
const SLOW_FACTOR: f64 = 2.0;
/// …and at least this long (seconds), so a session of fast turns has none.
const SLOW_FLOOR: f64 = 0.5;

/// Reads `log` once under `mode` and outlines it.
pub fn outline(log: &Path, mode: Recovery) -> Result<Outline> {
    let mut o = Outline::default();
    let mut delivered: Vec<u64> = Vec::new();
    let mut totals: Vec<f64> = Vec::new();
    let mut run: Option<Segment> = None;
    let report = reader::scan_file(log, mode, |rec| {
        delivered.push(rec.seq());
        let Record::Message(m) = rec else {
            return Ok(());
        };
        let Ok(t) = parse_ts(&m.ts) else {
            return Ok(());
        };
        let origin = *o.origin.get_or_insert(t);
        let ms = millis(&origin, &t);
        o.span_ms = o.span_ms.max(ms);
        match &mut run {
            Some(r) if r.role == m.role => r.end_ms = r.end_ms.max(ms),
            _ => {
                // A speaker holds the floor until the other one speaks.
                o.segments.extend(run.take().map(|mut r| {
                    r.end_ms = r.end_ms.max(ms);
                    r
                }));
                run = Some(Segment {
                    role: m.role,
                    start_ms: ms,
                    end_ms: ms,
                    seq: m.seq,
                });
            }
        }
        let lat = Latency::of(m.meta.map(|r| r.get()));
        o.latency_max = o.latency_max.max(lat.max());
        if m.role == Role::Agent {
            totals.extend(lat.total());
        }
        Ok(())
    })?;
    o.segments.extend(run);
    o.slow_from = median(&mut totals).map(|m| (m * SLOW_FACTOR).max(SLOW_FLOOR));
    o.damage_after = anchors(&report.damage, &delivered);
    o.report = report;
    Ok(o)
}

/// Where each damaged line sits: every line of a log is either a record the
/// scan delivered or a damaged line it skipped, so the records before line
/// `n` are the `n - 1` lines before it less the skipped ones among them.
fn anchors(damage: &[Damage], delivered: &[u64]) -> Vec<Option<u64>> {
    let mut skipped_before = 0u64;
    damage
        .iter()
        .map(|d| {
            let records_before = (d.line - 1).saturating_sub(skipped_before) as usize;
            if d.skips_record() {
                skipped_before += 1;
            }
            records_before
                .checked_sub(1)
                .map(|i| delivered.get(i).or(delivered.last()).copied().unwrap_or(0))
        })
        .collect()
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[(v.len() - 1) / 2])
}

/// Milliseconds from `a` to `b`, exact to the microsecond.
pub fn millis(a: &DateTime<FixedOffset>, b: &DateTime<FixedOffset>) -> f64 {
    let d = *b - *a;
    match d.num_microseconds() {
        Some(us) => us as f64 / 1e3,
        None => d.num_milliseconds() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_figures_come_from_livekit_metrics_and_host_latency() {
        let l = Latency::of(Some(
            r#"{"llm_node_ttft":0.42,"tts_node_ttfb":0.2,"e2e_latency":1.1,"x":"y"}"#,
        ));
        assert_eq!(
            (l.llm_ttft, l.tts_ttfb, l.e2e),
            (Some(0.42), Some(0.2), Some(1.1))
        );
        assert_eq!(l.max(), 1.1);
        assert_eq!(Latency::of(Some(r#"{"latency_ms":250}"#)).host, Some(0.25));
        assert_eq!(
            Latency::of(Some(r#"{"e2e_latency":"fast"}"#)),
            Latency::default()
        );
        assert_eq!(
            Latency::of(Some("{\"confidence\":0.9}")),
            Latency::default()
        );
    }
}
