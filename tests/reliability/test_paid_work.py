"""Paid work is never lost and never paid twice: one test per way it used to be.

After the chat message (about 100 credits) no ordinary failure may end a flow for good or pay
again: it stays resumable, the error says how, and ``resume`` finishes it with exactly one
chat delivery. Before the message, everything that can be checked is checked.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import (
    APITimeoutError,
    ConfigurationError,
    Journal,
    NemoClient,
    NemoError,
    RetryPolicy,
    ServerError,
    StorageError,
    Timeouts,
)
from nemovideo.sandbox import FaultRule
from nemovideo.workflows.generation import wait_for_draft

from ..integration.test_animate import image, probe

Factory = Callable[..., NemoClient]

# Tests that take the ``ledger`` fixture (tests/conftest.py) run twice: on an SQLite file and on
# a real PostgreSQL database; ``make_sandbox_client`` then gives every client that ledger.


def starts(sandbox: Any) -> list[Any]:
    """Render start requests that reached the handler and were answered 200."""
    return [r for r in sandbox.requests if r.route == "render_start" and r.status == 200]


async def until(check: Callable[[], object], within: float = 30.0) -> None:
    """Wait until ``check()`` is true (a bounded poll of the sandbox's logs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


async def interrupt_mid_render(client: NemoClient, sandbox: Any, **kw: Any) -> None:
    """Start a flow and cancel it once its render has started: a paid, resumable flow."""
    task = asyncio.ensure_future(client.animate(image(), **kw))
    await until(lambda: starts(sandbox))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# 1. A journal that cannot commit stops the flow before the step -------------------------

DISK_FULL_CHILD = textwrap.dedent(
    """
    import asyncio, json, os, resource, signal, sys
    from nemovideo import NemoClient, NemoError

    async def main() -> None:
        url, cid, journal, out, img, frames = sys.argv[1:7]
        async with NemoClient(url, client_id_path=cid, journal_path=journal, poll_interval=0.02,
                              max_polls=5000, time_scale=0.001, journal_lease=0.3) as client:
            book = client.journal
            book.record("warm-up", "failed")  # create the database before the limit
            wal = os.path.getsize(str(book.path) + "-wal")
            limit = wal + int(frames) * 4120
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
            try:
                await client.animate(img, output=out)
                outcome = {"done": True}
            except NemoError as exc:
                outcome = {"error": type(exc).__name__, "resumable": exc.resumable,
                           "flow": exc.flow_id, "message": exc.message}
        print(json.dumps(outcome), flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.slow
@pytest.mark.nemo_sandbox(initial_credits=10_000, render_height=32, render_fps=5)
async def test_a_full_disk_at_any_step_never_pays_twice(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    # The file-size limit stands for a disk that fills up: at each level a different commit
    # (or the video itself) is the first write that does not fit.
    outcomes = []
    for frames in range(1, 8):
        folder = tmp_path / f"level{frames}"
        folder.mkdir()
        journal, out = folder / "journal.db", folder / "out.mp4"
        before = len(nemo_sandbox.chat_deliveries)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", DISK_FULL_CHILD, nemo_sandbox.url, str(folder / "cid"),
            str(journal), str(out), str(image()), str(frames), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, _ = await asyncio.wait_for(child.communicate(), 60)
        outcome = json.loads(stdout.decode().strip().splitlines()[-1])
        outcomes.append(outcome)
        paid = len(nemo_sandbox.chat_deliveries) - before
        if "error" in outcome:
            assert outcome["error"] in ("StorageError", "APIConnectionError"), outcome
            assert outcome["resumable"] is (paid == 1), outcome
            assert "resume" in outcome["message"] or paid == 0, outcome
        await asyncio.sleep(0.4)  # a flow whose last commit did not fit: its lease lapses
        client = make_sandbox_client(client_id_path=folder / "cid", journal_path=journal)
        results = await client.resume()
        assert all(r.ok for r in results), results
        if not out.exists():
            # Stopped before its message (a commit before it failed): nothing was paid, the
            # flow ended, and running it again is the fix.
            assert paid == 0 and not outcome.get("resumable"), outcome
            await client.animate(image(), output=out)
        assert len(nemo_sandbox.chat_deliveries) - before == 1, (frames, outcome)
        assert out.exists() and probe(out)[0] == "h264"
        assert Journal(journal).pending() == []
    assert any("error" in o for o in outcomes)


async def test_a_failed_commit_before_the_message_sends_nothing(
    nemo_sandbox: Any, make_sandbox_client: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_sandbox_client()
    book = client.journal
    assert book is not None
    real = Journal.record

    def full(self: Journal, flow_id: str, step: str, **fields: Any) -> None:
        if step == "chat_sent":
            raise StorageError("The journal could not record a step (disk full).")
        real(self, flow_id, step, **fields)

    monkeypatch.setattr(Journal, "record", full)
    with pytest.raises(StorageError) as caught:
        await client.animate(image())
    assert nemo_sandbox.chat_deliveries == []
    assert not caught.value.resumable  # nothing was paid: the flow ends
    monkeypatch.setattr(Journal, "record", real)
    assert [f.state for f in book.flows()] == ["failed"]


# 2. and 13. Outages during resume leave the flow resumable, never "not found" ---------------


async def _paid_then_stopped(client: NemoClient, sandbox: Any, out: Path) -> None:
    """A flow that paid for its message and then lost the render to an outage."""
    sandbox.faults.add(FaultRule(route="render_start", kind="http_error", status=503, times=1))
    with pytest.raises(ServerError) as caught:
        await client.animate(image(), output=out)
    assert caught.value.resumable and caught.value.flow_id
    assert "resume" in str(caught.value)


async def test_a_5xx_on_render_start_after_payment_is_resumable(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path, ledger: object
) -> None:
    client = make_sandbox_client()
    out = tmp_path / "out.mp4"
    await _paid_then_stopped(client, nemo_sandbox, out)
    assert client.journal is not None
    (flow,) = client.journal.pending()
    assert flow.state == "resumable" and flow.paid and flow.get("job_id")
    results = await client.resume()
    assert [r.ok for r in results] == [True]
    assert len(nemo_sandbox.chat_deliveries) == 1
    assert len(starts(nemo_sandbox)) == 1
    assert probe(out)[0] == "h264"


async def test_resume_during_an_outage_keeps_the_flow_and_finishes_after(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    client = make_sandbox_client()
    out = tmp_path / "out.mp4"
    await _paid_then_stopped(client, nemo_sandbox, out)
    # The service is down for everything resume needs, longer than its retries.
    for route in ("render_status", "render_start", "state"):
        nemo_sandbox.faults.add(FaultRule(route=route, kind="http_error", status=503))
    results = await client.resume()
    assert len(results) == 1 and not results[0].ok
    assert results[0].error is not None and results[0].error.resumable
    assert client.journal is not None
    assert [f.state for f in client.journal.pending()] == ["resumable"]
    nemo_sandbox.faults.clear()
    results = await client.resume()
    assert [r.ok for r in results] == [True]
    assert len(nemo_sandbox.chat_deliveries) == 1
    assert len(starts(nemo_sandbox)) == 1
    assert out.exists()


async def test_503s_on_render_status_are_not_read_as_a_missing_job(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    client = make_sandbox_client()
    out = tmp_path / "out.mp4"
    await interrupt_mid_render(client, nemo_sandbox, output=out)
    nemo_sandbox.faults.add(FaultRule(route="render_status", kind="http_error", times=3))
    results = await client.resume()
    assert [r.ok for r in results] == [True]
    assert len(starts(nemo_sandbox)) == 1  # the job was followed, never started again


# 3. The destination is checked before anything is paid -----------------------------------


async def test_a_bad_destination_is_refused_before_any_request(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    client = make_sandbox_client()
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(image().read_bytes())
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        cases: list[tuple[Any, type[Exception], str]] = [
            (tmp_path / "missing" / "out.mp4", ConfigurationError, "does not exist"),
            (picture, ConfigurationError, "input image"),
        ]
        if os.geteuid() != 0:  # root may write anywhere
            cases.append((locked / "out.mp4", StorageError, "Cannot write"))
        for output, kind, words in cases:
            with pytest.raises(kind, match=words):
                await client.animate(picture, output=output)
        existing = tmp_path / "taken.mp4"
        existing.write_bytes(b"keep me")
        with pytest.raises(ConfigurationError, match="overwrite=True"):
            await client.animate(picture, output=existing)
        assert existing.read_bytes() == b"keep me"
        assert nemo_sandbox.requests == []
    finally:
        locked.chmod(0o700)
    assert picture.read_bytes() == image().read_bytes()


async def test_a_folder_as_output_names_the_file_after_the_image(
    make_sandbox_client: Factory, tmp_path: Path
) -> None:
    video = await make_sandbox_client().animate(image(), output=tmp_path)
    assert video.path == tmp_path / f"{image().stem}.mp4"


# 4. Generation recovery follows the documented times, not the render's poll interval ------


async def test_generation_recovery_ignores_the_render_poll_interval(
    nemo_sandbox: Any, make_sandbox_client: Factory
) -> None:
    client = make_sandbox_client(poll_interval=10)  # the configuration guide's own example
    session = await client.session.create()
    await client.upload.files(session.session_id, image())
    await client.chat.send(session.session_id, "animate this image")
    # 30 s, then 60 s polls, at the sandbox's clock: well under a second here; with the old
    # rule (one, then two poll intervals) this waited 10 s before its first look.
    state = await asyncio.wait_for(wait_for_draft(client, session.session_id), 5)
    assert state.draft.is_exportable


# 5. Two resumers, or a resumer beside the live run, never take one flow ---------------------


@pytest.mark.nemo_sandbox(initial_credits=10_000, render_height=32, render_fps=5)
async def test_two_resumers_at_once_finish_each_flow_once(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path, ledger: object
) -> None:
    first = make_sandbox_client()
    outs = [tmp_path / f"out{i}.mp4" for i in range(4)]
    tasks = [asyncio.ensure_future(first.animate(image(), output=o)) for o in outs]
    await until(lambda: len(nemo_sandbox.chat_deliveries) >= 4)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Two clients, two Journal objects on one file: two owners, as two processes would be.
    a, b = make_sandbox_client(), make_sandbox_client()
    got_a, got_b = await asyncio.gather(a.resume(), b.resume())
    finished = [r for r in [*got_a, *got_b] if r.ok]
    assert len(finished) == 4
    assert {r.item.output for r in finished} == set(outs)
    assert len(nemo_sandbox.chat_deliveries) == 4
    assert len(starts(nemo_sandbox)) <= 4 + 0  # a render per flow at most, never two
    assert nemo_sandbox.duplicate_deliveries() == []


async def test_a_resume_beside_a_live_run_leaves_its_flow_alone(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path, ledger: object
) -> None:
    live = make_sandbox_client()
    out = tmp_path / "out.mp4"
    task = asyncio.ensure_future(live.animate(image(), output=out))
    await until(lambda: nemo_sandbox.chat_deliveries)
    other = make_sandbox_client()
    assert await other.resume() == []  # the live run holds its flow
    video = await task
    assert video.path == out
    assert len(starts(nemo_sandbox)) == 1


# 6 and 16. An old journal's cut-off, glued, foreign and deep lines ---------------------------


def test_an_old_journal_with_broken_lines_is_imported_whole(tmp_path: Path) -> None:
    old = tmp_path / "journal.jsonl"
    deep = "[" * 5000 + "]" * 5000
    old.write_text(
        '{"flow": "a", "step": "started", "image": "/x.jpg"}\n'
        '{"flow": "a", "step": "session", "session_id": "s1", "ta'  # cut by a crash ...
        '{"flow": "b", "step": "started", "image": "/y.jpg"}\n'  # ... and the next append
        '{"flow": "b", "step": "chat_sent", "chat_sent": true, "session_id": "s2"}\n'
        "[1, 2, 3]\n"
        '"a string"\n'
        f'{{"flow": "c", "step": "started", "deep": {deep}}}\n'
        '{"flow": 7, "step": "started"}\n'
        '{"flow": "d", "step": "done"}\n',
        encoding="utf-8",
    )
    book = Journal(old)
    assert book.path == tmp_path / "journal.db"
    by_id = {f.flow_id: f for f in book.flows()}
    assert set(by_id) >= {"a", "b", "d"}
    assert by_id["b"].paid and by_id["b"].get("session_id") == "s2"
    assert by_id["d"].finished and not by_id["a"].finished
    assert Journal(old).flows() == book.flows()  # imported once, not twice


# 7 and 14. Every render id is recorded before its start; a re-submission too --------------


async def test_a_resubmitted_render_is_recorded_before_it_starts(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_sandbox_client()
    nemo_sandbox.faults.add(FaultRule(route="render_start", kind="render_fail", times=1))
    seen: list[str | None] = []
    real_start = client.render.start

    async def start(session_id: str, draft: Any, **kw: Any) -> Any:
        assert client.journal is not None
        (flow,) = client.journal.flows()
        seen.append(flow.get("job_id"))  # what the journal says at the moment of the request
        assert flow.get("job_id") == kw["job_id"]
        return await real_start(session_id, draft, **kw)

    monkeypatch.setattr(client.render, "start", start)
    video = await client.animate(image(), output=tmp_path / "out.mp4")
    assert len(seen) == 2 and seen[0] != seen[1] and video.job_id == seen[1]
    assert all(s and s.startswith("render_") for s in seen)


def test_render_ids_carry_entropy() -> None:
    from nemovideo.resources.render import new_job_id

    ids = {new_job_id() for _ in range(1000)}
    assert len(ids) == 1000  # the same millisecond never gives the same id


# 8. A flow kept in memory is saved somewhere when it is resumed ------------------------------


async def test_resume_saves_an_in_memory_flow_beside_the_journal(
    nemo_sandbox: Any, make_sandbox_client: Factory
) -> None:
    client = make_sandbox_client()
    await interrupt_mid_render(client, nemo_sandbox)
    (result,) = await client.resume()
    assert result.video is not None and result.video.path is not None
    assert client.journal is not None
    assert result.video.path.parent == client.journal.path.parent / "videos"
    assert probe(result.video.path)[0] == "h264"


# 9. close() while flows run: paid flows stay resumable, nothing hangs ----------------------


@pytest.mark.nemo_sandbox(initial_credits=10_000)
async def test_close_while_flows_run_keeps_them_resumable(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path, ledger: object
) -> None:
    client = make_sandbox_client()
    tasks = [
        asyncio.ensure_future(client.animate(image(), output=tmp_path / f"o{i}.mp4"))
        for i in range(3)
    ]
    await until(lambda: len(nemo_sandbox.chat_deliveries) >= 3)
    await asyncio.wait_for(client.close(), 10)
    await asyncio.gather(*tasks, return_exceptions=True)
    book = Journal(client.config.journal_path)  # type: ignore[arg-type]
    assert sorted(f.state for f in book.flows()) == ["resumable"] * 3
    assert all(f.get("reason") == "closed" for f in book.flows())
    again = make_sandbox_client()
    results = await again.resume()
    assert sum(r.ok for r in results) == 3
    assert len(nemo_sandbox.chat_deliveries) == 3


# 10. Unusable settings are refused when the client is made ---------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"poll_interval": 0},
        {"poll_interval": -1},
        {"poll_interval": math.nan},
        {"max_polls": 0},
        {"max_body_bytes": 10},
        {"upload_limit": 0},
        {"time_scale": math.inf},
        {"journal_lease": 0},
        {"timeouts": "fast"},
    ],
)
def test_unusable_settings_are_refused_at_construction(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises((ConfigurationError, TypeError)):
        NemoClient("http://127.0.0.1:1", token="t", client_id_path=tmp_path / "c", **settings)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RetryPolicy(max_retries=-1),
        lambda: RetryPolicy(backoff_initial=math.nan),
        lambda: Timeouts(request=math.nan),
        lambda: Timeouts(connect=0),
    ],
)
def test_unusable_policies_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError):
        make()


# 11. A render still running at the poll budget stays resumable ----------------------------


@pytest.mark.nemo_sandbox(time_scale=0.01)
async def test_a_render_past_the_poll_budget_is_resumable(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    client = make_sandbox_client(max_polls=1)
    out = tmp_path / "out.mp4"
    with pytest.raises(APITimeoutError) as caught:
        await client.animate(image(), output=out)
    assert caught.value.resumable
    patient = make_sandbox_client(max_polls=5000)
    results = await patient.resume()
    assert [r.ok for r in results] == [True]
    assert len(starts(nemo_sandbox)) == 1 and len(nemo_sandbox.chat_deliveries) == 1


# 12. A client id that cannot be kept is said before any request ---------------------------


async def test_an_unwritable_client_id_file_fails_before_paying(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    client = make_sandbox_client(client_id_path=blocker / "client_id")
    with pytest.raises(StorageError, match="NEMO_CLIENT_ID"):
        await client.animate(image())
    assert nemo_sandbox.chat_deliveries == []


# 15. resume(journal) records into that journal ---------------------------------------------


async def test_resume_records_into_the_journal_it_was_given(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    writer = make_sandbox_client(journal_path=tmp_path / "given.db")
    await interrupt_mid_render(writer, nemo_sandbox, output=tmp_path / "o.mp4")
    given = Journal(tmp_path / "given.db")
    no_journal = make_sandbox_client(journal_path=None)
    results = await no_journal.resume(given)
    assert [r.ok for r in results] == [True]
    assert [f.state for f in given.flows()] == ["done"]


# 17. Errors stay inside the tree, checked before paying ------------------------------------


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"duration": "5"}, "number of seconds"),
        ({"duration": True}, "number of seconds"),
        ({"prompt": "waves \ud800 here"}, "cannot be sent"),
        ({"prompt": 42}, "must be text"),
    ],
)
async def test_bad_inputs_are_refused_before_any_request(
    nemo_sandbox: Any, make_sandbox_client: Factory, kw: dict[str, Any], words: str
) -> None:
    with pytest.raises(ConfigurationError, match=words):
        await make_sandbox_client().animate(image(), **kw)
    assert nemo_sandbox.requests == []


async def test_an_unwritable_journal_is_a_nemo_error(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError) as caught:
        await make_sandbox_client(journal_path=blocker / "journal.db").animate(image())
    assert isinstance(caught.value, NemoError)
    assert nemo_sandbox.chat_deliveries == []


async def test_stale_part_files_are_cleaned_when_a_flow_is_resumed(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    client = make_sandbox_client()
    out = tmp_path / "out.mp4"
    await interrupt_mid_render(client, nemo_sandbox, output=out)
    stale = tmp_path / ".out.mp4.0123456789ab.part"  # what a killed download leaves
    stale.write_bytes(b"half")
    assert [r.ok for r in await client.resume()] == [True]
    assert not stale.exists()


# The idempotency key ----------------------------------------------------------------------


@pytest.mark.nemo_sandbox(initial_credits=10_000)
async def test_a_known_key_never_pays_again(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path, ledger: object
) -> None:
    client = make_sandbox_client()
    first, second = await asyncio.gather(
        client.animate(image(), key="order-17", output=tmp_path / "a.mp4"),
        client.animate(image(), key="order-17", output=tmp_path / "a.mp4", overwrite=True),
    )
    assert first.job_id == second.job_id
    again = await client.animate(image(), key="order-17")  # the file is there: that one
    assert again.job_id == first.job_id and again.read_bytes()[4:8] == b"ftyp"
    assert len(nemo_sandbox.chat_deliveries) == 1


async def test_a_key_finishes_its_interrupted_flow(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path, ledger: object
) -> None:
    client = make_sandbox_client()
    out = tmp_path / "o.mp4"
    nemo_sandbox.faults.add(FaultRule(route="render_start", kind="http_error", times=1))
    with pytest.raises(ServerError):
        await client.animate(image(), key="k", output=out)
    video = await client.animate(image(), key="k", output=out)
    assert video.path == out and probe(out)[0] == "h264"
    assert len(nemo_sandbox.chat_deliveries) == 1


async def test_a_file_name_that_is_not_utf8_is_sent_under_a_readable_name(
    nemo_sandbox: Any, make_sandbox_client: Factory, tmp_path: Path
) -> None:
    odd = os.path.join(os.fsencode(tmp_path), b"sun\xffset.jpg")
    with open(odd, "wb") as fh:
        fh.write(image().read_bytes())
    video = await make_sandbox_client().animate(os.fsdecode(odd), output=tmp_path / "o.mp4")
    assert video.path is not None and probe(video.path)[0] == "h264"


def test_a_run_whose_claim_was_taken_over_takes_no_further_step(tmp_path: Path) -> None:
    # A live run too slow to renew its lease (a starved process) loses the flow to a resumer:
    # its next step is refused, so no render is started twice.
    from nemovideo.workflows.journal import FlowTakenError

    slow, other = Journal(tmp_path / "j.db", lease=0.05), Journal(tmp_path / "j.db", lease=30)
    slow.start("f", image="/x.jpg")
    slow.record("f", "chat_sent", chat_sent=True)
    time.sleep(0.1)  # the lease lapses without renewal
    assert other.claim("f")
    with pytest.raises(FlowTakenError):
        slow.record("f", "render_started", job_id="render_1")
    other.record("f", "render_started", job_id="render_2")
    assert Journal(tmp_path / "j.db").get("f").get("job_id") == "render_2"  # type: ignore[union-attr]
