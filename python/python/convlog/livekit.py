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

import asyncio
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._convlog import Session
from ._tools import LiveKitTools

__all__ = ["Recorder", "record"]

logger = logging.getLogger("convlog")

# ChatMessage.metrics keys worth keeping: the latencies `convlog stats` reports.
_METRIC_KEYS = (
    "e2e_latency",
    "llm_node_ttft",
    "tts_node_ttfb",
    "transcription_delay",
    "end_of_turn_delay",
    "on_user_turn_completed_delay",
    "started_speaking_at",
    "stopped_speaking_at",
)

_METADATA = {"stt": "stt_metadata", "llm": "llm_metadata", "tts": "tts_metadata"}

_SESSION_OPTIONS = ("max_content_bytes", "export_on_end", "lock_timeout", "echo")

# Sentence ends for the streamed text: fragments are joined with one space on
# export, so they must be cut where a space belongs.
_SENTENCE_END = re.compile(r"(?<=[.!?।।？！。…])\s+")  # noqa: RUF001


_vendors: dict[tuple[Any, Any], str | None] = {}


def _vendor(meta: Any) -> str | None:
    """The vendor in a ``MetricsMetadata``: ``deepgram`` for Deepgram's plugin,
    the prefix of ``model_name`` (``deepgram/nova-3``) for LiveKit's gateway."""
    if not isinstance(meta, dict):
        return None
    key = (meta.get("model_provider"), meta.get("model_name"))
    try:
        return _vendors[key]
    except (KeyError, TypeError):
        pass
    vendor = _vendor_of(str(key[0] or "").strip().lower(), str(key[1] or "").strip().lower())
    if len(_vendors) < 256:
        try:
            _vendors[key] = vendor
        except TypeError:
            pass
    return vendor


def _vendor_of(provider: str, model: str) -> str | None:
    if provider in ("", "livekit", "unknown") and "/" in model:
        provider = model.split("/", 1)[0]
    if not provider or provider in ("livekit", "unknown"):
        return None
    if "." in provider:  # a host name such as api.deepgram.com
        parts = [p for p in provider.split(".") if p not in ("api", "www", "com", "io", "ai")]
        provider = parts[0] if parts else provider
    name = re.sub(r"[^a-z0-9]+", "_", provider).strip("_")
    return name or None


class Recorder:
    """Logs one ``AgentSession``'s user and agent messages into ``log``.

    ``log`` is the :class:`convlog.Session` being written; ``path`` its file.
    ``await recorder.aclose()`` ends the log and renders the export; the
    session's ``close`` event and, inside a job, a shutdown callback do the
    same, and calling it more than once is harmless.

    With ``stream_agent_text=True`` the agent's reply is also logged from
    ``session.output.transcription`` as it streams, sentence by sentence, as
    fragments of one turn, and the final history item then adds only what was
    not streamed. The streamed text is what the LLM produced, which can run
    ahead of what was spoken before an interruption.
    """

    def __init__(
        self,
        session: Any,
        log: Session,
        *,
        source: str | Mapping[str, str] | None = None,
        stream_agent_text: bool = False,
        tools: bool = True,
    ) -> None:
        self.session = session
        self.log = log
        self._source = source
        self._close_task: asyncio.Task[Path | None] | None = None
        self._export: Path | None = None
        self._subscribed = False
        self._stream: _StreamState | None = _StreamState() if stream_agent_text else None
        session.on("conversation_item_added", self._on_item_added)
        session.on("close", self._on_close)
        self._subscribed = True
        self._tools = LiveKitTools(session, log) if tools else None
        self._register_shutdown()
        if self._stream is not None:
            # Room I/O sets its own transcription output in session.start(),
            # replacing a tap set now; the tap is put back before each reply.
            session.on("agent_state_changed", self._on_agent_state)
            self._tap_transcription()

    @property
    def path(self) -> Path:
        """The log's path."""
        return self.log.path

    # --- event handlers: synchronous, and never raise ----------------------

    def _on_item_added(self, *args: Any) -> None:
        try:
            if args:
                self._record(getattr(args[0], "item", None))
        except Exception:
            logger.exception("convlog: could not record a conversation item")

    def _on_agent_state(self, *args: Any) -> None:
        try:
            self._tap_transcription()
        except Exception:
            logger.exception("convlog: could not tap the agent's transcription")

    def _on_close(self, *args: Any) -> None:
        try:
            self._start_close()
        except Exception:
            logger.exception("convlog: could not end the log on close")

    # --- the mapping --------------------------------------------------------

    def _source_for(self, role: str, metadata: Any) -> str:
        if isinstance(self._source, str):
            return self._source
        if isinstance(self._source, Mapping) and role in self._source:
            return str(self._source[role])
        vendor = _vendor(metadata)
        kind = "stt" if role == "user" else "tts"
        if vendor:
            return f"{vendor}_{kind}"
        return f"livekit_{kind}"

    def _record(self, item: Any) -> None:
        if item is None or getattr(item, "type", None) != "message":
            return
        lk_role = getattr(item, "role", None)
        if lk_role == "user":
            role = "user"
        elif lk_role == "assistant":
            role = "agent"
        else:
            return
        text = item.text_content
        if not isinstance(text, str) or not text.strip():
            return
        metrics = getattr(item, "metrics", None)
        if not isinstance(metrics, dict):
            metrics = {}
        meta: dict[str, Any] = {}
        confidence = getattr(item, "transcript_confidence", None)
        if confidence is not None and isinstance(confidence, (int, float)):
            meta["transcript_confidence"] = float(confidence)
        for key in _METRIC_KEYS:
            value = metrics.get(key)
            if value is not None and isinstance(value, (int, float)) and value is not True:
                meta[key] = float(value)
        for kind in ("stt", "llm", "tts"):
            md = metrics.get(_METADATA[kind])
            if md and isinstance(md, dict):
                if md.get("model_name"):
                    meta[f"{kind}_model"] = str(md["model_name"])
                if md.get("model_provider"):
                    meta[f"{kind}_provider"] = str(md["model_provider"])
        key = "stt_metadata" if role == "user" else "tts_metadata"
        source = self._source_for(role, metrics.get(key))
        created = getattr(item, "created_at", None)
        timestamp = created if isinstance(created, (int, float)) else None
        turn = str(getattr(item, "id", "") or "") or None
        interrupted = bool(getattr(item, "interrupted", False))
        if role == "agent" and self._stream is not None:
            text, turn = self._stream.final(text, turn)
            meta["item_id"] = str(getattr(item, "id", ""))
            if not text.strip():
                if interrupted:
                    logger.info("convlog: streamed reply %s was interrupted", turn)
                return
        if self.log.ended:
            return
        self.log.log(
            role,
            text,
            source,
            turn=turn,
            interrupted=interrupted,
            meta=meta or None,
            timestamp=timestamp,
        )

    # --- streaming the agent's text -----------------------------------------

    def _tap_transcription(self) -> None:
        from livekit.agents.voice.io import TextOutput

        recorder = self

        class _Tap(TextOutput):
            def __init__(self, nxt: Any) -> None:
                super().__init__(label="convlog", next_in_chain=nxt)

            async def capture_text(self, text: str) -> None:
                try:
                    recorder._streamed(text, done=False)
                except Exception:
                    logger.exception("convlog: could not record streamed text")
                if self.next_in_chain is not None:
                    await self.next_in_chain.capture_text(text)

            def flush(self) -> None:
                try:
                    recorder._streamed("", done=True)
                except Exception:
                    logger.exception("convlog: could not record streamed text")
                if self.next_in_chain is not None:
                    self.next_in_chain.flush()

        output = self.session.output
        current = output.transcription
        if getattr(current, "label", None) != "convlog":
            output.transcription = _Tap(current)

    def _streamed(self, text: str, *, done: bool) -> None:
        state = self._stream
        if state is None or self.log.ended:
            return
        fragments = state.feed(text, done=done)
        if not fragments:
            return
        # The reply's metrics come only with the final item; the session's
        # TTS names the vendor now.
        tts = getattr(self.session, "tts", None)
        source = self._source_for("agent", getattr(tts, "metrics_metadata", None))
        for fragment in fragments:
            self.log.log("agent", fragment, source, turn=state.turn)

    # --- closing ------------------------------------------------------------

    def _register_shutdown(self) -> None:
        try:
            from livekit.agents import get_job_context

            ctx = get_job_context(required=False)
        except Exception:
            ctx = None
        if ctx is not None:
            ctx.add_shutdown_callback(self.aclose)

    def _start_close(self) -> asyncio.Task[Path | None]:
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._end())
        return self._close_task

    async def _end(self) -> Path | None:
        if self._subscribed:
            self._subscribed = False
            for event, handler in (
                ("conversation_item_added", self._on_item_added),
                ("close", self._on_close),
                ("agent_state_changed", self._on_agent_state),
            ):
                try:
                    self.session.off(event, handler)
                except Exception:
                    pass
        if self._tools is not None:
            self._tools.close()
        if self._stream is not None:
            self._streamed("", done=True)
        if self.log.ended:
            return self._export
        self._export = await self.log.end_async()
        return self._export

    async def aclose(self) -> Path | None:
        """Ends the log and renders the export; returns the export's path.
        Safe to call more than once and from a shutdown callback."""
        return await asyncio.shield(self._start_close())


class _StreamState:
    """The agent reply being streamed: its turn id and the text not yet logged."""

    def __init__(self) -> None:
        self._n = 0
        self.turn: str | None = None
        self._pending = ""
        self._logged: list[str] = []

    def feed(self, text: str, *, done: bool) -> list[str]:
        if self.turn is None:
            if not text and done:
                return []
            self._n += 1
            self.turn = f"stream_{self._n}"
        self._pending += text
        parts = _SENTENCE_END.split(self._pending)
        if done:
            complete, self._pending = parts, ""
        else:
            complete, self._pending = parts[:-1], parts[-1]
        out = [p.strip() for p in complete if p.strip()]
        self._logged.extend(out)
        return out

    def final(self, text: str, turn: str | None) -> tuple[str, str | None]:
        """What the final item adds to the streamed fragments, and their turn."""
        if self.turn is None:
            return text, turn
        # Whatever is still buffered belongs to this reply.
        pending = self._pending.strip()
        if pending:
            self._logged.append(pending)
        streamed = " ".join(self._logged)
        stream_turn = self.turn
        self.turn, self._pending, self._logged = None, "", []
        norm_text, norm_streamed = " ".join(text.split()), " ".join(streamed.split())
        if norm_text.startswith(norm_streamed):
            return norm_text[len(norm_streamed) :].strip(), stream_turn
        # The spoken text is shorter (interrupted) or differs: the streamed
        # fragments stand; log nothing twice.
        return "", stream_turn


def record(
    session: Any,
    dir: str | Path = "conversations",
    *,
    source: str | Mapping[str, str] | None = None,
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
    source taken from the STT/TTS metrics (a string, or ``{"user": …, "agent": …}``);
    ``log`` records into an already open :class:`convlog.Session` instead.
    Function calls (``function_tools_executed``) and agent handoffs are
    recorded as tool and handoff records; ``tools=False`` leaves them out.
    """
    unknown = set(options) - set(_SESSION_OPTIONS)
    if unknown:
        raise TypeError(f"record() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    if log is None:
        log = Session.create(dir, **options)
    return Recorder(session, log, source=source, stream_agent_text=stream_agent_text, tools=tools)
