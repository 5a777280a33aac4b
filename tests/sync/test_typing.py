"""The blocking client's types, as ``mypy --strict`` sees them in a user's code: precise results,
the async methods' parameters, and typos caught (no ``Any`` fallback)."""

from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

USER_CODE = """
from nemovideo import SyncNemoClient

with SyncNemoClient() as client:
    reveal_type(client.credits.get())
    reveal_type(client.session.create())
    reveal_type(client.render.wait)
    reveal_type(client.animate("a.jpg"))
    reveal_type(client.animate_many(["a.jpg"]).summary)
    reveal_type(next(iter(client.chat.stream("1", "hi"))))
    client.session.craete()
    client.state.get(42)
"""


@pytest.mark.slow
def test_mypy_strict_sees_precise_types(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(USER_CODE, encoding="utf-8")
    out, _, _ = mypy_api.run(
        ["--strict", "--no-incremental", "--python-version", "3.10", str(source)]
    )
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if ": " in line]
    assert 'note: Revealed type is "nemovideo.protocol.models.Credits"' in lines
    assert 'note: Revealed type is "nemovideo.protocol.models.Session"' in lines
    assert any(
        'Revealed type is "def (job: nemovideo.protocol.models.RenderJob' in x for x in lines
    )
    assert 'note: Revealed type is "nemovideo.workflows.results.Video"' in lines
    assert 'note: Revealed type is "nemovideo.workflows.batch.BatchSummary"' in lines
    assert any("Revealed type is" in x and "TextEvent" in x for x in lines)
    assert any('has no attribute "craete"' in x for x in lines)
    assert any('Argument 1 has incompatible type "int"; expected "str"' in x for x in lines)
