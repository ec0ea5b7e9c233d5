"""A call's lifecycle, as our call log records it whatever the provider.

``queued`` -> ``ringing`` -> ``in-progress`` -> one final status: ``completed`` (a person
answered), ``voicemail``, ``busy``, ``no-answer``, ``failed`` or ``canceled``. Webhooks arrive
late, twice or out of order; ``moves_forward`` says whether an event may change a call, so a
late ``ringing`` never undoes ``completed`` and a first final status is never replaced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

CallStatus = Literal[
    "queued", "ringing", "in-progress", "completed", "voicemail", "busy", "no-answer", "failed", "canceled"
]
FinalStatus = Literal["completed", "voicemail", "busy", "no-answer", "failed", "canceled"]
AnsweredBy = Literal["human", "machine", "fax", "unknown"]
# Ours, never a provider's: a call whose final status did not come within MaxCallSeconds
# (calls/slots.py). Final, so nothing a provider says later moves it.
Expired = Literal["unknown"]
# Ours too: a contact of a run whose number is on the client's do-not-call list, never sent
# to the provider. Final, never retried.
Skipped = Literal["skipped"]
LoggedStatus = CallStatus | Expired | Skipped

CALL_STATUSES: tuple[CallStatus, ...] = get_args(CallStatus)
FINAL_STATUSES: frozenset[str] = frozenset(get_args(FinalStatus))
_RANK: dict[str, int] = {
    "queued": 0,
    "ringing": 1,
    "in-progress": 2,
    **dict.fromkeys(FINAL_STATUSES, 3),
    "unknown": 3,
    "skipped": 3,
}


class WebhookPayloadError(ValueError):
    """A status webhook whose body cannot be read (not JSON or form, no call id, unknown
    status): the caller answers 400. The message names the problem, never a value."""


@dataclass(frozen=True)
class StatusEvent:
    """One status webhook, read into our lifecycle. ``ended_reason`` keeps the provider's own
    words; ``ended_at_ms`` is epoch milliseconds."""

    provider_call_id: str
    status: CallStatus
    answered_by: AnsweredBy | None = None
    duration_seconds: int | None = None
    ended_reason: str | None = None
    ended_at_ms: int | None = None
    # The person asked not to be called again (the generic webhook's ``optOut``): the number
    # goes on the client's do-not-call list.
    opt_out: bool = False

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def rank(status: str) -> int:
    """0 queued, 1 ringing, 2 in-progress, 3 any final status."""
    try:
        return _RANK[status]
    except KeyError:
        raise ValueError(f"not a call status: {status!r}") from None


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES or status == "skipped"


def moves_forward(current: str | None, new: str) -> bool:
    """Whether a call in ``current`` (None: no status yet) may take ``new``: only a higher
    rank does, so duplicates, late events and a second final status change nothing."""
    return current is None or rank(new) > rank(current)


def epoch_ms_from_iso(value: object) -> int | None:
    """An ISO 8601 time (``Z`` or an offset) as epoch milliseconds; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def whole_seconds(value: object) -> int | None:
    """A duration the provider wrote as a number or a numeric string, in whole seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(int(round(value)), 0)
    if isinstance(value, str) and value.strip():
        try:
            return max(int(round(float(value))), 0)
        except ValueError:
            return None
    return None


def json_object(body: bytes) -> Mapping[str, Any]:
    """A webhook body that must be a JSON object."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookPayloadError("body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookPayloadError("body is not a JSON object")
    return payload
