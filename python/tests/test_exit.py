"""A session left un-ended at interpreter exit neither crashes the process nor
loses what was logged.

Completions of ``*_async`` calls run on the library's commit pool and take
the GIL there; one that ran during or after finalization aborted the process
(SIGABRT, exit code 134) in most runs. Each shape runs in many fresh
interpreters because the failure depended on thread timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import convlog

HERE = Path(__file__).parent
RUNS = int(os.environ.get("CONVLOG_EXIT_RUNS", "12"))
LOGGED = [f"logged {i}" for i in range(5)]
APPENDED = [f"appended {i}" for i in range(3)]
MODES = {
    "log": LOGGED,
    "global": LOGGED,
    "cycle": LOGGED,
    "async_pending": LOGGED + APPENDED,
    "async_closed": LOGGED + APPENDED,
}


def run_once(mode: str, where: Path) -> tuple[int | str, str, str]:
    try:
        child = subprocess.run(
            [sys.executable, "-X", "faulthandler", str(HERE / "exit_child.py"), mode, str(where)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as hung:
        # A completion stuck waiting for the GIL of a finalizing interpreter.
        out = hung.stdout.decode() if isinstance(hung.stdout, bytes) else ""
        return "hung for 60 s", out, ""
    return child.returncode, child.stdout, child.stderr


@pytest.mark.parametrize("mode", sorted(MODES))
def test_unended_session_at_exit_exits_cleanly_and_keeps_every_message(
    mode: str, tmp_path: Path
) -> None:
    dirs = [tmp_path / f"run{i}" for i in range(RUNS)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda d: run_once(mode, d), dirs))

    failures = []
    for d, (code, out, err) in zip(dirs, results, strict=True):
        if code != 0:
            failures.append(f"{d.name}: exit code {code}\n{err[-2000:]}")
            continue
        log = Path(out.strip())
        contents = sorted(r["content"] for r in convlog.messages(log))
        if contents != sorted(MODES[mode]):
            failures.append(f"{d.name}: {log} holds {contents}")
    assert not failures, f"{len(failures)}/{RUNS} runs of {mode!r} failed:\n" + "\n".join(failures)


def test_an_ended_session_is_left_alone_at_exit(tmp_path: Path) -> None:
    """The exit hook commits what open sessions queued; an ended one has
    nothing, and its file may be gone: no error about it at exit."""
    code, _, err = run_once("ended_removed", tmp_path / "gone")
    assert code == 0, err
    assert not (tmp_path / "gone").exists()
    assert "at exit" not in err and "broken" not in err, err
