//! Which files are logs: expands the paths a command was given.

use std::path::PathBuf;

use crate::error::{Error, Result};

use crate::fs::layout::is_log_name;

/// Expands `paths`: a file is taken as it is; a directory gives its `*.jsonl`
/// logs (not recursing), sorted by name so output is stable.
///
/// A directory the user names (or the default `conversations`) is followed
/// through a symlink, because a data volume linked into place is a common
/// layout and the writers already write through it. A symlink at a log file
/// is passed on as it is, for the no-follow open to refuse, and symlinks
/// inside a directory are not logs of it.
pub fn find_logs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::symlink_metadata(p).map_err(|e| Error::io(p, "stat", e))?;
        let is_dir =
            meta.is_dir() || (meta.is_symlink() && std::fs::metadata(p).is_ok_and(|m| m.is_dir()));
        if is_dir {
            let mut logs = Vec::new();
            for entry in std::fs::read_dir(p).map_err(|e| Error::io(p, "read directory", e))? {
                let entry = entry.map_err(|e| Error::io(p, "read directory", e))?;
                let path = entry.path();
                let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
                if is_file && is_log_name(&path) {
                    logs.push(path);
                }
            }
            logs.sort();
            out.extend(logs);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_give_their_logs_sorted_and_skip_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.jsonl",
            "a.jsonl",
            "a.json",
            "a.jsonl.broken",
            ".a.jsonl.tmp-1",
            ".hidden.jsonl",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.jsonl")).unwrap();
        let explicit = dir.path().join("a.json");
        let found = find_logs(&[dir.path().to_path_buf(), explicit.clone()]).unwrap();
        assert_eq!(
            found,
            [
                dir.path().join("a.jsonl"),
                dir.path().join("b.jsonl"),
                explicit
            ]
        );
    }

    #[test]
    fn a_symlinked_directory_is_followed_but_a_symlinked_log_is_passed_on() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("a.jsonl"), "").unwrap();
        std::os::unix::fs::symlink(data.join("a.jsonl"), data.join("b.jsonl")).unwrap();
        let link = root.path().join("conversations");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        let file_link = data.join("b.jsonl");
        assert_eq!(
            find_logs(&[link.clone(), file_link.clone()]).unwrap(),
            [link.join("a.jsonl"), file_link]
        );
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = find_logs(&[PathBuf::from("/nonexistent/convlog")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/convlog"), "{err}");
    }
}
