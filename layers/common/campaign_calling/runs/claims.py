"""Dial claims: the items that make each contact of a run dialed at most once, and logged
and counted exactly once.

A claim is written only while the run is running (in one transaction with the run's
pacing clock); the call log, the claim's closing and the run's counters are written in
one transaction too, so a retried dial can never count twice. Every transaction goes
through ``Transactions``, which retries conflicts and throttling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from campaign_calling import keys
from campaign_calling.aws.dynamodb import TransactionConditionFailed, Transactions, from_attrs, to_attr, to_attrs
from campaign_calling.calls.logs import call_log_item, index_collision, provider_call_index_put
from campaign_calling.calls.providers.lifecycle import is_final
from campaign_calling.calls.slots import CallLimits, SlotItems, SlotOwner, release_items
from campaign_calling.clock import iso_from_ms
from campaign_calling.compliance.number_limits import NumberCall, record_call_update
from campaign_calling.models import CallLog, RetryPolicy
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import TTL_ATTRIBUTE, outcome_attribute, run_key
from campaign_calling.runs.retries import FollowUp
from campaign_calling.runs.retry_store import (
    PENDING_COUNTER,
    WAITING_COUNTER,
    CallOfContact,
    follow_up_counter,
    follow_up_items,
    queue_put,
    take_retry_items,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Claims outlive any run (a million contacts at the longest delay is still shorter).
CLAIM_TTL_SECONDS = 90 * 24 * 3600


# A deferral writes at most this many contacts in one transaction (two items each, and the
# run's counter: DynamoDB takes 100 items a transaction).
DEFERRALS_PER_TRANSACTION = 40


@dataclass(frozen=True)
class DialClaim:
    status: str  # "dialing" or "done"; "deferred" while its contact waits in the run's queue
    unique_id: str
    started_ms: int
    outcome: str | None


class ClaimResult:
    CLAIMED = "claimed"
    RUN_NOT_RUNNING = "run-not-running"
    ALREADY_CLAIMED = "already-claimed"
    # No call slot: the run's cap, the client's cap or the client's rate was full.
    NO_SLOT_RUN = "no-slot-run"
    NO_SLOT_CLIENT = "no-slot-client"
    NO_SLOT_RATE = "no-slot-rate"
    DEFERRED = "deferred"
    # The number was called (by another campaign or make-call) since its use was read.
    NUMBER_CHANGED = "number-changed"


@dataclass(frozen=True)
class Deferral:
    """A contact's attempt put off until ``due_ms``; ``served_due_ms``: it came from the run's
    queue, due then (its item moves), else it is a contact the run reaches for the first time."""

    call: CallOfContact
    due_ms: int
    served_due_ms: int | None = None


class DialClaims:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        progress_table: str,
        call_logs_table: str,
        transactions: Transactions | None = None,
    ) -> None:
        self._db = dynamodb
        self._transactions = transactions or Transactions(dynamodb)
        self._progress = progress_table
        self._call_logs = call_logs_table

    def get(self, ref: RunRef, seq: int, attempt: int = 1) -> DialClaim | None:
        response = self._db.get_item(TableName=self._progress, Key=_claim_key(ref, seq, attempt), ConsistentRead=True)
        if "Item" not in response:
            return None
        item = from_attrs(response["Item"])
        # A deferred contact's claim has no call yet.
        return DialClaim(item["status"], item.get("uniqueId", ""), item.get("startedMs", 0), item.get("outcome"))

    def claim(
        self,
        ref: RunRef,
        *,
        seq: int,
        index: int,
        unique_id: str,
        now_ms: int,
        limits: CallLimits | None = None,
        attempt: int = 1,
        due_ms: int | None = None,
        done_at_final: bool = False,
        number: NumberCall | None = None,
    ) -> str:
        """Reserve one contact's dial in a run, only while the run is running.

        The claim is the promise that this contact is dialed at most once in the run;
        the run's pacing clock and current index move in the same transaction.
        A transaction that is retried after a conflict wrote nothing the first time, so
        a claim found on a later attempt is another attempt's, never this one's.
        Given ``limits``, the call's slot is taken in the same transaction (calls/slots.py):
        no slot, no claim. A retry (``attempt`` > 1) takes its retry item (due at ``due_ms``)
        in the same transaction: it is dialed once however often it is served.
        """
        slot = (
            SlotItems(
                self._progress,
                SlotOwner(ref.client_id, unique_id, ref.campaign_id, ref.run_id, done_at_final),
                limits,
                now_ms=now_ms,
            )
            if limits is not None
            else None
        )
        # The call recorded against the number's limits (compliance/number_limits.py).
        numbered: list[TransactWriteItemTypeDef] = (
            [{"Update": record_call_update(self._progress, number)}] if number is not None else []
        )
        # From the run's queue: a retry, or a contact deferred earlier (its claim "deferred").
        queued = due_ms is not None
        taken = take_retry_items(self._progress, ref, seq, attempt, due_ms) if due_ms is not None else []
        # A queued contact leaves claimedSeq alone: it is where a resume goes on with the
        # contacts; it leaves the queue's count instead.
        counter = PENDING_COUNTER if attempt > 1 else WAITING_COUNTER
        position = (
            f"SET pacedFromMs = :now, currentIndex = :index ADD {counter} :less"
            if queued
            else "SET pacedFromMs = :now, currentIndex = :index, claimedSeq = :seq"
        )
        values = {":less": to_attr(-1)} if queued else {":seq": to_attr(seq)}
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._progress,
                            "Key": run_key(ref),
                            "ConditionExpression": "#status = :running",
                            "UpdateExpression": position,
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":running": to_attr("running"),
                                ":now": to_attr(now_ms),
                                ":index": to_attr(index),
                                **values,
                            },
                        }
                    },
                    _claim_put(
                        self._progress,
                        {
                            "pk": keys.dial_claims_pk(ref.client_id, ref.campaign_id, ref.run_id),
                            "sk": keys.dial_claim_sk(seq, attempt),
                            "kind": "dial-claim",
                            "status": "dialing",
                            "uniqueId": unique_id,
                            "startedMs": now_ms,
                            TTL_ATTRIBUTE: now_ms // 1000 + CLAIM_TTL_SECONDS,
                        },
                        queued=queued,
                    ),
                    *taken,
                    *numbered,
                    *(slot.acquire(first_index=2 + len(taken) + len(numbered)) if slot is not None else []),
                ]
            )
        except TransactionConditionFailed as exc:
            if exc.failed(1) or (taken and exc.failed(2)):
                return ClaimResult.ALREADY_CLAIMED
            if exc.failed(0):
                return ClaimResult.RUN_NOT_RUNNING
            if numbered and exc.failed(2 + len(taken)):
                return ClaimResult.NUMBER_CHANGED
            refusal = slot.refusal(exc) if slot is not None else None
            if refusal is not None:
                return _NO_SLOT[refusal]
            raise
        return ClaimResult.CLAIMED

    def defer(self, ref: RunRef, deferrals: list[Deferral]) -> str:
        """Put contacts off until they are due, while the run is running: each gets a claim
        marked "deferred" (so the run never dials it from its page again) and an item in the
        run's queue, in one transaction; the page step serves it when it is due and its claim
        turns the mark into a dial. Several contacts (all reached for the first time) go in
        one transaction; a contact from the queue goes alone, its item moving to the new time.
        ALREADY_CLAIMED: some contact was claimed or deferred already (nothing written)."""
        first = [d for d in deferrals if d.served_due_ms is None]
        assert len(first) == len(deferrals) or len(deferrals) == 1, "a queued contact is deferred alone"
        # Contacts deferred before their first call are counted waiting (a retry stays pending).
        waiting = sum(d.call.attempt == 1 for d in first)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._progress,
                    "Key": run_key(ref),
                    "ConditionExpression": "#status = :running",
                    "UpdateExpression": f"ADD {WAITING_COUNTER} :waiting",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":running": to_attr("running"), ":waiting": to_attr(waiting)},
                }
            }
        ]
        for d in deferrals:
            c = d.call
            if d.served_due_ms is not None and d.served_due_ms == d.due_ms:
                continue
            items.append(
                _claim_put(
                    self._progress,
                    {
                        **from_attrs(_claim_key(ref, c.seq, c.attempt)),
                        "kind": "dial-claim",
                        "status": "deferred",
                        "dueMs": d.due_ms,
                        TTL_ATTRIBUTE: d.due_ms // 1000 + CLAIM_TTL_SECONDS,
                    },
                    queued=d.served_due_ms is not None,
                )
            )
            if d.served_due_ms is not None:
                items.extend(take_retry_items(self._progress, ref, c.seq, c.attempt, d.served_due_ms))
            items.append(queue_put(self._progress, ref, c, d.due_ms, "deferred"))
        try:
            self._transactions.write(items)
        except TransactionConditionFailed as exc:
            return ClaimResult.RUN_NOT_RUNNING if exc.failed(0) else ClaimResult.ALREADY_CLAIMED
        return ClaimResult.DEFERRED

    def complete(
        self,
        ref: RunRef,
        *,
        seq: int,
        log: CallLog,
        now_ms: int,
        provider_failure: bool = True,
        release_slot: bool = False,
        call: CallOfContact | None = None,
        follow_up: FollowUp | None = None,
        retry: RetryPolicy | None = None,
    ) -> bool:
        """Write the call log, close the claim and count the call, atomically.
        False when the claim was already closed (a duplicate delivery of the same dial).

        Whatever the run's status: a call that was placed is logged and counted. Conflicts
        (e.g. with a stop's transaction on the run item) are retried; if DynamoDB stays
        busy, DependencyUnavailable fails the dial step and its retry settles the claim.
        A retry never counts twice: the log must not exist and the claim must be open.
        A failure that says nothing about the provider (``provider_failure=False``: the
        contact was deleted) leaves the run of consecutive failures as it is.

        The call's outcome counts as pending until its final status arrives (a call never
        placed is already final: failed), and the provider call index entry is written with
        the log; an entry already there is left alone and the log written without it. A call
        final already gives its slot back here (``release_slot``: the dial took one).

        ``call`` says which contact and attempt it was (the index entry keeps it, with the
        run's ``retry``, for the follow-up of its final status); ``follow_up`` is what this log
        leads to now (runs/retries.at_log): the contact done, or its retry written."""
        index = provider_call_index_put(
            self._call_logs, ref.client_id, log, of_run=(call, retry) if call is not None else None
        )
        call = call or CallOfContact(seq, -1, log.contactId, 1)
        attempt = call.attempt
        final = log.status is not None and is_final(log.status)
        release = (
            release_items(self._progress, SlotOwner(ref.client_id, log.uniqueId, ref.campaign_id, ref.run_id))
            if release_slot and final
            else []
        )
        # The index entry and the slot's release are extras: when one's condition fails (an
        # entry already there; a slot already given back), the rest is written without it.
        for _ in range(3):
            extras = [*([index] if index is not None else []), *release]
            try:
                return self._complete(
                    ref,
                    seq=seq,
                    attempt=attempt,
                    log=log,
                    now_ms=now_ms,
                    provider_failure=provider_failure,
                    extras=[*extras, *follow_up_items(self._progress, ref, call, follow_up)],
                    follow_up_counters=follow_up_counter(follow_up),
                )
            except TransactionConditionFailed as exc:
                if any(exc.failed(i) for i in range(3)):
                    return False
                if index is not None and exc.failed(3):
                    index_collision(log)
                    index = None
                elif release and exc.failed(3 + (index is not None)):
                    release = []
                else:
                    return False
        return False

    def _complete(
        self,
        ref: RunRef,
        *,
        seq: int,
        attempt: int,
        log: CallLog,
        now_ms: int,
        provider_failure: bool,
        extras: list[TransactWriteItemTypeDef],
        follow_up_counters: tuple[str, dict[str, Any]],
    ) -> bool:
        follow_up_clause, follow_up_values = follow_up_counters
        succeeded = log.outcome == "success"
        # The next dial is paced from this moment: the provider has answered, so it has
        # surely received this call. A success resets the run of consecutive failures, a
        # failure extends it.
        if succeeded:
            counters = (
                "SET lastCallTime = :time, pacedFromMs = :now, consecutiveFailures = :zero "
                "ADD completedCalls :one, successfulCalls :one"
            )
        else:
            counters = "SET lastCallTime = :time, pacedFromMs = :now ADD completedCalls :one, failedCalls :one"
            if provider_failure:
                counters += ", consecutiveFailures :one"
        counters += ", #outcome :one" + follow_up_clause
        outcome = log.status if log.status is not None and is_final(log.status) else "pending"
        self._transactions.write(
            [
                {
                    "Put": {
                        "TableName": self._call_logs,
                        "Item": to_attrs(call_log_item(ref.client_id, log)),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._progress,
                        "Key": _claim_key(ref, seq, attempt),
                        "ConditionExpression": "#status = :dialing",
                        "UpdateExpression": "SET #status = :done, outcome = :outcome",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            ":dialing": to_attr("dialing"),
                            ":done": to_attr("done"),
                            ":outcome": to_attr(log.outcome),
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": self._progress,
                        "Key": run_key(ref),
                        # No status condition: a call in flight when the run was stopped
                        # still happened and still counts.
                        "ConditionExpression": "attribute_exists(pk)",
                        "UpdateExpression": counters,
                        "ExpressionAttributeNames": {"#outcome": outcome_attribute(outcome)},
                        "ExpressionAttributeValues": {
                            ":time": to_attr(iso_from_ms(now_ms)),
                            ":now": to_attr(now_ms),
                            ":one": to_attr(1),
                            **({":zero": to_attr(0)} if succeeded else {}),
                            **follow_up_values,
                        },
                    }
                },
                *extras,
            ]
        )
        return True


_NO_SLOT = {"run": ClaimResult.NO_SLOT_RUN, "client": ClaimResult.NO_SLOT_CLIENT, "rate": ClaimResult.NO_SLOT_RATE}


def _claim_put(table: str, item: dict[str, Any], *, queued: bool) -> TransactWriteItemTypeDef:
    """A contact reached from its page must have no claim; one from the queue may have its
    deferral's (a retry has none until dialed)."""
    if not queued:
        return {"Put": {"TableName": table, "Item": to_attrs(item), "ConditionExpression": "attribute_not_exists(pk)"}}
    return {
        "Put": {
            "TableName": table,
            "Item": to_attrs(item),
            "ConditionExpression": "attribute_not_exists(pk) OR #claim = :deferred",
            "ExpressionAttributeNames": {"#claim": "status"},
            "ExpressionAttributeValues": {":deferred": to_attr("deferred")},
        }
    }


def _claim_key(ref: RunRef, seq: int, attempt: int = 1) -> dict[str, Any]:
    return to_attrs(
        {
            "pk": keys.dial_claims_pk(ref.client_id, ref.campaign_id, ref.run_id),
            "sk": keys.dial_claim_sk(seq, attempt),
        }
    )
