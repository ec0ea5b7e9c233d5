"""What every dialect shares: the call to place, the HTTP request that places it, and the
provider's answer to it.

A dialect turns a ``CallSpec`` into a ``ProviderRequest`` (no I/O: the HTTP client in
calls/provider.py sends it) and reads the provider's answer into a ``CallAnswer``.
Credentials and personal data stay out of every ``repr`` (headers, bodies, names and
numbers), so none of it reaches a log by way of an object printed whole.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Dialect = Literal["generic", "twilio", "vapi", "retell"]
DIALECTS: tuple[Dialect, ...] = ("generic", "twilio", "vapi", "retell")

_ERROR_CHARS = 200
# Phone numbers (E.164 or written out) that a provider may quote back in an error message.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")


class ProviderConfigError(ValueError):
    """The call cannot be asked of this provider as configured (a required id, number or URL
    is missing). The message names the missing setting, never a value."""


@dataclass(frozen=True)
class CallSpec:
    """One call to place, in our words; each dialect renames the fields its provider wants."""

    to: str = field(repr=False)
    provider_agent_id: str
    caller_id: str | None = field(repr=False)
    idempotency_key: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Where the provider is to send this call's status events (None: the provider's own setting).
    status_webhook_url: str | None = None
    # Only a dialect whose agent greets the contact by name sends it (Vapi's customer.name).
    customer_name: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ProviderRequest:
    """One HTTP request, ready to send: ``path`` is relative to the provider's base URL."""

    method: str
    path: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    # True when the provider honours our idempotency key, so that asking again after a
    # timeout cannot place a second call.
    idempotent: bool = False


@dataclass(frozen=True)
class CallAnswer:
    """The provider's answer to a create-call request."""

    accepted: bool
    provider_call_id: str | None
    error: str | None


def bearer(api_key: str) -> str:
    return f"Bearer {api_key}"


def basic(user: str, password: str) -> str:
    """RFC 7617 HTTP basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def read_answer(
    provider: str, status_code: int, payload: object, *, id_field: str, message_fields: tuple[str, ...]
) -> CallAnswer:
    """A 2xx answer accepts the call (its id read from ``id_field``); any other answer is an
    error that quotes the provider's own message, without phone numbers, at most 200 chars."""
    body = payload if isinstance(payload, Mapping) else {}
    if 200 <= status_code < 300:
        call_id = body.get(id_field)
        return CallAnswer(True, call_id if isinstance(call_id, str) and call_id else None, None)
    error = f"{provider} answered {status_code}"
    message = _first_message(body, message_fields)
    if message:
        error += f": {scrub(message)}"
    return CallAnswer(False, None, error)


def scrub(text: str) -> str:
    """A provider's message without the phone numbers it may quote, cut to 200 characters."""
    return _PHONE_LIKE.sub("[number]", text)[:_ERROR_CHARS]


def _first_message(body: Mapping[str, object], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        value = body.get(name)
        if isinstance(value, str) and value:
            return value
        # Vapi (NestJS validation) answers a list of messages.
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return "; ".join(value)
    return None
