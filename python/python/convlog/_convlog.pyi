import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypedDict, Unpack, overload

__version__: str
SESSION_OPTIONS: list[str]
"""The keyword options of ``Session.create``/``open`` (and of the recorders' ``record``)."""
REPAIRED: str
"""The ``meta`` key where a recorder lists what it had to change to store a message."""

_Role = Literal["user", "agent"]
_Timestamp = datetime | float | int | str | None
_Format = Literal["json", "jsonl", "markdown", "md", "text", "csv", "srt", "vtt"]
_Recovery = Literal["tolerate-tail", "absolute", "point-in-time", "skip-corrupt"]

class _MessageFields(TypedDict, total=False):
    """The keyword fields of a message (``log``, ``append``, ``append_async``)."""

    turn: str | int | None
    interrupted: bool
    speaker: str | None
    lang: str | None
    meta: dict[str, Any] | None
    timestamp: _Timestamp

class _SessionOptions(TypedDict, total=False):
    """The options of ``Session.create``/``open`` (``SESSION_OPTIONS``)."""

    max_content_bytes: int | None
    export_on_end: bool | None
    lock_timeout: float | None
    echo: bool
    redact: str | None
    redact_key: str | os.PathLike[str] | None
    redactor: Callable[[str], str] | None

class _Messages(TypedDict):
    user: int
    agent: int
    total: int

class _Tools(TypedDict):
    calls: int
    errors: int
    handoffs: int

class _Seqs(TypedDict):
    first: int | None
    last: int | None

class _Bytes(TypedDict):
    file: int
    valid: int
    torn: int | None

class VerifyReport(TypedDict):
    """One line of ``convlog verify --json``, key for key and in its order."""

    path: str
    session: str | None
    state: Literal["ended", "open", "damaged"]
    start: str | None
    stop: str | None
    duration_secs: float | None
    messages: _Messages
    # Each: line, offset, len, kind ("torn-tail", "corrupt", "seq-gap",
    # "seq-regression", "missing-header", "after-end"), reason, and for
    # seq-gap expected/found, for seq-regression previous/found.
    damage: list[dict[str, Any]]
    tools: _Tools
    seq: _Seqs
    bytes: _Bytes
    advice: str | None
    repair: None

class Message(TypedDict):
    """One message record, as :func:`messages` returns it."""

    seq: int
    timestamp: str
    role: _Role
    content: str
    source: str
    turn: str | None
    interrupted: bool
    speaker: str | None
    lang: str | None
    meta: dict[str, Any] | None

class Messages(Iterator[Message]):
    """The lazy iterator :func:`messages` returns."""

    def __iter__(self) -> Messages: ...
    def __next__(self) -> Message: ...

class Session:
    """One conversation log, open for appending.

    ``append`` returning means fdatasynced; ``log`` means queued, and durable
    after the next ``flush``/``append``/``end``.
    """

    @staticmethod
    def create(
        dir: str | os.PathLike[str] = "conversations",
        **options: Unpack[_SessionOptions],
    ) -> Session: ...
    @staticmethod
    def open(
        path: str | os.PathLike[str],
        **options: Unpack[_SessionOptions],
    ) -> Session: ...
    def log(
        self,
        role: _Role,
        content: str,
        source: str = "python",
        **fields: Unpack[_MessageFields],
    ) -> None: ...
    def log_tool(
        self,
        name: str,
        arguments: str | Any = None,
        output: str | Any = None,
        *,
        source: str = "python",
        call_id: str | int | None = None,
        error: bool = False,
        duration_ms: float | None = None,
        turn: str | int | None = None,
        meta: dict[str, Any] | None = None,
        timestamp: _Timestamp = None,
    ) -> None:
        """Queues a tool call; ``arguments``/``output`` over 64 KiB are cut and marked."""
    def log_handoff(
        self,
        from_agent: str | None,
        to_agent: str,
        *,
        source: str = "python",
        turn: str | int | None = None,
        meta: dict[str, Any] | None = None,
        timestamp: _Timestamp = None,
    ) -> None:
        """Queues an agent handoff from ``from_agent`` (``None``: unknown) to ``to_agent``."""
    def append(
        self,
        role: _Role,
        content: str,
        source: str = "python",
        **fields: Unpack[_MessageFields],
    ) -> int | None: ...
    async def append_async(
        self,
        role: _Role,
        content: str,
        source: str = "python",
        **fields: Unpack[_MessageFields],
    ) -> int | None: ...
    def _record(
        self,
        role: str,
        content: str,
        source: str = "python",
        **fields: Unpack[_MessageFields],
    ) -> bool: ...
    def _record_item(
        self, role: str, content: str, source: str, item: Any, replaces: str | None = None
    ) -> bool: ...
    def _warm(self) -> None: ...
    def flush(self) -> None: ...
    async def flush_async(self) -> None: ...
    def end(self) -> Path | None: ...
    async def end_async(self) -> Path | None: ...
    @property
    def path(self) -> Path: ...
    @property
    def id(self) -> str: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def is_broken(self) -> bool: ...
    @property
    def ended(self) -> bool: ...
    def __enter__(self) -> Session: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
    async def __aenter__(self) -> Session: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

class LiveKitItems:
    """The LiveKit recorder's ``conversation_item_added`` handler: records a
    message in Rust and hands what needs Python to ``slow(item)``."""

    def __init__(
        self,
        log: Session,
        slow: Callable[[Any], None],
        *,
        user_source: str | None = None,
        agent_source: str | None = None,
        streaming: bool = False,
    ) -> None: ...
    def __call__(self, *args: Any) -> None: ...

class PipecatHandler:
    """One of the Pipecat recorder's event handlers (see ``make``)."""

    @staticmethod
    def make(
        log: Session, user_source: str, agent_source: str, transcription: type
    ) -> tuple[PipecatHandler, PipecatHandler, PipecatHandler]:
        """The handlers for ``on_user_turn_stopped``, ``on_assistant_turn_stopped``
        and ``on_before_process_frame`` (the speaker), sharing one turn count."""
    @property
    def turns(self) -> int: ...
    def __call__(self, *args: Any) -> None: ...

def _vendor(metadata: Any) -> str | None:
    """The vendor a LiveKit ``MetricsMetadata`` dict names (``deepgram``), if any."""

def verify(path: str | os.PathLike[str]) -> VerifyReport:
    """What ``convlog verify --json PATH`` prints for the log (it never repairs)."""

# "-" is also a str: the first overload that fits (this one) wins.
@overload
def export(  # type: ignore[overload-overlap]
    path: str | os.PathLike[str],
    out: Literal["-"],
    format: _Format = "json",
    *,
    timestamps: Literal["documented", "rfc3339"] = "documented",
    merge: bool = True,
    recovery: _Recovery = "tolerate-tail",
    tools: bool | None = None,
) -> str:
    """Renders the log and returns the text."""

@overload
def export(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    format: _Format = "json",
    *,
    timestamps: Literal["documented", "rfc3339"] = "documented",
    merge: bool = True,
    recovery: _Recovery = "tolerate-tail",
    tools: bool | None = None,
) -> Path:
    """Renders the log into ``out`` (beside the log when ``None``) and returns its path."""

def messages(path: str | os.PathLike[str], *, recovery: _Recovery = "tolerate-tail") -> Messages:
    """Every message record of the log, read as the iteration goes."""
