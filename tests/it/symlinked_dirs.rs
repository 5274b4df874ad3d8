//! A session directory reached through a symlink (a data volume linked in as
//! `conversations`) is read like any other; a symlink at a log file is still
//! refused; a log whose file name is not UTF-8 is read and noted.

use crate::util::convlog;
use std::os::unix::fs::symlink;

/// `ROOT/data` with `convlog demo`'s session in it.
fn demo_dir(root: &std::path::Path) -> std::path::PathBuf {
    let data = root.join("data");
    std::fs::create_dir(&data).unwrap();
    let out = convlog()
        .args(["demo", "--dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    data
}

#[test]
fn readers_follow_a_symlinked_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = demo_dir(root.path());
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

/// A log whose file name is not UTF-8 (copied from a system with another
/// encoding) is found by a directory scan like any other, and each command
/// says once that its name is shown lossily, giving the exact bytes.
#[test]
fn a_log_whose_name_is_not_utf8_is_read_by_a_directory_scan_and_noted() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let root = tempfile::tempdir().unwrap();
    let data = demo_dir(root.path());
    let logs: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    let odd = data.join(OsStr::from_bytes(b"conversation_caf\xe9.jsonl"));
    std::fs::rename(&logs[0], &odd).unwrap();
    let exact = r#""conversation_caf\xE9.jsonl""#;
    for cmd in [
        vec!["ls"],
        vec!["stats"],
        vec!["verify"],
        vec!["search", "Jaipur"],
    ] {
        let out = convlog().args(&cmd).arg(&data).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd:?}: {out:?}");
        assert_eq!(
            stderr.matches(exact).count(),
            1,
            "{cmd:?} says once that the name is not UTF-8: {stderr}"
        );
        assert!(stderr.contains("not UTF-8"), "{cmd:?}: {stderr}");
        if cmd[0] != "search" {
            assert!(
                stdout.contains("conversation_caf\u{FFFD}.jsonl"),
                "{cmd:?} lists the log: {stdout}"
            );
        }
    }
}
