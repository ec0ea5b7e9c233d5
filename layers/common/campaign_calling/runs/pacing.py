"""Pacing between dials.

The delay runs from the moment the provider answered the previous dial (as the seed's
frontend did: place the call, then wait): the provider has surely received that call by
then, so it never sees two calls closer than the delay, whatever the network does.

Step Functions' Wait state counts whole seconds, so the delay is split: the Wait state
sleeps the whole seconds that are certainly due, and the dial step sleeps the rest,
measured from that moment, so sub-second delays are exact.
"""

from __future__ import annotations

# The dial step finishes the last stretch of every delay.
DIAL_STEP_LEAD_MS = 1000
# The longest the dial step sleeps: below 1 s the whole delay; from 1 s on, what the
# Wait state's whole seconds leave, less than 2 s (+1 ms of rounding).
MAX_DIAL_STEP_SLEEP_MS = 2 * DIAL_STEP_LEAD_MS + 1


def wait_state_seconds(delay_ms: int, index: int) -> int:
    """Whole seconds for the Wait state before the dial of the contact at ``index``."""
    if index == 0:
        return 0
    return max(0, delay_ms - DIAL_STEP_LEAD_MS) // 1000


def remaining_ms(delay_ms: int, paced_from_ms: int | None, now_ms: int) -> int:
    """Milliseconds still to sleep before the next dial may start; ``paced_from_ms`` is when
    the previous dial was answered (or claimed, if it never finished)."""
    if paced_from_ms is None or delay_ms <= 0:
        return 0
    # +1: timestamps are whole milliseconds, rounded down.
    return max(0, min(delay_ms, paced_from_ms + delay_ms + 1 - now_ms))
