"""A status webhook as each dialect sends it: whether it carries a signature, the event it
tells, and whether that account's credentials signed it. Pure code: the handler gives the
request as received, the credentials come from the call's account (design of issue 11,
section 1: one credentials object per provider)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from campaign_calling.calls.providers import generic, retell, signatures, twilio, vapi
from campaign_calling.calls.providers.dialect import Dialect
from campaign_calling.calls.providers.lifecycle import StatusEvent


@dataclass(frozen=True)
class WebhookRequest:
    """One webhook as received: the raw body, the headers (names in lower case) and the full
    public URL it was sent to (Twilio signs the URL)."""

    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def has_signature(provider: Dialect, request: WebhookRequest) -> bool:
    """Whether the request carries the provider's signature header at all."""
    if provider == "generic":
        return bool(request.header(signatures.GENERIC_HEADER))
    if provider == "twilio":
        return bool(request.header(signatures.TWILIO_HEADER))
    if provider == "vapi":
        return bool(request.header(signatures.VAPI_SECRET_HEADER) or request.header(signatures.VAPI_SIGNATURE_HEADER))
    return bool(request.header(signatures.RETELL_HEADER))


def read_event(provider: Dialect, request: WebhookRequest) -> StatusEvent | None:
    """The status event the body tells; None for a message that is not about a call's status.
    WebhookPayloadError when the body cannot be read."""
    if provider == "generic":
        return generic.read_status_event(request.body)
    if provider == "twilio":
        return twilio.read_status_event(twilio.form_fields(request.body))
    if provider == "vapi":
        return vapi.read_status_event(request.body)
    return retell.read_status_event(request.body)


def verify(provider: Dialect, credentials: Mapping[str, str], request: WebhookRequest, now_ms: int) -> bool:
    """Whether ``credentials`` (the provider's object of the call's account) signed it."""
    if provider == "generic":
        secret = credentials.get("webhookSecret", "")
        return signatures.verify_generic(
            secret, request.body, request.header(signatures.GENERIC_HEADER), now_ms // 1000
        )
    if provider == "twilio":
        token = credentials.get("authToken", "")
        fields = twilio.form_fields(request.body)
        return signatures.verify_twilio(token, request.url, fields, request.header(signatures.TWILIO_HEADER))
    if provider == "vapi":
        secret = credentials.get("serverSecret", "")
        plain = request.header(signatures.VAPI_SECRET_HEADER)
        if plain is not None:
            return signatures.verify_vapi_secret(secret, plain)
        return signatures.verify_vapi_hmac(
            secret,
            request.body,
            request.header(signatures.VAPI_SIGNATURE_HEADER),
            request.header(signatures.VAPI_TIMESTAMP_HEADER),
            now_ms,
        )
    api_key = credentials.get("apiKey", "")
    return signatures.verify_retell(api_key, request.body, request.header(signatures.RETELL_HEADER), now_ms)
