"""Every example runs, against the sandbox, as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import pytest
from aiohttp.test_utils import TestClient, TestServer

from nemovideo import NemoClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and example files
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=240,
        check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def h264_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        return float(container.duration or 0) / 1_000_000


def bare_home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An environment whose home is an empty folder, with no XDG or NEMO variables: whatever
    the run writes "in the home" lands there, where the test can see it."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "NEMO_"))}
    env["HOME"] = str(home)
    return home, env


@pytest.mark.slow
def test_quickstart(tmp_path: Path) -> None:
    out = tmp_path / "q.mp4"
    home, env = bare_home(tmp_path)
    stdout = run(str(EXAMPLES / "quickstart.py"), str(EXAMPLES / "assets" / "sunset.jpg"),
                 "-o", str(out), "--sandbox", cwd=tmp_path, env=env)  # fmt: skip
    assert "saved" in stdout
    assert h264_seconds(out) == pytest.approx(5.0, abs=0.3)
    # A line when the stage or its message changes, not one per report.
    lines = stdout.splitlines()
    assert len(lines) == len(set(lines))
    assert sum(line.strip().startswith("generating") for line in lines) <= 3
    # A sandbox run writes no journal and no client id in the home.
    assert list(home.rglob("*")) == []


@pytest.mark.slow
def test_batch_folder(tmp_path: Path) -> None:
    home, env = bare_home(tmp_path)
    stdout = run(str(EXAMPLES / "batch_folder.py"), str(EXAMPLES / "assets"), str(tmp_path / "o"),
                 "--sandbox", cwd=tmp_path, env=env)  # fmt: skip
    assert list(home.rglob("*")) == []
    assert "2 done, 0 failed" in stdout
    assert len(list((tmp_path / "o").glob("*.mp4"))) == 2


async def test_web_app_streams_progress_and_serves_the_video(tmp_path: Path) -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import web_app
    finally:
        sys.path.remove(str(EXAMPLES))
    from nemovideo import NemoClient
    from nemovideo.sandbox import Sandbox

    sandbox = Sandbox(time_scale=0.001, render_height=64, seed=2)
    async with sandbox:
        client = NemoClient(base_url=sandbox.url, client_id_path=tmp_path / "cid",
                            journal_path=None, poll_interval=0.02, max_polls=1000,
                            time_scale=sandbox.options.time_scale)  # fmt: skip
        http = TestClient(TestServer(web_app.make_app(client, tmp_path)))
        async with client, http:
            page = await http.get("/")
            assert "<form" in await page.text()
            with (EXAMPLES / "assets" / "sunset.jpg").open("rb") as image:
                answer = await http.post("/animate", data={"image": image, "prompt": "waves"})
                text = await answer.text()
            assert answer.headers["Content-Type"].startswith("text/event-stream")
            assert "event: progress" in text
            done = [line for line in text.splitlines() if line.startswith('data: {"url"')]
            assert done, text[-500:]
            url = done[0].split('"url": "')[1].split('"')[0]
            video = await http.get(url)
            assert video.status == 200
            assert (await video.read())[4:8] == b"ftyp"


@pytest.mark.slow
def test_notebook_runs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXAMPLES)}})  # fmt: skip
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert html
    assert "<video" in html[0]["data"]["text/html"]


def test_the_session_never_uses_the_real_home(isolated_home: Path) -> None:
    from nemovideo.transport.config import default_client_id_path, default_journal_path

    from ..conftest import REAL_HOME

    assert Path.home() == isolated_home != REAL_HOME
    for path in (default_journal_path(os.environ), default_client_id_path(os.environ)):
        assert path.is_relative_to(isolated_home), path


def test_the_plugin_client_keeps_its_files_in_tmp(nemo_client: NemoClient, tmp_path: Path) -> None:
    config = nemo_client.config
    assert config.journal_path is not None and config.journal_path.is_relative_to(tmp_path)
    assert config.client_id_path.is_relative_to(tmp_path)
