"""What the workflows need from a client, and the flow accounting a client shares with its clones.

The workflows sit below :class:`~nemovideo.client.NemoClient`: they are written against
:class:`WorkflowClient`, a small structural type (the six sub-clients, the settings, the
journal, the flow accounting and ``with_options``), so that nothing here imports the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nemovideo.resources import (
        ChatResource,
        CreditsResource,
        RenderResource,
        SessionResource,
        StateResource,
        UploadResource,
    )
    from nemovideo.transport.config import ClientConfig
    from nemovideo.workflows.journal import Journal

__all__ = ["FlowAccounting", "WorkflowClient"]


class FlowAccounting:
    """How many ``animate`` flows run on one account through a client and its clones.

    A balance belongs to the account, not to a flow: a flow may call a drop in the balance its
    own only when no other flow ran at any moment of its life. :meth:`NemoClient.with_options
    <nemovideo.NemoClient.with_options>` hands its clone the same object, so a flow on a clone
    (every batch runs on one) and a flow on the original see each other.

    Example:
        >>> flows = FlowAccounting()
        >>> mark = flows.begin()
        >>> other = flows.begin()  # a second flow overlaps the first
        >>> flows.ran_alone(mark), flows.ran_alone(other)
        (False, False)
        >>> flows.end(other)
        >>> flows.ran_alone(mark)  # alone now, but not for all of its life
        False
    """

    __slots__ = ("_alone", "_next", "_running", "_tasks", "closing")

    def __init__(self) -> None:
        self._next = 0
        self._running = 0
        self._alone: set[int] = set()
        self._tasks: dict[int, asyncio.Task[Any]] = {}
        #: True while the client closes: flows stopped now record "closed", not "cancelled".
        self.closing = False

    @property
    def running(self) -> int:
        """Flows running now."""
        return self._running

    def begin(self) -> int:
        """Count a flow in (the running task is the flow's); returns its mark."""
        self._next += 1
        self._running += 1
        with contextlib.suppress(RuntimeError):  # outside a task: nothing to cancel on close
            task = asyncio.current_task()
            if task is not None:
                self._tasks[self._next] = task
        if self._running == 1:
            self._alone.add(self._next)
        else:
            # Every flow running now has company from this moment on.
            self._alone.clear()
        return self._next

    def end(self, mark: int) -> None:
        """Count the flow with ``mark`` out (once, when it ends)."""
        self._running -= 1
        self._alone.discard(mark)
        self._tasks.pop(mark, None)

    async def stop_all(self, timeout: float = 10.0) -> None:
        """Cancel the running flows and wait (up to ``timeout``) until each has recorded how it
        stopped: what they paid for stays resumable.

        Raises:
            Nothing: the flows' own errors stay with their callers.
        """
        self.closing = True
        try:
            tasks = [t for t in self._tasks.values() if not t.done()]
            current = asyncio.current_task()
            tasks = [t for t in tasks if t is not current]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout)
        finally:
            self.closing = False

    def ran_alone(self, mark: int) -> bool:
        """True when the flow with ``mark`` has had no other flow beside it so far.

        Asked while the flow still runs (before its :meth:`end`).
        """
        return self._running == 1 and mark in self._alone


class WorkflowClient(Protocol):
    """The part of a client the workflows use; :class:`~nemovideo.NemoClient` is one."""

    session: SessionResource
    upload: UploadResource
    chat: ChatResource
    state: StateResource
    render: RenderResource
    credits: CreditsResource

    @property
    def config(self) -> ClientConfig:
        """The resolved settings."""

    @property
    def journal(self) -> Journal | None:
        """The client's journal, ``None`` when disabled."""

    @property
    def flows(self) -> FlowAccounting:
        """The flow accounting shared with the client's clones."""

    def with_options(self, **changes: Any) -> WorkflowClient:
        """A client with some settings changed, sharing connections, token and accounting."""
