"""Sessions: create one (a chat and its project), and make a claim link for a browser."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yarl import URL

from nemovideo.protocol.converter import structure
from nemovideo.protocol.errors import ConfigurationError, InvalidResponseError
from nemovideo.protocol.models import ClaimLink, Session
from nemovideo.transport.calls import per_call
from nemovideo.transport.http import HTTPTransport
from nemovideo.transport.retry import RequestKind, RetryPolicy

__all__ = ["SessionResource"]


class SessionResource:
    """``client.session``: ``create()`` and ``claim_link()``."""

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    @per_call()
    async def create(
        self,
        task_name: str = "project",
        language: str = "en",
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Session:
        """Start a new session (and its task).

        Example:
            >>> session = await client.session.create()  # doctest: +SKIP
            >>> session.session_id  # doctest: +SKIP
            '1780000000000000001'

        Raises:
            AuthenticationError: the token is invalid (after one refresh of an anonymous one).
            NemoError: any other refusal, mapped from the API's answer.
        """
        answer = await self._transport.request(
            "POST",
            "/api/tasks/me/with-session/nemo_agent",
            kind=RequestKind.WRITE,
            json={"task_name": task_name, "language": language},
            retry=retry,
            what="creating a session",
        )
        session = structure(answer, Session)
        # Older answers name the user: an anonymous one's 2001 then carries its register link.
        self._transport.credentials.note_user_id(session.user_id)
        return session

    @per_call()
    async def claim_link(
        self,
        session: Session | None = None,
        *,
        task_id: str | None = None,
        session_id: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> ClaimLink:
        """A browser link (``<web>/workspace/claim?ct=<claim_token>``) that claims this work.

        The link carries a short-lived claim token, never the bearer token.

        Raises:
            ConfigurationError: neither a session nor both ids were given.
        """
        if session is not None:
            task_id, session_id = session.task_id, session.session_id
        if not task_id or not session_id:
            raise ConfigurationError(
                "claim_link() needs the session from client.session.create(), or both "
                "task_id= and session_id=."
            )
        answer: Any = await self._transport.request(
            "POST",
            "/api/auth/claim-token",
            kind=RequestKind.WRITE,
            json={"task_id": task_id, "session_id": session_id},
            retry=retry,
            what="creating a claim link",
        )
        claim = answer.get("claim_token") if isinstance(answer, dict) else None
        if not isinstance(claim, str) or not claim:
            raise InvalidResponseError("The claim-token answer carried no claim_token.")
        expires = answer.get("expires_in")
        web = self._transport.config.web_url.rstrip("/")
        url = str(URL(web + "/workspace/claim").with_query({"ct": claim}))
        valid = isinstance(expires, int) and not isinstance(expires, bool)
        return ClaimLink(url=url, claim_token=claim, expires_in=expires if valid else None)
