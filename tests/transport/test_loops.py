"""A client outlives its event loop: two ``asyncio.run()`` calls, a loop per call, a loop
closed without ceremony. Never aiohttp's bare ``RuntimeError: Event loop is closed``.

The sandbox runs on the test's loop; the scripts under test run in a worker thread, where no
loop is running, exactly as a script would.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from pathlib import Path

import aiohttp

from nemovideo import ConfigurationError, NemoClient
from nemovideo.protocol.errors import AuthenticationError
from nemovideo.sandbox import Sandbox
from nemovideo.testing import sandbox_client_settings
from nemovideo.transport.auth import Credentials
from nemovideo.transport.retry import RateGate

TOKEN_ROUTE = "/api/auth/anonymous-token"

#: A module-level client, as a script or a web app's module would hold it.
client: NemoClient | None = None


def _token_requests(sandbox: Sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.path == TOKEN_ROUTE)


async def test_a_module_level_client_serves_two_asyncio_runs(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    global client
    client = NemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path))

    def script() -> list[int]:
        assert client is not None
        first = asyncio.run(client.credits.get())
        second = asyncio.run(client.credits.get())  # a new loop: a new connection pool
        asyncio.run(client.close())
        return [first.available, second.available]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no unclosed session, connector or transport
            assert await asyncio.to_thread(script) == [100, 100]
            gc.collect()
    finally:
        client = None
    # One token for both runs: the token is not bound to a loop, only connections are.
    assert _token_requests(nemo_sandbox) == 1


async def test_a_new_loop_in_a_new_thread_per_call_as_async_to_sync_does(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    shared = NemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path))
    seen: list[int] = []

    def call() -> None:
        seen.append(asyncio.run(shared.credits.get()).available)

    def script() -> None:
        for _ in range(3):
            worker = threading.Thread(target=call)
            worker.start()
            worker.join()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await asyncio.to_thread(script)
        await shared.close()
        gc.collect()
    assert seen == [100, 100, 100]


async def test_a_loop_closed_without_shutting_down_is_noticed_at_the_next_request(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    shared = NemoClient(nemo_sandbox.url, **sandbox_client_settings(tmp_path))

    def script() -> int:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(shared.credits.get())
        loop.close()  # no shutdown_asyncgens(): the session is left open on a dead loop
        return asyncio.run(shared.credits.get()).available

    with warnings.catch_warnings():
        # The dead loop's sockets can only go with the garbage collector, which says so.
        warnings.simplefilter("ignore", ResourceWarning)
        assert await asyncio.to_thread(script) == 100
        await shared.close()
        gc.collect()


async def test_a_given_session_on_another_loop_is_refused_with_advice(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> None:
    def script() -> str:
        async def first() -> tuple[NemoClient, aiohttp.ClientSession]:
            session = aiohttp.ClientSession()
            given = NemoClient(
                nemo_sandbox.url, session=session, **sandbox_client_settings(tmp_path)
            )
            await given.credits.get()
            return given, session

        given, session = asyncio.run(first())

        async def second() -> str:
            try:
                await given.credits.get()
            except ConfigurationError as exc:
                return str(exc)
            finally:
                await session.close()
            return "no error"

        return asyncio.run(second())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        message = await asyncio.to_thread(script)
        gc.collect()
    assert "belongs to another event loop" in message


class _Tokens:
    """A token source that numbers its tokens; the first request may never be answered."""

    user_id: str | None = None

    def __init__(self, *, first_hangs: bool = False) -> None:
        self.count = 0
        self.first_hangs = first_hangs

    async def acquire(self) -> str:
        self.count += 1
        if self.count == 1 and self.first_hangs:
            await asyncio.Event().wait()  # its loop dies first
        await asyncio.sleep(0)  # let the other callers queue behind this request
        return f"token-{self.count}"

    def reject(self, token: str) -> None:
        pass


def test_each_loop_shares_one_token_request() -> None:
    credentials = Credentials(None, _Tokens())

    async def burst() -> set[str]:
        tokens = set(await asyncio.gather(*(credentials.get() for _ in range(5))))
        credentials.invalidate(AuthenticationError("expired", code=1001))
        return tokens

    assert asyncio.run(burst()) == {"token-1"}
    assert asyncio.run(burst()) == {"token-2"}


def test_a_token_request_left_on_a_dead_loop_is_not_awaited_by_the_next() -> None:
    credentials = Credentials(None, _Tokens(first_hangs=True))
    loop = asyncio.new_event_loop()
    waiter = loop.create_task(credentials.get())
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()  # closed without cancelling: the request stays pending forever
    # Was: "got Future attached to a different loop" from the dead loop's request.
    assert asyncio.run(credentials.get()) == "token-2"
    assert not waiter.done()


def test_rate_gate_pauses_carry_over_loops() -> None:
    gate = RateGate()

    async def block() -> None:
        gate.block(60)

    async def holding() -> bool:
        return gate.holding

    asyncio.run(block())
    assert asyncio.run(holding()) and asyncio.run(holding())  # the loops share one clock
