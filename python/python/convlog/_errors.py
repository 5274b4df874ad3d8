"""The exceptions convlog raises: one base class, one class per kind of failure.

Every message names the file it is about, and ``exc.path`` holds that path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Only for annotations: importing asyncio would cost every `import convlog`.
    import asyncio

__all__ = [
    "ContentTooLargeError",
    "ConvlogError",
    "DamagedLogError",
    "InvalidMessageError",
    "LockTimeoutError",
    "NotALogError",
    "SessionEndedError",
    "StorageError",
    "WriterBrokenError",
]


class ConvlogError(Exception):
    """Base class of every convlog error. ``path`` names the file concerned."""

    path: str | None = None


class SessionEndedError(ConvlogError):
    """The session has an end record; nothing can be appended after it."""


class WriterBrokenError(ConvlogError):
    """An earlier write or fdatasync failed, so the log accepts no further appends.

    Retrying a failed fsync can report success for data the kernel has already
    dropped, so the writer stops instead: open a new session to go on.
    """


class InvalidMessageError(ConvlogError, ValueError):
    """The message can never be written: bad role, ``meta``, ``timestamp``…"""


class ContentTooLargeError(InvalidMessageError):
    """The content is over the session's ``max_content_bytes``."""


class LockTimeoutError(ConvlogError, TimeoutError):
    """Another process held the log's lock for longer than ``lock_timeout``."""


class NotALogError(ConvlogError, ValueError):
    """The file is not a convlog log (or a format version this build does not read)."""


class DamagedLogError(ConvlogError):
    """The log is damaged in a way the chosen recovery mode does not accept."""


class StorageError(ConvlogError, OSError):
    """The operating system refused a file operation; ``errno`` says why."""


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Runs on the event loop (via ``call_soon_threadsafe``) to complete an
    awaitable made by ``append_async``, ``flush_async`` or ``end_async``."""
    if fut.cancelled():
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def _resolve_logged(fut: asyncio.Future[Any], text: str) -> None:
    """Runs on the event loop for ``__aexit__`` when the block raised and
    ending the log failed too: the failure is logged, and the awaitable
    returns False so that the block's own exception is not hidden."""
    logging.getLogger("convlog").error("%s", text)
    if not fut.cancelled():
        fut.set_result(False)
