"""Tool calls and agent handoffs for the recorders: what the agent did, as
convlog records of their own (``kind: tool`` / ``kind: handoff``).

A transcript that says "I've booked it" cannot say what was booked; the
function call that booked it can. Neither framework's transcript keeps it:
LiveKit reports a batch of calls in its ``function_tools_executed`` event
(``FunctionCall`` and ``FunctionCallOutput`` items) and an agent handoff as
an ``AgentHandoff`` conversation item; Pipecat passes ``FunctionCallInProgressFrame``,
``FunctionCallResultFrame`` and ``FunctionCallCancelFrame`` down the pipeline to
the assistant aggregator. The classes here turn those into
:meth:`convlog.Session.log_tool` and :meth:`convlog.Session.log_handoff`
calls: name, the arguments as the model gave them, the output (cut at
64 KiB by the library and marked with its full length), whether it failed,
and how long it took.

Every handler is synchronous and catches everything, as the recorders' own
are: a recorder bug never reaches the agent.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

logger = logging.getLogger("convlog")

__all__ = ["LiveKitTools", "PipecatTools"]


def as_text(value: Any) -> str:
    """A tool's arguments or output as stored: a string as it is, anything
    else as JSON (non-ASCII kept), or its ``str()`` when it is not JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


class LiveKitTools:
    """Records an ``AgentSession``'s function calls and agent handoffs.

    A call's timestamp is its ``FunctionCall.created_at``; its duration runs
    to its ``FunctionCallOutput.created_at``; its turn is the id of the
    speech that asked for it: the latest ``speech_created`` when LiveKit
    reports the calls (the reply that answers them is created after). The
    session's first agent starting is not a handoff (LiveKit adds an
    ``AgentHandoff`` item with no old agent for it): only a change of agent
    is recorded.
    """

    def __init__(self, session: Any, log: Any, source: str = "livekit") -> None:
        self._session = session
        self._log = log
        self._source = source
        self._speech: str | None = None

    def handlers(self) -> list[tuple[str, Any]]:
        """The session events to subscribe to, and their handlers: the
        recorder subscribes them (and unsubscribes them at its end). Its own
        ``conversation_item_added`` handler hands non-message items to
        :meth:`on_item`, so that LiveKit calls one handler per item."""
        return [
            ("speech_created", self._on_speech),
            ("function_tools_executed", self._on_executed),
        ]

    def close(self) -> None:
        """Nothing is held between events."""

    def _on_speech(self, *args: Any) -> None:
        try:
            sid = getattr(getattr(args[0], "speech_handle", None), "id", None) if args else None
            self._speech = sid if isinstance(sid, str) and sid else self._speech
        except Exception:
            logger.exception("convlog: could not note a LiveKit speech")

    def _on_executed(self, *args: Any) -> None:
        try:
            if args and not self._log.ended:
                self._record_calls(args[0])
        except Exception:
            logger.exception("convlog: could not record a LiveKit function call")

    def on_item(self, item: Any) -> None:
        """A conversation item that is not a message."""
        try:
            if getattr(item, "type", None) == "agent_handoff" and not self._log.ended:
                self._record_handoff(item)
        except Exception:
            logger.exception("convlog: could not record a LiveKit agent handoff")

    def _record_calls(self, event: Any) -> None:
        calls = list(getattr(event, "function_calls", None) or [])
        outputs = list(getattr(event, "function_call_outputs", None) or [])
        by_id = {getattr(o, "call_id", None): o for o in outputs}
        turn = self._speech
        for i, call in enumerate(calls):
            call_id = getattr(call, "call_id", None)
            out = by_id.get(call_id) if call_id is not None else None
            if out is None and i < len(outputs):
                out = outputs[i]
            started = getattr(call, "created_at", None)
            started = started if isinstance(started, (int, float)) else None
            duration = None
            ended = getattr(out, "created_at", None)
            if started is not None and isinstance(ended, (int, float)) and ended >= started:
                duration = (ended - started) * 1000.0
            output = getattr(out, "output", None) if out is not None else None
            self._log.log_tool(
                str(getattr(call, "name", "") or "?"),
                as_text(getattr(call, "arguments", "") or ""),
                None if output is None else as_text(output),
                source=self._source,
                call_id=call_id if isinstance(call_id, str) and call_id else None,
                error=bool(getattr(out, "is_error", False)),
                duration_ms=duration,
                turn=turn,
                timestamp=started,
            )

    def _record_handoff(self, item: Any) -> None:
        old = getattr(item, "old_agent_id", None)
        new = getattr(item, "new_agent_id", None)
        if not old or not new:
            return
        created = getattr(item, "created_at", None)
        self._log.log_handoff(
            str(old),
            str(new),
            source=self._source,
            turn=self._speech,
            timestamp=created if isinstance(created, (int, float)) else None,
        )


class PipecatTools:
    """Records the function calls that reach a Pipecat assistant aggregator.

    It watches the aggregator's ``on_before_process_frame`` (a synchronous
    event for each frame it gets): a ``FunctionCallInProgressFrame`` starts
    a call (its time is the record's timestamp), and the call's
    ``FunctionCallResultFrame`` (``error`` set when its handler raised) or
    ``FunctionCallCancelFrame`` (recorded as failed, output ``cancelled``)
    settles and records it, timed from one to the other. The turn is the
    call's ``group_id``: the calls one LLM response asked for share it. A
    call still running when the recorder closes is recorded as it stands,
    with no output and ``meta.unfinished``.
    """

    def __init__(self, assistant_aggregator: Any, log: Any, source: str = "pipecat") -> None:
        self._agg = assistant_aggregator
        self._log = log
        self._source = source
        # tool_call_id -> (frame, wall-clock start, monotonic start)
        self._running: dict[str, tuple[Any, float, float]] = {}

    def handlers(self) -> list[tuple[str, Any]]:
        """The assistant aggregator's events to subscribe to, and their
        handlers: the recorder subscribes them (and unsubscribes them at its end)."""
        return [("on_before_process_frame", self._on_frame)]

    def close(self) -> None:
        """Records the calls still running, as they stand."""
        for call_id in list(self._running):
            self._settle(call_id, None, error=False, unfinished=True)

    def _on_frame(self, *args: Any) -> None:
        frame = args[-1] if args else None
        name = type(frame).__name__
        if not name.startswith("FunctionCall"):
            return
        try:
            self._frame(name, frame)
        except Exception:
            logger.exception("convlog: could not record a Pipecat function call")

    def _frame(self, name: str, frame: Any) -> None:
        call_id = getattr(frame, "tool_call_id", None)
        if not isinstance(call_id, str):
            return
        if name == "FunctionCallInProgressFrame":
            self._running.setdefault(call_id, (frame, time.time(), time.monotonic()))
        elif name == "FunctionCallResultFrame":
            error = getattr(frame, "error", None)
            if error:
                self._settle(call_id, frame, output=as_text(error), error=True)
            else:
                result = getattr(frame, "result", None)
                output = None if result is None else as_text(result)
                self._settle(call_id, frame, output=output, error=False)
        elif name == "FunctionCallCancelFrame":
            self._settle(call_id, frame, output="cancelled", error=True)

    def _settle(
        self,
        call_id: str,
        frame: Any,
        *,
        output: str | None = None,
        error: bool,
        unfinished: bool = False,
    ) -> None:
        started = self._running.pop(call_id, None)
        if self._log.ended:
            return
        first = started[0] if started is not None else frame
        arguments = getattr(first, "arguments", None)
        if arguments is None and frame is not None:
            arguments = getattr(frame, "arguments", None)
        group = getattr(first, "group_id", None)
        self._log.log_tool(
            str(getattr(first, "function_name", "") or "?"),
            "" if arguments is None else as_text(arguments),
            output,
            source=self._source,
            call_id=call_id,
            error=error,
            duration_ms=(time.monotonic() - started[2]) * 1000.0 if started else None,
            turn=group if isinstance(group, str) and group else None,
            meta={"unfinished": True} if unfinished else None,
            timestamp=started[1] if started else None,
        )
