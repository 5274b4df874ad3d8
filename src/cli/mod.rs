//! The command line: the `Cli`/`Command` definitions and dispatch. Each
//! command lives in its own file, its help (description and examples) on
//! its arguments; what they share is in `util`, and the exit-code rule (0
//! done and intact, 1 a finding, 2 an error) in `exit`. The `--json`
//! session vocabulary is the library's (`convlog::describe`), which the
//! Python binding prints too. A closed stdout (`convlog export … | head`)
//! exits quietly.

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

// The commands, in the order `--help` lists them. Each one's help (the
// description and the examples) sits on its arguments, in its own file.
#[derive(Subcommand, Debug)]
pub enum Command {
    New(new::NewArgs),
    Append(append::AppendArgs),
    Ingest(ingest::IngestArgs),
    Export(export::ExportArgs),
    #[command(visible_alias = "compact")]
    Refresh(refresh::RefreshArgs),
    Verify(verify::VerifyArgs),
    Tail(tail::TailArgs),
    Demo(demo::DemoArgs),
    Ls(ls::LsArgs),
    Stats(stats::StatsArgs),
    Search(search::SearchArgs),
    Import(import::ImportArgs),
    Ship(ship::ShipArgs),
    Serve(serve::ServeArgs),
    Prune(prune::PruneArgs),
    Forget(forget::ForgetArgs),
    Completions(completions::CompletionsArgs),
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
