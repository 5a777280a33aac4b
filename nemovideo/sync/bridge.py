"""Blocking views of async objects, typed from the async methods themselves.

A view class names each method once, as ``create = blocking(SessionResource.create)``: the
blocking method then has the async one's parameters and returns what it returned, for
``mypy --strict`` and for editors, with no signature written twice. At run time a view also
answers for any coroutine method it does not name (one added later to the async object), so
the blocking client never lags behind the async one; a test checks that each is named too.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from nemovideo.sync.runner import LoopThread

__all__ = ["BlockingView", "blocking", "direct"]

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class BlockingView(Generic[S]):
    """A blocking view of the async object ``target``, run on ``runner``'s loop."""

    def __init__(self, runner: LoopThread, target: S) -> None:
        self._runner = runner
        self._async = target

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._async!r}>"

    def _run(self, make: Callable[[], Awaitable[T]], what: str) -> T:
        return self._runner.run(make, what)

    def _iterate(self, make: Callable[[], AsyncIterator[T]], what: str) -> Iterator[T]:
        return self._runner.iterate(make, what)

    if not TYPE_CHECKING:  # type checkers see only the named methods: a typo stays an error

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):  # private names are the view's own (maybe not set yet)
                raise AttributeError(name)
            value = getattr(self._async, name)
            if not inspect.iscoroutinefunction(value):
                return value
            what = f"{type(self).__name__}.{name}()"

            @functools.wraps(value)
            def call(*args: Any, **kwargs: Any) -> Any:
                return self._runner.run(lambda: value(*args, **kwargs), what)

            return call


class blocking(Generic[S, P, R]):  # lower case: used like a decorator
    """The blocking form of the async method ``method`` of a view's target.

    Example:
        >>> class SyncCredits(BlockingView[CreditsResource]):  # doctest: +SKIP
        ...     get = blocking(CreditsResource.get)
    """

    def __init__(self, method: Callable[Concatenate[S, P], Awaitable[R]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__
        self._name = getattr(method, "__name__", "method")

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = f"{owner.__name__}.{name}()"

    @overload
    def __get__(self, view: None, owner: type[Any]) -> blocking[S, P, R]: ...
    @overload
    def __get__(self, view: BlockingView[S], owner: type[Any]) -> Callable[P, R]: ...
    def __get__(
        self, view: BlockingView[S] | None, owner: type[Any]
    ) -> blocking[S, P, R] | Callable[P, R]:
        if view is None:
            return self
        method, target, what = self._method, view._async, self._name

        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return view._run(lambda: method(target, *args, **kwargs), what)

        return call


class direct(Generic[S, P, R]):  # lower case: used like a decorator
    """A plain (not async) method of a view's target, called as it is in the caller's thread."""

    def __init__(self, method: Callable[Concatenate[S, P], R]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, view: None, owner: type[Any]) -> direct[S, P, R]: ...
    @overload
    def __get__(self, view: BlockingView[S], owner: type[Any]) -> Callable[P, R]: ...
    def __get__(
        self, view: BlockingView[S] | None, owner: type[Any]
    ) -> direct[S, P, R] | Callable[P, R]:
        if view is None:
            return self
        return functools.partial(self._method, view._async)
