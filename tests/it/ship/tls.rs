//! TLS: encryption with `require`, the certificate checked with `verify-full`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use convlog::{Message, Session};

use super::harness::*;
use crate::util::stderr;

/// The extensions of a server certificate for localhost.
const SERVER_EXT: &str = "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n";

/// True when openssl is here to make the test certificates; otherwise the
/// test `test` skips, through the one gate.
fn have_openssl(test: &str) -> bool {
    if Command::new("openssl").arg("version").output().is_ok() {
        return true;
    }
    let why = "openssl is not installed (it makes the test certificates)";
    crate::util::skip(test, why);
    false
}

/// Runs `openssl ARGS` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
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
}

/// In `dir`: a private CA (`ca.crt`, `ca.key`) and, signed by it, one
/// certificate per `(name, common name, extensions)`: `NAME.crt` and its
/// key `NAME.key` (0600).
fn certificates(dir: &Path, certs: &[(&str, &str, &str)]) {
    openssl(
        dir,
        &[
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
        ],
    );
    for (name, cn, ext) in certs {
        let (key, csr, crt, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        std::fs::write(dir.join(&extfile), ext).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &extfile,
                "-out",
                &crt,
            ],
        );
        std::fs::set_permissions(
            dir.join(&key),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
}

#[test]
fn tls_encrypts_with_require_and_checks_the_certificate_with_verify_full() {
    if pg_url("tls").is_none() {
        return;
    }
    if !have_openssl("tls") {
        return;
    }
    let mut ca = PathBuf::new();
    let cluster = Cluster::start_with(|dir| {
        // A private CA and a server certificate for localhost signed by it.
        ca = dir.join("ca.crt");
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        certificates(dir, &[("server", "localhost", SERVER_EXT)]);
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

#[test]
fn a_client_certificate_authenticates_where_the_server_asks_for_one() {
    if pg_url("client_certificate").is_none() {
        return;
    }
    if !have_openssl("client_certificate") {
        return;
    }
    let mut files = PathBuf::new();
    let cluster = Cluster::start_with(|dir| {
        files = dir.to_path_buf();
        // The server's certificate, and the client's for role postgres
        // (with extensions, so the certificate is X.509 v3: webpki takes no v1).
        certificates(
            dir,
            &[
                ("server", "localhost", SERVER_EXT),
                (
                    "client",
                    "postgres",
                    "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
                ),
            ],
        );
        std::fs::write(
            dir.join("hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 cert\nhostssl all all ::1/128 cert\n",
        )
        .unwrap();
        format!(
            "-c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key -c ssl_ca_file={d}/ca.crt -c hba_file={d}/hba.conf",
            d = dir.display()
        )
    })
    .expect("CONVLOG_TEST_PG_BIN is not set: the client certificate test needs initdb and pg_ctl");
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let s = Session::create(dir.path()).unwrap();
        s.append(Message::user("signed in", "stt")).await.unwrap();
        s.end().await.unwrap();
    });
    // The client's key and certificate as a user keeps them: readable by
    // this process only (the cluster's directory belongs to its user).
    let mine = tempfile::tempdir().unwrap();
    for f in ["client.crt", "client.key", "ca.crt"] {
        std::fs::copy(files.join(f), mine.path().join(f)).unwrap();
    }
    let base = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        cluster.url(),
        mine.path().join("ca.crt").display()
    );
    let d = dir.path().display().to_string();
    let out = ship(&[&d, "--to", &base]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));
    let with_cert = format!(
        "{base}&sslcert={}&sslkey={}",
        mine.path().join("client.crt").display(),
        mine.path().join("client.key").display()
    );
    let out = ship(&[&d, "--to", &with_cert]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 messages shipped"),
        "{}",
        stderr(&out)
    );
}
