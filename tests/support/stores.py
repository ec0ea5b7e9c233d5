"""The real DynamoDB stores of runs, built against the tables of a resolved template
(moto in the unit tests), for the tests that prove DynamoDB's behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from campaign_calling.aws.dynamodb import Transactions
from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.calls.placing import new_call_log
from campaign_calling.calls.slots import CallLimits, SlotStore
from campaign_calling.calls.status_store import CallStatusWriter
from campaign_calling.calls.status_updates import IndexedCall, StatusChange
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.clock import Clock
from campaign_calling.models import CallLog, Contact, ContactInput, Progress
from campaign_calling.runs.claims import DialClaims
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import RunRepository
from campaign_calling.runs.retries import FollowUp
from campaign_calling.runs.retry_store import CallOfContact, RetryQueue
from campaign_local.template import Resolver
from tests.support.clock import FixedClock

PROGRESS_TTL_SECONDS = 3600
NOW = 1_705_314_600_000
CLIENT = "client-a"
MAX_CALL_SECONDS = 60


def run_repository(
    resolver: Resolver,
    *,
    dynamodb: Any = None,
    clock: Clock | None = None,
    transactions: Transactions | None = None,
    progress_ttl_seconds: int = PROGRESS_TTL_SECONDS,
) -> RunRepository:
    return RunRepository(
        dynamodb or boto3.client("dynamodb"),
        main_table=resolver.ref("MainTable"),
        progress_table=resolver.ref("ProgressTable"),
        progress_ttl_seconds=progress_ttl_seconds,
        clock=clock,
        transactions=transactions,
    )


def dial_claims(resolver: Resolver, *, dynamodb: Any = None, transactions: Transactions | None = None) -> DialClaims:
    return DialClaims(
        dynamodb or boto3.client("dynamodb"),
        progress_table=resolver.ref("ProgressTable"),
        call_logs_table=resolver.ref("CallLogsTable"),
        transactions=transactions,
    )


def new_progress(campaign_id: str, run_id: str, total: int, delay_ms: int = 2000) -> Progress:
    """A run's progress as start-calling creates it: running, nothing called yet."""
    return Progress(
        campaignId=campaign_id,
        runId=run_id,
        totalContacts=total,
        currentIndex=0,
        completedCalls=0,
        successfulCalls=0,
        failedCalls=0,
        startTime="2024-01-15T10:30:00.000Z",
        isRunning=True,
        status="running",
        delayBetweenCalls=delay_ms,
    )


@dataclass
class RunStores:
    """A run's stores on the template's tables, with builders of its calls (the unit tests of
    calls in progress and retries)."""

    campaigns: CampaignRepository
    runs: RunRepository
    claims: DialClaims
    slots: SlotStore
    logs: CallLogRepository
    writer: CallStatusWriter
    retries: RetryQueue

    def start_run(self, campaign_id: str = "cmp_1", contacts: int = 4) -> RunRef:
        ref = RunRef(CLIENT, campaign_id, f"run-{campaign_id}")
        self.campaigns.create(CLIENT, campaign_id, "Spring", NOW)
        self.campaigns.add_contacts(
            CLIENT, campaign_id, [ContactInput(name=f"C{i}", phone="+442079460958") for i in range(contacts)], NOW
        )
        campaign = self.campaigns.get(CLIENT, campaign_id, consistent=True)
        self.runs.start_run(
            ref,
            new_progress(campaign_id, ref.run_id, campaign.totalContacts, delay_ms=0),
            last_seq=campaign.nextContactSeq,
            agent_id="ag_1",
            execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{ref.run_id}-0001",
        )
        return ref

    def claim(self, ref: RunRef, seq: int, limits: CallLimits, *, now_ms: int = NOW) -> str:
        return self.claims.claim(ref, seq=seq, index=seq - 1, unique_id=unique(ref, seq), now_ms=now_ms, limits=limits)

    def complete(self, ref: RunRef, seq: int, *, placed: bool = True) -> None:
        assert self.claims.complete(ref, seq=seq, log=a_log(ref, seq, placed=placed), now_ms=NOW, release_slot=True)

    def end(
        self,
        ref: RunRef,
        seq: int,
        status: str = "completed",
        *,
        of_run: CallOfContact | None = None,
        follow_up: FollowUp | None = None,
    ) -> bool:
        call = IndexedCall("generic", CLIENT, ref.campaign_id, unique(ref, seq), ref.run_id, "default", of_run)
        change = StatusChange(status=status, rank=3, final=True, ended_at="2024-01-15T10:31:00.000Z")
        return self.writer.apply(call, change, now_ms=NOW, follow_up=follow_up)

    def held(self) -> set[str]:
        return {slot.owner.unique_id for slot in self.slots.held(CLIENT)}

    def log_status(self, ref: RunRef, seq: int) -> str | None:
        logs = self.logs.list(CLIENT, ref.campaign_id, 100, None)[0]
        (log,) = [log for log in logs if log.uniqueId == unique(ref, seq)]
        return log.status


def unique(ref: RunRef, seq: int) -> str:
    return f"aidial-{NOW + seq}-{ref.campaign_id[-1]}bcdef"


def a_log(ref: RunRef, seq: int, *, placed: bool = True) -> CallLog:
    return new_call_log(
        campaign_id=ref.campaign_id,
        contact=Contact(id=f"ct_{seq:010d}", name=f"C{seq}", phone="+442079460958", seq=seq),
        agent_id="ag_1",
        unique_id=unique(ref, seq),
        started_ms=NOW,
        ended_ms=NOW + 250,
        run_id=ref.run_id,
        outcome="success" if placed else "failed",
        error=None if placed else "provider answered 400: invalid number",
    )


def run_stores(resolver: Resolver) -> RunStores:
    db = boto3.client("dynamodb")
    transactions = Transactions(db, sleep=lambda _s: None)
    main, progress, logs = (resolver.ref(t) for t in ("MainTable", "ProgressTable", "CallLogsTable"))
    return RunStores(
        campaigns=CampaignRepository(db, main, progress_table=progress, transactions=transactions),
        runs=run_repository(resolver, dynamodb=db, clock=FixedClock(NOW), transactions=transactions),
        claims=dial_claims(resolver, dynamodb=db, transactions=transactions),
        slots=SlotStore(db, progress_table=progress, call_logs_table=logs, transactions=transactions),
        retries=RetryQueue(db, progress),
        logs=CallLogRepository(db, logs, transactions),
        writer=CallStatusWriter(db, call_logs_table=logs, progress_table=progress, transactions=transactions),
    )


class FailingDynamo:
    """Passes every call to boto3, except that the ``fail_at``-th transaction (1-based)
    raises ``error`` instead of being sent."""

    def __init__(self, client: Any, fail_at: int, error: BaseException) -> None:
        self._client = client
        self._fail_at = fail_at
        self._error = error
        self.transactions = 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions += 1
        if self.transactions == self._fail_at:
            raise self._error
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
