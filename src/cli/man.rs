//! `convlog man`: man pages generated from the clap definitions.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use convlog::{Error, Result};

use super::Cli;
use super::exit::Exit;
use super::util::{is_stdout, print_bytes, stdout_err};

/// Print the man page (or write every page with --dir).
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog man | man -l -\n  convlog man --dir /usr/local/share/man/man1"
)]
pub struct ManArgs {
    /// Where to write convlog(1): a file (replaced atomically) or - for stdout.
    #[arg(short, long, default_value = "-", conflicts_with = "dir")]
    output: PathBuf,
    /// Write every page instead (convlog.1 and convlog-SUBCOMMAND.1) into this directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Every page: `convlog.1` and one `convlog-SUBCOMMAND.1` per subcommand, as (file name, roff).
fn man_pages() -> Result<Vec<(String, Vec<u8>)>> {
    fn walk(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut page = Vec::new();
        man.render(&mut page)
            .map_err(|e| Error::io(Path::new("<man page>"), "render", e))?;
        out.push((man.get_filename(), page));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    walk(&cmd, &mut pages)?;
    Ok(pages)
}

pub fn run(a: ManArgs) -> Result<Exit> {
    let pages = man_pages()?;
    if let Some(dir) = &a.dir {
        convlog::fs::ensure_shared_dir(dir)?;
        let stdout = io::stdout();
        let mut out = stdout.lock();
        for (name, page) in &pages {
            let path = dir.join(name);
            write_page(&path, page)?;
            writeln!(out, "{}", path.display()).map_err(stdout_err)?;
        }
        return Ok(Exit::Ok);
    }
    let main = pages.first().map(|(_, p)| p.as_slice()).unwrap_or_default();
    if is_stdout(&a.output) {
        print_bytes(main)?;
    } else {
        write_page(&a.output, main)?;
    }
    Ok(Exit::Ok)
}

/// Man pages are for every user of the machine: the umask decides, not the
/// 0600 that logs and exports get.
fn write_page(path: &Path, bytes: &[u8]) -> Result<()> {
    use convlog::fs::{NewFileMode, write_atomic_as};
    write_atomic_as(path, NewFileMode::Umask, |w| {
        w.write_all(bytes).map_err(|e| Error::io(path, "write", e))
    })
}
