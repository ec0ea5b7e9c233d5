"""Campaign runs: the progress item of each run (the dial claims are in runs/claims.py).

The progress item is the single source of truth for whether a run may still dial:
stop flips its ``status`` and every dial claim is conditional on ``status = running``,
in the same transaction.

Every transaction goes through ``Transactions``: a cancellation caused by a conflict with
another transaction or by throttling is retried there, so what reaches the code here is
either success, a failed condition (an answer about the run), or DependencyUnavailable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from campaign_calling import keys
from campaign_calling.aws.dynamodb import TransactionConditionFailed, Transactions, from_attrs, to_attr, to_attrs
from campaign_calling.aws.errors import error_code
from campaign_calling.clock import Clock, SystemClock, iso_from_ms
from campaign_calling.errors import Conflict, NotFound
from campaign_calling.models import Outcomes, Progress, RunStatus
from campaign_calling.runs.models import RunRef

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

logger = logging.getLogger(__name__)

TTL_ATTRIBUTE = "expiresAt"
# A sparse index of the runs marked running: only a running run carries ACTIVE_ATTRIBUTE
# (start_run sets it, end_run removes it), so a sweep reads those runs and nothing else.
ACTIVE_RUNS_INDEX = "ActiveRuns"
ACTIVE_ATTRIBUTE = "activeRun"
ACTIVE_VALUE = "RUNNING"
# The run's outcomes, one counter attribute each (ADD creates it at 0 + n, so a run started
# before outcomes existed counts from zero too), keyed by final status, plus "pending".
OUTCOME_ATTRIBUTES: dict[str, str] = {
    "completed": "outcomeCompleted",
    "voicemail": "outcomeVoicemail",
    "busy": "outcomeBusy",
    "no-answer": "outcomeNoAnswer",
    "failed": "outcomeFailed",
    "canceled": "outcomeCanceled",
    "unknown": "outcomeUnknown",
    "skipped": "outcomeSkipped",
    "pending": "outcomePending",
}


def outcome_attribute(outcome: str) -> str:
    """The progress item's counter of ``outcome`` (a final status, or ``pending``)."""
    return OUTCOME_ATTRIBUTES[outcome]


# The run's history item (runs/history_store.py says what it is and why it has no TTL):
# what it keeps of the progress item, how the run was started and its counters.
HISTORY_KIND = "run-history"
HISTORY_STARTED_WITH = ("agentId", "startTime", "delayBetweenCalls", "maxConcurrentCalls", "retry", "callingWindow")
HISTORY_COUNTERS = (
    "totalContacts",
    "currentIndex",
    "completedCalls",
    "successfulCalls",
    "failedCalls",
    "lastCallTime",
    "contactsDone",
    "retriesPending",
    "contactsWaiting",
)


@dataclass(frozen=True)
class RunRecord:
    """A run's progress plus what the workflow needs to carry on."""

    progress: Progress
    client_id: str
    last_seq: int
    execution_arn: str | None
    paced_from_ms: int | None
    expires_at: int | None
    consecutive_failures: int = 0
    # When the current execution was recorded (epoch ms); it is started just after.
    execution_since_ms: int | None = None
    # How many executions the run has recorded: the next one is named ``<runId>-<count + 1>``.
    execution_count: int = 1
    # The sequence of the last contact claimed in the run (None: none yet, or a run claimed
    # before this was kept): a resume starts there, and its claim makes it a no-op.
    claimed_seq: int | None = None
    agent_id: str | None = None

    def expired(self, now_ms: int) -> bool:
        # DynamoDB deletes expired items lazily; until then they must read as absent.
        return self.expires_at is not None and self.expires_at * 1000 <= now_ms


class RunRepository:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        main_table: str,
        progress_table: str,
        progress_ttl_seconds: int,
        clock: Clock | None = None,
        transactions: Transactions | None = None,
    ) -> None:
        self._db = dynamodb
        self._transactions = transactions or Transactions(dynamodb)
        self._main = main_table
        self._progress = progress_table
        # An ended run's progress stays readable this long, then DynamoDB's TTL removes it.
        self._ttl = progress_ttl_seconds
        self._clock = clock or SystemClock()

    # -- reads -------------------------------------------------------------------------

    def status_snapshot(self, client_id: str, campaign_id: str) -> tuple[int, RunRecord | None]:
        """The campaign's contact count and its newest run, in one query. NotFound when the
        campaign does not exist (for this client)."""
        response = self._db.query(
            TableName=self._progress,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": to_attr(keys.campaign_pk(client_id, campaign_id))},
            ScanIndexForward=False,
            Limit=2,
            ConsistentRead=True,
        )
        items = [from_attrs(i) for i in response.get("Items", [])]
        if not items or items[0]["sk"] != keys.CAMPAIGN_SUMMARY_SK:
            raise NotFound("campaign")
        latest = _run_record(items[1]) if len(items) > 1 else None
        return items[0]["totalContacts"], latest

    def get_run(self, ref: RunRef) -> RunRecord:
        response = self._db.get_item(TableName=self._progress, Key=self._run_key(ref), ConsistentRead=True)
        if "Item" not in response:
            raise NotFound("run")
        return _run_record(from_attrs(response["Item"]))

    def running_runs(self, page_size: int = 100) -> Iterator[RunRef]:
        """Every run marked running, oldest first, from the sparse active-runs index
        (eventually consistent: a run listed here may have ended since: read it again)."""
        start_key: dict[str, Any] | None = None
        while True:
            query: QueryInputTypeDef = {
                "TableName": self._progress,
                "IndexName": ACTIVE_RUNS_INDEX,
                "KeyConditionExpression": "#active = :active",
                "ExpressionAttributeNames": {"#active": ACTIVE_ATTRIBUTE},
                "ExpressionAttributeValues": {":active": to_attr(ACTIVE_VALUE)},
                "Limit": page_size,
            }
            if start_key:
                query["ExclusiveStartKey"] = start_key
            response = self._db.query(**query)
            for raw in response.get("Items", []):
                item = from_attrs(raw)
                if {"clientId", "campaignId", "runId"} <= item.keys():
                    yield RunRef(item["clientId"], item["campaignId"], item["runId"])
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                return

    # -- run lifecycle -----------------------------------------------------------------

    def start_run(self, ref: RunRef, progress: Progress, *, last_seq: int, agent_id: str, execution_arn: str) -> None:
        """Mark the campaign running and create the run's progress, atomically.

        Conflict when the campaign is already running, or when contacts were added since
        the caller read it (the run's contact snapshot would be off): the caller re-reads.
        """
        run_item = {
            "pk": keys.campaign_pk(ref.client_id, ref.campaign_id),
            "sk": keys.run_sk(ref.run_id),
            "kind": "run",
            "clientId": ref.client_id,
            "agentId": agent_id,
            "lastSeq": last_seq,
            "executionArn": execution_arn,
            "executionSinceMs": self._clock.now_ms(),
            "executionCount": 1,
            **progress.model_dump(exclude_none=True, exclude={"outcomes"}),
        }
        if progress.status == "running":
            run_item[ACTIVE_ATTRIBUTE] = ACTIVE_VALUE
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._main,
                            "Key": self._campaign_key(ref),
                            "ConditionExpression": "attribute_exists(pk) AND isRunning = :false AND nextContactSeq = :seq",
                            "UpdateExpression": "SET isRunning = :true, currentRunId = :run, lastRunStatus = :running",
                            "ExpressionAttributeValues": {
                                ":false": to_attr(False),
                                ":true": to_attr(True),
                                ":seq": to_attr(last_seq),
                                ":run": to_attr(ref.run_id),
                                ":running": to_attr("running"),
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._progress,
                            "Item": to_attrs(run_item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    history_put_on_start(self._progress, ref, run_item),
                ]
            )
        except TransactionConditionFailed as exc:
            raise Conflict("campaign is already running") from exc

    def set_execution(self, ref: RunRef, execution_arn: str, *, replaces: str | None) -> bool:
        """Record the run's current execution. False when the run is no longer running, or
        when another execution already took over (``replaces`` is the one handing over)."""
        condition = "#status = :running"
        values: dict[str, Any] = {
            ":running": to_attr("running"),
            ":arn": to_attr(execution_arn),
            ":one": to_attr(1),
            ":zero": to_attr(0),
            ":since": to_attr(self._clock.now_ms()),
        }
        if replaces is not None:
            condition += " AND executionArn = :previous"
            values[":previous"] = to_attr(replaces)
        try:
            self._db.update_item(
                TableName=self._progress,
                Key=self._run_key(ref),
                ConditionExpression=condition,
                UpdateExpression=(
                    "SET executionArn = :arn, executionSinceMs = :since, slotWaits = :zero ADD executionCount :one"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def end_run(
        self,
        ref: RunRef,
        *,
        status: RunStatus,
        reason: str | None = None,
        final_index: int | None = None,
        execution_arn: str | None = None,
        from_statuses: tuple[RunStatus, ...] = ("running",),
    ) -> bool:
        """Move a running run (or one in ``from_statuses``: a paused run stopped) to a final
        status and release the campaign, atomically.
        False when the run was not running any more (already stopped or finished), or,
        given ``execution_arn``, when that execution is no longer the run's current one.
        A paused run keeps no TTL: it waits for a resume or a stop, however long.
        Only runs/lifecycle.py calls this: it is where a run's end is decided."""
        now_ms = self._clock.now_ms()
        sets = ["#status = :status", "isRunning = :false", "endTime = :end"]
        values: dict[str, Any] = {
            ":status": to_attr(status),
            ":false": to_attr(False),
            ":end": to_attr(iso_from_ms(now_ms)),
        }
        # Nothing is waited for once the run is not running (a resume looks again).
        removes = ["#active", "waitingUntil"]
        if status == "paused":
            removes.append(TTL_ATTRIBUTE)
        else:
            sets.append(f"{TTL_ATTRIBUTE} = :ttl")
            values[":ttl"] = to_attr(now_ms // 1000 + self._ttl)
        froms = []
        for i, from_status in enumerate(from_statuses):
            values[f":from{i}"] = to_attr(from_status)
            froms.append(f":from{i}")
        if reason is not None:
            sets.append("reason = :reason")
            values[":reason"] = to_attr(reason)
        if final_index is not None:
            sets.append("currentIndex = :index")
            values[":index"] = to_attr(final_index)
        condition = f"#status IN ({', '.join(froms)})"
        if execution_arn is not None:
            condition += " AND executionArn = :execution"
            values[":execution"] = to_attr(execution_arn)
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._progress,
                            "Key": self._run_key(ref),
                            "ConditionExpression": condition,
                            # Out of the active-runs index: a sweep no longer sees the run.
                            "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
                            "ExpressionAttributeNames": {"#status": "status", "#active": ACTIVE_ATTRIBUTE},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._main,
                            "Key": self._campaign_key(ref),
                            "ConditionExpression": "currentRunId = :run",
                            "UpdateExpression": "SET isRunning = :false, lastRunStatus = :status",
                            "ExpressionAttributeValues": {
                                ":run": to_attr(ref.run_id),
                                ":false": to_attr(False),
                                ":status": to_attr(status),
                            },
                        }
                    },
                    history_update_on_end(
                        self._progress, ref, status=status, end_time=iso_from_ms(now_ms), reason=reason
                    ),
                ]
            )
        except TransactionConditionFailed:
            # Only a failed condition means "not running any more"; a conflict with a dial's
            # transaction was retried, and one that never cleared raised DependencyUnavailable.
            return False
        self.snapshot_history(ref)
        return True

    def snapshot_history(self, ref: RunRef) -> None:
        """Copy the run's counters (and how it started) into its history (runs/history_store.py).
        Best effort, after the end's transaction: the run has ended whatever happens here."""
        snapshot_history(self._db, self._progress, ref)

    def count_slot_wait(self, ref: RunRef) -> int:
        """One more wait for a call slot in the run's current execution; the count so far
        (each hand-over and resume starts it again at 0: runs/budget.py)."""
        response = self._db.update_item(
            TableName=self._progress,
            Key=self._run_key(ref),
            ConditionExpression="attribute_exists(pk)",
            UpdateExpression="ADD slotWaits :one",
            ExpressionAttributeValues={":one": to_attr(1)},
            ReturnValues="UPDATED_NEW",
        )
        return int(from_attrs(response["Attributes"])["slotWaits"])

    def set_waiting_until(self, ref: RunRef, until: str | None) -> None:
        """Shown in the run's progress while nothing can be dialed: when it looks again
        (None: it is dialing). Only while the run runs (its end removes it)."""
        update = "SET waitingUntil = :until" if until is not None else "REMOVE waitingUntil"
        try:
            self._db.update_item(
                TableName=self._progress,
                Key=self._run_key(ref),
                ConditionExpression="#status = :running",
                UpdateExpression=update,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": to_attr("running"),
                    **({":until": to_attr(until)} if until is not None else {}),
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def extend_run(self, ref: RunRef, *, last_seq: int, total_contacts: int) -> None:
        """The run reads the campaign up to ``last_seq`` from now on (contacts added while it
        runs). Only forwards, and only while it runs: an older or late page changes nothing."""
        try:
            self._db.update_item(
                TableName=self._progress,
                Key=self._run_key(ref),
                ConditionExpression="#status = :running AND lastSeq < :seq",
                UpdateExpression="SET lastSeq = :seq, totalContacts = :total",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": to_attr("running"),
                    ":seq": to_attr(last_seq),
                    ":total": to_attr(total_contacts),
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    def resume_run(
        self,
        ref: RunRef,
        *,
        execution_arn: str,
        execution_count: int,
        last_seq: int,
        total_contacts: int,
        from_statuses: tuple[RunStatus, ...],
    ) -> None:
        """Mark a paused (or failed) run running again, with ``execution_arn`` as its
        current execution (number ``execution_count``), and the campaign running with it,
        atomically. The run reads the campaign up to ``last_seq`` from now on.

        Conflict when the run is not in ``from_statuses`` any more, has expired, another
        resume recorded an execution meanwhile (execution names stay unique), the campaign
        is running, or contacts were added since the caller read it."""
        now_ms = self._clock.now_ms()
        froms = {f":from{i}": to_attr(from_status) for i, from_status in enumerate(from_statuses)}
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._progress,
                            "Key": self._run_key(ref),
                            "ConditionExpression": (
                                f"#status IN ({', '.join(froms)})"
                                " AND (attribute_not_exists(executionCount) OR executionCount = :previous)"
                                f" AND (attribute_not_exists({TTL_ATTRIBUTE}) OR {TTL_ATTRIBUTE} > :nows)"
                            ),
                            "UpdateExpression": (
                                "SET #status = :running, isRunning = :true, #active = :active, executionArn = :arn,"
                                " executionSinceMs = :now, executionCount = :count, lastSeq = :seq,"
                                " totalContacts = :total, consecutiveFailures = :zero, slotWaits = :zero"
                                f" REMOVE {TTL_ATTRIBUTE}, endTime, reason"
                            ),
                            "ExpressionAttributeNames": {"#status": "status", "#active": ACTIVE_ATTRIBUTE},
                            "ExpressionAttributeValues": {
                                **froms,
                                ":running": to_attr("running"),
                                ":true": to_attr(True),
                                ":active": to_attr(ACTIVE_VALUE),
                                ":arn": to_attr(execution_arn),
                                ":now": to_attr(now_ms),
                                ":nows": to_attr(now_ms // 1000),
                                ":count": to_attr(execution_count),
                                ":previous": to_attr(execution_count - 1),
                                ":seq": to_attr(last_seq),
                                ":total": to_attr(total_contacts),
                                ":zero": to_attr(0),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._main,
                            "Key": self._campaign_key(ref),
                            "ConditionExpression": "isRunning = :false AND currentRunId = :run AND nextContactSeq = :seq",
                            "UpdateExpression": "SET isRunning = :true, lastRunStatus = :running",
                            "ExpressionAttributeValues": {
                                ":false": to_attr(False),
                                ":true": to_attr(True),
                                ":run": to_attr(ref.run_id),
                                ":seq": to_attr(last_seq),
                                ":running": to_attr("running"),
                            },
                        }
                    },
                    history_update_on_resume(self._progress, ref, total_contacts=total_contacts),
                ]
            )
        except TransactionConditionFailed as exc:
            raise Conflict("nothing to resume") from exc

    # -- keys --------------------------------------------------------------------------

    def _campaign_key(self, ref: RunRef) -> dict[str, Any]:
        return to_attrs({"pk": keys.client_pk(ref.client_id), "sk": keys.campaign_sk(ref.campaign_id)})

    def _run_key(self, ref: RunRef) -> dict[str, Any]:
        return run_key(ref)


def run_key(ref: RunRef) -> dict[str, Any]:
    """The key of a run's progress item (the dial claims update its counters)."""
    return to_attrs({"pk": keys.campaign_pk(ref.client_id, ref.campaign_id), "sk": keys.run_sk(ref.run_id)})


# Calls of a run with a final outcome (every outcome but pending): never fewer in a later copy.
SETTLED_ATTRIBUTE = "settledCalls"


def snapshot_history(dynamodb: DynamoDBClient, progress_table: str, ref: RunRef, *, ended_only: bool = False) -> None:
    """Copy a run's counters (and how it started) from its progress item into its history:
    after its end, and after each final status of one of its calls that arrives later (a
    webhook: calls/status_store.py), so that the history keeps the last counters the progress
    item had before it expired. ``ended_only``: not while the run is running or paused (its
    end copies them). A read, then a write that never goes back to fewer calls or fewer
    settled outcomes than an earlier copy saw (copies racing each other: the later read, which
    saw more, wins). Best effort: a failure is logged (ids only)."""
    try:
        response = dynamodb.get_item(TableName=progress_table, Key=run_key(ref), ConsistentRead=True)
        if "Item" not in response:
            return
        run = from_attrs(response["Item"])
        if ended_only and run.get("status") in ("running", "paused"):
            return
        copied = {n: run[n] for n in (*HISTORY_STARTED_WITH, *HISTORY_COUNTERS) if run.get(n) is not None}
        copied.update({attr: run.get(attr, 0) for attr in OUTCOME_ATTRIBUTES.values()})
        copied[SETTLED_ATTRIBUTE] = sum(
            run.get(attr, 0) for outcome, attr in OUTCOME_ATTRIBUTES.items() if outcome != "pending"
        )
        names = {f"#a{i}": name for i, name in enumerate(copied)}
        values = {f":v{i}": to_attr(value) for i, value in enumerate(copied.values())}
        values[":completed"] = to_attr(run.get("completedCalls", 0))
        values[":settled"] = to_attr(copied[SETTLED_ATTRIBUTE])
        dynamodb.update_item(
            TableName=progress_table,
            Key=history_key(ref),
            ConditionExpression=(
                "(attribute_not_exists(completedCalls) OR completedCalls <= :completed)"
                f" AND (attribute_not_exists({SETTLED_ATTRIBUTE}) OR {SETTLED_ATTRIBUTE} <= :settled)"
            ),
            UpdateExpression="SET " + ", ".join(f"{n} = :v{i}" for i, n in enumerate(names)),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            logger.warning("run history snapshot not written", extra={"run_id": ref.run_id})
    except BotoCoreError:
        logger.warning("run history snapshot not written", extra={"run_id": ref.run_id})


def history_key(ref: RunRef) -> dict[str, Any]:
    """The key of a run's history item (runs/history_store.py)."""
    return to_attrs({"pk": keys.run_history_pk(ref.client_id, ref.campaign_id), "sk": keys.run_sk(ref.run_id)})


def history_put_on_start(table: str, ref: RunRef, run_item: dict[str, Any]) -> TransactWriteItemTypeDef:
    """start_run's transaction item: the run's history as it starts, from its progress item."""
    item = {
        "pk": keys.run_history_pk(ref.client_id, ref.campaign_id),
        "sk": keys.run_sk(ref.run_id),
        "kind": HISTORY_KIND,
        "clientId": ref.client_id,
        "campaignId": ref.campaign_id,
        "runId": ref.run_id,
        "status": run_item["status"],
        **{name: run_item[name] for name in (*HISTORY_STARTED_WITH, *HISTORY_COUNTERS) if name in run_item},
    }
    return {"Put": {"TableName": table, "Item": to_attrs(item), "ConditionExpression": "attribute_not_exists(pk)"}}


def history_update_on_end(
    table: str, ref: RunRef, *, status: RunStatus, end_time: str, reason: str | None
) -> TransactWriteItemTypeDef:
    """end_run's transaction item: the status the run ends in, as its progress item gets it. No
    condition (the progress item's decides); a run started before history existed gets its
    item here, and its snapshot fills it in."""
    sets = ["#status = :status", "endTime = :end", "runId = :run", "campaignId = :campaign", "kind = :kind"]
    values = {
        ":status": to_attr(status),
        ":end": to_attr(end_time),
        ":run": to_attr(ref.run_id),
        ":campaign": to_attr(ref.campaign_id),
        ":kind": to_attr(HISTORY_KIND),
    }
    if reason is not None:
        sets.append("reason = :reason")
        values[":reason"] = to_attr(reason)
    return {
        "Update": {
            "TableName": table,
            "Key": history_key(ref),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
    }


def history_update_on_resume(table: str, ref: RunRef, *, total_contacts: int) -> TransactWriteItemTypeDef:
    """resume_run's transaction item: running again, as its progress item is."""
    return {
        "Update": {
            "TableName": table,
            "Key": history_key(ref),
            "UpdateExpression": "SET #status = :running, totalContacts = :total REMOVE endTime, reason",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":running": to_attr("running"), ":total": to_attr(total_contacts)},
        }
    }


def _run_record(item: dict[str, Any]) -> RunRecord:
    outcomes = Outcomes.model_validate({name: item.get(attr, 0) for name, attr in OUTCOME_ATTRIBUTES.items()})
    return RunRecord(
        progress=Progress.model_validate({**item, "outcomes": outcomes}),
        client_id=item["clientId"],
        last_seq=item["lastSeq"],
        execution_arn=item.get("executionArn"),
        paced_from_ms=item.get("pacedFromMs"),
        expires_at=item.get(TTL_ATTRIBUTE),
        consecutive_failures=item.get("consecutiveFailures", 0),
        execution_since_ms=item.get("executionSinceMs"),
        execution_count=item.get("executionCount", 1),
        claimed_seq=item.get("claimedSeq"),
        agent_id=item.get("agentId"),
    )
