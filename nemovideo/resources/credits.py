"""Credits: the balance, with what running work holds frozen."""

from __future__ import annotations

from collections.abc import Mapping

from nemovideo.protocol.converter import structure
from nemovideo.protocol.models import Credits
from nemovideo.transport.calls import per_call
from nemovideo.transport.http import HTTPTransport
from nemovideo.transport.retry import RequestKind, RetryPolicy

__all__ = ["CreditsResource"]


class CreditsResource:
    """``client.credits``: ``get()``."""

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    @per_call()
    async def get(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Credits:
        """The balance: ``available``, ``frozen`` (reserved by running work) and ``total``.

        Example:
            >>> (await client.credits.get()).available  # doctest: +SKIP
            100

        Raises:
            AuthenticationError: the token is invalid (after one refresh of an anonymous one).
            APIConnectionError: the API could not be reached (after the read retries).
        """
        answer = await self._transport.request(
            "GET",
            "/api/credits/balance/simple",
            kind=RequestKind.READ,
            retry=retry,
            what="reading the credit balance",
        )
        if isinstance(answer, dict):
            self._transport.credentials.note_user_id(answer.get("user_id"))
        return structure(answer, Credits)
