//! `convlog new`: create a session log and print its path.

use clap::Args;
use convlog::{Result, Session};

use super::DirArg;
use super::exit::Exit;
use super::redact::RedactArgs;
use super::util::silent_options;

/// Create a new session log and print its path.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  log=$(convlog new --dir conversations)")]
pub struct NewArgs {
    #[command(flatten)]
    dir: DirArg,
    #[command(flatten)]
    redact: RedactArgs,
}

pub fn run(a: NewArgs) -> Result<Exit> {
    let s = Session::create_with(&a.dir.dir, silent_options().redact(a.redact.policy()?))?;
    println!("{}", s.path().display());
    Ok(Exit::Ok)
}
