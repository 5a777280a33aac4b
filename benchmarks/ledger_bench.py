"""The fleet's figures: the ledger at scale, a bounded batch's memory, workers side by side.

Run from the repository root (needs the ``queue`` extra and PostgreSQL's binaries, which the
tests' throwaway cluster uses; see ``tests/pgcluster.py``)::

    python benchmarks/ledger_bench.py            # everything, a few minutes on 2 cores
    python benchmarks/ledger_bench.py --quick    # smaller sizes, about a minute

1. Ledger claim and ``pending()`` with 100k flows in the ledger, against the same with 1k (50
   of them open either way), on SQLite and on PostgreSQL, measured in turns (200 rounds): the
   ratio should stay within 2x, since both read an index of open flows only and a claim
   touches one row.
2. ``animate_many`` over 100k items: the peak RSS growth of the process (target: under
   64 MiB). The flow is a stub here (no sandbox, no network): this measures the batch's own
   bookkeeping, which is what grows with the number of items.
3. Flows per second with 1, 2 and 4 ``nemovideo worker`` processes on one PostgreSQL queue
   against one sandbox (in this process, small renders, a fast clock), side by side.

The cluster runs with ``fsync=off`` (its data is thrown away), so the PostgreSQL figures are
those of the server's work, not of the disk; SQLite's are with its usual ``synchronous=FULL``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (str(HERE), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from harness import peak_rss_tracker, run_in_child  # noqa: E402

from nemovideo import Journal  # noqa: E402

OPEN_FLOWS = 50


# -- 1. the ledger at 1k and 100k flows -------------------------------------------------------


def _fill_sqlite(path: Path, total: int) -> None:
    Journal(path).pending()  # the schema
    now = time.time()
    rows = [
        (uuid.uuid4().hex, "done" if i >= OPEN_FLOWS else "resumable",
         "done" if i >= OPEN_FLOWS else "chat_sent", '{"image": "/x.jpg", "chat_sent": true}',
         None, "http://api", None, None, now + i * 1e-6, now)
        for i in range(total)
    ]  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO flows VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


def _fill_postgres(url: str, total: int) -> None:
    import psycopg

    Journal(url).pending()  # the schema
    now = time.time()
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY nemovideo_flows (flow_id, state, step, fields, server, created, updated)"
            " FROM STDIN"
        ) as copy:
            for i in range(total):
                open_ = i < OPEN_FLOWS
                copy.write_row((uuid.uuid4().hex, "resumable" if open_ else "done",
                                "chat_sent" if open_ else "done", '{"image": "/x.jpg"}',
                                "http://api", now + i * 1e-6, now))  # fmt: skip
        conn.execute("ANALYZE nemovideo_flows")


def _measure_ledgers(targets: dict[int, str | Path], rounds: int) -> dict[int, dict[str, float]]:
    """Median seconds of ``pending()`` and of one claim at each size, measured in turns (one
    size, then the other, ``rounds`` times) so that a busy moment of the machine hits both."""
    books = {size: Journal(target) for size, target in targets.items()}
    opened = {size: [f.flow_id for f in book.pending()] for size, book in books.items()}
    times: dict[int, dict[str, list[float]]] = {s: {"pending": [], "claim": []} for s in books}
    for turn in range(rounds):
        for size, book in books.items():
            start = time.perf_counter()
            found = book.pending()
            times[size]["pending"].append(time.perf_counter() - start)
            assert len(found) == OPEN_FLOWS, len(found)
            flow = opened[size][turn % OPEN_FLOWS]
            start = time.perf_counter()
            assert book.claim(flow)
            times[size]["claim"].append(time.perf_counter() - start)
            book.release(flow)  # untimed: open again for a later turn
    for book in books.values():
        book.close()
    return {s: {op: statistics.median(v) for op, v in ops.items()} for s, ops in times.items()}


def ledger_figures(small: int, large: int, pg: Any, rounds: int = 200) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nemovideo-ledger-bench-") as tmp:
        for backend in ("sqlite", "postgres"):
            targets: dict[int, str | Path] = {}
            for size in (small, large):
                if backend == "sqlite":
                    targets[size] = Path(tmp) / f"ledger-{size}.db"
                    _fill_sqlite(Path(targets[size]), size)
                else:
                    targets[size] = pg.new_database()
                    _fill_postgres(str(targets[size]), size)
            measured = _measure_ledgers(targets, rounds)
            for op in ("claim", "pending"):
                a, b = measured[small][op], measured[large][op]
                rows.append({"backend": backend, "op": op, f"{small}": a * 1e3,
                             f"{large}": b * 1e3, "ratio": b / a})  # fmt: skip
    return rows


# -- 2. a bounded batch's memory --------------------------------------------------------------


def _batch_child(pipe: Connection, items: int) -> None:
    """In a fresh interpreter: 100k items through animate_many with a stub flow."""
    import nemovideo.workflows.batch as batch_module
    from nemovideo import NemoClient, RetryPolicy
    from nemovideo.workflows.results import Video

    async def stub(client: Any, image: Any, prompt: Any = None, **kw: Any) -> Video:
        await asyncio.sleep(0)
        return Video(size=1, session_id="s", task_id="t", job_id="j", path=Path(str(image)))

    batch_module.animate = stub  # type: ignore[assignment]

    async def main() -> tuple[float, int, float]:
        async with NemoClient(
            "http://127.0.0.1:9", token="nmv_usr_bench", journal_path=None,
            client_id_path=Path(tempfile.gettempdir()) / "nemovideo-bench-cid",
            retry=RetryPolicy.never(),
        ) as client:  # fmt: skip
            growth = peak_rss_tracker()
            start = time.perf_counter()
            done = 0
            images = (f"/photos/{i:06d}.jpg" for i in range(items))
            async for result in client.animate_many(images, concurrency=16):
                done += result.ok
            return growth(), done, time.perf_counter() - start

    pipe.send(asyncio.run(main()))


def batch_figures(items: int) -> dict[str, Any]:
    growth, done, seconds = run_in_child(_batch_child, items, timeout=600)
    assert done == items
    return {"items": items, "peak_rss_growth_mib": growth, "seconds": seconds}


# -- 3. workers side by side -----------------------------------------------------------------

TOKEN = "nmv_usr_ledger_bench"


async def _workers_run(pg: Any, processes: int, images: int, folder: Path) -> float:
    from nemovideo.sandbox import Sandbox

    pictures = folder / "in"
    out = folder / "out"
    pictures.mkdir(parents=True)
    out.mkdir()
    source = (ROOT / "examples" / "assets" / "sunset.jpg").read_bytes()
    for i in range(images):
        (pictures / f"img{i:03d}.jpg").write_bytes(source)
    url = pg.new_database()
    async with Sandbox(time_scale=0.001, render_height=32, render_fps=5, seed=0,
                       tokens={TOKEN: "*"}) as sb:  # fmt: skip
        home = folder / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "XDG_"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"),
                   XDG_STATE_HOME=str(home / "state"), NEMO_API_URL=sb.url, NEMO_TOKEN=TOKEN,
                   PYTHONPATH=str(ROOT))  # fmt: skip
        enq = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "nemovideo", "-q", "enqueue", *map(str, pictures.iterdir()),
            "--queue", url, "-o", str(out), env=env, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await enq.wait() == 0
        start = time.perf_counter()
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "nemovideo",
                "-q",
                "worker",
                "--queue",
                url,
                "--concurrency",
                "4",
                "--until-empty",
                "--poll-interval",
                "0.02",
                "--time-scale",
                "0.001",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
            )
            for _ in range(processes)
        ]
        codes = await asyncio.gather(*(w.wait() for w in workers))
        seconds = time.perf_counter() - start
    assert codes == [0] * processes, codes
    assert len(list(out.glob("*.mp4"))) == images
    return images / seconds


def worker_figures(pg: Any, images: int) -> dict[int, float]:
    rates = {}
    with tempfile.TemporaryDirectory(prefix="nemovideo-workers-bench-") as tmp:
        for processes in (1, 2, 4):
            rates[processes] = asyncio.run(
                _workers_run(pg, processes, images, Path(tmp) / str(processes))
            )
    return rates


# -- the report ------------------------------------------------------------------------------


def main(argv: list[str] | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k instead of 100k; fewer flows")
    parser.add_argument("--json", metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    from tests.pgcluster import PgCluster, why_unavailable

    reason = why_unavailable()
    if reason is not None:
        raise SystemExit(f"ledger_bench needs PostgreSQL: {reason}")
    large = 10_000 if args.quick else 100_000
    small = 1_000
    pg = PgCluster()
    pg.start()
    try:
        ledger = ledger_figures(small, large, pg)
        log(f"\nLedger, {OPEN_FLOWS} open flows among {small:,} and {large:,} (median ms):")
        log(f"  {'backend':9} {'op':8} {small:>10,} {large:>10,}  ratio (target < 2)")
        for row in ledger:
            log(f"  {row['backend']:9} {row['op']:8} {row[str(small)]:10.3f} "
                f"{row[str(large)]:10.3f}  {row['ratio']:.2f}")  # fmt: skip
        batch = batch_figures(large)
        growth = batch["peak_rss_growth_mib"]
        log(f"\nanimate_many over {large:,} items (stub flow, no sandbox): peak RSS growth "
            f"{growth:.1f} MiB (target < 64), {batch['seconds']:.1f} s")  # fmt: skip
        images = 12 if args.quick else 24
        rates = worker_figures(pg, images)
        log(f"\n`nemovideo worker` processes (4 jobs each), {images} images, one sandbox:")
        log("  " + "   ".join(f"{n} worker(s): {r:.2f} flows/s" for n, r in rates.items()))
        log(f"  speed-up 2/1 = {rates[2] / rates[1]:.2f}x, 4/1 = {rates[4] / rates[1]:.2f}x "
            f"(on {os.cpu_count()} CPU(s), shared with the sandbox's renderer)")  # fmt: skip
    finally:
        pg.stop()
    figures = {"ledger": ledger, "batch": batch, "workers_flows_per_second": rates,
               "quick": args.quick}  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return figures


if __name__ == "__main__":
    main()
    shutil.rmtree(Path(tempfile.gettempdir()) / "nemovideo-bench-cid", ignore_errors=True)
