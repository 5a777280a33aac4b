"""What the benchmarks share: interleaved timing, results and targets, the table, child processes.

A figure is always a ratio of medians against a baseline measured in the same run, on the same
machine, interleaved with it (SDK, baseline, baseline, SDK, ...), so a machine that is slower or
noisier than usual moves both sides together.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import statistics
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = [
    "TOKEN",
    "Child",
    "Result",
    "Timing",
    "cpu_count",
    "format_markdown",
    "format_table",
    "interleave",
    "interleave_async",
    "peak_rss_tracker",
    "run_in_child",
    "spawn",
    "turns",
]

#: The bearer token every benchmark client sends (a loopback server, never a real account).
TOKEN = "nmv_usr_benchmark"

_SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Timing:
    """The samples of one side of a comparison, in seconds (or any unit, as long as both agree)."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """The median sample (``nan`` when there is none)."""
        return statistics.median(self.samples) if self.samples else float("nan")


@dataclass
class Result:
    """One row of the table: a figure, the bound it must meet, and the numbers behind it.

    Attributes:
        key: ``P1`` ... ``P10``.
        workload: what was measured, in a few words.
        figure: the headline number (a ratio; milliseconds for P8, KiB per flow for P9).
        unit: how to read ``figure`` (``"x"`` for a ratio, ``"ms"``).
        target: the bound, e.g. ``"<= 1.10"``.
        passed: whether every bound of the row was met.
        details: the medians, sizes and side figures behind ``figure``, for the JSON file.
        note: one line shown under the table (an explanation, a miss's cause).
    """

    key: str
    workload: str
    figure: float
    unit: str
    target: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        """The row as plain JSON values."""
        return asdict(self)


def turns(names: Sequence[str], rounds: int, warmup: int = 0) -> Iterator[tuple[str, bool]]:
    """Each side's turn, alternating the order every round (A, B, B, A, ...).

    Yields ``(name, counted)``: ``counted`` is False during the ``warmup`` rounds, whose
    results are discarded.
    """
    for index in range(warmup + rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            yield name, index >= warmup


def interleave(
    sides: dict[str, Callable[[], float]], rounds: int, warmup: int = 1
) -> dict[str, Timing]:
    """Run each side ``rounds`` times, alternating their order each round; return the samples.

    Each callable returns its own measurement (elapsed seconds, MB/s ...), so it can leave
    set-up out of the figure. ``warmup`` rounds run first and are discarded.
    """
    timings = {name: Timing() for name in sides}
    for name, counted in turns(list(sides), rounds, warmup):
        value = sides[name]()
        if counted:
            timings[name].samples.append(value)
    return timings


async def interleave_async(
    sides: dict[str, Callable[[], Awaitable[float]]], rounds: int, warmup: int = 1
) -> dict[str, Timing]:
    """:func:`interleave` for coroutines, in the running event loop."""
    timings = {name: Timing() for name in sides}
    for name, counted in turns(list(sides), rounds, warmup):
        value = await sides[name]()
        if counted:
            timings[name].samples.append(value)
    return timings


def _figure(result: Result, digits: int) -> str:
    if math.isnan(result.figure):
        return "error"
    if result.unit == "x":
        return f"{result.figure:.{digits}f}x"
    return f"{result.figure:.{digits - 2}f} {result.unit}"


def format_table(results: list[Result]) -> str:
    """The results as a fixed-width text table, with notes beneath."""
    header = ("#", "workload", "figure", "target", "ok")
    rows = [
        (
            r.key,
            r.workload,
            _figure(r, 3),
            r.target,
            "ERROR" if "error" in r.details else "yes" if r.passed else "MISS",
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(header), line(tuple("-" * w for w in widths))]
    out += [line(row) for row in rows]
    notes = [f"{r.key}: {r.note}" for r in results if r.note]
    if notes:
        out += ["", *notes]
    return "\n".join(out)


def format_markdown(results: list[Result]) -> str:
    """The results as a Markdown table (for docs/performance.md), notes as a list beneath."""
    out = ["| # | workload | figure | target | met |", "|---|---|---|---|---|"]
    for r in results:
        figure = _figure(r, 2)
        out.append(
            f"| {r.key} | {r.workload} | {figure} | {r.target} | {'yes' if r.passed else 'no'} |"
        )
    notes = [f"- {r.key}: {r.note}" for r in results if r.note]
    return "\n".join(out + (["", *notes] if notes else []))


# -- child processes ---------------------------------------------------------------------------


class Child:
    """A spawned process that sends one message when ready and serves until told to stop.

    The target is called as ``target(pipe, *args)``; it must send one message (its address, or
    a result) and, if it serves, wait for any message from the pipe before returning.
    """

    def __init__(self, process: BaseProcess, pipe: Connection, first: Any) -> None:
        self.process = process
        self.pipe = pipe
        self.first = first

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to finish, then wait for it (killing it if it does not)."""
        with contextlib.suppress(OSError):  # the child already went away
            self.pipe.send("stop")
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.pipe.close()


def spawn(target: Callable[..., None], *args: Any, timeout: float = 120.0) -> Child:
    """Start ``target`` in a fresh interpreter and wait for its first message.

    Raises:
        RuntimeError: the child died or said nothing within ``timeout`` seconds.
    """
    parent, child_end = _SPAWN.Pipe()
    process = _SPAWN.Process(target=target, args=(child_end, *args), daemon=True)
    process.start()
    child_end.close()
    if not parent.poll(timeout):
        process.kill()
        raise RuntimeError(f"{target.__name__} said nothing within {timeout:g} s")
    try:
        first = parent.recv()
    except EOFError:
        process.join(5)
        raise RuntimeError(
            f"{target.__name__} exited with status {process.exitcode} before answering"
        ) from None
    return Child(process, parent, first)


def run_in_child(target: Callable[..., None], *args: Any, timeout: float = 120.0) -> Any:
    """Run ``target(pipe, *args)`` in a fresh interpreter; return the one message it sends."""
    child = spawn(target, *args, timeout=timeout)
    child.stop()
    return child.first


# -- memory ------------------------------------------------------------------------------------


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} missing from /proc/self/status")


def peak_rss_tracker() -> Callable[[], float]:
    """Start measuring; the returned function gives the peak RSS growth since then, in MiB.

    Linux keeps the peak (``VmHWM``) exactly and lets a process reset it (``clear_refs``), so
    an earlier peak, from the imports, cannot hide or inflate the workload's own.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        exact = True
    except OSError:  # not Linux, or not allowed: the lifetime peak overstates, never hides
        exact = False
    before = _status_kib("VmRSS")

    def growth() -> float:
        peak = _status_kib("VmHWM") if exact else _lifetime_peak_kib()
        return max(0, peak - before) / 1024

    return growth


def _lifetime_peak_kib() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
