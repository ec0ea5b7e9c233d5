"""Runs whose execution ended without closing them: failed, timed out, or stopped from
outside our API (the console, the CLI). Such a run would stay "running" and block its
campaign for good; here it ends as ``failed``, with the execution's end as the reason.

Two ways in, both idempotent and safe beside a live run:

- ``finalise_execution``: an execution ended (EventBridge's "Step Functions Execution
  Status Change", or the local engine's watcher). Only the run's *current* execution may
  close it: after a hand-over the previous execution ends too, and must not.
- ``sweep``: EventBridge delivers best effort, so every few minutes each run marked
  running is checked against DescribeExecution.

The run is closed with one conditional write (still running, and this execution still
its current one), so neither a stop, a pause, a completion nor a hand-over that happened
meanwhile can be overwritten.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from campaign_calling.aws.stepfunctions import execution_name
from campaign_calling.clock import Clock
from campaign_calling.errors import NotFound
from campaign_calling.models import DomainModel
from campaign_calling.runs.lifecycle import RunEnding
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.ports import Executions, RunStore

if TYPE_CHECKING:
    from campaign_calling.runs.repository import RunRecord

logger = logging.getLogger(__name__)

ENDED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# A run's reason is shown by calling-status and kept on the progress item: an execution's
# cause (up to 32 KB in Step Functions) is cut to keep it readable and the item small.
MAX_REASON_LENGTH = 500


class FinaliseResult:
    FINALISED = "finalised"
    NOT_RUNNING = "run not running"
    NOT_CURRENT = "not the run's current execution"
    STILL_RUNNING = "execution still running"
    UNKNOWN_RUN = "not a run of ours"


class _RunIds(DomainModel):
    clientId: str
    campaignId: str
    runId: str


class _ExecutionInput(DomainModel):
    """The part of an execution's input (a RunState) that names its run."""

    run: _RunIds


@dataclass
class SweepResult:
    checked: int = 0
    finalised: list[str] = field(default_factory=list)  # run ids
    errors: int = 0


class RunReconciler:
    def __init__(
        self,
        *,
        runs: RunStore,
        executions: Executions,
        ending: RunEnding,
        clock: Clock,
        grace_seconds: int,
    ) -> None:
        self._runs = runs
        self._executions = executions
        self._ending = ending
        self._clock = clock
        self._grace_ms = grace_seconds * 1000

    def finalise_execution(
        self,
        execution_arn: str,
        status: str,
        run_state_input_json: str | None,
        *,
        error: str | None = None,
        cause: str | None = None,
    ) -> str:
        """An execution ended with ``status`` (and, when it failed, ``error`` and ``cause``):
        close its run when the run is still running and this execution is its current one,
        with why it ended as the reason; otherwise do nothing."""
        if status not in ENDED_STATUSES:
            return FinaliseResult.STILL_RUNNING
        try:
            ids = _ExecutionInput.model_validate_json(run_state_input_json or "").run
        except ValidationError:
            return FinaliseResult.UNKNOWN_RUN
        ref = RunRef(ids.clientId, ids.campaignId, ids.runId)
        try:
            record = self._runs.get_run(ref)
        except NotFound:
            return FinaliseResult.UNKNOWN_RUN
        if record.progress.status != "running":
            return FinaliseResult.NOT_RUNNING
        if record.execution_arn != execution_arn:
            return FinaliseResult.NOT_CURRENT
        if status != "SUCCEEDED" and error is None and cause is None:
            # The event left them out: ask Step Functions (the reason should say which
            # contact a run stopped at, for one).
            described = self._executions.describe(execution_arn)
            if described is not None:
                error, cause = described.error, described.cause
        return self._close(ref, record, execution_arn, end_reason(execution_arn, status, error, cause))

    def sweep(self, now_ms: int | None = None) -> SweepResult:
        """Close every run marked running whose current execution has ended, or was never
        started although recorded longer than the grace period ago."""
        now = self._clock.now_ms() if now_ms is None else now_ms
        result = SweepResult()
        for ref in self._runs.running_runs():
            result.checked += 1
            try:
                if self._sweep_one(ref, now) == FinaliseResult.FINALISED:
                    result.finalised.append(ref.run_id)
            except Exception:  # one run's trouble must not keep the others stuck
                logger.exception("could not check run %s", ref.run_id)
                result.errors += 1
        return result

    def _sweep_one(self, ref: RunRef, now_ms: int) -> str:
        try:
            record = self._runs.get_run(ref)
        except NotFound:
            return FinaliseResult.UNKNOWN_RUN
        if record.progress.status != "running" or record.expired(now_ms):
            return FinaliseResult.NOT_RUNNING
        arn = record.execution_arn
        if not arn:
            return FinaliseResult.UNKNOWN_RUN
        described = self._executions.describe(arn)
        if described is None:
            # The ARN is recorded just before the execution is started: give that a while,
            # and never sweep while the execution handing over is still at it.
            since = record.execution_since_ms or _ms_from_iso(record.progress.startTime)
            if now_ms - since < self._grace_ms or self._previous_is_running(arn):
                return FinaliseResult.STILL_RUNNING
            return self._close(ref, record, arn, f"execution {_name(arn)} was never started")
        if described.status not in ENDED_STATUSES:
            return FinaliseResult.STILL_RUNNING
        return self._close(ref, record, arn, end_reason(arn, described.status, described.error, described.cause))

    def _previous_is_running(self, arn: str) -> bool:
        """Whether the execution that hands over to ``arn`` (``<runId>-NNNN``, one less)
        is still running, e.g. retrying the start of this one."""
        prefix, _, name = arn.rpartition(":")
        run_id, _, number = name.rpartition("-")
        if not number.isdigit() or int(number) <= 1:
            return False
        return self._executions.status(f"{prefix}:{execution_name(run_id, int(number) - 1)}") == "RUNNING"

    def _close(self, ref: RunRef, record: RunRecord, execution_arn: str, reason: str) -> str:
        if record.progress.status != "running":
            return FinaliseResult.NOT_RUNNING
        if record.execution_arn != execution_arn:
            return FinaliseResult.NOT_CURRENT
        # Only while it is still the current execution, at the moment of writing.
        ended = self._ending.fail(ref, reason, execution_arn=execution_arn)
        if not ended:
            return FinaliseResult.NOT_RUNNING
        # Not the reason itself: a task's cause may quote its input.
        logger.warning("run %s closed: execution %s ended", ref.run_id, _name(execution_arn))
        return FinaliseResult.FINALISED


def end_reason(execution_arn: str, status: str, error: str | None, cause: str | None) -> str:
    """``execution <name> ended FAILED: <error>: <cause>``, on one line, at most
    MAX_REASON_LENGTH characters."""
    parts = [f"execution {_name(execution_arn)} ended {status}"]
    parts += [" ".join(text.split()) for text in (error, cause) if text and text.strip()]
    reason = ": ".join(parts)
    if len(reason) > MAX_REASON_LENGTH:
        reason = reason[: MAX_REASON_LENGTH - 1] + "\u2026"
    return reason


def _name(execution_arn: str) -> str:
    return execution_arn.rpartition(":")[2]


def _ms_from_iso(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
