"""convlog's Python benchmarks, each a ratio against a baseline measured in the same run.

    python python/bench/bench.py [--quick] [--dir DIR]

- blocking ``append`` against a pure-Python ``os.write`` + ``os.fdatasync``
  loop on the same disk (target >= 0.9x), and awaited ``append_async`` against
  the same loop (no target: it shows what the hand-offs to the commit pool
  and back to the event loop cost);
- durable appends, one at a time, against the original design's
  rewrite-the-JSON loop (``../shared/baselines/seed_rewrite.py``, run as the
  original ran: no fsync; ``--seed-fsync`` adds it) at 5,000 messages
  (target >= 100x), beside the ceiling that one fdatasync per message puts on
  any durable writer on this disk;
- what the recorders and ``Session.log()`` cost the event loop
  (``loop_cost.py``: p50, p99 and max over 5 runs of 2,000 events against
  bare emits, allocations and garbage collections).

Build the extension in release mode first (``pip install ./python``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import convlog

sys.path.insert(0, str(Path(__file__).parent))
import loop_cost

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "baselines" / "seed_rewrite.py"

USER = "नमस्कार, आप कैसे हैं? message {i}"
AGENT = "नमस्ते! मैं ठीक हूँ, धन्यवाद। reply {i}"


def raw_line(i: int) -> bytes:
    line = json.dumps(
        {
            "role": "user",
            "content": USER.format(i=i),
            "timestamp": datetime.datetime.now().isoformat(),
            "source": "deepgram_stt",
        },
        ensure_ascii=False,
    )
    return (line + "\n").encode()


def bench_durable(d: Path, n: int, chunk: int = 250) -> tuple[float, float, float]:
    """Blocking ``append`` (one session, ``n`` messages, one at a time), the
    same through awaited ``append_async`` on an event loop, and the floor, a
    pure-Python loop of one ``os.write`` + ``os.fdatasync`` per message into
    a file on the same disk, interleaved in chunks so that all three see the
    same disk and the same neighbours. Returns the three rates (msg/s)."""
    log = convlog.Session.create(d / "append", echo=False, export_on_end=False)
    alog = convlog.Session.create(d / "async", echo=False, export_on_end=False)
    fd = os.open(d / "raw.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    t_log = t_raw = t_async = 0.0

    async def awaited(start: int, stop: int) -> None:
        for i in range(start, stop):
            if i % 2 == 0:
                await alog.append_async("user", USER.format(i=i), "deepgram_stt")
            else:
                await alog.append_async("agent", AGENT.format(i=i), "cartesia_tts")

    loop = asyncio.new_event_loop()
    try:
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            t = time.perf_counter()
            for i in range(start, stop):
                os.write(fd, raw_line(i))
                os.fdatasync(fd)
            t_raw += time.perf_counter() - t
            t = time.perf_counter()
            for i in range(start, stop):
                if i % 2 == 0:
                    log.append("user", USER.format(i=i), "deepgram_stt")
                else:
                    log.append("agent", AGENT.format(i=i), "cartesia_tts")
            t_log += time.perf_counter() - t
            t = time.perf_counter()
            loop.run_until_complete(awaited(start, stop))
            t_async += time.perf_counter() - t
    finally:
        loop.close()
        os.close(fd)
        log.end()
        alog.end()
    return n / t_log, n / t_raw, n / t_async


def bench_seed(d: Path, n: int, fsync: bool) -> float | None:
    """The original design as it ran (no fsync, as the Rust bench report runs
    it), or with ``--fsync`` for a durable rewrite loop."""
    if not SEED.exists():
        return None
    out = subprocess.run(
        [sys.executable, str(SEED), str(d / "seed"), str(n), *(["--fsync"] if fsync else [])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    secs = float(re.search(r"secs=([0-9.]+)", out).group(1))
    return n / secs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer messages (not the issue's 5,000)")
    ap.add_argument("--dir", type=Path, default=ROOT / "target" / "bench-python")
    ap.add_argument(
        "--seed-fsync", action="store_true", help="run seed_rewrite.py with --fsync (durable)"
    )
    args = ap.parse_args()
    n_seed = 500 if args.quick else 5000
    args.dir.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(dir=args.dir))
    rows = []
    try:
        app, raw, aio = bench_durable(d, n_seed)
        rows.append(
            (
                f"blocking append, {n_seed} msgs",
                f"{app:.0f} msg/s",
                f"{raw:.0f} msg/s os.write+fdatasync",
                f"{app / raw:.2f}x",
                ">= 0.9x",
                app / raw >= 0.9,
            )
        )
        rows.append(
            (
                f"awaited append_async, {n_seed} msgs",
                f"{aio:.0f} msg/s",
                f"{raw:.0f} msg/s os.write+fdatasync",
                f"{aio / raw:.2f}x",
                "-",
                None,
            )
        )
        seed = bench_seed(d, n_seed, args.seed_fsync)
        flag = " --fsync" if args.seed_fsync else ""
        if seed is not None:
            rows.append(
                (
                    f"append vs seed_rewrite{flag}, {n_seed} msgs",
                    f"{app:.0f} msg/s",
                    f"{seed:.1f} msg/s seed_rewrite.py",
                    f"{app / seed:.0f}x",
                    ">= 100x",
                    app / seed >= 100,
                )
            )
            # One fdatasync per message caps any durable one-at-a-time
            # writer: this is that cap against the same baseline.
            rows.append(
                (
                    "  ceiling: raw os.write+fdatasync vs seed",
                    f"{raw:.0f} msg/s",
                    f"{seed:.1f} msg/s seed_rewrite.py",
                    f"{raw / seed:.0f}x",
                    "-",
                    None,
                )
            )
        else:
            rows.append(("append vs seed_rewrite", "-", f"{SEED} not found", "-", ">= 100x", None))
        rows += loop_cost.measure(d / "loop", 3 if args.quick else 5, 2000, verbose=False)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"convlog Python benchmarks ({'quick' if args.quick else 'full'}), data in {args.dir}")
    loop_cost.print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
