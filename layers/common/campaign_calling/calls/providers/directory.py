"""What a provider account owns: its agents and its numbers, asked of the provider's API.

Pure code, like the dialects: each lookup is a ``ProviderRequest`` (sent by
calls/directory.py) and a reader of the answer. Paths are relative to the provider's base URL:

- generic: ``GET /v1/agents/{id}`` and ``GET /v1/numbers/{E.164}`` (200 owned, 404 not).
- twilio:  ``GET /2010-04-01/Accounts/{Sid}/IncomingPhoneNumbers.json?PhoneNumber=`` (numbers
  bought on the account) and ``.../OutgoingCallerIds.json?PhoneNumber=`` (numbers verified on it:
  Twilio lets either be a call's From). Twilio has no agents to ask about (see ``agent_request``).
- vapi:    ``GET /assistant/{id}`` (200 | 404), ``GET /v2/phone-number?search={E.164}`` (the
  account's numbers matching it, each with the ``id`` a call's phoneNumberId names).
- retell:  ``GET /get-agent/{agent_id}`` (200 | 404), ``GET /get-phone-number/{E.164}`` (200 | 404).

A number is asked about by itself, never found in a whole listing: an account may hold more
numbers than a page lists.

A 401 or 403 means the credentials were refused; a 429, a 5xx or no answer means the provider
could not say (the caller answers 503 and stores nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode

from campaign_calling.calls.providers.accounts import (
    Credentials,
    GenericCredentials,
    RetellCredentials,
    TwilioCredentials,
    VapiCredentials,
)
from campaign_calling.calls.providers.dialect import Dialect, ProviderRequest, basic, bearer

_TWILIO_API = "/2010-04-01/Accounts"


class CredentialsRefused(Exception):
    """The provider refused the credentials (401/403). Carries no value of them."""


class DirectoryUnavailable(Exception):
    """The provider could not answer (no connection, timeout, 429, 5xx)."""


@dataclass(frozen=True)
class OwnedNumber:
    number: str
    # The provider's own id of the number, where a call names it by id (Vapi's phoneNumberId).
    provider_id: str | None = None


class ProviderDirectory(Protocol):
    """An account's agents and numbers, as its provider's API lists them (in AWS,
    calls.directory.HttpDirectory; in the domain tests, an in-memory fake)."""

    def check_credentials(self, provider: Dialect, credentials: Credentials) -> None:
        """Raises CredentialsRefused or DirectoryUnavailable; returns when they work."""

    def owns_agent(self, provider: Dialect, credentials: Credentials, agent_id: str) -> bool | None:
        """None: the provider has no agents to ask about (Twilio)."""

    def owned_numbers(self, provider: Dialect, credentials: Credentials, number: str) -> list[OwnedNumber]:
        """The account's numbers equal to ``number`` (E.164): empty when it has none."""


# -- the requests ------------------------------------------------------------------------------


def _get(path: str, authorization: str) -> ProviderRequest:
    headers = {"Authorization": authorization, "Accept": "application/json"}
    return ProviderRequest("GET", path, headers, b"", idempotent=True)


def _auth(provider: Dialect, credentials: Credentials) -> str:
    if isinstance(credentials, TwilioCredentials):
        return basic(credentials.accountSid, credentials.authToken)
    if isinstance(credentials, GenericCredentials | VapiCredentials | RetellCredentials):
        return bearer(credentials.apiKey)
    raise TypeError(f"not credentials of {provider}")


def _twilio_path(credentials: Credentials, resource: str, query: Mapping[str, str]) -> str:
    assert isinstance(credentials, TwilioCredentials)
    return f"{_TWILIO_API}/{quote(credentials.accountSid, safe='')}/{resource}?{urlencode(query)}"


def credentials_check_request(provider: Dialect, credentials: Credentials) -> ProviderRequest:
    """A cheap listing that only answers 2xx to working credentials."""
    auth = _auth(provider, credentials)
    if provider == "twilio":
        return _get(_twilio_path(credentials, "IncomingPhoneNumbers.json", {"PageSize": "1"}), auth)
    if provider == "vapi":
        return _get("/phone-number?limit=1", auth)
    if provider == "retell":
        return _get("/list-phone-numbers", auth)
    # generic has no listing: an agent that cannot exist answers 404 to good credentials.
    return _get("/v1/agents/credentials-check", auth)


def agent_request(provider: Dialect, credentials: Credentials, agent_id: str) -> ProviderRequest | None:
    """None for Twilio: a Twilio call runs the TwiML at its Url, and the agent id only travels
    to that TwiML application as a parameter; there is no Twilio resource to own. What Twilio
    does own, and refuses to call from otherwise, is the From number: that is checked."""
    auth = _auth(provider, credentials)
    escaped = quote(agent_id, safe="")
    if provider == "generic":
        return _get(f"/v1/agents/{escaped}", auth)
    if provider == "vapi":
        return _get(f"/assistant/{escaped}", auth)
    if provider == "retell":
        return _get(f"/get-agent/{escaped}", auth)
    return None


def number_requests(provider: Dialect, credentials: Credentials, number: str) -> list[ProviderRequest]:
    auth = _auth(provider, credentials)
    if provider == "generic":
        return [_get(f"/v1/numbers/{quote(number, safe='')}", auth)]
    if provider == "twilio":
        query = {"PhoneNumber": number}
        return [
            _get(_twilio_path(credentials, "IncomingPhoneNumbers.json", query), auth),
            _get(_twilio_path(credentials, "OutgoingCallerIds.json", query), auth),
        ]
    if provider == "vapi":
        # search matches part of a number, name or SIP URI: read_numbers keeps exact matches.
        return [_get(f"/v2/phone-number?{urlencode({'search': number, 'limit': '100'})}", auth)]
    return [_get(f"/get-phone-number/{quote(number, safe='')}", auth)]


# -- the answers ---------------------------------------------------------------------------------


def read_lookup_status(provider: Dialect, status_code: int) -> bool:
    """True for a 2xx, False for "no such thing" (404, and the 400 Vapi and Retell answer an
    id that is not one of theirs); raises for refused credentials and unanswered lookups."""
    if status_code in (401, 403):
        raise CredentialsRefused(f"{provider} refused the credentials ({status_code})")
    if status_code == 429 or status_code >= 500:
        raise DirectoryUnavailable(f"{provider} answered {status_code}")
    if 200 <= status_code < 300:
        return True
    if status_code in (400, 404, 422):
        return False
    raise DirectoryUnavailable(f"{provider} answered {status_code}")


def read_numbers(provider: Dialect, payload: object, number: str) -> list[OwnedNumber]:
    """The entries of a numbers answer that are ``number`` (a 2xx answer's JSON)."""
    if provider == "generic":
        # The number's own resource: its 2xx says the account has it.
        return [OwnedNumber(number)]
    if provider == "twilio":
        body = payload if isinstance(payload, Mapping) else {}
        entries = [*_list(body.get("incoming_phone_numbers")), *_list(body.get("outgoing_caller_ids"))]
        return [OwnedNumber(number, _str(e.get("sid"))) for e in entries if e.get("phone_number") == number]
    if provider == "vapi":
        # /v2/phone-number answers a page {"results": [...], "metadata": {...}}.
        results = payload.get("results") if isinstance(payload, Mapping) else None
        return [OwnedNumber(number, _str(e.get("id"))) for e in _list(results) if e.get("number") == number]
    # retell: the number's own resource.
    owned = isinstance(payload, Mapping) and payload.get("phone_number") == number
    return [OwnedNumber(number)] if owned else []


def _list(value: object) -> list[Mapping[str, object]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
