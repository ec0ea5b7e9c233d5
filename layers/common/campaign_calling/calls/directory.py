"""An account's agents and numbers asked of its provider over HTTP (the lookups of
calls/providers/directory.py), for the ownership checks when an agent is created and the
credentials check when a client connects its own account."""

from __future__ import annotations

from typing import Any

import httpx

from campaign_calling.calls.provider import ProviderEndpoints, attempt_timeout
from campaign_calling.calls.providers.accounts import Credentials
from campaign_calling.calls.providers.dialect import Dialect, ProviderRequest
from campaign_calling.calls.providers.directory import (
    DirectoryUnavailable,
    OwnedNumber,
    agent_request,
    credentials_check_request,
    number_requests,
    read_lookup_status,
    read_numbers,
)

# An API request waits for these lookups: each is kept short.
LOOKUP_TIMEOUT_SECONDS = 5.0
# The most lookups one request makes: an agent's id, then its number (Twilio: twice).
MAX_LOOKUPS_PER_REQUEST = 3


class HttpDirectory:
    def __init__(
        self,
        endpoints: ProviderEndpoints,
        *,
        timeout_seconds: float = LOOKUP_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._endpoints = endpoints
        self._timeout = timeout_seconds
        self._transport = transport
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=attempt_timeout(self._timeout), transport=self._transport)
        return self._client

    def check_credentials(self, provider: Dialect, credentials: Credentials) -> None:
        status, _ = self._send(provider, credentials_check_request(provider, credentials))
        read_lookup_status(provider, status)  # raises when refused or unanswered

    def owns_agent(self, provider: Dialect, credentials: Credentials, agent_id: str) -> bool | None:
        request = agent_request(provider, credentials, agent_id)
        if request is None:
            return None
        status, _ = self._send(provider, request)
        return read_lookup_status(provider, status)

    def owned_numbers(self, provider: Dialect, credentials: Credentials, number: str) -> list[OwnedNumber]:
        found: list[OwnedNumber] = []
        for request in number_requests(provider, credentials, number):
            status, payload = self._send(provider, request)
            if read_lookup_status(provider, status):
                found += read_numbers(provider, payload, number)
        return found

    def _send(self, provider: Dialect, request: ProviderRequest) -> tuple[int, Any]:
        try:
            response = self._http().request(
                request.method, self._endpoints.url(provider, request.path), headers=dict(request.headers)
            )
        except httpx.HTTPError as exc:
            # The exception's name only: its text could quote the request.
            raise DirectoryUnavailable(f"{provider} did not answer ({type(exc).__name__})") from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, payload
