//! Which database to ship to: a URL, or libpq's `PG*` variables, and a
//! description of it that never includes the password.

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
        let mut config = match &url {
            Some(u) => Config::from_str(u).map_err(|e| {
                // The parser's message never echoes the input, so no password leaks.
                ShipError::Config(format!("the database URL is not valid: {e}"))
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
        if url.as_deref().is_none_or(|u| !u.contains("sslmode"))
            && let Some(mode) = env("PGSSLMODE")
        {
            config.ssl_mode(match mode.as_str() {
                "disable" => SslMode::Disable,
                "allow" | "prefer" => SslMode::Prefer,
                "require" | "verify-ca" | "verify-full" => SslMode::Require,
                other => {
                    return Err(ShipError::Config(format!(
                        "PGSSLMODE {other:?} is not one of disable, prefer, require"
                    )));
                }
            });
        }
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
            tls: tls()?,
        })
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

fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, ShipError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ShipError::Config(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
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
    fn without_any_source_the_error_says_what_to_give() {
        let e = Target::resolve_with(None, env(&[("USER", "x")])).unwrap_err();
        assert!(e.to_string().contains("--to"), "{e}");
        let e = Target::resolve_with(Some("postgres://a:pw@h:notaport/db"), env(&[])).unwrap_err();
        assert!(!e.to_string().contains("pw@"), "{e}");
    }
}
