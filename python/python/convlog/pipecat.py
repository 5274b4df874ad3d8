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
content, interrupted, timestamp) events. ``user_id`` is empty in real
pipelines, so the speaker is the ``user_id`` of the user's last
``TranscriptionFrame`` (which an STT service takes from the transport's audio:
the participant or client id) when the message has none. Each turn is queued for convlog's
commit pool as it ends, so a crash keeps every finished turn; a reply still
being spoken is not in it, as Pipecat reports a turn only when it stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipecat.frames.frames import TranscriptionFrame

from ._convlog import PipecatHandler, Session
from ._recorder import BaseRecorder, Registry, Source, call_key, open_log
from ._tools import PipecatTools

__all__ = ["Recorder", "record"]


class Recorder(BaseRecorder):
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
        source: Source = None,
        tools: bool = True,
    ) -> None:
        super().__init__(log)
        sources = {"user": "pipecat_stt", "agent": "pipecat_tts"}
        if isinstance(source, str):
            sources = {"user": source, "agent": source}
        elif source is not None:
            sources.update({k: str(v) for k, v in source.items()})
        # Pipecat runs these on the pipeline's loop for every turn and, for
        # the speaker, every frame: each is one call into Rust.
        on_user, on_agent, on_frame = PipecatHandler.make(
            log, sources["user"], sources["agent"], TranscriptionFrame
        )
        self._on_user_turn_stopped = on_user
        self._on_assistant_turn_stopped = on_agent
        for agg, event, handler in (
            (user_aggregator, "on_user_turn_stopped", on_user),
            (user_aggregator, "on_before_process_frame", on_frame),
            (assistant_aggregator, "on_assistant_turn_stopped", on_agent),
        ):
            self._subscribe(agg.add_event_handler, agg.remove_event_handler, event, handler)
        self._tools = PipecatTools(assistant_aggregator, log) if tools else None
        if self._tools is not None:
            agg = assistant_aggregator
            for event, handler in self._tools.handlers():
                self._subscribe(agg.add_event_handler, agg.remove_event_handler, event, handler)

    async def _before_end(self) -> None:
        if self._tools is not None:
            self._tools.close()


_recorders = Registry()


def record(
    user_aggregator: Any,
    assistant_aggregator: Any,
    dir: str | Path = "conversations",
    *,
    source: Source = None,
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

    Called again for an aggregator pair it is recording, ``record()`` returns
    the same recorder when the arguments are the same, and raises
    ``ValueError`` when they differ; once that recorder is closed, it starts
    a new log.
    """
    call = call_key(dir, log, options, source, id(assistant_aggregator), id(task), tools)
    existing = _recorders.existing(user_aggregator, "record", call)
    if existing is not None:
        return existing  # type: ignore[return-value]
    recorder = Recorder(
        user_aggregator,
        assistant_aggregator,
        open_log("record", dir, log, options),
        source=source,
        tools=tools,
    )
    if task is not None:
        recorder._subscribe(
            task.add_event_handler,
            task.remove_event_handler,
            "on_pipeline_finished",
            recorder._close_soon,
        )
    _recorders.remember(user_aggregator, recorder, call)
    return recorder
