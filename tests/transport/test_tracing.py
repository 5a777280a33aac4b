"""OpenTelemetry's aiohttp instrumentation sees every request of the SDK: one span each, and no
token in any span."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nemovideo import NemoClient
from nemovideo.sandbox import Sandbox

aiohttp_client = pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")
trace_sdk = pytest.importorskip("opentelemetry.sdk.trace")
export = pytest.importorskip("opentelemetry.sdk.trace.export")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")


async def test_one_span_per_request_against_the_sandbox(
    nemo_sandbox: Sandbox, nemo_client_factory: Callable[..., NemoClient]
) -> None:
    exporter = in_memory.InMemorySpanExporter()
    provider = trace_sdk.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    instrumentor = aiohttp_client.AioHttpClientInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = nemo_client_factory()  # its session opens after instrument(): it is traced
        session = await client.session.create()
        await client.credits.get()
        await client.state.get(session.session_id)
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    requests = nemo_sandbox.requests  # token, session, credits, state
    assert len(requests) == 4
    assert len(spans) == len(requests)
    # The attribute's name depends on the semantic conventions' version.
    methods = [
        (s.attributes or {}).get("http.request.method", (s.attributes or {}).get("http.method"))
        for s in spans
    ]
    assert sorted(str(m) for m in methods) == sorted(r.method for r in requests)
    token = client._transport.credentials.current
    assert token and not any(token in str(dict(s.attributes or {})) for s in spans)
