"""A client's call limits: one settings item, in a partition of its own (keys.py).

The dial steps read them before every call (``ClientLimitsStore.get``), so the read is
strongly consistent: a cap lowered through the API holds from the next call on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ConfigDict

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, to_attrs
from campaign_calling.models import (
    CallingWindow,
    CallsPerNumberPerDay,
    CallsPerSecondCap,
    ConcurrentCallsCap,
    DomainModel,
    MinutesBetweenCalls,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ClientLimits(DomainModel):
    """None: no cap (no window: any time). A client that never set any has no cap at all,
    and its contacts may not be premium-rate or shared-cost numbers."""

    # Both always answered (null: no cap), so the document marks both required.
    model_config = ConfigDict(
        defer_build=True, extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    maxConcurrentCalls: ConcurrentCallsCap | None = None
    maxCallsPerSecond: CallsPerSecondCap | None = None
    allowPremiumRateNumbers: bool = False
    callingWindow: CallingWindow | None = None
    minMinutesBetweenCallsToNumber: MinutesBetweenCalls | None = None
    maxCallsPerNumberPerDay: CallsPerNumberPerDay | None = None


_FIELDS = tuple(ClientLimits.model_fields)


class ClientLimitsStore:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def get(self, client_id: str) -> ClientLimits:
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs(keys.client_settings_key(client_id)),
            ConsistentRead=True,
            ProjectionExpression=", ".join(f"#{i}" for i in range(len(_FIELDS))),
            ExpressionAttributeNames={f"#{i}": name for i, name in enumerate(_FIELDS)},
        )
        return ClientLimits.model_validate(from_attrs(response.get("Item", {})))

    def put(self, client_id: str, limits: ClientLimits) -> ClientLimits:
        """Replace the whole document: a cap not given is removed (None is not stored)."""
        item = {**keys.client_settings_key(client_id), "kind": "client-settings", **limits.model_dump()}
        self._db.put_item(TableName=self._table, Item=to_attrs(item))
        return limits
