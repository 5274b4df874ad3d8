//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The `LOG.broken`, `LOG.broken.2`, … backups beside `log`, sorted.
pub fn broken_files(log: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.broken", log.file_name().unwrap().to_string_lossy());
    let mut out: Vec<PathBuf> = std::fs::read_dir(log.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect();
    out.sort();
    out
}
