"""Time helpers, kept in one place so tests can pass a fixed clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


def rfc3339_seconds(epoch_ms: int) -> str:
    """The whole second at or after ``epoch_ms``, as a Wait state's TimestampPath takes it."""
    seconds = -(-epoch_ms // 1000)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_from_ms(epoch_ms: int) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as the API contract shows."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
