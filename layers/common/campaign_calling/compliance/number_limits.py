"""No number called too often: a client's ``minMinutesBetweenCallsToNumber`` and
``maxCallsPerNumberPerDay`` (any 24 hours), across all its campaigns and make-call.

Each number the client calls while either limit is set has one item (its partition
``CLIENT#<id>#NUMBERS``, keyed by the number) listing when it was called in the last 24
hours, and a version. A run's dial reads it, and when a limit would be broken defers the
contact to the first moment allowed; else its claim's transaction writes the new call
with a condition on the version read, so two dials of one number (two campaigns, or a run
and make-call) cannot both pass: the second sees another version and reads again. Calls
made while no limit was set are not recorded (recording costs a write per call).
A call counts from its dial: one the provider refused still counts (the limits are a
legal duty: erring towards fewer calls is the safe side).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, to_attr, to_attrs

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import UpdateTypeDef

DAY_MS = 24 * 3600 * 1000


class PerNumberSettings(Protocol):
    @property
    def minMinutesBetweenCallsToNumber(self) -> int | None: ...

    @property
    def maxCallsPerNumberPerDay(self) -> int | None: ...


@dataclass(frozen=True)
class NumberLimits:
    min_gap_ms: int | None = None
    per_day: int | None = None

    @classmethod
    def of(cls, settings: PerNumberSettings) -> NumberLimits:
        gap = settings.minMinutesBetweenCallsToNumber
        return cls(gap * 60_000 if gap is not None else None, settings.maxCallsPerNumberPerDay)

    @property
    def active(self) -> bool:
        return self.min_gap_ms is not None or self.per_day is not None


@dataclass(frozen=True)
class NumberUse:
    """When a number was called (epoch ms, oldest first), as read at ``version`` (None:
    never recorded)."""

    calls: tuple[int, ...] = ()
    version: int | None = None


@dataclass(frozen=True)
class NumberCall:
    """A call to ``phone`` at ``now_ms``, recorded only if its use is still ``use``."""

    client_id: str
    phone: str
    use: NumberUse
    now_ms: int


def next_allowed_ms(use: NumberUse, limits: NumberLimits, now_ms: int) -> int:
    """The first moment the number may be called again (``now_ms`` when it may be now)."""
    allowed = now_ms
    if limits.min_gap_ms is not None and use.calls:
        allowed = max(allowed, use.calls[-1] + limits.min_gap_ms)
    if limits.per_day is not None:
        today = [t for t in use.calls if t > now_ms - DAY_MS]
        if len(today) >= limits.per_day:
            # When enough of them are a day old for one more call.
            allowed = max(allowed, today[len(today) - limits.per_day] + DAY_MS)
    return allowed


def _kept(use: NumberUse, now_ms: int) -> list[int]:
    # A day's calls, and the last one whatever its age (the gap may be up to a week).
    recent = [t for t in use.calls if t > now_ms - DAY_MS]
    return [*(recent or use.calls[-1:]), now_ms]


def record_call_update(table: str, call: NumberCall) -> UpdateTypeDef:
    """The conditional write of the call, for a transaction (or alone: make-call)."""
    calls = _kept(call.use, call.now_ms)
    version = (call.use.version or 0) + 1
    condition = "attribute_not_exists(pk)" if call.use.version is None else "version = :read"
    values: dict[str, Any] = {
        ":calls": to_attr(calls),
        ":version": to_attr(version),
        # Gone a week after its last call (the longest gap allowed).
        ":ttl": to_attr(call.now_ms // 1000 + 8 * 24 * 3600),
    }
    if call.use.version is not None:
        values[":read"] = to_attr(call.use.version)
    return {
        "TableName": table,
        "Key": to_attrs({"pk": keys.number_calls_pk(call.client_id), "sk": call.phone}),
        "ConditionExpression": condition,
        "UpdateExpression": "SET calls = :calls, version = :version, expiresAt = :ttl",
        "ExpressionAttributeValues": values,
    }


class NumberUseStore:
    def __init__(self, dynamodb: DynamoDBClient, progress_table: str) -> None:
        self._db = dynamodb
        self._table = progress_table

    def number_use(self, client_id: str, phone: str) -> NumberUse:
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs({"pk": keys.number_calls_pk(client_id), "sk": phone}),
            ConsistentRead=True,
        )
        if "Item" not in response:
            return NumberUse()
        item = from_attrs(response["Item"])
        return NumberUse(tuple(int(t) for t in item.get("calls", [])), int(item["version"]))

    def record(self, call: NumberCall) -> bool:
        """Record a call on its own (make-call); False when the number's use changed since
        it was read (another call got there first)."""
        update = record_call_update(self._table, call)
        try:
            self._db.update_item(**update)
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True
