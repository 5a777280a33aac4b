"""The blocking face of the SDK: :class:`SyncNemoClient` runs :class:`~nemovideo.NemoClient` on a
private event loop thread, for scripts, threads and WSGI apps (Flask, Django).

- ``runner``: the loop on its daemon thread, and the bridge from threads to it.
- ``bridge``: blocking views typed from the async methods themselves.
- ``resources``: the six blocking sub-clients and the chat stream as a plain iterator.
- ``client``: ``SyncNemoClient`` and ``SyncBatch``.
"""

from nemovideo.sync.client import SyncBatch, SyncNemoClient
from nemovideo.sync.resources import (
    SyncChat,
    SyncChatStream,
    SyncCredits,
    SyncRender,
    SyncSession,
    SyncState,
    SyncUpload,
)

__all__ = [
    "SyncBatch",
    "SyncChat",
    "SyncChatStream",
    "SyncCredits",
    "SyncNemoClient",
    "SyncRender",
    "SyncSession",
    "SyncState",
    "SyncUpload",
]
