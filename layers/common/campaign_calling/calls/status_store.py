"""The data side of status webhooks: the provider call index, and the conditional update of
a call log's lifecycle with the run's outcomes (calls/status_updates.py says why)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from campaign_calling import keys
from campaign_calling.aws.dynamodb import TransactionConditionFailed, Transactions, from_attrs, to_attr, to_attrs
from campaign_calling.aws.errors import error_code
from campaign_calling.calls.logs import STATUS_RANK
from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.calls.slots import SlotOwner, release_items
from campaign_calling.calls.status_updates import IndexedCall, StatusChange
from campaign_calling.models import Account, RetryPolicy
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import TTL_ATTRIBUTE, outcome_attribute, run_key, snapshot_history
from campaign_calling.runs.retries import FollowUp
from campaign_calling.runs.retry_store import CallOfContact, follow_up_counter, follow_up_items

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef


class ProviderCallIndex:
    def __init__(self, dynamodb: DynamoDBClient, call_logs_table: str) -> None:
        self._db = dynamodb
        self._table = call_logs_table

    def find(self, provider: Dialect, provider_call_id: str) -> IndexedCall | None:
        # Strongly consistent: a webhook may follow the call's placing closely.
        response = self._db.get_item(
            TableName=self._table,
            Key=to_attrs({"pk": keys.provider_call_pk(provider, provider_call_id), "sk": keys.PROVIDER_CALL_SK}),
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        item = from_attrs(response["Item"])
        of_run = None
        if "seq" in item and "attempt" in item:
            of_run = CallOfContact(item["seq"], item.get("index", -1), item.get("contactId", ""), item["attempt"])
        return IndexedCall(
            provider=provider,
            client_id=item["clientId"],
            campaign_id=item["campaignId"],
            unique_id=item["uniqueId"],
            run_id=item.get("runId"),
            account=cast(Account, item.get("account", "default")),
            of_run=of_run,
            retry=RetryPolicy.model_validate(item["retry"]) if item.get("retry") else None,
        )


class CallStatusWriter:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        call_logs_table: str,
        progress_table: str,
        transactions: Transactions | None = None,
    ) -> None:
        self._db = dynamodb
        self._call_logs = call_logs_table
        self._progress = progress_table
        self._transactions = transactions or Transactions(dynamodb)

    def apply(self, call: IndexedCall, change: StatusChange, *, now_ms: int, follow_up: FollowUp | None = None) -> bool:
        log_update = self._log_update(call, change)
        if change.final:
            # The first final status also moves the run's outcome and gives the call's slot
            # back (calls/slots.py). Either may be gone: the run's progress expired, the slot
            # reaped after MaxCallSeconds or never taken (a call placed before slots existed);
            # then the rest is written without it.
            outcome: list[TransactWriteItemTypeDef] = []
            if call.run_id is not None:
                ref = RunRef(call.client_id, call.campaign_id, call.run_id)
                outcome.append({"Update": self._outcome_update(call, change, now_ms, follow_up)})
                if call.of_run is not None:
                    outcome += follow_up_items(self._progress, ref, call.of_run, follow_up)
            owner = SlotOwner(call.client_id, call.unique_id, call.campaign_id, call.run_id)
            release = release_items(self._progress, owner)
            while outcome or release:
                items: list[TransactWriteItemTypeDef] = [{"Update": log_update}, *outcome, *release]
                try:
                    self._transactions.write(items)
                    if outcome and call.run_id is not None:
                        # A run that has ended keeps its counters in its history, which
                        # outlives the progress item just changed (runs/history_store.py).
                        snapshot_history(
                            self._db,
                            self._progress,
                            RunRef(call.client_id, call.campaign_id, call.run_id),
                            ended_only=True,
                        )
                    return True
                except TransactionConditionFailed as exc:
                    if exc.failed(0):
                        return False
                    if outcome and any(exc.failed(1 + i) for i in range(len(outcome))):
                        outcome = []
                    elif release and exc.failed(1 + len(outcome)):
                        release = []
                    else:
                        return False
        try:
            self._db.update_item(**log_update)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _log_update(self, call: IndexedCall, change: StatusChange) -> UpdateTypeDef:
        fields: dict[str, Any] = {
            "status": change.status,
            STATUS_RANK: change.rank,
            "answeredBy": change.answered_by,
            "durationSeconds": change.duration_seconds,
            "endedReason": change.ended_reason,
            "endedAt": change.ended_at,
        }
        present = {name: value for name, value in fields.items() if value is not None}
        names = {f"#f{i}": name for i, name in enumerate(present)}
        values = {f":v{i}": to_attr(value) for i, value in enumerate(present.values())}
        return {
            "TableName": self._call_logs,
            "Key": to_attrs(
                {"pk": keys.campaign_pk(call.client_id, call.campaign_id), "sk": keys.call_sk(call.unique_id)}
            ),
            # Only forward: a log without a rank is older than lifecycles and takes any status.
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#rank) OR #rank < :rank)",
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(present))),
            "ExpressionAttributeNames": {**names, "#rank": STATUS_RANK},
            "ExpressionAttributeValues": {**values, ":rank": to_attr(change.rank)},
        }

    def _outcome_update(
        self, call: IndexedCall, change: StatusChange, now_ms: int, follow_up: FollowUp | None
    ) -> UpdateTypeDef:
        assert call.run_id is not None
        clause, values = follow_up_counter(follow_up)
        return {
            "TableName": self._progress,
            "Key": run_key(RunRef(call.client_id, call.campaign_id, call.run_id)),
            # An expired progress item reads as absent (DynamoDB deletes it lazily).
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)",
            "UpdateExpression": "ADD #pending :less, #final :one" + clause,
            "ExpressionAttributeNames": {
                "#ttl": TTL_ATTRIBUTE,
                "#pending": outcome_attribute("pending"),
                "#final": outcome_attribute(change.status),
            },
            "ExpressionAttributeValues": {
                ":now": to_attr(now_ms // 1000),
                ":less": to_attr(-1),
                ":one": to_attr(1),
                **values,
            },
        }
