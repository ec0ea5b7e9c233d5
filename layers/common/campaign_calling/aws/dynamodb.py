"""DynamoDB plumbing shared by the repositories: (de)serialisation, paging tokens, errors,
and transactions whose cancellations say what they mean."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from campaign_calling.aws.errors import error_code
from campaign_calling.errors import DependencyUnavailable, InvalidRequest

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef, TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attrs(item: dict[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB attribute values; None values are left out."""
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def to_attr(value: Any) -> AttributeValueTypeDef:
    return _serializer.serialize(value)


def from_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in attrs.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def cancellation_codes(exc: ClientError) -> list[str]:
    """Per-item reason codes of a cancelled transaction, in request order ('None' = fine).

    botocore puts them in ``CancellationReasons``; the message carries them too
    ("... refer cancellation reasons for specific reasons [None, TransactionConflict]"),
    which is read when the structured list is missing."""
    reasons = exc.response.get("CancellationReasons")
    if reasons:
        return [_code(r.get("Code")) for r in reasons]
    found = _REASONS_IN_MESSAGE.search(exc.response.get("Error", {}).get("Message", ""))
    return [_code(c) for c in found.group(1).split(",")] if found else []


_REASONS_IN_MESSAGE = re.compile(r"specific reasons \[([^\]]*)\]")


def _code(value: str | None) -> str:
    value = (value or "").strip()
    return "None" if value in ("", "None", "NONE", "null") else value


# -- transactions -------------------------------------------------------------------------

CONDITION_FAILED = "ConditionalCheckFailed"
# Reasons that mean "not now" rather than "no": another transaction held one of the items
# (DynamoDB does not wait for it), or the table or one of its indexes was throttled.
# botocore retries neither inside a TransactionCanceledException, so we do.
TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# Errors of the whole request that botocore has already retried before giving up.
_THROTTLED_REQUESTS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    }
)


class CancellationKind:
    CONDITION_FAILED = "condition-failed"
    TRANSIENT = "transient"
    OTHER = "other"


def classify_cancellation(codes: Sequence[str]) -> str:
    """What a cancelled transaction means. A failed condition is an answer about the data
    and wins over anything else reported with it; a cancellation caused only by conflicts
    or throttling is worth trying again; anything else (validation, collection size, no
    reasons at all) is not."""
    reported = [c for c in codes if c != "None"]
    if CONDITION_FAILED in reported:
        return CancellationKind.CONDITION_FAILED
    if reported and all(c in TRANSIENT_CANCELLATIONS for c in reported):
        return CancellationKind.TRANSIENT
    return CancellationKind.OTHER


class TransactionConditionFailed(Exception):
    """A transaction was cancelled because the condition of one or more of its items failed
    (nothing was written). ``failed(k)`` says whether item k's condition was one of them."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(f"transaction cancelled: [{', '.join(codes)}]")
        self.codes = list(codes)

    def failed(self, index: int) -> bool:
        return index < len(self.codes) and self.codes[index] == CONDITION_FAILED


class Transactions:
    """TransactWriteItems, retried while DynamoDB cancels it only for conflicts or
    throttling: full-jitter exponential backoff, a bounded number of attempts, then
    DependencyUnavailable (503 on the API; a failed task, which Step Functions retries).

    A cancelled transaction wrote nothing, so trying it again is safe and a failed
    condition on a later attempt is about someone else's write, never our own. Each call
    gets a fresh ClientRequestToken from botocore, which reuses it across its own retries of
    a request whose answer was lost, so a transaction that did commit is not applied twice.
    """

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        attempts: int = 6,
        base_delay_seconds: float = 0.05,
        max_delay_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = dynamodb
        self._attempts = max(1, attempts)
        self._base = base_delay_seconds
        self._max = max_delay_seconds
        self._sleep = sleep
        self._jitter = jitter

    def write(self, items: Sequence[TransactWriteItemTypeDef]) -> None:
        """Raises TransactionConditionFailed when a condition failed, DependencyUnavailable
        when DynamoDB stayed busy, and any other error as it came."""
        for attempt in range(1, self._attempts + 1):
            try:
                self._db.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                code = error_code(exc)
                if code in _THROTTLED_REQUESTS:
                    raise DependencyUnavailable(f"the database is busy ({code}); try again") from exc
                if code != "TransactionCanceledException":
                    raise
                codes = cancellation_codes(exc)
                kind = classify_cancellation(codes)
                if kind == CancellationKind.CONDITION_FAILED:
                    raise TransactionConditionFailed(codes) from exc
                if kind != CancellationKind.TRANSIENT:
                    raise
                reasons = ", ".join(sorted(set(codes) - {"None"}))
                if attempt == self._attempts:
                    raise DependencyUnavailable(
                        f"the database stayed busy ({reasons}) after {attempt} attempts; try again"
                    ) from exc
                delay = self.backoff(attempt)
                # Table names and reason codes only: nothing about whose data it is.
                logger.warning(
                    "transaction cancelled (%s) on %s, attempt %d of %d; retrying in %.3f s",
                    reasons,
                    sorted({_table_of(i) for i in items}),
                    attempt,
                    self._attempts,
                    delay,
                )
                self._sleep(delay)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2^(attempt-1))], so clients that
        collided do not collide again in step."""
        ceiling: float = self._base * 2 ** (attempt - 1)  # typeshed: int ** int may be a float
        return self._jitter() * min(self._max, ceiling)


def _table_of(item: TransactWriteItemTypeDef) -> str:
    op: object = next(iter(item.values()), {})
    return str(op.get("TableName", "?")) if isinstance(op, dict) else "?"


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, *, partition_key: str, sort_prefix: str) -> dict[str, Any] | None:
    """Decode a paging token; it must point into the partition and kind of item being
    read, so a token taken from another list, campaign or client opens nothing."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidRequest("nextToken is not valid") from exc
    if not isinstance(key, dict) or key.get("pk") != {"S": partition_key} or set(key) != {"pk", "sk"}:
        raise InvalidRequest("nextToken is not valid")
    sk = key.get("sk")
    if not isinstance(sk, dict) or not isinstance(sk.get("S"), str) or not sk["S"].startswith(sort_prefix):
        raise InvalidRequest("nextToken is not valid")
    return key


def query_page(
    dynamodb: DynamoDBClient,
    *,
    table: str,
    pk: str,
    prefix: str,
    limit: int,
    token: str | None,
    match_prefix: bool = True,
    newest_first: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of a partition's items whose sort key starts with ``prefix`` (plain values),
    and the token of the next page; a token from another list, partition or client is a 400
    (decode_token). ``match_prefix=False``: the partition holds only such items, so the key
    condition needs no prefix."""
    condition = "pk = :pk AND begins_with(sk, :prefix)" if match_prefix else "pk = :pk"
    values = {":pk": to_attr(pk), **({":prefix": to_attr(prefix)} if match_prefix else {})}
    query: QueryInputTypeDef = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    start = decode_token(token, partition_key=pk, sort_prefix=prefix)
    if start:
        query["ExclusiveStartKey"] = start
    response = dynamodb.query(**query)
    return [from_attrs(i) for i in response.get("Items", [])], encode_token(response.get("LastEvaluatedKey"))
