"""Redaction from Python: ``redact=`` and ``redactor=`` on Session and the
recorders' options, applied before the message reaches the writer."""

import json
import logging

import pytest

import convlog

SAID = "card 4111 1111 1111 1111, call nine eight seven six five four three two one zero"
RAW = ["4111 1111 1111 1111", "nine eight seven six five four three two one zero"]


def records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_redact_applies_before_the_disk_and_the_echo(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="convlog")
    s = convlog.Session.create(tmp_path, redact="card,phone", export_on_end=False)
    s.append("user", SAID, "stt")
    s.log("agent", f"noted {SAID}", "tts")
    s.end()
    text = open(s.path, encoding="utf-8").read()
    for raw in RAW:
        assert raw not in text
        assert raw not in caplog.text
    msgs = [r for r in records(s.path) if r["kind"] == "message"]
    assert msgs[0]["content"] == "card [CARD], call [PHONE]"
    assert msgs[0]["redacted"] == {"phone": 1, "card": 1}
    assert "[USER] card [CARD], call [PHONE]" in caplog.text


def test_redactor_runs_first_and_its_output_is_written(tmp_path):
    seen = []

    def presidio_like(text: str) -> str:
        seen.append(text)
        return text.replace("Priya", "<PERSON>")

    s = convlog.Session.create(
        tmp_path, redact="all", redactor=presidio_like, export_on_end=False, echo=False
    )
    s.append("user", "I am Priya, card 4111 1111 1111 1111", "stt")
    s.end()
    assert seen == ["I am Priya, card 4111 1111 1111 1111"]
    msgs = [r for r in records(s.path) if r["kind"] == "message"]
    assert msgs[0]["content"] == "I am <PERSON>, card [CARD]"


def test_bad_kinds_and_missing_keys_fail_when_the_session_opens(tmp_path):
    with pytest.raises(Exception, match="spoken_digits"):
        convlog.Session.create(tmp_path, redact="email,credit_card")
    with pytest.raises(Exception, match="no-such-key"):
        convlog.Session.create(tmp_path, redact="card", redact_key=tmp_path / "no-such-key")
    assert not list(tmp_path.glob("*.jsonl"))


def test_keyed_tokens(tmp_path):
    key = tmp_path / "key"
    key.write_text("a deployment's secret key\n")
    s = convlog.Session.create(
        tmp_path / "logs", redact="card", redact_key=key, export_on_end=False, echo=False
    )
    s.append("user", "4111 1111 1111 1111", "stt")
    s.append("user", "four one one one one one one one one one one one one one one one", "stt")
    s.end()
    a, b = (r["content"] for r in records(s.path) if r["kind"] == "message")
    assert a == b and a.startswith("[CARD:") and len(a) == len("[CARD:000000]")


def test_a_reopened_log_keeps_its_policy_its_key_and_a_redacted_echo(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="convlog")
    key = tmp_path / "key"
    key.write_text("a deployment's secret key\n")
    first = convlog.Session.create(
        tmp_path / "logs", redact="card,phone", redact_key=key, export_on_end=False, echo=False
    )
    first.append("user", "hello", "stt")
    before = open(first.path, "rb").read()
    # Without its key, a keyed log refuses a writer before anything is written.
    with pytest.raises(Exception, match="key"):
        convlog.Session.open(first.path)
    with pytest.raises(Exception, match="key"):
        convlog.Session.open(first.path, redact="card")
    assert open(first.path, "rb").read() == before
    # With the key, naming fewer kinds than the log: the log's kinds still
    # apply, to the file and to the echo alike.
    again = convlog.Session.open(first.path, redact="card", redact_key=key, export_on_end=False)
    again.append("user", SAID, "stt")
    again.end()
    text = open(first.path, encoding="utf-8").read()
    for raw in RAW:
        assert raw not in text
        assert raw not in caplog.text
    assert "[USER] card [CARD:" in caplog.text and "[PHONE:" in caplog.text


async def test_both_recorders_redact_before_the_disk(tmp_path, caplog):
    """``redact=`` and ``redactor=`` given to the real framework recorders."""
    from livekit.agents import Agent, AgentSession
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        AssistantTurnStoppedMessage,
        LLMContextAggregatorPair,
        UserTurnStoppedMessage,
    )

    import convlog.livekit
    import convlog.pipecat
    from lk_fakes import ScriptedLLM

    caplog.set_level(logging.INFO, logger="convlog")
    said = f"{SAID}, I am Priya"

    session = AgentSession(llm=ScriptedLLM({said: f"noted: {SAID}"}))
    lk = convlog.livekit.record(
        session,
        tmp_path / "lk",
        redact="card,phone",
        redactor=lambda t: t.replace("Priya", "<PERSON>"),
    )
    await session.start(Agent(instructions="be brief"))
    await session.run(user_input=said)
    await session.aclose()
    await lk.aclose()

    pair = LLMContextAggregatorPair(LLMContext())
    user, assistant = pair.user(), pair.assistant()
    pc = convlog.pipecat.record(
        user,
        assistant,
        tmp_path / "pc",
        redact="card,phone",
        redactor=lambda t: t.replace("Priya", "<PERSON>"),
    )
    await user._call_event_handler(
        "on_user_turn_stopped",
        None,
        UserTurnStoppedMessage(content=said, timestamp="2026-01-02T03:04:05.678+00:00"),
    )
    await assistant._call_event_handler(
        "on_assistant_turn_stopped",
        AssistantTurnStoppedMessage(
            content=f"noted: {SAID}", interrupted=False, timestamp="2026-01-02T03:04:06.000+00:00"
        ),
    )
    await pc.aclose()

    for rec in (lk, pc):
        rows = list(convlog.messages(rec.path))
        assert [r["content"] for r in rows] == [
            "card [CARD], call [PHONE], I am <PERSON>",
            "noted: card [CARD], call [PHONE]",
        ], rec.path
        stored = [r for r in records(rec.path) if r["kind"] == "message"]
        assert stored[0]["redacted"] == {"phone": 1, "card": 1}
        for f in rec.path.parent.iterdir():
            text = f.read_text(encoding="utf-8")
            for raw in [*RAW, "Priya"]:
                assert raw not in text, f
    for raw in [*RAW, "Priya"]:
        assert raw not in caplog.text
