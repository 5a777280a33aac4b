"""nemovideo: asyncio SDK for NemoVideo's cloud video API.

One line turns a still image into an animated MP4::

    import asyncio
    from nemovideo import NemoClient

    async def main() -> None:
        async with NemoClient() as client:
            video = await client.animate("sunset.jpg", "waves roll in", output="sunset.mp4")
            print(video.path, video.duration)

    asyncio.run(main())

Importing this package loads neither the command line nor the sandbox.

The public names are loaded on first use, so ``import nemovideo`` stays cheap: a script that
only needs the client pays for the client, not for the chat-event or GUI-talk tables.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nemovideo._version import __version__

if TYPE_CHECKING:
    from nemovideo.client import NemoClient
    from nemovideo.protocol.draft import Draft
    from nemovideo.protocol.errors import (
        AgentError,
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        ConfigurationError,
        ExportBlockedError,
        FileTooLargeError,
        GenerationFailedError,
        InsufficientCreditsError,
        InvalidResponseError,
        MissingClientIdError,
        NemoError,
        PermissionDeniedError,
        RateLimitedError,
        RenderFailedError,
        ServerError,
        SessionNotFoundError,
        StorageError,
        StreamDisconnectedError,
        TokenRateLimitedError,
        UnsupportedFileTypeError,
    )
    from nemovideo.protocol.events import (
        ChatEvent,
        ErrorEvent,
        HeartbeatEvent,
        StateDeltaEvent,
        TextEvent,
        ThoughtEvent,
        ToolCallEvent,
        ToolResultEvent,
        TurnCompleteEvent,
        UnknownEvent,
        parse_event_data,
    )
    from nemovideo.protocol.gui import GuiTranslation, translate_gui_talk
    from nemovideo.protocol.intents import Intent, route
    from nemovideo.protocol.models import (
        ClaimLink,
        Credits,
        RenderJob,
        RenderStatus,
        Session,
        SessionState,
        UploadedFile,
        UploadResult,
    )
    from nemovideo.protocol.reply import ChatReply, ReplyAccumulator
    from nemovideo.protocol.tracks import Segment, Track, TrackType
    from nemovideo.sync.client import SyncBatch, SyncNemoClient
    from nemovideo.transport.config import Attribution, ClientConfig, Timeouts
    from nemovideo.transport.retry import RequestKind, RetryPolicy
    from nemovideo.workflows.batch import AnimateItem, Batch, BatchResult, BatchSummary
    from nemovideo.workflows.conversation import Turn
    from nemovideo.workflows.journal import Journal
    from nemovideo.workflows.ledgers.base import FlowRecord
    from nemovideo.workflows.results import Progress, Stage, Video

#: Where each public name lives.
_EXPORTS: dict[str, str] = {
    "APIConnectionError": "nemovideo.protocol.errors",
    "APIStatusError": "nemovideo.protocol.errors",
    "APITimeoutError": "nemovideo.protocol.errors",
    "AgentError": "nemovideo.protocol.errors",
    "AnimateItem": "nemovideo.workflows.batch",
    "Attribution": "nemovideo.transport.config",
    "AuthenticationError": "nemovideo.protocol.errors",
    "Batch": "nemovideo.workflows.batch",
    "BatchResult": "nemovideo.workflows.batch",
    "BatchSummary": "nemovideo.workflows.batch",
    "ChatEvent": "nemovideo.protocol.events",
    "ChatReply": "nemovideo.protocol.reply",
    "ClaimLink": "nemovideo.protocol.models",
    "ClientConfig": "nemovideo.transport.config",
    "ConfigurationError": "nemovideo.protocol.errors",
    "Credits": "nemovideo.protocol.models",
    "Draft": "nemovideo.protocol.draft",
    "ErrorEvent": "nemovideo.protocol.events",
    "ExportBlockedError": "nemovideo.protocol.errors",
    "FileTooLargeError": "nemovideo.protocol.errors",
    "FlowRecord": "nemovideo.workflows.ledgers.base",
    "GenerationFailedError": "nemovideo.protocol.errors",
    "GuiTranslation": "nemovideo.protocol.gui",
    "HeartbeatEvent": "nemovideo.protocol.events",
    "InsufficientCreditsError": "nemovideo.protocol.errors",
    "Intent": "nemovideo.protocol.intents",
    "InvalidResponseError": "nemovideo.protocol.errors",
    "Journal": "nemovideo.workflows.journal",
    "MissingClientIdError": "nemovideo.protocol.errors",
    "NemoClient": "nemovideo.client",
    "NemoError": "nemovideo.protocol.errors",
    "PermissionDeniedError": "nemovideo.protocol.errors",
    "Progress": "nemovideo.workflows.results",
    "RateLimitedError": "nemovideo.protocol.errors",
    "RenderFailedError": "nemovideo.protocol.errors",
    "RenderJob": "nemovideo.protocol.models",
    "RenderStatus": "nemovideo.protocol.models",
    "ReplyAccumulator": "nemovideo.protocol.reply",
    "RequestKind": "nemovideo.transport.retry",
    "RetryPolicy": "nemovideo.transport.retry",
    "Segment": "nemovideo.protocol.tracks",
    "ServerError": "nemovideo.protocol.errors",
    "Session": "nemovideo.protocol.models",
    "SessionNotFoundError": "nemovideo.protocol.errors",
    "SessionState": "nemovideo.protocol.models",
    "StorageError": "nemovideo.protocol.errors",
    "Stage": "nemovideo.workflows.results",
    "StateDeltaEvent": "nemovideo.protocol.events",
    "StreamDisconnectedError": "nemovideo.protocol.errors",
    "SyncBatch": "nemovideo.sync.client",
    "SyncNemoClient": "nemovideo.sync.client",
    "TextEvent": "nemovideo.protocol.events",
    "TokenRateLimitedError": "nemovideo.protocol.errors",
    "ThoughtEvent": "nemovideo.protocol.events",
    "Timeouts": "nemovideo.transport.config",
    "ToolCallEvent": "nemovideo.protocol.events",
    "ToolResultEvent": "nemovideo.protocol.events",
    "Track": "nemovideo.protocol.tracks",
    "TrackType": "nemovideo.protocol.tracks",
    "Turn": "nemovideo.workflows.conversation",
    "TurnCompleteEvent": "nemovideo.protocol.events",
    "UnknownEvent": "nemovideo.protocol.events",
    "UnsupportedFileTypeError": "nemovideo.protocol.errors",
    "UploadResult": "nemovideo.protocol.models",
    "UploadedFile": "nemovideo.protocol.models",
    "Video": "nemovideo.workflows.results",
    "parse_event_data": "nemovideo.protocol.events",
    "route": "nemovideo.protocol.intents",
    "translate_gui_talk": "nemovideo.protocol.gui",
}

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "AnimateItem",
    "Attribution",
    "AuthenticationError",
    "Batch",
    "BatchResult",
    "BatchSummary",
    "ChatEvent",
    "ChatReply",
    "ClaimLink",
    "ClientConfig",
    "ConfigurationError",
    "Credits",
    "Draft",
    "ErrorEvent",
    "ExportBlockedError",
    "FileTooLargeError",
    "FlowRecord",
    "GenerationFailedError",
    "GuiTranslation",
    "HeartbeatEvent",
    "InsufficientCreditsError",
    "Intent",
    "InvalidResponseError",
    "Journal",
    "MissingClientIdError",
    "NemoClient",
    "NemoError",
    "PermissionDeniedError",
    "Progress",
    "RateLimitedError",
    "RenderFailedError",
    "RenderJob",
    "RenderStatus",
    "ReplyAccumulator",
    "RequestKind",
    "RetryPolicy",
    "Segment",
    "ServerError",
    "Session",
    "SessionNotFoundError",
    "SessionState",
    "Stage",
    "StateDeltaEvent",
    "StorageError",
    "StreamDisconnectedError",
    "SyncBatch",
    "SyncNemoClient",
    "TextEvent",
    "ThoughtEvent",
    "Timeouts",
    "TokenRateLimitedError",
    "ToolCallEvent",
    "ToolResultEvent",
    "Track",
    "TrackType",
    "Turn",
    "TurnCompleteEvent",
    "UnknownEvent",
    "UnsupportedFileTypeError",
    "UploadResult",
    "UploadedFile",
    "Video",
    "__version__",
    "parse_event_data",
    "route",
    "translate_gui_talk",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nemovideo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
