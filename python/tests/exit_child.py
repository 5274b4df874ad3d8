"""Leaves a session un-ended at interpreter exit, in the shape given by argv[1].

Run by test_exit.py; prints the log's path, then exits without ending,
flushing or closing anything.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import sys

import convlog

MODE, DIR = sys.argv[1], sys.argv[2]
LOGGED = [f"logged {i}" for i in range(5)]
APPENDED = [f"appended {i}" for i in range(3)]


def logged(s: convlog.Session) -> None:
    print(s.path, flush=True)
    for text in LOGGED:
        s.log("user", text, source="deepgram_stt")


if MODE == "log":
    # A local of the module body is a global too; a function's local dies earlier.
    def main() -> None:
        logged(convlog.Session.create(DIR))

    main()
elif MODE == "global":
    SESSION = convlog.Session.create(DIR)
    logged(SESSION)
elif MODE == "cycle":
    # Kept alive past module teardown by a cycle the collector never sees.
    gc.disable()
    cycle: list[object] = [convlog.Session.create(DIR)]
    cycle.append(cycle)
    logged(cycle[0])  # type: ignore[arg-type]
    del cycle
elif MODE == "async_pending":
    # Appends still in flight, their futures never awaited, the loop never closed.
    loop = asyncio.new_event_loop()
    SESSION = convlog.Session.create(DIR)

    async def start() -> list[asyncio.Future[int | None]]:
        logged(SESSION)
        return [asyncio.ensure_future(SESSION.append_async("agent", t)) for t in APPENDED]

    PENDING = loop.run_until_complete(start())
elif MODE == "async_closed":
    # asyncio.run closes the loop while the appends are still committing.
    SESSION = convlog.Session.create(DIR)

    TASKS: list[asyncio.Future[int | None]] = []

    async def start() -> None:
        logged(SESSION)
        TASKS.extend(asyncio.ensure_future(SESSION.append_async("agent", t)) for t in APPENDED)

    asyncio.run(start())
elif MODE == "ended_removed":
    # Ended, still referenced at exit, and its directory deleted meanwhile
    # (as a benchmark's temporary directory is): nothing is left to commit.
    SESSION = convlog.Session.create(DIR)
    logged(SESSION)
    SESSION.end()
    shutil.rmtree(DIR)
else:
    raise SystemExit(f"unknown mode {MODE!r}")
