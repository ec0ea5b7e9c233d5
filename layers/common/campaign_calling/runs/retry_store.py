"""The queue of a run on DynamoDB: one item per contact due later, beside the run's dial
claims, sorted by when it is due then by the contact's place in the campaign. A retry
(runs/retries.py says when one is written) and a deferred contact (one outside its calling
window, or whose number was called too recently: runs/claims.DialClaims.defer) are both
served from here by the page step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from campaign_calling import keys
from campaign_calling.aws.dynamodb import from_attrs, to_attr, to_attrs
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.retries import ContactDone, FollowUp, RetryDue

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Retry items outlive any run, like the claims.
_KEEP_SECONDS = 90 * 24 * 3600
DONE_COUNTER = "contactsDone"
PENDING_COUNTER = "retriesPending"
# Contacts deferred before their first call (a deferred retry stays in retriesPending).
WAITING_COUNTER = "contactsWaiting"


@dataclass(frozen=True)
class CallOfContact:
    """Which contact of the run a call was, and its attempt: what a follow-up needs."""

    seq: int
    index: int
    contact_id: str
    attempt: int


@dataclass(frozen=True)
class DueRetry:
    seq: int
    index: int
    contact_id: str
    attempt: int
    due_ms: int


def retry_key(ref: RunRef, due_ms: int, seq: int, attempt: int) -> dict[str, Any]:
    return to_attrs(
        {
            "pk": keys.dial_claims_pk(ref.client_id, ref.campaign_id, ref.run_id),
            "sk": keys.retry_sk(due_ms, seq, attempt),
        }
    )


def follow_up_counter(follow_up: FollowUp | None) -> tuple[str, dict[str, Any]]:
    """The ``ADD`` clause (with its values) a follow-up adds to the run item's update:
    ``", contactsDone :done"`` or ``", retriesPending :due"``, or nothing."""
    if isinstance(follow_up, ContactDone):
        return f", {DONE_COUNTER} :done", {":done": to_attr(1)}
    if isinstance(follow_up, RetryDue):
        return f", {PENDING_COUNTER} :due", {":due": to_attr(1)}
    return "", {}


def follow_up_items(
    table: str, ref: RunRef, call: CallOfContact, follow_up: FollowUp | None
) -> list[TransactWriteItemTypeDef]:
    """The retry item a follow-up writes (none for a contact done)."""
    if not isinstance(follow_up, RetryDue):
        return []
    return [
        queue_put(
            table,
            ref,
            CallOfContact(call.seq, call.index, call.contact_id, follow_up.attempt),
            follow_up.due_ms,
            "retry",
        )
    ]


def queue_put(table: str, ref: RunRef, call: CallOfContact, due_ms: int, kind: str) -> TransactWriteItemTypeDef:
    """A contact's attempt queued until ``due_ms`` (``kind``: "retry" or "deferred")."""
    item = {
        **from_attrs(retry_key(ref, due_ms, call.seq, call.attempt)),
        "kind": kind,
        "seq": call.seq,
        "index": call.index,
        "contactId": call.contact_id,
        "attempt": call.attempt,
        "dueMs": due_ms,
        "expiresAt": due_ms // 1000 + _KEEP_SECONDS,
    }
    return {"Put": {"TableName": table, "Item": to_attrs(item), "ConditionExpression": "attribute_not_exists(pk)"}}


def take_retry_items(table: str, ref: RunRef, seq: int, attempt: int, due_ms: int) -> list[TransactWriteItemTypeDef]:
    """The delete of a queue item by the claim of its attempt (or its deferral to a later
    time): conditional, so an item is taken once."""
    return [
        {
            "Delete": {
                "TableName": table,
                "Key": retry_key(ref, due_ms, seq, attempt),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
    ]


class RetryQueue:
    """The queue of a run (its retries and deferred contacts), read by the page step."""

    def __init__(self, dynamodb: DynamoDBClient, progress_table: str) -> None:
        self._db = dynamodb
        self._table = progress_table

    def due(self, ref: RunRef, *, now_ms: int, limit: int) -> list[DueRetry]:
        """The items due by ``now_ms``, soonest first (at one moment, in the campaign's order)."""
        return self._query(ref, upto=keys.retry_sk(now_ms, 9_999_999_999, 99), limit=limit)

    def next_due_ms(self, ref: RunRef) -> int | None:
        """When the soonest item is due; None when the queue is empty."""
        found = self._query(ref, upto=keys.RETRY_PREFIX + "~", limit=1)
        return found[0].due_ms if found else None

    def _query(self, ref: RunRef, *, upto: str, limit: int) -> list[DueRetry]:
        response = self._db.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :upto",
            ExpressionAttributeValues={
                ":pk": to_attr(keys.dial_claims_pk(ref.client_id, ref.campaign_id, ref.run_id)),
                ":first": to_attr(keys.RETRY_PREFIX),
                ":upto": to_attr(upto),
            },
            ConsistentRead=True,
            Limit=limit,
        )
        items = [from_attrs(raw) for raw in response.get("Items", [])]
        return [DueRetry(i["seq"], i["index"], i["contactId"], i["attempt"], i["dueMs"]) for i in items]
