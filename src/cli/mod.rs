//! Command-line definitions and dispatch.
//!
//! Exit codes follow ripgrep: 0 success, 1 a finding (damage found, input
//! rejected), 2 an error (usage, I/O). Errors go to stderr as one sentence
//! naming the file; a closed stdout (`convlog export … | head`) exits quietly.

mod console;
mod read;
mod verify;
mod write;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use convlog::Error;

/// The conversation log voice agents trust with their transcripts.
///
/// Every user and agent message is one checksummed JSON line, fdatasynced
/// before it is acknowledged. Logs live in `./conversations` by default and
/// export to the documented `{"conversation": [...]}` JSON.
#[derive(Parser, Debug)]
#[command(
    name = "convlog",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// When to use colour: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new session log and print its path.
    #[command(after_help = "Example:\n  log=$(convlog new --dir conversations)")]
    New(write::NewArgs),
    /// Append one message durably (returns once it is fdatasynced).
    #[command(
        after_help = "Example:\n  convlog append \"$log\" --role user --source deepgram_stt 'Hello, how are you?'"
    )]
    Append(write::AppendArgs),
    /// Append JSON lines from stdin with group commit.
    ///
    /// Each input line is an object with `role`, `content` and `source`, and
    /// optionally `timestamp` (RFC 3339, kept as given), `turn`, `interrupted`,
    /// `speaker`, `lang` and `meta`. A bad line is reported on stderr with its
    /// line number and skipped; the exit code is then 1.
    #[command(
        after_help = "Example:\n  echo '{\"role\":\"user\",\"content\":\"hi\",\"source\":\"stt\"}' | convlog ingest \"$log\" --ack --end"
    )]
    Ingest(write::IngestArgs),
    /// Render a log as the documented JSON (stdout by default).
    #[command(after_help = "Example:\n  convlog export \"$log\" -o conversation.json")]
    Export(read::ExportArgs),
    /// Render the export beside each log whose export is missing or stale.
    #[command(after_help = "Example:\n  convlog compact conversations/")]
    Compact(read::CompactArgs),
    /// Check logs and report, per file, exactly what state they are in.
    ///
    /// Exit code 0 when nothing is damaged (or --repair fixed everything), 1
    /// when damage remains, 2 on errors.
    #[command(after_help = "Example:\n  convlog verify conversations/ --repair")]
    Verify(verify::VerifyArgs),
    /// Print a log's messages as [USER] … / [AGENT] … lines; -f follows it live.
    #[command(after_help = "Example:\n  convlog tail -f \"$log\"")]
    Tail(read::TailArgs),
    /// Write a short bilingual demo session, end it and export it.
    #[command(after_help = "Example:\n  convlog demo --dir conversations")]
    Demo(write::DemoArgs),
}

/// Where a command writes its output: a path, or `-` for stdout.
#[derive(Args, Debug, Clone)]
pub struct DirArg {
    /// Directory for session logs (created 0700 if missing).
    #[arg(long, default_value = "conversations")]
    pub dir: PathBuf,
}

/// What a command found, as an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: all fine.
    Ok = 0,
    /// 1: damage found or input rejected.
    Finding = 1,
    /// 2: usage or I/O error.
    Error = 2,
}

/// Exit code for a library error: rejected input and damage are findings,
/// everything else is an error.
pub fn exit_for(e: &Error) -> Exit {
    match e {
        Error::InvalidRole(_)
        | Error::ContentTooLarge { .. }
        | Error::InvalidInput(_)
        | Error::Ended { .. }
        | Error::Damaged { .. } => Exit::Finding,
        _ => Exit::Error,
    }
}

/// Prints an error as one line on stderr.
pub fn report(e: &Error) {
    eprintln!("convlog: {e}");
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return e.exit_code();
        }
    };
    let color = console::use_color(cli.color);
    console::init_tracing(color);
    let result = match cli.command {
        Command::New(a) => write::new(a),
        Command::Append(a) => write::append(a),
        Command::Ingest(a) => write::ingest(a),
        Command::Export(a) => read::export(a),
        Command::Compact(a) => read::compact(a),
        Command::Verify(a) => verify::verify(a, color),
        Command::Tail(a) => read::tail(a, color),
        Command::Demo(a) => write::demo(a),
    };
    match result {
        Ok(code) => code as i32,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            report(&e);
            exit_for(&e) as i32
        }
    }
}

/// A current-thread tokio runtime for the async library calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(std::path::Path::new("<runtime>"), "start tokio runtime", e))
}
