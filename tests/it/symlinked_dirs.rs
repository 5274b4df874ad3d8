//! A session directory reached through a symlink (a data volume linked in as
//! `conversations`) is read like any other; a symlink at a log file is still refused.

use crate::util::convlog;
use std::os::unix::fs::symlink;

#[test]
fn readers_follow_a_symlinked_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let out = convlog()
        .args(["demo", "--dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    symlink(&data, root.path().join("conversations")).unwrap();
    for cmd in [
        vec!["ls"],
        vec!["stats"],
        vec!["compact"],
        vec!["verify", "conversations"],
        vec!["ls", "conversations"],
        vec!["search", "Jaipur"],
    ] {
        let out = convlog()
            .current_dir(root.path())
            .args(&cmd)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("symbolic link"),
            "{cmd:?}: {out:?}"
        );
        assert!(!out.stdout.is_empty(), "{cmd:?} printed nothing");
    }
}

#[test]
fn a_symlink_at_a_log_path_is_still_refused() {
    let root = tempfile::tempdir().unwrap();
    let out = convlog()
        .args(["new", "--dir"])
        .arg(root.path())
        .output()
        .unwrap();
    let log = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let link = root.path().join("link.jsonl");
    symlink(&log, &link).unwrap();
    for cmd in ["verify", "export", "tail"] {
        let out = convlog().arg(cmd).arg(&link).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}: {out:?}");
        // (verify prints per-file errors on stdout for now; either stream will do.)
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains("symbolic link"), "{cmd}: {out:?}");
    }
}
