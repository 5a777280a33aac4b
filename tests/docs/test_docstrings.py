"""Every public name has a docstring, and every public coroutine says what it raises."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import nemovideo
from nemovideo import resources, workflows

WORKFLOW_MODULES = [
    importlib.import_module(f"nemovideo.workflows.{m.name}")
    for m in pkgutil.iter_modules(workflows.__path__)
]


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    classes: list[type] = [getattr(resources, n) for n in resources.__all__]
    for module in WORKFLOW_MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                classes.append(obj)
            elif inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
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
