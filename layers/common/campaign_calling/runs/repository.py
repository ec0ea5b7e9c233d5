"""Campaign runs: the progress item of each run and the claims that make dials happen once.

The progress item is the single source of truth for whether a run may still dial:
stop flips its ``status`` and every dial claim is conditional on ``status = running``,
in the same transaction. Counters change in the same transaction that writes the call
log and closes the dial's claim, so a retried dial can never count twice.

Every transaction goes through ``Transactions``: a cancellation caused by a conflict with
another transaction or by throttling is retried there, so what reaches the code here is
either success, a failed condition (an answer about the run), or DependencyUnavailable.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from campaign_calling import keys
from campaign_calling.aws.dynamodb import (
    TransactionConditionFailed,
    Transactions,
    error_code,
    from_attrs,
    to_attr,
    to_attrs,
)
from campaign_calling.clock import Clock, SystemClock, iso_from_ms
from campaign_calling.errors import Conflict, NotFound
from campaign_calling.models import CallLog, Progress, RunStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

TTL_ATTRIBUTE = "expiresAt"
# Claims outlive any run (a million contacts at the longest delay is still shorter).
CLAIM_TTL_SECONDS = 90 * 24 * 3600
# A sparse index of the runs marked running: only a running run carries ACTIVE_ATTRIBUTE
# (start_run sets it, end_run removes it), so a sweep reads those runs and nothing else.
ACTIVE_RUNS_INDEX = "ActiveRuns"
ACTIVE_ATTRIBUTE = "activeRun"
ACTIVE_VALUE = "RUNNING"


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

    def expired(self, now_ms: int) -> bool:
        # DynamoDB deletes expired items lazily; until then they must read as absent.
        return self.expires_at is not None and self.expires_at * 1000 <= now_ms


@dataclass(frozen=True)
class DialClaim:
    status: str  # "dialing" or "done"
    unique_id: str
    started_ms: int
    outcome: str | None


@dataclass(frozen=True)
class RunRef:
    """A run the active-runs index lists as running (the index may lag: read it again)."""

    client_id: str
    campaign_id: str
    run_id: str


class ClaimResult:
    CLAIMED = "claimed"
    RUN_NOT_RUNNING = "run-not-running"
    ALREADY_CLAIMED = "already-claimed"


class RunRepository:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        main_table: str,
        progress_table: str,
        call_logs_table: str,
        clock: Clock | None = None,
        transactions: Transactions | None = None,
    ) -> None:
        self._db = dynamodb
        self._transactions = transactions or Transactions(dynamodb)
        self._main = main_table
        self._progress = progress_table
        self._call_logs = call_logs_table
        # Only stamps when a run's current execution was recorded (see execution_since_ms).
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

    def get_run(self, client_id: str, campaign_id: str, run_id: str) -> RunRecord:
        response = self._db.get_item(
            TableName=self._progress, Key=self._run_key(client_id, campaign_id, run_id), ConsistentRead=True
        )
        if "Item" not in response:
            raise NotFound("run")
        return _run_record(from_attrs(response["Item"]))

    def running_runs(self, page_size: int = 100) -> Iterator[RunRef]:
        """Every run marked running, oldest first, from the sparse active-runs index
        (eventually consistent: a run listed here may have ended since)."""
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

    def get_claim(self, client_id: str, campaign_id: str, run_id: str, seq: int) -> DialClaim | None:
        response = self._db.get_item(
            TableName=self._progress, Key=self._claim_key(client_id, campaign_id, run_id, seq), ConsistentRead=True
        )
        if "Item" not in response:
            return None
        item = from_attrs(response["Item"])
        return DialClaim(item["status"], item["uniqueId"], item["startedMs"], item.get("outcome"))

    # -- run lifecycle -----------------------------------------------------------------

    def start_run(
        self,
        client_id: str,
        campaign_id: str,
        progress: Progress,
        *,
        last_seq: int,
        agent_id: str,
        execution_arn: str,
    ) -> None:
        """Mark the campaign running and create the run's progress, atomically.

        Conflict when the campaign is already running, or when contacts were added since
        the caller read it (the run's contact snapshot would be off): the caller re-reads.
        """
        run_item = {
            "pk": keys.campaign_pk(client_id, campaign_id),
            "sk": keys.run_sk(progress.runId),
            "kind": "run",
            "clientId": client_id,
            "agentId": agent_id,
            "lastSeq": last_seq,
            "executionArn": execution_arn,
            "executionSinceMs": self._clock.now_ms(),
            "executionCount": 1,
            **progress.model_dump(exclude_none=True),
        }
        if progress.status == "running":
            run_item[ACTIVE_ATTRIBUTE] = ACTIVE_VALUE
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._main,
                            "Key": self._campaign_key(client_id, campaign_id),
                            "ConditionExpression": "attribute_exists(pk) AND isRunning = :false AND nextContactSeq = :seq",
                            "UpdateExpression": "SET isRunning = :true, currentRunId = :run, lastRunStatus = :running",
                            "ExpressionAttributeValues": {
                                ":false": to_attr(False),
                                ":true": to_attr(True),
                                ":seq": to_attr(last_seq),
                                ":run": to_attr(progress.runId),
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
                ]
            )
        except TransactionConditionFailed as exc:
            raise Conflict("campaign is already running") from exc

    def set_execution(
        self, client_id: str, campaign_id: str, run_id: str, execution_arn: str, *, replaces: str | None
    ) -> bool:
        """Record the run's current execution. False when the run is no longer running, or
        when another execution already took over (``replaces`` is the one handing over)."""
        condition = "#status = :running"
        values: dict[str, Any] = {
            ":running": to_attr("running"),
            ":arn": to_attr(execution_arn),
            ":one": to_attr(1),
            ":since": to_attr(self._clock.now_ms()),
        }
        if replaces is not None:
            condition += " AND executionArn = :previous"
            values[":previous"] = to_attr(replaces)
        try:
            self._db.update_item(
                TableName=self._progress,
                Key=self._run_key(client_id, campaign_id, run_id),
                ConditionExpression=condition,
                UpdateExpression="SET executionArn = :arn, executionSinceMs = :since ADD executionCount :one",
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
        client_id: str,
        campaign_id: str,
        run_id: str,
        *,
        status: RunStatus,
        now_ms: int,
        ttl_seconds: int,
        reason: str | None = None,
        final_index: int | None = None,
        execution_arn: str | None = None,
    ) -> bool:
        """Move a running run to a final status and release the campaign, atomically.
        False when the run was not running any more (already stopped or finished), or,
        given ``execution_arn``, when that execution is no longer the run's current one."""
        sets = ["#status = :status", "isRunning = :false", "endTime = :end", f"{TTL_ATTRIBUTE} = :ttl"]
        values: dict[str, Any] = {
            ":status": to_attr(status),
            ":false": to_attr(False),
            ":end": to_attr(iso_from_ms(now_ms)),
            ":ttl": to_attr(now_ms // 1000 + ttl_seconds),
            ":running": to_attr("running"),
        }
        if reason is not None:
            sets.append("reason = :reason")
            values[":reason"] = to_attr(reason)
        if final_index is not None:
            sets.append("currentIndex = :index")
            values[":index"] = to_attr(final_index)
        condition = "#status = :running"
        if execution_arn is not None:
            condition += " AND executionArn = :execution"
            values[":execution"] = to_attr(execution_arn)
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._progress,
                            "Key": self._run_key(client_id, campaign_id, run_id),
                            "ConditionExpression": condition,
                            # Out of the active-runs index: a sweep no longer sees the run.
                            "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE #active",
                            "ExpressionAttributeNames": {"#status": "status", "#active": ACTIVE_ATTRIBUTE},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._main,
                            "Key": self._campaign_key(client_id, campaign_id),
                            "ConditionExpression": "currentRunId = :run",
                            "UpdateExpression": "SET isRunning = :false, lastRunStatus = :status",
                            "ExpressionAttributeValues": {
                                ":run": to_attr(run_id),
                                ":false": to_attr(False),
                                ":status": to_attr(status),
                            },
                        }
                    },
                ]
            )
        except TransactionConditionFailed:
            # Only a failed condition means "not running any more"; a conflict with a dial's
            # transaction was retried, and one that never cleared raised DependencyUnavailable.
            return False
        return True

    # -- dials -------------------------------------------------------------------------

    def claim_dial(
        self, client_id: str, campaign_id: str, run_id: str, *, seq: int, index: int, unique_id: str, now_ms: int
    ) -> str:
        """Reserve one contact's dial in a run, only while the run is running.

        The claim is the promise that this contact is dialed at most once in the run;
        the run's pacing clock and current index move in the same transaction.
        A transaction that is retried after a conflict wrote nothing the first time, so
        a claim found on a later attempt is another attempt's, never this one's.
        """
        try:
            self._transactions.write(
                [
                    {
                        "Update": {
                            "TableName": self._progress,
                            "Key": self._run_key(client_id, campaign_id, run_id),
                            "ConditionExpression": "#status = :running",
                            "UpdateExpression": "SET pacedFromMs = :now, currentIndex = :index",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":running": to_attr("running"),
                                ":now": to_attr(now_ms),
                                ":index": to_attr(index),
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._progress,
                            "Item": to_attrs(
                                {
                                    "pk": keys.dial_claims_pk(client_id, campaign_id, run_id),
                                    "sk": keys.dial_claim_sk(seq),
                                    "kind": "dial-claim",
                                    "status": "dialing",
                                    "uniqueId": unique_id,
                                    "startedMs": now_ms,
                                    TTL_ATTRIBUTE: now_ms // 1000 + CLAIM_TTL_SECONDS,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except TransactionConditionFailed as exc:
            if exc.failed(1):
                return ClaimResult.ALREADY_CLAIMED
            if exc.failed(0):
                return ClaimResult.RUN_NOT_RUNNING
            raise
        return ClaimResult.CLAIMED

    def complete_dial(
        self,
        client_id: str,
        campaign_id: str,
        run_id: str,
        *,
        seq: int,
        log: CallLog,
        now_ms: int,
        provider_failure: bool = True,
    ) -> bool:
        """Write the call log, close the claim and count the call, atomically.
        False when the claim was already closed (a duplicate delivery of the same dial).

        Whatever the run's status: a call that was placed is logged and counted. Conflicts
        (e.g. with a stop's transaction on the run item) are retried; if DynamoDB stays
        busy, DependencyUnavailable fails the dial step and its retry settles the claim.
        A retry never counts twice: the log must not exist and the claim must be open.
        A failure that says nothing about the provider (``provider_failure=False``: the
        contact was deleted) leaves the run of consecutive failures as it is."""
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
        try:
            self._transactions.write(
                [
                    {
                        "Put": {
                            "TableName": self._call_logs,
                            "Item": to_attrs(call_log_item(client_id, log)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._progress,
                            "Key": self._claim_key(client_id, campaign_id, run_id, seq),
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
                            "Key": self._run_key(client_id, campaign_id, run_id),
                            # No status condition: a call in flight when the run was stopped
                            # still happened and still counts.
                            "ConditionExpression": "attribute_exists(pk)",
                            "UpdateExpression": counters,
                            "ExpressionAttributeValues": {
                                ":time": to_attr(iso_from_ms(now_ms)),
                                ":now": to_attr(now_ms),
                                ":one": to_attr(1),
                                **({":zero": to_attr(0)} if succeeded else {}),
                            },
                        }
                    },
                ]
            )
        except TransactionConditionFailed:
            return False
        return True

    # -- keys --------------------------------------------------------------------------

    def _campaign_key(self, client_id: str, campaign_id: str) -> dict[str, Any]:
        return to_attrs({"pk": keys.client_pk(client_id), "sk": keys.campaign_sk(campaign_id)})

    def _run_key(self, client_id: str, campaign_id: str, run_id: str) -> dict[str, Any]:
        return to_attrs({"pk": keys.campaign_pk(client_id, campaign_id), "sk": keys.run_sk(run_id)})

    def _claim_key(self, client_id: str, campaign_id: str, run_id: str, seq: int) -> dict[str, Any]:
        return to_attrs({"pk": keys.dial_claims_pk(client_id, campaign_id, run_id), "sk": keys.dial_claim_sk(seq)})


def _run_record(item: dict[str, Any]) -> RunRecord:
    return RunRecord(
        progress=Progress.model_validate(item),
        client_id=item["clientId"],
        last_seq=item["lastSeq"],
        execution_arn=item.get("executionArn"),
        paced_from_ms=item.get("pacedFromMs"),
        expires_at=item.get(TTL_ATTRIBUTE),
        consecutive_failures=item.get("consecutiveFailures", 0),
        execution_since_ms=item.get("executionSinceMs"),
    )


def call_log_item(client_id: str, log: CallLog) -> dict[str, Any]:
    return {
        "pk": keys.campaign_pk(client_id, log.campaignId),
        "sk": keys.call_sk(log.uniqueId),
        **log.model_dump(exclude={"externalResponse"}),
        # The provider's answer is kept verbatim; as a string it needs no number conversion.
        "externalResponse": json.dumps(log.externalResponse) if log.externalResponse is not None else None,
    }
