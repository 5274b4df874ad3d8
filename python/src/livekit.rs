//! The LiveKit recorder's per-item work, in Rust: [`Items`] is the
//! `conversation_item_added` handler LiveKit calls itself, so that the
//! agent's event loop runs no Python frame for a message; it reads the
//! `ChatMessage` (see `item.rs`) and leaves the making of the record to
//! the log's committing thread.

use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use convlog::Message;
use convlog::record::Role;

use crate::errors::logger;
use crate::item::{self, ItemView};
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
        let fields = Fields::of(&item);
        match self.fast(py, &fields)? {
            Some((role, content, source, view)) => {
                self.log.get().record_deferred(
                    py,
                    role,
                    content,
                    |content, out| view.write(role, content, &source, out),
                    item::build,
                )?;
            }
            None => {
                self.slow.call1(py, (item,))?;
            }
        }
        Ok(())
    }

    /// The message for `item` when it can be made without Python, or
    /// `None` for `slow`: its role, text and source, and the rest of the
    /// item as read for the log's committing thread to make its `meta` and
    /// timestamp from (see `item.rs`).
    #[allow(clippy::type_complexity)]
    fn fast<'py>(
        &self,
        py: Python<'py>,
        item: &Fields<'py>,
    ) -> PyResult<Option<(Role, String, String, ItemView<'py>)>> {
        if self.log.get().ended() {
            return Ok(None);
        }
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
        let view = ItemView::read(py, item, metrics, None)?;
        Ok(Some((role, content, source, view)))
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

/// Makes the interned keys and the handler's signature now rather than at
/// the first item.
pub fn warm(py: Python<'_>) -> PyResult<()> {
    item::warm(py);
    varargs_signature(py).map(drop)
}

/// The message for `item` (a `ChatMessage`), whose `role`, text and
/// `source` the recorder has worked out; `replaces` names the streamed
/// fragments it takes the place of. Made here, whole (see `item.rs`).
pub fn item_message(
    py: Python<'_>,
    role: Role,
    content: &str,
    source: &str,
    item: &Fields<'_>,
    replaces: Option<String>,
) -> PyResult<Message> {
    ItemView::read(py, item, None, replaces)?.message(role, content, source)
}
