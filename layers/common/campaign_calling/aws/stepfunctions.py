"""Step Functions, as the calling logic sees it: start and stop a run's executions, and
say how one stands."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from campaign_calling.aws.errors import error_code
from campaign_calling.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = logging.getLogger(__name__)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """Execution ARNs are derived from the machine's ARN and the name we choose, so a run
    can record its execution before starting it (and a retried start is the same one)."""
    prefix, sep, machine = state_machine_arn.partition(":stateMachine:")
    if not sep:
        raise ValueError(f"not a state machine ARN: {state_machine_arn}")
    return f"{prefix}:execution:{machine}:{name}"


def execution_name(run_id: str, number: int) -> str:
    return f"{run_id}-{number:04d}"


class WorkflowEngine:
    def __init__(self, stepfunctions: SFNClient) -> None:
        self._sfn = stepfunctions

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        try:
            response = self._sfn.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, separators=(",", ":"))
            )
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                # Same name: this is a retry of a start that already happened.
                return execution_arn(state_machine_arn, name)
            raise DependencyUnavailable(f"could not start the calling workflow ({error_code(exc)})") from exc
        return response["executionArn"]

    def stop(self, arn: str, cause: str) -> bool:
        """Best effort: the run's status in DynamoDB already forbids any further dial, so
        stopping the execution only ends its idle waits and tidies the console view."""
        try:
            self._sfn.stop_execution(executionArn=arn, cause=cause)
        except Exception:  # noqa: BLE001 - best effort by design: the stop has already happened
            # Already finished, never started, Step Functions unreachable, or a client that
            # fails in a way botocore does not wrap: logged only, never the caller's error.
            logger.warning("could not stop execution %s", arn, exc_info=True)
            return False
        return True


@dataclass(frozen=True)
class ExecutionEnd:
    """How an execution stands: its status and, once it failed, its error and cause."""

    status: str
    error: str | None = None
    cause: str | None = None


class ExecutionStatuses:
    """Step Functions, as the reconciler sees it: the status of one execution."""

    def __init__(self, stepfunctions: SFNClient) -> None:
        self._sfn = stepfunctions

    def status(self, execution_arn: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE; None when no
        such execution exists (yet)."""
        described = self.describe(execution_arn)
        return described.status if described else None

    def describe(self, execution_arn: str) -> ExecutionEnd | None:
        """The execution's status, error and cause; None when it does not exist (yet)."""
        try:
            described = self._sfn.describe_execution(executionArn=execution_arn)
            return ExecutionEnd(described["status"], described.get("error"), described.get("cause"))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise DependencyUnavailable(f"could not describe execution ({error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("could not describe execution") from exc
