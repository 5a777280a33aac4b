"""pytest plugin: a started NemoVideo sandbox as a fixture (entry point ``nemovideo``).

Fixtures:

- ``nemo_sandbox``: a :class:`~nemovideo.sandbox.Sandbox` started for one test on loopback
  ports, fast (``time_scale=0.001``), small renders (``render_height=144``), seeded (``seed=0``);
  closed afterwards. Override its options with the ``nemo_sandbox`` marker.
- ``nemo_sandbox_factory``: an async factory ``await factory(**options)`` for tests that need
  several sandboxes or other options; every sandbox it made is closed after the test.
- ``nemo_client``: a :class:`~nemovideo.NemoClient` pointed at ``nemo_sandbox``, with the SDK's
  waits scaled like the sandbox's clock, a throw-away client id and journal; closed afterwards.
- ``nemo_client_factory``: ``factory(**settings)`` makes more such clients (other settings, or
  ``base_url=`` another sandbox); all are closed after the test.

Example::

    @pytest.mark.nemo_sandbox(silent_edit_ratio=1.0)
    async def test_silent_edits(nemo_sandbox):
        ...  # point a client at nemo_sandbox.url

The sandbox is imported only inside the fixtures, so this plugin loads even where the
``sandbox`` extra (PyAV, numpy) is not installed.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from nemovideo.client import NemoClient
    from nemovideo.sandbox import Sandbox
    from nemovideo.transport.retry import RetryPolicy

try:  # strict-mode projects need pytest-asyncio's own decorator for async fixtures
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio async fixtures cannot run
    _async_fixture = pytest.fixture  # type: ignore[assignment]

__all__ = [
    "SANDBOX_TEST_OPTIONS",
    "fast_retry_policy",
    "nemo_client",
    "nemo_client_factory",
    "nemo_sandbox",
    "nemo_sandbox_factory",
    "sandbox_client_settings",
]

#: The options of the ``nemo_sandbox`` fixture: fast, small, reproducible.
SANDBOX_TEST_OPTIONS: dict[str, Any] = {"time_scale": 0.001, "render_height": 144, "seed": 0}

#: An async factory of started sandboxes: ``await factory(**options)``.
SandboxFactory = Callable[..., Awaitable["Sandbox"]]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``nemo_sandbox`` marker."""
    config.addinivalue_line(
        "markers",
        "nemo_sandbox(**options): options for the nemo_sandbox fixture "
        "(SandboxOptions fields, e.g. silent_edit_ratio=1.0)",
    )


_OUR_FIXTURES = frozenset(
    {"nemo_sandbox", "nemo_sandbox_factory", "nemo_client", "nemo_client_factory"}
)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Mark ``async def`` tests that use this plugin's fixtures with ``pytest.mark.asyncio``.

    So the plugin works as documented in any project with pytest-asyncio, also in its default
    strict mode (where an unmarked async test is not run); auto mode is not needed.
    """
    if not (name.startswith("test") and inspect.iscoroutinefunction(obj)):
        return
    try:
        import pytest_asyncio  # noqa: F401 - only mark when the marker means something
    except ImportError:  # pragma: no cover
        return
    try:
        wanted = set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):  # pragma: no cover
        return
    marks = getattr(obj, "pytestmark", [])
    if wanted & _OUR_FIXTURES and not any(m.name == "asyncio" for m in marks):
        pytest.mark.asyncio(obj)


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("nemo_sandbox"))):
        options.update(marker.kwargs)  # the closest marker wins
    return options


@_async_fixture
async def nemo_sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """A started sandbox for one test (fast, small renders, seed 0), closed afterwards."""
    from nemovideo.sandbox import Sandbox

    options = {**SANDBOX_TEST_OPTIONS, **_marker_options(request)}
    async with Sandbox(**options) as sandbox:
        yield sandbox


@_async_fixture
async def nemo_sandbox_factory() -> AsyncIterator[SandboxFactory]:
    """``await nemo_sandbox_factory(**options)`` starts a sandbox; all are closed after the test.

    Options default to those of ``nemo_sandbox`` (fast, small renders, seed 0), unless a whole
    ``options=SandboxOptions(...)`` is passed.
    """
    from nemovideo.sandbox import Sandbox

    started: list[Sandbox] = []

    async def factory(**options: Any) -> Sandbox:
        # An explicit SandboxOptions object is taken as given; loose fields get the defaults.
        if options.get("options") is None:
            options = {**SANDBOX_TEST_OPTIONS, **options}
        sandbox = Sandbox(**options)
        await sandbox.start()
        started.append(sandbox)
        return sandbox

    try:
        yield factory
    finally:
        for sandbox in reversed(started):
            await sandbox.close()


def sandbox_client_settings(tmp_path: Path, time_scale: float = 0.001) -> dict[str, Any]:
    """NemoClient settings for a fast sandbox: waits scaled down, files kept in ``tmp_path``.

    The retry table is the documented one with its waits shortened; the service's documented
    waits pass at the sandbox's ``time_scale``; render polls come every 20 ms and may run long,
    since the sandbox's clock is fast but its renders are real.
    """
    return {
        "client_id_path": tmp_path / "nemovideo" / "client_id",
        "journal_path": tmp_path / "nemovideo" / "journal.db",
        "poll_interval": 0.02,
        "max_polls": 500,
        "retry": fast_retry_policy(),
        "time_scale": time_scale,
    }


def fast_retry_policy() -> RetryPolicy:
    """The documented retry table (same counts) with its waits shortened for a fast sandbox."""
    from nemovideo.transport.retry import RetryPolicy

    return RetryPolicy(
        backoff_initial=0.005,
        backoff_max=0.05,
        backoff_jitter=0.005,
        rate_limit_wait=0.03,
        rate_limit_max_wait=0.5,
    )


#: A factory of NemoClients for the sandbox: ``factory(**settings)``.
ClientFactory = Callable[..., "NemoClient"]


@_async_fixture
async def nemo_client_factory(
    nemo_sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[ClientFactory]:
    """``nemo_client_factory(**settings)`` makes clients for ``nemo_sandbox``; all closed after."""
    from nemovideo.client import NemoClient

    made: list[NemoClient] = []

    def factory(**settings: Any) -> NemoClient:
        scale = nemo_sandbox.options.time_scale
        options = {**sandbox_client_settings(tmp_path, scale), **settings}
        client = NemoClient(options.pop("base_url", nemo_sandbox.url), **options)
        made.append(client)
        return client

    try:
        yield factory
    finally:
        for client in made:
            await client.close()


@pytest.fixture
def nemo_client(nemo_client_factory: ClientFactory) -> NemoClient:
    """A NemoClient pointed at ``nemo_sandbox`` (closed after the test).

    Example::

        async def test_my_app(nemo_client):
            video = await nemo_client.animate("tests/cat.jpg")
            assert video.size > 0
    """
    return nemo_client_factory()
