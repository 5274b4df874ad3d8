//! The search engine behind `convlog search` and the viewer's text filter:
//! which messages, tool calls and handoffs of a log match a pattern and a
//! set of filters.
//!
//! Messages are matched as the export shows them: the fragments of one turn
//! merged first (unless `no_merge`), so a phrase split across fragments is
//! found. A tool call or handoff is matched on its one-line summary, the
//! line `tail` and the text export show (`ExportOptions::tools` decides
//! whether they are searched).

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use regex::Regex;

use crate::error::{Error, Result};
use crate::export::{Action, ExportMessage, ExportOptions, Render, render_with};
use crate::read::Report;
use crate::record::Role;
use crate::time::parse_ts;

/// What search matches: a (merged) message, or a tool call or handoff as
/// its one-line summary.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    /// Seq of the (first) record.
    pub seq: u64,
    /// The stored RFC 3339 time.
    pub ts: &'a str,
    /// `user`, `agent`, `tool` or `handoff`.
    pub role: &'a str,
    /// Producer name.
    pub source: &'a str,
    /// Speaker, for a message that has one.
    pub speaker: Option<&'a str>,
    /// Turn id, if any.
    pub turn: Option<&'a str>,
    /// An interrupted message.
    pub interrupted: bool,
    /// The text matched.
    pub content: &'a str,
    /// The message's role, or the action for a tool call or handoff.
    pub kind: HitKind<'a>,
}

/// Which kind of item a [`Hit`] is.
#[derive(Debug, Clone, Copy)]
pub enum HitKind<'a> {
    /// A message of this role.
    Message(Role),
    /// A tool call or handoff.
    Action(&'a Action),
}

/// A pattern and the filters an item must pass.
#[derive(Debug, Clone)]
pub struct Query {
    /// Matched against the content.
    pub re: Regex,
    /// Only messages of this role (tool calls and handoffs have none of these).
    pub role: Option<Role>,
    /// Only items from this source (exact).
    pub source: Option<String>,
    /// Only messages of this speaker (exact).
    pub speaker: Option<String>,
    /// Only items at or after this time.
    pub since: Option<DateTime<FixedOffset>>,
    /// Only items before this time.
    pub until: Option<DateTime<FixedOffset>>,
}

impl Query {
    /// A query for `pattern` (a regular expression in Rust `regex` syntax,
    /// or plain text when `fixed`), with no other filter.
    pub fn new(pattern: &str, fixed: bool, ignore_case: bool) -> Result<Query> {
        let pattern = if fixed {
            regex::escape(pattern)
        } else {
            pattern.to_string()
        };
        let re = regex::RegexBuilder::new(&pattern)
            .case_insensitive(ignore_case)
            .build()
            .map_err(|e| Error::InvalidInput(format!("invalid pattern: {e}")))?;
        Ok(Query {
            re,
            role: None,
            source: None,
            speaker: None,
            since: None,
            until: None,
        })
    }

    /// True when `h` passes every filter and its content matches.
    pub fn matches(&self, h: &Hit<'_>) -> Result<bool> {
        if self.role.is_some_and(|r| h.role != r.as_str())
            || self.source.as_ref().is_some_and(|s| s != h.source)
            || self
                .speaker
                .as_ref()
                .is_some_and(|s| h.speaker != Some(s.as_str()))
        {
            return Ok(false);
        }
        if self.since.is_some() || self.until.is_some() {
            let t = parse_ts(h.ts)?;
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return Ok(false);
            }
        }
        Ok(self.re.is_match(h.content))
    }

    /// Byte ranges of the (non-empty) matches in `content`.
    pub fn spans(&self, content: &str) -> Vec<(usize, usize)> {
        self.re
            .find_iter(content)
            .filter(|x| !x.is_empty())
            .map(|x| (x.start(), x.end()))
            .collect()
    }
}

/// Hands each item of `log` that `query` matches to `found`, with its match
/// spans, and returns the reader's report. `opts` chooses merging, the
/// recovery mode and whether tool calls and handoffs are searched.
pub fn search_log<F>(log: &Path, query: &Query, opts: &ExportOptions, found: F) -> Result<Report>
where
    F: FnMut(&Hit<'_>, &[(usize, usize)]) -> Result<()>,
{
    struct Sink<'q, F> {
        query: &'q Query,
        found: F,
    }
    impl<F> Sink<'_, F>
    where
        F: FnMut(&Hit<'_>, &[(usize, usize)]) -> Result<()>,
    {
        fn hit(&mut self, h: &Hit<'_>) -> Result<()> {
            if self.query.matches(h)? {
                (self.found)(h, &self.query.spans(h.content))?;
            }
            Ok(())
        }
    }
    impl<F> Render for Sink<'_, F>
    where
        F: FnMut(&Hit<'_>, &[(usize, usize)]) -> Result<()>,
    {
        fn begin(&mut self) -> Result<()> {
            Ok(())
        }
        fn message(&mut self, m: &ExportMessage) -> Result<()> {
            self.hit(&Hit {
                seq: m.seq,
                ts: &m.ts,
                role: m.role().as_str(),
                source: &m.source,
                speaker: m.speaker.as_deref(),
                turn: m.turn.as_deref(),
                interrupted: m.interrupted,
                content: &m.content,
                kind: HitKind::Message(m.role()),
            })
        }
        fn action(&mut self, a: &Action) -> Result<()> {
            let summary = a.summary();
            self.hit(&Hit {
                seq: a.seq(),
                ts: a.ts(),
                role: a.role(),
                source: a.source(),
                speaker: None,
                turn: a.turn(),
                interrupted: false,
                content: &summary,
                kind: HitKind::Action(a),
            })
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }
    Ok(render_with(log, Sink { query, found }, opts)?.1)
}
