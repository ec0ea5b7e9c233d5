"""``CampaignApi``: the campaign calling API over httpx.

It is an ``httpx.Client`` (base URL, bearer token, timeout), so a caller can still send any
request and read the raw answer (the end-to-end tests check statuses and error bodies);
each route the clients use has a method returning the ``httpx.Response``, and ``data``
unwraps the API's envelope ``{"success": true, "data": ...}`` or raises ``ApiError``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

REQUEST_TIMEOUT_SECONDS = 10.0
DEFAULT_DELAY_MS = 2000
PROVIDERS = "/api/v1/client/providers"
AGENTS = "/api/v1/client/agents"
CAMPAIGNS = "/api/v1/client/campaigns"


class ApiError(Exception):
    """The API answered with an error envelope (or something unparseable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CampaignApi(httpx.Client):
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(base_url=base_url.rstrip("/"), headers=headers, transport=transport, timeout=timeout)

    @property
    def url(self) -> str:
        return str(self.base_url).rstrip("/")

    # -- routes (raw answers) ----------------------------------------------------------------

    def create_agent(
        self,
        name: str,
        provider_agent_id: str,
        caller_id: str | None = None,
        *,
        provider: str | None = None,
        **overrides: str,
    ) -> httpx.Response:
        """``overrides``: a provider's per-agent settings (twimlUrl, phoneNumberId)."""
        body = {"name": name, "providerAgentId": provider_agent_id, **overrides}
        if caller_id is not None:
            body["callerId"] = caller_id
        if provider is not None:
            body["provider"] = provider
        return self.post(AGENTS, json=body)

    def connect_provider(self, provider: str, credentials: dict[str, str]) -> httpx.Response:
        """This client's own account of ``provider`` (its credentials are never answered back)."""
        return self.put(f"{PROVIDERS}/{_segment(provider)}", json=credentials)

    def get_agent(self, agent_id: str) -> httpx.Response:
        return self.get(f"{AGENTS}/{_segment(agent_id)}")

    def create_campaign(self, name: str, contacts: list[dict[str, Any]] | None = None) -> httpx.Response:
        body: dict[str, Any] = {"name": name}
        if contacts:
            body["contacts"] = contacts
        return self.post(CAMPAIGNS, json=body)

    def get_campaign(self, campaign_id: str) -> httpx.Response:
        return self.get(_campaign(campaign_id))

    def add_contacts(self, campaign_id: str, contacts: list[dict[str, Any]]) -> httpx.Response:
        return self.post(_campaign(campaign_id, "contacts"), json={"contacts": contacts})

    def start_calling(
        self,
        campaign_id: str,
        agent_id: str,
        delay_between_calls: int = DEFAULT_DELAY_MS,
        *,
        max_concurrent_calls: int | None = None,
        retry: dict[str, Any] | None = None,
        calling_window: dict[str, Any] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"agentId": agent_id, "delayBetweenCalls": delay_between_calls}
        if max_concurrent_calls is not None:
            body["maxConcurrentCalls"] = max_concurrent_calls
        if retry is not None:
            body["retry"] = retry
        if calling_window is not None:
            body["callingWindow"] = calling_window
        return self.post(_campaign(campaign_id, "start-calling"), json=body)

    def client_settings(self) -> httpx.Response:
        return self.get("/api/v1/client/settings")

    def put_client_settings(
        self, *, max_concurrent_calls: int | None = None, max_calls_per_second: int | None = None
    ) -> httpx.Response:
        body = {"maxConcurrentCalls": max_concurrent_calls, "maxCallsPerSecond": max_calls_per_second}
        return self.put("/api/v1/client/settings", json=body)

    def stop_calling(self, campaign_id: str) -> httpx.Response:
        return self.post(_campaign(campaign_id, "stop-calling"))

    def pause_calling(self, campaign_id: str) -> httpx.Response:
        return self.post(_campaign(campaign_id, "pause-calling"))

    def resume_calling(self, campaign_id: str) -> httpx.Response:
        return self.post(_campaign(campaign_id, "resume-calling"))

    def calling_status(self, campaign_id: str) -> httpx.Response:
        return self.get(_campaign(campaign_id, "calling-status"))

    def call_logs(self, campaign_id: str, *, limit: int | None = None, next_token: str | None = None) -> httpx.Response:
        params: dict[str, Any] = {}
        if limit is not None:
            params["limit"] = limit
        if next_token:
            params["nextToken"] = next_token
        return self.get(_campaign(campaign_id, "call-logs"), params=params)

    # -- unwrapped ---------------------------------------------------------------------------

    def all_call_logs(self, campaign_id: str, page_size: int = 100) -> list[dict[str, Any]]:
        """Every call log of the campaign, newest first, across pages."""
        logs: list[dict[str, Any]] = []
        token = None
        while True:
            page = data(self.call_logs(campaign_id, limit=page_size, next_token=token))
            logs += page["items"]
            token = page.get("nextToken")
            if not token:
                return logs


def data(response: httpx.Response) -> dict[str, Any]:
    """The envelope's ``data`` (``{}`` when it is not an object); ApiError for an error answer."""
    try:
        envelope = response.json()
    except ValueError:
        snippet = response.text.strip()[:200] or response.reason_phrase
        raise ApiError(response.status_code, f"HTTP {response.status_code}: {snippet}") from None
    if not isinstance(envelope, dict):
        raise ApiError(response.status_code, f"HTTP {response.status_code}: unexpected response")
    if response.is_error or envelope.get("success") is not True:
        message = envelope.get("message") or f"HTTP {response.status_code}"
        raise ApiError(response.status_code, str(message))
    unwrapped = envelope.get("data")
    return unwrapped if isinstance(unwrapped, dict) else {}


def _segment(value: str) -> str:
    return quote(value, safe="")


def _campaign(campaign_id: str, action: str | None = None) -> str:
    path = f"{CAMPAIGNS}/{_segment(campaign_id)}"
    return f"{path}/{action}" if action else path
