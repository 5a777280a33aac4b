"""P4: the SSE decoder alone, against splitting the same bytes into lines in pure Python.

The baseline is the least a line reader can do: carry the unfinished line over to the next
chunk and ``split(b"\\n")``. The decoder does that and more (CR/CRLF, fields, UTF-8, event
objects); the figure is its throughput as a share of the split's.

ADK's stream is nothing but one-line ``data:`` events, which the decoder takes in bulk. The
same comparison on a stream of general events (``id:``, ``event:``, two ``data:`` lines and a
comment each, CRLF line ends) runs the decoder's line-by-line path; it is reported beside the
figure, so a change to that path shows its cost in the same run.
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


def _general_stream(megabytes: int) -> tuple[bytes, int]:
    """About ``megabytes`` MB of events that the bulk path cannot take; and the count."""
    events = []
    for index in range(2_000):
        events.append(
            f": keep-alive {index}\r\nid: evt-{index:08d}\r\nevent: progress\r\n"
            f'data: {{"step": {index}, "of": 2000}}\r\ndata: {"x" * 80}\r\n\r\n'
        )
    unit = "".join(events).encode()
    copies = max(1, round(megabytes * 1_000_000 / len(unit)))
    return unit * copies, 2_000 * copies


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


def _split(chunks: list[bytes], expected: int, per_event: int = 2) -> float:
    started = time.perf_counter()
    rest = b""
    count = 0
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        count += len(lines)
    took = time.perf_counter() - started
    if count != per_event * expected:  # ADK: a data line and a blank line per event
        raise RuntimeError(f"P4: the split gave {count} lines, expected {per_event * expected}")
    return took


def run_decoder_benchmark(quick: bool) -> Result:
    """P4: MB/s of :class:`SSEDecoder` and of the plain split, on the same chunks."""
    data, events = _stream(5 if quick else 50)
    chunks = _chunks(data)
    megabytes = len(data) / 1e6
    general, general_events = _general_stream(2 if quick else 20)
    general_chunks = _chunks(general)
    general_mb = len(general) / 1e6
    timings = interleave(
        {
            "decoder": lambda: _decode(chunks, events),
            "split": lambda: _split(chunks, events),
            "general": lambda: _decode(general_chunks, general_events),
            "general_split": lambda: _split(general_chunks, general_events, per_event=6),
        },
        rounds=3 if quick else 5,
    )
    decoder_mbs = megabytes / timings["decoder"].median
    split_mbs = megabytes / timings["split"].median
    share = decoder_mbs / split_mbs
    general_mbs = general_mb / timings["general"].median
    general_share = general_mbs / (general_mb / timings["general_split"].median)
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
            "general_megabytes": general_mb,
            "general_events": general_events,
            "general_decoder_mb_s": general_mbs,
            "general_share_of_split": general_share,
            "general_samples_s": timings["general"].samples,
            "general_split_samples_s": timings["general_split"].samples,
        },
        note=(
            f"decoder {decoder_mbs:.0f} MB/s, plain split {split_mbs:.0f} MB/s; general events "
            f"(id, event, two data lines, a comment) {general_mbs:.0f} MB/s, "
            f"{general_share:.2f} of their split"
        ),
    )
