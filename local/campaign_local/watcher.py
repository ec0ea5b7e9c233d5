"""EventBridge's part, locally: moto has no EventBridge, so a background thread watches the
state machines' executions and hands the template's functions the events AWS would.

- A function with an ``EventBridgeRule`` (or ``CloudWatchEvent``) on "Step Functions
  Execution Status Change" gets that event, in AWS's shape, for every execution that
  reaches one of the rule's statuses.
- A function with a ``Schedule`` (or ``ScheduleV2``) runs every ``sweep_seconds``
  (``LOCAL_SWEEP_SECONDS``, default 30; 0 turns it off) with a "Scheduled Event".

Delivery is best effort, like EventBridge's: a failed invocation is logged, not retried.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from campaign_local.lambdas import LocalFunctions
from campaign_local.template import ACCOUNT_ID, REGION, Template

logger = logging.getLogger(__name__)

STATUS_CHANGE = "Step Functions Execution Status Change"
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class Subscriptions:
    """Which functions the template subscribes to execution ends, and to a schedule."""

    status_change: dict[str, frozenset[str]] = field(default_factory=dict)  # function -> statuses
    scheduled: tuple[str, ...] = ()

    @classmethod
    def of(cls, template: Template) -> Subscriptions:
        status_change: dict[str, frozenset[str]] = {}
        scheduled: list[str] = []
        for logical_id, resource in template.of_type("AWS::Serverless::Function").items():
            for event in (resource["Properties"].get("Events") or {}).values():
                props = event.get("Properties") or {}
                if event["Type"] in ("EventBridgeRule", "CloudWatchEvent"):
                    pattern = props.get("Pattern") or {}
                    if "aws.states" in pattern.get("source", []) and STATUS_CHANGE in pattern.get("detail-type", []):
                        statuses = (pattern.get("detail") or {}).get("status") or ENDED
                        status_change[logical_id] = frozenset(statuses)
                elif event["Type"] in ("Schedule", "ScheduleV2"):
                    scheduled.append(logical_id)
        return cls(status_change, tuple(scheduled))

    @property
    def statuses(self) -> frozenset[str]:
        return frozenset().union(*self.status_change.values()) if self.status_change else frozenset()


class ExecutionWatcher:
    def __init__(
        self,
        functions: LocalFunctions,
        template: Template,
        state_machine_arns: list[str],
        *,
        poll_seconds: float = 0.5,
        sweep_seconds: float = 30.0,
    ) -> None:
        self._functions = functions
        self._subscriptions = Subscriptions.of(template)
        self._machines = list(state_machine_arns)
        self._poll = poll_seconds
        self._sweep = sweep_seconds
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="execution-watcher", daemon=True)
        # Its own session: the engine counts the handlers' requests on the default one.
        self._sfn = boto3.session.Session().client("stepfunctions", region_name=REGION)

    def start(self) -> ExecutionWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        next_sweep = time.monotonic() + self._sweep
        while not self._stop.wait(self._poll):
            try:
                self.deliver_execution_ends()
            except Exception:  # keep watching: the next poll may do better
                logger.exception("execution watcher: polling failed")
            if self._sweep > 0 and time.monotonic() >= next_sweep:
                self.run_schedules()
                next_sweep = time.monotonic() + self._sweep

    def deliver_execution_ends(self) -> int:
        """Invoke the subscribed functions for every execution newly ended in a watched
        status; returns how many executions were delivered."""
        delivered = 0
        for machine in self._machines:
            for status in sorted(self._subscriptions.statuses):
                for listed in self._executions(machine, status):
                    arn = listed["executionArn"]
                    if arn in self._seen:
                        continue
                    event = status_change_event(self._sfn.describe_execution(executionArn=arn))
                    self._seen.add(arn)  # delivered once, whatever the functions make of it
                    for logical_id, statuses in self._subscriptions.status_change.items():
                        if status in statuses:
                            self._invoke(logical_id, event)
                    delivered += 1
        return delivered

    def run_schedules(self) -> None:
        for logical_id in self._subscriptions.scheduled:
            self._invoke(logical_id, scheduled_event(logical_id))

    def _executions(self, machine: str, status: str) -> list[dict[str, Any]]:
        found, token = [], None
        while True:
            page = self._sfn.list_executions(
                stateMachineArn=machine, statusFilter=status, maxResults=1000, **({"nextToken": token} if token else {})
            )
            found += page["executions"]
            token = page.get("nextToken")
            if not token:
                return found

    def _invoke(self, logical_id: str, event: dict[str, Any]) -> None:
        try:
            result = self._functions.invoke(logical_id, event)
            logger.info("%s: %s", logical_id, result)
        except Exception:  # best effort, as EventBridge: the sweeper is the backstop
            logger.exception("%s failed on %s", logical_id, event.get("detail-type"))


def _iso(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch_ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def status_change_event(execution: dict[str, Any]) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" event EventBridge sends for an
    execution (DescribeExecution's answer), in AWS's shape."""
    arn = execution["executionArn"]
    output = execution.get("output")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STATUS_CHANGE,
        "source": "aws.states",
        "account": ACCOUNT_ID,
        "time": _iso(execution.get("stopDate")),
        "region": REGION,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution.get("name", arn.rpartition(":")[2]),
            "status": execution["status"],
            "startDate": _epoch_ms(execution.get("startDate")),
            "stopDate": _epoch_ms(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": output,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if output is not None else None,
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


def scheduled_event(logical_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": _iso(None),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{logical_id}"],
        "detail": {},
    }


def sweep_seconds_from_env(environ: Mapping[str, str] | None = None) -> float:
    """``LOCAL_SWEEP_SECONDS``: how often scheduled functions run locally (0: never)."""
    value = float((os.environ if environ is None else environ).get("LOCAL_SWEEP_SECONDS", "30"))
    if value < 0:
        raise ValueError("LOCAL_SWEEP_SECONDS must be 0 or more")
    return value
