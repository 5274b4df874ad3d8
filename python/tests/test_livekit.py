"""convlog.livekit.record against a real livekit-agents AgentSession, offline."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from pathlib import Path

import pytest
from livekit.agents import Agent, AgentSession
from livekit.agents.llm import AgentHandoff, ChatMessage, ImageContent
from livekit.agents.voice.events import ConversationItemAddedEvent
from lk_fakes import RealtimeOutput, ScriptedLLM, ScriptedSTT, SilenceInput, SilenceTTS

import convlog
import convlog.livekit


def local_ts(created_at: float) -> str:
    return datetime.datetime.fromtimestamp(created_at).isoformat(timespec="microseconds")


async def test_text_turn_is_logged_and_exported(logdir: Path) -> None:
    session = AgentSession(llm=ScriptedLLM({"Hello there": "Hi! How can I help?"}))
    recorder = convlog.livekit.record(session, logdir)
    await session.start(Agent(instructions="be brief"))
    result = await session.run(user_input="Hello there")
    assert result.events
    await recorder.log.flush_async()

    rows = list(convlog.messages(recorder.path))
    assert [(r["role"], r["content"]) for r in rows] == [
        ("user", "Hello there"),
        ("agent", "Hi! How can I help?"),
    ]
    items = [i for i in session.history.items if i.type == "message"]
    assert [r["turn"] for r in rows] == [i.id for i in items]

    await session.aclose()
    export = await recorder.aclose()
    assert export is not None and export == recorder.path.with_suffix(".json")
    data = json.loads(export.read_text(encoding="utf-8"))
    assert list(data) == ["conversation"]
    conv = data["conversation"]
    assert [list(m) for m in conv] == [["role", "content", "timestamp", "source"]] * 2
    assert [m["content"] for m in conv] == ["Hello there", "Hi! How can I help?"]
    assert [m["timestamp"] for m in conv] == [local_ts(i.created_at) for i in items]
    # The export is exactly what the CLI and the original design's json.dump write.
    assert export.read_text(encoding="utf-8") == json.dumps(data, ensure_ascii=False, indent=2)
    report = convlog.verify(recorder.path)
    assert report["state"] == "intact" and report["ended"] and report["messages"] == 2


async def test_close_event_ends_the_log(logdir: Path) -> None:
    session = AgentSession(llm=ScriptedLLM())
    recorder = convlog.livekit.record(session, logdir)
    await session.start(Agent(instructions="x"))
    await session.run(user_input="one")
    await session.aclose()
    # The close handler started the end; aclose waits for the same one.
    export = await recorder.aclose()
    assert await recorder.aclose() == export  # twice is harmless
    assert recorder.log.ended
    assert convlog.verify(recorder.path)["ended"] is True
    assert json.loads(export.read_text())["conversation"][0]["content"] == "one"
