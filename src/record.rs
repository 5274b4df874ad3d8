//! What a log holds: the header, message records, tool calls and handoffs,
//! and the end record.
//!
//! [`Message`] (and [`ToolCall`], [`Handoff`]) is what a caller hands to the
//! writer. [`Record`] is what the reader hands back; it borrows from the line
//! buffer so that scanning a million-record log does not allocate per record.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Error, Result};

mod tool;

pub use tool::{Entry, Handoff, HandoffRecord, MAX_TOOL_TEXT_BYTES, ToolCall, ToolRecord};
pub(crate) use tool::{cut, duration_text};

/// The `format` field of every header.
pub const FORMAT_NAME: &str = "convlog";
/// The format version of a log without a redaction policy in its header:
/// what every build before the header's `redact` field wrote and read.
pub const FORMAT_VERSION: u32 = 1;

/// The format version of a log whose header carries a redaction policy
/// (version 1 plus the header's `redact` field). Only such a log says 2,
/// so that a build that would ignore the policy refuses the log instead of
/// appending raw text to it. This build reads and writes both.
pub const FORMAT_VERSION_REDACTED: u32 = 2;

/// Who said it. The original design knew exactly two speakers, and so does
/// the format: anything else is rejected rather than silently stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Speech-to-text output: what the person said.
    User,
    /// Text sent to text-to-speech: what the agent said.
    Agent,
}

impl Role {
    /// Every valid role name, in the order error messages list them.
    pub const NAMES: [&'static str; 2] = ["user", "agent"];

    /// The name stored in the log and the export.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Agent => "agent",
        }
    }

    /// The console tag of the original design: `USER` or `AGENT`.
    pub fn tag(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Agent => "AGENT",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "user" => Ok(Role::User),
            "agent" => Ok(Role::Agent),
            other => Err(Error::InvalidRole(format!(
                "invalid role {other:?}: expected one of: {}",
                Role::NAMES.join(", ")
            ))),
        }
    }
}

/// One message to append, built by the STT or TTS path.
///
/// ```
/// use convlog::{Message, Role};
/// let m = Message::new(Role::Agent, "नमस्ते!", "cartesia_tts").turn("t7").lang("hi");
/// assert_eq!(m.role, Role::Agent);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// The text. Blank content is skipped, as the original design skipped empty transcripts.
    pub content: String,
    /// Free text naming the producer, e.g. `deepgram_stt` or `cartesia_tts`.
    pub source: String,
    /// Groups streamed fragments of one turn; export merges them.
    pub turn: Option<String>,
    /// The agent was cut off while saying this.
    pub interrupted: bool,
    /// Which speaker, when the STT diarises.
    pub speaker: Option<String>,
    /// Language tag, e.g. `hi` or `en-IN`.
    pub lang: Option<String>,
    /// Anything else worth keeping (confidence, latency, …). Must be a JSON object.
    pub meta: Option<serde_json::Value>,
    /// An RFC 3339 time to store instead of "now" (used by `ingest` and `import`).
    pub timestamp: Option<String>,
}

impl Message {
    /// A message with the required fields; the rest can be added with the builder methods.
    pub fn new(role: Role, content: impl Into<String>, source: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            source: source.into(),
            turn: None,
            interrupted: false,
            speaker: None,
            lang: None,
            meta: None,
            timestamp: None,
        }
    }

    /// A user message (speech-to-text).
    pub fn user(content: impl Into<String>, source: impl Into<String>) -> Message {
        Message::new(Role::User, content, source)
    }

    /// An agent message (text-to-speech).
    pub fn agent(content: impl Into<String>, source: impl Into<String>) -> Message {
        Message::new(Role::Agent, content, source)
    }

    /// Sets the turn id.
    pub fn turn(mut self, turn: impl Into<String>) -> Message {
        self.turn = Some(turn.into());
        self
    }

    /// Marks the message as interrupted.
    pub fn interrupted(mut self, yes: bool) -> Message {
        self.interrupted = yes;
        self
    }

    /// Sets the speaker id.
    pub fn speaker(mut self, speaker: impl Into<String>) -> Message {
        self.speaker = Some(speaker.into());
        self
    }

    /// Sets the language tag.
    pub fn lang(mut self, lang: impl Into<String>) -> Message {
        self.lang = Some(lang.into());
        self
    }

    /// Sets `meta`, which must be a JSON object.
    pub fn meta(mut self, meta: serde_json::Value) -> Message {
        self.meta = Some(meta);
        self
    }

    /// Stores this RFC 3339 time instead of the current time.
    pub fn timestamp(mut self, ts: impl Into<String>) -> Message {
        self.timestamp = Some(ts.into());
        self
    }

    /// True when the content has nothing but whitespace; such messages are not written.
    pub fn is_blank(&self) -> bool {
        self.content.trim().is_empty()
    }

    /// A message from one JSON object as producers send it, the line schema
    /// of `convlog ingest`: `role`, `content`, `source`, and optionally
    /// `timestamp` (RFC 3339 kept as given, or a naive local date-time as
    /// the original design wrote it), `turn` (text or a number, kept as
    /// text), `interrupted`, `speaker`, `lang` and `meta`.
    ///
    /// The error says what is wrong and what was expected, without a line
    /// number: the caller knows which line it read. Blank content is
    /// accepted here, so that the caller can say it skipped it.
    ///
    /// ```
    /// use convlog::{Message, Role};
    /// let m = Message::from_json(br#"{"role":"user","content":"hi","source":"stt","turn":3}"#)?;
    /// assert_eq!((m.role, m.turn.as_deref()), (Role::User, Some("3")));
    /// # Ok::<(), convlog::Error>(())
    /// ```
    pub fn from_json(line: &[u8]) -> Result<Message> {
        const EXPECTED: &str = "each line must be a JSON object with role, content, source \
                                (and optionally timestamp, turn, interrupted, speaker, lang, meta)";
        let line = line.trim_ascii();
        if line.first() != Some(&b'{') {
            // serde would read `[1,2,3]` positionally as the struct's fields
            // and complain about "integer 1": say what the line is instead.
            return Err(Error::InvalidInput(format!(
                "not a JSON object: {EXPECTED}"
            )));
        }
        // From bytes: serde_json checks the UTF-8 of what it keeps, so the
        // line is not validated twice.
        let i: InputLine = serde_json::from_slice(line).map_err(|e| {
            // The caller names the input line; serde's own "at line 1
            // column N" would give a second, always-1 line number.
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let reason = full.strip_suffix(&suffix).unwrap_or(&full);
            Error::InvalidInput(format!("{reason} (column {}): {EXPECTED}", e.column()))
        })?;
        let mut msg = Message::new(i.role.parse::<Role>()?, i.content, i.source)
            .interrupted(i.interrupted.unwrap_or(false));
        msg.turn = i.turn.map(|t| match t {
            TurnId::Text(s) => s,
            TurnId::Number(n) => n.to_string(),
        });
        msg.speaker = i.speaker;
        msg.lang = i.lang;
        msg.meta = i.meta;
        msg.timestamp = i.timestamp.map(crate::time::parse_input_ts).transpose()?;
        Ok(msg)
    }
}

/// One producer's message as JSON: the schema of [`Message::from_json`].
#[derive(Deserialize)]
struct InputLine {
    role: String,
    content: String,
    source: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    turn: Option<TurnId>,
    #[serde(default)]
    interrupted: Option<bool>,
    #[serde(default)]
    speaker: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    meta: Option<serde_json::Value>,
}

/// Producers number their turns or name them; both are kept as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum TurnId {
    Text(String),
    Number(serde_json::Number),
}

/// The first line of every log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Format version: [`FORMAT_VERSION`], or [`FORMAT_VERSION_REDACTED`]
    /// when `redact` is set.
    pub version: u32,
    /// Random session id.
    pub session: String,
    /// When the session was created (RFC 3339).
    pub created: String,
    /// The redaction policy every writer of this log applies (version 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redact: Option<StoredPolicy>,
}

/// A header's `redact` field: what every writer of the log redacts,
/// whatever it was asked to, so an `append` without `--redact` to a log
/// created with it still redacts. Never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// Kind names, as `--redact` spells them (never `all`: a later build
    /// with more kinds must not widen an old log's policy by itself).
    pub kinds: Vec<String>,
    /// Replacements are keyed: a writer must be given the key to append.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keyed: bool,
}

/// A message as read back from a log, borrowing from the reader's buffer.
#[derive(Debug, Clone)]
pub struct MessageRecord<'a> {
    /// Position in the file's sequence.
    pub seq: u64,
    /// RFC 3339 time as stored.
    pub ts: Cow<'a, str>,
    /// Who said it.
    pub role: Role,
    /// The text.
    pub content: Cow<'a, str>,
    /// Producer name.
    pub source: Cow<'a, str>,
    /// Turn id, if any.
    pub turn: Option<Cow<'a, str>>,
    /// Cut off while speaking.
    pub interrupted: bool,
    /// Speaker id, if any.
    pub speaker: Option<Cow<'a, str>>,
    /// Language tag, if any.
    pub lang: Option<Cow<'a, str>>,
    /// `meta` object as raw JSON, if any.
    pub meta: Option<&'a RawValue>,
    /// `redacted` object as raw JSON, if the writer redacted anything: kind
    /// name → count (read it with [`Audit::from_json`](crate::redact::Audit::from_json)).
    pub redacted: Option<&'a RawValue>,
}

impl PartialEq for MessageRecord<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.seq == o.seq
            && self.ts == o.ts
            && self.role == o.role
            && self.content == o.content
            && self.source == o.source
            && self.turn == o.turn
            && self.interrupted == o.interrupted
            && self.speaker == o.speaker
            && self.lang == o.lang
            && self.meta.map(RawValue::get) == o.meta.map(RawValue::get)
            && self.redacted.map(RawValue::get) == o.redacted.map(RawValue::get)
    }
}

impl MessageRecord<'_> {
    /// The timestamp, parsed. The codec has already checked that it parses.
    pub fn time(&self) -> Result<DateTime<FixedOffset>> {
        crate::time::parse_ts(&self.ts)
    }

    /// Converts to an owned [`Message`], e.g. to copy a record into another log.
    pub fn to_message(&self) -> Result<Message> {
        let meta = match self.meta {
            Some(raw) => Some(serde_json::from_str(raw.get()).map_err(|e| {
                Error::InvalidInput(format!("meta of record {} is not JSON: {e}", self.seq))
            })?),
            None => None,
        };
        Ok(Message {
            role: self.role,
            content: self.content.to_string(),
            source: self.source.to_string(),
            turn: self.turn.as_deref().map(str::to_string),
            interrupted: self.interrupted,
            speaker: self.speaker.as_deref().map(str::to_string),
            lang: self.lang.as_deref().map(str::to_string),
            meta,
            timestamp: Some(self.ts.to_string()),
        })
    }
}

/// One decoded line of a log.
#[derive(Debug, Clone, PartialEq)]
pub enum Record<'a> {
    /// Line 1.
    Header(Header),
    /// A user or agent message.
    Message(MessageRecord<'a>),
    /// A function call and its output.
    Tool(ToolRecord<'a>),
    /// The conversation passed to another agent.
    Handoff(HandoffRecord<'a>),
    /// The session was ended; nothing may follow.
    End {
        /// Position in the file's sequence.
        seq: u64,
        /// When it ended (RFC 3339).
        ts: Cow<'a, str>,
    },
}

impl Record<'_> {
    /// The record's sequence number (the header's is 0).
    pub fn seq(&self) -> u64 {
        match self {
            Record::Header(_) => 0,
            Record::Message(m) => m.seq,
            Record::Tool(t) => t.seq,
            Record::Handoff(h) => h.seq,
            Record::End { seq, .. } => *seq,
        }
    }
}
