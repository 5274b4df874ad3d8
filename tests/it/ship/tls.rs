//! TLS: encryption with `require`, the certificate checked with `verify-full`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use convlog::{Message, Session};

use super::harness::*;
use crate::util::stderr;

#[test]
fn tls_encrypts_with_require_and_checks_the_certificate_with_verify_full() {
    if pg_url("tls").is_none() {
        return;
    }
    if Command::new("openssl").arg("version").output().is_err() {
        let why = "openssl is not installed (it makes the test server's certificate)";
        crate::util::skip("tls", why);
        return;
    }
    let mut ca = PathBuf::new();
    let cluster = Cluster::start_with(|dir| {
        // A private CA and a server certificate for localhost signed by it.
        ca = dir.join("ca.crt");
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(dir)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=convlog test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        format!(
            "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert.display(),
            key.display()
        )
    })
    .expect("CONVLOG_TEST_PG_BIN is not set: the TLS test needs initdb and pg_ctl");
    let url = cluster.url();
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        s.append(Message::user("secret transcript 🙏", "stt"))
            .await
            .unwrap();
        s.end().await.unwrap();
    });
    let d = dir.path().display().to_string();

    // verify-full against the Mozilla roots: a self-signed server is refused.
    let out = ship(&[&d, "--to", &format!("{url}?sslmode=verify-full")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));

    // require: encrypted, not authenticated, as libpq does it.
    let mut child = Command::new(BIN)
        .args([
            "ship",
            "--follow",
            "--quiet",
            "--to",
            &format!("{url}?sslmode=require"),
        ])
        .arg(dir.path())
        .spawn()
        .unwrap();
    assert_eq!(wait_for_rows(&rt, &url, 1, Duration::from_secs(30)), 1);
    let ssl: Vec<bool> = rt.block_on(async {
        connect(&url)
            .await
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                  WHERE a.application_name LIKE 'convlog ship%'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    signal(&child, libc::SIGTERM);
    assert!(child.wait().unwrap().success());
    assert_eq!(ssl, [true], "the shipper's connection is encrypted");

    // verify-full with the private CA as the root: accepted.
    let out = ship(&[
        &d,
        "--to",
        &format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 ended sessions already complete"),
        "{}",
        stderr(&out)
    );
}
