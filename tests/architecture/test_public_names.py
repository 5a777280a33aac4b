"""``nemovideo/__init__.py`` names each public name three times; the three lists agree.

Type checkers read the ``TYPE_CHECKING`` imports, the lazy loader reads ``_EXPORTS`` and
``from nemovideo import *`` reads ``__all__``: a name added to one list and not the others is
invisible to someone.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import nemovideo


def _typing_imports() -> dict[str, str]:
    tree = ast.parse(Path(nemovideo.__file__).read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    found: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names:
            found[alias.asname or alias.name] = node.module
    return found


def test_the_three_lists_name_the_same_things_in_the_same_places() -> None:
    exports = nemovideo._EXPORTS
    assert _typing_imports() == exports
    assert sorted(nemovideo.__all__) == sorted([*exports, "__version__"])
    assert nemovideo.__all__ == sorted(nemovideo.__all__)


@pytest.mark.parametrize("name", sorted(nemovideo._EXPORTS))
def test_each_name_loads_from_where_it_is_defined(name: str) -> None:
    module = nemovideo._EXPORTS[name]
    value = getattr(nemovideo, name)
    assert value is getattr(importlib.import_module(module), name)
    if inspect.isclass(value) or inspect.isfunction(value):
        # Tracebacks, pickles and the API reference name the module that defines it.
        assert value.__module__ == module


def test_the_product_layer_is_importable_from_the_front_door() -> None:
    from nemovideo import AnimateItem, Batch, BatchResult, Turn

    assert {AnimateItem.__name__, Batch.__name__, BatchResult.__name__, Turn.__name__} == {
        "AnimateItem",
        "Batch",
        "BatchResult",
        "Turn",
    }
