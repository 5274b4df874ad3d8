//! What the agent did rather than said: tool calls and handoffs as the
//! exports show them.
//!
//! Which formats show them by default is [`Format::shows_tools`]: the
//! documented JSON and CSV only when asked (`--tools`), so that their bytes
//! for the messages are what they always were; JSON Lines, Markdown and text
//! by default; subtitles never (nothing was said).
//!
//! In `json` and `jsonl` an action is one more object in the list, with
//! `role` `"tool"` or `"handoff"`, in the key order of [`Action::fields`].

use std::borrow::Cow;

use super::{Format, TimestampStyle};
use crate::error::Result;
use crate::record::{HandoffRecord, ToolRecord, duration_text};
use crate::time::wall_clock_of;

/// A tool call or a handoff, owned: the merger holds one back until the
/// message that started before it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A function call and its output.
    Tool(ToolRecord<'static>),
    /// The conversation passed to another agent.
    Handoff(HandoffRecord<'static>),
}

/// One value of an exported action object.
pub(crate) enum Value<'a> {
    /// A JSON string.
    Text(&'a str),
    /// A number or `true`, written as it is.
    Raw(Cow<'a, str>),
}

impl Action {
    /// The stored RFC 3339 time.
    pub fn ts(&self) -> &str {
        match self {
            Action::Tool(t) => &t.ts,
            Action::Handoff(h) => &h.ts,
        }
    }

    /// The timestamp in the requested style.
    pub fn timestamp(&self, style: TimestampStyle) -> Result<Cow<'_, str>> {
        match style {
            TimestampStyle::Rfc3339 => Ok(Cow::Borrowed(self.ts())),
            TimestampStyle::WallClock => wall_clock_of(self.ts()),
        }
    }

    /// `tool` or `handoff`: the `role` the exports give it.
    pub fn role(&self) -> &'static str {
        match self {
            Action::Tool(_) => "tool",
            Action::Handoff(_) => "handoff",
        }
    }

    /// `TOOL` or `HANDOFF`: the console tag.
    pub fn tag(&self) -> &'static str {
        match self {
            Action::Tool(_) => "TOOL",
            Action::Handoff(_) => "HANDOFF",
        }
    }

    /// The one line people read: see [`ToolRecord::summary`] and [`HandoffRecord::summary`].
    pub fn summary(&self) -> String {
        match self {
            Action::Tool(t) => t.summary(),
            Action::Handoff(h) => h.summary(),
        }
    }

    /// Producer name.
    pub fn source(&self) -> &str {
        match self {
            Action::Tool(t) => &t.source,
            Action::Handoff(h) => &h.source,
        }
    }

    /// Turn id, if any.
    pub fn turn(&self) -> Option<&str> {
        match self {
            Action::Tool(t) => t.turn.as_deref(),
            Action::Handoff(h) => h.turn.as_deref(),
        }
    }

    /// Seq of the record.
    pub fn seq(&self) -> u64 {
        match self {
            Action::Tool(t) => t.seq,
            Action::Handoff(h) => h.seq,
        }
    }

    /// The keys and values of its `json`/`jsonl` object after `role`, in
    /// order; absent optional fields are left out, as in the log:
    ///
    /// - tool: `name`, `call_id`, `arguments`, `arguments_truncated`,
    ///   `output`, `output_truncated`, `error` (only `true`), `duration_ms`,
    ///   `timestamp`, `source`;
    /// - handoff: `from`, `to`, `timestamp`, `source`.
    pub(crate) fn fields<'a>(&'a self, ts: &'a str) -> Vec<(&'static str, Value<'a>)> {
        let mut f = Vec::with_capacity(10);
        let num = |n: u64| Value::Raw(Cow::Owned(n.to_string()));
        match self {
            Action::Tool(t) => {
                f.push(("name", Value::Text(&t.name)));
                if let Some(id) = &t.call_id {
                    f.push(("call_id", Value::Text(id)));
                }
                f.push(("arguments", Value::Text(&t.arguments)));
                if let Some(n) = t.arguments_truncated {
                    f.push(("arguments_truncated", num(n)));
                }
                if let Some(o) = &t.output {
                    f.push(("output", Value::Text(o)));
                }
                if let Some(n) = t.output_truncated {
                    f.push(("output_truncated", num(n)));
                }
                if t.error {
                    f.push(("error", Value::Raw(Cow::Borrowed("true"))));
                }
                if let Some(ms) = t.duration_ms {
                    f.push(("duration_ms", Value::Raw(Cow::Owned(duration_text(ms)))));
                }
            }
            Action::Handoff(h) => {
                if let Some(from) = &h.from {
                    f.push(("from", Value::Text(from)));
                }
                f.push(("to", Value::Text(&h.to)));
            }
        }
        f.push(("timestamp", Value::Text(ts)));
        f.push(("source", Value::Text(self.source())));
        f
    }
}

impl Format {
    /// Whether this format shows tool calls and handoffs under `tools`
    /// (`ExportOptions::tools`): `Some(yes)` decides for every format but
    /// the subtitles, which never show them; `None` takes the format's
    /// default, on for `jsonl`, `markdown` and `text`, off for `json` and
    /// `csv`, whose rows were always messages only.
    pub fn shows_tools(self, tools: Option<bool>) -> bool {
        match (self, tools) {
            (Format::Srt | Format::Vtt, _) => false,
            (_, Some(yes)) => yes,
            (Format::Json | Format::Csv, None) => false,
            (Format::Jsonl | Format::Markdown | Format::Text | Format::Html, None) => true,
        }
    }
}
