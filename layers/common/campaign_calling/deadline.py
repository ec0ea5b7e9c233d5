"""When a piece of work must be done by: Lambda ends a function at its Timeout, and
work that is cut off there is never logged. Work that knows its deadline stops in time
and records what happened instead."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._at = clock() + seconds

    @classmethod
    def unbounded(cls) -> Deadline:
        return cls(float("inf"))

    @classmethod
    def from_remaining_ms(
        cls, remaining_ms: Callable[[], int], *, reserve_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> Deadline:
        """The time the Lambda context says is left, minus ``reserve_seconds`` kept back for
        recording the outcome (the call log) and answering."""
        return cls(remaining_ms() / 1000 - reserve_seconds, clock=clock)

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self._at - self._clock())

    def allows(self, seconds: float) -> bool:
        """Whether something that takes ``seconds`` can finish before the deadline."""
        return seconds <= self._at - self._clock()
