"""The telephony provider's HTTP API, as the dial path sees it.

``POST {base}/v1/calls`` with ``Authorization: Bearer <api key>`` and an
``Idempotency-Key`` that is the same for every retry of one dial, so the provider
connects a call at most once however often we have to ask.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

# Transient answers worth asking again (with the same idempotency key).
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER_SECONDS = 5.0


class ApiKeySource(Protocol):
    def __call__(self) -> str: ...


class SecretsManagerApiKey:
    """The provider's API key from Secrets Manager through Powertools Parameters, cached."""

    def __init__(self, secret_id: str, max_age_seconds: int) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds

    def __call__(self) -> str:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(self._secret_id, max_age=self._max_age)
        return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class DialRequest:
    to: str
    provider_agent_id: str
    caller_id: str | None
    idempotency_key: str
    metadata: dict[str, str] = field(default_factory=dict)


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


class DialerClient:
    def __init__(
        self,
        base_url: str,
        api_key: ApiKeySource,
        *,
        timeout_seconds: float = 10.0,
        max_attempts: int = 3,
        backoff_seconds: float = 0.25,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(3.0, timeout_seconds))
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        # One pooled client per container, created on first use (not at import).
        if self._client is None:
            self._client = httpx.Client(base_url=self._base_url, timeout=self._timeout, transport=self._transport)
        return self._client

    def prepare(self) -> None:
        """Fetch the API key and open the client ahead of a paced dial, so the dial itself
        leaves the moment its turn comes."""
        self._api_key()
        self._http()

    def dial(self, request: DialRequest) -> DialResult:
        body = {
            "to": request.to,
            "agentId": request.provider_agent_id,
            "callerId": request.caller_id,
            "metadata": request.metadata,
        }
        headers = {
            "Authorization": f"Bearer {self._api_key()}",
            "Idempotency-Key": request.idempotency_key,
        }
        maybe_placed = False
        result: DialResult | None = None
        for attempt in range(1, self._max_attempts + 1):
            result, retry_after = self._attempt(body, headers, attempt)
            maybe_placed = maybe_placed or result.outcome_unknown
            if retry_after is None or attempt == self._max_attempts:
                break
            self._sleep(retry_after)
        assert result is not None
        if not result.accepted and maybe_placed:
            # An earlier attempt may have connected the call: say so rather than "failed".
            return replace(result, outcome_unknown=True)
        return result

    def _attempt(self, body: dict[str, Any], headers: dict[str, str], attempt: int) -> tuple[DialResult, float | None]:
        backoff = self._backoff * (2 ** (attempt - 1))
        try:
            response = self._http().post("/v1/calls", json=body, headers=headers)
        except httpx.ConnectError as exc:
            # Never reached the provider: safe to retry, nothing was placed.
            return self._failed(
                None, f"cannot connect to provider: {type(exc).__name__}", attempt, unknown=False
            ), backoff
        except httpx.TimeoutException as exc:
            # The provider may have accepted the call; retrying with the same key is safe.
            return self._failed(None, f"provider timed out: {type(exc).__name__}", attempt, unknown=True), backoff
        except httpx.TransportError as exc:
            return self._failed(
                None, f"provider connection failed: {type(exc).__name__}", attempt, unknown=True
            ), backoff
        payload = _json_or_text(response)
        if response.is_success:
            call_id = payload.get("id") if isinstance(payload, dict) else None
            return DialResult(True, response.status_code, payload, call_id, None, attempts=attempt), None
        error = f"provider answered {response.status_code}"
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            error += f": {payload['error'][:200]}"
        retry_after = None
        if response.status_code in _RETRY_STATUS:
            retry_after = _retry_after(response) if response.status_code == 429 else None
            retry_after = backoff if retry_after is None else retry_after
        return DialResult(False, response.status_code, payload, None, error, attempts=attempt), retry_after

    @staticmethod
    def _failed(status: int | None, error: str, attempt: int, *, unknown: bool) -> DialResult:
        return DialResult(False, status, None, None, error, outcome_unknown=unknown, attempts=attempt)


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
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return None
