"""The LiveKit recorder never drops, duplicates or mislabels a message (issue 17),
against real livekit-agents AgentSessions, offline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from livekit.agents import Agent, AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import ConversationItemAddedEvent
from test_livekit import audio_session, interrupted_reply, local_ts, messages_of, wait_for

import convlog
import convlog.livekit
from lk_fakes import ScriptedLLM, SilenceTTS, record_one_reply


def merged(path: Path, fmt: str = "jsonl") -> str:
    return convlog.export(path, "-", fmt)


def cli(*args: str) -> subprocess.CompletedProcess[str] | None:
    exe = os.environ.get("CONVLOG_BIN")
    if not exe:
        return None
    return subprocess.run([exe, *args], capture_output=True, text=True)


async def test_streamed_interrupted_reply_keeps_flag_metrics_and_played_text(
    logdir: Path,
) -> None:
    """Defect 1: with stream_agent_text=True the merged turn carries what the
    unstreamed recording carries: the flag, the metrics and the text as played."""
    plain_log, plain_items = await interrupted_reply(logdir / "plain", stream=False)
    streamed_log, items = await interrupted_reply(logdir / "streamed", stream=True)
    for path, its in ((plain_log, plain_items), (streamed_log, items)):
        reply = its[1]
        assert reply.interrupted is True
        played = reply.text_content
        assert played
        conv = [json.loads(line) for line in merged(path).splitlines()]
        assert [(m["role"], m["content"]) for m in conv] == [
            ("user", "tell me a story"),
            ("agent", played),
        ]
        assert conv[1]["timestamp"] == local_ts(reply.created_at)[: len(conv[1]["timestamp"])]
        text = merged(path, "text")
        assert text.count("[interrupted]") == 1, text
        # The record the export shows carries the reply's metrics.
        rows = list(convlog.messages(path))
        final = [r for r in rows if r["role"] == "agent" and r["turn"] == reply.id]
        assert len(final) == 1 and final[0]["interrupted"] is True
        meta = final[0]["meta"]
        for key in ("llm_node_ttft", "tts_node_ttfb", "tts_model", "llm_model"):
            assert key in meta, (path, meta)
        shown = cli("stats", "--json", str(path))
        if shown is not None:
            stats = json.loads(shown.stdout)
            agent = stats.get("agent") or stats["sessions"][0]["agent"]
            assert agent["interrupted_turns"] == 1, stats
    # The streamed fragments were logged as the reply streamed (for a crash),
    # and the export still shows the reply once.
    streamed_rows = list(convlog.messages(streamed_log))
    assert sum(r["role"] == "agent" for r in streamed_rows) >= 2


async def test_streamed_text_reply_carries_its_metrics(logdir: Path) -> None:
    reply = "First sentence here. Second one follows! And a third?"
    recorder, _ = await record_one_reply(
        logdir, "stream please", reply, chunk=5, stream_agent_text=True, echo=False
    )
    rows = list(convlog.messages(recorder.path))
    final = rows[-1]
    assert final["role"] == "agent" and final["content"] == reply
    assert "llm_node_ttft" in final["meta"] and final["meta"]["convlog.replaces"]
    conv = [json.loads(line) for line in merged(recorder.path).splitlines()]
    assert [(m["role"], m["content"]) for m in conv] == [
        ("user", "stream please"),
        ("agent", reply),
    ]


async def test_a_long_message_is_recorded_whole(logdir: Path) -> None:
    """Defect 2: a 2.4 MB reply is stored whole (as parts) and every export
    gives it back byte for byte; `verify` counts it once."""
    big = "".join(f"सेगमेंट {i} of a very long reply. " for i in range(60_000))
    assert len(big.encode()) > 2_400_000
    recorder, export = await record_one_reply(
        logdir, "the whole thing", big, chunk=50_000, echo=False
    )
    conv = json.loads(export.read_text(encoding="utf-8"))["conversation"]
    assert [m["content"] for m in conv] == ["the whole thing", big]
    for fmt in ("jsonl", "text", "markdown"):
        assert big.strip() in merged(recorder.path, fmt)
    unmerged = convlog.export(recorder.path, "-", "jsonl", merge=False).splitlines()
    assert [json.loads(line)["content"] for line in unmerged] == ["the whole thing", big]
    rows = list(convlog.messages(recorder.path))
    assert len(rows) == 4  # 1 MiB records
    assert rows[1]["meta"]["convlog.part"] == 1 and rows[3]["meta"]["convlog.parts"] == 3
    report = convlog.verify(recorder.path)
    assert report["state"] == "ended" and report["messages"] == {"user": 1, "agent": 1, "total": 2}
    # The low-level API still refuses, with a clear error, what one record cannot hold.
    log = convlog.Session.create(logdir, echo=False)
    with pytest.raises(convlog.ContentTooLargeError, match="1048576"):
        log.log("agent", big)
    log.end()


async def test_sources_are_consistent_within_a_session(logdir: Path) -> None:
    """Defect 3: the greeting said with session.say() and the LLM's replies
    through the same TTS share its source; typed text is `text_input`."""
    session, stt = audio_session(ScriptedLLM({"hello": "Hi there."}))
    recorder = convlog.livekit.record(session, logdir, echo=False)
    await session.start(Agent(instructions="x"))
    await session.say("Welcome to the demo.")
    await stt.lines.put("hello")
    await wait_for(lambda: len(messages_of(session)) >= 3)
    await wait_for(lambda: session.agent_state == "listening")
    session.generate_reply(user_input="typed words")
    await wait_for(lambda: len(messages_of(session)) >= 5)
    await session.aclose()
    await recorder.aclose()
    rows = [(r["role"], r["content"], r["source"]) for r in convlog.messages(recorder.path)]
    assert rows[:3] == [
        ("agent", "Welcome to the demo.", "cartesia_tts"),
        ("user", "hello", "deepgram_stt"),
        ("agent", "Hi there.", "cartesia_tts"),
    ]
    assert rows[3] == ("user", "typed words", "text_input")
    assert rows[4][0] == "agent" and rows[4][2] == "cartesia_tts"


async def test_text_mode_sources(logdir: Path) -> None:
    """In a text-only session the greeting and the replies take their source
    from the session's TTS alike, and the user's text is `text_input`."""
    session = AgentSession(llm=ScriptedLLM({"hi": "Hello!"}), tts=SilenceTTS(provider="Cartesia"))
    recorder = convlog.livekit.record(session, logdir, echo=False)
    await session.start(Agent(instructions="x"))
    await session.say("Welcome.")
    await session.run(user_input="hi")
    await session.aclose()
    await recorder.aclose()
    rows = [(r["role"], r["source"]) for r in convlog.messages(recorder.path)]
    assert rows == [("agent", "cartesia_tts"), ("user", "text_input"), ("agent", "cartesia_tts")]


async def test_record_twice_returns_the_same_recorder(logdir: Path) -> None:
    """Defect 4: one log, each message once."""
    session = AgentSession(llm=ScriptedLLM())
    first = convlog.livekit.record(session, logdir, echo=False)
    again = convlog.livekit.record(session, logdir, echo=False)
    assert again is first
    with pytest.raises(ValueError, match=str(first.path)):
        convlog.livekit.record(session, logdir / "elsewhere", echo=False)
    with pytest.raises(ValueError):
        convlog.livekit.record(session, logdir, echo=False, stream_agent_text=True)
    await session.start(Agent(instructions="x"))
    await session.run(user_input="once")
    await session.aclose()
    await first.aclose()
    assert len(list(logdir.glob("*.jsonl"))) == 1
    assert [r["content"] for r in convlog.messages(first.path)] == ["once", "You said: once"]
    # Once closed, record() starts a new log.
    later = convlog.livekit.record(session, logdir, echo=False)
    assert later is not first and later.path != first.path
    await later.aclose()


async def test_recorder_stores_what_it_can_and_marks_it(logdir: Path) -> None:
    """Defect 5: an unpaired surrogate reaches the log as U+FFFD, marked."""
    session = AgentSession()
    recorder = convlog.livekit.record(session, logdir, echo=False)
    odd = ChatMessage(role="user", content=["half a pair: \ud83d!"])
    session.emit("conversation_item_added", ConversationItemAddedEvent(item=odd))
    await recorder.aclose()
    (row,) = convlog.messages(recorder.path)
    assert row["content"] == "half a pair: \ufffd!"
    assert row["meta"][convlog.REPAIRED] == ["content"]
