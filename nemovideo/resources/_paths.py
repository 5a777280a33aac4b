"""Building paths from ids without letting an id change the path's shape."""

from __future__ import annotations

from urllib.parse import quote

from nemovideo.protocol.errors import ConfigurationError

__all__ = ["session_path"]


def session_path(template: str, identifier: object) -> str:
    """``template`` with ``identifier`` percent-encoded in place of ``{}``.

    Raises:
        ConfigurationError: the id is empty or not a string/int.
    """
    if isinstance(identifier, bool) or not isinstance(identifier, (str, int)):
        raise ConfigurationError(
            f"Expected an id string, got {type(identifier).__name__}; pass e.g. session.session_id."
        )
    text = str(identifier).strip()
    if not text:
        raise ConfigurationError("The id is empty; pass e.g. session.session_id.")
    return template.format(quote(text, safe=""))
