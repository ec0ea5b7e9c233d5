"""A client's do-not-call list: numbers never dialed, by a run or by make-call.

One item per number in a partition of the client's own (keys.dnc_pk), so that a dial step
reads it by key and its IAM policy names the partition. The numbers are personal data:
they stay in the table, never in a log line or an execution's history.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, query_page, to_attrs
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.errors import DependencyUnavailable
from campaign_calling.models import DncEntry, DncSource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

# BatchWriteItem's most requests per call.
_BATCH = 25
# Tries of a batch's unprocessed items (throttled) before giving up with a 503.
_BATCH_TRIES = 5
_FIELDS = ("phone", "listedAt", "reason", "source")


class DoNotCallList:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str, clock: Clock) -> None:
        self._db = dynamodb
        self._table = table_name
        self._clock = clock

    def add(
        self, client_id: str, phones: list[str], *, reason: str | None = None, source: DncSource = "api"
    ) -> list[DncEntry]:
        """List ``phones`` (E.164 already). A number listed again is listed anew: its time,
        reason and source are the latest ones. Idempotent."""
        listed_at = iso_from_ms(self._clock.now_ms())
        entries = [
            DncEntry(phone=phone, listedAt=listed_at, reason=reason, source=source)
            for phone in dict.fromkeys(phones)  # a batch may not write one key twice
        ]
        requests: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": to_attrs({**self._key(client_id, e.phone), "kind": "dnc", **e.model_dump()})}}
            for e in entries
        ]
        for start in range(0, len(requests), _BATCH):
            self._write(requests[start : start + _BATCH])
        return entries

    def _write(self, requests: list[WriteRequestTypeDef]) -> None:
        pending = requests
        for attempt in range(_BATCH_TRIES):
            response = self._db.batch_write_item(RequestItems={self._table: pending})
            # The output's shape is the input's: the unprocessed requests are sent again as they are.
            pending = cast("list[WriteRequestTypeDef]", response.get("UnprocessedItems", {}).get(self._table, []))
            if not pending:
                return
            time.sleep(0.05 * 2**attempt)  # throttled: back off before the rest
        raise DependencyUnavailable("the do-not-call list could not be saved; try again")

    def list_once(self, client_id: str, phone: str, *, reason: str) -> None:
        """List ``phone`` as the provider reported an opt-out, unless it is listed already:
        a replayed webhook changes nothing, not even the time it was listed."""
        entry = DncEntry(phone=phone, listedAt=iso_from_ms(self._clock.now_ms()), reason=reason, source="provider")
        try:
            self._db.put_item(
                TableName=self._table,
                Item=to_attrs({**self._key(client_id, phone), "kind": "dnc", **entry.model_dump()}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            pass  # listed already

    def remove(self, client_id: str, phone: str) -> DncEntry | None:
        """Take ``phone`` off the list: the entry it had; None when it was not on it."""
        response = self._db.delete_item(
            TableName=self._table, Key=to_attrs(self._key(client_id, phone)), ReturnValues="ALL_OLD"
        )
        old = response.get("Attributes")
        return _entry(from_attrs(old)) if old else None

    def get(self, client_id: str, phone: str) -> DncEntry | None:
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs(self._key(client_id, phone)),
            ConsistentRead=True,
            ProjectionExpression=", ".join(f"#{i}" for i in range(len(_FIELDS))),
            ExpressionAttributeNames={f"#{i}": name for i, name in enumerate(_FIELDS)},
        )
        item = response.get("Item")
        return _entry(from_attrs(item)) if item else None

    def is_listed(self, client_id: str, phone: str) -> bool:
        """Strongly consistent: a number listed through the API (or by an opt-out) is never
        dialed from the next call on."""
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs(self._key(client_id, phone)),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in response

    def list(self, client_id: str, limit: int, token: str | None) -> tuple[list[DncEntry], str | None]:
        items, next_token = query_page(
            self._db,
            table=self._table,
            pk=keys.dnc_pk(client_id),
            prefix=keys.DNC_PREFIX,
            limit=limit,
            token=token,
            match_prefix=False,
        )
        return [_entry(i) for i in items], next_token

    @staticmethod
    def _key(client_id: str, phone: str) -> dict[str, str]:
        return {"pk": keys.dnc_pk(client_id), "sk": keys.dnc_sk(phone)}


def _entry(item: dict[str, Any]) -> DncEntry:
    return DncEntry.model_validate({k: v for k, v in item.items() if k in _FIELDS})
