"""What a convlog recorder costs the agent's event loop, measured as the agent feels it.

    python python/bench/loop_cost.py [--runs 5] [--events 2000] [--dir DIR]

LiveKit (issue 23): a real ``AgentSession`` (livekit-agents) with
``convlog.livekit.record(session, dir)`` attached, default options; each of
``--events`` ``session.emit("conversation_item_added", ...)`` calls (a
``ChatMessage`` with text, created_at, confidence and STT/TTS metrics, as
LiveKit adds them) is timed on the loop's thread with ``perf_counter_ns``.
The same process first runs the bare baseline: the same emits on a session
with no recorder. Every run reports p50, p99 and max; the goals are p99 <= 50
us, p50 <= 10 us and max <= 1 ms in at least 4 of 5 runs.

LiveKit, paced: 100 emits 20 ms apart with the loop idle in between, as
messages come in a conversation (the baseline, labelled "bare", is a
do-nothing handler paced the same): each message finds convlog's commit
thread parked, so this shows what waking it costs the loop.

Each run also reports the loop thread's CPU time per event and its context
switches (voluntary: it waited; involuntary: it was preempted) and page faults.

Pipecat: the recorder on an ``LLMContextAggregatorPair`` inside a running
``PipelineTask``; each turn event is dispatched the way Pipecat runs an event
handler (``FrameProcessor._run_handler``) and timed; the baseline is the same
dispatch of a handler that does nothing.

``Session.log()`` called directly: the same message, timed per call (goal
p99 <= 20 us).

Memory: allocated blocks still held per event (``sys.getallocatedblocks()``
after the run, before the log is flushed, against before it), and Python's
garbage collections per 10,000 events, by generation (gen 2 is the full
collection), counted with ``gc.callbacks``, with and without the recorder.

The first run of the first recorder in the process is reported like every
other: a stall there (a lazy import, a first-use set-up) shows as its max.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gc
import inspect
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

USER = "नमस्कार, आप कैसे हैं? message {i}"
AGENT = "नमस्ते! मैं ठीक हूँ, धन्यवाद। reply {i}"


class GcCounter:
    """Collections per generation while active."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.counts[info["generation"]] += 1

    def __enter__(self) -> GcCounter:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: Any) -> None:
        gc.callbacks.remove(self)


class Run:
    """One run's per-event times (ns), the loop thread's CPU time (ns),
    blocks held and collections."""

    def __init__(
        self,
        times: array.array,
        cpu_ns: int,
        blocks: int,
        gcs: list[int],
        switches: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        s = sorted(times)
        n = len(s)
        self.n = n
        self.p50 = s[n // 2] / 1000
        self.p99 = s[min(n - 1, int(n * 0.99))] / 1000
        self.max = s[-1] / 1000
        # CPU time the loop's thread spent per event (timing included): what
        # the wall times above are, less waiting for a core or a lock.
        self.cpu = cpu_ns / n / 1000
        self.blocks_per_event = blocks / n
        self.gcs = gcs
        # The loop thread's context switches during the run, voluntary (it
        # waited: a lock, a futex, I/O) and involuntary (preempted), and its
        # minor page faults (memory touched for the first time).
        self.switches = switches

    def line(self) -> str:
        return (
            f"p50 {self.p50:6.1f} us  p99 {self.p99:6.1f} us  max {self.max:8.1f} us  "
            f"cpu/event {self.cpu:5.1f} us  "
            f"blocks/event {self.blocks_per_event:+.2f}  gc gen0/1/2 {self.gcs}  "
            f"ctx switches vol/invol {self.switches[0]}/{self.switches[1]}  "
            f"page faults {self.switches[2]}"
        )


def thread_switches() -> tuple[int, int, int]:
    """The calling thread's voluntary and involuntary context switches and
    minor page faults so far (Linux; zeros elsewhere)."""
    try:
        import resource

        ru = resource.getrusage(resource.RUSAGE_THREAD)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        return (0, 0, 0)
    return (ru.ru_nvcsw, ru.ru_nivcsw, ru.ru_minflt)


def since(start: tuple[int, int, int]) -> tuple[int, int, int]:
    now = thread_switches()
    return (now[0] - start[0], now[1] - start[1], now[2] - start[2])


def timed(call: Callable[[Any], Any], args: list[Any]) -> Run:
    """Times ``call(a)`` for each of ``args``; nothing allocated per event
    by the timing itself (an array of machine integers, sized in advance)."""
    times = array.array("q", bytes(8 * len(args)))
    clock = time.perf_counter_ns
    with GcCounter() as counter:
        before = sys.getallocatedblocks()
        switches = thread_switches()
        cpu = time.thread_time_ns()
        for i, a in enumerate(args):
            t = clock()
            call(a)
            times[i] = clock() - t
        cpu = time.thread_time_ns() - cpu
        switched = since(switches)
        blocks = sys.getallocatedblocks() - before
    return Run(times, cpu, blocks, counter.counts, switched)


# --- LiveKit ---------------------------------------------------------------


def livekit_events(n: int) -> list[Any]:
    from livekit.agents.llm import ChatMessage
    from livekit.agents.voice.events import ConversationItemAddedEvent

    now = time.time()
    events = []
    for i in range(n):
        user = i % 2 == 0
        md = {"model_provider": "deepgram" if user else "cartesia", "model_name": "m"}
        metrics: dict[str, Any] = {"stt_metadata" if user else "tts_metadata": md}
        if user:
            metrics.update(transcription_delay=0.21, end_of_turn_delay=0.45)
        else:
            metrics.update(e2e_latency=0.8, llm_node_ttft=0.31, tts_node_ttfb=0.12)
        item = ChatMessage(
            role="user" if user else "assistant",
            content=[USER.format(i=i) if user else AGENT.format(i=i)],
            created_at=now + i * 0.001,
            transcript_confidence=0.93 if user else None,
            metrics=metrics,
        )
        events.append(ConversationItemAddedEvent(item=item))
    return events


def nothing(*_: Any) -> None:
    """A handler that does nothing."""


# What LiveKit's emit asks `inspect.signature` for, answered at once.
nothing.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)]
)


async def livekit_runs(d: Path, runs: int, n: int) -> tuple[list[Run], list[Run], list[Run]]:
    """Bare emits first, then emits to a do-nothing handler (LiveKit's own
    cost of calling any handler), then ``runs`` runs with a recorder (a new
    session and log each), in one process."""
    from livekit.agents import AgentSession

    events = livekit_events(n)
    bare: list[Run] = []
    floor: list[Run] = []
    for runs_list, handler in ((bare, None), (floor, nothing)):
        for _ in range(runs):
            session = AgentSession()
            if handler is not None:
                session.on("conversation_item_added", handler)
            emit = session.emit
            runs_list.append(
                timed(lambda ev, emit=emit: emit("conversation_item_added", ev), events)
            )
    import convlog.livekit

    recorded: list[Run] = []
    for _ in range(runs):
        session = AgentSession()
        recorder = convlog.livekit.record(session, d)
        emit = session.emit
        recorded.append(timed(lambda ev, emit=emit: emit("conversation_item_added", ev), events))
        await recorder.aclose()
        check(recorder.path, n)
    return bare, floor, recorded


async def livekit_paced(d: Path, runs: int, n: int, gap: float) -> tuple[list[Run], list[Run]]:
    """Emits ``gap`` seconds apart, the loop idle in between, as messages
    come in a conversation: each finds convlog's commit thread parked, so
    this is what one message costs when it has to wake it. The baseline is
    the same pacing to a do-nothing handler."""
    from livekit.agents import AgentSession

    import convlog.livekit

    events = livekit_events(n)

    async def paced(emit: Callable[[str, Any], Any]) -> Run:
        times = array.array("q", bytes(8 * n))
        clock = time.perf_counter_ns
        cpu = 0
        switches = thread_switches()
        with GcCounter() as counter:
            before = sys.getallocatedblocks()
            for i, ev in enumerate(events):
                await asyncio.sleep(gap)
                c = time.thread_time_ns()
                t = clock()
                emit("conversation_item_added", ev)
                times[i] = clock() - t
                cpu += time.thread_time_ns() - c
            blocks = sys.getallocatedblocks() - before
        return Run(times, cpu, blocks, counter.counts, since(switches))

    floor: list[Run] = []
    recorded: list[Run] = []
    for _ in range(runs):
        session = AgentSession()
        session.on("conversation_item_added", nothing)
        floor.append(await paced(session.emit))
    for _ in range(runs):
        session = AgentSession()
        recorder = convlog.livekit.record(session, d)
        recorded.append(await paced(session.emit))
        await recorder.aclose()
        check(recorder.path, n)
    return floor, recorded


def check(path: Path, n: int) -> None:
    import convlog

    got = convlog.verify(path)["messages"]["total"]
    if got != n:
        raise SystemExit(f"{path}: {got} messages recorded, not {n}")


# --- Pipecat ---------------------------------------------------------------


async def pipecat_runs(d: Path, runs: int, n: int) -> tuple[list[Run], list[Run]] | None:
    try:
        from pipecat.frames.frames import EndFrame
        from pipecat.pipeline.pipeline import Pipeline
        from pipecat.pipeline.runner import PipelineRunner
        from pipecat.pipeline.task import PipelineTask
        from pipecat.processors.aggregators.llm_context import LLMContext
        from pipecat.processors.aggregators.llm_response_universal import (
            AssistantTurnStoppedMessage,
            LLMContextAggregatorPair,
            UserTurnStoppedMessage,
        )
    except ImportError:
        return None
    import convlog.pipecat

    try:  # Pipecat logs every pipeline's start and end at DEBUG through loguru
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    except ImportError:
        pass

    ts = "2026-01-02T03:04:05.678+00:00"
    msgs: list[tuple[str, Any]] = []
    for i in range(n):
        if i % 2 == 0:
            msgs.append(("on_user_turn_stopped", UserTurnStoppedMessage(USER.format(i=i), ts)))
        else:
            msg = AssistantTurnStoppedMessage(AGENT.format(i=i), False, ts)
            msgs.append(("on_assistant_turn_stopped", msg))

    async def dispatch(pair: Any, handlers: dict[str, Callable[..., Any]]) -> Run:
        """Each event as Pipecat runs a handler (`_run_handler`), timed."""
        user, assistant = pair.user(), pair.assistant()
        times = array.array("q", bytes(8 * n))
        clock = time.perf_counter_ns
        with GcCounter() as counter:
            before = sys.getallocatedblocks()
            switches = thread_switches()
            cpu = time.thread_time_ns()
            for i, (event, msg) in enumerate(msgs):
                if event == "on_user_turn_stopped":
                    agg, args = user, (None, msg)
                else:
                    agg, args = assistant, (msg,)
                coro = agg._run_handler(event, handlers[event], *args)
                t = clock()
                try:
                    coro.send(None)  # a sync handler completes in one step
                except StopIteration:
                    pass
                times[i] = clock() - t
            cpu = time.thread_time_ns() - cpu
            switched = since(switches)
            blocks = sys.getallocatedblocks() - before
        return Run(times, cpu, blocks, counter.counts, switched)

    bare: list[Run] = []
    recorded: list[Run] = []
    for with_recorder in (False, True):
        for _ in range(runs):
            pair = LLMContextAggregatorPair(LLMContext())
            task = PipelineTask(Pipeline([pair.user(), pair.assistant()]))
            runner = PipelineRunner(handle_sigint=False)
            running = asyncio.ensure_future(runner.run(task))
            await asyncio.sleep(0.05)  # the pipeline is started
            if with_recorder:
                recorder = convlog.pipecat.record(pair.user(), pair.assistant(), d)
                handlers = {
                    "on_user_turn_stopped": recorder._on_user_turn_stopped,
                    "on_assistant_turn_stopped": recorder._on_assistant_turn_stopped,
                }
                recorded.append(await dispatch(pair, handlers))
                await recorder.aclose()
                check(recorder.path, n)
            else:
                bare.append(await dispatch(pair, dict.fromkeys([e for e, _ in msgs[:2]], nothing)))
            await task.queue_frame(EndFrame())
            await asyncio.wait_for(running, 30)
    return bare, recorded


# --- Session.log -------------------------------------------------------------


def log_runs(d: Path, runs: int, n: int) -> list[Run]:
    import convlog

    out = []
    texts = [USER.format(i=i) for i in range(n)]
    for _ in range(runs):
        log = convlog.Session.create(d)
        call = log.log
        out.append(timed(lambda text, call=call: call("user", text, "deepgram_stt"), texts))
        log.end()
    return out


# --- the report --------------------------------------------------------------


def summary(
    name: str,
    bare: list[Run] | None,
    rec: list[Run],
    p99_goal: float,
    floor: list[Run] | None = None,
) -> list[tuple]:
    """The table rows for one scenario: medians over the runs. ``floor``:
    the framework's own cost of calling a do-nothing handler."""
    med = statistics.median
    p50, p99 = med(r.p50 for r in rec), med(r.p99 for r in rec)
    base = worst = held = gbase = cpu_base = "-"
    if bare:
        base = f"bare p50 {med(r.p50 for r in bare):.1f} / p99 {med(r.p99 for r in bare):.1f} us"
        cpu_base = f"{med(r.cpu for r in bare):.1f} us bare"
    if floor:
        base += f"; no-op handler {med(r.p50 for r in floor):.1f} / {med(r.p99 for r in floor):.1f}"
        cpu_base += f", {med(r.cpu for r in floor):.1f} us no-op handler"
        worst = f"worst max {max(r.max for r in bare):.0f} us bare"
        held = f"{med(r.blocks_per_event for r in bare):+.2f} bare"
        gbase = "bare " + gcs_per_10k(bare)
    runs = len(rec)
    # "max <= 1 ms in at least 4 of 5 runs" is "the 4th best max <= 1 ms".
    k = min(4, runs)
    kth = sorted(r.max for r in rec)[k - 1]
    return [
        (f"{name} p50, median of {runs}", f"{p50:.1f} us", base, "-", "<= 10 us", p50 <= 10),
        (
            f"{name} p99, median of {runs}",
            f"{p99:.1f} us",
            base,
            "-",
            f"<= {p99_goal:g} us",
            p99 <= p99_goal,
        ),
        (
            f"{name} max, {k}th best of {runs} runs",
            f"{kth:.0f} us",
            worst,
            "-",
            "<= 1000 us",
            kth <= 1000,
        ),
        (
            f"{name} loop-thread CPU per event",
            f"{med(r.cpu for r in rec):.1f} us",
            cpu_base,
            "-",
            "-",
            None,
        ),
        (
            f"{name} blocks held per event",
            f"{med(r.blocks_per_event for r in rec):+.2f}",
            held,
            "-",
            "-",
            None,
        ),
        (f"{name} GCs per 10k events", gcs_per_10k(rec), gbase, "-", "-", None),
    ]


def gcs_per_10k(runs: list[Run]) -> str:
    per = 10_000 / sum(r.n for r in runs)
    young = sum(r.gcs[0] for r in runs) * per
    full = sum(r.gcs[2] for r in runs) * per
    return f"gen0 {young:.1f}, full {full:.2f}"


def print_table(rows: list[tuple]) -> None:
    head = ("what", "convlog", "baseline", "ratio", "target")
    print(f"| {head[0]:<42} | {head[1]:<14} | {head[2]:<38} | {head[3]:<7} | {head[4]:<9} | met |")
    print(f"|{'-' * 44}|{'-' * 16}|{'-' * 40}|{'-' * 9}|{'-' * 11}|-----|")
    for what, ours, base, ratio, target, met in rows:
        mark = "n/a" if met is None else ("yes" if met else "NO")
        print(f"| {what:<42} | {ours:<14} | {base:<38} | {ratio:<7} | {target:<9} | {mark:<3} |")


def measure(d: Path, runs: int, n: int, verbose: bool = True) -> list[tuple]:
    """Every scenario; returns the table rows (and prints each run)."""
    rows: list[tuple] = []

    def show(title: str, rs: list[Run]) -> None:
        if verbose:
            print(title, file=sys.stderr)
            for i, r in enumerate(rs, 1):
                print(f"  run {i}: {r.line()}", file=sys.stderr)

    try:
        import livekit.agents  # noqa: F401

        have_livekit = True
    except ImportError:
        have_livekit = False
    if have_livekit:
        bare, floor, rec = asyncio.run(livekit_runs(d / "livekit", runs, n))
        show(f"LiveKit: bare session.emit, {n} events", bare)
        show(f"LiveKit: session.emit to a do-nothing handler, {n} events", floor)
        show(f"LiveKit: session.emit with convlog.livekit.record, {n} events", rec)
        rows += summary("LiveKit emit", bare, rec, 50, floor)
        gap_ms = 20
        pfloor, prec = asyncio.run(livekit_paced(d / "livekit-paced", runs, 100, gap_ms / 1000))
        show(f"LiveKit: emits {gap_ms} ms apart to a do-nothing handler, 100 events", pfloor)
        show(f"LiveKit: emits {gap_ms} ms apart with convlog.livekit.record, 100 events", prec)
        # The goals are for back-to-back events (issue 23's method); these
        # rows say what a lone message costs, goal or not.
        paced = summary(f"LiveKit emit {gap_ms} ms apart", pfloor, prec, 50)[:4]
        rows += [(what, ours, base, ratio, "-", None) for what, ours, base, ratio, _, _ in paced]
    else:
        rows.append(("LiveKit emit", "-", "livekit-agents not installed", "-", "-", None))
    pc = asyncio.run(pipecat_runs(d / "pipecat", runs, n))
    if pc is not None:
        show(f"Pipecat: a do-nothing turn handler, {n} events", pc[0])
        show(f"Pipecat: convlog.pipecat.record's turn handlers, {n} events", pc[1])
        rows += summary("Pipecat turn event", pc[0], pc[1], 50)
    else:
        rows.append(("Pipecat turn event", "-", "pipecat-ai not installed", "-", "-", None))
    logs = log_runs(d / "log", runs, n)
    show(f"Session.log() called directly, {n} calls", logs)
    rows += summary("Session.log()", None, logs, 20)[:4]
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--dir", type=Path, default=ROOT / "target" / "bench-python")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        rows = measure(d, args.runs, args.events)
    finally:
        # Every log was ended in its run; what still holds one goes before
        # its directory does.
        gc.collect()
        shutil.rmtree(d, ignore_errors=True)
    print(f"convlog's cost on the event loop: {args.runs} runs of {args.events} events")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
