//! Tool calls and agent handoffs: what the agent did between what it said.
//!
//! A transcript that says "I've booked it" cannot say what was booked; the
//! function call that booked it can. [`ToolCall`] and [`Handoff`] are what a
//! caller appends (through [`Entry`], which the session's append methods
//! take); [`ToolRecord`] and [`HandoffRecord`] are what the reader hands
//! back. They are records of their own, never messages: the documented JSON
//! export of the messages stays exactly what it was without them.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::record::Message;

/// A tool call's `arguments` and `output` are stored up to this many bytes
/// each (64 KiB); the rest is cut at a character boundary and the record
/// says how long the text was (`arguments_truncated`, `output_truncated`).
/// A tool's output can be a whole web page or database dump: the
/// transcript keeps enough to explain what the agent did, and a session's
/// log stays a log.
pub const MAX_TOOL_TEXT_BYTES: usize = 64 << 10;

/// Longest `duration_ms` accepted: about 31 years. It bounds the number's
/// spelling, which is always plain decimal (no exponent).
const MAX_DURATION_MS: f64 = 1e12;

/// One function call the agent's LLM made, and what it returned.
///
/// ```
/// use convlog::record::ToolCall;
/// let call = ToolCall::new("book_table", r#"{"time":"19:00","people":2}"#, "livekit")
///     .call_id("call_7")
///     .output("booked: table 12")
///     .duration_ms(84.25)
///     .turn("speech_3");
/// assert!(!call.error);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The function's name.
    pub name: String,
    /// The arguments exactly as the model gave them: usually JSON text, kept
    /// as a string so that nothing (key order, number spelling, even
    /// invalid JSON) is changed. Cut at [`MAX_TOOL_TEXT_BYTES`].
    pub arguments: String,
    /// Free text naming the producer, e.g. `livekit` or `pipecat`.
    pub source: String,
    /// The model's id for this call, which ties it to its output.
    pub call_id: Option<String>,
    /// What the function returned, as text (or the error it raised). Cut at
    /// [`MAX_TOOL_TEXT_BYTES`]. `None` when nothing came back.
    pub output: Option<String>,
    /// The function failed; `output` then holds the error.
    pub error: bool,
    /// How long the call took, in milliseconds (stored to the microsecond).
    pub duration_ms: Option<f64>,
    /// The agent turn this call belongs to.
    pub turn: Option<String>,
    /// Anything else worth keeping. Must be a JSON object.
    pub meta: Option<serde_json::Value>,
    /// An RFC 3339 time to store instead of "now": when the call was made.
    pub timestamp: Option<String>,
}

impl ToolCall {
    /// A call with the required fields; the rest can be added with the builder methods.
    pub fn new(
        name: impl Into<String>,
        arguments: impl Into<String>,
        source: impl Into<String>,
    ) -> ToolCall {
        ToolCall {
            name: name.into(),
            arguments: arguments.into(),
            source: source.into(),
            call_id: None,
            output: None,
            error: false,
            duration_ms: None,
            turn: None,
            meta: None,
            timestamp: None,
        }
    }

    /// Sets the call id.
    pub fn call_id(mut self, id: impl Into<String>) -> ToolCall {
        self.call_id = Some(id.into());
        self
    }

    /// Sets what the function returned.
    pub fn output(mut self, output: impl Into<String>) -> ToolCall {
        self.output = Some(output.into());
        self
    }

    /// Marks the call as failed.
    pub fn error(mut self, yes: bool) -> ToolCall {
        self.error = yes;
        self
    }

    /// Sets how long it took, in milliseconds.
    pub fn duration_ms(mut self, ms: f64) -> ToolCall {
        self.duration_ms = Some(ms);
        self
    }

    /// Sets the turn id.
    pub fn turn(mut self, turn: impl Into<String>) -> ToolCall {
        self.turn = Some(turn.into());
        self
    }

    /// Sets `meta`, which must be a JSON object.
    pub fn meta(mut self, meta: serde_json::Value) -> ToolCall {
        self.meta = Some(meta);
        self
    }

    /// Stores this RFC 3339 time instead of the current time.
    pub fn timestamp(mut self, ts: impl Into<String>) -> ToolCall {
        self.timestamp = Some(ts.into());
        self
    }

    /// What an append refuses: a blank name, a negative or non-finite
    /// duration, `meta` that is not an object, a bad timestamp. Long
    /// `arguments` and `output` are not refused: they are cut. A producer
    /// can check a call before it queues it without waiting.
    pub fn check(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::InvalidInput("a tool call needs a `name`".into()));
        }
        if let Some(ms) = self.duration_ms
            && !(0.0..MAX_DURATION_MS).contains(&ms)
        {
            return Err(Error::InvalidInput(format!(
                "`duration_ms` must be a number of milliseconds from 0 to {MAX_DURATION_MS:e}, not {ms}"
            )));
        }
        check_common(self.meta.as_ref(), self.timestamp.as_deref())
    }
}

/// The conversation passed from one agent to another (LiveKit's agent
/// handoff, a Pipecat flow's node change).
///
/// ```
/// use convlog::record::Handoff;
/// let h = Handoff::new("booking_agent", "livekit").from("greeter");
/// assert_eq!(h.from.as_deref(), Some("greeter"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Handoff {
    /// The agent handing over, when known.
    pub from: Option<String>,
    /// The agent taking over.
    pub to: String,
    /// Free text naming the producer.
    pub source: String,
    /// The agent turn in which it happened.
    pub turn: Option<String>,
    /// Anything else worth keeping. Must be a JSON object.
    pub meta: Option<serde_json::Value>,
    /// An RFC 3339 time to store instead of "now".
    pub timestamp: Option<String>,
}

impl Handoff {
    /// A handoff to `to`.
    pub fn new(to: impl Into<String>, source: impl Into<String>) -> Handoff {
        Handoff {
            from: None,
            to: to.into(),
            source: source.into(),
            turn: None,
            meta: None,
            timestamp: None,
        }
    }

    /// Sets the agent handing over.
    pub fn from(mut self, from: impl Into<String>) -> Handoff {
        self.from = Some(from.into());
        self
    }

    /// Sets the turn id.
    pub fn turn(mut self, turn: impl Into<String>) -> Handoff {
        self.turn = Some(turn.into());
        self
    }

    /// Sets `meta`, which must be a JSON object.
    pub fn meta(mut self, meta: serde_json::Value) -> Handoff {
        self.meta = Some(meta);
        self
    }

    /// Stores this RFC 3339 time instead of the current time.
    pub fn timestamp(mut self, ts: impl Into<String>) -> Handoff {
        self.timestamp = Some(ts.into());
        self
    }

    /// What an append refuses: a blank `to`, `meta` that is not an object,
    /// a bad timestamp.
    pub fn check(&self) -> Result<()> {
        if self.to.trim().is_empty() {
            return Err(Error::InvalidInput(
                "a handoff needs the agent it hands `to`".into(),
            ));
        }
        check_common(self.meta.as_ref(), self.timestamp.as_deref())
    }
}

fn check_common(meta: Option<&serde_json::Value>, ts: Option<&str>) -> Result<()> {
    if meta.is_some_and(|m| !m.is_object()) {
        return Err(Error::InvalidInput("`meta` must be a JSON object".into()));
    }
    if let Some(ts) = ts {
        crate::time::parse_ts(ts)?;
    }
    Ok(())
}

/// Anything a session appends: a message, a tool call or a handoff. The
/// append methods take `impl Into<Entry>`, so each of the three is passed
/// as it is: `log.append(Message::user(…))`, `log.append(ToolCall::new(…))`.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A user or agent message.
    Message(Message),
    /// A function call.
    Tool(ToolCall),
    /// An agent handoff.
    Handoff(Handoff),
}

impl From<Message> for Entry {
    fn from(m: Message) -> Entry {
        Entry::Message(m)
    }
}

impl From<ToolCall> for Entry {
    fn from(t: ToolCall) -> Entry {
        Entry::Tool(t)
    }
}

impl From<Handoff> for Entry {
    fn from(h: Handoff) -> Entry {
        Entry::Handoff(h)
    }
}

/// `s` cut to at most `limit` bytes at a character boundary, and its full
/// length when it was cut.
pub(crate) fn cut(s: &str, limit: usize) -> (&str, Option<u64>) {
    if s.len() <= limit {
        return (s, None);
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], Some(s.len() as u64))
}

/// A duration as stored: milliseconds with at most three decimals and no
/// exponent, so that every reader (and Python's `json`) reads back the
/// same number and writes it the same way.
pub(crate) fn duration_text(ms: f64) -> String {
    let s = format!("{ms:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// A tool call as read back from a log. Borrowed from the reader's buffer
/// while scanning; [`ToolRecord::into_owned`] keeps one.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRecord<'a> {
    /// Position in the file's sequence.
    pub seq: u64,
    /// RFC 3339 time as stored.
    pub ts: Cow<'a, str>,
    /// The function's name.
    pub name: Cow<'a, str>,
    /// The model's call id, if any.
    pub call_id: Option<Cow<'a, str>>,
    /// The arguments as given (possibly cut).
    pub arguments: Cow<'a, str>,
    /// The arguments' full length in bytes, when they were cut.
    pub arguments_truncated: Option<u64>,
    /// What the function returned (possibly cut), if anything.
    pub output: Option<Cow<'a, str>>,
    /// The output's full length in bytes, when it was cut.
    pub output_truncated: Option<u64>,
    /// The function failed.
    pub error: bool,
    /// How long it took, in milliseconds, as stored.
    pub duration_ms: Option<f64>,
    /// Turn id, if any.
    pub turn: Option<Cow<'a, str>>,
    /// Producer name.
    pub source: Cow<'a, str>,
    /// `meta` as the raw JSON object text it was stored as, if any.
    pub meta: Option<Cow<'a, str>>,
}

impl ToolRecord<'_> {
    /// An owned copy, for a caller that keeps it past the scan.
    pub fn into_owned(self) -> ToolRecord<'static> {
        ToolRecord {
            seq: self.seq,
            ts: owned(self.ts),
            name: owned(self.name),
            call_id: self.call_id.map(owned),
            arguments: owned(self.arguments),
            arguments_truncated: self.arguments_truncated,
            output: self.output.map(owned),
            output_truncated: self.output_truncated,
            error: self.error,
            duration_ms: self.duration_ms,
            turn: self.turn.map(owned),
            source: owned(self.source),
            meta: self.meta.map(owned),
        }
    }

    /// One line of text for people: `name(arguments) -> output` (no arrow
    /// when the output is empty or absent), with `-> error: …` for a failed
    /// call, and a note where a text was cut.
    /// What `tail`, `search` and the text, Markdown and CSV exports show.
    pub fn summary(&self) -> String {
        let mut s = format!("{}({})", self.name, self.arguments);
        if let Some(n) = self.arguments_truncated {
            s.push_str(&format!(" [arguments cut from {n} bytes]"));
        }
        match (self.output.as_deref().filter(|o| !o.is_empty()), self.error) {
            (Some(out), false) => s.push_str(&format!(" -> {out}")),
            (Some(out), true) => s.push_str(&format!(" -> error: {out}")),
            (None, true) => s.push_str(" -> error"),
            (None, false) => {}
        }
        if let Some(n) = self.output_truncated {
            s.push_str(&format!(" [output cut from {n} bytes]"));
        }
        s
    }
}

/// A handoff as read back from a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffRecord<'a> {
    /// Position in the file's sequence.
    pub seq: u64,
    /// RFC 3339 time as stored.
    pub ts: Cow<'a, str>,
    /// The agent handing over, if known.
    pub from: Option<Cow<'a, str>>,
    /// The agent taking over.
    pub to: Cow<'a, str>,
    /// Turn id, if any.
    pub turn: Option<Cow<'a, str>>,
    /// Producer name.
    pub source: Cow<'a, str>,
    /// `meta` as the raw JSON object text it was stored as, if any.
    pub meta: Option<Cow<'a, str>>,
}

impl HandoffRecord<'_> {
    /// An owned copy, for a caller that keeps it past the scan.
    pub fn into_owned(self) -> HandoffRecord<'static> {
        HandoffRecord {
            seq: self.seq,
            ts: owned(self.ts),
            from: self.from.map(owned),
            to: owned(self.to),
            turn: self.turn.map(owned),
            source: owned(self.source),
            meta: self.meta.map(owned),
        }
    }

    /// `from -> to` (`? -> to` when the agent handing over is unknown).
    pub fn summary(&self) -> String {
        format!("{} -> {}", self.from.as_deref().unwrap_or("?"), self.to)
    }
}

fn owned(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abc", 3), ("abc", None));
        // "é" is two bytes: a cut inside it backs off to before it.
        assert_eq!(cut("aé", 2), ("a", Some(3)));
        assert_eq!(cut("aéb", 3), ("aé", Some(4)));
    }

    #[test]
    fn durations_are_plain_decimals() {
        assert_eq!(duration_text(84.25), "84.25");
        assert_eq!(duration_text(3.0), "3");
        assert_eq!(duration_text(0.0001), "0");
        assert_eq!(duration_text(1234.56789), "1234.568");
        assert_eq!(duration_text(9.99e11), "999000000000");
    }

    #[test]
    fn checks_what_cannot_be_stored() {
        assert!(ToolCall::new(" ", "{}", "x").check().is_err());
        assert!(
            ToolCall::new("f", "{}", "x")
                .duration_ms(-1.0)
                .check()
                .is_err()
        );
        assert!(
            ToolCall::new("f", "{}", "x")
                .duration_ms(f64::NAN)
                .check()
                .is_err()
        );
        assert!(
            ToolCall::new("f", "{}", "x")
                .meta(serde_json::json!([1]))
                .check()
                .is_err()
        );
        assert!(
            ToolCall::new("f", "{}", "x")
                .timestamp("yesterday")
                .check()
                .is_err()
        );
        assert!(ToolCall::new("f", "", "x").check().is_ok());
        assert!(Handoff::new("", "x").check().is_err());
        assert!(Handoff::new("b", "x").from("a").check().is_ok());
    }
}
