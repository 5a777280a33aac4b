"""SyncNemoClient against the sandbox: threads share one client, one pool, one token; close()
leaves no thread, socket or loop behind.

The sandbox runs on the test's event loop, so the blocking code runs in a worker thread (no
loop running there), as it would in a script or a WSGI worker.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import shutil
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from nemovideo import (
    ConfigurationError,
    NemoClient,
    Progress,
    Stage,
    SyncNemoClient,
    Video,
)
from nemovideo.resources import (
    ChatResource,
    ChatStream,
    CreditsResource,
    RenderResource,
    SessionResource,
    StateResource,
    UploadResource,
)
from nemovideo.sandbox import Sandbox
from nemovideo.sync import (
    SyncChat,
    SyncChatStream,
    SyncCredits,
    SyncRender,
    SyncSession,
    SyncState,
    SyncUpload,
)
from nemovideo.testing import sandbox_client_settings

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"
IMAGE = ASSETS / "sunset.jpg"
TOKEN_ROUTE = "/api/auth/anonymous-token"

T = TypeVar("T")


async def in_thread(work: Callable[[], T]) -> T:
    """Run blocking code where a script would: a thread without a running loop."""
    return await asyncio.to_thread(work)


def _client_sockets(port: int) -> list[socket.socket]:
    """Open client-side sockets to ``port`` (the sandbox's own accepted ones excluded)."""
    found = []
    for obj in gc.get_objects():
        inet = isinstance(obj, socket.socket) and obj.family in (socket.AF_INET, socket.AF_INET6)
        if inet and obj.fileno() != -1:
            try:
                if obj.getpeername()[1] == port and obj.getsockname()[1] != port:
                    found.append(obj)
            except OSError:
                continue
    return found


def _sdk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nemovideo-sync")]


@pytest.mark.slow
@pytest.mark.nemo_sandbox(initial_credits=100_000)
async def test_eight_threads_share_one_client_for_sixteen_videos(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    """A threaded web app: each request thread animates with the one module-level client."""
    images = []
    for i in range(16):
        images.append(tmp_path / f"photo{i:02d}.jpg")
        shutil.copy(IMAGE, images[-1])
    before = set(threading.enumerate())
    # Sixteen real renders at once on a small shared machine: a generous poll budget.
    settings = {**sandbox_client_settings(tmp_path), "max_polls": 6000}
    client = SyncNemoClient(nemo_sandbox.url, **settings)
    runner = client._runner

    def request(path: Path) -> Video:  # a Flask view
        return client.animate(path, "gentle waves", output=path.with_suffix(".mp4"))

    port = int(nemo_sandbox.url.rsplit(":", 1)[1])

    def serve() -> tuple[list[Video], int]:
        with client, ThreadPoolExecutor(8, thread_name_prefix="wsgi") as workers:
            videos = list(workers.map(request, images))
            return videos, len(_client_sockets(port))

    videos, open_before_close = await in_thread(serve)

    assert len(videos) == 16
    assert all(v.path is not None and v.path.stat().st_size == v.size > 1000 for v in videos)
    assert len({v.session_id for v in videos}) == 16
    # One token for every thread: the token lock lives on the client's one loop.
    assert sum(1 for r in nemo_sandbox.requests if r.path == TOKEN_ROUTE) == 1
    assert nemo_sandbox.duplicate_deliveries() == []
    # Nothing left behind: the loop thread and its workers ended, the loop is closed, and no
    # client socket to the sandbox is open.
    assert not runner.thread.is_alive()
    assert runner.loop.is_closed()
    # (The test's own loop runs this test's thread in `asyncio_N`; the sandbox renders in its own.)
    new = [t.name for t in threading.enumerate() if t not in before]
    assert [n for n in new if not n.startswith(("asyncio_", "nemovideo-sandbox"))] == []
    assert _sdk_threads() == []
    assert open_before_close > 0  # the check sees the pool's sockets while it is open
    assert _client_sockets(port) == []


@pytest.mark.nemo_sandbox(initial_credits=10_000, silent_edit_ratio=0.0)
async def test_every_sub_client_blocks_and_returns_the_async_results(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    def script() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        with SyncNemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path)) as client:
            session = client.session.create()
            sent: list[tuple[int, int]] = []
            upload = client.upload.files(
                session.session_id, IMAGE, on_progress=lambda s, t: sent.append((s, t))
            )
            seen["uploaded"] = [f.file_type for f in upload.files]
            seen["progress"] = sent[-1]
            seen["checked"] = client.upload.check(IMAGE)
            with client.chat.stream(session.session_id, "animate this image") as events:
                seen["events"] = [type(e).__name__ for e in events]
            seen["delivered"] = events.delivered
            seen["reply"] = events.reply().text
            reply = client.chat.send(session.session_id, "add a title 'Golden Hour'")
            seen["send"] = reply.text
            state = client.state.get(session.session_id)
            job = client.render.start(session.session_id, state.draft)
            job = client.render.wait(job)
            seen["download"] = client.render.download(job, tmp_path / "out.mp4")
            seen["credits"] = client.credits.get()
            seen["claim"] = client.session.claim_link(session).url
            seen["turn"] = client.converse(session.session_id, "credits")
            seen["resume"] = client.resume()
            patient = client.with_options(poll_interval=0.01)
            seen["clone"] = patient.credits.get().total
            patient.close()
            seen["after_clone_closed"] = client.credits.get().total
        return seen

    seen = await in_thread(script)
    assert seen["uploaded"] == ["image"]
    assert seen["progress"][0] == seen["progress"][1] == IMAGE.stat().st_size
    assert seen["checked"] == ["sunset.jpg"]
    assert "TextEvent" in seen["events"] and seen["delivered"] is True
    assert seen["reply"]
    assert Path(seen["download"]).stat().st_size > 1000
    assert seen["credits"].total > 0
    assert "/workspace/claim?ct=" in seen["claim"]
    assert seen["turn"].text
    assert seen["resume"] == []
    assert seen["clone"] == seen["after_clone_closed"] > 0
    assert nemo_sandbox.duplicate_deliveries() == []


@pytest.mark.nemo_sandbox(initial_credits=10_000)
async def test_animate_many_is_a_plain_iterator_with_a_summary_and_progress(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    def script() -> tuple[list[bool], str, set[Stage], list[str]]:
        stages: set[Stage] = set()
        callback_threads: set[str] = set()

        def progress(report: Progress) -> None:
            stages.add(report.stage)
            callback_threads.add(threading.current_thread().name)

        with SyncNemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path)) as client:
            batch = client.animate_many([IMAGE, IMAGE], concurrency=2, on_progress=progress)
            assert len(batch) == 2
            oks = [result.ok for result in batch]
            return oks, str(batch.summary), stages, sorted(callback_threads)

    oks, summary, stages, threads = await in_thread(script)
    assert oks == [True, True]
    assert summary == "2 done, 0 failed, 200 credits"
    assert Stage.DONE in stages
    assert threads == ["nemovideo-sync-" + threads[0].rsplit("-", 1)[1]]  # the loop's thread


async def test_a_blocking_call_inside_an_event_loop_points_to_nemo_client(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    client = SyncNemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path))
    try:
        with pytest.raises(RuntimeError, match=r"use NemoClient instead") as info:
            client.credits.get()  # this test runs inside the pytest-asyncio loop
        assert "await client.animate" in str(info.value)
        with pytest.raises(RuntimeError, match="NemoClient"):
            client.animate(IMAGE)

        def from_a_callback() -> str:
            messages: list[str] = []

            def progress(report: Progress) -> None:
                if not messages:
                    try:
                        client.credits.get()  # on the client's own loop: would deadlock
                    except RuntimeError as exc:
                        messages.append(str(exc))

            client.animate(IMAGE, on_progress=progress)
            return messages[0]

        assert "its own event loop's thread" in await in_thread(from_a_callback)
    finally:
        await in_thread(client.close)


async def test_close_is_idempotent_and_a_closed_client_says_so(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    def script() -> str:
        client = SyncNemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path))
        client.credits.get()
        client.close()
        client.close()
        assert client.closed
        try:
            client.credits.get()
        except ConfigurationError as exc:
            return str(exc)
        return "no error"

    assert "closed" in await in_thread(script)
    assert _sdk_threads() == []


async def test_a_client_dropped_without_close_stops_its_thread(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    def script() -> threading.Thread:
        client = SyncNemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path))
        client.credits.get()
        return client._runner.thread

    thread = await in_thread(script)
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()


def test_a_bad_setting_fails_before_any_thread_starts(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    with pytest.raises(ConfigurationError):
        SyncNemoClient("ftp://nowhere", **sandbox_client_settings(tmp_path))
    assert set(threading.enumerate()) == before


#: Each blocking view and the async class it mirrors.
VIEWS = [
    (SyncSession, SessionResource),
    (SyncUpload, UploadResource),
    (SyncChat, ChatResource),
    (SyncState, StateResource),
    (SyncRender, RenderResource),
    (SyncCredits, CreditsResource),
    (SyncChatStream, ChatStream),
    (SyncNemoClient, NemoClient),
]


def _public_methods(cls: type) -> set[str]:
    return {
        name
        for name, value in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(value)
    }


@pytest.mark.parametrize(("view", "target"), VIEWS, ids=lambda c: c.__name__)
def test_each_async_method_has_a_typed_blocking_twin(view: type, target: type) -> None:
    # The views answer for unnamed coroutine methods at run time; naming them gives them types.
    # A method added to an async class: add `name = blocking(Class.name)` to its view.
    missing = {name for name in _public_methods(target) if not hasattr(view, name)}
    missing -= {"aclose"}  # SyncChatStream.close
    assert missing == set(), f"add these to {view.__name__} in nemovideo/sync/"


async def test_an_unnamed_coroutine_method_is_still_blocking(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    client = SyncNemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path))

    async def doubled_total() -> int:  # a method the views do not name
        return 2 * (await client.async_client.credits.get()).total

    client.async_client.credits.doubled_total = doubled_total  # type: ignore[attr-defined]
    try:
        value = await in_thread(lambda: client.credits.doubled_total())  # type: ignore[attr-defined]
        assert value == 200
    finally:
        await in_thread(client.close)
