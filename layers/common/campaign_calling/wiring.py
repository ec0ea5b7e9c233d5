"""Builds the services from configuration, once per container and only when first used.

Each factory asks only for the settings its own service needs, so a function gets by
with exactly the environment (and permissions) template.yaml gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import _lru_cache_wrapper, cache
from typing import TYPE_CHECKING, Any, TypeVar

import boto3

from campaign_calling.clock import SystemClock
from campaign_calling.settings import (
    CallSlotSettings,
    ClientAccountSettings,
    DialStepSettings,
    IdempotencySettings,
    MainTableSettings,
    PagingSettings,
    PlacingSettings,
    ProgressSettings,
    ProviderAccountSettings,
    ProviderDefaultSettings,
    ProviderEndpointSettings,
    StateMachineSettings,
    SweepSettings,
    TableNames,
    get_settings,
)

# The services are imported by the factories that build them: a function loads only the
# modules (and libraries: httpx, Powertools' idempotency) of the services it uses.
if TYPE_CHECKING:  # the stubs are a dev dependency: the layer never imports them
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

    from campaign_calling.calls.directory import HttpDirectory
    from campaign_calling.calls.logs import CallLogRepository
    from campaign_calling.calls.make_call import MakeCallService
    from campaign_calling.calls.placing import CallPlacer
    from campaign_calling.calls.providers.accounts import ClientAccounts, ProviderAccounts
    from campaign_calling.calls.slots import SlotStore
    from campaign_calling.calls.status_updates import StatusUpdates
    from campaign_calling.catalog.agents import AgentRepository
    from campaign_calling.catalog.campaigns import CampaignRepository
    from campaign_calling.catalog.connections import ProviderConnections
    from campaign_calling.catalog.dnc import DoNotCallList
    from campaign_calling.catalog.in_use import RunsInUse
    from campaign_calling.catalog.limits import ClientLimitsStore
    from campaign_calling.catalog.ownership import AgentOwnership, CheckedAgent
    from campaign_calling.catalog.service import CatalogService
    from campaign_calling.compliance.number_limits import NumberUseStore
    from campaign_calling.idempotency import IdempotentRequests
    from campaign_calling.models import AgentInput
    from campaign_calling.observability.metrics import CallMetrics
    from campaign_calling.runs.claims import DialClaims
    from campaign_calling.runs.dial import DialRecorder, DialStep
    from campaign_calling.runs.history import RunHistoryService
    from campaign_calling.runs.lifecycle import CallingService, RunEnding
    from campaign_calling.runs.pages import PageLoader, RunSteps
    from campaign_calling.runs.reconcile import RunReconciler
    from campaign_calling.runs.repository import RunRepository
    from campaign_calling.runs.status import CallingStatusService

_T = TypeVar("_T")
_BUILT: list[_lru_cache_wrapper[Any]] = []


def _once(factory: Callable[..., _T]) -> _lru_cache_wrapper[_T]:
    """Built once per container (cached), and forgotten by forget_services."""
    built = cache(factory)
    _BUILT.append(built)
    return built


@_once
def _dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb")


@_once
def _stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions")


def _agents() -> AgentRepository:
    from campaign_calling.catalog.agents import AgentRepository

    return AgentRepository(_dynamodb(), get_settings(TableNames).main_table)


def _campaigns() -> CampaignRepository:
    from campaign_calling.catalog.campaigns import CampaignRepository

    tables = get_settings(TableNames)
    return CampaignRepository(_dynamodb(), tables.main_table, progress_table=tables.progress_table)


def _call_logs() -> CallLogRepository:
    from campaign_calling.calls.logs import CallLogRepository

    return CallLogRepository(_dynamodb(), get_settings(TableNames).call_logs_table)


def _runs() -> RunRepository:
    from campaign_calling.runs.repository import RunRepository

    tables = get_settings(TableNames)
    return RunRepository(
        _dynamodb(),
        main_table=tables.main_table,
        progress_table=tables.progress_table,
        progress_ttl_seconds=get_settings(ProgressSettings).progress_ttl_seconds,
        clock=SystemClock(),
    )


def _slots() -> SlotStore:
    from campaign_calling.calls.slots import SlotStore

    tables = get_settings(TableNames)
    return SlotStore(_dynamodb(), progress_table=tables.progress_table, call_logs_table=tables.call_logs_table)


def _number_uses() -> NumberUseStore:
    from campaign_calling.compliance.number_limits import NumberUseStore

    return NumberUseStore(_dynamodb(), get_settings(TableNames).progress_table)


def _claims() -> DialClaims:
    from campaign_calling.runs.claims import DialClaims

    tables = get_settings(TableNames)
    return DialClaims(
        _dynamodb(),
        progress_table=tables.progress_table,
        call_logs_table=tables.call_logs_table,
    )


def _ending() -> RunEnding:
    from campaign_calling.aws.stepfunctions import WorkflowEngine
    from campaign_calling.runs.lifecycle import RunEnding

    return RunEnding(runs=_runs(), workflow=WorkflowEngine(_stepfunctions()))


@_once
def _idempotency(operation: str) -> IdempotentRequests:
    """One persistence layer per operation: Powertools configures a layer once, and
    locally every function shares this process."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from campaign_calling.idempotency import IdempotentRequests

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


@_once
def provider_accounts() -> ProviderAccounts:
    """Provider credentials: the deployment's secret and the clients' own (also what the
    status webhooks verify signatures with: it implements status_updates.WebhookKeys)."""
    from campaign_calling.aws.secretsmanager import CachedSecret
    from campaign_calling.calls.providers.accounts import ProviderAccounts

    settings = get_settings(ProviderAccountSettings)
    return ProviderAccounts(
        CachedSecret(settings.dialer_api_key_secret, settings.secret_cache_seconds), _client_accounts()
    )


@_once
def _client_accounts() -> ClientAccounts:
    from campaign_calling.aws.secretsmanager import SecretStore
    from campaign_calling.calls.providers.accounts import ClientAccounts

    settings = get_settings(ClientAccountSettings)
    return ClientAccounts(
        SecretStore(boto3.client("secretsmanager"), settings.secret_cache_seconds),
        settings.client_secret_prefix,
    )


@_once
def provider_directory() -> HttpDirectory:
    from campaign_calling.calls.directory import HttpDirectory
    from campaign_calling.calls.provider import ProviderEndpoints
    from campaign_calling.observability.tracing import trace_http_client

    trace_http_client()  # before the client is made: X-Ray patches httpx's classes
    return HttpDirectory(ProviderEndpoints(get_settings(ProviderEndpointSettings).base_urls()))


@_once
def _placer() -> CallPlacer:
    from campaign_calling.aws.ssm import CachedParameter
    from campaign_calling.calls.placing import CallPlacer
    from campaign_calling.calls.provider import DialectDefaults, DialerClient, ProviderEndpoints
    from campaign_calling.calls.providers.twilio import TwilioDefaults
    from campaign_calling.calls.providers.vapi import VapiDefaults
    from campaign_calling.observability.tracing import trace_http_client

    trace_http_client()  # before the client is made: X-Ray patches httpx's classes
    settings = get_settings(PlacingSettings)
    dialer = DialerClient(
        ProviderEndpoints(settings.base_urls()),
        provider_accounts(),
        defaults=DialectDefaults(
            twilio=TwilioDefaults(twiml_url=settings.twilio_twiml_url or None),
            vapi=VapiDefaults(phone_number_id=settings.vapi_phone_number_id or None),
        ),
        webhook_base_url=CachedParameter(settings.webhook_base_url_parameter, settings.secret_cache_seconds),
        timeout_seconds=settings.dialer_timeout_seconds,
    )
    return CallPlacer(dialer, SystemClock())


@_once
def provider_connections() -> ProviderConnections:
    from campaign_calling.catalog.connections import ProviderConnections

    return ProviderConnections(accounts=_client_accounts(), directory=provider_directory())


@_once
def client_limits() -> ClientLimitsStore:
    """A client's call limits (GET/PUT /client/settings; the dial steps read them)."""
    from campaign_calling.catalog.limits import ClientLimitsStore

    return ClientLimitsStore(_dynamodb(), get_settings(MainTableSettings).main_table)


@_once
def do_not_call() -> DoNotCallList:
    """The client's do-not-call list (its routes; the dial steps and make-call read it)."""
    from campaign_calling.catalog.dnc import DoNotCallList

    return DoNotCallList(_dynamodb(), get_settings(MainTableSettings).main_table, SystemClock())


@_once
def catalog_service() -> CatalogService:
    from campaign_calling.catalog.service import CatalogService

    return CatalogService(
        agents=_agents(),
        campaigns=_campaigns(),
        call_logs=_call_logs(),
        clock=SystemClock(),
        ownership=_OwnershipOnFirstUse(),
        settings=client_limits(),
        runs_in_use=_runs_in_use(),
    )


def _runs_in_use() -> RunsInUse:
    from campaign_calling.catalog.in_use import RunsInUse

    tables = get_settings(TableNames)
    return RunsInUse(_dynamodb(), main_table=tables.main_table, progress_table=tables.progress_table)


@_once
def _ownership() -> AgentOwnership:
    from campaign_calling.catalog.ownership import AgentOwnership

    defaults = get_settings(ProviderDefaultSettings)
    return AgentOwnership(provider_accounts(), provider_directory(), twiml_url_default=bool(defaults.twilio_twiml_url))


class _OwnershipOnFirstUse:
    """The catalog serves campaigns too: only a function that creates agents is given (and
    reads) the provider settings, when it first checks one."""

    def check(self, client_id: str, agent: AgentInput) -> CheckedAgent:
        return _ownership().check(client_id, agent)


@_once
def calling_service() -> CallingService:
    from campaign_calling.aws.stepfunctions import WorkflowEngine
    from campaign_calling.runs.lifecycle import CallingService

    settings = get_settings(StateMachineSettings)
    return CallingService(
        agents=_agents(),
        campaigns=_campaigns(),
        runs=_runs(),
        workflow=WorkflowEngine(_stepfunctions()),
        ending=_ending(),
        clock=SystemClock(),
        state_machine_arn=settings.state_machine_arn,
        client_settings=client_limits(),
    )


@_once
def calling_status_service() -> CallingStatusService:
    from campaign_calling.runs.status import CallingStatusService

    return CallingStatusService(runs=_runs(), clock=SystemClock())


@_once
def run_history_service() -> RunHistoryService:
    from campaign_calling.runs.history import RunHistoryService
    from campaign_calling.runs.history_store import RunHistoryRepository

    return RunHistoryService(
        history=RunHistoryRepository(_dynamodb(), progress_table=get_settings(TableNames).progress_table),
        runs=_runs(),
        clock=SystemClock(),
        progress_ttl_seconds=get_settings(ProgressSettings).progress_ttl_seconds,
    )


@_once
def make_call_service() -> MakeCallService:
    from campaign_calling.calls.make_call import MakeCallService

    return MakeCallService(
        agents=_agents(),
        campaigns=_campaigns(),
        call_logs=_call_logs(),
        claims=_claims(),
        placer=_placer(),
        clock=SystemClock(),
        slots=_slots(),
        client_limits=client_limits(),
        do_not_call=do_not_call(),
        numbers=_number_uses(),
        max_call_seconds=get_settings(CallSlotSettings).max_call_seconds,
        idempotency=make_call_idempotency(),
    )


@_once
def call_metrics() -> CallMetrics:
    from campaign_calling.observability.metrics import CallMetrics

    return CallMetrics()


@_once
def status_updates() -> StatusUpdates:
    from campaign_calling.calls.opt_outs import CallLogPhones, OptOutListing
    from campaign_calling.calls.status_store import CallStatusWriter, ProviderCallIndex
    from campaign_calling.calls.status_updates import StatusUpdates

    tables = get_settings(TableNames)
    return StatusUpdates(
        index=ProviderCallIndex(_dynamodb(), tables.call_logs_table),
        store=CallStatusWriter(
            _dynamodb(), call_logs_table=tables.call_logs_table, progress_table=tables.progress_table
        ),
        keys=provider_accounts(),
        metrics=call_metrics(),
        clock=SystemClock(),
        opt_outs=OptOutListing(phones=CallLogPhones(_dynamodb(), tables.call_logs_table), do_not_call=do_not_call()),
    )


@_once
def page_loader() -> PageLoader:
    from campaign_calling.runs.pages import PageLoader

    settings = get_settings(PagingSettings)
    from campaign_calling.runs.retry_store import RetryQueue

    return PageLoader(
        campaigns=_campaigns(),
        runs=_runs(),
        page_size=settings.contacts_page_size,
        pages_per_execution=settings.pages_per_execution,
        retries=RetryQueue(_dynamodb(), get_settings(TableNames).progress_table),
        slots=_slots(),
        clock=SystemClock(),
        deferrals=_claims(),
        client_limits=client_limits(),
    )


@_once
def run_steps() -> RunSteps:
    from campaign_calling.aws.stepfunctions import WorkflowEngine
    from campaign_calling.runs.pages import RunSteps

    return RunSteps(runs=_runs(), workflow=WorkflowEngine(_stepfunctions()), ending=_ending())


@_once
def dial_recorder() -> DialRecorder:
    from campaign_calling.runs.dial import DialRecorder

    return DialRecorder(claims=_claims(), campaigns=_campaigns(), clock=SystemClock())


@_once
def dial_step() -> DialStep:
    from campaign_calling.runs.dial import DialStep

    settings = get_settings(DialStepSettings)
    max_call_seconds = get_settings(CallSlotSettings).max_call_seconds
    return DialStep(
        runs=_runs(),
        placer=_placer(),
        recorder=dial_recorder(),
        ending=_ending(),
        clock=SystemClock(),
        pause_after_failures=settings.pause_after_failures,
        slots=_slots(),
        client_limits=client_limits(),
        do_not_call=do_not_call(),
        numbers=_number_uses(),
        max_call_seconds=max_call_seconds,
        slot_waits_per_execution=settings.slot_waits_per_execution,
    )


@_once
def run_reconciler() -> RunReconciler:
    from campaign_calling.aws.stepfunctions import ExecutionStatuses
    from campaign_calling.runs.reconcile import RunReconciler

    settings = get_settings(SweepSettings)
    return RunReconciler(
        runs=_runs(),
        executions=ExecutionStatuses(_stepfunctions()),
        ending=_ending(),
        clock=SystemClock(),
        grace_seconds=settings.run_sweep_grace_seconds,
    )


def forget_services() -> None:
    """Forget the settings, clients and services built so far: the next use builds them
    from the environment as it is then (the local engine and tests switch functions'
    environments in one process)."""
    get_settings.cache_clear()
    for built in _BUILT:
        built.cache_clear()
