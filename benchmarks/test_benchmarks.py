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
import run
from harness import Result, format_markdown, format_table, peak_rss_tracker, turns
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


def test_a_broken_benchmark_is_reported_and_fails_even_the_quick_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(quick: bool) -> list[Result]:
        raise RuntimeError("the decoder benchmark broke")

    monkeypatch.setattr(run, "_decoder", broken)
    rows = run.run_all(True, ["P4"], log=lambda line: None)
    assert [r.key for r in rows] == ["P4"]
    assert not rows[0].passed
    assert "the decoder benchmark broke" in rows[0].details["error"]
    assert "ERROR" in format_table(rows)
    assert "| P4 | (did not run to the end) | error |" in format_markdown(rows)
    assert main(["--quick", "--only", "P4", "--json", str(tmp_path / "out.json")]) == 1


def test_turns_alternate_the_order_and_mark_the_warmup() -> None:
    assert list(turns(("a", "b"), rounds=2, warmup=1)) == [
        ("a", False),
        ("b", False),
        ("b", True),
        ("a", True),
        ("a", True),
        ("b", True),
    ]
