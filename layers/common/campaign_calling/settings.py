"""Typed configuration, read from the environment when first needed (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, Field, ValidationError


class ConfigurationError(RuntimeError):
    pass


class Settings(BaseModel):
    """Every environment variable the functions read. Each function gets the ones it needs
    from template.yaml; a missing one fails only when the code that needs it runs."""

    main_table: str | None = Field(None, alias="MAIN_TABLE_NAME")
    progress_table: str | None = Field(None, alias="PROGRESS_TABLE_NAME")
    call_logs_table: str | None = Field(None, alias="CALL_LOGS_TABLE_NAME")
    idempotency_table: str | None = Field(None, alias="IDEMPOTENCY_TABLE_NAME")
    state_machine_arn: str | None = Field(None, alias="STATE_MACHINE_ARN")
    dialer_base_url: str | None = Field(None, alias="DIALER_BASE_URL")
    dialer_api_key_secret: str | None = Field(None, alias="DIALER_API_KEY_SECRET")
    dialer_timeout_seconds: float = Field(10.0, alias="DIALER_TIMEOUT_SECONDS", gt=0, le=60)
    secret_cache_seconds: int = Field(300, alias="SECRET_CACHE_SECONDS", ge=0)
    progress_ttl_seconds: int = Field(3600, alias="PROGRESS_TTL_SECONDS", ge=60)
    contacts_page_size: int = Field(100, alias="CONTACTS_PAGE_SIZE", ge=1, le=150)
    pages_per_execution: int = Field(3, alias="PAGES_PER_EXECUTION", ge=1, le=20)
    pause_after_failures: int = Field(10, alias="PAUSE_AFTER_CONSECUTIVE_FAILURES", ge=0)
    tenant_claim: str = Field("sub", alias="TENANT_CLAIM", min_length=1)
    # A run whose recorded execution does not exist is swept only after this long: the
    # execution's ARN is recorded just before the execution is started.
    run_sweep_grace_seconds: int = Field(300, alias="RUN_SWEEP_GRACE_SECONDS", ge=0)

    def require(self, name: str) -> str:
        value: str | None = getattr(self, name)
        if not value:
            field = type(self).model_fields[name]
            raise ConfigurationError(f"environment variable {field.alias} is not set")
        return value


def load_settings(environ: Mapping[str, str]) -> Settings:
    known = {f.alias for f in Settings.model_fields.values()}
    try:
        return Settings.model_validate({k: v for k, v in environ.items() if k in known})
    except ValidationError as exc:
        raise ConfigurationError(str(exc)) from exc


@cache
def get_settings() -> Settings:
    return load_settings(os.environ)
