//! The CLI's names for the library's choices: `--format`, `--timestamps`,
//! `--recovery` and `--role`, with the one-line help each value gets.
//!
//! The library's types know nothing of clap (as ripgrep's library crates
//! know nothing of its argument parser): a program embedding convlog does
//! not compile an argument parser it never calls, and the CLI's wording can
//! change without touching the library. Each enum here maps one to one onto
//! the library's, under the same value names.

use clap::ValueEnum;
use convlog::export::{Format, TimestampStyle};
use convlog::{Recovery, Role};

/// `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Speech-to-text output: what the person said.
    #[value(help = "What the person said (speech-to-text)")]
    User,
    /// Text sent to text-to-speech: what the agent said.
    #[value(help = "What the agent said (text-to-speech)")]
    Agent,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::User => Role::User,
            RoleArg::Agent => Role::Agent,
        }
    }
}

/// `--recovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecoveryArg {
    /// Ignore a torn tail (what a crash leaves); fail on anything else. The default.
    #[value(help = "Ignore a torn tail; fail on other damage")]
    TolerateTail,
    /// Any damage at all is an error.
    #[value(help = "Fail on any damage")]
    Absolute,
    /// Stop before the first damage and succeed with what came before it.
    #[value(help = "Stop before the first damage")]
    PointInTime,
    /// Skip bad lines, keep going, and report what was skipped.
    #[value(help = "Skip damaged lines and report them")]
    SkipCorrupt,
}

impl From<RecoveryArg> for Recovery {
    fn from(r: RecoveryArg) -> Recovery {
        match r {
            RecoveryArg::TolerateTail => Recovery::TolerateTail,
            RecoveryArg::Absolute => Recovery::Absolute,
            RecoveryArg::PointInTime => Recovery::PointInTime,
            RecoveryArg::SkipCorrupt => Recovery::SkipCorrupt,
        }
    }
}

/// `--timestamps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimestampsArg {
    /// The local wall-clock time without an offset: what the Python exporter wrote.
    #[value(
        name = "documented",
        help = "2025-08-18T14:30:22.123456 (local wall-clock time)"
    )]
    WallClock,
    /// RFC 3339 as stored, with the writer's UTC offset.
    #[value(help = "2025-08-18T14:30:22.123456+05:30 (as stored)")]
    Rfc3339,
}

impl From<TimestampsArg> for TimestampStyle {
    fn from(t: TimestampsArg) -> TimestampStyle {
        match t {
            TimestampsArg::WallClock => TimestampStyle::WallClock,
            TimestampsArg::Rfc3339 => TimestampStyle::Rfc3339,
        }
    }
}

/// `--format` of `convlog export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// The documented `{"conversation": [...]}` JSON.
    #[value(help = "{\"conversation\": [...]}, byte-identical to the original design's file")]
    Json,
    /// One documented message object per line.
    #[value(help = "One {\"role\",\"content\",\"timestamp\",\"source\"} object per line")]
    Jsonl,
    /// A readable Markdown transcript.
    #[value(help = "A readable transcript: \"**14:30:22 · User:** …\" paragraphs")]
    #[value(alias = "md")]
    Markdown,
    /// `[USER] …` / `[AGENT] …` lines.
    #[value(help = "The console form: [USER] … / [AGENT] … lines")]
    Text,
    /// Comma-separated values with a header row (RFC 4180).
    #[value(
        help = "RFC 4180 CSV with a header row: role,content,timestamp,source,turn,interrupted,speaker,lang"
    )]
    Csv,
    /// SubRip subtitles.
    #[value(help = "SubRip subtitles, timed from the session start")]
    Srt,
    /// WebVTT subtitles.
    #[value(help = "WebVTT subtitles, timed from the session start")]
    Vtt,
    /// The session as one self-contained page.
    #[value(help = "One self-contained HTML page: timeline, conversation, latency bars, damage")]
    Html,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Text => Format::Text,
            FormatArg::Csv => Format::Csv,
            FormatArg::Srt => Format::Srt,
            FormatArg::Vtt => Format::Vtt,
            FormatArg::Html => Format::Html,
        }
    }
}
