"""The benchmarks' quick mode as a pytest test: ``pytest -m benchmark benchmarks``.

Excluded from the default run (``-m 'not benchmark'``). It checks that every benchmark runs
and reports a finite figure, not the targets: small sizes on a shared machine are too noisy
to judge, so only the full ``python benchmarks/run.py`` holds the SDK to its targets.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from harness import peak_rss_tracker
from run import ALL_KEYS, main

pytestmark = pytest.mark.benchmark


def test_quick_run_reports_every_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--json", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["mode"] == "quick"
    rows = {row["key"]: row for row in document["results"]}
    assert sorted(rows) == sorted(ALL_KEYS)
    for row in rows.values():
        assert math.isfinite(row["figure"]), row


def test_peak_rss_tracker_sees_an_allocation() -> None:
    growth = peak_rss_tracker()
    block = bytearray(48 * 1024 * 1024)  # touched pages count, so write them all
    block[:] = b"\x01" * len(block)
    assert growth() >= 40
    del block
