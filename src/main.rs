//! The `convlog` command: a thin client of the library.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
