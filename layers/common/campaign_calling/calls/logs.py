"""Call logs: one item per call attempt, newest first within a campaign."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from campaign_calling import keys
from campaign_calling.aws.dynamodb import decode_token, encode_token, from_attrs, to_attr, to_attrs
from campaign_calling.models import CallLog

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


class CallLogRepository:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def put(self, client_id: str, log: CallLog) -> None:
        self._db.put_item(
            TableName=self._table,
            Item=to_attrs(call_log_item(client_id, log)),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def list(self, client_id: str, campaign_id: str, limit: int, token: str | None) -> tuple[list[CallLog], str | None]:
        pk = keys.campaign_pk(client_id, campaign_id)
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": to_attr(pk), ":prefix": to_attr(keys.CALL_PREFIX)},
            # uniqueIds start with the epoch milliseconds, so descending key order is newest first.
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_token(token, partition_key=pk, sort_prefix=keys.CALL_PREFIX)
        if start:
            query["ExclusiveStartKey"] = start
        response = self._db.query(**query)
        logs = [_call_log(from_attrs(i)) for i in response.get("Items", [])]
        return logs, encode_token(response.get("LastEvaluatedKey"))


def _call_log(item: dict[str, Any]) -> CallLog:
    raw = item.pop("externalResponse", None)
    item["externalResponse"] = json.loads(raw) if raw else None
    return CallLog.model_validate(item)


def call_log_item(client_id: str, log: CallLog) -> dict[str, Any]:
    """A call log as stored: one format, written by a manual call and by a run's dial alike."""
    return {
        "pk": keys.campaign_pk(client_id, log.campaignId),
        "sk": keys.call_sk(log.uniqueId),
        **log.model_dump(exclude={"externalResponse"}),
        # The provider's answer is kept verbatim; as a string it needs no number conversion.
        "externalResponse": json.dumps(log.externalResponse) if log.externalResponse is not None else None,
    }
