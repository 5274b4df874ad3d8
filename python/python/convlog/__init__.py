"""convlog: a durable, checksummed conversation log for voice agents.

Each user (speech-to-text) and agent (text-to-speech) message is one
checksummed JSON line, appended under an exclusive file lock and fdatasynced
before it is acknowledged, so a crash loses nothing that was acknowledged.

Durability contract: ``Session.append`` returning means the record is on disk
(fdatasynced). ``Session.log`` means queued: durable after the next
``flush``, ``append`` or ``end`` of that session, and never blocking on the
disk. ``end`` writes the end record and renders ``conversation_….json`` (the
original design's documented JSON) beside the log.

    import convlog
    with convlog.Session.create("conversations") as log:
        log.log("user", "नमस्ते", source="deepgram_stt")
        seq = log.append("agent", "Hi!", source="cartesia_tts", turn="t1")

Recorders for frameworks: ``convlog.livekit.record(session)`` and
``convlog.pipecat.record(user_aggregator, assistant_aggregator)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _errors
from ._convlog import REPAIRED, Session, __version__, export, messages, verify

# The exceptions, as `_errors.__all__` lists them (asyncio re-exports the
# same way): one list of names to keep up to date, not two.
from ._errors import *  # noqa: F403

if TYPE_CHECKING:
    from . import livekit, pipecat

__all__ = [
    "REPAIRED",
    "Session",
    "__version__",
    "export",
    "livekit",
    "messages",
    "pipecat",
    "verify",
]
__all__ += _errors.__all__


def __getattr__(name: str) -> Any:
    # The recorders import their framework; load them only when asked for, so
    # that `import convlog` works where neither framework is installed.
    if name in ("livekit", "pipecat"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'convlog' has no attribute {name!r}")
