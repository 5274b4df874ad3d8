//! `convlog serve`: the read-only transcript viewer in a browser.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::Args;
use convlog::serve::{self, ServeOptions};
use convlog::{Error, Result};

use super::exit::Exit;
use super::util::{paths_or_default, runtime};

/// Look at sessions in a browser: a read-only web viewer, live for open sessions.
///
/// Lists the sessions under PATHS (sortable, filtered by time and text,
/// a hundred per page) and shows each as a page: the conversation with
/// time offsets, sources, merged turns and interruptions, a timeline of
/// who spoke when, latency bars from meta, the damage verify finds, and
/// downloads of the log and every export format. An open session's page
/// updates as messages are written. It writes nothing and never makes a
/// writer wait.
///
/// Security: it listens on 127.0.0.1 unless --addr says otherwise; an
/// address that is not loopback requires --token or --token-file, and
/// every request without the token then gets 401 Unauthorized.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  convlog serve                          # http://127.0.0.1:7878/ for ./conversations\n  convlog serve /var/log/agent --addr 127.0.0.1:9000\n  convlog serve --addr 0.0.0.0:7878 --token-file /etc/convlog/token   # beyond this machine: token required"
)]
pub struct ServeArgs {
    /// Logs or directories of logs (default: ./conversations).
    paths: Vec<PathBuf>,
    /// Address to listen on. Loopback by default; any other address needs
    /// --token or --token-file, and then every request without the token
    /// gets 401 Unauthorized.
    #[arg(long, default_value = "127.0.0.1:7878", value_parser = parse_addr, value_name = "IP:PORT")]
    addr: SocketAddr,
    /// A token every request must carry: `Authorization: Bearer TOKEN`, or
    /// open the page once as `http://HOST:PORT/?token=TOKEN` (it sets a
    /// cookie). Visible to other users in `ps`: prefer --token-file.
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_file")]
    token: Option<String>,
    /// Read the token from this file (its first line).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

/// `IP:PORT`, or `localhost:PORT`.
fn parse_addr(s: &str) -> std::result::Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bad = || {
        format!(
            "{s:?} is not an address to listen on: expected IP:PORT, e.g. 127.0.0.1:7878 or [::1]:7878"
        )
    };
    match s.rsplit_once(':') {
        Some(("localhost", _)) => s
            .to_socket_addrs()
            .map_err(|_| bad())?
            .next()
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

pub fn run(a: ServeArgs) -> Result<Exit> {
    let token = match (&a.token, &a.token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(f)) => {
            let text =
                std::fs::read_to_string(f).map_err(|e| Error::io(f, "read the token file", e))?;
            let t = text.lines().next().unwrap_or("").trim().to_string();
            if t.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "{}: the token file is empty",
                    f.display()
                )));
            }
            Some(t)
        }
        (None, None) => None,
    };
    let mut opts = ServeOptions {
        paths: paths_or_default(a.paths),
        addr: a.addr,
        token,
    };
    let catalog = match serve::check(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("convlog serve: {e}");
            return Ok(Exit::Error);
        }
    };
    let rt = runtime()?;
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => " (the port is in use: choose another with --addr)",
                std::io::ErrorKind::AddrNotAvailable => " (no interface of this machine has that address)",
                std::io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
                _ => "",
            };
            Error::Internal(format!("cannot listen on {}: {e}{hint}", opts.addr))
        })?;
        opts.addr = listener
            .local_addr()
            .map_err(|e| Error::io(std::path::Path::new("<listener>"), "local address", e))?;
        let shown = opts.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        let host = if opts.addr.ip().is_unspecified() { "localhost".to_string() } else { opts.addr.ip().to_string() };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        println!("http://{host}:{}/", opts.addr.port());
        eprintln!(
            "convlog serve: showing {shown} read-only{}; Ctrl-C stops",
            if opts.token.is_some() { ", token required" } else { "" }
        );
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        };
        serve::serve(listener, catalog, opts, shutdown).await
    });
    match served {
        Ok(()) => Ok(Exit::Ok),
        Err(e) => {
            eprintln!("convlog serve: {e}");
            Ok(Exit::Error)
        }
    }
}
