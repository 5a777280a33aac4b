"""P5, P6: a 200 MB upload and a 200 MB download, the SDK against bare aiohttp streaming.

Every measurement runs in a fresh interpreter, so its peak memory is its own: the child
imports everything, opens its client, resets the kernel's peak-RSS mark, then transfers the
file and reports its throughput and how far its resident memory ever rose above the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from harness import TOKEN, Result, peak_rss_tracker, run_in_child, turns

from nemovideo import NemoClient
from nemovideo.protocol.models import RenderJob, RenderStatus

__all__ = ["make_upload_file", "run_transfer_benchmarks"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SID = "4879088202122200706"
_RSS_BOUND_MIB = 32.0


def make_upload_file(folder: Path, size: int) -> Path:
    """A ``size``-byte file that passes the SDK's type check (PNG magic, then filler)."""
    path = folder / "big.png"
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        fh.write(_PNG_MAGIC + bytes(56))
        left = size - 64
        while left > 0:
            piece = block[: min(left, len(block))]
            fh.write(piece)
            left -= len(piece)
    return path


async def _upload(side: str, url: str, path: Path, size: int) -> tuple[float, float, float]:
    async with NemoClient(url, token=TOKEN, journal_path=None, upload_limit=size) as client:
        headers = {"Authorization": f"Bearer {TOKEN}", **client.config.attribution.headers()}
        async with aiohttp.ClientSession() as http:
            growth = peak_rss_tracker()
            started, cpu = time.perf_counter(), time.process_time()
            if side == "sdk":
                await client.upload.files(_SID, path)
            else:
                form = aiohttp.FormData()
                with open(path, "rb") as fh:  # noqa: ASYNC230 - aiohttp reads it in a thread
                    form.add_field("files", fh, filename=path.name, content_type="image/png")
                    target = f"{url}/api/upload-video/nemo_agent/me/{_SID}"
                    async with http.post(target, data=form, headers=headers) as response:
                        await response.json()
            took = time.perf_counter() - started
            return size / took / 1e6, growth(), time.process_time() - cpu


async def _download(side: str, url: str, size: int, dest: Path) -> tuple[float, float, float]:
    source = f"{url}/renders/{size}.mp4"
    async with (
        NemoClient(url, token=TOKEN, journal_path=None) as client,
        aiohttp.ClientSession() as http,
    ):
        growth = peak_rss_tracker()
        started, cpu = time.perf_counter(), time.process_time()
        if side == "sdk":
            job = RenderJob(id="render_1", status=RenderStatus.COMPLETED, url=source, size=size)
            await client.render.download(job, dest)
        else:
            # The same durable write the SDK makes (a temporary file, fsync, rename, fsync of
            # the folder), so that the ratio compares the transfers, not the durability.
            temp = dest.with_name(f".{dest.name}.part")
            async with http.get(source) as response:
                response.raise_for_status()
                with open(temp, "wb") as fh:  # noqa: ASYNC230 - the page cache, not a disk wait
                    async for chunk in response.content.iter_chunked(1 << 20):
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(temp, dest)
            folder = os.open(dest.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        took = time.perf_counter() - started
        return size / took / 1e6, growth(), time.process_time() - cpu


def _measure(pipe: Connection, kind: str, side: str, url: str, arg: Any, folder: str) -> None:
    """Child process: one transfer; sends (MB/s, peak RSS growth in MiB, CPU seconds)."""
    if kind == "upload":
        path = Path(arg)
        pipe.send(asyncio.run(_upload(side, url, path, path.stat().st_size)))
    else:
        dest = Path(folder) / f"{side}.mp4"
        measured = asyncio.run(_download(side, url, int(arg), dest))
        written = dest.stat().st_size
        dest.unlink()
        if written != int(arg):
            raise RuntimeError(f"P6 {side}: wrote {written} of {arg} bytes")
        pipe.send(measured)
    with contextlib.suppress(EOFError):
        pipe.recv()


def _row(key: str, workload: str, samples: dict[str, list[tuple[float, float, float]]]) -> Result:
    speed = {side: statistics.median(s[0] for s in values) for side, values in samples.items()}
    peak = {side: max(s[1] for s in values) for side, values in samples.items()}
    cpu = {side: statistics.median(s[2] for s in values) for side, values in samples.items()}
    ratio = speed["sdk"] / speed["bare"]
    passed = ratio >= 0.9 and peak["sdk"] <= _RSS_BOUND_MIB
    return Result(
        key=key,
        workload=workload,
        figure=ratio,
        unit="x",
        target=">= 0.90, RSS <= 32 MiB",
        passed=passed,
        details={
            "sdk_mb_s": speed["sdk"],
            "bare_mb_s": speed["bare"],
            "sdk_cpu_s": cpu["sdk"],
            "bare_cpu_s": cpu["bare"],
            "sdk_peak_rss_growth_mib": peak["sdk"],
            "bare_peak_rss_growth_mib": peak["bare"],
            "sdk_samples": samples["sdk"],
            "bare_samples": samples["bare"],
        },
        note=(
            f"SDK {speed['sdk']:.0f} MB/s vs bare {speed['bare']:.0f} MB/s; peak RSS growth "
            f"SDK {peak['sdk']:.1f} MiB, bare {peak['bare']:.1f} MiB"
        ),
    )


def _interleaved(kind: str, url: str, arg: Any, folder: str, rounds: int) -> dict[str, Any]:
    samples: dict[str, list[tuple[float, float, float]]] = {"sdk": [], "bare": []}
    for side, _ in turns(("sdk", "bare"), rounds):
        samples[side].append(run_in_child(_measure, kind, side, url, arg, folder))
    return samples


def run_transfer_benchmarks(url: str, quick: bool) -> list[Result]:
    """P5 and P6 against the local server at ``url``, each measurement in its own process."""
    megabytes = 20 if quick else 200
    size = megabytes * 1_000_000
    rounds = 2 if quick else 9
    with tempfile.TemporaryDirectory(prefix="nemovideo-bench-") as folder:
        path = make_upload_file(Path(folder), size)
        uploads = _interleaved("upload", url, str(path), folder, rounds)
        path.unlink()
        downloads = _interleaved("download", url, size, folder, rounds)
    return [
        _row("P5", f"upload of a {megabytes} MB file", uploads),
        _row("P6", f"download of a {megabytes} MB render", downloads),
    ]
