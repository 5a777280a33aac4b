"""The documented demo, as a user runs it: ``python -m nemovideo animate ... --sandbox``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import av
import pytest

from .conftest import ASSETS


@pytest.mark.slow
def test_python_m_nemovideo_animate_sandbox(tmp_path: Path) -> None:
    image = ASSETS / "sunset.jpg"
    out = tmp_path / "out.mp4"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")  # the XDG folders default to folders in it
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "nemovideo", "animate", str(image), "-o", str(out), "--sandbox"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith(f"Saved {out} (5 s, ")
    # Plain lines on a pipe: no carriage-return redraws in a log.
    assert "\r" not in done.stderr
    assert "Rendering [" in done.stderr
    # No bearer token anywhere (sandbox tokens look like the real ones).
    assert not re.search(r"nmv_usr_\w+", done.stdout + done.stderr)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (1920, 1080)
        assert abs(float(container.duration or 0) / 1e6 - 5.0) < 0.3
    # A sandbox run keeps no journal and leaves the shared client id alone: nothing in the home.
    assert not (tmp_path / "home").exists()


@pytest.mark.slow
def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    image, out = str(ASSETS / "sunset.jpg"), str(tmp_path / "never.mp4")
    argv = [sys.executable, "-m", "nemovideo", "animate", image, "-o", out, "--sandbox",
            "--sandbox-option", "time_scale=1"]  # fmt: skip
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A shell's background job may inherit an ignored SIGINT: restore the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:  # generation takes minutes at time_scale=1
            if line.startswith("Generating"):
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "Interrupted."
    assert "Traceback" not in err
    assert not (tmp_path / "never.mp4").exists()


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["animate", "--help"], ["sandbox", "--help"], ["animate"],
     ["animate", "a.jpg", "b.jpg"], ["batch", "x", "--concurrency", "0"]],
)  # fmt: skip
def test_help_version_and_argument_errors_load_no_client(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from nemovideo.cli import main\n"
        f"code = main({argv!r})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'yarl', "
        "'multidict', 'asyncio', 'attrs') or m in ('nemovideo.client', 'nemovideo.sandbox'))\n"
        "assert not heavy, heavy\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "AssertionError" not in done.stderr, done.stderr
    assert done.returncode in (0, 2), done.stderr
