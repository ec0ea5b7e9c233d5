"""A clock the test moves by hand."""

from __future__ import annotations

# 2024-01-15T10:30:00.000Z: what the API examples show.
T0_MS = 1_705_314_600_000


class FixedClock:
    def __init__(self, now_ms: int = T0_MS) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms

    def sleep(self, seconds: float) -> None:
        """A ``time.sleep`` that moves this clock instead of waiting."""
        self.now += round(seconds * 1000)
