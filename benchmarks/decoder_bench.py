"""P4: the SSE decoder alone, against splitting the same bytes into lines in pure Python.

The baseline is the least a line reader can do: carry the unfinished line over to the next
chunk and ``split(b"\\n")``. The decoder does that and more (CR/CRLF, fields, UTF-8, event
objects); the figure is its throughput as a share of the split's.
"""

from __future__ import annotations

import time

from harness import Result, interleave
from local_server import sse_body

from nemovideo.protocol.sse import SSEDecoder

__all__ = ["run_decoder_benchmark"]

_CHUNK = 64 * 1024


def _stream(megabytes: int) -> tuple[bytes, int]:
    """About ``megabytes`` MB of ADK events (a 10,000-event body repeated); and the count."""
    unit = sse_body(10_000)
    copies = max(1, round(megabytes * 1_000_000 / len(unit)))
    return unit * copies, 10_000 * copies


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)]


def _decode(chunks: list[bytes], expected: int) -> float:
    started = time.perf_counter()
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks:
        count += len(decoder.feed(chunk))
    decoder.close()
    took = time.perf_counter() - started
    if count != expected:
        raise RuntimeError(f"P4: the decoder gave {count} events, expected {expected}")
    return took


def _split(chunks: list[bytes], expected: int) -> float:
    started = time.perf_counter()
    rest = b""
    count = 0
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        count += len(lines)
    took = time.perf_counter() - started
    if count != 2 * expected:  # a data line and a blank line per event
        raise RuntimeError(f"P4: the split gave {count} lines, expected {2 * expected}")
    return took


def run_decoder_benchmark(quick: bool) -> Result:
    """P4: MB/s of :class:`SSEDecoder` and of the plain split, on the same chunks."""
    data, events = _stream(5 if quick else 50)
    chunks = _chunks(data)
    megabytes = len(data) / 1e6
    timings = interleave(
        {"decoder": lambda: _decode(chunks, events), "split": lambda: _split(chunks, events)},
        rounds=3 if quick else 5,
    )
    decoder_mbs = megabytes / timings["decoder"].median
    split_mbs = megabytes / timings["split"].median
    share = decoder_mbs / split_mbs
    return Result(
        key="P4",
        workload=f"SSEDecoder, {megabytes:.0f} MB in 64 KiB chunks",
        figure=share,
        unit="x",
        target=">= 0.50 of split",
        passed=share >= 0.5,
        details={
            "megabytes": megabytes,
            "events": events,
            "decoder_mb_s": decoder_mbs,
            "split_mb_s": split_mbs,
            "decoder_samples_s": timings["decoder"].samples,
            "split_samples_s": timings["split"].samples,
        },
        note=f"decoder {decoder_mbs:.0f} MB/s, plain split {split_mbs:.0f} MB/s",
    )
