"""The ledger's interface on both backends: the same claims, leases, keys and pauses.

Every test here takes ``ledger`` (tests/conftest.py): it runs on an SQLite file and on a real
PostgreSQL database of a throwaway cluster.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from nemovideo import Journal, NemoClient, StorageError
from nemovideo.transport.config import ClientConfig
from nemovideo.workflows.ledgers.base import redact_url


def test_one_claimant_of_many_wins_each_flow(ledger: object) -> None:
    # Eight owners (eight Journal objects, as eight processes) race for the same 20 flows.
    setup = Journal(ledger)  # type: ignore[arg-type]
    flows = [f"flow-{i}" for i in range(20)]
    for flow in flows:
        setup.start(flow, hold=False, image=f"/{flow}.jpg")
    owners = [Journal(ledger) for _ in range(8)]  # type: ignore[arg-type]
    won: dict[str, list[str]] = {flow: [] for flow in flows}
    barrier = threading.Barrier(len(owners))

    def race(book: Journal) -> None:
        barrier.wait()
        for flow in flows:
            if book.claim(flow):
                won[flow].append(book.owner)

    threads = [threading.Thread(target=race, args=(book,)) for book in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(len(winners) == 1 for winners in won.values()), won
    for flow in flows:
        record = setup.get(flow)
        assert record is not None and record.state == "active"
        assert record.lease_owner == won[flow][0] and record.held()
    for book in [setup, *owners]:
        book.close()


def test_a_lease_lapses_and_renewal_keeps_it(ledger: object) -> None:
    # Margins of 0.8 s either side: the suite runs on a loaded 2-core machine.
    a = Journal(ledger, lease=2.0)  # type: ignore[arg-type]
    b = Journal(ledger, lease=2.0)  # type: ignore[arg-type]
    a.start("kept", image="/k.jpg")
    a.start("dropped", image="/d.jpg")
    assert not b.claim("kept") and not b.claim("dropped")
    time.sleep(1.2)
    assert a.renew() == 2
    a.record("dropped", "interrupted", reason="test")  # released: anyone may take it now
    assert b.claim("dropped")
    time.sleep(1.2)
    assert not b.claim("kept")  # renewed 1.2 s ago: still held
    time.sleep(1.6)
    assert b.claim("kept")  # lapsed: a killed holder's flow is taken over
    assert a.renew() == 0  # a holds nothing any more
    a.close()
    b.close()


def test_steps_merge_fields_and_end_flows(ledger: object) -> None:
    book = Journal(ledger)  # type: ignore[arg-type]
    book.start("f", key="order-1", server="http://x", image="/sun\udcffset.jpg", prompt="p")
    with pytest.raises(KeyError):
        book.start("g", key="order-1")
    book.record("f", "session", session_id="1780000000000000001", task_id="t")
    book.record("f", "chat_sent", chat_sent=True)
    flow = book.by_key("order-1")
    assert flow is not None and flow.paid and flow.state == "active"
    assert flow.get("image") == "/sun\udcffset.jpg"  # an undecodable name, byte for byte
    assert flow.get("session_id") == "1780000000000000001"
    book.record("f", "done", job_id="render_1")
    book.record("f", "interrupted", reason="late")  # a finished flow stays finished
    flow = book.get("f")
    assert flow is not None and flow.state == "done" and flow.lease_owner is None
    assert book.history("f") == ["started", "session", "chat_sent", "done", "interrupted"]
    book.start("h", hold=False, image="/h.jpg")
    book.record("h", "failed", error="refused")
    book.forget_key("h")
    assert book.pending() == []
    assert [f.flow_id for f in book.flows()] == ["f", "h"]
    book.close()


def test_pending_lists_open_flows_oldest_first(ledger: object) -> None:
    book = Journal(ledger)  # type: ignore[arg-type]
    for i in range(5):
        book.start(f"f{i}", hold=i % 2 == 0, image=f"/{i}.jpg")
    book.record("f1", "done")
    assert [f.flow_id for f in book.pending()] == ["f0", "f2", "f3", "f4"]
    book.close()


def test_the_fleet_pause_keeps_the_latest_time(ledger: object) -> None:
    a, b = Journal(ledger), Journal(ledger)  # type: ignore[arg-type]
    assert b.paused_until("http://api") == 0.0
    a.pause_until("http://api", 2000.5)
    b.pause_until("http://api", 1000.0)  # an earlier pause never shortens a later one
    assert b.paused_until("http://api") == 2000.5
    assert a.paused_until("http://other") == 0.0
    a.close()
    b.close()


def test_a_url_setting_stays_a_url_and_its_password_is_never_shown(tmp_path: Path) -> None:
    url = "postgresql://nemo:s3cret@db.internal:5432/ledger?sslmode=require"
    config = ClientConfig.resolve(env={"NEMO_JOURNAL": url})
    assert config.journal_path == url  # not Path(url), which would fold "//"
    assert ClientConfig.resolve(journal_path=url, env={}).journal_path == url
    assert ClientConfig.resolve(env={"NEMO_JOURNAL": str(tmp_path / "j.db")}).journal_path == (
        tmp_path / "j.db"
    )
    book = Journal(url)
    assert "s3cret" not in repr(book) and "s3cret" not in book.where
    assert book.path is None and book.url == url
    assert book.folder.name == "nemovideo"  # the state folder: resume's videos/ go under it
    assert redact_url("postgres://u@h/d") == "postgres://u@h/d"


async def test_a_server_ledger_that_cannot_be_reached_is_a_storage_error(tmp_path: Path) -> None:
    book = Journal("postgresql://nobody:pw@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StorageError) as caught:
        book.pending()
    assert ":pw@" not in str(caught.value) and "nobody:***@127.0.0.1" in str(caught.value)
    client = NemoClient("http://127.0.0.1:9", journal_path=book.url, client_id_path=tmp_path / "c")
    assert client.journal is not None and client.journal.url == book.url
    await client.close()


def test_the_scale_out_guide_shows_the_schema_the_code_creates() -> None:
    from nemovideo.workflows.ledgers.postgres import SCHEMA

    guide = Path(__file__).resolve().parents[2] / "docs" / "guides" / "scale-out.md"
    assert SCHEMA.strip() in guide.read_text(encoding="utf-8")
