//! Opening files the way logs must be opened: never through a symlink,
//! never anything but a regular file, and new ones private (0600).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Files hold personal data: owner read/write only.
pub const FILE_MODE: u32 = 0o600;

fn base_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    // O_NOFOLLOW: a log path that is a symlink is refused, so a planted link
    // cannot redirect a transcript (personal data) somewhere else.
    o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    o
}

/// Creates a new file exclusively (never truncating one that exists), 0600, not following symlinks.
pub fn create_new(path: &Path) -> io::Result<File> {
    create_new_mode(path, FILE_MODE)
}

pub(super) fn create_new_mode(path: &Path, mode: u32) -> io::Result<File> {
    base_options()
        .write(true)
        .read(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

/// Opens an existing log for appending, not following symlinks.
pub fn open_append(path: &Path) -> Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).append(true);
    open_existing(o, path)
}

/// Opens an existing log for reading, not following symlinks.
pub fn open_read(path: &Path) -> Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    open_existing(o, path)
}

/// Opens an existing log for repair (read and write, no append mode so it can be truncated).
pub fn open_rw(path: &Path) -> Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    open_existing(o, path)
}

/// Opens an existing file without following a symlink, and refuses anything
/// that is not a regular file.
///
/// A FIFO planted at a log's path would make `inspect`, `verify` and export
/// hang forever (a read-only `open` of a FIFO waits for a writer), and
/// `Session::open` fail with a baffling "seek failed: Illegal seek"; a
/// device could feed an endless scan. `O_NONBLOCK` keeps the `open` itself
/// from waiting (it has no effect on regular files, nor on `flock`, which
/// blocks or not by its own flag), and the file type is checked before a
/// byte is read.
fn open_existing(mut o: OpenOptions, path: &Path) -> Result<File> {
    o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    let file = o.open(path).map_err(|e| open_error(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, "fstat", e))?;
    if !meta.is_file() {
        return Err(Error::NotALog {
            path: path.to_path_buf(),
            reason: format!("it is {NOT_REGULAR}"),
        });
    }
    Ok(file)
}

/// What a file that is not regular is called when convlog refuses it.
const NOT_REGULAR: &str = "not a regular file (a directory, FIFO, socket or device)";

/// Opens a file convlog keeps beside a log (an export, a stamp) for
/// reading. Such a path may be a symlink, as it always could; but, as for a
/// log ([`open_read`]), only a regular file is read, and `O_NONBLOCK` keeps
/// a FIFO planted there from hanging the `open` (and with it `convlog ls`
/// and every list `convlog serve` shows).
pub(crate) fn open_beside(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, NOT_REGULAR));
    }
    Ok(file)
}

fn open_error(path: &Path, e: io::Error) -> Error {
    // O_NOFOLLOW reports a symlink as ELOOP, which reads as nonsense to a user.
    if e.raw_os_error() == Some(libc::ELOOP) {
        return Error::NotALog {
            path: path.to_path_buf(),
            reason: "it is a symbolic link, which convlog refuses to follow".into(),
        };
    }
    Error::io(path, "open", e)
}
