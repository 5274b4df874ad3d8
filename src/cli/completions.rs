//! `convlog completions`: shell completion scripts generated from the clap definitions.

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use convlog::Result;

use super::Cli;
use super::exit::Exit;
use super::util::print_bytes;

/// Print a shell completion script.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog completions bash > ~/.local/share/bash-completion/completions/convlog\n  convlog completions zsh > ~/.zfunc/_convlog"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(a: CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "convlog", &mut buf);
    print_bytes(&buf)?;
    Ok(Exit::Ok)
}
