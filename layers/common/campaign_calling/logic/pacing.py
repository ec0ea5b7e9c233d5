"""Pacing between dials.

Step Functions' Wait state counts whole seconds, so a run's delay is split: the Wait
state sleeps the whole seconds that are certainly due, and the dial step sleeps the
rest, measured from when the previous dial started. Every gap between dial starts is
then the delay itself, whatever its milliseconds and however long each call took.
"""

from __future__ import annotations

# The dial step finishes the last stretch of every delay (at most this long).
DIAL_STEP_LEAD_MS = 1000


def wait_state_seconds(delay_ms: int, index: int) -> int:
    """Whole seconds for the Wait state before the dial of the contact at ``index``."""
    if index == 0:
        return 0
    return max(0, delay_ms - DIAL_STEP_LEAD_MS) // 1000


def remaining_ms(delay_ms: int, last_dial_started_ms: int | None, now_ms: int) -> int:
    """Milliseconds still to sleep before the next dial may start."""
    if last_dial_started_ms is None or delay_ms <= 0:
        return 0
    return max(0, min(delay_ms, last_dial_started_ms + delay_ms - now_ms))
