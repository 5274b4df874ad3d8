//! `convlog serve`: a read-only web viewer for the logs under some paths.
//!
//! - `/`: the sessions (see `list`);
//! - `/s/ROOT/NAME`: a session's page, the page `export --format html`
//!   writes, with a script that follows a live session (`live`);
//! - `/s/ROOT/NAME/events`: the live updates, as server-sent events;
//! - `/s/ROOT/NAME/log` and `/s/ROOT/NAME/export/FORMAT`: downloads;
//! - `/assets/…`: the stylesheet and the script, built into the binary.
//!
//! It writes nothing and takes no lock: a viewer never slows a writer.
//! Every response forbids inline script (Content-Security-Policy) and MIME
//! sniffing. On a loopback address a request must name the server by a
//! loopback host (so a web page cannot reach it through DNS rebinding);
//! with a token every request must carry it (a `Bearer` header, or once
//! `?token=` which sets a cookie), and a non-loopback address needs one.

use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{Error, Result};
use crate::export::html::{PageOptions, STYLESHEET, escaped, url_segment};
use crate::export::{ExportOptions, Format};
use crate::read::Recovery;

mod catalog;
mod list;
mod live;
mod stream;

pub use catalog::Catalog;

/// The script of a served session page (live updates).
const SCRIPT: &str = include_str!("assets/viewer.js");

/// The policy every response carries: nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The token cookie's name.
const COOKIE: &str = "convlog_token";

/// What to serve and how.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Logs or directories of logs.
    pub paths: Vec<PathBuf>,
    /// The address the listener is bound to (for the Host check).
    pub addr: SocketAddr,
    /// The token every request must carry, if any.
    pub token: Option<String>,
}

struct App {
    catalog: Catalog,
    addr: SocketAddr,
    token: Option<String>,
    hubs: live::Hubs,
}

/// Checks `opts` before anything is bound: a non-loopback address needs a
/// token, and every path must exist.
pub fn check(opts: &ServeOptions) -> Result<Catalog> {
    if !opts.addr.ip().is_loopback() && opts.token.as_deref().is_none_or(str::is_empty) {
        return Err(Error::InvalidInput(format!(
            "--addr {} is not a loopback address: transcripts are personal data, so serving \
             them beyond this machine needs --token or --token-file",
            opts.addr
        )));
    }
    Catalog::new(&opts.paths)
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    catalog: Catalog,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = Arc::new(App {
        catalog,
        addr: opts.addr,
        token: opts.token,
        hubs: live::Hubs::default(),
    });
    {
        // Summarise every log once in the background, so the first look at
        // a list of 10,000 sessions is as quick as the next.
        let app = app.clone();
        tokio::task::spawn_blocking(move || drop(app.catalog.summaries()));
    }
    let router = Router::new()
        .route("/", get(sessions))
        .route(
            "/assets/viewer.css",
            get(|| async { asset(STYLESHEET, "text/css; charset=utf-8") }),
        )
        .route(
            "/assets/viewer.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route("/s/{root}/{name}", get(session))
        .route("/s/{root}/{name}/events", get(live::events))
        .route("/s/{root}/{name}/log", get(download_log))
        .route("/s/{root}/{name}/export/{format}", get(download_export))
        .fallback(|| async { page_error(StatusCode::NOT_FOUND, "No such page.") })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::io(FsPath::new("<server>"), "serve", e))
}

/// Headers on every response, the Host check and the token.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let mut resp = if req.method() != Method::GET && req.method() != Method::HEAD {
        page_error(StatusCode::METHOD_NOT_ALLOWED, "This server is read-only.")
    } else if !host_allowed(&app, req.headers()) {
        page_error(
            StatusCode::MISDIRECTED_REQUEST,
            "Unexpected Host header: open the address the server printed.",
        )
    } else {
        match authorize(&app, &req) {
            Auth::Yes => next.run(req).await,
            Auth::SetCookie(token) => {
                // Drop the token from the address bar and history.
                let to = strip_token(req.uri().path(), req.uri().query());
                let mut r = StatusCode::SEE_OTHER.into_response();
                let h = r.headers_mut();
                h.insert(
                    header::LOCATION,
                    HeaderValue::from_str(&to).unwrap_or(HeaderValue::from_static("/")),
                );
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
                )) {
                    h.insert(header::SET_COOKIE, v);
                }
                r
            }
            Auth::No => {
                let mut r = page_error(
                    StatusCode::UNAUTHORIZED,
                    "This server needs its token: open it with ?token=… or send Authorization: Bearer ….",
                );
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// On a loopback address, only loopback names: a page elsewhere that
/// rebinds its own name to 127.0.0.1 sends its own name as Host.
fn host_allowed(app: &App, headers: &HeaderMap) -> bool {
    if !app.addr.ip().is_loopback() {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !n.ends_with(':') => n,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

enum Auth {
    Yes,
    No,
    SetCookie(String),
}

fn authorize(app: &App, req: &Request) -> Auth {
    let Some(token) = app.token.as_deref() else {
        return Auth::Yes;
    };
    let same = |given: &str| {
        let (a, b) = (given.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    };
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(same);
    if cookie || bearer.is_some_and(same) {
        return Auth::Yes;
    }
    let query = req.uri().query().unwrap_or("");
    let given = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("token="))
        .map(percent_decode)
        .find(|t| same(t));
    match given {
        Some(t) => Auth::SetCookie(t),
        None => Auth::No,
    }
}

/// Where to send a request that brought the token in its address: the
/// same address without it. Always a path on this server: a path starting
/// `//` or `/\` would read as another site's address in `Location`.
fn strip_token(path: &str, query: Option<&str>) -> String {
    let path = format!("/{}", path.trim_start_matches(['/', '\\']));
    let rest: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("token="))
        .collect();
    if rest.is_empty() {
        path
    } else {
        format!("{path}?{}", rest.join("&"))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// A short page saying what went wrong.
fn page_error(status: StatusCode, why: &str) -> Response {
    html(
        status,
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · convlog</title>\
             <link rel=\"stylesheet\" href=\"/assets/viewer.css\"></head><body><div class=\"page\">\
             <h1>{}</h1><p class=\"error\">{}</p><p><a href=\"/\">All sessions</a></p></div></body></html>\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            escaped(why)
        ),
    )
}

/// Runs blocking file work off the async threads (`None`: it panicked).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

fn failed() -> Response {
    page_error(StatusCode::INTERNAL_SERVER_ERROR, "The request failed.")
}

fn not_found() -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "No such session under the served paths.",
    )
}

async fn sessions(
    State(app): State<Arc<App>>,
    q: std::result::Result<Query<list::ListQuery>, QueryRejection>,
) -> Response {
    let q = match q {
        Ok(q) => q.0,
        Err(e) => return html(StatusCode::BAD_REQUEST, list::problem(&e.body_text())),
    };
    match blocking(move || list::render(&app.catalog, &q)).await {
        Some(Ok(body)) => html(StatusCode::OK, body),
        Some(Err(why)) => html(StatusCode::BAD_REQUEST, list::problem(&why)),
        None => failed(),
    }
}

/// The log a request names, if this server shows it.
fn resolve(app: &App, root: &str, name: &str) -> Option<PathBuf> {
    root.parse::<usize>()
        .ok()
        .and_then(|r| app.catalog.resolve(r, name))
}

/// The page for an error reading a log: a log deleted or replaced by
/// something else is gone (404); anything else is the server's problem to
/// report (500), with what the library said.
fn read_error(e: &Error) -> Response {
    let status = match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            StatusCode::NOT_FOUND
        }
        Error::NotALog { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    page_error(status, &e.to_string())
}

async fn session(
    State(app): State<Arc<App>>,
    Path((root, name)): Path<(String, String)>,
) -> Response {
    let Some(log) = resolve(&app, &root, &name) else {
        return not_found();
    };
    let base = format!("/s/{root}/{}", url_segment(&name));
    let mut downloads = vec![("log".to_string(), format!("{base}/log"))];
    downloads.extend(
        Format::ALL
            .iter()
            .map(|f| (f.as_str().to_string(), format!("{base}/export/{f}"))),
    );
    let page = PageOptions {
        stylesheet: Some("/assets/viewer.css".into()),
        script: Some("/assets/viewer.js".into()),
        home: Some("/".into()),
        live: Some(format!("{base}/events")),
        downloads,
    };
    stream::html(
        move |out| {
            crate::export::html::render_page(
                &log,
                out,
                FsPath::new("<response>"),
                &skip_corrupt(),
                page,
            )
            .map(drop)
        },
        read_error,
    )
    .await
}

/// Served pages and downloads show damaged logs whole, with what is damaged.
fn skip_corrupt() -> ExportOptions {
    ExportOptions {
        recovery: Recovery::SkipCorrupt,
        ..ExportOptions::default()
    }
}

fn attachment(body: Vec<u8>, kind: &'static str, name: &str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", url_segment(name)))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

async fn download_log(
    State(app): State<Arc<App>>,
    Path((root, name)): Path<(String, String)>,
) -> Response {
    let Some(log) = resolve(&app, &root, &name) else {
        return not_found();
    };
    let read = blocking(move || {
        use std::io::Read;
        let mut f = crate::fs::open_read(&log)?;
        let mut out = Vec::new();
        f.read_to_end(&mut out)
            .map_err(|e| Error::io(&log, "read", e))?;
        Ok::<_, Error>(out)
    })
    .await;
    match read {
        Some(Ok(bytes)) => attachment(bytes, "application/octet-stream", &name),
        Some(Err(e)) => read_error(&e),
        None => failed(),
    }
}

async fn download_export(
    State(app): State<Arc<App>>,
    Path((root, name, format)): Path<(String, String, String)>,
) -> Response {
    let Some(log) = resolve(&app, &root, &name) else {
        return not_found();
    };
    let Ok(format) = format.parse::<Format>() else {
        return page_error(StatusCode::NOT_FOUND, "No such export format.");
    };
    let stem = FsPath::new(&name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = format!("{stem}.{}", format.extension());
    let rendered = blocking(move || {
        let mut out = Vec::new();
        crate::export::render(
            &log,
            format,
            &mut out,
            FsPath::new("<response>"),
            &skip_corrupt(),
        )
        .map(|_| out)
    })
    .await;
    let kind = match format {
        Format::Html => "text/html; charset=utf-8",
        Format::Json => "application/json",
        _ => "text/plain; charset=utf-8",
    };
    match rendered {
        Some(Ok(body)) => attachment(body, kind, &file),
        Some(Err(e)) => read_error(&e),
        None => failed(),
    }
}
