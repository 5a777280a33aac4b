"""Every public name has a docstring, and every public coroutine says what it raises."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import nemovideo
from nemovideo import batch, conversation, generation, journal, resources, workflows


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    classes: list[type] = [getattr(resources, n) for n in resources.__all__]
    classes += [batch.Batch, journal.Journal]
    for name in nemovideo.__all__:
        obj = getattr(nemovideo, name)
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            classes.append(obj)
        elif callable(obj):
            yield name, obj
    for cls in classes:
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and inspect.isfunction(value):
                yield f"{cls.__qualname__}.{attr}", value
    for func in (workflows.animate, workflows.finish_render, generation.generate,
                 generation.wait_for_draft, batch.resume, conversation.converse):  # fmt: skip
        yield f"{func.__module__}.{func.__name__}", func


def test_every_public_name_has_a_docstring() -> None:
    missing = [name for name in nemovideo.__all__ if not getattr(nemovideo, name).__doc__]
    missing += [name for name, func in _public_callables() if not func.__doc__]
    assert missing == []


def test_every_public_coroutine_lists_its_errors() -> None:
    silent = [
        name
        for name, func in _public_callables()
        if inspect.iscoroutinefunction(func) and "Raises:" not in (func.__doc__ or "")
    ]
    assert silent == []
