"""SIGKILL in the middle of a real LiveKit conversation loses nothing acknowledged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import convlog

HERE = Path(__file__).parent


def test_sigkill_mid_conversation_keeps_every_acknowledged_append(logdir: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, str(HERE / "lk_child.py"), str(logdir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    acked: list[tuple[int, int]] = []
    log_path = None
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("LOG "):
                log_path = Path(line[4:].strip())
            elif line.startswith("ACK "):
                _, turn, seq = line.split()
                acked.append((int(turn), int(seq)))
                if len(acked) >= 8:
                    break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert log_path is not None and len(acked) >= 8

    rows = list(convlog.messages(log_path))
    by_seq = {r["seq"]: r for r in rows}
    contents = [r["content"] for r in rows]
    for turn, seq in acked:
        assert by_seq[seq]["content"] == f"ack {turn}"
        # The recorder's own messages of that turn were queued before the
        # acknowledged append, so they are durable too, and in order.
        i = contents.index(f"ack {turn}")
        assert contents[i - 2 : i] == [f"turn {turn}", f"You said: turn {turn}"]

    report = convlog.verify(log_path)
    assert report["state"] == "open", report
    assert report["damage"] == []
    cli = os.environ.get("CONVLOG_BIN")
    if cli:  # the CLI says the same: intact, still open
        shown = subprocess.run([cli, "verify", str(log_path)], capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert "intact but still open" in shown.stdout
    out = convlog.export(log_path, log_path.with_suffix(".after-crash.json"))
    conv = json.loads(Path(out).read_text())["conversation"]
    assert len(conv) == len(rows) >= 3 * len(acked)
