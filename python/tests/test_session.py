"""The lower-level API: convlog.Session and the module functions."""

from __future__ import annotations

import asyncio
import datetime
import fcntl
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import convlog


def test_log_append_flush_end(logdir: Path) -> None:
    log = convlog.Session.create(logdir)
    assert log.path.parent == logdir and log.path.name.startswith("conversation_")
    assert len(log.id) == 32 and not log.is_broken and log.last_error is None
    assert stat.S_IMODE(os.stat(logdir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    assert log.log("user", "नमस्ते", source="deepgram_stt") is None
    seq = log.append("agent", "Hi!", source="cartesia_tts", turn="t1", lang="hi", speaker="a")
    assert seq == 2  # the logged record was queued first
    assert log.append("user", "   ") is None  # blank content is skipped
    log.log("user", "meta", meta={"confidence": 0.9, "words": ["a", 1, None, True]})
    log.flush()
    rows = list(convlog.messages(log.path))
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[1]["turn"] == "t1" and rows[1]["lang"] == "hi" and rows[1]["speaker"] == "a"
    assert rows[2]["meta"] == {"confidence": 0.9, "words": ["a", 1, None, True]}
    export = log.end()
    assert export == log.path.with_suffix(".json") and log.ended
    data = json.loads(export.read_text(encoding="utf-8"))
    assert [m["content"] for m in data["conversation"]] == ["नमस्ते", "Hi!", "meta"]
    with pytest.raises(convlog.SessionEndedError) as e:
        log.log("user", "late")
    assert str(log.path) in str(e.value) and e.value.path == str(log.path)
    with pytest.raises(convlog.SessionEndedError):
        convlog.Session.open(log.path)


def test_context_manager_ends(logdir: Path) -> None:
    with convlog.Session.create(logdir) as log:
        log.log("user", "hello")
    assert log.ended and convlog.verify(log.path)["state"] == "ended"
    # An exception in the block still ends the log, and is not hidden.
    with pytest.raises(RuntimeError), convlog.Session.create(logdir) as log2:
        log2.log("user", "before the error")
        raise RuntimeError("boom")
    assert convlog.verify(log2.path)["state"] == "ended"


async def test_async_api_and_context_manager(logdir: Path) -> None:
    async with convlog.Session.create(logdir) as log:
        seq = await log.append_async("user", "one", source="deepgram_stt")
        assert seq == 1
        log.log("agent", "two")
        await log.flush_async()
        assert convlog.verify(log.path)["messages"]["total"] == 2
    assert log.ended
    log2 = convlog.Session.create(logdir)
    await log2.append_async("user", "x")
    export = await log2.end_async()
    assert export is not None and export.exists()
    with pytest.raises(convlog.SessionEndedError):
        await log2.append_async("user", "y")


async def test_async_with_logs_a_failed_end_on_the_loop_and_keeps_the_error(
    logdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the block raised and ending fails too (here: another holder of
    the lock outlasts lock_timeout), the block's exception goes on and the
    end's failure is logged on the loop's thread, not on the committer."""
    log = convlog.Session.create(logdir, lock_timeout=0.1, echo=False)
    holder = os.open(log.path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with caplog.at_level(logging.ERROR, "convlog"), pytest.raises(RuntimeError, match="boom"):
            async with log:
                raise RuntimeError("boom")
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    (record,) = [r for r in caplog.records if r.name == "convlog"]
    assert str(log.path) in record.getMessage()
    assert record.thread == threading.get_ident()


async def test_append_async_never_waits_on_the_loop(logdir: Path) -> None:
    """While another process holds the log's lock, append_async returns at
    once and the loop keeps running; the awaitable completes once a commit
    thread has the lock and has synced."""
    log = convlog.Session.create(logdir)
    holder = os.open(log.path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        t = time.perf_counter()
        fut = log.append_async("user", "waits for the lock")
        assert time.perf_counter() - t < 0.05
        ticks = 0
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 10 and not fut.done()
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    assert await asyncio.wait_for(fut, 10) == 1
    log.end()


def test_log_never_blocks_or_raises_on_a_disk_failure(logdir: Path) -> None:
    log = convlog.Session.create(logdir, lock_timeout=0.1)
    holder = os.open(log.path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        t = time.perf_counter()
        log.log("user", "cannot be written yet")
        assert time.perf_counter() - t < 0.05
        with pytest.raises(convlog.LockTimeoutError) as e:
            log.flush()
        assert str(log.path) in str(e.value) and isinstance(e.value, TimeoutError)
        with pytest.raises(convlog.LockTimeoutError):
            log.append("user", "neither can this")
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    assert log.last_error is not None and str(log.path) in log.last_error


def test_error_kinds_name_the_file(logdir: Path, tmp_path: Path) -> None:
    log = convlog.Session.create(logdir, max_content_bytes=16)
    cases = [
        (convlog.ContentTooLargeError, lambda: log.append("user", "x" * 17)),
        (convlog.InvalidMessageError, lambda: log.log("robot", "hi")),
        (convlog.InvalidMessageError, lambda: log.log("user", "hi", meta=[1])),
        (convlog.InvalidMessageError, lambda: log.log("user", "hi", meta={"x": object()})),
        (convlog.InvalidMessageError, lambda: log.log("user", "hi", timestamp="yesterday")),
    ]
    for cls, call in cases:
        with pytest.raises(cls) as e:
            call()
        assert isinstance(e.value, convlog.ConvlogError) and isinstance(e.value, ValueError)
        assert str(log.path) in str(e.value)
    not_a_log = tmp_path / "notes.jsonl"
    not_a_log.write_text("hello\n")
    for call in (lambda: convlog.Session.open(not_a_log), lambda: convlog.verify(not_a_log)):
        with pytest.raises(convlog.NotALogError) as e:
            call()
        assert str(not_a_log) in str(e.value)
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(convlog.StorageError) as e:
        convlog.messages(missing)
    assert isinstance(e.value, OSError) and e.value.errno == 2 and str(missing) in str(e.value)
    assert issubclass(convlog.WriterBrokenError, convlog.ConvlogError)
    log.end()


def test_timestamps_naive_aware_and_epoch(logdir: Path) -> None:
    log = convlog.Session.create(logdir)
    naive = datetime.datetime(2025, 8, 18, 14, 30, 22, 123456)
    aware = datetime.datetime(2025, 8, 18, 9, 0, 0, 500000, tzinfo=datetime.timezone.utc)
    epoch = 1755527422.25
    log.append("user", "naive", timestamp=naive)
    log.append("user", "aware", timestamp=aware)
    log.append("user", "epoch", timestamp=epoch)
    log.append("user", "text", timestamp="2025-08-18T14:30:22.5+05:30")
    rows = list(convlog.messages(log.path))
    stored = [datetime.datetime.fromisoformat(r["timestamp"]) for r in rows]
    assert stored[0] == naive.astimezone()
    assert stored[1] == aware
    assert stored[2].timestamp() == epoch
    conv = json.loads(convlog.export(log.path, "-"))["conversation"]
    assert conv[0]["timestamp"] == "2025-08-18T14:30:22.123456"  # naive means local
    assert conv[1]["timestamp"] == aware.astimezone().replace(tzinfo=None).isoformat()
    log.end()


def test_console_lines_go_through_logging(logdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="convlog")
    log = convlog.Session.create(logdir)
    log.log("user", "नमस्ते")
    log.append("agent", "Hi!")
    quiet = convlog.Session.create(logdir, echo=False)
    quiet.log("user", "not echoed")
    lines = [r.getMessage() for r in caplog.records if r.name == "convlog"]
    assert lines == ["[USER] नमस्ते", "[AGENT] Hi!"]
    log.end()
    quiet.end()


def test_export_formats_and_destinations(logdir: Path, tmp_path: Path) -> None:
    log = convlog.Session.create(logdir, export_on_end=False)
    log.append("user", "hello", turn="t")
    log.append("user", "again", turn="t")
    assert log.end() is None
    assert not log.path.with_suffix(".json").exists()
    beside = convlog.export(log.path)
    assert beside == log.path.with_suffix(".json")
    merged = json.loads(beside.read_text())["conversation"]
    assert [m["content"] for m in merged] == ["hello again"]
    out = convlog.export(log.path, tmp_path / "t.md", "markdown")
    assert out == tmp_path / "t.md" and "hello again" in out.read_text()
    text = convlog.export(log.path, "-", "jsonl", merge=False)
    assert len(text.strip().splitlines()) == 2
    with pytest.raises(convlog.InvalidMessageError):
        convlog.export(log.path, "-", "pdf")


def test_verify_says_what_the_cli_says(logdir: Path) -> None:
    """convlog.verify(path) is `convlog verify --json path`, key for key and
    in the same order, for each state a log can be in."""
    ended = convlog.Session.create(logdir, echo=False)
    ended.append("user", "hello", source="deepgram_stt")
    ended.append("agent", "hi there", source="cartesia_tts")
    ended.end()
    open_ = convlog.Session.create(logdir, echo=False)
    open_.append("user", "still talking")
    torn, corrupt = (convlog.Session.create(logdir, echo=False) for _ in range(2))
    for log in (torn, corrupt):
        for i in range(3):
            log.append("user", f"line {i}")
        log.flush()
    with open(torn.path, "ab") as f:
        f.write(b'{"half a rec')
    lines = corrupt.path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"line 1", b"line X")  # the CRC no longer matches
    corrupt.path.write_bytes(b"\n".join(lines))

    expected = {ended: "ended", open_: "open", torn: "damaged", corrupt: "damaged"}
    cli = os.environ.get("CONVLOG_BIN")
    for log, state in expected.items():
        report = convlog.verify(log.path)
        assert report["state"] == state, report
        assert list(report) == [
            "path", "session", "state", "start", "stop", "duration_secs", "messages",
            "damage", "tools", "seq", "bytes", "advice", "repair",
        ]  # fmt: skip
        assert report["session"] == log.id
        if cli:
            shown = subprocess.run(
                [cli, "verify", "--json", str(log.path)], capture_output=True, text=True
            )
            assert shown.returncode == (0 if state != "damaged" else 1), shown.stderr
            assert json.loads(shown.stdout) == report
            assert list(json.loads(shown.stdout)) == list(report)
    assert convlog.verify(ended.path)["messages"] == {"user": 1, "agent": 1, "total": 2}
    torn_report = convlog.verify(torn.path)
    assert [d["kind"] for d in torn_report["damage"]] == ["torn-tail"]
    assert torn_report["bytes"]["torn"] == len(b'{"half a rec')
    assert "--repair" in torn_report["advice"]
    assert [d["kind"] for d in convlog.verify(corrupt.path)["damage"]] == ["corrupt"]
    assert convlog.verify(corrupt.path)["damage"][0]["line"] == 3


def run_child(code: str, logdir: Path) -> str:
    """Runs ``code`` in a fresh interpreter, whose threads are its own."""
    done = subprocess.run(
        [sys.executable, "-c", code, str(logdir)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


THREADS = """
import os
def threads():
    names = []
    for t in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{t}/comm") as f:
            names.append(f.read().strip())
    return sorted(n for n in names if n.startswith("convlog"))
"""


def test_a_lone_append_commits_on_the_calling_thread(logdir: Path) -> None:
    """Blocking appends, flushes and the end start no thread: with nobody
    else committing, the write and fdatasync run on the caller's thread."""
    out = run_child(
        THREADS
        + """
import sys, convlog
log = convlog.Session.create(sys.argv[1], echo=False)
for i in range(20):
    assert log.append("user", f"m{i}") == i + 1
log.flush()
log.end()
print(threads())
log2 = convlog.Session.create(sys.argv[1], echo=False)
log2.log("user", "queued")
log2.flush()
print(threads())
""",
        logdir,
    )
    # The first line is the blocking path's; the second shows the probe
    # works: a detached log() goes through the commit pool.
    assert out.splitlines() == ["[]", "['convlog-commit']"]


def test_dropping_a_session_with_an_await_in_flight(logdir: Path) -> None:
    """The committer completes an awaitable with the GIL; a session dropped
    meanwhile must not hold the GIL while it waits for that committer."""
    out = run_child(
        """
import asyncio, fcntl, gc, os, sys, threading, convlog
async def main():
    log = convlog.Session.create(sys.argv[1], echo=False)
    holder = os.open(log.path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    fut = log.append_async("user", "in flight")
    threading.Timer(0.3, fcntl.flock, (holder, fcntl.LOCK_UN)).start()
    del log
    gc.collect()
    print(await asyncio.wait_for(fut, 10))
asyncio.run(main())
""",
        logdir,
    )
    assert out.split() == ["1"]
    (path,) = logdir.glob("*.jsonl")
    assert [m["content"] for m in convlog.messages(path)] == ["in flight"]


def test_python_accepts_what_the_cli_accepts(logdir: Path) -> None:
    """Issue 17, defect 5: integers of any size are kept digit for digit; text
    that UTF-8 cannot hold is refused with InvalidMessageError naming the field."""
    log = convlog.Session.create(logdir, echo=False)
    log.append("user", "big", meta={"big": 10**30, "neg": -(10**25), "nested": [2**64]})
    (row,) = convlog.messages(log.path)
    assert row["meta"] == {"big": 10**30, "neg": -(10**25), "nested": [2**64]}
    assert '"big":1000000000000000000000000000000' in log.path.read_text()
    for kwargs, field in (
        ({"content": "half \ud800 a pair"}, "content"),
        ({"content": "ok", "source": "stt\udfff"}, "source"),
        ({"content": "ok", "turn": "t\ud800"}, "turn"),
        ({"content": "ok", "meta": {"k": "v\ud800"}}, "meta"),
        ({"content": "ok", "interrupted": "yes"}, "interrupted"),
    ):
        for call in (log.log, log.append):
            with pytest.raises(convlog.InvalidMessageError, match=f"`{field}`") as e:
                call("user", **kwargs)
            assert str(log.path) in str(e.value)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        log.log("user", "hi", colour="blue")
    with pytest.raises(TypeError, match="missing required argument 'content'"):
        log.log("user")
    assert [r["content"] for r in convlog.messages(log.path)] == ["big"]
    log.end()


def test_messages_is_lazy(logdir: Path) -> None:
    log = convlog.Session.create(logdir, echo=False)
    for i in range(3):
        log.append("user", f"m{i}")
    rows = convlog.messages(log.path)
    assert iter(rows) is rows
    assert next(rows)["content"] == "m0"
    assert [r["content"] for r in rows] == ["m1", "m2"]
    assert list(rows) == []
    log.end()


def test_an_async_call_made_during_exit_resolves(logdir: Path) -> None:
    """Issue 17, defect 7: an `atexit` hook that runs after convlog's own
    (registered before convlog was imported) can still await an append, a
    flush and an end; each resolves, and the log holds the result."""
    out = run_child(
        """
import asyncio, atexit, sys
def late():
    import convlog
    async def main():
        seq = await LOG.append_async("user", "during exit")
        await LOG.flush_async()
        export = await LOG.end_async()
        print(seq, export is not None and export.exists())
    asyncio.run(asyncio.wait_for(main(), 20))
atexit.register(late)
import convlog
LOG = convlog.Session.create(sys.argv[1], echo=False)
LOG.log("user", "before exit")
""",
        logdir,
    )
    assert out.split() == ["2", "True"]
    (path,) = logdir.glob("*.jsonl")
    assert convlog.verify(path)["state"] == "ended"


def test_exit_waits_for_an_end_still_rendering_its_export(logdir: Path) -> None:
    """Issue 17, defect 7: an `end_async` left unawaited when the program
    returns still finishes its export before the process exits."""
    out = run_child(
        """
import asyncio, sys, convlog
LOG = convlog.Session.create(sys.argv[1], echo=False)
for i in range(20000):
    LOG.log("user", f"message {i} " * 20)
async def main():
    global PENDING
    PENDING = asyncio.ensure_future(LOG.end_async())
    await asyncio.sleep(0)
loop = asyncio.new_event_loop()
loop.run_until_complete(main())
print(LOG.path)
""",
        logdir,
    )
    path = Path(out.strip())
    assert convlog.verify(path)["state"] == "ended"
    export = path.with_suffix(".json")
    conv = json.loads(export.read_text(encoding="utf-8"))["conversation"]
    assert len(conv) == 20000


def test_type_errors_use_the_right_article_and_a_file_in_the_way_is_named(
    logdir: Path, tmp_path: Path
) -> None:
    """Issue 22: "not an object", never "not a object"; and a log asked for
    under a path whose component is a file says that file is not a directory."""
    with convlog.Session.create(logdir, echo=False) as log:
        with pytest.raises(convlog.InvalidMessageError) as e:
            log.append("user", "hi", source="s", timestamp=object())
        assert "not an object" in str(e.value)
        with pytest.raises(convlog.InvalidMessageError) as e:
            log.append("user", "hi", source="s", meta={"k": object()})
        assert "holds an object" in str(e.value)
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(convlog.StorageError) as e:
        convlog.Session.create(afile / "sub")
    assert f"{afile} is not a directory" in str(e.value)


FSIZE_CHILD = r"""
import asyncio, json, os, resource, sys
import convlog

hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]


def full(log):
    # No room for another byte: the next write fails with EFBIG (Python
    # ignores SIGXFSZ, so the kernel returns the error).
    resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(log.path), hard))


def roomy():
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))


def state(log, exc):
    out = {"broken": log.is_broken, "last_error": log.last_error}
    if exc is not None:
        out.update(type=type(exc).__name__, oserror=isinstance(exc, OSError),
                   errno=getattr(exc, "errno", None), text=str(exc))
    return out


def first_failure(call):
    try:
        call()
    except convlog.ConvlogError as e:
        return e
    return None


out = {}
log = convlog.Session.create(sys.argv[1], echo=False)
log.append("user", "fits", "t")
full(log)
out["append"] = state(log, first_failure(lambda: log.append("agent", "no room", "t")))
out["later"] = state(log, first_failure(lambda: log.append("agent", "later", "t")))
roomy()

log2 = convlog.Session.create(sys.argv[1], echo=False)
log2.append("user", "fits", "t")
full(log2)


async def awaited():
    try:
        await log2.append_async("agent", "no room", "t")
    except convlog.ConvlogError as e:
        return e


out["append_async"] = state(log2, asyncio.run(awaited()))
roomy()

log3 = convlog.Session.create(sys.argv[1], echo=False)
log3.append("user", "fits", "t")
full(log3)
log3.log("agent", "no room", "t")  # never raises
out["flush"] = state(log3, first_failure(log3.flush))
roomy()
print(json.dumps(out))
"""


def test_a_failing_write_raises_its_own_oserror(tmp_path: Path) -> None:
    """Issue 17, defect 6: a real failure (a file-size limit: EFBIG, as a
    full disk gives ENOSPC) reaches the call that hit it as ``StorageError``
    (an ``OSError``) with its errno; later calls get ``WriterBrokenError``
    naming it; ``is_broken`` and ``last_error`` agree."""
    import errno
    import json
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", FSIZE_CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout)
    # log() never raises: its failure is last_error, and the flush after it
    # is refused as broken (or, had it joined the failing group, gets it).
    flush = out.pop("flush")
    assert flush["type"] in ("StorageError", "WriterBrokenError"), flush
    assert flush["broken"] is True and "File too large" in flush["text"], flush
    assert "File too large" in (flush["last_error"] or ""), flush
    for call in ("append", "append_async"):
        got = out[call]
        assert got["type"] == "StorageError" and got["oserror"], (call, got)
        assert got["errno"] == errno.EFBIG, (call, got)
        assert "File too large" in got["text"] and str(tmp_path) in got["text"], (call, got)
        assert got["broken"] is True, (call, got)
        assert "File too large" in (got["last_error"] or ""), (call, got)
    later = out["later"]
    assert later["type"] == "WriterBrokenError" and "File too large" in later["text"], later
