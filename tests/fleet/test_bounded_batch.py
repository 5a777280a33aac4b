"""Bounded batches: any iterable or async iterable, N workers, results as they finish.

The flow itself is replaced by a stub here (the real one is covered by
tests/integration/test_batch.py): these tests are about how items are read, not about videos.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import nemovideo.workflows.batch as batch_module
from nemovideo import AnimateItem, ConfigurationError, NemoClient, NemoError
from nemovideo.workflows.results import Video


class _Stub:
    """Stands for ``animate``: counts flows in flight; an image named "bad" fails."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.started: list[Any] = []

    async def __call__(self, client: Any, image: Any, prompt: Any = None, **kw: Any) -> Video:
        self.started.append(image)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.001 * (hash(str(image)) % 5))
            if image == "bad":
                raise NemoError("refused")
            return Video(size=1, session_id="s", task_id="t", job_id="j", data=b"x")
        finally:
            self.running -= 1


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> _Stub:
    flow = _Stub()
    monkeypatch.setattr(batch_module, "animate", flow)
    return flow


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[NemoClient]:
    # No request is made: the balance read fails fast (nothing listens) and is best effort.
    async with NemoClient(
        "http://127.0.0.1:9", token="nmv_usr_test", journal_path=None,
        client_id_path=tmp_path / "cid", retry=__import__("nemovideo").RetryPolicy.never(),
    ) as made:  # fmt: skip
        yield made


async def test_a_generator_is_read_as_workers_free_up(stub: _Stub, client: NemoClient) -> None:
    read = 0
    ahead = 0
    seen: list[int] = []

    def images() -> Iterator[str]:
        nonlocal read, ahead
        for i in range(1000):
            read += 1
            ahead = max(ahead, read - len(seen))
            yield f"img{i}.jpg"

    batch = client.animate_many(images(), concurrency=3)
    with pytest.raises(TypeError, match="no length"):
        len(batch)
    async for result in batch:
        assert result.ok
        seen.append(result.index)
    assert sorted(seen) == list(range(1000))
    # Items read but not yet handed over: those in flight, the results waiting, one more.
    assert ahead <= 3 + 3 + 1, ahead
    assert stub.most == 3
    assert batch.summary.done == 1000 and batch.summary.failed == 0


async def test_an_async_iterable_and_errors_per_item(stub: _Stub, client: NemoClient) -> None:
    async def arrive() -> AsyncIterator[Any]:
        for name in ["a.jpg", "bad", AnimateItem("c.jpg", "waves")]:
            await asyncio.sleep(0.001)
            yield name

    batch = client.animate_many(arrive(), concurrency=8)
    results = [r async for r in batch]
    assert sorted((r.index, r.ok) for r in results) == [(0, True), (1, False), (2, True)]
    assert (batch.summary.done, batch.summary.failed) == (2, 1)
    assert next(r for r in results if r.index == 2).item.prompt == "waves"


async def test_a_list_keeps_its_length_and_names(
    stub: _Stub, client: NemoClient, tmp_path: Path
) -> None:
    batch = client.animate_many(["x/sun.jpg", "y/sea.png"], output_dir=tmp_path)
    assert len(batch) == 2
    outputs = sorted([str(r.item.output) async for r in batch])
    assert outputs == [str(tmp_path / "0000-sun.mp4"), str(tmp_path / "0001-sea.mp4")]


async def test_an_iterator_that_fails_stops_the_batch_loudly(
    stub: _Stub, client: NemoClient
) -> None:
    def broken() -> Iterator[str]:
        yield "a.jpg"
        raise OSError("the folder went away")

    with pytest.raises(OSError, match="went away"):
        async for _ in client.animate_many(broken(), concurrency=2):
            pass
    assert stub.running == 0


async def test_stopping_early_cancels_the_rest(stub: _Stub, client: NemoClient) -> None:
    batch = client.animate_many((f"{i}.jpg" for i in range(10_000)), concurrency=4)
    async for _ in batch:
        break
    await asyncio.sleep(0.01)
    assert stub.running == 0 and len(stub.started) < 20


def test_a_single_path_is_not_a_batch(client: NemoClient) -> None:
    with pytest.raises(ConfigurationError, match="iterable"):
        client.animate_many("photo.jpg")  # type: ignore[arg-type]
