"""The telephony providers' HTTP APIs, as the dial path sees them.

Each agent names its provider (a dialect of calls/providers/) and the account it calls with;
the dial sends that dialect's create-call request to the provider's base URL with that
account's credentials. The generic dialect carries an ``Idempotency-Key`` that is the same
for every retry of one dial, so it is asked again after a timeout; Twilio, Vapi and Retell
take no key, so a request of theirs that may have been placed is never asked again (an
answer that says it was not placed, 429 or 5xx, still is).

A dial can be given a deadline (from the Lambda context): it then never starts an
attempt or a wait that cannot finish before it, and shortens the last attempt to fit,
so the caller always has time left to log the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from campaign_calling.calls.providers import generic, retell, twilio, vapi
from campaign_calling.calls.providers.accounts import (
    Credentials,
    CredentialsError,
    DeploymentAccounts,
    GenericCredentials,
    RetellCredentials,
    TwilioCredentials,
    VapiCredentials,
)
from campaign_calling.calls.providers.dialect import CallAnswer, CallSpec, Dialect, ProviderConfigError, ProviderRequest
from campaign_calling.calls.providers.twilio import TwilioDefaults
from campaign_calling.calls.providers.vapi import VapiDefaults
from campaign_calling.deadline import Deadline
from campaign_calling.models import Account

# Transient answers worth asking again (with the same idempotency key).
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.25  # before attempt n+1: BACKOFF_SECONDS * 2**(n-1), unless Retry-After says
MAX_RETRY_AFTER_SECONDS = 5.0
# Less time than this left: an attempt could not get an answer, so none is started.
MIN_ATTEMPT_SECONDS = 0.5
_MAX_CONNECT_SECONDS = 3.0


def longest_dial_seconds(timeout_seconds: float, max_attempts: int = MAX_ATTEMPTS) -> float:
    """The longest one dial can take without a deadline: every attempt runs to its
    timeout and every wait between attempts is the longest allowed."""
    waits: float = sum(max(MAX_RETRY_AFTER_SECONDS, BACKOFF_SECONDS * 2 ** (n - 1)) for n in range(1, max_attempts))
    return max_attempts * timeout_seconds + waits


def attempt_timeout(seconds: float) -> httpx.Timeout:
    """httpx times each phase on its own; split one attempt's time between connecting (a
    quarter, at most 3 s) and the answer, so that the whole attempt takes at most ``seconds``."""
    connect = min(_MAX_CONNECT_SECONDS, seconds / 4)
    return httpx.Timeout(connect=connect, read=seconds - connect, write=connect, pool=connect)


class AccountCredentials(Protocol):
    """Where an account's credentials come from (in AWS, calls.providers.accounts.ProviderAccounts
    over Secrets Manager): asked on every dial, so rotated credentials are used as soon as the
    source has them."""

    def account_credentials(self, provider: Dialect, client_id: str, account: Account) -> Credentials | None: ...

    def deployment(self) -> DeploymentAccounts: ...


@dataclass(frozen=True)
class ProviderEndpoints:
    """Each provider's base URL (stack parameters); the dialects' paths are relative to them."""

    base_urls: Mapping[Dialect, str]

    def url(self, provider: Dialect, path: str) -> str:
        base = self.base_urls.get(provider)
        if not base:
            raise ProviderConfigError(f"no base URL is configured for {provider}")
        return base.rstrip("/") + path


@dataclass(frozen=True)
class DialectDefaults:
    """What a deployment sets once for every agent of a provider (stack parameters)."""

    twilio: TwilioDefaults = field(default_factory=TwilioDefaults)
    vapi: VapiDefaults = field(default_factory=VapiDefaults)


WEBHOOK_PATH = "/api/v1/webhooks/{provider}"


def status_webhook_url(base_url: str | None, provider: Dialect) -> str | None:
    """Where ``provider`` sends a call's status events: this deployment's webhook route."""
    return base_url.rstrip("/") + WEBHOOK_PATH.format(provider=provider) if base_url else None


@dataclass(frozen=True)
class DialRequest:
    to: str = field(repr=False)
    provider_agent_id: str
    caller_id: str | None = field(repr=False)
    idempotency_key: str
    metadata: dict[str, str] = field(default_factory=dict)
    provider: Dialect = "generic"
    # Whose account places the call: the client's own, or the deployment's default.
    account: Account = "default"
    client_id: str = ""
    # The agent's overrides of the deployment's defaults.
    twiml_url: str | None = None
    phone_number_id: str | None = None
    customer_name: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DialResult:
    accepted: bool
    status_code: int | None
    response: Any
    provider_call_id: str | None
    error: str | None
    # True when the provider may have accepted the call but we could not learn it.
    outcome_unknown: bool = False
    attempts: int = 1
    # True when the deadline ended the dial before the provider gave a final answer.
    deadline_exceeded: bool = False


class DialerClient:
    """Places a call in the agent's provider's dialect, with the credentials of the agent's
    account, and reads the answer in that dialect."""

    def __init__(
        self,
        endpoints: ProviderEndpoints,
        credentials: AccountCredentials,
        *,
        defaults: DialectDefaults | None = None,
        webhook_base_url: Callable[[], str | None] = lambda: None,
        timeout_seconds: float = 10.0,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_seconds: float = BACKOFF_SECONDS,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._endpoints = endpoints
        self._credentials = credentials
        self._defaults = defaults or DialectDefaults()
        self._webhook_base_url = webhook_base_url
        self._timeout_seconds = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        # One pooled client per container, created on first use (not at import).
        if self._client is None:
            self._client = httpx.Client(timeout=attempt_timeout(self._timeout_seconds), transport=self._transport)
        return self._client

    def prepare(self) -> None:
        """Fetch the deployment's credentials and the webhook URL and open the client ahead of
        a paced dial, so the dial itself leaves the moment its turn comes."""
        try:
            self._credentials.deployment()
        except CredentialsError:
            pass  # the dial reports it (not placed) if this call needs the deployment's account
        self._webhook_base_url()
        self._http()

    def dial(self, request: DialRequest, deadline: Deadline | None = None) -> DialResult:
        deadline = deadline or Deadline.unbounded()
        try:
            provider_request = self._provider_request(request)
            url = self._endpoints.url(request.provider, provider_request.path)
        except (ProviderConfigError, CredentialsError) as exc:
            # Their messages name the missing setting or field, never a value.
            return DialResult(False, None, None, None, f"not placed: {exc}", attempts=0)
        maybe_placed = False
        cut_short = False
        result: DialResult | None = None
        for attempt in range(1, self._max_attempts + 1):
            if not deadline.allows(MIN_ATTEMPT_SECONDS):
                cut_short = True
                break
            seconds = min(self._timeout_seconds, deadline.remaining())
            result, retry_after, timed_out = self._attempt(request.provider, provider_request, url, attempt, seconds)
            maybe_placed = maybe_placed or result.outcome_unknown
            if timed_out and seconds < self._timeout_seconds:
                # Given its full time the provider might still have answered.
                cut_short = True
                break
            if retry_after is None or attempt == self._max_attempts:
                break
            if not deadline.allows(retry_after + MIN_ATTEMPT_SECONDS):
                cut_short = True
                break
            self._sleep(retry_after)
        if result is None:
            return DialResult(
                False,
                None,
                None,
                None,
                "not dialed: no time left before the deadline",
                attempts=0,
                deadline_exceeded=True,
            )
        if cut_short and not result.accepted:
            result = replace(
                result,
                deadline_exceeded=True,
                error=f"{result.error}; stopped at the deadline after {result.attempts} attempt(s)",
            )
        if not result.accepted and maybe_placed:
            # An earlier attempt may have connected the call: say so rather than "failed".
            return replace(result, outcome_unknown=True)
        return result

    def _provider_request(self, request: DialRequest) -> ProviderRequest:
        credentials = self._credentials.account_credentials(request.provider, request.client_id, request.account)
        if credentials is None:
            raise ProviderConfigError(f"no {request.provider} credentials for the agent's {request.account} account")
        spec = CallSpec(
            to=request.to,
            provider_agent_id=request.provider_agent_id,
            caller_id=request.caller_id,
            idempotency_key=request.idempotency_key,
            metadata=request.metadata,
            status_webhook_url=status_webhook_url(self._webhook_base_url(), request.provider),
            customer_name=request.customer_name,
        )
        # The dialect of the account's credentials (read for the agent's provider).
        if isinstance(credentials, TwilioCredentials):
            defaults = self._defaults.twilio
            if request.twiml_url:
                defaults = replace(defaults, twiml_url=request.twiml_url, twiml=None)
            account = twilio.TwilioAccount(credentials.accountSid, credentials.authToken)
            return twilio.create_call_request(spec, account, defaults)
        if isinstance(credentials, VapiCredentials):
            vapi_defaults = self._defaults.vapi
            if request.phone_number_id:
                vapi_defaults = replace(vapi_defaults, phone_number_id=request.phone_number_id)
            return vapi.create_call_request(spec, vapi.VapiAccount(credentials.apiKey), vapi_defaults)
        if isinstance(credentials, RetellCredentials):
            return retell.create_call_request(spec, retell.RetellAccount(credentials.apiKey))
        if isinstance(credentials, GenericCredentials):
            return generic.create_call_request(spec, generic.GenericAccount(credentials.apiKey))
        raise ProviderConfigError(f"no {request.provider} credentials for the agent's {request.account} account")

    def _attempt(
        self, provider: Dialect, request: ProviderRequest, url: str, attempt: int, seconds: float
    ) -> tuple[DialResult, float | None, bool]:
        """One request: its result, the wait before the next attempt (None: do not retry),
        and whether it timed out. A request the provider cannot deduplicate (no idempotency
        key: Twilio, Vapi, Retell) is never asked again once it may have been placed."""
        backoff = self._backoff * (2 ** (attempt - 1))
        again_if_maybe_placed = backoff if request.idempotent else None
        try:
            response = self._http().request(
                request.method,
                url,
                content=request.body,
                headers=dict(request.headers),
                timeout=attempt_timeout(seconds),
            )
        except httpx.ConnectError as exc:
            # Never reached the provider: safe to retry, nothing was placed.
            failed = self._failed(None, f"cannot connect to provider: {type(exc).__name__}", attempt, unknown=False)
            return failed, backoff, False
        except httpx.TimeoutException as exc:
            # The provider may have accepted the call; only an idempotent request is asked again.
            failed = self._failed(None, f"provider timed out: {type(exc).__name__}", attempt, unknown=True)
            return failed, again_if_maybe_placed, True
        except httpx.TransportError as exc:
            failed = self._failed(None, f"provider connection failed: {type(exc).__name__}", attempt, unknown=True)
            return failed, again_if_maybe_placed, False
        payload = _json_or_text(response)
        answer = _read_answer(provider, response.status_code, payload)
        if answer.accepted:
            result = DialResult(True, response.status_code, payload, answer.provider_call_id, None, attempts=attempt)
            return result, None, False
        retry_after = None
        if response.status_code in _RETRY_STATUS:
            # These answers say the call was not placed: asking again cannot place it twice.
            retry_after = _retry_after(response) if response.status_code == 429 else None
            retry_after = backoff if retry_after is None else retry_after
        return (
            DialResult(False, response.status_code, payload, None, answer.error, attempts=attempt),
            retry_after,
            False,
        )

    @staticmethod
    def _failed(status: int | None, error: str, attempt: int, *, unknown: bool) -> DialResult:
        return DialResult(False, status, None, None, error, outcome_unknown=unknown, attempts=attempt)


def _read_answer(provider: Dialect, status_code: int, payload: object) -> CallAnswer:
    readers: dict[str, Callable[[int, object], CallAnswer]] = {
        "twilio": twilio.read_create_call_answer,
        "vapi": vapi.read_create_call_answer,
        "retell": retell.read_create_call_answer,
    }
    return readers.get(provider, generic.read_create_call_answer)(status_code, payload)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"body": response.text[:1000]}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return None
