//! Which database to ship to: a URL, or libpq's `PG*` variables, a password
//! file as libpq reads it, TLS with libpq's `sslmode` meanings and client
//! certificates, and a description of it that never includes the password.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config};

use super::ShipError;

/// A resolved connection target.
#[derive(Clone)]
pub struct Target {
    config: Config,
    shown: String,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    notes: Vec<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // tokio-postgres's own Debug is safe too, but the one string we show
        // everywhere is the one that is checked to hold no password.
        f.write_str(&self.shown)
    }
}

impl Target {
    /// The target from `url` (a `postgres://` URL or a libpq `key=value`
    /// string) or, when it is `None`, from `CONVLOG_PG_URL`, or else from
    /// libpq's `PG*` variables alone. As with libpq, whatever the URL leaves
    /// out (password, user, …) is taken from `PGPASSWORD`, `PGUSER`, ….
    pub fn resolve(url: Option<&str>) -> Result<Target, ShipError> {
        Target::resolve_with(url, |k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// [`Target::resolve`] with the environment given as a function, for tests.
    pub fn resolve_with(
        url: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Target, ShipError> {
        let url = url.map(str::to_string).or_else(|| env("CONVLOG_PG_URL"));
        // tokio-postgres knows neither the verifying modes nor a root
        // certificate file; take them out of the URL and handle them here.
        let (url, url_tls) = match url {
            Some(u) => {
                let (rest, tls) = split_tls_params(&u);
                (Some(rest), tls)
            }
            None => (None, TlsParams::default()),
        };
        let mut config = match &url {
            Some(u) => Config::from_str(u).map_err(|e| {
                // The parser's message never echoes the input, so no password
                // leaks; nor does it say what is wrong, so a port is checked here.
                let why = bad_port(u).unwrap_or_else(|| e.to_string());
                ShipError::Config(format!("the database URL is not valid: {why}"))
            })?,
            None => {
                if !["PGHOST", "PGDATABASE", "PGUSER", "PGPORT", "PGHOSTADDR"]
                    .iter()
                    .any(|k| env(k).is_some())
                {
                    return Err(ShipError::Config(
                        "no database given: pass --to postgres://USER@HOST/DB, or set CONVLOG_PG_URL or libpq's PGHOST/PGDATABASE/PGUSER".into(),
                    ));
                }
                Config::new()
            }
        };
        if config.get_ports().contains(&0) {
            return Err(ShipError::Config(
                "the database URL is not valid: the port \"0\" is not a number from 1 to 65535"
                    .into(),
            ));
        }
        if config.get_hosts().is_empty() {
            let host = env("PGHOST").unwrap_or_else(|| "localhost".into());
            for h in host.split(',') {
                config.host(h);
            }
        }
        // tokio-postgres gives a URL without a port 5432 already, so PGPORT
        // only counts when there is no URL at all.
        if url.is_none()
            && let Some(p) = env("PGPORT")
        {
            let port = p
                .parse()
                .map_err(|_| ShipError::Config(format!("PGPORT {p:?} is not a port number")))?;
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .or_else(|| env("LOGNAME"))
                .ok_or_else(|| {
                    ShipError::Config("no database user: put one in the URL or set PGUSER".into())
                })?;
            config.user(user);
        }
        if config.get_dbname().is_none()
            && let Some(db) = env("PGDATABASE")
        {
            config.dbname(db);
        }
        if config.get_password().is_none()
            && let Some(pw) = env("PGPASSWORD")
        {
            config.password(pw);
        }
        let mut notes = Vec::new();
        if config.get_password().is_none() {
            match super::pgpass::lookup(&config, &env) {
                Ok(Some(pw)) => {
                    config.password(pw);
                }
                Ok(None) => {}
                Err(note) => notes.push(note),
            }
        }
        // Keepalives find a peer that vanished (a cut network, a crashed
        // host) in about a minute instead of the kernel's two hours; the user
        // timeout bounds data left unacknowledged.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(60));
        let mode = match url_tls.mode {
            Some(m) => Some(m),
            None if url.as_deref().is_some_and(|u| u.contains("sslmode")) => None,
            None => env("PGSSLMODE"),
        };
        let mut verify = false;
        if let Some(mode) = mode {
            config.ssl_mode(match mode.as_str() {
                "disable" => SslMode::Disable,
                "allow" | "prefer" => SslMode::Prefer,
                "require" => SslMode::Require,
                "verify-ca" | "verify-full" => {
                    verify = true;
                    SslMode::Require
                }
                other => {
                    return Err(ShipError::Config(format!(
                        "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                    )));
                }
            });
        }
        let root_cert = url_tls.root_cert.or_else(|| env("PGSSLROOTCERT"));
        // A client certificate as libpq finds it: sslcert/sslkey, else
        // PGSSLCERT/PGSSLKEY, else ~/.postgresql/postgresql.{crt,key} if present.
        let home_file = |name: &str| {
            env("HOME")
                .map(|h| format!("{h}/.postgresql/{name}"))
                .filter(|p| std::path::Path::new(p).is_file())
        };
        let client_cert = url_tls
            .cert
            .or_else(|| env("PGSSLCERT"))
            .or_else(|| home_file("postgresql.crt"));
        let client_key = url_tls
            .key
            .or_else(|| env("PGSSLKEY"))
            .or_else(|| home_file("postgresql.key"));
        let client = match (client_cert, client_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (Some(c), None) => {
                return Err(ShipError::Config(format!(
                    "client certificate {c} has no key: give sslkey (or PGSSLKEY)"
                )));
            }
            _ => None,
        };
        if config.get_connect_timeout().is_none() {
            let secs = env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse().ok())
                .unwrap_or(10);
            config.connect_timeout(Duration::from_secs(secs));
        }
        if config.get_application_name().is_none() {
            config.application_name(
                env("PGAPPNAME").unwrap_or_else(|| format!("convlog ship {}", crate_version())),
            );
        }
        let shown = describe(&config);
        Ok(Target {
            config,
            shown,
            tls: tls(verify, root_cert.as_deref(), client.as_ref())?,
            notes,
        })
    }

    /// Warnings found while resolving (a password file ignored for its
    /// permissions), for the caller to show.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// `postgres://user@host:port/db`, without the password.
    pub fn describe(&self) -> &str {
        &self.shown
    }

    /// The tokio-postgres configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Opens a connection (TLS as the `sslmode` asks: `prefer` by default,
    /// verified against the Mozilla roots through rustls) and drives it on
    /// its own task.
    pub async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, conn) = self.config.connect(self.tls.clone()).await?;
        tokio::spawn(async move {
            // The error surfaces again on the client's next call; the shipper
            // reports it there, once per outage.
            let _ = conn.await;
        });
        Ok(client)
    }
}

fn crate_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `sslmode`, `sslrootcert`, `sslcert` and `sslkey` as found in a URL.
#[derive(Debug, Default, PartialEq)]
struct TlsParams {
    mode: Option<String>,
    root_cert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a libpq
/// `key=value` string, leaving what tokio-postgres parses.
fn split_tls_params(url: &str) -> (String, TlsParams) {
    let mut tls = TlsParams::default();
    let mut take = |kv: &str| -> bool {
        match kv.split_once('=') {
            Some(("sslmode", v)) => {
                tls.mode = Some(v.to_string());
                true
            }
            Some(("sslrootcert", v)) => {
                tls.root_cert = Some(v.to_string());
                true
            }
            Some(("sslcert", v)) => {
                tls.cert = Some(v.to_string());
                true
            }
            Some(("sslkey", v)) => {
                tls.key = Some(v.to_string());
                true
            }
            _ => false,
        }
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query.split('&').filter(|kv| !take(kv)).collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_string(),
        }
    } else {
        url.split_whitespace()
            .filter(|kv| !take(kv))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, tls)
}

/// TLS as libpq does it: `prefer` and `require` encrypt without checking
/// who answers (a stock Debian server has a self-signed certificate);
/// `verify-ca` and `verify-full` check the certificate chain and the host
/// name (rustls always checks both) against `sslrootcert`, or the Mozilla
/// roots when none is given.
fn tls(
    verify: bool,
    root_cert: Option<&str>,
    client: Option<&(String, String)>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ShipError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ShipError::Config(format!("cannot set up TLS: {e}")))?;
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        match root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        ShipError::Config(format!("{path}: cannot read root certificates: {e}"))
                    })?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(ShipError::Config(format!(
                        "{path}: no usable root certificate in it"
                    )));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
    };
    let config = match client {
        None => config.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    ShipError::Config(format!("{cert}: cannot read the client certificate: {e}"))
                })?;
            let der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                ShipError::Config(format!("{key}: cannot read the client key: {e}"))
            })?;
            config.with_client_auth_cert(certs, der).map_err(|e| {
                ShipError::Config(format!("{cert}, {key}: unusable client certificate: {e}"))
            })?
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Accepts any server certificate but still checks the handshake's
/// signatures: encryption without authentication, libpq's `require`.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn describe(c: &Config) -> String {
    let user = c.get_user().unwrap_or("");
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match c.get_ports().get(i).or(c.get_ports().first()) {
                Some(p) => format!("{host}:{p}"),
                None => format!("{host}:5432"),
            }
        })
        .collect();
    let db = c.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{db}", hosts.join(","))
}

/// What is wrong with the port(s) of `url` (a URL or `key=value` string),
/// if that is why it does not parse. Names the port, never anything else
/// of the URL.
fn bad_port(url: &str) -> Option<String> {
    let mut ports: Vec<&str> = Vec::new();
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        let (authority, query) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], rest[i..].split_once('?').map_or("", |q| q.1)),
            None => (rest, ""),
        };
        let hosts = authority.rsplit_once('@').map_or(authority, |a| a.1);
        for h in hosts.split(',') {
            let after = match h.strip_prefix('[') {
                Some(v6) => v6.split_once(']').map_or("", |x| x.1),
                None => h,
            };
            if let Some((_, p)) = after.rsplit_once(':') {
                ports.push(p);
            }
        }
        ports.extend(
            query
                .split('&')
                .filter_map(|kv| kv.strip_prefix("port="))
                .flat_map(|p| p.split(',')),
        );
    } else {
        ports.extend(
            url.split_whitespace()
                .filter_map(|kv| kv.strip_prefix("port="))
                .flat_map(|p| p.trim_matches('\'').split(',')),
        );
    }
    let bad = ports
        .into_iter()
        .find(|p| !p.is_empty() && p.parse::<u16>().map_or(true, |n| n == 0))?;
    Some(format!("the port {bad:?} is not a number from 1 to 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_description_never_holds_the_password() {
        let t = Target::resolve_with(Some("postgres://ann:s3cret@db.example:6543/logs"), env(&[]))
            .unwrap();
        assert_eq!(t.describe(), "postgres://ann@db.example:6543/logs");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn libpq_variables_fill_what_the_url_leaves_out() {
        let vars = [("PGPASSWORD", "pw"), ("PGUSER", "bob"), ("PGPORT", "5999")];
        let t = Target::resolve_with(Some("postgres://db.example/logs"), env(&vars)).unwrap();
        assert_eq!(t.config().get_password(), Some(&b"pw"[..]));
        assert_eq!(t.describe(), "postgres://bob@db.example:5432/logs");
        let t = Target::resolve_with(None, env(&[("PGHOST", "/run/pg"), ("PGUSER", "u")])).unwrap();
        assert_eq!(t.describe(), "postgres://u@/run/pg:5432/u");
        let t = Target::resolve_with(None, env(&vars)).unwrap();
        assert_eq!(t.describe(), "postgres://bob@localhost:5999/bob");
    }

    #[test]
    fn verifying_modes_and_the_root_certificate_are_taken_out_of_the_url() {
        let (rest, tls) = split_tls_params(
            "postgres://a@h/db?sslmode=verify-full&application_name=x&sslrootcert=/ca.pem",
        );
        assert_eq!(rest, "postgres://a@h/db?application_name=x");
        assert_eq!(tls.mode.as_deref(), Some("verify-full"));
        assert_eq!(tls.root_cert.as_deref(), Some("/ca.pem"));
        let (rest, tls) = split_tls_params("host=h user=a sslmode=require");
        assert_eq!(rest, "host=h user=a");
        assert_eq!(tls.mode.as_deref(), Some("require"));
        let e =
            Target::resolve_with(Some("postgres://a@h/db?sslmode=bogus"), env(&[])).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = Target::resolve_with(
            Some("postgres://a@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
            env(&[]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn without_any_source_the_error_says_what_to_give() {
        let e = Target::resolve_with(None, env(&[("USER", "x")])).unwrap_err();
        assert!(e.to_string().contains("--to"), "{e}");
        let e = Target::resolve_with(Some("postgres://a:pw@h:notaport/db"), env(&[])).unwrap_err();
        assert!(!e.to_string().contains("pw@"), "{e}");
    }

    #[test]
    fn a_bad_port_is_named() {
        for (url, port) in [
            ("postgres://u:secret@localhost:99999/db", "99999"),
            ("postgresql://u@[::1]:x1/db", "x1"),
            ("postgres://u@a:5432,b:0/db", "0"),
            ("postgres://u@a/db?port=70000", "70000"),
            ("host=a port=123456 password=secret", "123456"),
        ] {
            let e = Target::resolve_with(Some(url), |_| None)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!(
                    "the port \"{port}\" is not a number from 1 to 65535"
                )),
                "{url}: {e}"
            );
            assert!(!e.contains("secret"), "{e}");
        }
        assert_eq!(bad_port("postgres://u@localhost:5432/db"), None);
    }
}
