//! `export` never destroys a log, never leaves a partial document on stdout,
//! and treats the file it replaces (its mode, a symlink) with care.

use crate::util::{convlog, new_log};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

fn demo(dir: &Path) -> PathBuf {
    let out = convlog().args(["demo", "--dir"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(logs.len(), 1);
    logs.pop().unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn export_refuses_to_write_over_its_own_log_or_any_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo(dir.path());
    let other = new_log(&dir.path().join("other"));
    let hard = dir.path().join("hardlink.json");
    std::fs::hard_link(&log, &hard).unwrap();
    let soft = dir.path().join("soft.json");
    symlink(&log, &soft).unwrap();
    let before = std::fs::read(&log).unwrap();
    let other_before = std::fs::read(&other).unwrap();
    for target in [&log, &other, &hard, &soft] {
        for format in ["json", "jsonl", "markdown"] {
            let out = convlog()
                .arg("export")
                .arg(&log)
                .args(["--format", format, "-o"])
                .arg(target)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{target:?} {format}: {out:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&*target.to_string_lossy()), "{err}");
            assert!(err.contains("log"), "{err}");
            assert_eq!(std::fs::read(&log).unwrap(), before);
            assert_eq!(std::fs::read(&other).unwrap(), other_before);
        }
    }
    assert!(std::fs::symlink_metadata(&soft).unwrap().is_symlink());
}

#[test]
fn export_refuses_stdout_appending_to_its_own_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo(dir.path());
    let before = std::fs::read(&log).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("convlog");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' export '{}' >> '{}'",
            bin.display(),
            log.display(),
            log.display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard output is the log"));
    assert_eq!(std::fs::read(&log).unwrap(), before);
}

#[test]
fn a_bad_input_writes_nothing_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = demo(&d.join("logs"));
    std::fs::write(d.join("empty.jsonl"), "").unwrap();
    std::fs::write(d.join("notes.jsonl"), "{\"hello\": 1}\n").unwrap();
    std::fs::create_dir(d.join("dir.jsonl")).unwrap();
    symlink(&log, d.join("link.jsonl")).unwrap();
    let fifo = d.join("fifo.jsonl");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut inputs = vec![
        "nonexist.jsonl",
        "empty.jsonl",
        "notes.jsonl",
        "dir.jsonl",
        "link.jsonl",
    ];
    if made.is_ok_and(|s| s.success()) {
        inputs.push("fifo.jsonl");
    } else {
        crate::util::skip("the FIFO case of the export", "mkfifo failed");
    }
    for input in inputs {
        for format in ["json", "jsonl", "csv", "srt"] {
            let out = convlog()
                .current_dir(d)
                .args(["export", input, "--format", format])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{input} {format}: {out:?}");
            assert!(out.stdout.is_empty(), "{input} {format}: {out:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(input), "{input}: {err}");
        }
    }
}

#[test]
fn mid_file_damage_writes_nothing_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo(dir.path());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Corrupt one record in the middle (its checksum no longer matches).
    let mid = lines.len() / 2;
    let damaged: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == mid {
                l.replacen("\"content\":\"", "\"content\":\"X", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&log, damaged.join("\n") + "\n").unwrap();
    for format in ["json", "jsonl", "markdown", "text"] {
        let out = convlog()
            .arg("export")
            .arg(&log)
            .args(["--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}: {out:?}");
        assert!(
            out.stdout.is_empty(),
            "{format}: {} bytes on stdout",
            out.stdout.len()
        );
        assert!(!out.stderr.is_empty());
    }
    // skip-corrupt still exports the rest; the damage it passed over is a
    // finding (exit 1), as in every reader.
    let out = convlog()
        .arg("export")
        .arg(&log)
        .args(["--recovery", "skip-corrupt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["conversation"].as_array().unwrap().is_empty());
}

#[test]
fn an_export_replacing_a_file_keeps_its_mode_and_a_new_one_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo(&dir.path().join("logs"));
    let shared = dir.path().join("shared.json");
    std::fs::write(&shared, "old").unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    let fresh = dir.path().join("fresh.json");
    for out_path in [&shared, &fresh] {
        let out = convlog()
            .arg("export")
            .arg(&log)
            .arg("-o")
            .arg(out_path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(mode(&shared), 0o644);
    assert_eq!(mode(&fresh), 0o600);
    assert!(
        std::fs::read_to_string(&shared)
            .unwrap()
            .starts_with("{\n  \"conversation\"")
    );
}

#[test]
fn an_export_to_a_symlink_writes_through_to_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo(&dir.path().join("logs"));
    let target = dir.path().join("real.json");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.json");
    symlink("real.json", &link).unwrap();
    let out = convlog()
        .arg("export")
        .arg(&log)
        .arg("-o")
        .arg(&link)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .starts_with("{\n  \"conversation\"")
    );
    assert_eq!(mode(&target), 0o640);
    // A dangling link is refused, not replaced.
    let dangling = dir.path().join("dangling.json");
    symlink("missing/nowhere.json", &dangling).unwrap();
    let out = convlog()
        .arg("export")
        .arg(&log)
        .arg("-o")
        .arg(&dangling)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(std::fs::symlink_metadata(&dangling).unwrap().is_symlink());
}

#[test]
fn man_pages_follow_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man1");
    // Through sh so the umask applies to the child alone.
    let bin = assert_cmd::cargo::cargo_bin("convlog");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022 && '{}' man --dir '{}' >/dev/null && '{}' man -o '{}/convlog.page'",
            bin.display(),
            man.display(),
            bin.display(),
            dir.path().display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&man.join("convlog.1")), 0o644);
    assert_eq!(mode(&dir.path().join("convlog.page")), 0o644);
    assert_eq!(mode(&man) & 0o777, 0o755);
}
