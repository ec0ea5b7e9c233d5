"""Typed configuration from the environment, in small pieces each function composes.

Each function's handler declares one class made of the pieces it needs (e.g.
``class Settings(TableNames, TenantSettings)``), and template.yaml gives it exactly those
variables (tests/unit/test_template.py compares the two). The handler validates its class
on first use, so a missing or invalid variable fails its first invocation clearly; the
wiring reads the pieces it builds services from. Nothing is read at import: tests set the
environment after importing.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.runs.budget import SLOT_WAITS_PER_EXECUTION


class ConfigurationError(RuntimeError):
    pass


class Piece(BaseModel):
    """Variables read by their exact names (each field's alias), from the whole environment.

    Plain pydantic rather than pydantic-settings: the same validation, without its 15 ms
    of imports at every cold start (bench/cold_start.py)."""

    # Frozen so a loaded piece can be shared; other variables of the environment ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)


class TableNames(Piece):
    main_table: str = Field(alias="MAIN_TABLE_NAME", min_length=1)
    progress_table: str = Field(alias="PROGRESS_TABLE_NAME", min_length=1)
    call_logs_table: str = Field(alias="CALL_LOGS_TABLE_NAME", min_length=1)


class MainTableSettings(Piece):
    """For a function that uses the main table only (of the tables every function is given)."""

    main_table: str = Field(alias="MAIN_TABLE_NAME", min_length=1)


class IdempotencySettings(Piece):
    """For the routes that take an Idempotency-Key."""

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)


class TenantSettings(Piece):
    """For the API routes: which verified claim names the client."""

    tenant_claim: str = Field("sub", alias="TENANT_CLAIM", min_length=1)


class ProgressSettings(Piece):
    """For whatever writes a run's progress."""

    progress_ttl_seconds: int = Field(3600, alias="PROGRESS_TTL_SECONDS", ge=60)


class StateMachineSettings(Piece):
    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", min_length=1)


class DialerSettings(Piece):
    dialer_base_url: str = Field(alias="DIALER_BASE_URL", min_length=1)
    dialer_api_key_secret: str = Field(alias="DIALER_API_KEY_SECRET", min_length=1)
    dialer_timeout_seconds: float = Field(10.0, alias="DIALER_TIMEOUT_SECONDS", gt=0, le=60)
    # A tunable the template leaves at its default (README, "Deploying").
    secret_cache_seconds: int = Field(300, alias="SECRET_CACHE_SECONDS", ge=0)


class ProviderAccountSettings(Piece):
    """Where the provider accounts' credentials are: the deployment's secret (the default
    account of every provider) and the prefix of the clients' own secrets."""

    dialer_api_key_secret: str = Field(alias="DIALER_API_KEY_SECRET", min_length=1)
    client_secret_prefix: str = Field(alias="PROVIDER_ACCOUNTS_SECRET_PREFIX", min_length=1)
    secret_cache_seconds: int = Field(300, alias="SECRET_CACHE_SECONDS", ge=0)


class ClientAccountSettings(Piece):
    """The clients' own provider accounts only (one secret each under this prefix, named by
    calls/providers/credentials.client_provider_secret_name), for the function that writes
    them and is given no other secret."""

    client_secret_prefix: str = Field(alias="PROVIDER_ACCOUNTS_SECRET_PREFIX", min_length=1)
    secret_cache_seconds: int = Field(300, alias="SECRET_CACHE_SECONDS", ge=0)


class ProviderEndpointSettings(Piece):
    """Each provider's API base URL (stack parameters; DialerBaseUrl is the generic one)."""

    dialer_base_url: str = Field(alias="DIALER_BASE_URL", min_length=1)
    twilio_base_url: str = Field(alias="TWILIO_BASE_URL", min_length=1)
    vapi_base_url: str = Field(alias="VAPI_BASE_URL", min_length=1)
    retell_base_url: str = Field(alias="RETELL_BASE_URL", min_length=1)

    def base_urls(self) -> dict[Dialect, str]:
        return {
            "generic": self.dialer_base_url,
            "twilio": self.twilio_base_url,
            "vapi": self.vapi_base_url,
            "retell": self.retell_base_url,
        }


class ProviderDefaultSettings(Piece):
    """What a deployment sets once for every agent of a provider (an agent may override it).
    Empty: not set (an agent then gives its own, or its calls are not placed, saying why)."""

    twilio_twiml_url: str = Field("", alias="TWILIO_TWIML_URL")
    vapi_phone_number_id: str = Field("", alias="VAPI_PHONE_NUMBER_ID")


class WebhookSettings(Piece):
    """The NAME of the SSM parameter holding this deployment's webhook base URL: a function's
    environment never holds the API's URL (a CloudFormation cycle, see template.yaml)."""

    webhook_base_url_parameter: str = Field(alias="WEBHOOK_BASE_URL_PARAMETER", min_length=1)


class PlacingSettings(
    DialerSettings, ProviderAccountSettings, ProviderEndpointSettings, ProviderDefaultSettings, WebhookSettings
):
    """Everything placing a call reads: the dial step's and make-call's."""


class PagingSettings(Piece):
    """How a run reads its contacts: page size and pages per execution."""

    contacts_page_size: int = Field(100, alias="CONTACTS_PAGE_SIZE", ge=1, le=150)
    pages_per_execution: int = Field(3, alias="PAGES_PER_EXECUTION", ge=1, le=20)


class RetrySettings(Piece):
    """For start-calling: the shortest retry delay a run may ask for (MinRetryDelaySeconds)."""

    min_retry_delay_seconds: int = Field(60, alias="MIN_RETRY_DELAY_SECONDS", ge=1, le=86400)


class CallSlotSettings(Piece):
    """For whatever places calls: how long a call holds its slot among the calls in progress
    without a final status (the stack's MaxCallSeconds)."""

    max_call_seconds: int = Field(1800, alias="MAX_CALL_SECONDS", ge=60, le=86400)


class DialStepSettings(Piece):
    pause_after_failures: int = Field(10, alias="PAUSE_AFTER_CONSECUTIVE_FAILURES", ge=0)
    # A tunable the template leaves at its default, and which can only be lowered: the
    # history budget (runs/budget.py) counts the most waits for a call slot it allows.
    slot_waits_per_execution: int = Field(
        SLOT_WAITS_PER_EXECUTION, alias="SLOT_WAITS_PER_EXECUTION", ge=1, le=SLOT_WAITS_PER_EXECUTION
    )


class SweepSettings(Piece):
    """A tunable the template leaves at its default: a run whose recorded execution does
    not exist is swept only after this long, as the execution's ARN is recorded just
    before the execution is started."""

    run_sweep_grace_seconds: int = Field(300, alias="RUN_SWEEP_GRACE_SECONDS", ge=0)


PIECES: tuple[type[Piece], ...] = (
    TableNames,
    MainTableSettings,
    IdempotencySettings,
    TenantSettings,
    ProgressSettings,
    StateMachineSettings,
    DialerSettings,
    ProviderAccountSettings,
    ClientAccountSettings,
    ProviderEndpointSettings,
    ProviderDefaultSettings,
    WebhookSettings,
    PagingSettings,
    CallSlotSettings,
    RetrySettings,
    DialStepSettings,
    SweepSettings,
)

# Variables a function may read that the template deliberately does not set (their
# defaults suit AWS; the local engine or an operator may tune them).
TUNABLES = frozenset({"SECRET_CACHE_SECONDS", "RUN_SWEEP_GRACE_SECONDS", "SLOT_WAITS_PER_EXECUTION"})

_S = TypeVar("_S", bound=Piece)


def variable_names(settings: type[Piece]) -> set[str]:
    """The environment variables ``settings`` reads."""
    return {field.alias or name for name, field in settings.model_fields.items()}


def load_settings(settings: type[_S]) -> _S:
    """``settings`` read from the environment now; ConfigurationError naming every missing
    or invalid variable."""
    try:
        return settings.model_validate(dict(os.environ))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or settings.__name__
            problems.append(
                f"environment variable {name} is not set"
                if err["type"] == "missing"
                else f"environment variable {name}: {err['msg']}"
            )
        raise ConfigurationError("; ".join(problems)) from None


@cache
def get_settings(settings: type[_S]) -> _S:
    """``settings`` read once per container (a function's class, or one of its pieces)."""
    return load_settings(settings)
