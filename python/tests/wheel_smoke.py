"""A smoke test of an installed convlog wheel, with nothing else installed.

    python python/tests/wheel_smoke.py

``.ci/run`` runs it with each Python it can find that the wheel claims
(3.10, the oldest, first), in a fresh venv holding only the wheel: the
package imports from site-packages, a session is written, ended, verified,
exported and read back, and the ``convlog`` command and ``python -m
convlog`` answer with the package's version and agree on the log.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import convlog
from convlog.__main__ import find_convlog_bin


def check(cond: bool, what: str) -> None:
    if not cond:
        sys.exit(f"wheel smoke test FAILED ({sys.version.split()[0]}): {what}")


def main() -> None:
    here = Path(convlog.__file__).resolve().parent
    site = Path(sysconfig.get_path("platlib")).resolve()
    check(here.parent == site, f"convlog imported from {here}, not from {site}")
    version = importlib.metadata.version("convlog")
    check(convlog.__version__ == version, f"__version__ {convlog.__version__} != {version}")

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "conversations"
        with convlog.Session.create(d, echo=False) as log:
            log.log("user", "नमस्कार, आप कैसे हैं?", source="deepgram_stt")
            seq = log.append("agent", "नमस्ते!", source="cartesia_tts", turn="t1")
        check(seq == 2, f"append returned seq {seq}")
        report = convlog.verify(log.path)
        check(report["state"] == "ended", f"verify: {report}")
        check(report["messages"]["total"] == 2, f"verify: {report}")
        got = [(m["role"], m["content"]) for m in convlog.messages(log.path)]
        check(got == [("user", "नमस्कार, आप कैसे हैं?"), ("agent", "नमस्ते!")], f"{got}")
        doc = json.loads(convlog.export(log.path, out="-"))
        check([m["source"] for m in doc["conversation"]] == ["deepgram_stt", "cartesia_tts"], doc)

        cli = find_convlog_bin()
        out = subprocess.run([cli, "--version"], capture_output=True, text=True)
        check(out.stdout == f"convlog {version}\n", f"convlog --version: {out}")
        for cmd in ([cli], [sys.executable, "-m", "convlog"]):
            shown = subprocess.run([*cmd, "verify", "--json", str(log.path)], capture_output=True)
            check(shown.returncode == 0, f"{cmd} verify: {shown}")
            check(json.loads(shown.stdout) == report, f"{cmd} verify --json: {shown.stdout}")
        bad = subprocess.run([cli, "verify", str(d / "missing.jsonl")], capture_output=True)
        check(bad.returncode == 2 and b"missing.jsonl" in bad.stderr, f"missing file: {bad}")
    print(f"wheel smoke test passed: Python {sys.version.split()[0]}, convlog {version}, {here}")


if __name__ == "__main__":
    main()
