//! Directories that survive a crash: created 0700 (or shared for man
//! pages) with each new entry's parent fsynced, because a file fsynced into
//! a directory whose own entry is not durable vanishes with it.

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use super::layout::parent_dir;
use crate::error::{Error, Result};

/// Directories hold personal data too: owner only.
pub const DIR_MODE: u32 = 0o700;

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
