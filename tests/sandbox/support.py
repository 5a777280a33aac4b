"""A bare aiohttp client for the sandbox tests (deliberately not the SDK), and SSE parsing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

ATTRIBUTION = {
    "X-Skill-Source": "nemo-video",
    "X-Skill-Version": "1.9.0",
    "X-Skill-Platform": "unknown",
}


def parse_sse(body: bytes) -> list[Any]:
    """Every SSE block as: ("comment", text), ("empty", None) or the decoded JSON object."""
    items: list[Any] = []
    for block in body.decode("utf-8").split("\n\n"):
        if not block:
            continue
        data = [line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:")]
        if block.startswith(":"):
            items.append(("comment", block[1:].strip()))
        elif data == [""]:
            items.append(("empty", None))
        else:
            items.append(json.loads("\n".join(data)))
    return items


def adk_events(items: list[Any]) -> list[dict[str, Any]]:
    """Only the ADK events (no keep-alives, no error objects)."""
    return [i for i in items if isinstance(i, dict) and "invocationId" in i]


def texts(events: list[dict[str, Any]], *, partial: bool) -> list[str]:
    """The non-thought text parts of partial (or final) events."""
    out = []
    for event in events:
        if bool(event.get("partial")) != partial:
            continue
        for part in (event.get("content") or {}).get("parts", []):
            if "text" in part and not part.get("thought"):
                out.append(part["text"])
    return out


def calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The functionCall parts, in order."""
    return [
        part["functionCall"]
        for event in events
        for part in (event.get("content") or {}).get("parts", [])
        if "functionCall" in part
    ]


class Api:
    """Calls the sandbox like a client would, with plain aiohttp."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str | None = None) -> None:
        self.http, self.url, self.token = http, url, token

    def headers(self, *, token: bool = True, attribution: bool = True) -> dict[str, str]:
        headers = dict(ATTRIBUTION) if attribution else {}
        if token and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def call(
        self, method: str, path: str, *, attribution: bool = True, **kw: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        headers = {**self.headers(attribution=attribution), **kw.pop("headers", {})}
        async with self.http.request(method, self.url + path, headers=headers, **kw) as resp:
            body = await resp.read()
            try:
                data = json.loads(body) if body else None
            except ValueError:
                data = body
            return resp.status, data, resp

    async def data(self, method: str, path: str, **kw: Any) -> Any:
        """The ``data`` of a successful enveloped answer."""
        status, body, _ = await self.call(method, path, **kw)
        assert status == 200 and body["code"] == 0, (status, body)
        return body["data"]

    async def anonymous(self, client_id: str = "client-1") -> str:
        status, body, _ = await self.call(
            "POST", "/api/auth/anonymous-token", headers={"X-Client-Id": client_id}
        )
        assert status == 200, body
        self.token = body["data"]["token"]
        return self.token

    async def new_session(self) -> str:
        data = await self.data(
            "POST",
            "/api/tasks/me/with-session/nemo_agent",
            json={"task_name": "project", "language": "en"},
        )
        return str(data["session_id"])

    async def upload(self, sid: str, *files: tuple[str, bytes]) -> tuple[int, Any]:
        form = aiohttp.FormData()
        for name, content in files:
            form.add_field("files", content, filename=name, content_type="application/octet-stream")
        status, body, _ = await self.call(
            "POST", f"/api/upload-video/nemo_agent/me/{sid}", data=form
        )
        return status, body

    def chat_body(self, sid: str, text: str, **extra: Any) -> dict[str, Any]:
        return {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"parts": [{"text": text}]},
            **extra,
        }

    async def chat(self, sid: str, text: str, **extra: Any) -> list[Any]:
        """Send one message; the parsed stream (all blocks)."""
        headers = {**self.headers(), "Accept": "text/event-stream"}
        async with self.http.post(
            self.url + "/run_sse", json=self.chat_body(sid, text, **extra), headers=headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.content_type == "text/event-stream"
            return parse_sse(await resp.read())

    async def state(self, sid: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.data("GET", f"/api/state/nemo_agent/me/{sid}/latest")
        return data

    async def credits(self) -> dict[str, int]:
        data: dict[str, int] = await self.data("GET", "/api/credits/balance/simple")
        return data

    async def render(self, sid: str, job_id: str, draft: Any) -> tuple[int, Any]:
        body = {"id": job_id, "sessionId": sid, "draft": draft,
                "output": {"format": "mp4", "quality": "high"}}  # fmt: skip
        status, data, _ = await self.call("POST", "/api/render/proxy/lambda", json=body)
        return status, data

    async def wait_render(self, job_id: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            status, job, _ = await self.call("GET", f"/api/render/proxy/lambda/{job_id}")
            assert status == 200, job
            if job["status"] in ("completed", "failed"):
                return dict(job)
            await asyncio.sleep(0.01)
        raise AssertionError(f"render {job_id} did not finish in {timeout} s")
