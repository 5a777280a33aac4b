"""What a person may see about the token a client would use: for ``nemovideo auth status`` and
``nemovideo auth token``. Nothing here sends a request or creates a file (not even the client id).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs

from nemovideo.transport.auth import read_client_id
from nemovideo.transport.config import ClientConfig
from nemovideo.transport.tokens import SavedToken, TokenFile, mask_token

__all__ = ["TokenStatus", "forget_saved_token", "mask_token", "saved_token", "token_status"]


def _where(config: ClientConfig | None) -> tuple[ClientConfig, str | None]:
    config = ClientConfig.resolve() if config is None else config
    return config, config.client_id or read_client_id(config.client_id_path)


def saved_token(config: ClientConfig | None = None) -> SavedToken | None:
    """The anonymous token saved for ``config``'s API address and client id, if any.

    Expired entries are returned too: check :meth:`SavedToken.usable`. Nothing is requested
    and nothing is created (not even the client id).

    Example:
        >>> saved = saved_token()  # doctest: +SKIP
        >>> saved.masked, saved.usable()  # doctest: +SKIP
        ('nmv_usr_3f…9a01', True)
    """
    config, client_id = _where(config)
    if client_id is None:
        return None
    return TokenFile(config.token_cache_path).load(str(config.base_url), client_id)


def forget_saved_token(config: ClientConfig | None = None) -> bool:
    """Remove the saved anonymous token of ``config``'s API and client id; True if one was.

    Raises:
        OSError: the token file exists but cannot be rewritten.
    """
    config, client_id = _where(config)
    if client_id is None:
        return False
    return TokenFile(config.token_cache_path).discard(str(config.base_url), client_id)


@attrs.frozen
class TokenStatus:
    """Which token a client with ``config`` would use, safe to print.

    Attributes:
        source: ``"given"`` (``token=`` or ``NEMO_TOKEN``), ``"saved"`` (an anonymous token in
            the token file) or ``"none"`` (one will be requested on first use).
        masked: the token shortened (see :func:`mask_token`), or ``None``.
        expires_at: Unix time of expiry, when known.
        user_id: the anonymous user id, when known.
        usable: whether the token will be used as it is (a saved one near its expiry is not).
        path: the token file.
    """

    source: Literal["given", "saved", "none"]
    masked: str | None
    expires_at: float | None
    user_id: str | None
    usable: bool
    path: Path


def token_status(config: ClientConfig | None = None) -> TokenStatus:
    """Describe the token a client with ``config`` (default: from the environment) would use.

    Example:
        >>> print(token_status().source)  # doctest: +SKIP
        saved
    """
    config, _ = _where(config)
    path = config.token_cache_path
    if config.token:
        return TokenStatus("given", mask_token(config.token), None, None, True, path)
    saved = saved_token(config) if config.token_cache else None
    if saved is None:
        return TokenStatus("none", None, None, None, False, path)
    return TokenStatus("saved", saved.masked, saved.expires_at, saved.user_id, saved.usable(), path)
