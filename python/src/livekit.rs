//! The LiveKit recorder's per-item work, in Rust: [`Items`] is the
//! `conversation_item_added` handler LiveKit calls itself, and
//! [`item_message`] reads a `ChatMessage` into a message in one call, so
//! that the agent's event loop runs no Python frame, builds no `meta` dict
//! and no keyword arguments for a message.

use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use serde_json::{Map, Value};

use convlog::Message;
use convlog::record::Role;

use crate::engine;
use crate::errors::logger;
use crate::session::Session;

/// The recorder's handler for LiveKit's `conversation_item_added`.
///
/// LiveKit's `emit` calls `inspect.signature` on each handler at every
/// event, then the handler: this object answers the first with one
/// attribute lookup (`__signature__`) and records a user or agent message
/// whose source it knows (`source=`, the item's STT/TTS metrics, or typed
/// text) without entering Python. Everything else (a tool call or handoff
/// item, a streamed reply's final item, markup to strip, a source only the
/// session's STT/TTS can tell, an empty message) goes to `slow`, the
/// recorder's Python handler, with the item. It never raises into LiveKit.
#[pyclass(frozen, module = "convlog._convlog", name = "LiveKitItems")]
pub struct Items {
    log: Py<Session>,
    /// `source=` for user and agent messages.
    user_source: Option<String>,
    agent_source: Option<String>,
    /// With `stream_agent_text=True` every agent message goes to `slow`,
    /// which pairs it with its streamed fragments.
    streaming: bool,
    slow: Py<PyAny>,
    /// The last source worked out from STT (0) and TTS (1) metadata, by
    /// the `model_provider` and `model_name` it came from: the same model
    /// names the same source for a whole session.
    vendors: [Mutex<Option<Vendor>>; 2],
}

/// A source worked out from a `MetricsMetadata` dict's provider and model.
struct Vendor {
    provider: String,
    model: String,
    source: Option<String>,
}

#[pymethods]
impl Items {
    #[new]
    #[pyo3(signature = (log, slow, *, user_source = None, agent_source = None, streaming = false))]
    fn new(
        log: Py<Session>,
        slow: Py<PyAny>,
        user_source: Option<String>,
        agent_source: Option<String>,
        streaming: bool,
    ) -> Items {
        Items {
            log,
            user_source,
            agent_source,
            streaming,
            slow,
            vendors: Default::default(),
        }
    }

    /// `(*args)`, for `inspect.signature`, made once per process.
    #[getter]
    fn __signature__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        varargs_signature(py).map(|s| s.clone_ref(py))
    }

    #[pyo3(signature = (*args))]
    fn __call__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) {
        if let Err(e) = self.handle(py, args) {
            log_error(py, "convlog: could not record a conversation item", e);
        }
    }
}

impl Items {
    fn handle(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let Ok(event) = args.get_item(0) else {
            return Ok(());
        };
        let item = event.getattr(intern!(py, "item"))?;
        if item.is_none() {
            return Ok(());
        }
        match self.fast(py, &item)? {
            Some((msg, rest)) => {
                self.log
                    .get()
                    .record_deferred(py, msg, move |m| rest.finish(m))?;
            }
            None => {
                self.slow.call1(py, (item,))?;
            }
        }
        Ok(())
    }

    /// The message for `item` when it can be made without Python, or
    /// `None` for `slow`: its text, role and source, and the rest of the
    /// item read into plain values for the log's committing thread to make
    /// its `meta` and timestamp from.
    fn fast(
        &self,
        py: Python<'_>,
        item: &Bound<'_, PyAny>,
    ) -> PyResult<Option<(Message, ItemRest)>> {
        if self.log.get().ended() {
            return Ok(None);
        }
        let item = &Fields::of(item);
        let ty = item.get(intern!(py, "type"))?;
        if !ty.cast::<PyString>().is_ok_and(|t| t == "message") {
            return Ok(None);
        }
        let role = item.get(intern!(py, "role"))?;
        let Ok(role) = role.cast::<PyString>() else {
            return Ok(None);
        };
        let user = if role == "user" {
            true
        } else if role == "assistant" && !self.streaming {
            false
        } else {
            return Ok(None);
        };
        let Some(content) = plain_text(py, item, !user)? else {
            return Ok(None);
        };
        let metrics = item.get(intern!(py, "metrics"))?;
        let metrics = metrics.cast::<PyDict>().ok();
        let Some(source) = self.source(py, item, user, metrics)? else {
            return Ok(None);
        };
        let role = if user { Role::User } else { Role::Agent };
        let rest = ItemRest::read(py, item, metrics, None)?;
        Ok(Some((rest.message(role, content, source), rest)))
    }

    /// `source=`; else the vendor in the item's STT/TTS metadata; else
    /// `text_input` for a user message no STT heard; else `None`, for
    /// `slow` to ask the session's STT/TTS.
    fn source(
        &self,
        py: Python<'_>,
        item: &Fields<'_>,
        user: bool,
        metrics: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Option<String>> {
        let fixed = if user {
            &self.user_source
        } else {
            &self.agent_source
        };
        if let Some(s) = fixed {
            return Ok(Some(s.clone()));
        }
        let (key, kind) = if user {
            (intern!(py, "stt_metadata"), "stt")
        } else {
            (intern!(py, "tts_metadata"), "tts")
        };
        let md = match metrics {
            Some(m) => m
                .get_item(key)?
                .filter(|md| md.is_truthy().unwrap_or(false)),
            None => None,
        };
        if let Some(md) = &md
            && let Some(source) = self.vendor_source(md, usize::from(!user), kind)
        {
            return Ok(Some(source));
        }
        if user && md.is_none() && item.get(intern!(py, "transcript_confidence"))?.is_none() {
            return Ok(Some("text_input".into()));
        }
        Ok(None)
    }
}

impl Items {
    /// `<vendor>_<kind>` for the vendor `md` names, if any, remembered
    /// for the next item with the same provider and model (see `vendors`).
    fn vendor_source<'py>(
        &self,
        md: &Bound<'py, PyAny>,
        slot: usize,
        kind: &str,
    ) -> Option<String> {
        let py = md.py();
        let field = |name: &Bound<'py, PyString>| -> Option<Option<Bound<'py, PyString>>> {
            match md.cast::<PyDict>().ok()?.get_item(name).ok()? {
                None => Some(None),
                Some(v) => v.cast_into::<PyString>().ok().map(Some),
            }
        };
        let (provider, model) = (
            field(intern!(py, "model_provider")),
            field(intern!(py, "model_name")),
        );
        let text = |s: &Option<Option<Bound<'py, PyString>>>| -> Option<String> {
            match s.as_ref()? {
                None => Some(String::new()),
                Some(s) => s.to_str().ok().map(str::to_owned),
            }
        };
        let same = |s: &Option<Option<Bound<'py, PyString>>>, cached: &str| match s {
            Some(None) => cached.is_empty(),
            Some(Some(s)) => s.to_str().is_ok_and(|s| s == cached),
            None => false,
        };
        let mut last = crate::lock(&self.vendors[slot]);
        if let Some(v) = last.as_ref()
            && same(&provider, &v.provider)
            && same(&model, &v.model)
        {
            return v.source.clone();
        }
        let source = metadata_vendor(md).map(|vendor| format!("{vendor}_{kind}"));
        if let (Some(provider), Some(model)) = (text(&provider), text(&model)) {
            *last = Some(Vendor {
                provider,
                model,
                source: source.clone(),
            });
        }
        source
    }
}

/// An object's attributes read through its instance `__dict__` (where a
/// pydantic model such as `ChatMessage` keeps its fields) with one dict
/// lookup each, rather than through the model's `__getattr__` hook; an
/// attribute not in the dict is read with `getattr`.
pub struct Fields<'py> {
    obj: Bound<'py, PyAny>,
    dict: Option<Bound<'py, PyDict>>,
}

impl<'py> Fields<'py> {
    pub fn of(obj: &Bound<'py, PyAny>) -> Fields<'py> {
        let dict = obj
            .getattr(intern!(obj.py(), "__dict__"))
            .ok()
            .and_then(|d| d.cast_into::<PyDict>().ok());
        Fields {
            obj: obj.clone(),
            dict,
        }
    }

    pub fn get(&self, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(d) = &self.dict
            && let Some(v) = d.get_item(name)?
        {
            return Ok(v);
        }
        self.obj.getattr(name)
    }
}

/// `item.text_content` as the recorder keeps it: the `str` parts of
/// `item.content` joined by newlines; `None` (for `slow`) when there are
/// none, when it is blank, when it holds an unpaired surrogate, or when an
/// agent's text has markup (`<`) that LiveKit strips.
fn plain_text(py: Python<'_>, item: &Fields<'_>, agent: bool) -> PyResult<Option<String>> {
    let content = item.get(intern!(py, "content"))?;
    let Ok(parts) = content.cast::<PyList>() else {
        return Ok(None);
    };
    let mut text = String::new();
    let mut first = true;
    for part in parts.iter() {
        if !part.is_exact_instance_of::<PyString>() {
            continue;
        }
        let Ok(s) = part.cast::<PyString>()?.to_str() else {
            return Ok(None);
        };
        if !first {
            text.push('\n');
        }
        text.push_str(s);
        first = false;
    }
    if text.trim().is_empty() || (agent && text.contains('<')) {
        return Ok(None);
    }
    Ok(Some(text))
}

/// The vendor named by a `MetricsMetadata` dict: `deepgram` for Deepgram's
/// plugin, the prefix of `model_name` (`deepgram/nova-3`) for LiveKit's
/// gateway, `None` when it names none.
fn metadata_vendor(md: &Bound<'_, PyAny>) -> Option<String> {
    let py = md.py();
    let md = md.cast::<PyDict>().ok()?;
    let field = |name: &Bound<'_, PyString>| -> String {
        md.get_item(name)
            .ok()
            .flatten()
            .filter(|v| v.is_truthy().unwrap_or(false))
            .and_then(|v| v.str().ok())
            .map(|s| s.to_string_lossy().trim().to_lowercase())
            .unwrap_or_default()
    };
    vendor(
        &field(intern!(py, "model_provider")),
        &field(intern!(py, "model_name")),
    )
}

/// See [`metadata_vendor`]; `provider` and `model` are trimmed and lower case.
fn vendor(provider: &str, model: &str) -> Option<String> {
    let generic = |p: &str| p.is_empty() || p == "livekit" || p == "unknown";
    let mut provider = provider;
    if generic(provider) && model.contains('/') {
        provider = model.split('/').next().unwrap_or("");
    }
    if generic(provider) {
        return None;
    }
    if provider.contains('.') {
        // A host name such as api.deepgram.com.
        provider = provider
            .split('.')
            .find(|p| !["api", "www", "com", "io", "ai"].contains(p))
            .unwrap_or(provider);
    }
    let mut name = String::with_capacity(provider.len());
    for c in provider.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    let name = name.trim_matches('_');
    (!name.is_empty()).then(|| name.to_owned())
}

/// `_vendor(metadata)`: the vendor a `MetricsMetadata` dict names, for the
/// recorder's sources (see [`metadata_vendor`]).
#[pyfunction]
pub fn _vendor(metadata: &Bound<'_, PyAny>) -> Option<String> {
    metadata_vendor(metadata)
}

/// `inspect.Signature([Parameter("args", VAR_POSITIONAL)])`.
fn varargs_signature(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    static SIG: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    SIG.get_or_try_init(py, || {
        let inspect = py.import("inspect")?;
        let param = inspect.getattr("Parameter")?;
        let args = param.call1(("args", param.getattr("VAR_POSITIONAL")?))?;
        Ok::<_, PyErr>(inspect.getattr("Signature")?.call1(([args],))?.unbind())
    })
}

/// Logs `e` with its traceback at ERROR on the `convlog` logger: a handler
/// has nobody to raise to.
pub fn log_error(py: Python<'_>, what: &str, e: PyErr) {
    let logged = logger(py).and_then(|l| {
        let kw = PyDict::new(py);
        kw.set_item("exc_info", e.into_value(py))?;
        l.call_method("error", (what,), Some(&kw))
    });
    // A failure to log has nowhere left to go.
    drop(logged);
}

/// `ChatMessage.metrics` keys kept in `meta`: the latencies `convlog stats`
/// reports.
const METRIC_KEYS: [&str; 8] = [
    "e2e_latency",
    "llm_node_ttft",
    "tts_node_ttfb",
    "transcription_delay",
    "end_of_turn_delay",
    "on_user_turn_completed_delay",
    "started_speaking_at",
    "stopped_speaking_at",
];

/// The `MetricsMetadata` dicts whose model and provider names are kept, as
/// `<kind>_model` and `<kind>_provider`.
const METADATA: [(&str, &str, &str); 3] = [
    ("stt_metadata", "stt_model", "stt_provider"),
    ("llm_metadata", "llm_model", "llm_provider"),
    ("tts_metadata", "tts_model", "tts_provider"),
];

/// What a record takes from a `ChatMessage` besides its text, role and
/// source, read into plain values: on the event loop, reading is all the
/// recorder does; `finish` makes the `meta` map and the timestamp from them
/// wherever the record is built (the log's committing thread, for the
/// handler's messages). Any attribute missing or of an odd type is left out
/// rather than refused: a recorder never drops a message.
pub struct ItemRest {
    turn: Option<String>,
    interrupted: bool,
    /// `created_at`, epoch seconds.
    created: Option<f64>,
    confidence: Option<f64>,
    /// [`METRIC_KEYS`]' values, in that order.
    metrics: [Option<f64>; METRIC_KEYS.len()],
    /// Each [`METADATA`] dict's model and provider names, in that order.
    models: [[Option<String>; 2]; METADATA.len()],
    /// The streamed fragments' turn this record replaces.
    replaces: Option<String>,
}

impl ItemRest {
    /// Reads `item`; `metrics` is its `metrics` dict, if the caller has it.
    pub fn read(
        py: Python<'_>,
        item: &Fields<'_>,
        metrics: Option<&Bound<'_, PyDict>>,
        replaces: Option<String>,
    ) -> PyResult<ItemRest> {
        // Interned names: no Python string is made per item for an attribute
        // or key name.
        let got;
        let metrics = match metrics {
            Some(m) => Some(m),
            None => {
                got = item.get(intern!(py, "metrics"))?;
                got.cast::<PyDict>().ok()
            }
        };
        let mut rest = ItemRest {
            turn: text(&item.get(intern!(py, "id"))?),
            interrupted: item
                .get(intern!(py, "interrupted"))?
                .cast::<PyBool>()
                .is_ok_and(|b| b.is_true()),
            created: item
                .get(intern!(py, "created_at"))?
                .cast::<PyFloat>()
                .ok()
                .map(|f| f.value()),
            confidence: number(&item.get(intern!(py, "transcript_confidence"))?),
            metrics: Default::default(),
            models: Default::default(),
            replaces,
        };
        let Some(metrics) = metrics else {
            return Ok(rest);
        };
        for (slot, (_, name)) in rest.metrics.iter_mut().zip(metric_keys(py)) {
            *slot = metrics.get_item(name)?.and_then(|v| number(&v));
        }
        for (names, key) in rest.models.iter_mut().zip(metadata_keys(py)) {
            let Some(md) = metrics.get_item(key)? else {
                continue;
            };
            let Ok(md) = md.cast::<PyDict>() else {
                continue;
            };
            let fields = [intern!(py, "model_name"), intern!(py, "model_provider")];
            for (slot, field) in names.iter_mut().zip(fields) {
                *slot = md.get_item(field)?.and_then(|v| text(&v));
            }
        }
        Ok(rest)
    }

    /// The message with what [`ItemRest::finish`] does not add: its turn
    /// and flag.
    pub fn message(&self, role: Role, content: String, source: String) -> Message {
        Message {
            role,
            content,
            source,
            turn: self.turn.clone().filter(|t| !t.is_empty()),
            interrupted: self.interrupted,
            speaker: None,
            lang: None,
            meta: None,
            timestamp: None,
        }
    }

    /// Adds the `meta` map and the timestamp to `msg`.
    pub fn finish(self, msg: &mut Message) {
        let mut meta = Map::new();
        let num = |v: f64| serde_json::Number::from_f64(v).map(Value::Number);
        if let Some(c) = self.confidence.and_then(num) {
            meta.insert("transcript_confidence".into(), c);
        }
        for (key, v) in METRIC_KEYS.iter().zip(self.metrics) {
            if let Some(v) = v.and_then(num) {
                meta.insert((*key).into(), v);
            }
        }
        for ((_, model, provider), names) in METADATA.iter().zip(self.models) {
            for (name, v) in [model, provider].into_iter().zip(names) {
                if let Some(s) = v {
                    meta.insert((*name).into(), Value::String(s));
                }
            }
        }
        if let Some(turn) = self.replaces {
            meta.insert(crate::engine::REPLACES.into(), Value::String(turn));
        }
        if !meta.is_empty() {
            msg.meta = Some(Value::Object(meta));
        }
        msg.timestamp = self.created.and_then(engine::epoch_to_rfc3339);
    }
}

/// The message for `item` (a `ChatMessage`), whose `role`, text and
/// `source` the recorder has worked out; `replaces` names the streamed
/// fragments it takes the place of. Made here, whole (see [`ItemRest`]).
pub fn item_message(
    py: Python<'_>,
    role: Role,
    content: String,
    source: String,
    item: &Fields<'_>,
    replaces: Option<String>,
) -> PyResult<Message> {
    let rest = ItemRest::read(py, item, None, replaces)?;
    let mut msg = rest.message(role, content, source);
    rest.finish(&mut msg);
    Ok(msg)
}

/// Makes the interned keys and the handler's signature now rather than at
/// the first item.
pub fn warm(py: Python<'_>) -> PyResult<()> {
    metric_keys(py);
    metadata_keys(py);
    varargs_signature(py).map(drop)
}

/// [`METRIC_KEYS`] with their Python strings, made once.
fn metric_keys(py: Python<'_>) -> &[(&'static str, Py<PyString>)] {
    static KEYS: PyOnceLock<Vec<(&'static str, Py<PyString>)>> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        METRIC_KEYS
            .iter()
            .map(|k| (*k, PyString::intern(py, k).unbind()))
            .collect()
    })
}

/// The [`METADATA`] dicts' keys as Python strings, made once.
fn metadata_keys(py: Python<'_>) -> &[Py<PyString>] {
    static KEYS: PyOnceLock<Vec<Py<PyString>>> = PyOnceLock::new();
    KEYS.get_or_init(py, || {
        METADATA
            .iter()
            .map(|(k, _, _)| PyString::intern(py, k).unbind())
            .collect()
    })
}

/// A float or an int, not a bool. Anything else (mostly `None`) is turned
/// down by type, without making a Python exception to throw away; a value
/// JSON cannot hold (NaN) is left out when the `meta` map is made.
fn number(v: &Bound<'_, PyAny>) -> Option<f64> {
    if let Ok(f) = v.cast::<PyFloat>() {
        return Some(f.value());
    }
    if !v.is_instance_of::<PyInt>() || v.is_instance_of::<PyBool>() {
        return None;
    }
    v.extract::<i64>().ok().map(|i| i as f64)
}

/// A non-empty string that UTF-8 can hold.
fn text(v: &Bound<'_, PyAny>) -> Option<String> {
    v.cast::<PyString>()
        .ok()
        .and_then(|s| s.to_str().ok())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
