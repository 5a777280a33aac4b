"""Folding the events of one chat turn into the reply a person reads.

Example:
    >>> from nemovideo.protocol.events import parse_event_data
    >>> acc = ReplyAccumulator()
    >>> for data in ('{"content": {"parts": [{"text": "Hel"}]}, "partial": true}',
    ...              '{"content": {"parts": [{"text": "lo"}]}, "partial": true}',
    ...              '{"content": {"parts": [{"text": "Hello."}]}}'):
    ...     for event in parse_event_data(data):
    ...         acc.add(event)
    >>> str(acc.result())
    'Hello.'
"""

from __future__ import annotations

import re

import attrs

from nemovideo.protocol.errors import AgentError
from nemovideo.protocol.events import (
    ChatEvent,
    ErrorEvent,
    StateDeltaEvent,
    TextEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnCompleteEvent,
)

__all__ = ["ChatReply", "ReplyAccumulator"]

# API.md: "A trailing 'I encountered a temporary issue' after normal output can be ignored."
_TEMPORARY_ISSUE = re.compile(
    r"^\W*(?:i\s*(?:'ve|have)?\s*(?:encountered|ran into|hit)|there\s+(?:was|is))\s+"
    r"(?:a|an)\s+temporary\s+(?:issue|problem|error)"
    r"|^\W*(?:我)?(?:遇到|碰到)了?(?:一个|一些)?(?:暂时|临时)(?:性)?的?(?:问题|故障|错误)",
    re.IGNORECASE,
)

_SEALING = (ToolCallEvent, ToolResultEvent, ErrorEvent, StateDeltaEvent, TurnCompleteEvent)


@attrs.frozen
class ChatReply:
    """What one chat turn said and did.

    Attributes:
        text: the reply text as a person should read it: each message once (partial chunks
            and their final repeat counted once), messages separated by a blank line, no
            thoughts, no trailing "temporary issue" notice after real output. Empty when the
            agent answered with work only (about 30% of edits).
        tool_calls: the tools the agent called, in order.
        tool_results: the tools' answers, in order.
        errors: failures reported inside the stream.
        events: every event of the turn, in order.
    """

    text: str = ""
    tool_calls: tuple[ToolCallEvent, ...] = ()
    tool_results: tuple[ToolResultEvent, ...] = ()
    errors: tuple[ErrorEvent, ...] = ()
    events: tuple[ChatEvent, ...] = attrs.field(default=(), repr=False)

    #: The server's request id of the answer this came from (``X-Request-Id``), when it sent one.
    request_id: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)

    @property
    def silent(self) -> bool:
        """True when no reply text came: compare the state before and after to say what changed."""
        return not self.text

    def raise_for_error(self, *, session_id: str | None = None) -> None:
        """Raise :class:`~nemovideo.AgentError` when the turn failed and gave nothing.

        The rule: an error was reported *and* the turn produced no reply text and no tool
        result. A turn that said something or finished a tool did do work (the session may have
        changed), so it is returned as it is, with its ``errors`` for whoever wants them.

        Raises:
            AgentError: with the first error's message and code.
        """
        if not self.errors or self.text or self.tool_results:
            return
        first = self.errors[0]
        more = len(self.errors) - 1
        message = first.message + (f" (and {more} more error{'s' * (more > 1)})" if more else "")
        raise AgentError(message, error_code=first.code, session_id=session_id)

    def __str__(self) -> str:
        return self.text


@attrs.define
class _Message:
    chunks: list[str]
    event_id: str | None
    open: bool  # partial chunks still waiting for the final event that repeats them

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def _same_text(partial: str, final: str) -> bool:
    """Whether a final message plausibly repeats these partial chunks (it may differ slightly)."""
    a, b = " ".join(partial.split()), " ".join(final.split())
    return not a or a == b or b.startswith(a) or a.startswith(b)


class ReplyAccumulator:
    """Collects the events of one turn; :meth:`result` gives the :class:`ChatReply` so far.

    ADK streams text as partial chunks followed by ONE non-partial event repeating the whole
    text; the final text wins over the chunks (it may differ slightly), and chunks never
    followed by a final still count. A final event replaces the open run of chunks with the
    same ``id``; or the open run whose text it repeats, whatever the ids say (agents built on
    ADK's ``BaseAgent`` give every event its own id); or, when ids are missing, the run just
    before it. Finals never replace finals: two messages sharing an id are two messages.

    Example:
        >>> acc = ReplyAccumulator()
        >>> acc.add(TextEvent("Adding ", partial=True))
        >>> acc.add(TextEvent("music.", partial=True))
        >>> acc.add(TextEvent("Adding music."))
        >>> acc.add(TextEvent("Done."))
        >>> acc.result().text
        'Adding music.\\n\\nDone.'
    """

    __slots__ = ("_errors", "_events", "_messages", "_sealed", "_tool_calls", "_tool_results")

    def __init__(self) -> None:
        self._events: list[ChatEvent] = []
        self._messages: list[_Message] = []
        self._tool_calls: list[ToolCallEvent] = []
        self._tool_results: list[ToolResultEvent] = []
        self._errors: list[ErrorEvent] = []
        # True after tool work or an error: later chunks without ids start a new message.
        self._sealed = False

    def add(self, event: ChatEvent) -> None:
        """Take the next event of the turn."""
        self._events.append(event)
        if isinstance(event, TextEvent):
            if event.partial:
                self._add_partial(event)
            else:
                self._add_final(event)
            self._sealed = False
            return
        if isinstance(event, ToolCallEvent):
            self._tool_calls.append(event)
        elif isinstance(event, ToolResultEvent):
            self._tool_results.append(event)
        elif isinstance(event, ErrorEvent):
            self._errors.append(event)
        if isinstance(event, _SEALING):
            self._sealed = True

    def _add_partial(self, event: TextEvent) -> None:
        last = self._messages[-1] if self._messages else None
        if last is not None and last.open:
            if last.event_id is not None and event.event_id is not None:
                same = last.event_id == event.event_id
            else:
                same = not self._sealed
            if same:
                last.chunks.append(event.text)
                return
        self._messages.append(_Message([event.text], event.event_id, open=True))

    def _add_final(self, event: TextEvent) -> None:
        messages = self._messages
        if event.event_id is not None and self._replace_repeated_run(event):
            return
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if not message.open:
                continue
            if message.event_id is not None and event.event_id is not None:
                if message.event_id != event.event_id:
                    continue
                matched = True
            else:
                is_last = index == len(messages) - 1
                matched = (is_last and not self._sealed) or _same_text(message.text, event.text)
            if matched:
                message.chunks = [event.text]
                message.open = False
                return
            break
        messages.append(_Message([event.text], event.event_id, open=False))

    def _replace_repeated_run(self, event: TextEvent) -> bool:
        """A final whose id no open chunk shares, but whose text repeats the open chunks just
        before it: agents built on ADK's ``BaseAgent`` give every event (and every chunk) its
        own id, so the repeat is recognised by its text. True when it replaced them."""
        messages = self._messages
        if any(m.open and m.event_id == event.event_id for m in messages):
            return False  # its own chunks are there: the id decides
        start = len(messages)
        while start > 0 and messages[start - 1].open:
            start -= 1
        # The shortest run of trailing chunks whose joined text the final repeats.
        for first in range(len(messages) - 1, start - 1, -1):
            joined = "".join(m.text for m in messages[first:])
            if joined.strip() and _same_text(joined, event.text):
                del messages[first + 1 :]
                messages[first].chunks = [event.text]
                messages[first].open = False
                return True
        return False

    def result(self) -> ChatReply:
        """The reply so far (can be called at any time, any number of times)."""
        texts = [t for t in (m.text.strip() for m in self._messages) if t]
        while len(texts) > 1 and _TEMPORARY_ISSUE.search(texts[-1]):
            texts.pop()
        return ChatReply(
            text="\n\n".join(texts),
            tool_calls=tuple(self._tool_calls),
            tool_results=tuple(self._tool_results),
            errors=tuple(self._errors),
            events=tuple(self._events),
        )
