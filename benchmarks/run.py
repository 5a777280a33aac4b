"""Performance benchmarks of the nemovideo SDK: what it costs next to bare aiohttp.

Run from the repository root::

    python benchmarks/run.py            # full sizes, about 2 minutes on 2 cores
    python benchmarks/run.py --quick    # small sizes, well under a minute (CI)

Prints a table and writes ``benchmarks/results/latest.json``. Every figure is a ratio of
medians against a baseline measured in the same run (P8: a difference of medians). The full
run exits with status 1 when a target is missed (``--no-fail`` reports only); ``--quick``
never fails on targets, since small sizes on shared machines are noisy. A benchmark that
breaks (an exception, not a slow figure) fails either mode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script or imported by the pytest wrapper
    sys.path.insert(0, str(HERE))

from harness import Result, cpu_count, format_markdown, format_table, spawn  # noqa: E402

__all__ = ["ALL_KEYS", "main", "run_all"]

#: Every benchmark, in the order they run.
ALL_KEYS = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11")
_DEFAULT_JSON = HERE / "results" / "latest.json"


def _with_local_server(quick: bool, keys: set[str]) -> list[Result]:
    from local_server import serve_in_child

    wanted = keys & {"P1", "P2", "P3", "P5", "P6"}
    if not wanted:
        return []
    events = 10_000 if quick else 100_000
    server = spawn(serve_in_child, (events,) if "P3" in wanted else ())
    url = str(server.first)
    results: list[Result] = []
    try:
        if wanted & {"P1", "P2", "P3"}:
            from requests_bench import run_requests_benchmarks

            results += run_requests_benchmarks(url, quick)
        if wanted & {"P5", "P6"}:
            from transfer_bench import run_transfer_benchmarks

            results += run_transfer_benchmarks(url, quick)
    finally:
        server.stop()
    return [r for r in results if r.key in keys]


def _decoder(quick: bool) -> list[Result]:
    from decoder_bench import run_decoder_benchmark

    return [run_decoder_benchmark(quick)]


def _flows(quick: bool) -> list[Result]:
    from flows_bench import run_flows_benchmark

    return [run_flows_benchmark(quick)]


def _in_flight(quick: bool) -> list[Result]:
    from inflight_bench import run_inflight_benchmark

    return [run_inflight_benchmark(quick)]


def _resume(quick: bool) -> list[Result]:
    from inflight_bench import run_resume_benchmark

    return [run_resume_benchmark(quick)]


def _imports(quick: bool) -> list[Result]:
    from import_bench import run_import_benchmark

    return [run_import_benchmark(quick)]


def _cli(quick: bool) -> list[Result]:
    from import_bench import run_cli_benchmark

    return [run_cli_benchmark(quick)]


def run_all(
    quick: bool, keys: Sequence[str] = ALL_KEYS, log: Callable[[str], None] = print
) -> list[Result]:
    """Run the chosen benchmarks; return their rows in ``ALL_KEYS`` order."""
    chosen = set(keys)
    results: list[Result] = []
    steps: list[tuple[set[str], Callable[[], list[Result]]]] = [
        ({"P1", "P2", "P3", "P5", "P6"}, lambda: _with_local_server(quick, chosen)),
        ({"P4"}, lambda: _decoder(quick)),
        ({"P7"}, lambda: _flows(quick)),
        ({"P9"}, lambda: _in_flight(quick)),
        ({"P10"}, lambda: _resume(quick)),
        ({"P8"}, lambda: _imports(quick)),
        ({"P11"}, lambda: _cli(quick)),
    ]
    for covers, step in steps:
        wanted = sorted(covers & chosen, key=ALL_KEYS.index)
        if not wanted:
            continue
        started = time.perf_counter()
        try:
            rows = step()
        except Exception as exc:
            # One broken benchmark must not hide the others' figures; it still fails the run.
            traceback.print_exc()
            rows = [_error_row(key, exc) for key in wanted]
        log(f"  {', '.join(wanted)} done in {time.perf_counter() - started:.1f} s")
        results += rows
    return sorted(results, key=lambda r: ALL_KEYS.index(r.key))


def _error_row(key: str, exc: Exception) -> Result:
    return Result(
        key=key,
        workload="(did not run to the end)",
        figure=float("nan"),
        unit="x",
        target="-",
        passed=False,
        details={"error": f"{type(exc).__name__}: {exc}"},
        note=f"error: {type(exc).__name__}: {str(exc)[:200]}",
    )


def _machine() -> dict[str, object]:
    return {
        "cpus": cpu_count(),
        # Other work on the machine moves every figure; the load at the start says how much.
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.machine(),
    }


def _write_json(path: Path, results: list[Result], quick: bool, seconds: float) -> None:
    import aiohttp

    import nemovideo

    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "seconds": round(seconds, 1),
        "machine": _machine(),
        "versions": {"nemovideo": nemovideo.__version__, "aiohttp": aiohttp.__version__},
        "passed": all(r.passed for r in results),
        "results": [r.as_json() for r in results],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Measure what the nemovideo SDK costs next to bare aiohttp.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (CI); never fails on targets"
    )
    parser.add_argument(
        "--no-fail", action="store_true", help="exit 0 even when a target is missed"
    )
    parser.add_argument(
        "--only",
        default=",".join(ALL_KEYS),
        help="comma-separated benchmarks to run, e.g. P1,P4 (default: all)",
    )
    parser.add_argument(
        "--markdown", action="store_true", help="also print the table as Markdown (for the docs)"
    )
    parser.add_argument(
        "--json", type=Path, default=_DEFAULT_JSON, help=f"where to write results ({_DEFAULT_JSON})"
    )
    args = parser.parse_args(argv)
    keys = [k.strip().upper() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ALL_KEYS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ALL_KEYS)}"
        )
    args.keys = keys
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table, write the JSON; the exit status follows the rules above."""
    args = _parse(argv)
    machine = _machine()
    mode = "quick" if args.quick else "full"
    print(
        f"nemovideo benchmarks ({mode}): {machine['cpus']} CPUs, "
        f"Python {machine['python']}, {machine['platform']}",
        flush=True,
    )
    started = time.perf_counter()
    results = run_all(args.quick, args.keys, log=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - started
    print()
    print(format_table(results))
    if args.markdown:
        print()
        print(format_markdown(results))
    print(f"\n{len(results)} benchmarks in {seconds:.0f} s; results in {args.json}")
    _write_json(args.json, results, args.quick, seconds)
    broken = [r.key for r in results if "error" in r.details]
    if broken:
        print(f"Benchmarks that broke: {', '.join(broken)}", file=sys.stderr)
        return 1
    missed = [r.key for r in results if not r.passed]
    if missed and not args.quick and not args.no_fail:
        print(f"Missed targets: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
