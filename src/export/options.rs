//! What an export is asked for: the format, the timestamp form and the
//! other settings, with the names the CLI and the Python binding parse.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::read::Recovery;

/// How `timestamp` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampStyle {
    /// The local wall-clock time without an offset,
    /// `2025-08-18T14:30:22.123456`: what the Python exporter wrote.
    #[default]
    WallClock,
    /// RFC 3339 as stored, with the writer's UTC offset.
    Rfc3339,
}

impl FromStr for TimestampStyle {
    type Err = Error;
    fn from_str(s: &str) -> Result<TimestampStyle> {
        match s {
            "documented" => Ok(TimestampStyle::WallClock),
            "rfc3339" => Ok(TimestampStyle::Rfc3339),
            other => Err(Error::InvalidInput(format!(
                "unknown timestamp style {other:?}: expected one of: documented, rfc3339"
            ))),
        }
    }
}

/// Export settings.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Timestamp form.
    pub timestamps: TimestampStyle,
    /// Keep every record instead of merging the fragments of a turn.
    pub no_merge: bool,
    /// What to do about damage.
    pub recovery: Recovery,
    /// Personal data to redact from each message on the way out, for logs
    /// written without redaction. Default: none.
    pub redact: crate::redact::Policy,
    /// Tool calls and handoffs: `Some(true)` shows them in every format
    /// but the subtitles (`--tools`), `Some(false)` in none
    /// (`--no-tools`), `None` as the format does by default (see
    /// [`Format::shows_tools`]). The documented JSON holds only the
    /// messages unless this is `Some(true)`.
    pub tools: Option<bool>,
}
/// The formats `convlog export --format` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The documented `{"conversation": [...]}` JSON.
    #[default]
    Json,
    /// One documented message object per line.
    Jsonl,
    /// A readable Markdown transcript.
    Markdown,
    /// `[USER] …` / `[AGENT] …` lines.
    Text,
    /// Comma-separated values with a header row (RFC 4180).
    Csv,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
    /// The session as one self-contained page (timeline, latency, damage).
    Html,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 8] = [
        Format::Json,
        Format::Jsonl,
        Format::Markdown,
        Format::Text,
        Format::Csv,
        Format::Srt,
        Format::Vtt,
        Format::Html,
    ];

    /// The name `--format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Csv => "csv",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Html => "html",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Text => "txt",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s || (s == "md" && *f == Format::Markdown))
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                Error::InvalidInput(format!(
                    "unknown export format {s:?}: expected one of: {}",
                    names.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_parse() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert!(
            "xml"
                .parse::<Format>()
                .unwrap_err()
                .to_string()
                .contains("jsonl")
        );
    }
}
