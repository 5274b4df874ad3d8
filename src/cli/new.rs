//! `convlog new`: create a session log and print its path.

use convlog::{Result, Session};

use super::DirArg;
use super::exit::Exit;
use super::util::silent_options;

pub fn run(a: DirArg) -> Result<Exit> {
    let s = Session::create_with(&a.dir, silent_options())?;
    println!("{}", s.path().display());
    Ok(Exit::Ok)
}
