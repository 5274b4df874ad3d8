"""convlog.pipecat.record against pipecat-ai's real LLMContextAggregatorPair."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from pathlib import Path

import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineTask
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    AssistantTurnStoppedMessage,
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
    UserTurnStoppedMessage,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.turns.user_start.transcription_user_turn_start_strategy import (
    TranscriptionUserTurnStartStrategy,
)
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
    SpeechTimeoutUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.utils.time import time_now_iso8601

import convlog
import convlog.pipecat


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
    assert convlog.verify(recorder.path)["state"] == "ended"


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
    assert convlog.verify(recorder.path)["messages"]["total"] == n
    times.sort()
    with capsys.disabled():
        print(
            f"\npipecat handler on the loop: p50 {times[n // 2] / 1000:.1f} us, "
            f"p99 {times[int(n * 0.99)] / 1000:.1f} us ({n} events)"
        )
    await recorder.aclose()


class EchoLLM(FrameProcessor):
    """Stands in for an LLM service: answers each context with word frames."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            msgs = frame.context.get_messages()
            last = [m for m in msgs if m.get("role") == "user"][-1]["content"]
            await self.push_frame(LLMFullResponseStartFrame())
            for word in f"You said: {last}".split(" "):
                await self.push_frame(LLMTextFrame(word + " "))
            await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_pipecat_pipeline_end_to_end(logdir: Path) -> None:
    """A real pipeline: transcripts in, the user turn stops on a speech timeout
    (no audio needed), an echo LLM answers, and the end of the pipeline ends the log."""
    strategies = UserTurnStrategies(
        start=[TranscriptionUserTurnStartStrategy()],
        stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.1)],
    )
    pair = LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(user_turn_strategies=strategies)
    )
    task = PipelineTask(Pipeline([pair.user(), EchoLLM(), pair.assistant()]))
    recorder = convlog.pipecat.record(pair.user(), pair.assistant(), logdir, task=task)
    runner = PipelineRunner(handle_sigint=False)
    run = asyncio.create_task(runner.run(task))
    for text in ("hello pipecat", "and again"):
        before = len(list(convlog.messages(recorder.path)))
        await task.queue_frame(
            TranscriptionFrame(text, "caller-1", time_now_iso8601(), finalized=True)
        )
        deadline = time.monotonic() + 10
        while len(list(convlog.messages(recorder.path))) < before + 2:
            assert time.monotonic() < deadline, "the turn was not recorded"
            await asyncio.sleep(0.05)
    await task.queue_frame(EndFrame())
    await asyncio.wait_for(run, 30)
    export = await recorder.aclose()
    assert recorder.log.ended
    conv = json.loads(export.read_text())["conversation"]
    assert [(m["role"], m["content"]) for m in conv] == [
        ("user", "hello pipecat"),
        ("agent", "You said: hello pipecat"),
        ("user", "and again"),
        ("agent", "You said: and again"),
    ]
    assert [m["source"] for m in conv] == ["pipecat_stt", "pipecat_tts"] * 2
    # Issue 17, defect 8: the user turn's own user_id is None in a real
    # pipeline; the speaker is the transcription's user (the transport's client).
    rows = list(convlog.messages(recorder.path))
    assert [r["speaker"] for r in rows] == ["caller-1", None, "caller-1", None]


async def test_record_twice_returns_the_same_recorder(logdir: Path) -> None:
    """Issue 17, defect 4, for Pipecat: one log, each turn once."""
    pair = LLMContextAggregatorPair(LLMContext())
    user, assistant = pair.user(), pair.assistant()
    first = convlog.pipecat.record(user, assistant, logdir, echo=False)
    assert convlog.pipecat.record(user, assistant, logdir, echo=False) is first
    with pytest.raises(ValueError, match=str(first.path)):
        convlog.pipecat.record(user, assistant, logdir, echo=False, source="other")
    await assistant._call_event_handler(
        "on_assistant_turn_stopped",
        AssistantTurnStoppedMessage(content="once", interrupted=False, timestamp=None),
    )
    await asyncio.sleep(0.05)  # Pipecat runs each handler in a task of its own
    await first.aclose()
    assert len(list(logdir.glob("*.jsonl"))) == 1
    assert [r["content"] for r in convlog.messages(first.path)] == ["once"]
