"""The examples in the protocol's docstrings run, and every public name is documented."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

MODULES = [
    "nemovideo.protocol.converter",
    "nemovideo.protocol.draft",
    "nemovideo.protocol.envelope",
    "nemovideo.protocol.errors",
    "nemovideo.protocol.events",
    "nemovideo.protocol.files",
    "nemovideo.protocol.gui",
    "nemovideo.protocol.intents",
    "nemovideo.protocol.models",
    "nemovideo.protocol.reply",
    "nemovideo.protocol.sse",
    "nemovideo.protocol.tracks",
    "nemovideo.protocol.wire",
    "nemovideo.sse",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_is_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__
    for public in module.__all__:
        obj = getattr(module, public)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{public}"


def test_the_protocol_imports_no_io_libraries() -> None:
    # `import nemovideo.protocol.x` runs the package's __init__ (the client) first, so the
    # rule is checked on the source: protocol modules import nothing that does I/O.
    import ast
    import pathlib

    import nemovideo.protocol

    forbidden = {"aiohttp", "asyncio", "av", "numpy", "socket", "requests", "httpx", "os"}
    folder = pathlib.Path(nemovideo.protocol.__file__).parent
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for imported in names:
                top = imported.split(".")[0]
                assert top not in forbidden, f"{path.name} imports {imported}"
                assert not imported.startswith(("nemovideo.transport", "nemovideo.resources"))
