//! The command line: the `Cli`/`Command` definitions and dispatch. Each
//! command lives in its own file; what they share is in `util`, the
//! `--json` session vocabulary in `json`, and the exit-code rule (0 done
//! and intact, 1 a finding, 2 an error) in `exit`. A closed stdout
//! (`convlog export … | head`) exits quietly.

mod append;
mod completions;
mod console;
mod demo;
mod exit;
mod export;
mod forget;
mod import;
mod ingest;
mod ls;
mod man;
mod new;
mod prune;
mod redact;
mod refresh;
mod search;
mod serve;
mod ship;
mod stats;
mod tail;
mod util;
mod values;
mod verify;

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use exit::Tracker;

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
    max_term_width = 100,
    after_help = "Examples:\n  convlog demo                     # write and export a sample session\n  log=$(convlog new)               # start a session in ./conversations\n  convlog append \"$log\" --role user --source deepgram_stt 'Hello'\n  convlog verify conversations/    # what state is every session in?\n  convlog export \"$log\" -o conversation.json\n\nExit codes (every command): 0 done and every log intact; 1 a finding (a damaged log, rejected\ninput, search matched nothing); 2 an error (usage, a path that cannot be read, not a log).\n--json output is JSON Lines: one object per line (see the README for its keys)."
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
    New(new::NewArgs),
    /// Append one message durably (returns once it is fdatasynced).
    #[command(
        after_help = "Example:\n  convlog append \"$log\" --role user --source deepgram_stt 'Hello, how are you?'"
    )]
    Append(append::AppendArgs),
    /// Append JSON lines from stdin with group commit.
    ///
    /// Each input line is an object with `role`, `content` and `source`, and
    /// optionally `timestamp` (RFC 3339, kept as given), `turn`, `interrupted`,
    /// `speaker`, `lang` and `meta`. A bad line is reported on stderr with its
    /// line number and skipped; the exit code is then 1.
    #[command(
        after_help = "Example:\n  echo '{\"role\":\"user\",\"content\":\"hi\",\"source\":\"stt\"}' | convlog ingest \"$log\" --ack --end"
    )]
    Ingest(ingest::IngestArgs),
    /// Render a log as the documented JSON or another format (stdout by default).
    ///
    /// Formats: json (the original design's file, byte for byte), jsonl,
    /// markdown, text, csv, srt, vtt and html (the `convlog serve` session
    /// page as one self-contained file, the same bytes for the same log). Subtitle cues start at each message's
    /// time after the session start and end at the next message, or after
    /// meta.duration_ms when a single-record message has it; the last cue
    /// lasts 70 ms per character (1 to 10 s). These are times text reached the
    /// logger, not audio times.
    #[command(
        after_help = "Examples:\n  convlog export \"$log\" -o conversation.json\n  convlog export \"$log\" --format markdown -o transcript.md\n  convlog export \"$log\" --format srt -o conversation.srt"
    )]
    Export(export::ExportArgs),
    /// Render the export beside each log whose export is missing or stale.
    ///
    /// An export that is up to date is left alone, and so are the original
    /// file `convlog import` read and a file convlog did not write.
    /// `compact`, this command's former name, still works.
    #[command(
        visible_alias = "compact",
        after_help = "Example:\n  convlog refresh conversations/"
    )]
    Refresh(refresh::RefreshArgs),
    /// Check logs and report, per file, exactly what state they are in.
    ///
    /// Exit code 0 when nothing is damaged (or --repair fixed everything), 1
    /// when damage remains, 2 on errors (reported on stderr).
    #[command(after_help = "Example:\n  convlog verify conversations/ --repair")]
    Verify(verify::VerifyArgs),
    /// Print a log's messages as [USER] … / [AGENT] … lines; -f follows it live.
    #[command(after_help = "Example:\n  convlog tail -f \"$log\"")]
    Tail(tail::TailArgs),
    /// Write a short bilingual demo session, end it and export it.
    #[command(after_help = "Example:\n  convlog demo --dir conversations")]
    Demo(demo::DemoArgs),
    /// List sessions: start, duration, messages per role, state and export.
    ///
    /// One line per log: when it started (its first message's time, as the
    /// wall clock it was written in), how long it ran (to its last message),
    /// user and agent messages, its state (ended, open,
    /// or damaged: see `convlog verify`) and its export beside it, which is up
    /// to date, stale (the log changed since) or missing (`convlog refresh`
    /// renders it).
    #[command(
        after_help = "Examples:\n  convlog ls\n  convlog ls conversations/ --json | jq -r 'select(.state == \"open\") | .path'"
    )]
    Ls(ls::LsArgs),
    /// Turns, words, talk ratio, interruptions and response latency.
    ///
    /// Per session and across all sessions given. A turn is a run of
    /// consecutive messages of one role (the fragments of a streamed answer
    /// are one turn); words are whitespace-separated. Response latency is the
    /// time from the last user message of a turn to the first agent message
    /// after it, as p50/p90/p99/max (nearest rank). When producers recorded
    /// meta.latency_ms, that is aggregated too as host latency.
    ///
    /// Timestamps are when the text reached the logger (the final transcript
    /// from speech-to-text, the text handed to text-to-speech), not when audio
    /// was heard or played: response latency here is transcript-to-reply time,
    /// without speech detection before it or synthesis and playback after it.
    #[command(
        after_help = "Examples:\n  convlog stats\n  convlog stats conversations/ --json | jq .total.response_latency_ms.p90"
    )]
    Stats(stats::StatsArgs),
    /// Find messages whose content matches a regular expression.
    ///
    /// Prints each matching message with its log, time and role, the match
    /// highlighted on a terminal. Fragments of one turn are merged before
    /// matching, as in the export (--no-merge searches records one by one).
    /// Exit code 0 when something matched, 1 when nothing did, 2 on errors,
    /// as grep and ripgrep do. --json prints one object per message with the
    /// byte offsets of the matches in its content.
    #[command(
        after_help = "Examples:\n  convlog search -i 'jaipur|hotel'\n  convlog search 'cheapest' conversations/ --role user --since '2025-08-18 14:00'\n  convlog search . --session conversation_20250818_143022.jsonl --json"
    )]
    Search(search::SearchArgs),
    /// Import files written by the original design into convlog logs.
    ///
    /// Each FILE.json ({"conversation": [...]}, timestamps from Python's
    /// datetime.now().isoformat()) becomes FILE.jsonl beside it; an existing
    /// log is never overwritten. Naive timestamps are read as local time (set
    /// TZ to import files from another machine's zone). The import checks that
    /// `convlog export` gives the original back byte for byte and says so; the
    /// one expected difference is a timestamp whose microseconds were 0, which
    /// Python writes without a fraction and the export writes with .000000.
    ///
    /// A compact file (not indent=2) imports too: when every message comes
    /// back, the byte layout is only noted. A blank content entry is kept as
    /// the file has it.
    ///
    /// Exit code 0 when every file was imported and every message comes back
    /// in its export, 1 when a file was rejected (malformed, or its log
    /// exists) or a message differs in its export, 2 on I/O errors.
    #[command(after_help = "Example:\n  convlog import conversations/conversation_*.json")]
    Import(import::ImportArgs),
    /// Ship sessions to PostgreSQL, exactly once in effect; --follow keeps shipping.
    ///
    /// Rows are keyed on (session_id, seq) and the database is the cursor, so
    /// a shipper killed at any moment resumes without loss or duplicates. Only
    /// whole, checksummed records are shipped. The schema (see SHIP.md) is
    /// created on first use or by --init. Exit code 0 when everything was
    /// shipped, 1 when a log was damaged, unreadable or a record was rejected,
    /// 2 on errors.
    #[command(
        after_help = "Examples:\n  convlog ship conversations/ --to postgres://convlog@db.internal/transcripts\n  CONVLOG_PG_URL=postgres://convlog@db/transcripts convlog ship --follow"
    )]
    Ship(ship::ShipArgs),
    /// Look at sessions in a browser: a read-only web viewer, live for open sessions.
    ///
    /// Lists the sessions under PATHS (sortable, filtered by time and text,
    /// a hundred per page) and shows each as a page: the conversation with
    /// time offsets, sources, merged turns and interruptions, a timeline of
    /// who spoke when, latency bars from meta, the damage verify finds, and
    /// downloads of the log and every export format. An open session's page
    /// updates as messages are written. It writes nothing and never makes a
    /// writer wait.
    ///
    /// Security: it listens on 127.0.0.1 unless --addr says otherwise; an
    /// address that is not loopback requires --token or --token-file, and
    /// every request without the token then gets 401 Unauthorized.
    #[command(
        after_help = "Examples:\n  convlog serve                          # http://127.0.0.1:7878/ for ./conversations\n  convlog serve /var/log/agent --addr 127.0.0.1:9000\n  convlog serve --addr 0.0.0.0:7878 --token-file /etc/convlog/token   # beyond this machine: token required"
    )]
    Serve(serve::ServeArgs),
    /// Remove whole sessions older than an age: log, exports, stamps, .broken files.
    ///
    /// A session's age is the time of its last record (its end record, once
    /// ended), not the file's mtime, which a copy or a restore changes. Only
    /// ended sessions are removed: one without an end record may have a live
    /// writer, and the lock is held while the files go. Every path is
    /// checked first: a path that is not a convlog directory or log, or a
    /// malformed age, exits 2 with nothing removed. The directory is fsynced.
    #[command(
        after_help = "Examples:\n  convlog prune --older-than 30d --dry-run\n  convlog prune conversations/ --older-than 90d --require-shipped postgres://convlog@db/transcripts"
    )]
    Prune(prune::PruneArgs),
    /// Erase sessions by id: their files and, with --to, their database rows.
    ///
    /// Prints a receipt (session ids, files removed, rows deleted, time) for
    /// a compliance log; --json prints it as one object. An open session is
    /// refused before anything is erased. The rows go in one transaction.
    #[command(
        after_help = "Examples:\n  convlog forget 3f2a9c0e5b7d41a8b6c2d9e0f1a2b3c4\n  convlog forget 3f2a9c0e5b7d41a8b6c2d9e0f1a2b3c4 conversations/ --to postgres://convlog@db/transcripts --json >> erasures.jsonl"
    )]
    Forget(forget::ForgetArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  convlog completions bash > ~/.local/share/bash-completion/completions/convlog\n  convlog completions zsh > ~/.zfunc/_convlog"
    )]
    Completions(completions::CompletionsArgs),
    /// Print the man page (or write every page with --dir).
    #[command(
        after_help = "Examples:\n  convlog man | man -l -\n  convlog man --dir /usr/local/share/man/man1"
    )]
    Man(man::ManArgs),
}

// The logs a reading command answers for.
#[derive(Args, Debug)]
pub struct PathsArg {
    /// Logs or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
}

impl PathsArg {
    /// The logs the paths name; a path that cannot be read is reported and
    /// recorded in `exit`, and the others are still answered for.
    pub fn logs(self, exit: &mut Tracker) -> Vec<PathBuf> {
        exit.expand(&util::paths_or_default(self.paths))
    }
}

// `--dir` of the commands that create a session.
#[derive(Args, Debug, Clone)]
pub struct DirArg {
    /// Directory for session logs (created 0700 if missing).
    #[arg(long, default_value = "conversations")]
    pub dir: PathBuf,
}

pub fn main() -> i32 {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return e.exit_code();
        }
    };
    // The log a single-log command was given, to name it in a validation
    // error that the library raised without one (`append --timestamp bad`).
    let subject: Option<PathBuf> = matches
        .subcommand()
        .and_then(|(_, m)| m.try_get_one::<PathBuf>("log").ok().flatten().cloned());
    let color = console::use_color(cli.color);
    console::init_tracing(color);
    let result = match cli.command {
        Command::New(a) => new::run(a),
        Command::Append(a) => append::run(a),
        Command::Ingest(a) => ingest::run(a),
        Command::Export(a) => export::run(a),
        Command::Refresh(a) => refresh::run(a),
        Command::Verify(a) => verify::run(a, color),
        Command::Tail(a) => tail::run(a, color),
        Command::Demo(a) => demo::run(a),
        Command::Ls(a) => ls::run(a, color),
        Command::Stats(a) => stats::run(a, color),
        Command::Search(a) => search::run(a, color),
        Command::Import(a) => import::run(a, color),
        Command::Ship(a) => ship::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Prune(a) => prune::run(a),
        Command::Forget(a) => forget::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
    };
    match result {
        Ok(code) => code as i32,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            let e = match &subject {
                Some(log) => e.in_file(log),
                None => e,
            };
            let mut exit = Tracker::new();
            exit.error(&e);
            exit.code() as i32
        }
    }
}
