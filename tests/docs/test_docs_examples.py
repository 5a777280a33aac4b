"""Every ```python block of the documentation runs against a sandbox, so none can go stale.

How a page's blocks run:

- In order, in one namespace, like the cells of a notebook: a block may use what an earlier
  block of the same page defined. ``client`` is an open ``NemoClient``.
- Blocks with top-level ``await``/``async with``/``async for`` run in the test's event loop.
  Blocks without (scripts that call ``asyncio.run(main())``) run in a worker thread, where no
  loop is running, exactly as a script would.
- A block that defines ``test_*`` functions is a pytest example: it is written to a test file
  and run by pytest with the plugin's fixtures (``nemo_client``, ``nemo_sandbox``, ...).
- A block marked ``<!-- no-test -->`` is only compiled (code that cannot run here, such as a
  server that runs until Ctrl-C).

The environment is the one the pages describe: the working folder holds ``sunset.jpg`` and
``portrait.png`` (also under ``examples/assets/``), ``NEMO_API_URL`` points at a sandbox, no
token is set, and the client id and journal live in a temporary folder. So that the whole
suite stays fast, sandboxes the pages start get a fast clock and small renders, and clients
get the pytest plugin's scaled waits, unless a page sets the waits itself.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import nemovideo.sandbox
from nemovideo import NemoClient
from nemovideo.sandbox import Sandbox
from nemovideo.testing import fast_retry_policy
from nemovideo.transport.config import ClientConfig

from .markdown_blocks import DOCS, Block, defined_tests, page_blocks, pages

pytest_plugins = ["pytester"]

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"
BLOCK_TIMEOUT = 60.0  # real seconds; a block that hangs fails instead of stalling CI

#: Waits for clients the pages create, as the pytest plugin scales them for a fast sandbox.
CLIENT_WAITS: dict[str, Any] = {"poll_interval": 0.02, "max_polls": 500, "time_scale": 0.001}
#: Sandboxes the pages start run at most this fast clock and this render height.
FAST_SANDBOX: dict[str, Any] = {"time_scale": 0.001, "render_height": 144}

ENV_CLEARED = ("NEMO_TOKEN", "NEMO_CLIENT_ID", "NEMO_WEB_URL", "SKILL_SOURCE")


def _page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


RUNNABLE_PAGES = [
    page
    for page in pages()
    if any(not b.skipped and not defined_tests(b) for b in page_blocks(page))
]
PYTEST_EXAMPLES = [
    block
    for page in pages()
    for block in page_blocks(page)
    if not block.skipped and defined_tests(block)
]


def _working_folder(path: Path) -> None:
    """The files the pages name, where they name them."""
    for asset in ("sunset.jpg", "portrait.png"):
        shutil.copy(ASSETS / asset, path / asset)
    shutil.copytree(ASSETS, path / "examples" / "assets")


class _FastSandbox(Sandbox):
    """The sandbox the pages start, with a clock and renders fast enough for the suite."""

    def __init__(self, options: Any = None, **fields: Any) -> None:
        super().__init__(options, **fields)
        opts = self.options
        self.options = attrs.evolve(
            opts,
            time_scale=min(opts.time_scale, FAST_SANDBOX["time_scale"]),
            render_height=min(opts.render_height, FAST_SANDBOX["render_height"]),
            seed=0 if opts.seed is None else opts.seed,
        )


def _scaled_resolve(original: Callable[..., ClientConfig]) -> Callable[..., ClientConfig]:
    def resolve(cls: type[ClientConfig], **settings: Any) -> ClientConfig:
        for name, value in {**CLIENT_WAITS, "retry": fast_retry_policy()}.items():
            settings.setdefault(name, value)
        return original(**settings)

    return resolve


@pytest.fixture
def docs_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder with the pages' files, and an environment without secrets."""
    work = tmp_path / "work"
    work.mkdir()
    _working_folder(work)
    monkeypatch.chdir(work)
    for name in ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(nemovideo.sandbox, "Sandbox", _FastSandbox)
    monkeypatch.setattr(ClientConfig, "resolve", classmethod(_scaled_resolve(ClientConfig.resolve)))
    sdk_logger = logging.getLogger("nemovideo")
    level, handlers = sdk_logger.level, list(sdk_logger.handlers)
    try:
        yield work
    finally:
        # Pages configure logging as an application would; the rest of the suite must not see it.
        sdk_logger.setLevel(level)
        sdk_logger.handlers[:] = handlers


def _compile(block: Block) -> Any:
    return compile(
        block.padded(),
        str(block.page),  # tracebacks then point at the page's own lines
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )


async def run_block(block: Block, namespace: dict[str, Any]) -> None:
    """Run one block in ``namespace``: awaited here when it awaits, else in a worker thread."""
    code = _compile(block)
    if code.co_flags & inspect.CO_COROUTINE:
        pending: Awaitable[Any] = eval(code, namespace)  # noqa: S307 - the project's own docs
    else:
        pending = asyncio.to_thread(exec, code, namespace)
    try:
        await asyncio.wait_for(pending, BLOCK_TIMEOUT)
    except Exception as exc:
        if sys.version_info >= (3, 11):  # notes exist from 3.11; the traceback names the page
            exc.add_note(f"in the example at docs/{block.where}")
        raise


async def close_leftovers(namespace: dict[str, Any]) -> None:
    """Close the clients and sandboxes a page left open (a failed page skips its own close)."""
    for value in list(namespace.values()):
        if isinstance(value, (NemoClient, Sandbox)):
            await value.close()


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=_page_id)
async def test_page_examples_run(
    page: Path,
    docs_environment: Path,
    nemo_sandbox_factory: Callable[..., Awaitable[Sandbox]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = await nemo_sandbox_factory(initial_credits=100_000)
    monkeypatch.setenv("NEMO_API_URL", sandbox.url)
    ran = 0
    namespace: dict[str, Any] = {"__name__": "__main__"}
    async with NemoClient() as client:
        namespace["client"] = client
        try:
            for block in page_blocks(page):
                if block.skipped or defined_tests(block):
                    continue
                await run_block(block, namespace)
                ran += 1
        finally:
            await close_leftovers(namespace)
    assert ran > 0
    # The pages' own promise, checked on everything they did: no message was sent twice.
    assert sandbox.duplicate_deliveries() == []


def test_skipped_examples_still_compile() -> None:
    skipped = [block for page in pages() for block in page_blocks(page) if block.skipped]
    for block in skipped:
        _compile(block)
    # Skipping is for code that truly cannot run here; it must stay the exception.
    assert len(skipped) <= 3, [block.where for block in skipped]


@pytest.mark.parametrize("block", PYTEST_EXAMPLES, ids=lambda block: block.where)
def test_pytest_examples_pass(
    block: Block, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (*ENV_CLEARED, "NEMO_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(pytester.path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(pytester.path / "state"))
    _working_folder(pytester.path)
    stem = Path(block.where.replace("/", "_").replace(".md:", "_")).stem
    pytester.makepyfile(**{f"test_{stem}": block.code})
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-W",
        "error::ResourceWarning",
    )
    result.assert_outcomes(passed=len(defined_tests(block)))
