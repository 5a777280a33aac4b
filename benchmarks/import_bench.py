"""P8: the cost of ``import nemovideo`` over ``import aiohttp``, each in a fresh interpreter.

The two commands alternate, so a slower moment of the machine hits both; each is run through
``python -c`` exactly as a user would, and the figure is the difference of the medians.
"""

from __future__ import annotations

import subprocess
import sys
import time

from harness import Result, interleave

__all__ = ["run_import_benchmark"]

_BOUND_MS = 30.0


def _time_import(module: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)  # noqa: S603
    return time.perf_counter() - started


def run_import_benchmark(quick: bool) -> Result:
    """P8: median wall time of ``python -c "import nemovideo"`` minus that of aiohttp."""
    rounds = 5 if quick else 10
    timings = interleave(
        {
            "nemovideo": lambda: _time_import("nemovideo"),
            "aiohttp": lambda: _time_import("aiohttp"),
        },
        rounds=rounds,
    )
    ours, theirs = timings["nemovideo"].median, timings["aiohttp"].median
    difference = (ours - theirs) * 1000
    return Result(
        key="P8",
        workload=f'python -c "import nemovideo", median of {rounds}',
        figure=difference,
        unit="ms",
        target="<= 30 ms over aiohttp",
        passed=difference <= _BOUND_MS,
        details={
            "nemovideo_median_ms": ours * 1000,
            "aiohttp_median_ms": theirs * 1000,
            "nemovideo_samples_s": timings["nemovideo"].samples,
            "aiohttp_samples_s": timings["aiohttp"].samples,
        },
        note=f"import nemovideo {ours * 1000:.0f} ms, import aiohttp {theirs * 1000:.0f} ms",
    )
