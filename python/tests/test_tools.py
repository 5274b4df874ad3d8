"""Tool calls and handoffs through the recorders, against the real frameworks:
a LiveKit AgentSession whose LLM calls a function tool (and hands off to
another agent), and a Pipecat pipeline whose LLM service runs a registered
function. The log, the CLI's exports and the library's reading are checked
against what the frameworks did."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from livekit.agents import Agent, AgentSession, RunContext, function_tool, llm

import convlog
import convlog.livekit
import convlog.pipecat
from lk_fakes import ScriptedLLM

# tests/it/python.rs names the binary it built; run by hand, the debug build.
CONVLOG = Path(os.environ.get("CONVLOG_BIN") or ROOT / "target" / "debug" / "convlog")


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of the log as JSON (the checksum prefix is plain JSON too)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cli(*args: str | Path) -> str:
    assert CONVLOG.exists(), f"{CONVLOG} is not built: run `cargo build` (or set CONVLOG_BIN)"
    out = subprocess.run([CONVLOG, *map(str, args)], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


# --- LiveKit ----------------------------------------------------------------


class ToolLLM(ScriptedLLM):
    """An LLM that calls ``tool`` with ``arguments`` when the user says
    ``trigger``, then answers from the tool's output."""

    def __init__(self, calls: dict[str, tuple[str, str]]) -> None:
        super().__init__()
        self.calls = calls
        self.n = 0


class _ToolStream(llm.LLMStream):
    async def _run(self) -> None:
        owner: ToolLLM = self._llm  # type: ignore[assignment]
        last = self.chat_ctx.items[-1]
        if last.type == "function_call_output":
            reply = f"Done: {last.output}" if not last.is_error else "That failed, sorry."
            delta = llm.ChoiceDelta(role="assistant", content=reply)
        else:
            text = last.text_content if last.type == "message" else ""
            if text not in owner.calls:
                delta = llm.ChoiceDelta(role="assistant", content=f"You said: {text}")
            else:
                name, args = owner.calls[text]
                owner.n += 1
                call = llm.FunctionToolCall(name=name, arguments=args, call_id=f"call_{owner.n}")
                delta = llm.ChoiceDelta(role="assistant", tool_calls=[call])
        self._event_ch.send_nowait(llm.ChatChunk(id="c", delta=delta))


ToolLLM.stream_type = _ToolStream


class Booking(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="book tables")


class Greeter(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="greet")

    @function_tool
    async def lookup_weather(self, ctx: RunContext, city: str, days: int) -> str:
        """Looks up the weather."""
        await asyncio.sleep(0.05)
        return f"sunny in {city} for {days} days, 31°C"

    @function_tool
    async def book_table(self, ctx: RunContext, time: str) -> str:
        """Books a table."""
        raise RuntimeError("no table free at " + time)

    @function_tool
    async def transfer_to_booking(self, ctx: RunContext) -> Agent:
        """Hands the caller to the booking agent."""
        return Booking()


LK_CALLS = {
    "weather in Pune?": ("lookup_weather", '{"city": "Pune", "days": 2}'),
    "book at 7": ("book_table", '{"time":"19:00"}'),
    "transfer me": ("transfer_to_booking", "{}"),
}


async def test_livekit_function_calls_and_handoff_are_recorded(logdir: Path) -> None:
    session = AgentSession(llm=ToolLLM(LK_CALLS))
    executed: list[Any] = []
    session.on("function_tools_executed", executed.append)
    recorder = convlog.livekit.record(session, logdir, echo=False)
    await session.start(Greeter())
    for text in ("weather in Pune?", "book at 7", "transfer me"):
        await session.run(user_input=text)
    await session.aclose()
    export = await recorder.aclose()

    # What LiveKit executed, call by call.
    pairs = [pair for ev in executed for pair in ev.zipped()]
    assert [c.name for c, _ in pairs] == ["lookup_weather", "book_table", "transfer_to_booking"]
    recs = records(recorder.path)
    tools = [r for r in recs if r["kind"] == "tool"]
    assert len(tools) == 3
    for rec, (call, out) in zip(tools, pairs, strict=True):
        assert rec["name"] == call.name
        assert rec["call_id"] == call.call_id
        # The model's arguments, exactly as it wrote them.
        assert rec["arguments"] == call.arguments
        assert rec["output"] == out.output
        assert rec.get("error", False) == out.is_error
        assert rec["source"] == "livekit"
        assert rec["duration_ms"] == pytest.approx((out.created_at - call.created_at) * 1000, abs=1)
    # The turn is the speech that ran the tools; each request was its own.
    assert all(t["turn"].startswith("speech_") for t in tools)
    assert len({t["turn"] for t in tools}) == 3
    assert tools[0]["output"] == "sunny in Pune for 2 days, 31°C"
    assert tools[0]["duration_ms"] >= 40  # the tool slept 50 ms
    assert tools[1]["error"] is True
    handoffs = [r for r in recs if r["kind"] == "handoff"]
    # Only the change of agent: the first agent starting is not a handoff.
    assert [(h["from"], h["to"]) for h in handoffs] == [("greeter", "booking")]
    # Each call comes after the user's request and before the agent's answer.
    order = [(r["kind"], r.get("role") or r.get("name")) for r in recs[1:-1]]
    assert order.index(("tool", "lookup_weather")) > order.index(("message", "user"))
    assert ("message", "agent") in order[order.index(("tool", "lookup_weather")) :]

    # The documented JSON beside the log is the messages only, as always.
    conv = json.loads(export.read_text(encoding="utf-8"))["conversation"]
    assert {m["role"] for m in conv} == {"user", "agent"}
    assert any(m["content"] == "Done: sunny in Pune for 2 days, 31°C" for m in conv)
    msgs = list(convlog.messages(recorder.path))
    assert len(msgs) == len(conv)
    report = convlog.verify(recorder.path)
    assert report["state"] == "ended" and not report["damage"]

    # The CLI shows them: --tools puts them into the documented JSON, the
    # other formats show them by default.
    with_tools = json.loads(cli("export", recorder.path, "--tools"))["conversation"]
    tool_rows = [m for m in with_tools if m["role"] == "tool"]
    assert [m["name"] for m in tool_rows] == [c.name for c, _ in pairs]
    assert [m["arguments"] for m in tool_rows] == [c.arguments for c, _ in pairs]
    assert [m for m in with_tools if m["role"] in ("user", "agent")] == conv
    text = cli("export", recorder.path, "--format", "text")
    assert '[TOOL] lookup_weather({"city": "Pune", "days": 2}) -> sunny in Pune' in text
    # The binding's export takes the same choice.
    assert convlog.export(recorder.path, "-", "text") == text
    assert json.loads(convlog.export(recorder.path, "-", tools=True))["conversation"] == with_tools
    assert "[TOOL]" not in convlog.export(recorder.path, "-", "text", tools=False)
    call, out = pairs[1]
    assert f"[TOOL] book_table({call.arguments}) -> error: {out.output}" in text
    # A tool that returned nothing shows no output.
    assert "[TOOL] transfer_to_booking({})\n" in text
    assert "[HANDOFF] greeter -> booking" in text
    jsonl = [
        json.loads(line) for line in cli("export", recorder.path, "--format", "jsonl").splitlines()
    ]
    assert [r["role"] for r in jsonl].count("tool") == 3
    md = cli("export", recorder.path, "--format", "markdown")
    assert "· Tool:** *lookup_weather(" in md
    assert "[TOOL] lookup_weather(" in cli("tail", recorder.path)
    hits = [
        json.loads(line) for line in cli("search", "--json", "Pune", recorder.path).splitlines()
    ]
    assert {h["role"] for h in hits} >= {"tool", "user"}


async def test_livekit_tools_false_records_messages_only(logdir: Path) -> None:
    session = AgentSession(llm=ToolLLM(LK_CALLS))
    recorder = convlog.livekit.record(session, logdir, tools=False, echo=False)
    await session.start(Greeter())
    await session.run(user_input="weather in Pune?")
    await session.run(user_input="transfer me")
    await session.aclose()
    await recorder.aclose()
    kinds = {r["kind"] for r in records(recorder.path)}
    assert kinds == {"header", "message", "end"}


async def test_tool_output_is_cut_and_marked(logdir: Path) -> None:
    log = convlog.Session.create(logdir, echo=False)
    big = "é" * 70_000  # 140 000 bytes
    log.log_tool("dump", {"q": "all"}, big, duration_ms=1.5, source="test")
    log.flush()
    log.log_tool("fail", "{}", "boom", error=True, call_id="c9", turn=3)
    log.log_handoff(None, "second")
    with pytest.raises(convlog.InvalidMessageError):
        log.log_tool("   ")
    with pytest.raises(convlog.InvalidMessageError):
        log.log_tool("f", duration_ms=-1.0)
    log.log_tool("odd", "\ud800x")  # an unpaired surrogate is stored as U+FFFD
    log.end()
    recs = records(log.path)
    t = recs[1]
    assert (t["seq"], t["source"]) == (1, "test")
    assert t["arguments"] == '{"q": "all"}'
    assert t["output_truncated"] == len(big.encode())
    assert len(t["output"].encode()) <= 65536 and big.startswith(t["output"])
    assert t["duration_ms"] == 1.5
    assert (recs[2]["error"], recs[2]["call_id"], recs[2]["turn"]) == (True, "c9", "3")
    assert recs[3] == {**recs[3], "kind": "handoff", "to": "second"} and "from" not in recs[3]
    assert recs[4]["arguments"] == "\ufffdx"
    assert convlog.verify(log.path)["state"] == "ended"


# --- Pipecat ----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_pipecat_function_calls_are_recorded(logdir: Path) -> None:
    from pipecat.frames.frames import (
        EndFrame,
        FunctionCallFromLLM,
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
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.processors.frame_processor import FrameDirection
    from pipecat.services.llm_service import FunctionCallParams, LLMService
    from pipecat.turns.user_start.transcription_user_turn_start_strategy import (
        TranscriptionUserTurnStartStrategy,
    )
    from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
        SpeechTimeoutUserTurnStopStrategy,
    )
    from pipecat.turns.user_turn_strategies import UserTurnStrategies
    from pipecat.utils.time import time_now_iso8601

    class ToolCallingLLM(LLMService):
        """A real LLMService: asks for a function on the user's words, and
        answers from the function's result once it is in the context."""

        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if not isinstance(frame, LLMContextFrame):
                await self.push_frame(frame, direction)
                return
            last = frame.context.get_messages()[-1]
            if last.get("role") == "tool":
                await self.push_frame(LLMFullResponseStartFrame())
                await self.push_frame(LLMTextFrame(f"Result: {last['content']}"))
                await self.push_frame(LLMFullResponseEndFrame())
                return
            self.n += 1
            args = {"city": "Pune", "units": "metric"} if self.n == 1 else {"time": "19:00"}
            name = "get_weather" if self.n == 1 else "book_table"
            await self.run_function_calls(
                [
                    FunctionCallFromLLM(
                        function_name=name,
                        tool_call_id=f"tc_{self.n}",
                        arguments=args,
                        context=frame.context,
                    )
                ]
            )

    async def get_weather(params: FunctionCallParams) -> None:
        await asyncio.sleep(0.05)
        await params.result_callback({"conditions": "sunny", "temperature": 31})

    async def book_table(params: FunctionCallParams) -> None:
        raise RuntimeError("no table free")

    service = ToolCallingLLM()
    service.register_function("get_weather", get_weather)
    service.register_function("book_table", book_table)
    strategies = UserTurnStrategies(
        start=[TranscriptionUserTurnStartStrategy()],
        stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.1)],
    )
    pair = LLMContextAggregatorPair(
        LLMContext(), user_params=LLMUserAggregatorParams(user_turn_strategies=strategies)
    )
    task = PipelineTask(Pipeline([pair.user(), service, pair.assistant()]))
    recorder = convlog.pipecat.record(pair.user(), pair.assistant(), logdir, task=task, echo=False)
    runner = PipelineRunner(handle_sigint=False)
    run = asyncio.create_task(runner.run(task))

    async def until(pred: Any) -> None:
        deadline = time.monotonic() + 15
        while not pred():
            assert time.monotonic() < deadline, records(recorder.path)
            await asyncio.sleep(0.05)

    def kinds() -> list[str]:
        return [r["kind"] for r in records(recorder.path)]

    await task.queue_frame(
        TranscriptionFrame("weather?", "caller-1", time_now_iso8601(), finalized=True)
    )
    await until(lambda: kinds().count("tool") == 1 and kinds().count("message") >= 2)
    await task.queue_frame(
        TranscriptionFrame("book it", "caller-1", time_now_iso8601(), finalized=True)
    )
    await until(lambda: kinds().count("tool") == 2)
    await task.queue_frame(EndFrame())
    await asyncio.wait_for(run, 30)
    export = await recorder.aclose()

    tools = [r for r in records(recorder.path) if r["kind"] == "tool"]
    weather, booking = tools
    assert weather["name"] == "get_weather" and weather["call_id"] == "tc_1"
    assert json.loads(weather["arguments"]) == {"city": "Pune", "units": "metric"}
    assert json.loads(weather["output"]) == {"conditions": "sunny", "temperature": 31}
    assert weather["duration_ms"] >= 40 and "error" not in weather
    assert weather["source"] == "pipecat"
    assert booking["name"] == "book_table" and booking["error"] is True
    assert "no table free" in booking["output"]
    conv = json.loads(export.read_text(encoding="utf-8"))["conversation"]
    assert {m["role"] for m in conv} <= {"user", "agent"}
    text = cli("export", recorder.path, "--format", "text")
    assert '[TOOL] get_weather({"city": "Pune", "units": "metric"}) -> ' in text
    assert "[TOOL] book_table(" in text and "-> error: " in text
