"""The telephony provider's HTTP API, as the dial path sees it.

``POST {base}/v1/calls`` with ``Authorization: Bearer <api key>`` and an
``Idempotency-Key`` that is the same for every retry of one dial, so the provider
connects a call at most once however often we have to ask.

A dial can be given a deadline (from the Lambda context): it then never starts an
attempt or a wait that cannot finish before it, and shortens the last attempt to fit,
so the caller always has time left to log the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from campaign_calling.deadline import Deadline

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


class ApiKeySource(Protocol):
    """Where the API key comes from (in AWS, aws.secretsmanager.CachedSecret): asked on
    every dial, so a rotated key is used as soon as the source has it."""

    def __call__(self) -> str: ...


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
    # True when the deadline ended the dial before the provider gave a final answer.
    deadline_exceeded: bool = False


class DialerClient:
    def __init__(
        self,
        base_url: str,
        api_key: ApiKeySource,
        *,
        timeout_seconds: float = 10.0,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_seconds: float = BACKOFF_SECONDS,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_seconds = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        # One pooled client per container, created on first use (not at import).
        if self._client is None:
            self._client = httpx.Client(
                base_url=self._base_url, timeout=attempt_timeout(self._timeout_seconds), transport=self._transport
            )
        return self._client

    def prepare(self) -> None:
        """Fetch the API key and open the client ahead of a paced dial, so the dial itself
        leaves the moment its turn comes."""
        self._api_key()
        self._http()

    def dial(self, request: DialRequest, deadline: Deadline | None = None) -> DialResult:
        deadline = deadline or Deadline.unbounded()
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
        cut_short = False
        result: DialResult | None = None
        for attempt in range(1, self._max_attempts + 1):
            if not deadline.allows(MIN_ATTEMPT_SECONDS):
                cut_short = True
                break
            seconds = min(self._timeout_seconds, deadline.remaining())
            result, retry_after, timed_out = self._attempt(body, headers, attempt, seconds)
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

    def _attempt(
        self, body: dict[str, Any], headers: dict[str, str], attempt: int, seconds: float
    ) -> tuple[DialResult, float | None, bool]:
        """One request: its result, the wait before the next attempt (None: do not retry),
        and whether it timed out."""
        backoff = self._backoff * (2 ** (attempt - 1))
        try:
            response = self._http().post("/v1/calls", json=body, headers=headers, timeout=attempt_timeout(seconds))
        except httpx.ConnectError as exc:
            # Never reached the provider: safe to retry, nothing was placed.
            failed = self._failed(None, f"cannot connect to provider: {type(exc).__name__}", attempt, unknown=False)
            return failed, backoff, False
        except httpx.TimeoutException as exc:
            # The provider may have accepted the call; retrying with the same key is safe.
            return self._failed(None, f"provider timed out: {type(exc).__name__}", attempt, unknown=True), backoff, True
        except httpx.TransportError as exc:
            failed = self._failed(None, f"provider connection failed: {type(exc).__name__}", attempt, unknown=True)
            return failed, backoff, False
        payload = _json_or_text(response)
        if response.is_success:
            call_id = payload.get("id") if isinstance(payload, dict) else None
            return DialResult(True, response.status_code, payload, call_id, None, attempts=attempt), None, False
        error = f"provider answered {response.status_code}"
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            error += f": {payload['error'][:200]}"
        retry_after = None
        if response.status_code in _RETRY_STATUS:
            retry_after = _retry_after(response) if response.status_code == 429 else None
            retry_after = backoff if retry_after is None else retry_after
        return DialResult(False, response.status_code, payload, None, error, attempts=attempt), retry_after, False

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
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return None
