//! Replacing a file so that a reader sees the old one or the new one,
//! never a mix, and a crash never leaves half a file in its place:
//! tmp → fsync → rename → fsync(dir).

use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::dir::sync_dir;
use super::layout::{parent_dir, temp_path};
use super::open::{FILE_MODE, create_new_mode};
use crate::error::{Error, Result};

/// Who may read a file convlog creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewFileMode {
    /// 0600: logs and exports hold personal data.
    Private,
    /// 0666 less the umask: files made for others to read (man pages).
    Umask,
}

/// Replaces `path` with what `fill` writes, atomically: tmp → fsync →
/// rename → fsync(dir). Readers see the old file or the new one, never a mix,
/// and a failure leaves the old file untouched. A new file is private (0600).
pub fn write_atomic<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    write_atomic_as(path, NewFileMode::Private, fill)
}

/// [`write_atomic`] with the mode a *new* file gets.
///
/// A file that is replaced keeps its own mode: the user chose it, and an
/// export quietly turning a shared 0644 file into 0600 breaks whoever reads
/// it. A symlink at `path` is written through to its target (as `cp` and
/// shell redirection do), so the link stays a link; a dangling one is
/// refused rather than replaced by a regular file.
pub fn write_atomic_as<F>(path: &Path, new_mode: NewFileMode, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
{
    write_atomic_with(path, new_mode, fill, || Ok(()))
}

/// [`write_atomic_as`], calling `before_rename` once the new content is
/// written and fsynced, just before it is renamed into place: the moment to
/// make durable what must be known before anyone can see the new file (an
/// export's stamp). An error there leaves the old file.
pub fn write_atomic_with<F, B>(
    path: &Path,
    new_mode: NewFileMode,
    fill: F,
    before_rename: B,
) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
    B: FnOnce() -> Result<()>,
{
    use std::os::unix::fs::PermissionsExt;
    let resolved;
    let path = match fs::symlink_metadata(path) {
        Ok(m) if m.is_symlink() => {
            resolved = fs::canonicalize(path).map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Error::io(
                        path,
                        "write through the symbolic link",
                        io::Error::new(
                            io::ErrorKind::NotFound,
                            "it points to nothing; refusing to replace the link",
                        ),
                    )
                } else {
                    Error::io(path, "resolve the symbolic link", e)
                }
            })?;
            resolved.as_path()
        }
        _ => path,
    };
    let mut keep_mode = None;
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(Error::io(path, "write", io::ErrorKind::IsADirectory.into()));
        }
        // A device (/dev/null, /dev/stdout, a terminal) or a FIFO is written
        // in place: renaming a temporary file over it would replace the
        // device node itself, which as root means a regular file at /dev/null.
        Ok(m) if !m.is_file() => return write_in_place(path, fill, before_rename),
        Ok(m) => keep_mode = Some(m.permissions().mode() & 0o7777),
        Err(_) => {}
    }
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = temp_path(dir, &name);
    let create_mode = match new_mode {
        NewFileMode::Private => FILE_MODE,
        NewFileMode::Umask => 0o666,
    };
    let result = (|| {
        let file = create_new_mode(&tmp, create_mode).map_err(|e| Error::io(path, "create", e))?;
        if let Some(mode) = keep_mode {
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io(path, "keep the mode of", e))?;
        }
        let mut w = BufWriter::with_capacity(1 << 16, file);
        fill(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(path, "write", e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, "fsync", e))?;
        before_rename()?;
        fs::rename(&tmp, path).map_err(|e| Error::io(path, "rename into place", e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: the tmp file may not exist if creating it failed.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_in_place<F, B>(path: &Path, fill: F, before_rename: B) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> Result<()>,
    B: FnOnce() -> Result<()>,
{
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, "open", e))?;
    let mut w = BufWriter::with_capacity(1 << 16, file);
    fill(&mut w)?;
    w.flush().map_err(|e| Error::io(path, "write", e))?;
    before_rename()
}
