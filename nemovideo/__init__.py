"""nemovideo: asyncio SDK for NemoVideo's cloud video API."""

from nemovideo._version import __version__

__all__ = ["__version__"]
