"""Call logs: one item per call attempt, newest first within a campaign; and the provider
call index, which leads a status webhook from the provider's call id to its call log."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from campaign_calling import keys
from campaign_calling.aws.dynamodb import (
    TransactionConditionFailed,
    Transactions,
    decode_token,
    encode_token,
    from_attrs,
    to_attr,
    to_attrs,
)
from campaign_calling.calls.log_filters import CallLogFilter
from campaign_calling.calls.providers.lifecycle import rank
from campaign_calling.errors import InvalidRequest
from campaign_calling.models import CallLog, RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

    from campaign_calling.runs.retry_store import CallOfContact

logger = logging.getLogger(__name__)

NO_FILTER = CallLogFilter()
# Stored beside a log's status: a status update is conditional on raising it, so a late or
# repeated webhook can never move a call backwards (calls/status_store.py).
STATUS_RANK = "statusRank"


class CallLogRepository:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str, transactions: Transactions | None = None) -> None:
        self._db = dynamodb
        self._table = table_name
        self._transactions = transactions or Transactions(dynamodb)

    def put(self, client_id: str, log: CallLog) -> None:
        """The log, and its provider call index entry in the same transaction. An index entry
        already there (the provider gave an id we indexed before) is left as it is: the log
        is written without one rather than not at all."""
        index = provider_call_index_put(self._table, client_id, log)
        put_log: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self._table,
                "Item": to_attrs(call_log_item(client_id, log)),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        if index is not None:
            try:
                self._transactions.write([put_log, index])
                return
            except TransactionConditionFailed as exc:
                if exc.failed(0):
                    raise
                index_collision(log)
        self._db.put_item(**put_log["Put"])

    def list(
        self,
        client_id: str,
        campaign_id: str,
        limit: int,
        token: str | None,
        filters: CallLogFilter = NO_FILTER,
    ) -> tuple[list[CallLog], str | None]:
        """A page of the campaign's call logs, newest first, that ``filters`` lets through.

        A time range (and a run's start) is a key condition. A run or a status is a filter
        expression, which DynamoDB applies after ``Limit``: a query may then return fewer
        logs than asked, even none, with more to read. So the page is filled by reading on,
        up to MAX_FILTERED_QUERIES queries; when the last query found more than the page
        holds, the token points after the last log returned (not after the last one read),
        so none is skipped. A page may still come back short (or empty) with a token when
        matches are rare: a client reads on until the token is null."""
        pk = keys.campaign_pk(client_id, campaign_id)
        key_range = _key_range(filters)
        if key_range is None:
            condition = "pk = :pk AND begins_with(sk, :prefix)"
            bounds = {":prefix": to_attr(keys.CALL_PREFIX)}
        else:
            condition = "pk = :pk AND sk BETWEEN :low AND :high"
            bounds = {":low": to_attr(key_range[0]), ":high": to_attr(key_range[1])}
        query: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": to_attr(pk), **bounds},
            # uniqueIds start with the epoch milliseconds, so descending key order is newest first.
            "ScanIndexForward": False,
            "Limit": limit,
        }
        expression, names, values = _filter_expression(filters)
        if expression:
            query["FilterExpression"] = expression
            if names:
                query["ExpressionAttributeNames"] = names
            query["ExpressionAttributeValues"] = {**query["ExpressionAttributeValues"], **values}
            # Read more than the page per query: most of what is read may be left out.
            query["Limit"] = min(MAX_FILTERED_READ, max(limit * 4, 100))
        start = decode_token(token, partition_key=pk, sort_prefix=keys.CALL_PREFIX)
        if start:
            if key_range is not None and not key_range[0] <= start["sk"]["S"] <= key_range[1]:
                # DynamoDB refuses a start key outside the key condition; say which input.
                raise InvalidRequest("nextToken does not belong to a list with these filters")
            query["ExclusiveStartKey"] = start
        logs: list[CallLog] = []
        for _ in range(MAX_FILTERED_QUERIES if expression else 1):
            response = self._db.query(**query)
            logs += [_call_log(from_attrs(i)) for i in response.get("Items", [])]
            last_key = response.get("LastEvaluatedKey")
            if len(logs) > limit:
                logs = logs[:limit]
                return logs, self.position_after(client_id, logs[-1])
            if len(logs) == limit or not last_key:
                return logs, encode_token(last_key)
            query["ExclusiveStartKey"] = last_key
        return logs, encode_token(last_key)

    def position_after(self, client_id: str, log: CallLog) -> str:
        """A nextToken that reads on after ``log`` (an export stops within a page)."""
        token = encode_token(
            to_attrs({"pk": keys.campaign_pk(client_id, log.campaignId), "sk": keys.call_sk(log.uniqueId)})
        )
        assert token is not None  # a key is never empty
        return token


# A filtered list reads at most this many logs per query and this many queries per page.
MAX_FILTERED_READ = 1000
MAX_FILTERED_QUERIES = 10
# Every call log's key is CALL#aidial-<13 digits of epoch ms>-<random> (ids.call_unique_id).
_CALL_KEY_PREFIX = f"{keys.CALL_PREFIX}aidial-"


def _key_range(filters: CallLogFilter) -> tuple[str, str] | None:
    """The call logs' keys between the filter's start times, both ends included; None
    without a time bound (every key of a call log, as before filters existed)."""
    low_ms, high_ms = filters.start_bounds()
    if low_ms is None and high_ms is None:
        return None
    low = _CALL_KEY_PREFIX if low_ms is None else f"{_CALL_KEY_PREFIX}{max(low_ms, 0):013d}"
    # "~" sorts after every character of an id: every log of that millisecond is in.
    high = f"{keys.CALL_PREFIX}~" if high_ms is None else f"{_CALL_KEY_PREFIX}{max(high_ms - 1, 0):013d}~"
    return low, high


def _filter_expression(filters: CallLogFilter) -> tuple[str, dict[str, str], dict[str, Any]]:
    parts: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    if filters.run_id is not None:
        parts.append("runId = :runId")
        values[":runId"] = to_attr(filters.run_id)
    if filters.status is not None:
        parts.append("#status = :status")
        names["#status"] = "status"
        values[":status"] = to_attr(filters.status)
    return " AND ".join(parts), names, values


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
        "account": log.account,
        STATUS_RANK: rank(log.status) if log.status is not None else None,
    }


def provider_call_index_item(
    client_id: str, log: CallLog, of_run: tuple[CallOfContact, RetryPolicy | None] | None = None
) -> dict[str, Any] | None:
    """The index entry of a call the provider gave an id: whose call it is, and for a run's
    call which contact and attempt it was and the run's retries (what its final status
    leads to: runs/retries.py). None without an id, or with one too long to index (its
    webhooks then find no call)."""
    if not log.providerCallId or len(log.providerCallId) > keys.MAX_INDEXED_PROVIDER_CALL_ID:
        return None
    run_call: dict[str, Any] = {}
    if of_run is not None:
        call, retry = of_run
        run_call = {
            "seq": call.seq,
            "index": call.index,
            "attempt": call.attempt,
            "contactId": call.contact_id,
            "retry": retry.model_dump() if retry is not None else None,
        }
    return {
        **run_call,
        "pk": keys.provider_call_pk(log.provider, log.providerCallId),
        "sk": keys.PROVIDER_CALL_SK,
        "kind": "provider-call",
        "provider": log.provider,
        "clientId": client_id,
        "campaignId": log.campaignId,
        "uniqueId": log.uniqueId,
        "runId": log.runId,
        "account": log.account,
    }


def provider_call_index_put(
    table: str, client_id: str, log: CallLog, of_run: tuple[CallOfContact, RetryPolicy | None] | None = None
) -> TransactWriteItemTypeDef | None:
    """The index entry's Put for the transaction that writes ``log``: never over another one."""
    item = provider_call_index_item(client_id, log, of_run)
    if item is None:
        return None
    return {"Put": {"TableName": table, "Item": to_attrs(item), "ConditionExpression": "attribute_not_exists(pk)"}}


def index_collision(log: CallLog) -> None:
    # Ids only: the call's uniqueId is ours and names no one.
    logger.warning(
        "provider call id already indexed for another call log; this one is written without an index entry",
        extra={"unique_id": log.uniqueId, "provider": log.provider},
    )
