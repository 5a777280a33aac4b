"""The pytest plugin's fixtures, the command line runner, and import hygiene."""

from __future__ import annotations

import ast
import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

import nemovideo.sandbox
from nemovideo.sandbox import Sandbox, SandboxOptions
from tests.sandbox.support import ATTRIBUTION


async def test_nemo_sandbox_fixture_is_fast_small_and_seeded(nemo_sandbox: Sandbox) -> None:
    options = nemo_sandbox.options
    assert (options.time_scale, options.render_height, options.seed) == (0.001, 144, 0)
    assert nemo_sandbox.url.startswith("http://127.0.0.1:")
    assert nemo_sandbox.cdn_url != nemo_sandbox.url


@pytest.mark.nemo_sandbox(initial_credits=5, seed=11)
async def test_marker_overrides_fixture_options(nemo_sandbox: Sandbox) -> None:
    assert (nemo_sandbox.options.initial_credits, nemo_sandbox.options.seed) == (5, 11)


async def test_factory_starts_sandboxes_and_closes_them(nemo_sandbox_factory) -> None:
    first = await nemo_sandbox_factory(seed=1)
    second = await nemo_sandbox_factory(options=SandboxOptions(seed=2), render_height=240)
    assert first.url != second.url
    assert (second.options.seed, second.options.render_height) == (2, 240)
    async with aiohttp.ClientSession() as http, http.get(first.url + "/nothing") as resp:
        assert resp.status == 404


async def test_close_is_idempotent_and_a_closed_sandbox_says_so() -> None:
    sandbox = Sandbox(time_scale=0.001)
    with pytest.raises(RuntimeError, match="not started"):
        _ = sandbox.url
    async with sandbox:
        assert "127.0.0.1" in repr(sandbox)
    await sandbox.close()
    assert "stopped" in repr(sandbox)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SandboxOptions(time_scale=0)
    with pytest.raises(ValueError, match="render_height"):
        SandboxOptions(render_height=4)


def test_import_nemovideo_does_not_import_the_sandbox() -> None:
    code = (
        "import sys; sys.modules['av'] = None; sys.modules['numpy'] = None\n"
        "import nemovideo, nemovideo.testing\n"
        "assert 'nemovideo.sandbox' not in sys.modules, 'import nemovideo imported the sandbox'\n"
        "try:\n"
        "    import nemovideo.sandbox\n"
        "except ImportError as exc:\n"
        "    assert 'nemovideo[sandbox]' in str(exc) and exc.name in ('av', 'numpy'), exc\n"
        "else:\n"
        "    raise AssertionError('the sandbox imported without PyAV')\n"
    )
    result = subprocess.run(  # noqa: S603 - a fixed command
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_sandbox_never_imports_the_client_side() -> None:
    """It is an independent double: only `nemovideo.protocol` and itself are allowed."""
    package = Path(nemovideo.sandbox.__file__).parent
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name == "nemovideo" or name.startswith("nemovideo."):
                    assert name.startswith(("nemovideo.protocol", "nemovideo.sandbox")), (
                        source.name,
                        name,
                    )


async def test_command_line_runner_serves_until_interrupted() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nemovideo.sandbox", "--port", "0", "--time-scale", "0.01",
        "--seed", "3", "--token", "nmv_usr_cli",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        match = re.match(r"NemoVideo sandbox listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        cdn_line = (await process.stdout.readline()).decode()
        assert "http://127.0.0.1:" in cdn_line
        headers = {"Authorization": "Bearer nmv_usr_cli", **ATTRIBUTION}
        async with (
            aiohttp.ClientSession() as http,
            http.get(match.group(1) + "/api/credits/balance/simple", headers=headers) as resp,
        ):
            assert (await resp.json())["data"]["available"] == 100_000
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 60)
    assert code == 0


def test_options_repr_hides_token_values() -> None:
    options = SandboxOptions(tokens={"nmv_usr_secret": "*"})
    assert "nmv_usr_secret" not in repr(options)
    assert options.tokens == {"nmv_usr_secret": frozenset({"*"})}
