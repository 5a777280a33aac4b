"""What ``from nemovideo import NemoClient`` loads: what the first request needs, nothing more.

Each check runs in a fresh interpreter (the test session has imported everything already). The
modules named here were moved off the import path on purpose (docs/performance.md, P8); one
creeping back would cost a program that only makes requests its start-up time, silently.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Loaded when a request fails and is retried: tenacity imports tornado whenever it is
#: installed, and tornado in turn imports its logging (colorama, curses) and HTML helpers.
RETRY_ONLY = ("tenacity", "tornado")

#: Loaded when the first answer is turned into a model: the converter and its generated code.
FIRST_MODEL_ONLY = ("cattrs",)

#: Loaded by the first chat stream, the first read of a draft's tracks, or a workflow.
LATER = (
    "nemovideo.protocol.events",
    "nemovideo.protocol.reply",
    "nemovideo.protocol.tracks",
    "nemovideo.protocol.gui",
    "nemovideo.protocol.intents",
    "nemovideo.workflows.animate",
    "nemovideo.workflows.batch",
    "nemovideo.workflows.conversation",
    "nemovideo.workflows.journal",
    "nemovideo.workflows.resume",
    "nemovideo.cli",
    "nemovideo.sandbox",
)

_PROGRAM = """
import json, sys
from nemovideo import NemoClient
client = NemoClient("http://127.0.0.1:9", token="nmv_usr_import_test", journal_path=None)
client.with_options(poll_interval=1.0)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def loaded() -> set[str]:
    """The modules loaded by importing the client and creating one (no request made)."""
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", _PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def _under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.mark.parametrize("package", RETRY_ONLY + FIRST_MODEL_ONLY + LATER)
def test_creating_a_client_does_not_load(loaded: set[str], package: str) -> None:
    assert not _under(loaded, package), f"`from nemovideo import NemoClient` loads {package}"


def test_the_client_and_its_transport_are_loaded(loaded: set[str]) -> None:
    # The check above means something only if the program really imported the client.
    assert {"nemovideo.client", "nemovideo.transport.http", "aiohttp"} <= loaded
