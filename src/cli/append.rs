//! `convlog append`: one message, durable before the command returns.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use convlog::{Message, Result, Role, Session};

use super::exit::Exit;
use super::redact::RedactArgs;
use super::util::silent_options;

/// Append one message durably (returns once it is fdatasynced).
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  convlog append \"$log\" --role user --source deepgram_stt 'Hello, how are you?'"
)]
pub struct AppendArgs {
    /// The session log to append to.
    log: PathBuf,
    /// Who said it: user or agent.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// Producer name, e.g. deepgram_stt or cartesia_tts.
    #[arg(long)]
    source: String,
    /// Turn id: consecutive same-role fragments with one turn id merge on export.
    #[arg(long)]
    turn: Option<String>,
    /// Mark the message as interrupted (the agent was cut off).
    #[arg(long)]
    interrupted: bool,
    /// Speaker id, when the STT diarises.
    #[arg(long)]
    speaker: Option<String>,
    /// Language tag, e.g. hi or en-IN.
    #[arg(long)]
    lang: Option<String>,
    /// Extra data as a JSON object, e.g. '{"confidence":0.93}'.
    #[arg(long, value_parser = parse_meta)]
    meta: Option<serde_json::Value>,
    /// Store this RFC 3339 time instead of now.
    #[arg(long)]
    timestamp: Option<String>,
    /// Give up after waiting this long for a lock held by another process
    /// (seconds, e.g. 5 or 0.5; default: wait as long as it takes). Either
    /// way, a wait longer than a second is announced on stderr.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    lock_timeout: Option<Duration>,
    #[command(flatten)]
    redact: RedactArgs,
    /// The message text. Blank text is skipped, as the original design skipped empty transcripts.
    text: String,
}

fn parse_role(s: &str) -> std::result::Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

fn parse_seconds(s: &str) -> std::result::Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{s}` is not a number of seconds"))
}

fn parse_meta(s: &str) -> std::result::Result<serde_json::Value, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err("must be a JSON object".into())
    }
}

pub fn run(a: AppendArgs) -> Result<Exit> {
    // The key file is read before anything else: a missing key is an error
    // up front, never after a message was taken.
    let policy = a.redact.policy()?;
    let mut msg = Message::new(a.role, a.text, a.source).interrupted(a.interrupted);
    msg.turn = a.turn;
    msg.speaker = a.speaker;
    msg.lang = a.lang;
    msg.meta = a.meta;
    msg.timestamp = a.timestamp;
    if msg.is_blank() {
        eprintln!(
            "convlog: {}: skipped: the text is blank, nothing written",
            a.log.display()
        );
        return Ok(Exit::Ok);
    }
    let opts = silent_options().lock_timeout(a.lock_timeout).redact(policy);
    let session = Session::open_with(&a.log, opts)?;
    session.append_blocking(msg)?;
    Ok(Exit::Ok)
}
