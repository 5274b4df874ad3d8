"""convlog.pipecat.record against pipecat-ai's real LLMContextAggregatorPair."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import convlog
import convlog.pipecat
import pytest
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    AssistantTurnStoppedMessage,
    LLMContextAggregatorPair,
    UserTurnStoppedMessage,
)


def iso(dt: datetime.datetime) -> str:
    return dt.isoformat(timespec="milliseconds")


async def test_pipecat_turns_are_logged(logdir: Path) -> None:
    pair = LLMContextAggregatorPair(LLMContext())
    user, assistant = pair.user(), pair.assistant()
    recorder = convlog.pipecat.record(
        user, assistant, logdir, source={"user": "deepgram_stt", "agent": "cartesia_tts"}
    )
    t0 = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc)
    # The aggregators' own event dispatch, with Pipecat's message types.
    await user._call_event_handler(
        "on_user_turn_stopped",
        None,
        UserTurnStoppedMessage(content="नमस्ते", timestamp=iso(t0), user_id="caller-1"),
    )
    await assistant._call_event_handler(
        "on_assistant_turn_stopped",
        AssistantTurnStoppedMessage(
            content="Hello! How can I help?", interrupted=False, timestamp=iso(t0)
        ),
    )
    await assistant._call_event_handler(
        "on_assistant_turn_stopped",
        AssistantTurnStoppedMessage(content="Let me tell you", interrupted=True, timestamp=iso(t0)),
    )
    # Empty content (an interruption before any token) and realtime-mode None are skipped.
    await assistant._call_event_handler(
        "on_assistant_turn_stopped",
        AssistantTurnStoppedMessage(content="", interrupted=True, timestamp=iso(t0)),
    )
    await user._call_event_handler(
        "on_user_turn_stopped", None, UserTurnStoppedMessage(content=None, timestamp=iso(t0))
    )
    await user._call_event_handler("on_user_turn_stopped", None, object())
    export = await recorder.aclose()
    assert await recorder.aclose() == export

    rows = list(convlog.messages(recorder.path))
    assert [(r["role"], r["content"], r["source"], r["interrupted"]) for r in rows] == [
        ("user", "नमस्ते", "deepgram_stt", False),
        ("agent", "Hello! How can I help?", "cartesia_tts", False),
        ("agent", "Let me tell you", "cartesia_tts", True),
    ]
    assert rows[0]["speaker"] == "caller-1"
    stored = datetime.datetime.fromisoformat(rows[0]["timestamp"])
    assert stored == t0
    conv = json.loads(export.read_text())["conversation"]
    local = t0.astimezone().replace(tzinfo=None).isoformat(timespec="microseconds")
    assert conv[0]["timestamp"] == local
    assert convlog.verify(recorder.path)["ended"] is True


async def test_pipecat_handler_cost(logdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pair = LLMContextAggregatorPair(LLMContext())
    recorder = convlog.pipecat.record(pair.user(), pair.assistant(), logdir, echo=False)
    n = 2000
    times = []
    ts = iso(datetime.datetime.now(datetime.timezone.utc))
    for i in range(n):
        msg = AssistantTurnStoppedMessage(content=f"reply {i}", interrupted=False, timestamp=ts)
        t = time.perf_counter_ns()
        recorder._on_assistant_turn_stopped(pair.assistant(), msg)
        times.append(time.perf_counter_ns() - t)
    await recorder.log.flush_async()
    assert convlog.verify(recorder.path)["messages"] == n
    times.sort()
    with capsys.disabled():
        print(
            f"\npipecat handler on the loop: p50 {times[n // 2] / 1000:.1f} us, "
            f"p99 {times[int(n * 0.99)] / 1000:.1f} us ({n} events)"
        )
    await recorder.aclose()
