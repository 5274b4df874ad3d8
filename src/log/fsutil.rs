//! File handling that every other module leans on: private permissions,
//! no-follow opens, directory fsyncs, atomic replacement and locking.
//!
//! Kept apart from the codec and the writer (as etcd keeps `fileutil` apart
//! from its WAL) so that the durability rules live in one place.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Files hold personal data: owner read/write only.
pub const FILE_MODE: u32 = 0o600;
/// Directories likewise: owner only.
pub const DIR_MODE: u32 = 0o700;

/// The directory a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a directory entry durable: without this, a crash can lose a file
/// whose data was fsynced because its name was never written down.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(test)]
    tests::SYNCED.with(|s| s.borrow_mut().push(dir.to_path_buf()));
    let d = File::open(dir).map_err(|e| Error::io(dir, "open directory", e))?;
    d.sync_all()
        .map_err(|e| Error::io(dir, "fsync directory", e))
}

/// Creates `dir` (and missing parents) with mode 0700, syncing each new
/// entry's parent so the directory survives a crash.
///
/// The parent is synced even when `dir` already exists: it may have been
/// made by `mkdir` or by a process killed before its own sync, and a file
/// created in a directory whose entry is not durable vanishes with it at a
/// power cut (POSIX promises nothing more; ext4's journal merely tends to
/// hide it). One fsync per call, and callers call once per session create.
///
/// A directory reached through a symlink (a data volume linked in as
/// `conversations`) has its entry in the real parent, so that is the one
/// synced.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        let real = fs::canonicalize(dir).map_err(|e| Error::io(dir, "resolve", e))?;
        return sync_dir(parent_dir(&real));
    }
    create_dirs(dir, dir)
}

/// Creates `dir` and its missing parents for `wanted` (the directory asked
/// for, which errors name).
fn create_dirs(dir: &Path, wanted: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent, wanted)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => sync_dir(parent_dir(dir)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {
            sync_dir(parent_dir(dir))
        }
        // "File exists" would not say that the file is what is in the way.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::io(
            wanted,
            "create directory",
            io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ),
        )),
        Err(e) => Err(Error::io(wanted, "create directory", e)),
    }
}

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

fn create_new_mode(path: &Path, mode: u32) -> io::Result<File> {
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
            reason: "it is not a regular file (a directory, FIFO, socket or device)".into(),
        });
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
    let tmp = super::layout::temp_path(dir, &name);
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

/// Creates `dir` and missing parents for files meant to be shared (man
/// pages): 0777 less the umask, not the 0700 of session directories.
pub fn ensure_shared_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o777)
        .create(dir)
        .map_err(|e| Error::io(dir, "create directory", e))?;
    sync_dir(parent_dir(dir))
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

/// Takes the exclusive lock on `file`, waiting forever or up to `timeout`.
pub fn lock_exclusive(file: &File, path: &Path, timeout: Option<Duration>) -> Result<()> {
    let Some(timeout) = timeout else {
        return file.lock().map_err(|e| Error::io(path, "lock", e));
    };
    let start = Instant::now();
    if poll_lock(file, path, timeout, File::try_lock)? {
        return Ok(());
    }
    Err(Error::LockTimeout {
        path: path.to_path_buf(),
        waited: start.elapsed(),
    })
}

/// Tries for up to `timeout` to take a shared lock; `Ok(false)` if a writer
/// held the exclusive lock all that time. Readers use this to wait out a
/// batch in flight without letting a stuck process stop them.
pub fn try_lock_shared_for(file: &File, path: &Path, timeout: Duration) -> Result<bool> {
    poll_lock(file, path, timeout, File::try_lock_shared)
}

fn poll_lock(
    file: &File,
    path: &Path,
    timeout: Duration,
    try_lock: fn(&File) -> Result<(), fs::TryLockError>,
) -> Result<bool> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        match try_lock(file) {
            Ok(()) => return Ok(true),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(Error::io(path, "lock", e)),
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Releases the lock. An unlock failure is logged, not returned: the lock
/// also goes away when the descriptor closes, and the data is already durable.
pub fn unlock(file: &File, path: &Path) {
    if let Err(e) = file.unlock() {
        tracing::warn!(target: "convlog", "{}: unlock failed: {e}", path.display());
    }
}

/// (device, inode) of an open file and of the path, to notice a log that was
/// replaced underneath an open writer.
///
/// `open` is the open file's metadata, which the caller usually needs anyway
/// (the writer also takes the file's length from it), saving an `fstat`.
pub fn same_file(open: &fs::Metadata, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let a = open;
    match fs::symlink_metadata(path) {
        Ok(b) => Ok(a.dev() == b.dev() && a.ino() == b.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, "stat", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::PathBuf;

    thread_local! {
        /// Directories this thread fsynced, so a test can see the durability calls.
        pub(super) static SYNCED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    }

    fn synced() -> Vec<PathBuf> {
        SYNCED.with(|s| s.borrow_mut().drain(..).collect())
    }

    #[test]
    fn ensure_dir_syncs_the_parent_of_a_directory_that_already_exists() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("conversations");
        // A plain `mkdir`: nobody made its entry in the parent durable.
        fs::create_dir(&dir).unwrap();
        synced();
        ensure_dir(&dir).unwrap();
        assert_eq!(synced(), [root.path().canonicalize().unwrap()]);
    }

    #[test]
    fn ensure_dir_syncs_the_real_parent_of_a_symlinked_directory() {
        let root = tempfile::tempdir().unwrap();
        let volume = root.path().join("volume");
        let data = volume.join("conv");
        fs::create_dir_all(&data).unwrap();
        let link = root.path().join("conversations");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        synced();
        ensure_dir(&link).unwrap();
        assert_eq!(synced(), [volume.canonicalize().unwrap()]);
    }

    #[test]
    fn ensure_dir_syncs_the_parent_of_each_new_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        synced();
        ensure_dir(&dir).unwrap();
        assert_eq!(synced(), [root.path().to_path_buf(), root.path().join("a")]);
    }
}
