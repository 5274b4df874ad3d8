"""Record a LiveKit ``AgentSession`` (livekit-agents >= 1.8.9) into a convlog log.

    recorder = convlog.livekit.record(session, "conversations")
    await session.start(agent=MyAgent(), room=ctx.room)

Each user and agent message is written as it is added to the session's
history, so a crash, an unanswered SIP call or a process killed on a timeout
keeps every message up to that moment: unlike LiveKit's recipe of dumping
``session.history`` in a shutdown callback, nothing waits for the end.

Nothing in site-packages is patched: the recorder only subscribes to the
session's ``conversation_item_added`` and ``close`` events, with synchronous
handlers that catch everything, so a recorder bug can never reach the agent.

What is lost on a crash: LiveKit adds an assistant message to the history only
when its playout ends or is interrupted, so a reply still being spoken when
the process dies is not in the history yet. ``stream_agent_text=True`` logs
the reply's text as it streams (see :class:`Recorder`).

Order: messages are logged in the order LiveKit adds them, which follows
``created_at`` only roughly (a user message can be inserted before an agent
reply that finished later). Each message keeps its own ``created_at`` as its
timestamp and its ``item.id`` as its turn, so no two messages share a turn and
the export's merging of fragments never joins messages across that reordering;
the log and the export keep the order in which the messages were recorded.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from livekit.agents import get_job_context
from livekit.agents.voice.io import TextOutput

try:  # what ChatMessage.text_content strips from an assistant's text
    from livekit.agents.tts._provider_format import strip_expr_markup
except ImportError:  # pragma: no cover - another livekit-agents
    strip_expr_markup = None  # type: ignore[assignment]

from ._convlog import LiveKitItems, Session, _vendor
from ._recorder import BaseRecorder, Registry, Source, call_key, open_log
from ._tools import LiveKitTools

__all__ = ["Recorder", "record"]

logger = logging.getLogger("convlog")

# `meta` key: the streamed fragments' turn that a reply's final record replaces.
_REPLACES = "convlog.replaces"

_VARARGS = inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)])


def _handler(method: Callable[..., None]) -> Callable[..., None]:
    """``method`` as a plain function that carries its own ``__signature__``.

    LiveKit's ``EventEmitter.emit`` calls ``inspect.signature`` on every
    handler at every emit, to pass it as many arguments as it takes; for a
    bound method that costs tens of microseconds on the event loop, for a
    function with ``__signature__`` set a few hundred nanoseconds.
    """

    def handler(*args: Any) -> None:
        method(*args)

    handler.__signature__ = _VARARGS  # type: ignore[attr-defined]
    return handler


def _text(item: Any, assistant: bool) -> str | None:
    """``item.text_content``, read from ``item.content`` without its
    per-call import, and without stripping markup from text that has none."""
    try:
        parts = [c for c in item.content if type(c) is str]
    except Exception:
        return item.text_content
    if not parts:
        return None
    text = parts[0] if len(parts) == 1 else "\n".join(parts)
    if assistant and "<" in text:
        return strip_expr_markup(text) if strip_expr_markup is not None else item.text_content
    return text


# Sentence ends for the streamed text: fragments are joined with one space on
# export, so they must be cut where a space belongs.
_SENTENCE_END = re.compile(r"(?<=[.!?।।？！。…])\s+")  # noqa: RUF001


class Recorder(BaseRecorder):
    """Logs one ``AgentSession``'s user and agent messages into ``log``.

    ``log`` is the :class:`convlog.Session` being written; ``path`` its file.
    ``await recorder.aclose()`` ends the log and renders the export; the
    session's ``close`` event and, inside a job, a shutdown callback do the
    same, and calling it more than once is harmless.

    With ``stream_agent_text=True`` the agent's reply is also logged from
    ``session.output.transcription`` as it streams, sentence by sentence, as
    fragments of one turn, so that a crash keeps what was being said. The
    reply's final history item is then logged whole, with its flag, metrics
    and timestamp, marked ``meta["convlog.replaces"]`` with the fragments'
    turn: every export shows it in their place, exactly as without streaming.
    """

    def __init__(
        self,
        session: Any,
        log: Session,
        *,
        source: Source = None,
        stream_agent_text: bool = False,
        tools: bool = True,
    ) -> None:
        super().__init__(log)
        self.session = session
        # The sources `source=` fixes, by role.
        self._fixed: dict[str, str] = {}
        if isinstance(source, str):
            self._fixed = {"user": source, "agent": source}
        elif isinstance(source, Mapping):
            self._fixed = {k: str(v) for k, v in source.items()}
        self._stream: _StreamState | None = _StreamState() if stream_agent_text else None
        on, off = session.on, session.off
        # Called by LiveKit for every history item: a message is recorded in
        # Rust; what needs Python comes back to `_on_item`.
        items = LiveKitItems(
            log,
            _handler(self._on_item),
            user_source=self._fixed.get("user"),
            agent_source=self._fixed.get("agent"),
            streaming=stream_agent_text,
        )
        self._subscribe(on, off, "conversation_item_added", items)
        self._subscribe(on, off, "close", _handler(self._close_soon))
        self._tools = LiveKitTools(session, log) if tools else None
        if self._tools is not None:
            for event, method in self._tools.handlers():
                self._subscribe(on, off, event, _handler(method))
        self._register_shutdown()
        if self._stream is not None:
            # Room I/O sets its own transcription output in session.start(),
            # replacing a tap set now; the tap is put back before each reply.
            self._subscribe(on, off, "agent_state_changed", _handler(self._on_agent_state))
            self._tap_transcription()

    # --- event handlers: synchronous, and never raise ----------------------

    def _on_item(self, item: Any) -> None:
        """What ``LiveKitItems`` leaves to Python: a tool call or handoff
        item, a streamed reply's end, markup, a source only the session's
        STT/TTS can tell, an empty message."""
        try:
            self._record_item(item)
        except Exception:
            logger.exception("convlog: could not record a conversation item")

    def _on_agent_state(self, *args: Any) -> None:
        try:
            self._tap_transcription()
        except Exception:
            logger.exception("convlog: could not tap the agent's transcription")

    # --- the mapping --------------------------------------------------------

    def _source_for(self, role: str, metrics: Mapping[str, Any] | None, typed: bool) -> str:
        """The source: ``source=`` if given; else the vendor in the item's
        STT/TTS metrics; else that of the STT/TTS the session uses now;
        else ``text_input`` for a user message that no STT heard, and
        ``livekit_stt``/``livekit_tts`` when no vendor is known."""
        fixed = self._fixed.get(role)
        if fixed is not None:
            return fixed
        if role == "user":
            if typed:
                return "text_input"
            kind, key = "stt", "stt_metadata"
        else:
            kind, key = "tts", "tts_metadata"
        vendor = _vendor(metrics.get(key)) if metrics else None
        if vendor is None:
            vendor = _vendor(self._session_metadata(kind))
        return f"{vendor or 'livekit'}_{kind}"

    def _session_metadata(self, kind: str) -> Any:
        """The ``metrics_metadata`` of the STT or TTS the session's agent uses."""
        model = None
        try:
            model = getattr(self.session.current_agent, kind, None)
        except Exception:
            pass
        if not hasattr(model, "metrics_metadata"):  # NOT_GIVEN, or no agent yet
            model = getattr(self.session, kind, None)
        try:
            return model.metrics_metadata if model is not None else None
        except Exception:
            return None

    def _record_item(self, item: Any) -> None:
        # Only what the role, the text and the source need is read here; the
        # ids, flags, metrics and timestamp are read by
        # `Session._record_item` in Rust.
        if item is None:
            return
        if getattr(item, "type", None) != "message":
            if self._tools is not None:
                self._tools.on_item(item)
            return
        lk_role = getattr(item, "role", None)
        if lk_role == "user":
            role = "user"
        elif lk_role == "assistant":
            role = "agent"
        else:
            return
        text = _text(item, role == "agent")
        stream = self._stream
        if not isinstance(text, str) or not text.strip():
            if role == "agent" and stream is not None and stream.turn is not None:
                # Nothing was played: the streamed fragments stay as logged.
                logger.info("convlog: streamed reply %s ended with nothing played", stream.turn)
                stream.reset()
            return
        metrics = getattr(item, "metrics", None)
        if not isinstance(metrics, dict):
            metrics = None
        typed = (
            role == "user"
            and getattr(item, "transcript_confidence", None) is None
            and not (metrics and metrics.get("stt_metadata"))
        )
        source = self._source_for(role, metrics, typed)
        replaces = stream.finish() if role == "agent" and stream is not None else None
        self.log._record_item(role, text, source, item, replaces)

    # --- streaming the agent's text -----------------------------------------

    def _tap_transcription(self) -> None:
        output = self.session.output
        current = output.transcription
        if getattr(current, "label", None) != "convlog":
            output.transcription = _Tap(self, current)

    def _streamed(self, text: str, *, done: bool) -> None:
        state = self._stream
        if state is None or self.log.ended:
            return
        fragments = state.feed(text, done=done)
        if fragments:
            # The reply's metrics come only with the final item.
            source = self._source_for("agent", None, False)
            for fragment in fragments:
                self._write("agent", fragment, source, turn=state.turn)

    async def _before_end(self) -> None:
        if self._tools is not None:
            self._tools.close()
        if self._stream is not None:
            self._streamed("", done=True)

    # --- closing ------------------------------------------------------------

    def _register_shutdown(self) -> None:
        try:
            ctx = get_job_context(required=False)
        except Exception:
            ctx = None
        if ctx is not None:

            async def end_log() -> None:
                await self.aclose()

            ctx.add_shutdown_callback(end_log)


class _Tap(TextOutput):
    """The link in ``session.output.transcription``'s chain that logs the
    streamed text and passes it on."""

    def __init__(self, recorder: Recorder, nxt: Any) -> None:
        super().__init__(label="convlog", next_in_chain=nxt)
        self._recorder = recorder

    async def capture_text(self, text: str) -> None:
        try:
            self._recorder._streamed(text, done=False)
        except Exception:
            logger.exception("convlog: could not record streamed text")
        if self.next_in_chain is not None:
            await self.next_in_chain.capture_text(text)

    def flush(self) -> None:
        try:
            self._recorder._streamed("", done=True)
        except Exception:
            logger.exception("convlog: could not record streamed text")
        if self.next_in_chain is not None:
            self.next_in_chain.flush()


class _StreamState:
    """The agent reply being streamed: its turn, and the text not yet logged."""

    def __init__(self) -> None:
        self._n = 0
        self.turn: str | None = None
        self._pending = ""

    def feed(self, text: str, *, done: bool) -> list[str]:
        if self.turn is None:
            if not text.strip() and (done or not self._pending):
                return []
            self._n += 1
            self.turn = f"stream_{self._n}"
        self._pending += text
        parts = _SENTENCE_END.split(self._pending)
        if done:
            complete, self._pending = parts, ""
        else:
            complete, self._pending = parts[:-1], parts[-1]
        return [p.strip() for p in complete if p.strip()]

    def finish(self) -> str | None:
        """Ends the reply being streamed; returns its turn, if anything of it
        was streamed, for the final record to replace."""
        turn = self.turn
        self.reset()
        return turn

    def reset(self) -> None:
        self.turn, self._pending = None, ""


_recorders = Registry()


def record(
    session: Any,
    dir: str | Path = "conversations",
    *,
    source: Source = None,
    stream_agent_text: bool = False,
    tools: bool = True,
    log: Session | None = None,
    **options: Any,
) -> Recorder:
    """Starts recording ``session`` (a ``livekit.agents.AgentSession``) into a
    new log in ``dir``. Call it before ``session.start()`` so that the greeting
    is caught.

    ``options`` go to :meth:`convlog.Session.create` (``max_content_bytes``,
    ``export_on_end``, ``lock_timeout``, ``echo``). ``source`` overrides the
    source (a string, or ``{"user": …, "agent": …}``); ``log`` records into an
    already open :class:`convlog.Session` instead. Function calls
    (``function_tools_executed``) and agent handoffs are recorded as tool and
    handoff records; ``tools=False`` leaves them out.

    Called again for a session it is recording, ``record()`` returns the same
    recorder (one log, each message once) when the arguments are the same,
    and raises ``ValueError`` when they differ. Once that recorder is closed,
    ``record()`` starts a new log.
    """
    call = call_key(dir, log, options, source, stream_agent_text, tools)
    existing = _recorders.existing(session, "record", call)
    if existing is not None:
        return existing  # type: ignore[return-value]
    recorder = Recorder(
        session,
        open_log("record", dir, log, options),
        source=source,
        stream_agent_text=stream_agent_text,
        tools=tools,
    )
    _recorders.remember(session, recorder, call)
    return recorder
