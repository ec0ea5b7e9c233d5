"""The runs services as a function's environment builds them (call ``aws.use_function``
first), from public constructors only, with one part swapped where a test needs it."""

from __future__ import annotations

import time
from collections.abc import Callable

import boto3
import httpx

from campaign_calling import wiring
from campaign_calling.aws.ssm import CachedParameter
from campaign_calling.aws.stepfunctions import WorkflowEngine
from campaign_calling.calls.placing import CallPlacer
from campaign_calling.calls.provider import DialerClient, ProviderEndpoints
from campaign_calling.calls.slots import SlotStore
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.catalog.dnc import DoNotCallList
from campaign_calling.catalog.limits import ClientLimitsStore
from campaign_calling.clock import SystemClock
from campaign_calling.compliance.number_limits import NumberUseStore
from campaign_calling.runs.claims import DialClaims
from campaign_calling.runs.dial import SETTLE_PATIENCE_SECONDS, DialRecorder, DialStep
from campaign_calling.runs.lifecycle import RunEnding
from campaign_calling.runs.ports import Placer
from campaign_calling.runs.repository import RunRepository
from campaign_calling.settings import (
    CallSlotSettings,
    DialStepSettings,
    PlacingSettings,
    ProgressSettings,
    TableNames,
    get_settings,
)

# Where the unit tests' HTTP API would be (none serves it): the webhook base URL's value.
API_URL = "https://api.example.test"


def run_repository() -> RunRepository:
    tables = get_settings(TableNames)
    return RunRepository(
        boto3.client("dynamodb"),
        main_table=tables.main_table,
        progress_table=tables.progress_table,
        progress_ttl_seconds=get_settings(ProgressSettings).progress_ttl_seconds,
    )


def dial_claims() -> DialClaims:
    tables = get_settings(TableNames)
    return DialClaims(
        boto3.client("dynamodb"),
        progress_table=tables.progress_table,
        call_logs_table=tables.call_logs_table,
    )


def call_placer(transport: httpx.BaseTransport | None = None) -> CallPlacer:
    """The provider client as configured: its URLs, the accounts from Secrets Manager and
    the webhook URL from its parameter."""
    settings = get_settings(PlacingSettings)
    dialer = DialerClient(
        ProviderEndpoints(settings.base_urls()),
        wiring.provider_accounts(),
        webhook_base_url=CachedParameter(settings.webhook_base_url_parameter, settings.secret_cache_seconds),
        timeout_seconds=settings.dialer_timeout_seconds,
        transport=transport,
    )
    return CallPlacer(dialer, SystemClock())


def dial_step(
    *,
    placer: Placer | None = None,
    sleep: Callable[[float], None] = time.sleep,
    settle_patience_seconds: float = SETTLE_PATIENCE_SECONDS,
) -> DialStep:
    tables = get_settings(TableNames)
    runs = run_repository()
    campaigns = CampaignRepository(boto3.client("dynamodb"), tables.main_table, progress_table=tables.progress_table)
    return DialStep(
        runs=runs,
        placer=placer or call_placer(),
        recorder=DialRecorder(claims=dial_claims(), campaigns=campaigns, clock=SystemClock()),
        ending=RunEnding(runs=runs, workflow=WorkflowEngine(boto3.client("stepfunctions"))),
        clock=SystemClock(),
        pause_after_failures=get_settings(DialStepSettings).pause_after_failures,
        slots=SlotStore(
            boto3.client("dynamodb"), progress_table=tables.progress_table, call_logs_table=tables.call_logs_table
        ),
        client_limits=ClientLimitsStore(boto3.client("dynamodb"), tables.main_table),
        do_not_call=DoNotCallList(boto3.client("dynamodb"), tables.main_table, SystemClock()),
        numbers=NumberUseStore(boto3.client("dynamodb"), tables.progress_table),
        max_call_seconds=get_settings(CallSlotSettings).max_call_seconds,
        sleep=sleep,
        settle_patience_seconds=settle_patience_seconds,
    )


def refresh_services() -> None:
    """Forget the settings and the services built from them, after the environment changed
    (AwsWorld.use_function does this; a test that changes a setting on top calls it)."""
    wiring.forget_services()
