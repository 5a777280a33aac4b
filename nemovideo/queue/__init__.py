"""Queue workers on procrastinate (``pip install "nemovideo[queue]"``): a fleet that animates.

One job per image on a PostgreSQL queue (`procrastinate <https://procrastinate.readthedocs.io>`_),
any number of worker processes on any number of machines, one :class:`~nemovideo.NemoClient`
per process, and the flow ledger in the same database. A job carries an idempotency key (the
image's content hash, the prompt and the output); its worker runs
``client.animate(..., key=key)``, so a job delivered twice (a killed worker's job retried, a
duplicate enqueue) finds its flow in the ledger and finishes it, never paying twice.

- :func:`enqueue` adds one job per image that the queue does not know yet.
- :func:`run_worker` runs jobs until stopped (or until the queue is empty), re-delivering the
  jobs of workers whose heartbeat stopped (a SIGKILL, a lost machine).
- :data:`blueprint` holds the task for your own procrastinate app:
  ``app.add_tasks_from(nemovideo.queue.blueprint, namespace="nemovideo")``.

From the command line: ``nemovideo enqueue`` and ``nemovideo worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from nemovideo.client import NemoClient
from nemovideo.protocol.errors import ConfigurationError, NemoError

try:
    import procrastinate
    import psycopg
    from procrastinate import exceptions as procrastinate_errors
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise ImportError(
        f'nemovideo.queue needs the "queue" extra ({exc.name} is missing): '
        'pip install "nemovideo[queue]"'
    ) from exc

__all__ = [
    "QUEUE",
    "TASK",
    "EnqueueReport",
    "FlowStopped",
    "animate_image",
    "blueprint",
    "close_client",
    "enqueue",
    "ensure_schema",
    "job_key",
    "make_app",
    "run_worker",
    "use_client",
]

logger = logging.getLogger("nemovideo.queue")

#: The procrastinate queue the jobs go to.
QUEUE = "nemovideo"
#: The task's name in the queue (``animate`` in the ``nemovideo`` namespace).
TASK = "nemovideo:animate"
#: Attempts of a job whose flow stopped on a passing failure (an outage: it is resumable).
ATTEMPTS = 5
_SCHEMA_LOCK = 0x6E656D71  # "nemq": one process creates the queue's tables


class FlowStopped(Exception):
    """A job's flow stopped on something a later attempt may not meet (an outage, a deadline):
    procrastinate tries the job again, and ``animate(key=...)`` finishes the same flow."""


_RETRY = procrastinate.RetryStrategy(
    max_attempts=ATTEMPTS, exponential_wait=2, retry_exceptions={FlowStopped}
)


# -- the job ---------------------------------------------------------------------------------

_client: NemoClient | None = None
_owned = False
_reporter: Callable[[str, Any], None] | None = None


def use_client(client: NemoClient | None) -> None:
    """The client the jobs of this process run with (``None``: one from the ``NEMO_*``
    settings, made on first use)."""
    global _client, _owned
    _client, _owned = client, False


def _current_client() -> NemoClient:
    global _client, _owned
    if _client is None or _client.closed:
        _client, _owned = NemoClient(), True
    return _client


async def close_client() -> None:
    """Close the client this module made for its jobs (not one given to :func:`use_client`)."""
    global _client, _owned
    client, owned = _client, _owned
    _client, _owned = None, False
    if client is not None and owned:
        await client.close()


def job_key(
    image: str | os.PathLike[str], prompt: str | None, output: str | os.PathLike[str]
) -> str:
    """The idempotency key of one job: the image's content, the prompt and the output.

    The same image, prompt and destination always give the same key, whatever the image's
    name; another prompt or destination is other work.

    Raises:
        ConfigurationError: the image cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(image, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ConfigurationError(f"The image {image} cannot be read ({exc.strerror}).") from None
    digest.update(b"\0prompt\0" + (prompt or "").encode("utf-8", "surrogateescape"))
    digest.update(b"\0output\0" + os.fsencode(os.path.abspath(output)))
    return "nemo-job-" + digest.hexdigest()[:40]


async def animate_image(
    *,
    image: str,
    output: str,
    key: str,
    prompt: str | None = None,
    duration: float = 5,
    resolution: str = "1080p",
) -> dict[str, Any]:
    """The job: ``animate(image, prompt, output=output, key=key)`` on this process's client.

    A key the ledger knows never pays again: a re-delivered job finds its flow (finished, or
    interrupted by the killed worker) and finishes it.

    Raises:
        FlowStopped: the flow stopped on a passing failure and stays resumable (the job is
            tried again).
        NemoError: the flow failed for good (the job fails).
    """
    client = _current_client()
    try:
        video = await client.animate(
            image, prompt, output=output, key=key, duration=duration, resolution=resolution
        )
    except NemoError as exc:
        if exc.resumable:
            raise FlowStopped(f"{type(exc).__name__}: {exc.message}") from exc
        if _reporter is not None:
            _reporter("failed", {"image": image, "key": key, "error": type(exc).__name__})
        raise
    record = {"image": image, "path": str(video.path), "job_id": video.job_id, "key": key}
    if _reporter is not None:
        _reporter("done", record)
    return record


#: The task, for your own procrastinate app:
#: ``app.add_tasks_from(nemovideo.queue.blueprint, namespace="nemovideo")``.
blueprint = procrastinate.Blueprint()
blueprint.task(name="animate", queue=QUEUE, retry=_RETRY)(animate_image)


def make_app(url: str, *, pool_size: int = 4) -> procrastinate.App:
    """A procrastinate app on the queue at ``url`` with the ``nemovideo:animate`` task."""
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=max(2, pool_size))
    app = procrastinate.App(connector=connector)
    app.task(name=TASK, queue=QUEUE, retry=_RETRY)(animate_image)
    return app


async def ensure_schema(url: str) -> None:
    """Create procrastinate's tables in the database at ``url`` unless they exist (once, under
    an advisory lock, however many processes start at once).

    Raises:
        ConfigurationError: the database cannot be reached.
    """
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            row = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
            if row is not None and row[0] is not None:
                return
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                found = await conn.execute("SELECT to_regclass('procrastinate_jobs')")
                row = await found.fetchone()
                if row is None or row[0] is None:
                    schema = procrastinate.App(
                        connector=procrastinate.PsycopgConnector()
                    ).schema_manager.get_schema()
                    await conn.execute(schema)
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc


def _unreachable(url: str, exc: BaseException) -> ConfigurationError:
    from nemovideo.workflows.ledgers.base import redact_url

    first = (str(exc).strip().splitlines() or [""])[0]
    return ConfigurationError(
        f"The queue {redact_url(url)} cannot be used ({type(exc).__name__}: {first}). Check "
        "that PostgreSQL is up and the URL is right (--queue or NEMO_QUEUE)."
    )


# -- enqueueing ----------------------------------------------------------------------------


@attrs.frozen
class EnqueueReport:
    """What :func:`enqueue` did: ``new`` jobs added, ``known`` images the queue had already."""

    new: int
    known: int


async def enqueue(
    url: str,
    images: Iterable[str | os.PathLike[str]],
    *,
    output_dir: str | os.PathLike[str] = ".",
    prompt: str | None = None,
    duration: float = 5,
    resolution: str = "1080p",
) -> EnqueueReport:
    """Add one job per image that the queue does not know yet (by its idempotency key).

    The video of ``images[i]`` goes to ``output_dir/<its name>.mp4``. An image whose key has a
    job waiting, running or done is not added again; a failed job's image is.

    Raises:
        ConfigurationError: an image cannot be read, two images would write one file, or the
            queue cannot be reached.
    """
    jobs = await asyncio.to_thread(
        _jobs_for, images, Path(output_dir), prompt, duration, resolution
    )
    await ensure_schema(url)
    known = await _known_keys(url, list(jobs))
    app = make_app(url)
    new = 0
    try:
        async with app.open_async():
            task = app.tasks[TASK]
            for key, kwargs in jobs.items():
                if key in known:
                    continue
                try:
                    await task.configure(queueing_lock=key).defer_async(**kwargs)
                except procrastinate_errors.AlreadyEnqueued:
                    continue  # another enqueue added it a moment ago
                new += 1
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc
    return EnqueueReport(new=new, known=len(jobs) - new)


def _jobs_for(
    images: Iterable[str | os.PathLike[str]],
    output_dir: Path,
    prompt: str | None,
    duration: float,
    resolution: str,
) -> dict[str, dict[str, Any]]:
    """The job arguments of each image, by idempotency key (reads every image once)."""
    folder = output_dir.resolve()
    jobs: dict[str, dict[str, Any]] = {}
    outputs: dict[Path, str] = {}
    for image in images:
        path = Path(image).resolve()
        output = folder / f"{path.stem}.mp4"
        if output in outputs and outputs[output] != str(path):
            raise ConfigurationError(
                f"{outputs[output]} and {path} would both be saved as {output}: rename one."
            )
        outputs[output] = str(path)
        key = job_key(path, prompt, output)
        jobs[key] = {"image": str(path), "output": str(output), "key": key, "prompt": prompt,
                     "duration": duration, "resolution": resolution}  # fmt: skip
    return jobs


async def _known_keys(url: str, keys: list[str]) -> set[str]:
    """The keys with a job waiting, running or done (a failed or cancelled one may come back)."""
    if not keys:
        return set()
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT args->>'key' FROM procrastinate_jobs WHERE task_name = %s"
                " AND args->>'key' = ANY(%s) AND status IN ('todo', 'doing', 'succeeded')",
                (TASK, keys),
            )
            return {row[0] for row in await cursor.fetchall()}
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc


# -- the worker ----------------------------------------------------------------------------


async def _left(url: str) -> int:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s"
            " AND status IN ('todo', 'doing')",
            (QUEUE,),
        )
        row = await cursor.fetchone()
        return int(row[0]) if row else 0


async def _redeliver_stalled(app: procrastinate.App, stalled_after: float) -> int:
    """Put back the jobs of workers whose heartbeat stopped; how many."""
    stalled = await app.job_manager.get_stalled_jobs(
        queue=QUEUE, seconds_since_heartbeat=stalled_after
    )
    count = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except psycopg.Error:
            continue  # another worker put it back first
        logger.info("job %s of a stalled worker delivered again", job.id)
        count += 1
    return count


_WORKER_RESTARTS = 5


async def _work(
    app: procrastinate.App,
    url: str,
    options: dict[str, Any],
    until_empty: bool,
    stalled_after: float,
) -> int:
    """One run of procrastinate's worker loop, re-delivering stalled jobs meanwhile."""
    redelivered = 0
    worker = asyncio.ensure_future(app.run_worker_async(**options))
    try:
        while not worker.done():
            await asyncio.wait({worker}, timeout=min(1.0, stalled_after / 2))
            if worker.done():
                break
            redelivered += await _redeliver_stalled(app, stalled_after)
            if until_empty and await _left(url) == 0:
                break
    finally:
        if not worker.done():
            worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    return redelivered


async def run_worker(
    url: str,
    client: NemoClient,
    *,
    concurrency: int = 4,
    until_empty: bool = False,
    stalled_after: float = 30.0,
    report: Callable[[str, Any], None] | None = None,
) -> int:
    """Run ``nemovideo:animate`` jobs of the queue at ``url`` with ``client``, ``concurrency``
    at a time, until cancelled (or, with ``until_empty``, until no job waits or runs anywhere).

    Every ``stalled_after / 4`` seconds the worker beats its heartbeat; the jobs of a worker
    silent for ``stalled_after`` seconds (killed, or its machine lost) are delivered again,
    and their flows, whose leases lapse as well, are finished by whoever takes them.

    Returns the number of jobs re-delivered by this worker.

    A passing database error that stops procrastinate's loop starts it again (five times at
    most, with a growing wait).

    Raises:
        ConfigurationError: the queue cannot be reached.
        procrastinate.exceptions.ConnectorException: the database kept failing.
    """
    global _reporter
    if concurrency < 1 or not stalled_after > 0:
        raise ConfigurationError("concurrency must be at least 1 and stalled_after positive.")
    await ensure_schema(url)
    use_client(client)
    _reporter = report
    app = make_app(url, pool_size=concurrency + 3)
    redelivered = 0
    options = {
        "queues": [QUEUE],
        "concurrency": concurrency,
        "wait": True,
        "fetch_job_polling_interval": min(1.0, stalled_after / 2),
        "update_heartbeat_interval": stalled_after / 4,
        "stalled_worker_timeout": stalled_after,
        "install_signal_handlers": True,
        "delete_jobs": "never",
    }
    failures = 0
    try:
        while True:
            try:
                async with app.open_async():
                    redelivered += await _work(app, url, options, until_empty, stalled_after)
                return redelivered
            except procrastinate_errors.ConnectorException as exc:
                # A passing database error (a deadlock between workers, a dropped connection)
                # stops procrastinate's loop: start it again, a few times, rather than leave
                # the jobs to the stalled-worker timeout.
                failures += 1
                if failures > _WORKER_RESTARTS:
                    raise
                logger.warning("queue worker stopped on %s; starting it again", exc)
                await asyncio.sleep(min(5.0, 0.25 * 2**failures))
    except psycopg.Error as exc:
        raise _unreachable(url, exc) from exc
    finally:
        _reporter = None
        use_client(None)
