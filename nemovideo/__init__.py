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
"""

from nemovideo._version import __version__
from nemovideo.client import NemoClient
from nemovideo.journal import FlowRecord, Journal
from nemovideo.protocol.draft import Draft, Segment, Track, TrackType
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
    StreamDisconnectedError,
    UnsupportedFileTypeError,
)
from nemovideo.protocol.events import (
    ChatEvent,
    ChatReply,
    ErrorEvent,
    HeartbeatEvent,
    ReplyAccumulator,
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
from nemovideo.results import Progress, Stage, Video
from nemovideo.transport.config import Attribution, ClientConfig, Timeouts
from nemovideo.transport.retry import RequestKind, RetryPolicy

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentError",
    "Attribution",
    "AuthenticationError",
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
    "StreamDisconnectedError",
    "TextEvent",
    "ThoughtEvent",
    "Timeouts",
    "ToolCallEvent",
    "ToolResultEvent",
    "Track",
    "TrackType",
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
