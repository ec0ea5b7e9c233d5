"""Builds the services from configuration, once per container and only when first used.

Each factory reads only the settings pieces its own service needs, so a function gets by
with exactly the environment (and permissions) template.yaml gives it; its handler has
already validated its whole settings class (campaign_calling.settings).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from campaign_calling.aws.stepfunctions import WorkflowEngine
from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.calls.make_call import SingleCallService
from campaign_calling.calls.placing import CallPlacer
from campaign_calling.calls.provider import DialerClient, SecretsManagerApiKey
from campaign_calling.catalog.agents import AgentRepository
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.catalog.service import CatalogService
from campaign_calling.clock import SystemClock
from campaign_calling.idempotency import IdempotentRequests
from campaign_calling.runs.dial import DialRecorder, DialStep
from campaign_calling.runs.lifecycle import CallingService
from campaign_calling.runs.pages import RunSteps
from campaign_calling.runs.reconcile import ExecutionStatuses, RunReconciler
from campaign_calling.runs.repository import RunRepository
from campaign_calling.runs.status import CallingStatusService
from campaign_calling.settings import (
    DialerSettings,
    DialStepSettings,
    IdempotencySettings,
    PagingSettings,
    ProgressSettings,
    StateMachineSettings,
    SweepSettings,
    TableNames,
    get_settings,
)

if TYPE_CHECKING:  # the stubs are a dev dependency: the layer never imports them
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient


@cache
def _dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb")


@cache
def _stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions")


def _agents() -> AgentRepository:
    return AgentRepository(_dynamodb(), get_settings(TableNames).main_table)


def _campaigns() -> CampaignRepository:
    tables = get_settings(TableNames)
    return CampaignRepository(_dynamodb(), tables.main_table, progress_table=tables.progress_table)


def _call_logs() -> CallLogRepository:
    return CallLogRepository(_dynamodb(), get_settings(TableNames).call_logs_table)


def _runs() -> RunRepository:
    tables = get_settings(TableNames)
    return RunRepository(
        _dynamodb(),
        main_table=tables.main_table,
        progress_table=tables.progress_table,
        call_logs_table=tables.call_logs_table,
    )


@cache
def _idempotency(operation: str) -> IdempotentRequests:
    """One persistence layer per operation: Powertools configures a layer once, and
    locally every function shares this process."""
    store = DynamoDBPersistenceLayer(
        table_name=get_settings(IdempotencySettings).idempotency_table, boto3_client=_dynamodb()
    )
    return IdempotentRequests(store, operation)


def make_call_idempotency() -> IdempotentRequests:
    return _idempotency("make-call")


def add_contacts_idempotency() -> IdempotentRequests:
    return _idempotency("add-contacts")


def create_campaign_idempotency() -> IdempotentRequests:
    return _idempotency("create-campaign")


@cache
def _placer() -> CallPlacer:
    settings = get_settings(DialerSettings)
    dialer = DialerClient(
        settings.dialer_base_url,
        SecretsManagerApiKey(settings.dialer_api_key_secret, settings.secret_cache_seconds),
        timeout_seconds=settings.dialer_timeout_seconds,
    )
    return CallPlacer(dialer, SystemClock())


@cache
def catalog_service() -> CatalogService:
    return CatalogService(agents=_agents(), campaigns=_campaigns(), call_logs=_call_logs(), clock=SystemClock())


@cache
def calling_service() -> CallingService:
    return CallingService(
        agents=_agents(),
        campaigns=_campaigns(),
        runs=_runs(),
        workflow=WorkflowEngine(_stepfunctions()),
        clock=SystemClock(),
        state_machine_arn=get_settings(StateMachineSettings).state_machine_arn,
        progress_ttl_seconds=get_settings(ProgressSettings).progress_ttl_seconds,
    )


@cache
def calling_status_service() -> CallingStatusService:
    return CallingStatusService(runs=_runs(), clock=SystemClock())


@cache
def single_call_service() -> SingleCallService:
    return SingleCallService(
        agents=_agents(),
        campaigns=_campaigns(),
        call_logs=_call_logs(),
        runs=_runs(),
        placer=_placer(),
        clock=SystemClock(),
        idempotency=make_call_idempotency(),
    )


@cache
def run_steps() -> RunSteps:
    paging = get_settings(PagingSettings)
    return RunSteps(
        campaigns=_campaigns(),
        runs=_runs(),
        workflow=WorkflowEngine(_stepfunctions()),
        clock=SystemClock(),
        page_size=paging.contacts_page_size,
        pages_per_execution=paging.pages_per_execution,
        progress_ttl_seconds=get_settings(ProgressSettings).progress_ttl_seconds,
    )


@cache
def dial_recorder() -> DialRecorder:
    return DialRecorder(runs=_runs(), campaigns=_campaigns(), clock=SystemClock())


@cache
def dial_step() -> DialStep:
    return DialStep(
        runs=_runs(),
        placer=_placer(),
        recorder=dial_recorder(),
        workflow=WorkflowEngine(_stepfunctions()),
        clock=SystemClock(),
        pause_after_failures=get_settings(DialStepSettings).pause_after_failures,
        progress_ttl_seconds=get_settings(ProgressSettings).progress_ttl_seconds,
    )


@cache
def run_reconciler() -> RunReconciler:
    return RunReconciler(
        runs=_runs(),
        executions=ExecutionStatuses(_stepfunctions()),
        clock=SystemClock(),
        progress_ttl_seconds=get_settings(ProgressSettings).progress_ttl_seconds,
        grace_seconds=get_settings(SweepSettings).run_sweep_grace_seconds,
    )
