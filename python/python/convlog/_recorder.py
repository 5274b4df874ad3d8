"""What the LiveKit and Pipecat recorders share: the log and its options, the
event subscriptions, the end, and the rule for ``record()`` called twice.

A framework recorder subclasses :class:`BaseRecorder`, subscribes its
handlers with :meth:`BaseRecorder._subscribe` (so that the end unsubscribes
them all), and writes through :meth:`BaseRecorder._write`, which never drops
a message and never raises into the framework.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._convlog import SESSION_OPTIONS, Session

logger = logging.getLogger("convlog")

Source = str | Mapping[str, str] | None


def open_log(func: str, dir: str | os.PathLike[str], log: Session | None, options: dict) -> Session:
    """The log a recorder writes: ``log`` if given, else a new one in ``dir``
    with ``options`` (those of :meth:`convlog.Session.create`)."""
    unknown = set(options) - set(SESSION_OPTIONS)
    if unknown:
        raise TypeError(f"{func}() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    if log is not None:
        if options:
            raise TypeError(
                f"{func}(): options ({', '.join(sorted(options))}) apply to a new log, "
                "not to the `log=` given"
            )
        return log
    return Session.create(dir, **options)


class BaseRecorder:
    """Writes one conversation's messages into ``log`` (a :class:`convlog.Session`).

    ``await recorder.aclose()`` ends the log and renders the export; calling
    it more than once, or after the framework's own end did it, is harmless.
    """

    def __init__(self, log: Session) -> None:
        self.log = log
        self._unsubscribe: list[Callable[[], None]] = []
        self._close_task: asyncio.Task[Path | None] | None = None
        self._export: Path | None = None
        # Bound once: what the handlers call per message.
        self._record = log._record
        # What the first message would set up on the agent's loop, now.
        log._warm()

    @property
    def path(self) -> Path:
        """The log's path."""
        return self.log.path

    @property
    def closed(self) -> bool:
        """True once the end has started (:meth:`aclose`, or the framework's end)."""
        return self._close_task is not None or self.log.ended

    # --- for subclasses -------------------------------------------------

    def _subscribe(
        self,
        on: Callable[[str, Callable[..., Any]], Any],
        off: Callable[[str, Callable[..., Any]], Any],
        event: str,
        handler: Callable[..., Any],
    ) -> None:
        """Subscribes ``handler`` to ``event`` with ``on``; the end calls
        ``off`` with the same pair. Handlers must be synchronous and must
        catch everything: they run on the agent's event loop."""
        on(event, handler)

        def undo() -> None:
            off(event, handler)

        self._unsubscribe.append(undo)

    def _write(self, role: str, content: str, source: str, **fields: Any) -> None:
        """Queues one message: never blocks, never drops (see
        ``Session._record``), never raises into the framework."""
        try:
            self._record(role, content, source, **fields)
        except Exception:
            logger.exception("convlog: could not record a %s message in %s", role, self.log.path)

    async def _before_end(self) -> None:
        """Runs once before the end record: a subclass writes what it still holds."""

    # --- the end --------------------------------------------------------

    def _start_close(self) -> asyncio.Task[Path | None]:
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._end())
        return self._close_task

    def _close_soon(self, *_: Any) -> None:
        """A framework event handler that starts the end."""
        try:
            self._start_close()
        except Exception:
            logger.exception("convlog: could not end the log %s", self.log.path)

    async def _end(self) -> Path | None:
        undo, self._unsubscribe = self._unsubscribe, []
        for off in undo:
            try:
                off()
            except Exception:
                pass
        try:
            await self._before_end()
        except Exception:
            logger.exception("convlog: could not write the last messages of %s", self.log.path)
        if self.log.ended:
            return self._export
        self._export = await self.log.end_async()
        return self._export

    async def aclose(self) -> Path | None:
        """Ends the log and renders the export; returns the export's path.
        Safe to call more than once and from a shutdown callback."""
        return await asyncio.shield(self._start_close())


class Registry:
    """At most one recording recorder per framework object: ``record()``
    called again for the same object with the same arguments returns the
    recorder already recording it, and with different ones raises
    ``ValueError`` naming its log, rather than write a second log."""

    def __init__(self) -> None:
        self._by_key: weakref.WeakKeyDictionary[Any, tuple[BaseRecorder, tuple]] = (
            weakref.WeakKeyDictionary()
        )

    def existing(self, key: Any, func: str, call: tuple) -> BaseRecorder | None:
        try:
            recorder, made_by = self._by_key[key]
        except (KeyError, TypeError):
            return None
        if recorder.closed:
            return None
        if made_by != call:
            raise ValueError(
                f"{func}(): this session is already being recorded into {recorder.path} "
                "with other arguments; call aclose() on that recorder first, "
                "or call record() with the same arguments to get it back"
            )
        return recorder

    def remember(self, key: Any, recorder: BaseRecorder, call: tuple) -> None:
        try:
            self._by_key[key] = (recorder, call)
        except TypeError:
            pass  # an object that takes no weak reference: no memory of it


def call_key(dir: Any, log: Session | None, options: dict, *rest: Any) -> tuple:
    """What makes two ``record()`` calls the same, for :class:`Registry`."""
    where = id(log) if log is not None else os.path.abspath(os.fspath(dir))
    source = tuple(sorted(rest[0].items())) if isinstance(rest[0], Mapping) else rest[0]
    return (where, tuple(sorted(options.items())), source, *rest[1:])
