"""Simulated time: the sandbox lives on a clock that runs ``1 / time_scale`` times faster.

Every duration the sandbox simulates (a 200 s generation, a 7-day token life, 40 s of
rendering) is written in simulated seconds and slept as ``seconds * time_scale`` real seconds,
so tests run the service's real timings at a thousandth of the cost.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["SimClock"]


class SimClock:
    """A clock whose seconds last ``time_scale`` real seconds.

    Example::

        clock = SimClock(0.001)
        await clock.sleep(200)  # 0.2 real seconds
        clock.advance(7 * 86400)  # tokens issued now have expired
    """

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self._epoch = time.time()
        self._mono = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Simulated Unix time in seconds."""
        return self._epoch + (time.monotonic() - self._mono) / self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        """Jump the simulated time forward (expiries and rate-limit windows move; sleeps do not)."""
        self._offset += seconds

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` simulated seconds last."""
        return max(0.0, seconds * self.time_scale)

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` simulated seconds."""
        await asyncio.sleep(self.real(seconds))
