"""A real AgentSession recorded by convlog, talking until it is killed.

After each turn it appends a marker with append_async and prints
``ACK <turn> <seq>`` only once that append has returned (durable)."""

from __future__ import annotations

import asyncio
import sys

from livekit.agents import Agent, AgentSession

import convlog
import convlog.livekit
from lk_fakes import ScriptedLLM


async def main(logdir: str) -> None:
    session = AgentSession(llm=ScriptedLLM())
    recorder = convlog.livekit.record(session, logdir, echo=False)
    print(f"LOG {recorder.path}", flush=True)
    await session.start(Agent(instructions="x"))
    i = 0
    while True:
        await session.run(user_input=f"turn {i}")
        seq = await recorder.log.append_async("user", f"ack {i}", source="test", turn=f"ack{i}")
        print(f"ACK {i} {seq}", flush=True)
        i += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
