"""Calls in progress: a slot per call, held from the dial until its final status.

Every call a run places (and every call of make-call) holds a *slot*: an item keyed by the
call's ``uniqueId`` under its client, with the moment it expires (``MaxCallSeconds`` after the
dial). Two counters count the slots held: one per client (every campaign and make-call) and
one per run. Taking a slot is part of the transaction that claims the dial, conditional on
the counters being under their caps, so no two dials can both take the last slot; the
client's call starts are counted per second the same way when it caps its rate.

A slot is given back in the transaction that writes the call's first final status (the
status webhook, or the dial itself when the call was never placed). A call whose final
status never comes would hold its slot for ever: once expired, whoever finds the cap full
*reaps* it (``SlotReaper``): the slot is released and the call counts as final ``unknown``,
so a lost webhook never leaks a slot, and never holds a run open.

This module builds the transaction items; the claims (runs/claims.py) and the status
updates (calls/status_store.py) put them into their own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from campaign_calling import keys
from campaign_calling.aws.dynamodb import TransactionConditionFailed, Transactions, from_attrs, to_attr, to_attrs
from campaign_calling.calls.logs import STATUS_RANK
from campaign_calling.calls.providers.lifecycle import rank
from campaign_calling.clock import iso_from_ms
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import outcome_attribute, run_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef, UpdateTypeDef

# The stack parameter MaxCallSeconds' default.
DEFAULT_MAX_CALL_SECONDS = 1800
COUNT_ATTRIBUTE = "callsInProgress"
TTL_ATTRIBUTE = "expiresAt"
# Slot items and counters outlive any call by far; DynamoDB's TTL then tidies them away.
_KEEP_SECONDS = 90 * 24 * 3600
# A rate window (one second of call starts) is only read during its second.
_RATE_KEEP_SECONDS = 3600
# The status an expired call is given: not a provider's word, ours.
EXPIRED_STATUS = "unknown"
EXPIRED_REASON = "no final status within MaxCallSeconds"


@dataclass(frozen=True)
class CallLimits:
    """The caps a dial is under: the run's (``maxConcurrentCalls`` of start-calling) and the
    client's (its settings). None: no cap."""

    run_calls: int | None = None
    client_calls: int | None = None
    client_calls_per_second: int | None = None
    # How long a call may hold its slot without a final status (the stack's MaxCallSeconds).
    max_call_seconds: int = DEFAULT_MAX_CALL_SECONDS


@dataclass(frozen=True)
class SlotOwner:
    """Whose slot: the client, the call, and the run it counts in (None: make-call)."""

    client_id: str
    unique_id: str
    campaign_id: str
    run_id: str | None = None
    # The run has retries: its contact is done only once the call is final (runs/retries.py),
    # so a reaped call (final unknown, never retried) counts the contact done.
    done_at_final: bool = False


def client_counter_key(client_id: str) -> dict[str, Any]:
    return to_attrs({"pk": keys.call_slots_pk(client_id), "sk": keys.CALL_SLOT_COUNT_SK})


def run_counter_key(client_id: str, campaign_id: str, run_id: str) -> dict[str, Any]:
    return to_attrs({"pk": keys.dial_claims_pk(client_id, campaign_id, run_id), "sk": keys.RUN_CALLS_SK})


def slot_key(client_id: str, unique_id: str) -> dict[str, Any]:
    return to_attrs({"pk": keys.call_slots_pk(client_id), "sk": keys.call_slot_sk(unique_id)})


# -- taking a slot ---------------------------------------------------------------------------


class SlotItems:
    """Where each part of a slot's acquisition sits in the caller's transaction, so that a
    cancellation can say which cap was full."""

    def __init__(self, table: str, owner: SlotOwner, limits: CallLimits, *, now_ms: int) -> None:
        self._table = table
        self._owner = owner
        self._limits = limits
        self._now_ms = now_ms
        self._max_call_ms = limits.max_call_seconds * 1000
        self.run_index: int | None = None
        self.client_index: int | None = None
        self.rate_index: int | None = None

    def acquire(self, first_index: int) -> list[TransactWriteItemTypeDef]:
        """The items that take the slot, for a transaction where they start at ``first_index``."""
        owner, limits = self._owner, self._limits
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_attrs(self._slot_item()),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Update": _count_up(self._table, client_counter_key(owner.client_id), limits.client_calls, self._ttl())},
        ]
        self.client_index = first_index + 1
        if owner.run_id is not None:
            self.run_index = first_index + len(items)
            counter = run_counter_key(owner.client_id, owner.campaign_id, owner.run_id)
            items.append({"Update": _count_up(self._table, counter, limits.run_calls, self._ttl())})
        if limits.client_calls_per_second is not None:
            self.rate_index = first_index + len(items)
            items.append({"Update": self._rate_update(limits.client_calls_per_second)})
        return items

    def refusal(self, exc: TransactionConditionFailed) -> str | None:
        """Which cap refused the slot ("run", "client", "rate"), or None when none did."""
        for name, index in (("run", self.run_index), ("client", self.client_index), ("rate", self.rate_index)):
            if index is not None and exc.failed(index):
                return name
        return None

    def _slot_item(self) -> dict[str, Any]:
        owner = self._owner
        return {
            "pk": keys.call_slots_pk(owner.client_id),
            "sk": keys.call_slot_sk(owner.unique_id),
            "kind": "call-slot",
            "uniqueId": owner.unique_id,
            "campaignId": owner.campaign_id,
            "runId": owner.run_id,
            "doneAtFinal": owner.done_at_final or None,
            "takenMs": self._now_ms,
            "releaseByMs": self._now_ms + self._max_call_ms,
            TTL_ATTRIBUTE: self._ttl(),
        }

    def _ttl(self) -> int:
        return (self._now_ms + self._max_call_ms) // 1000 + _KEEP_SECONDS

    def _rate_update(self, per_second: int) -> UpdateTypeDef:
        second = self._now_ms // 1000
        return {
            "TableName": self._table,
            "Key": to_attrs({"pk": keys.call_slots_pk(self._owner.client_id), "sk": keys.call_rate_sk(second)}),
            "ConditionExpression": "attribute_not_exists(calls) OR calls < :rate",
            "UpdateExpression": f"ADD calls :one SET {TTL_ATTRIBUTE} = :ttl",
            "ExpressionAttributeValues": {
                ":rate": to_attr(per_second),
                ":one": to_attr(1),
                ":ttl": to_attr(second + _RATE_KEEP_SECONDS),
            },
        }


def _count_up(table: str, key: dict[str, Any], cap: int | None, ttl: int) -> UpdateTypeDef:
    update: UpdateTypeDef = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": f"ADD {COUNT_ATTRIBUTE} :one SET {TTL_ATTRIBUTE} = :ttl",
        "ExpressionAttributeValues": {":one": to_attr(1), ":ttl": to_attr(ttl)},
    }
    if cap is not None:
        update["ConditionExpression"] = f"attribute_not_exists({COUNT_ATTRIBUTE}) OR {COUNT_ATTRIBUTE} < :cap"
        update["ExpressionAttributeValues"] = {**update["ExpressionAttributeValues"], ":cap": to_attr(cap)}
    return update


# -- giving it back ----------------------------------------------------------------------------


def release_items(table: str, owner: SlotOwner) -> list[TransactWriteItemTypeDef]:
    """The items that give a slot back: its delete first (conditional on it being there, so a
    slot is never given back twice), then the counters."""
    key = slot_key(owner.client_id, owner.unique_id)
    items: list[TransactWriteItemTypeDef] = [
        {"Delete": {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
        {"Update": _count_down(table, client_counter_key(owner.client_id))},
    ]
    if owner.run_id is not None:
        counter = run_counter_key(owner.client_id, owner.campaign_id, owner.run_id)
        items.append({"Update": _count_down(table, counter)})
    return items


def _count_down(table: str, key: dict[str, Any]) -> UpdateTypeDef:
    return {
        "TableName": table,
        "Key": key,
        "UpdateExpression": f"ADD {COUNT_ATTRIBUTE} :less",
        "ExpressionAttributeValues": {":less": to_attr(-1)},
    }


@dataclass(frozen=True)
class HeldSlot:
    owner: SlotOwner
    release_by_ms: int


class SlotStore:
    """Reads of the slots, and the release of those whose call never gave a final status."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        progress_table: str,
        call_logs_table: str,
        transactions: Transactions | None = None,
    ) -> None:
        self._db = dynamodb
        self._progress = progress_table
        self._call_logs = call_logs_table
        self._transactions = transactions or Transactions(dynamodb)

    @property
    def table(self) -> str:
        return self._progress

    def held(self, client_id: str) -> list[HeldSlot]:
        """The client's slots (a page: as many as its cap at most, when a cap is what sent us here)."""
        slots: list[HeldSlot] = []
        start: dict[str, Any] | None = None
        while True:
            query: dict[str, Any] = {
                "TableName": self._progress,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :slot)",
                "ExpressionAttributeValues": {
                    ":pk": to_attr(keys.call_slots_pk(client_id)),
                    ":slot": to_attr(keys.CALL_SLOT_PREFIX),
                },
                "ConsistentRead": True,
            }
            if start:
                query["ExclusiveStartKey"] = start
            response = self._db.query(**query)
            for raw in response.get("Items", []):
                item = from_attrs(raw)
                owner = SlotOwner(
                    client_id, item["uniqueId"], item["campaignId"], item.get("runId"), bool(item.get("doneAtFinal"))
                )
                slots.append(HeldSlot(owner, item["releaseByMs"]))
            start = response.get("LastEvaluatedKey")
            if not start:
                return slots

    def take(self, owner: SlotOwner, limits: CallLimits, *, now_ms: int) -> str | None:
        """Take a slot on its own (a call outside a run: make-call); the cap that refused it
        ("client", "rate"), or None when it was taken."""
        items = SlotItems(self._progress, owner, limits, now_ms=now_ms)
        try:
            self._transactions.write(items.acquire(first_index=0))
        except TransactionConditionFailed as exc:
            refusal = items.refusal(exc)
            if refusal is None:
                raise
            return refusal
        return None

    def give_back(self, owner: SlotOwner) -> bool:
        """A slot given back outside a final status (a call that was never placed)."""
        try:
            self._transactions.write(release_items(self._progress, owner))
        except TransactionConditionFailed:
            return False
        return True

    def reap_expired(self, client_id: str, *, now_ms: int) -> bool:
        """Release every slot of the client held past MaxCallSeconds; True when any was."""
        expired = [slot for slot in self.held(client_id) if slot.release_by_ms <= now_ms]
        return any([self.reap(slot, now_ms=now_ms) for slot in expired])

    def reap(self, slot: HeldSlot, *, now_ms: int) -> bool:
        """Release an expired slot; its call log becomes final ``unknown`` (and the run's
        outcome moves from pending to unknown) unless a final status got there first.
        False when the slot was already gone or not yet expired."""
        owner = slot.owner
        release = release_items(self._progress, owner)
        release[0]["Delete"]["ConditionExpression"] = "attribute_exists(pk) AND releaseByMs <= :now"
        release[0]["Delete"]["ExpressionAttributeValues"] = {":now": to_attr(now_ms)}
        log: TransactWriteItemTypeDef = {"Update": self._log_unknown(owner, now_ms)}
        outcome: list[TransactWriteItemTypeDef] = []
        if owner.run_id is not None:
            progress = run_key(RunRef(owner.client_id, owner.campaign_id, owner.run_id))
            outcome.append({"Update": _pending_to_unknown(self._progress, progress, owner.done_at_final)})
        try:
            self._transactions.write([*release, log, *outcome])
            return True
        except TransactionConditionFailed as exc:
            if exc.failed(0):
                return False
        # The log is final already, or there is none (the dial never logged), or the run's
        # progress is gone: the slot is released all the same.
        try:
            self._transactions.write(release)
        except TransactionConditionFailed:
            return False
        return True

    def _log_unknown(self, owner: SlotOwner, now_ms: int) -> UpdateTypeDef:
        return {
            "TableName": self._call_logs,
            "Key": to_attrs(
                {"pk": keys.campaign_pk(owner.client_id, owner.campaign_id), "sk": keys.call_sk(owner.unique_id)}
            ),
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#rank) OR #rank < :final)",
            "UpdateExpression": "SET #status = :unknown, #rank = :final, endedReason = :why, endedAt = :at",
            "ExpressionAttributeNames": {"#status": "status", "#rank": STATUS_RANK},
            "ExpressionAttributeValues": {
                ":unknown": to_attr(EXPIRED_STATUS),
                ":final": to_attr(rank(EXPIRED_STATUS)),
                ":why": to_attr(EXPIRED_REASON),
                ":at": to_attr(iso_from_ms(now_ms)),
            },
        }


def _pending_to_unknown(table: str, progress_key: dict[str, Any], contact_done: bool) -> UpdateTypeDef:
    return {
        "TableName": table,
        "Key": progress_key,
        "ConditionExpression": "attribute_exists(pk)",
        "UpdateExpression": "ADD #pending :less, #unknown :one" + (", contactsDone :one" if contact_done else ""),
        "ExpressionAttributeNames": {
            "#pending": outcome_attribute("pending"),
            "#unknown": outcome_attribute(EXPIRED_STATUS),
        },
        "ExpressionAttributeValues": {":less": to_attr(-1), ":one": to_attr(1)},
    }


# -- waiting for one -----------------------------------------------------------------------------

# A wait for a slot grows by a second each time, up to this: a freed slot is seen within
# seconds while calls are short, and a long wait costs few Step Functions transitions.
LONGEST_SLOT_WAIT_SECONDS = 10


def slot_wait_seconds(waits_so_far: int, *, now_ms: int, next_release_by_ms: int | None, refusal: str) -> int:
    """How long to wait before trying for a slot again: a second when the rate was full (a
    new second brings a new window); else 1, 2, 3 ... 10 s, but never past the moment the
    oldest slot expires (it is reaped then, whatever its webhook does)."""
    if refusal == "rate":
        return 1
    wait = min(waits_so_far + 1, LONGEST_SLOT_WAIT_SECONDS)
    if next_release_by_ms is not None:
        wait = min(wait, max(1, -(-(next_release_by_ms - now_ms) // 1000)))
    return wait
