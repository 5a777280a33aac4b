"""P8: the cost of ``from nemovideo import NemoClient`` over ``import aiohttp``, fresh interpreters.

What a program that makes requests pays at start-up: the client, its transport and models, on
top of aiohttp (which the SDK needs anyway). The two commands alternate, so a slower moment of
the machine hits both; each runs through ``python -c`` exactly as a user would, and the figure
is the difference of the medians.

Both sides run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed), so the first,
discarded round writes the ``.pyc`` files an installed package has: a shell with that variable
set would otherwise measure the compiler on every run. Each
``nemovideo`` run also reports the import's own time, measured inside the interpreter after
``import aiohttp`` (no process start-up in it): a steadier view of the same cost.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from harness import Result, interleave

__all__ = ["run_cli_benchmark", "run_import_benchmark"]

_BOUND_MS = 30.0

_CLIENT = "from nemovideo import NemoClient"
_AIOHTTP = "import aiohttp"
# The same import, timed inside the interpreter after aiohttp's; printed in milliseconds.
_IN_PROCESS = (
    "import time, aiohttp\n"
    "started = time.perf_counter()\n"
    "from nemovideo import NemoClient\n"
    "print((time.perf_counter() - started) * 1000)\n"
)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_import_benchmark(quick: bool) -> Result:
    """P8: median wall time of ``python -c "from nemovideo import NemoClient"`` minus aiohttp's."""
    rounds = 5 if quick else 10
    in_process: list[float] = []
    env = _environment()

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)  # noqa: S603
        return time.perf_counter() - started

    def client_side() -> float:
        took = run(_CLIENT)
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-c", _IN_PROCESS], check=True, env=env, capture_output=True, text=True
        )
        in_process.append(float(done.stdout))
        return took

    timings = interleave({"client": client_side, "aiohttp": lambda: run(_AIOHTTP)}, rounds)
    del in_process[:1]  # the warm-up round's, which filled the bytecode cache
    ours, theirs = timings["client"].median, timings["aiohttp"].median
    difference = (ours - theirs) * 1000
    inside = statistics.median(in_process)
    return Result(
        key="P8",
        workload=f'python -c "{_CLIENT}", median of {rounds}',
        figure=difference,
        unit="ms",
        target="<= 30 ms over aiohttp",
        passed=difference <= _BOUND_MS,
        details={
            "client_median_ms": ours * 1000,
            "aiohttp_median_ms": theirs * 1000,
            "in_process_median_ms": inside,
            "client_samples_s": timings["client"].samples,
            "aiohttp_samples_s": timings["aiohttp"].samples,
            "in_process_samples_ms": in_process,
        },
        note=(
            f"{_CLIENT} {ours * 1000:.0f} ms, import aiohttp {theirs * 1000:.0f} ms; "
            f"timed inside the interpreter, after aiohttp: {inside:.0f} ms"
        ),
    )


_CLI_BOUND_MS = 50.0
#: The command line's answers that need no service: help, version, and an argument error.
_CLI_ARGS: tuple[tuple[str, ...], ...] = (("--help",), ("--version",), ("animate",))


def run_cli_benchmark(quick: bool) -> Result:
    """P11: median wall time of ``python -m nemovideo --help`` (and ``--version``, and an
    argument error) minus a bare ``python -c pass``, fresh interpreters, alternating."""
    rounds = 5 if quick else 10
    env = _environment()

    def run(argv: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603
        return time.perf_counter() - started

    commands = {
        " ".join(args): (lambda args=args: run([sys.executable, "-m", "nemovideo", *args]))
        for args in _CLI_ARGS
    }
    timings = interleave({**commands, "pass": lambda: run([sys.executable, "-c", "pass"])}, rounds)
    bare = timings["pass"].median
    over = {name: (timings[name].median - bare) * 1000 for name in commands}
    worst = max(over.values())
    return Result(
        key="P11",
        workload=f"python -m nemovideo --help / --version / a bad argument, median of {rounds}",
        figure=worst,
        unit="ms",
        target="<= 50 ms over python -c pass",
        passed=worst <= _CLI_BOUND_MS,
        details={"bare_median_ms": bare * 1000, "over_ms": over},
        note=", ".join(f"{name} +{ms:.0f} ms" for name, ms in over.items())
        + f" (python -c pass {bare * 1000:.0f} ms)",
    )
