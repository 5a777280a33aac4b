"""Fault injection: seeded, per-route rules and scripted sequences of failures.

A :class:`FaultRule` says what goes wrong (``kind``), where (``route``), how often
(``probability``, ``times``) and from when (``after_requests``). :class:`Faults` holds the
active rules, picks at most one per request with its own seeded random generator, and counts
what it injected.

Example::

    sb.faults.add(FaultRule(route="run_sse", kind="drop_mid_stream", after_events=3))
    sb.faults.add(FaultRule(route="upload", kind="http_error", status=502, html=True, times=1))
    sb.faults.script("render_status", ["rate_limit", None, "http_error"])
    ...
    assert sb.faults.injected["drop_mid_stream"] == 1
"""

from __future__ import annotations

import collections
import random
from collections.abc import Iterable
from typing import Literal, get_args

import attrs

__all__ = ["ROUTES", "FaultKind", "FaultRule", "Faults"]

#: The kinds of fault the sandbox can inject.
FaultKind = Literal[
    "rate_limit",  # HTTP 429 with Retry-After (simulated seconds, scaled)
    "http_error",  # HTTP 500/502/503..., JSON or an HTML page like a proxy's
    "slow",  # answer only after `delay` simulated seconds
    "drop_mid_body",  # headers and part of the body, then the connection is aborted
    "truncate",  # Content-Length larger than what is sent, then the connection closes
    "drop_mid_stream",  # the chat stream is cut after `after_events` events
    "stream_error",  # `data: {"error": ...}` inside the stream after `after_events` events
    "model_error",  # an ADK event with errorCode/errorMessage after `after_events` events
    "render_fail",  # the render job ends `failed`
    "token_expiry",  # the request's token expires just before it is handled
]

#: Route names rules can target (``"*"`` targets all of them).
ROUTES: frozenset[str] = frozenset(
    {
        "token",
        "claim",
        "session",
        "upload",
        "run_sse",
        "state",
        "credits",
        "render_start",
        "render_status",
        "render_cancel",
        "download",
        "cdn",
    }
)

_STREAM_KINDS = frozenset({"drop_mid_stream", "stream_error", "model_error"})
_UNAUTHENTICATED = frozenset({"token", "cdn"})


def applies(kind: str, route: str) -> bool:
    """Whether a fault of ``kind`` makes sense on ``route``."""
    if kind in _STREAM_KINDS:
        return route == "run_sse"
    if kind == "render_fail":
        return route == "render_start"
    if kind == "token_expiry":
        return route not in _UNAUTHENTICATED
    return True


@attrs.frozen(kw_only=True)
class FaultRule:
    """One kind of failure on one route (or ``"*"``).

    Attributes:
        route: a name from :data:`ROUTES`, or ``"*"``.
        kind: what goes wrong (see :data:`FaultKind`).
        probability: chance that a matching request gets the fault.
        times: faults this rule injects before it retires (``None``: no limit).
        after_requests: matching requests let through untouched before the rule may fire.
        status: the HTTP status of an ``http_error``.
        html: an ``http_error`` answers an HTML page (``text/html``), as a proxy does.
        retry_after: simulated seconds announced by a ``rate_limit``'s ``Retry-After``.
        delay: simulated seconds a ``slow`` answer waits.
        after_events: chat events sent before a stream fault strikes.
        after_bytes: body bytes sent before ``drop_mid_body``/``truncate`` cut the answer
            (``None``: half of the body).
    """

    route: str
    kind: FaultKind
    probability: float = 1.0
    times: int | None = None
    after_requests: int = 0
    status: int = 503
    html: bool = False
    retry_after: float = 30.0
    delay: float = 30.0
    after_events: int = 3
    after_bytes: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.route != "*" and self.route not in ROUTES:
            raise ValueError(f"Unknown route {self.route!r}; use '*' or one of {sorted(ROUTES)}")
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"Unknown fault kind {self.kind!r}: {get_args(FaultKind)}")
        if self.route != "*" and not applies(self.kind, self.route):
            raise ValueError(f"A {self.kind!r} fault cannot happen on route {self.route!r}")
        if not 0 <= self.probability <= 1:
            raise ValueError("probability must be in [0, 1]")
        if not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")


@attrs.define
class _Active:
    rule: FaultRule
    seen: int = 0
    fired: int = 0


class Faults:
    """The active fault rules and scripts of one sandbox, seeded for replay.

    Attributes:
        injected: how many faults of each kind were injected so far.
    """

    def __init__(self, seed: int | None = None, rules: Iterable[FaultRule] = ()) -> None:
        self._random = random.Random(f"faults:{seed}")
        self._rules: list[_Active] = [_Active(r) for r in rules]
        self._scripts: dict[str, collections.deque[FaultRule | None]] = {}
        self.injected: collections.Counter[str] = collections.Counter()

    def add(self, rule: FaultRule) -> FaultRule:
        """Activate ``rule`` (after the ones already active) and return it."""
        self._rules.append(_Active(rule))
        return rule

    def remove(self, rule: FaultRule) -> None:
        """Deactivate ``rule`` (no error when it is not active)."""
        self._rules = [a for a in self._rules if a.rule is not rule]

    def script(self, route: str, steps: Iterable[FaultRule | str | None]) -> None:
        """Script the next requests of ``route``: one step per request, ``None`` lets it through.

        A step is a rule, or just a kind (default parameters). Scripts win over rules and end
        when their steps run out.

        Example::

            sb.faults.script("render_status", ["http_error", None, "rate_limit"])
        """
        queue: collections.deque[FaultRule | None] = collections.deque()
        for step in steps:
            if isinstance(step, str):
                step = FaultRule(route=route, kind=step)  # type: ignore[arg-type]
            queue.append(step)
        self._scripts[route] = queue

    def clear(self) -> None:
        """Remove every rule and script; the ``injected`` counts stay."""
        self._rules.clear()
        self._scripts.clear()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        """The active rules, in the order they are tried."""
        return tuple(a.rule for a in self._rules)

    def pick(self, route: str) -> FaultRule | None:
        """The fault for one request on ``route``, or ``None``; counts it as injected."""
        script = self._scripts.get(route)
        if script:
            step = script.popleft()
            if not script:
                del self._scripts[route]
            if step is not None and applies(step.kind, route):
                self.injected[step.kind] += 1
                return step
            return None
        for active in self._rules:
            rule = active.rule
            if rule.route not in ("*", route) or not applies(rule.kind, route):
                continue
            if rule.times is not None and active.fired >= rule.times:
                continue
            active.seen += 1
            if active.seen <= rule.after_requests:
                continue
            if rule.probability < 1 and self._random.random() >= rule.probability:
                continue
            active.fired += 1
            self.injected[rule.kind] += 1
            return rule
        return None
