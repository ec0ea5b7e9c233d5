"""Which of a campaign's call logs a list or an export reads: a run, a status, a time range.

How each is read (calls/logs.py): a call log's key is its uniqueId, which starts with the
epoch milliseconds the call started (``aidial-<ms>-...``, equal to its ``startedAt``), so a
time range is a range of keys, a key condition; a run started at the time its id starts with
(``run-<ms>-...``), so its calls' keys start no earlier than that: a key condition too, with
the run's id then matched by a filter expression, as is the status (a handful of values: no
index would pay for itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from campaign_calling.calls.providers.lifecycle import LoggedStatus
from campaign_calling.errors import InvalidRequest
from campaign_calling.models import CallLog

# Clocks of two functions may disagree a little: a run's calls are looked for from a minute
# before its id's time on.
RUN_CLOCK_MARGIN_MS = 60_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CallLogFilter:
    run_id: str | None = None
    status: LoggedStatus | None = None
    from_ms: int | None = None  # the call started at or after
    to_ms: int | None = None  # the call started before

    @property
    def filters(self) -> bool:
        """Whether some logs of the key range may be left out (a filter expression)."""
        return self.run_id is not None or self.status is not None

    def start_bounds(self) -> tuple[int | None, int | None]:
        """The calls' start times to read, in epoch ms: [low, high), None for unbounded."""
        low = self.from_ms
        run_start = run_started_ms(self.run_id) if self.run_id else None
        if run_start is not None:
            earliest = run_start - RUN_CLOCK_MARGIN_MS
            low = earliest if low is None else max(low, earliest)
        return low, self.to_ms

    def matches(self, log: CallLog) -> bool:
        if self.run_id is not None and log.runId != self.run_id:
            return False
        if self.status is not None and log.status != self.status:
            return False
        started = instant_ms("startedAt", log.startedAt)
        if self.from_ms is not None and started < self.from_ms:
            return False
        return not (self.to_ms is not None and started >= self.to_ms)


def call_log_filter(
    *, run_id: str | None = None, status: LoggedStatus | None = None, from_: str | None = None, to: str | None = None
) -> CallLogFilter:
    """The filter of a request's parameters; InvalidRequest (400) naming a bad one."""
    from_ms = instant_ms("from", from_) if from_ is not None else None
    to_ms = instant_ms("to", to) if to is not None else None
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise InvalidRequest("from must be before to")
    return CallLogFilter(run_id=run_id, status=status, from_ms=from_ms, to_ms=to_ms)


def instant_ms(name: str, text: str) -> int:
    """An ISO 8601 instant (with ``Z`` or an offset) in epoch milliseconds, rounded up (so
    ``from`` and ``to`` never take in a call of a millisecond before them)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidRequest(
            f"{name} must be an ISO 8601 instant, such as 2024-01-15T10:30:00Z (not {text[:40]!r})"
        ) from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{name} must name its time zone (Z or an offset such as +02:00)")
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return -(-micros // 1000)


def run_started_ms(run_id: str) -> int | None:
    """When a run started, from its id (``run-<epoch ms>-<random>``, ids.new_run_id)."""
    parts = run_id.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "run" and parts[1].isdigit() else None
