//! The search engine behind `convlog search` and the viewer's text filter:
//! which messages of a log match a pattern and a set of filters.
//!
//! Messages are matched as the export shows them: the fragments of one turn
//! merged first (unless `no_merge`), so a phrase split across fragments is
//! found.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use regex::Regex;

use crate::error::{Error, Result};
use crate::export::{ExportMessage, ExportOptions, Render, render_with};
use crate::read::Report;
use crate::record::Role;
use crate::time::parse_ts;

/// A pattern and the filters a message must pass.
#[derive(Debug, Clone)]
pub struct Query {
    /// Matched against the content.
    pub re: Regex,
    /// Only messages of this role.
    pub role: Option<Role>,
    /// Only messages from this source (exact).
    pub source: Option<String>,
    /// Only messages of this speaker (exact).
    pub speaker: Option<String>,
    /// Only messages at or after this time.
    pub since: Option<DateTime<FixedOffset>>,
    /// Only messages before this time.
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

    /// True when `m` passes every filter and its content matches.
    pub fn matches(&self, m: &ExportMessage) -> Result<bool> {
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
        Ok(self.re.is_match(&m.content))
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

/// Hands each message of `log` that `query` matches to `found`, with its
/// match spans, and returns the reader's report. `opts` chooses merging and
/// the recovery mode.
pub fn search_log<F>(log: &Path, query: &Query, opts: &ExportOptions, found: F) -> Result<Report>
where
    F: FnMut(&ExportMessage, &[(usize, usize)]) -> Result<()>,
{
    struct Sink<'q, F> {
        query: &'q Query,
        found: F,
    }
    impl<F> Render for Sink<'_, F>
    where
        F: FnMut(&ExportMessage, &[(usize, usize)]) -> Result<()>,
    {
        fn begin(&mut self) -> Result<()> {
            Ok(())
        }
        fn message(&mut self, m: &ExportMessage) -> Result<()> {
            if self.query.matches(m)? {
                (self.found)(m, &self.query.spans(&m.content))?;
            }
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }
    Ok(render_with(log, Sink { query, found }, opts)?.1)
}
