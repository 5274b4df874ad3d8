//! Secrets and privileges: a password from the environment, the password
//! file or a file named on the command line, never left in the process's
//! arguments; and a role with exactly the grants SHIP.md lists.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use convlog::{Message, Session};

use super::harness::*;
use crate::util::stderr;

/// `.ci/postgres.sh` gives this role scram password authentication on 127.0.0.1.
const ROLE: &str = "convlog_pw";
const PASSWORD: &str = "right-password";

/// A fresh database with the schema, where `ROLE` has the documented grants,
/// and its URL for `ROLE` (no password) on 127.0.0.1.
fn db_for_role(url: &str, name: &str) -> (String, String) {
    let rt = rt();
    let admin_url = rt.block_on(fresh_db(url, name));
    assert!(ship(&["--init", "--to", &admin_url]).status.success());
    let db = admin_url.rsplit_once('/').unwrap().1.to_string();
    rt.block_on(async {
        connect(&admin_url)
            .await
            .batch_execute(&grants(ROLE, &db))
            .await
            .unwrap()
    });
    let port = admin_url
        .rsplit_once(':')
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .0
        .to_string();
    (
        admin_url,
        format!("postgres://{ROLE}@127.0.0.1:{port}/{db}"),
    )
}

/// SHIP.md's grants, as written there.
fn grants(role: &str, db: &str) -> String {
    let ship_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/SHIP.md")).unwrap();
    let start = ship_md
        .find("-- grants for a shipping role")
        .expect("SHIP.md lists the grants");
    let block = &ship_md[start..];
    let block = &block[..block.find("```").unwrap()];
    block.replace("shipper", role).replace("logs_db", db)
}

fn one_log(dir: &std::path::Path) {
    rt().block_on(async {
        let s = Session::create(dir).unwrap();
        s.append(Message::user("private words", "stt"))
            .await
            .unwrap();
        s.end().await.unwrap();
    });
}

#[test]
fn a_password_comes_from_pgpassword_the_password_file_or_to_file_never_the_arguments() {
    let Some(url) = pg_url("password_sources") else {
        return;
    };
    let (_, role_url) = db_for_role(&url, "secrets");
    let dir = tempfile::tempdir().unwrap();
    one_log(dir.path());
    let d = dir.path().display().to_string();

    // No password at all: refused (so the cases below are not passing by trust).
    let out = ship_env(&[&d, "--to", &role_url], &[("PGPASSFILE", "/nonexistent")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));

    let out = ship_env(&[&d, "--to", &role_url], &[("PGPASSWORD", PASSWORD)]);
    assert!(out.status.success(), "PGPASSWORD: {}", stderr(&out));

    // The password file, libpq's format; too open a file is ignored, saying so.
    let secrets = tempfile::tempdir().unwrap();
    let pass = secrets.path().join("pgpass");
    let port = role_url
        .rsplit_once(':')
        .unwrap()
        .1
        .split_once('/')
        .unwrap()
        .0;
    std::fs::write(
        &pass,
        format!("# comment\nother:1:*:*:nope\n127.0.0.1:{port}:*:{ROLE}:{PASSWORD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p = pass.display().to_string();
    let out = ship_env(&[&d, "--to", &role_url], &[("PGPASSFILE", &p)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "password file {p} has group or world access and was ignored"
        )),
        "{}",
        stderr(&out)
    );
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = ship_env(&[&d, "--to", &role_url], &[("PGPASSFILE", &p)]);
    assert!(out.status.success(), "PGPASSFILE: {}", stderr(&out));
    // ~/.pgpass when PGPASSFILE is not set.
    std::fs::copy(&pass, secrets.path().join(".pgpass")).unwrap();
    let home = secrets.path().display().to_string();
    let out = ship_env(&[&d, "--to", &role_url], &[("HOME", &home)]);
    assert!(out.status.success(), "~/.pgpass: {}", stderr(&out));

    // --to-file: the URL, password included, from a file.
    let url_file = secrets.path().join("url");
    let with_pw = role_url.replace(&format!("{ROLE}@"), &format!("{ROLE}:{PASSWORD}@"));
    std::fs::write(&url_file, format!("{with_pw}\n")).unwrap();
    let out = ship_env(
        &[&d, "--to-file", &url_file.display().to_string()],
        &[("PGPASSFILE", "/nonexistent")],
    );
    assert!(out.status.success(), "--to-file: {}", stderr(&out));
    assert!(!stderr(&out).contains(PASSWORD));

    // On the command line: it works, is scrubbed from /proc/PID/cmdline for
    // the life of the process, and the warning comes once.
    let mut child = Command::new(BIN)
        .args(["ship", "--follow", "--to", &with_pw, &d])
        .env("PGPASSFILE", "/nonexistent")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(!cmdline.contains(PASSWORD), "{cmdline}");
    assert!(cmdline.contains(&format!("{ROLE}:")), "{cmdline}");
    assert_eq!(
        err.matches("a password on the command line").count(),
        1,
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");

    // --help no longer advertises a password in the URL.
    let help = Command::new(BIN).args(["ship", "--help"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("[:PASSWORD]"));
}

#[test]
fn a_role_with_exactly_the_documented_grants_ships_and_a_missing_one_is_named() {
    let Some(url) = pg_url("grants") else {
        return;
    };
    let (admin_url, role_url) = db_for_role(&url, "grants");
    let dir = tempfile::tempdir().unwrap();
    one_log(dir.path());
    let d = dir.path().display().to_string();
    let pw = [("PGPASSWORD", PASSWORD)];
    let out = ship_env(&[&d, "--to", &role_url], &pw);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 messages shipped"),
        "{}",
        stderr(&out)
    );

    let db = admin_url.rsplit_once('/').unwrap().1;
    let admin = |sql: &str| {
        rt().block_on(async { connect(&admin_url).await.batch_execute(sql).await.unwrap() })
    };
    admin(&format!(
        "REVOKE UPDATE (ended, ended_text) ON convlog.sessions FROM {ROLE}"
    ));
    let dir2 = tempfile::tempdir().unwrap();
    one_log(dir2.path());
    let out = ship_env(
        &[&dir2.path().display().to_string(), "--to", &role_url],
        &pw,
    );
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!(
            "role {ROLE} lacks UPDATE on column convlog.sessions.ended (to record a session's end); grant it with `GRANT UPDATE (ended, ended_text) ON convlog.sessions TO {ROLE}`"
        )),
        "{e}"
    );
    admin(&format!(
        "REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC, {ROLE}"
    ));
    admin(&format!(
        "GRANT UPDATE (ended, ended_text) ON convlog.sessions TO {ROLE}"
    ));
    let out = ship_env(&[&d, "--to", &role_url], &pw);
    assert!(
        stderr(&out).contains("lacks TEMPORARY on the database"),
        "{}",
        stderr(&out)
    );
    // Roles are shared by the cluster: leave none of this database's grants.
    admin(&format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA convlog FROM {ROLE}; REVOKE ALL ON SCHEMA convlog FROM {ROLE}; REVOKE ALL ON DATABASE {db} FROM {ROLE}"
    ));
}
