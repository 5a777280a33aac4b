"""Proxies from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``), as other HTTP
clients (requests, httpx, curl) honour them.

The choice is made once per origin and handed to each request as ``proxy=``: aiohttp's own
``trust_env`` would look the variables up again in a worker thread on every request, and would
also read ``~/.netrc`` for the API's host and then refuse the request because it carries its own
``Authorization`` header. Loopback addresses always go direct: no proxy can reach this machine's
loopback (the sandbox lives there).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

__all__ = ["ProxyChooser"]

logger = logging.getLogger("nemovideo.http")

_DIRECT: dict[str, Any] = {}


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ProxyChooser:
    """The request options (``proxy``, ``proxy_auth``) for each origin, read once.

    Args:
        enabled: ``False`` sends everything direct (the ``trust_env=False`` setting).
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._by_origin: dict[tuple[str, str | None, int | None], dict[str, Any]] = {}

    def options(self, url: URL) -> dict[str, Any]:
        """``{}`` for a direct request, else ``{"proxy": ..., "proxy_auth": ...}``.

        The dict is shared between calls: do not change it.
        """
        if not self.enabled:
            return _DIRECT
        key = (url.scheme, url.host, url.port)
        found = self._by_origin.get(key)
        if found is None:
            found = self._by_origin[key] = self._lookup(url)
        return found

    def _lookup(self, url: URL) -> dict[str, Any]:
        if _loopback(url.host):
            return _DIRECT
        try:
            proxy, auth = get_env_proxy_for_url(url)
        except LookupError:
            return _DIRECT
        logger.debug("requests to %s go through the proxy %s", url.host, proxy.host)
        return {"proxy": proxy, "proxy_auth": auth}
