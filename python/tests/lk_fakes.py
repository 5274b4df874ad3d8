"""Small fakes for running a real livekit-agents AgentSession offline.

Neither livekit-agents nor pipecat ships fakes, so these stand in for the
network services: an LLM that answers from a table, a streaming STT that
"hears" scripted lines, a TTS that makes silence of a length set by the text,
an AudioInput of silence and an AudioOutput that plays frames in real time.
And one exchange recorded end to end, which several tests start from.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, llm, stt, tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities

import convlog.livekit

SAMPLE_RATE = 16000


class ScriptedLLM(llm.LLM):
    """Replies to the last user message from ``replies`` (or echoes it).
    ``stream_type`` is the ``LLMStream`` class that answers; a subclass may swap it."""

    stream_type: Any = None  # _ScriptedStream, set below

    def __init__(
        self, replies: dict[str, str] | None = None, *, chunk: int = 4, delay: float = 0.0
    ):
        super().__init__()
        self.replies = replies or {}
        self.chunk = chunk
        self.delay = delay

    @property
    def model(self) -> str:
        return "scripted-1"

    @property
    def provider(self) -> str:
        return "scripted"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: Any = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **_: Any,
    ) -> llm.LLMStream:
        return self.stream_type(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _ScriptedStream(llm.LLMStream):
    async def _run(self) -> None:
        owner: ScriptedLLM = self._llm  # type: ignore[assignment]
        last = ""
        for item in reversed(self.chat_ctx.items):
            if item.type == "message" and item.role == "user":
                last = item.text_content or ""
                break
        reply = owner.replies.get(last, f"You said: {last}")
        for i in range(0, len(reply), owner.chunk):
            if owner.delay:
                await asyncio.sleep(owner.delay)
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id="chunk",
                    delta=llm.ChoiceDelta(role="assistant", content=reply[i : i + owner.chunk]),
                )
            )


ScriptedLLM.stream_type = _ScriptedStream


class _Named:
    """The ``model`` and ``provider`` LiveKit reads from an STT or TTS
    (its ``metrics_metadata``), as a real plugin reports them."""

    _model: str
    _provider: str

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return self._provider


class ScriptedSTT(_Named, stt.STT):
    """A streaming STT named ``provider`` that emits one final transcript per
    line pushed into ``lines`` (an asyncio.Queue), whatever audio it gets."""

    def __init__(self, provider: str = "Deepgram", model: str = "nova-3") -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=True, interim_results=False))
        self._provider = provider
        self._model = model
        self.lines: asyncio.Queue[str] = asyncio.Queue()

    async def _recognize_impl(
        self,
        buffer: Any,
        *,
        language: Any = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        raise NotImplementedError("streaming only")

    def stream(
        self, *, language: Any = None, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> stt.RecognizeStream:
        return _ScriptedSTTStream(stt=self, conn_options=conn_options)


class _ScriptedSTTStream(stt.RecognizeStream):
    async def _run(self) -> None:
        owner: ScriptedSTT = self._stt  # type: ignore[assignment]

        async def drain() -> None:
            async for _ in self._input_ch:
                pass

        drain_task = asyncio.create_task(drain())
        try:
            while True:
                text = await owner.lines.get()
                data = [stt.SpeechData(language="en", text=text, confidence=0.93)]
                self._event_ch.send_nowait(
                    stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH)
                )
                self._event_ch.send_nowait(
                    stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=data)
                )
                self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH))
        finally:
            drain_task.cancel()


class SilenceTTS(_Named, tts.TTS):
    """A non-streaming TTS named ``provider``: ``per_char`` seconds of silence per character."""

    def __init__(
        self, provider: str = "Cartesia", model: str = "sonic-2", per_char: float = 0.002
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self._provider = provider
        self._model = model
        self.per_char = per_char

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _SilenceStream(tts=self, input_text=text, conn_options=conn_options)


class _SilenceStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        owner: SilenceTTS = self._tts  # type: ignore[assignment]
        output_emitter.initialize(
            request_id="silence", sample_rate=SAMPLE_RATE, num_channels=1, mime_type="audio/pcm"
        )
        samples = int(SAMPLE_RATE * owner.per_char * max(1, len(self.input_text)))
        output_emitter.push(b"\x00\x00" * samples)
        output_emitter.flush()


class SilenceInput(AudioInput):
    """10 ms frames of silence, in real time, until closed."""

    def __init__(self) -> None:
        super().__init__(label="silence")
        self._closed = False

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        await asyncio.sleep(0.01)
        n = SAMPLE_RATE // 100
        return rtc.AudioFrame(
            data=b"\x00\x00" * n, sample_rate=SAMPLE_RATE, num_channels=1, samples_per_channel=n
        )

    def close(self) -> None:
        self._closed = True


class RealtimeOutput(AudioOutput):
    """Plays captured frames in real time (sleeping for their duration) and
    reports playout as LiveKit's room output does; ``clear_buffer`` interrupts."""

    def __init__(self) -> None:
        super().__init__(
            label="realtime",
            capabilities=AudioOutputCapabilities(pause=False),
            sample_rate=SAMPLE_RATE,
        )
        self._pushed = 0.0
        self._started: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._interrupted = False

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._started is None:
            self._started = time.monotonic()
            self.on_playback_started(created_at=time.time())
        self._pushed += frame.duration

    def flush(self) -> None:
        super().flush()
        if self._started is None:
            self.on_playback_finished(playback_position=0.0, interrupted=False)
            return
        remaining = self._pushed - (time.monotonic() - self._started)
        self._task = asyncio.ensure_future(self._finish(max(0.0, remaining)))

    async def _finish(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            self._done(interrupted=False)
        except asyncio.CancelledError:
            pass

    def _done(self, *, interrupted: bool) -> None:
        if self._started is None:
            return
        played = min(self._pushed, time.monotonic() - self._started)
        self._started, self._pushed = None, 0.0
        self.on_playback_finished(playback_position=played, interrupted=interrupted)

    def clear_buffer(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._done(interrupted=True)


async def record_one_reply(
    logdir: Path, user_input: str, reply: str, *, chunk: int = 4, **options: Any
) -> tuple[convlog.livekit.Recorder, Path | None]:
    """One exchange through a real AgentSession recorded into ``logdir``
    (``options`` go to ``convlog.livekit.record``): the user says
    ``user_input`` and the scripted LLM streams ``reply`` in pieces of
    ``chunk`` characters. The recorder, closed, and the export it rendered."""
    session = AgentSession(llm=ScriptedLLM({user_input: reply}, chunk=chunk))
    recorder = convlog.livekit.record(session, logdir, **options)
    await session.start(Agent(instructions="x"))
    await session.run(user_input=user_input)
    await session.aclose()
    return recorder, await recorder.aclose()
