"""Record a Pipecat conversation (pipecat-ai >= 1.14) into a convlog log.

    context = LLMContext(messages)
    aggregators = LLMContextAggregatorPair(context)
    recorder = convlog.pipecat.record(aggregators.user(), aggregators.assistant(), "conversations")
    ...
    await runner.run(task)
    await recorder.aclose()

The recorder subscribes synchronous, catch-all handlers to the aggregators'
``on_user_turn_stopped`` (``UserTurnStoppedMessage``: content, timestamp,
user_id) and ``on_assistant_turn_stopped`` (``AssistantTurnStoppedMessage``:
content, interrupted, timestamp) events. Each turn is queued for convlog's
commit pool as it ends, so a crash keeps every finished turn; a reply still
being spoken is not in it, as Pipecat reports a turn only when it stops.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._convlog import Session
from ._tools import PipecatTools

__all__ = ["Recorder", "record"]

logger = logging.getLogger("convlog")

_SESSION_OPTIONS = ("max_content_bytes", "export_on_end", "lock_timeout", "echo")


def _when(ts: Any) -> Any:
    """Pipecat's ISO 8601 UTC text as a datetime (stored in local time), or None."""
    if isinstance(ts, str) and ts:
        try:
            return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


class Recorder:
    """Logs a Pipecat aggregator pair's finished turns into ``log``.

    ``await recorder.aclose()`` ends the log and renders the export; calling
    it more than once is harmless. Pass ``task=`` (a ``PipelineTask``) to
    :func:`record` to have that happen when the pipeline finishes.
    """

    def __init__(
        self,
        user_aggregator: Any,
        assistant_aggregator: Any,
        log: Session,
        *,
        source: str | Mapping[str, str] | None = None,
        tools: bool = True,
    ) -> None:
        self.log = log
        self._user = user_aggregator
        self._assistant = assistant_aggregator
        self._sources = {"user": "pipecat_stt", "agent": "pipecat_tts"}
        if isinstance(source, str):
            self._sources = {"user": source, "agent": source}
        elif isinstance(source, Mapping):
            self._sources.update({k: str(v) for k, v in source.items()})
        self._turns = 0
        self._close_task: asyncio.Task[Path | None] | None = None
        self._export: Path | None = None
        user_aggregator.add_event_handler("on_user_turn_stopped", self._on_user_turn_stopped)
        assistant_aggregator.add_event_handler(
            "on_assistant_turn_stopped", self._on_assistant_turn_stopped
        )
        self._tools = PipecatTools(assistant_aggregator, log) if tools else None

    @property
    def path(self) -> Path:
        """The log's path."""
        return self.log.path

    def _on_user_turn_stopped(self, *args: Any) -> None:
        try:
            self._record("user", args[-1] if args else None)
        except Exception:
            logger.exception("convlog: could not record a Pipecat user turn")

    def _on_assistant_turn_stopped(self, *args: Any) -> None:
        try:
            self._record("agent", args[-1] if args else None)
        except Exception:
            logger.exception("convlog: could not record a Pipecat assistant turn")

    def _record(self, role: str, message: Any) -> None:
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip() or self.log.ended:
            return
        self._turns += 1
        user_id = getattr(message, "user_id", None) if role == "user" else None
        self.log.log(
            role,
            content,
            self._sources[role],
            turn=f"pipecat_{self._turns}",
            interrupted=bool(getattr(message, "interrupted", False)),
            speaker=user_id if isinstance(user_id, str) and user_id else None,
            timestamp=_when(getattr(message, "timestamp", None)),
        )

    def _on_finished(self, *args: Any) -> None:
        try:
            self._start_close()
        except Exception:
            logger.exception("convlog: could not end the log when the pipeline finished")

    def _start_close(self) -> asyncio.Task[Path | None]:
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._end())
        return self._close_task

    async def _end(self) -> Path | None:
        for agg, event, handler in (
            (self._user, "on_user_turn_stopped", self._on_user_turn_stopped),
            (self._assistant, "on_assistant_turn_stopped", self._on_assistant_turn_stopped),
        ):
            try:
                agg.remove_event_handler(event, handler)
            except Exception:
                pass
        if self._tools is not None:
            self._tools.close()
        if self.log.ended:
            return self._export
        self._export = await self.log.end_async()
        return self._export

    async def aclose(self) -> Path | None:
        """Ends the log and renders the export; returns the export's path."""
        return await asyncio.shield(self._start_close())


def record(
    user_aggregator: Any,
    assistant_aggregator: Any,
    dir: str | Path = "conversations",
    *,
    source: str | Mapping[str, str] | None = None,
    task: Any = None,
    tools: bool = True,
    log: Session | None = None,
    **options: Any,
) -> Recorder:
    """Starts recording the turns of an ``LLMContextAggregatorPair``
    (``pair.user()``, ``pair.assistant()``) into a new log in ``dir``.

    ``options`` go to :meth:`convlog.Session.create`. ``source`` overrides the
    default sources ``pipecat_stt``/``pipecat_tts`` (a string, or
    ``{"user": "deepgram_stt", "agent": "cartesia_tts"}``). With ``task`` (a
    ``PipelineTask``) the log is ended when the pipeline finishes. The
    function calls that reach the assistant aggregator are recorded as tool
    records; ``tools=False`` leaves them out.
    """
    unknown = set(options) - set(_SESSION_OPTIONS)
    if unknown:
        raise TypeError(f"record() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    if log is None:
        log = Session.create(dir, **options)
    recorder = Recorder(user_aggregator, assistant_aggregator, log, source=source, tools=tools)
    if task is not None:
        task.add_event_handler("on_pipeline_finished", recorder._on_finished)
    return recorder
