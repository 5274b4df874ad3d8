//! Live updates: what an open session gains, pushed to its pages as
//! server-sent events within a poll interval of the append.
//!
//! One follower per followed log, however many pages watch it: a thread
//! reads what the log gains (the library's [`Follower`], no lock, so the
//! writer never waits), renders each record as the page would, and
//! broadcasts it. A page that subscribes gets what it missed since it was
//! rendered from a backlog, then each new record, written to it in batches
//! of whatever arrived since its last write (so fifty pages cost fifty
//! writes per poll, not fifty per record); the stream ends with the
//! session (`end`), when the log disappears (`gone`), or when the page must
//! reload (`reload`: the log was cut shorter, or the page fell too far behind).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast;

use super::App;
use crate::export::html::{ItemWriter, escaped, outline};
use crate::export::{Action, ExportMessage};
use crate::read::{Followed, Follower, POLL, Recovery};

/// Events kept for pages that subscribe late.
const BACKLOG: usize = 4096;
/// A follower nobody listens to stops after this long.
const IDLE: Duration = Duration::from_secs(5);

/// One event, rendered once for every page.
#[derive(Debug)]
struct Ev {
    /// The record's seq (0 for events that are not records).
    seq: u64,
    name: &'static str,
    data: String,
    /// Nothing follows it.
    last: bool,
}

#[derive(Default)]
struct HubState {
    backlog: VecDeque<Arc<Ev>>,
    /// Events were dropped from the front of the backlog.
    truncated: bool,
    /// The follower thread has stopped.
    done: bool,
}

struct Hub {
    state: Mutex<HubState>,
    tx: broadcast::Sender<Arc<Ev>>,
}

/// The logs being followed.
#[derive(Default)]
pub struct Hubs {
    map: Arc<Mutex<HashMap<PathBuf, Arc<Hub>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hubs {
    /// What a page that has seen records up to `after` gets: the events it
    /// missed and a receiver for the rest (taken under the hub's lock, so
    /// nothing falls between them), or a reload when the backlog no longer
    /// reaches back that far.
    fn subscribe(
        &self,
        log: &FsPath,
        after: u64,
    ) -> (Vec<Arc<Ev>>, Option<broadcast::Receiver<Arc<Ev>>>) {
        let mut map = lock(&self.map);
        let hub = match map.get(log) {
            Some(h) if !lock(&h.state).done => h.clone(),
            _ => {
                let hub = Arc::new(Hub {
                    state: Mutex::new(HubState::default()),
                    tx: broadcast::channel(BACKLOG).0,
                });
                map.insert(log.to_path_buf(), hub.clone());
                let (hub2, map2, path) = (hub.clone(), self.map.clone(), log.to_path_buf());
                std::thread::Builder::new()
                    .name("convlog-follow".into())
                    .spawn(move || follow(&path, &hub2, &map2))
                    .ok();
                hub
            }
        };
        let st = lock(&hub.state);
        let missed: Vec<Arc<Ev>> = st
            .backlog
            .iter()
            .filter(|e| e.seq == 0 || e.seq > after)
            .cloned()
            .collect();
        if st.truncated && st.backlog.front().is_some_and(|e| e.seq > after + 1) {
            return (vec![reload()], None);
        }
        let rx = (!st.done).then(|| hub.tx.subscribe());
        (missed, rx)
    }
}

/// The follower thread of one log.
fn follow(log: &FsPath, hub: &Hub, map: &Mutex<HashMap<PathBuf, Arc<Hub>>>) {
    let publish = |seq: u64, name: &'static str, data: String, last: bool| {
        let ev = Arc::new(Ev {
            seq,
            name,
            data,
            last,
        });
        let mut st = lock(&hub.state);
        if st.backlog.len() == BACKLOG {
            st.backlog.pop_front();
            st.truncated = true;
        }
        st.backlog.push_back(ev.clone());
        let _ = hub.tx.send(ev);
    };
    let start = (|| {
        let o = outline(log, Recovery::SkipCorrupt)?;
        let f = Follower::open(log)?;
        let ino = std::os::unix::fs::MetadataExt::ino(
            &std::fs::symlink_metadata(log).map_err(|e| crate::Error::io(log, "stat", e))?,
        );
        Ok::<_, crate::Error>((
            ItemWriter::new(o.origin, o.latency_max, o.slow_from),
            f,
            ino,
            o.origin,
        ))
    })();
    let (mut items, mut follower, ino, mut origin) = match start {
        Ok(s) => s,
        Err(e) => {
            publish(0, "gone", json(&[("why", &e.to_string())]), true);
            finish(log, hub, map, true);
            return;
        }
    };
    let mut idle_since: Option<Instant> = None;
    let mut html = String::new();
    loop {
        match follower.next_event() {
            Ok(Some(Followed::Message(m))) => {
                let m = ExportMessage::single(m);
                html.clear();
                items.write(&mut html, &m);
                // Its offset on the timeline, counted from the session's
                // first message as the page's timeline counts.
                let ms = crate::time::parse_ts(&m.ts)
                    .ok()
                    .map(|t| crate::export::html::millis(origin.get_or_insert(t), &t));
                let data = serde_json::json!({
                    "seq": m.seq,
                    "role": m.role.as_str(),
                    "turn": m.turn,
                    "interrupted": m.interrupted,
                    "ms": ms,
                    "html": html,
                });
                publish(m.seq, "msg", data.to_string(), false);
            }
            Ok(Some(Followed::Tool(t))) => action(&publish, &mut items, &mut html, Action::Tool(t)),
            Ok(Some(Followed::Handoff(h))) => {
                action(&publish, &mut items, &mut html, Action::Handoff(h))
            }
            Ok(Some(Followed::End)) => {
                publish(0, "end", "{}".into(), true);
                finish(log, hub, map, true);
                return;
            }
            Ok(Some(Followed::Skipped {
                line,
                offset,
                error,
            })) => {
                let li = format!(
                    "<li class=\"damage\" id=\"line-{line}\">Line {line} (byte {offset}): <strong>damaged</strong> — {}</li>\n",
                    escaped(&error.to_string())
                );
                publish(
                    0,
                    "damage",
                    serde_json::json!({ "html": li }).to_string(),
                    false,
                );
            }
            Ok(Some(Followed::Shrunk { .. })) => {
                publish(0, "reload", "{}".into(), true);
                finish(log, hub, map, true);
                return;
            }
            Ok(None) => {
                let same = std::fs::symlink_metadata(log)
                    .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == ino);
                if !same {
                    publish(
                        0,
                        "gone",
                        json(&[("why", "the log was removed or replaced")]),
                        true,
                    );
                    finish(log, hub, map, true);
                    return;
                }
                if hub.tx.receiver_count() == 0 {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= IDLE && finish(log, hub, map, false) {
                        return;
                    }
                } else {
                    idle_since = None;
                }
                std::thread::sleep(POLL);
            }
            Err(e) => {
                publish(0, "gone", json(&[("why", &e.to_string())]), true);
                finish(log, hub, map, true);
                return;
            }
        }
    }
}

/// Publishes a tool call or handoff as the page shows it.
fn action(
    publish: &impl Fn(u64, &'static str, String, bool),
    items: &mut ItemWriter,
    html: &mut String,
    a: Action,
) {
    html.clear();
    items.write_action(html, &a);
    let data = serde_json::json!({ "seq": a.seq(), "role": a.role(), "turn": null, "html": html });
    publish(a.seq(), "msg", data.to_string(), false);
}

/// Stops the hub (unconditionally, or only if still nobody listens, checked
/// under the map's lock that subscribers take): true when it stopped.
fn finish(log: &FsPath, hub: &Hub, map: &Mutex<HashMap<PathBuf, Arc<Hub>>>, always: bool) -> bool {
    let mut map = lock(map);
    if !always && hub.tx.receiver_count() > 0 {
        return false;
    }
    lock(&hub.state).done = true;
    if map
        .get(log)
        .is_some_and(|h| std::ptr::eq(Arc::as_ptr(h), hub))
    {
        map.remove(log);
    }
    true
}

fn json(fields: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// `?after=SEQ`: the last record the page shows.
#[derive(Debug, Default, Deserialize)]
pub struct After {
    after: Option<u64>,
}

/// `GET /s/ROOT/NAME/events`.
pub async fn events(
    State(app): State<Arc<App>>,
    Path((root, name)): Path<(String, String)>,
    q: Query<After>,
) -> Response {
    let Some(log) = super::resolve(&app, &root, &name) else {
        return super::not_found();
    };
    let after = q.0.after.unwrap_or(0);
    let (missed, rx) = app.hubs.subscribe(&log, after);
    let page = Page {
        missed: VecDeque::from(missed),
        rx,
        after,
        over: false,
    };
    let stream = futures_util::stream::unfold(page, |mut page| async move {
        let batch = page.batch().await?;
        Some((Ok::<_, Infallible>(Bytes::from(batch)), page))
    });
    let mut r = Body::from_stream(stream).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A batch stops growing once it holds this many bytes.
const BATCH_BYTES: usize = 256 << 10;

/// One page's stream: what it missed since it was rendered, then the hub's.
struct Page {
    missed: VecDeque<Arc<Ev>>,
    rx: Option<broadcast::Receiver<Arc<Ev>>>,
    /// The last record the page shows: a new follower starts from the
    /// log's first record, and what the page already shows is skipped.
    after: u64,
    /// The last event went out: nothing follows it.
    over: bool,
}

impl Page {
    /// The next events, as the text of the stream: waits for one (a
    /// keep-alive comment every 15 s meanwhile), then takes every event
    /// already waiting. However fast the log grows, a page costs one write
    /// per poll of the follower, not one per record.
    async fn batch(&mut self) -> Option<String> {
        if self.over {
            return None;
        }
        let mut out = String::new();
        let first = loop {
            match tokio::time::timeout(Duration::from_secs(15), self.wait()).await {
                Ok(Some(ev)) if ev.seq == 0 || ev.seq > self.after => break ev,
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(_) => return Some(": keep-alive\n\n".into()),
            }
        };
        self.push(&mut out, &first);
        while !self.over && out.len() < BATCH_BYTES {
            match self.ready() {
                Some(ev) if ev.seq == 0 || ev.seq > self.after => self.push(&mut out, &ev),
                Some(_) => {}
                None => break,
            }
        }
        Some(out)
    }

    /// The next event, waiting for it (`None`: the hub has stopped).
    async fn wait(&mut self) -> Option<Arc<Ev>> {
        if let Some(ev) = self.missed.pop_front() {
            return Some(ev);
        }
        match self.rx.as_mut()?.recv().await {
            Ok(ev) => Some(ev),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(reload()),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting.
    fn ready(&mut self) -> Option<Arc<Ev>> {
        if let Some(ev) = self.missed.pop_front() {
            return Some(ev);
        }
        match self.rx.as_mut()?.try_recv() {
            Ok(ev) => Some(ev),
            Err(broadcast::error::TryRecvError::Lagged(_)) => Some(reload()),
            Err(_) => None,
        }
    }

    /// Appends `ev` in the stream's framing.
    fn push(&mut self, out: &mut String, ev: &Ev) {
        out.push_str("event: ");
        out.push_str(ev.name);
        out.push('\n');
        // The data is JSON, which has no raw line break; a line each if it had.
        for line in ev.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        self.over = ev.last;
    }
}

/// What a page that fell too far behind gets.
fn reload() -> Arc<Ev> {
    Arc::new(Ev {
        seq: 0,
        name: "reload",
        data: "{}".into(),
        last: true,
    })
}
