"""Queue workers on a real PostgreSQL queue: enqueue is idempotent, and a fleet of worker
processes that loses one to SIGKILL still makes every video once, paying once.

The sandbox runs in this test's process; the workers are separate processes (``python -m
nemovideo worker``), each with its own client, sharing the queue's database as their ledger.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nemovideo import Journal

from ..integration.test_animate import image, probe

TOKEN = "nmv_usr_fleet_test_token"
STALLED_AFTER = 2.0  # seconds: a killed worker's jobs come back, and its leases lapse


def _env(tmp_path: Path, sandbox_url: str) -> dict[str, str]:
    """A worker's environment: the sandbox, a registered token, and a home of its own."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "XDG_"))}
    return {
        **keep, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"), "NEMO_API_URL": sandbox_url, "NEMO_TOKEN": TOKEN,
    }  # fmt: skip


async def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nemovideo", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(child.communicate(), timeout)
    assert child.returncode is not None
    return child.returncode, out.decode(errors="replace")


def _pictures(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    source = image().read_bytes()
    paths = []
    for i in range(count):
        path = folder / f"img{i:02d}.jpg"
        path.write_bytes(source)
        paths.append(path)
    return paths


@pytest.mark.nemo_sandbox(tokens={TOKEN: "*"}, render_height=32, render_fps=5)
async def test_enqueue_adds_each_image_once(nemo_sandbox: Any, pg_url: str, tmp_path: Path) -> None:
    env = _env(tmp_path, nemo_sandbox.url)
    pictures = _pictures(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    args = ["--json", "enqueue", *map(str, pictures), "--queue", pg_url, "-o", str(out)]
    code, text = await _cli(env, *args)
    assert code == 0, text
    assert json.loads(text.strip().splitlines()[-1]) == {"new": 3, "known": 0}
    code, text = await _cli(env, *args)
    assert code == 0 and json.loads(text.strip().splitlines()[-1]) == {"new": 0, "known": 3}
    code, text = await _cli(env, *args[:-2], "--prompt", "waves", "-o", str(out))
    assert json.loads(text.strip().splitlines()[-1]) == {"new": 3, "known": 0}  # other work
    code, text = await _cli(env, "enqueue", str(pictures[0]), "--queue", "mysql://x")
    assert code != 0 and "postgresql://" in text


@pytest.mark.slow
@pytest.mark.nemo_sandbox(tokens={TOKEN: "*"}, render_height=32, render_fps=5)
async def test_three_workers_one_killed_make_every_video_once(
    nemo_sandbox: Any, pg_url: str, tmp_path: Path
) -> None:
    images = 60
    env = _env(tmp_path, nemo_sandbox.url)
    pictures = _pictures(tmp_path / "in", images)
    out = tmp_path / "out"
    out.mkdir()
    code, text = await _cli(
        env, "--json", "enqueue", *map(str, pictures), "--queue", pg_url, "-o", str(out),
        "--prompt", "waves roll in",
    )  # fmt: skip
    assert code == 0 and json.loads(text.strip().splitlines()[-1])["new"] == images, text
    worker_args = [
        "-m", "nemovideo", "--json", "worker", "--queue", pg_url, "--concurrency", "4",
        "--until-empty", "--stalled-after", str(STALLED_AFTER), "--poll-interval", "0.02",
        "--time-scale", str(nemo_sandbox.options.time_scale),
    ]  # fmt: skip
    logs = [open(tmp_path / f"worker{i}.log", "wb") for i in range(4)]  # noqa: SIM115
    started = time.monotonic()
    try:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable, *worker_args, env=env, stdout=logs[i], stderr=logs[i]
            )
            for i in range(3)
        ]
        # Kill one worker mid-run, with flows of its own in flight, and start a replacement.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while len(list(out.glob("*.mp4"))) < 12:
            assert loop.time() < deadline, "no progress"
            await asyncio.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)
        assert await workers[0].wait() == -signal.SIGKILL
        workers.append(
            await asyncio.create_subprocess_exec(
                sys.executable, *worker_args, env=env, stdout=logs[3], stderr=logs[3]
            )
        )
        codes = await asyncio.wait_for(asyncio.gather(*(w.wait() for w in workers[1:])), 300)
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        for log in logs:
            log.close()
    elapsed = time.monotonic() - started
    texts = [(tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(4)]
    assert codes == [0, 0, 0], texts
    print(f"\n60 images, 3 workers (one SIGKILLed and replaced): {elapsed:.1f} s")

    # 60 MP4s, each a real video; no partial file anywhere.
    for picture in pictures:
        assert probe(out / f"{picture.stem}.mp4")[0] == "h264"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{p.stem}.mp4" for p in pictures)
    # Each image paid once: one chat delivery, no duplicate, one completed render.
    image_of = {s.session_id: s.media[0].filename for s in nemo_sandbox.sessions if s.media}
    delivered = collections.Counter(image_of[d.session_id] for d in nemo_sandbox.chat_deliveries)
    assert delivered == dict.fromkeys((p.name for p in pictures), 1)
    assert nemo_sandbox.duplicate_deliveries() == []
    now = nemo_sandbox.clock.now()
    completed = collections.Counter(
        image_of[job.session_id]
        for job in nemo_sandbox.core.render_jobs.values()
        if job.payload(now)["status"] == "completed"
    )
    assert completed == dict.fromkeys((p.name for p in pictures), 1)
    ledger = Journal(pg_url)
    assert ledger.pending() == []
    assert sorted(f.state for f in ledger.flows()).count("done") == images
    ledger.close()
