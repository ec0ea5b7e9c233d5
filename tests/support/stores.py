"""The real DynamoDB stores of runs, built against the tables of a resolved template
(moto in the unit tests), for the tests that prove DynamoDB's behaviour."""

from __future__ import annotations

from typing import Any

import boto3

from campaign_calling.aws.dynamodb import Transactions
from campaign_calling.clock import Clock
from campaign_calling.models import Progress
from campaign_calling.runs.claims import DialClaims
from campaign_calling.runs.repository import RunRepository
from campaign_local.template import Resolver

PROGRESS_TTL_SECONDS = 3600


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
