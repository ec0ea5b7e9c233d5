"""Each provider's status-webhook signature, checked the way the provider signs it.

Every check is a pure function returning a bool (the caller answers 401 on False), takes
the raw body and the header value(s) as received, and compares in constant time
(``hmac.compare_digest``). A missing or malformed header is simply False. The signing
functions are for the simulated provider, which must sign as the real ones do.

Sources:
- Twilio ``X-Twilio-Signature``: https://www.twilio.com/docs/usage/security#validating-requests
  and twilio-python's ``twilio/request_validator.py`` (base64 HMAC-SHA1 keyed with the auth
  token over the full URL followed by each POST parameter name and value, sorted; the URL is
  tried with and without its default port, because Twilio signs either).
- Vapi: https://docs.vapi.ai/server-url/server-authentication. The legacy ``secret`` (and a
  Bearer Token credential with header ``X-Vapi-Secret`` and no prefix) sends the secret as is;
  an HMAC credential (schema ``HMACAuthenticationPlan`` in Vapi's OpenAPI) signs by default
  ``{timestamp}.{body}`` with HMAC-SHA256, hex, in ``x-signature``, the time in ``x-timestamp``.
- Retell ``x-retell-signature``: retell-python-sdk ``src/retell/lib/webhook_auth.py``:
  ``v=<epoch ms>,d=<hex HMAC-SHA256 keyed with the API key over body + str(epoch ms)>``,
  rejected when more than 5 minutes from now either way.
- generic (ours): ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``,
  rejected when older than 5 minutes or more than 5 minutes in the future.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

TOLERANCE_SECONDS = 300

TWILIO_HEADER = "X-Twilio-Signature"
VAPI_SECRET_HEADER = "X-Vapi-Secret"
VAPI_SIGNATURE_HEADER = "x-signature"
VAPI_TIMESTAMP_HEADER = "x-timestamp"
RETELL_HEADER = "x-retell-signature"
GENERIC_HEADER = "X-Signature"

_RETELL = re.compile(r"v=(\d{1,16}),d=([0-9a-f]{64})")
_GENERIC = re.compile(r"t=(\d{1,12}),v1=([0-9a-f]{64})")
_DIGITS = re.compile(r"\d{1,16}")
_DEFAULT_PORTS = {"https": 443, "http": 80}


# --- Twilio -------------------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """What Twilio sends in X-Twilio-Signature for a POST of ``params`` (form fields, in any
    order, repeated names allowed) to ``url`` (with its query string)."""
    pairs = sorted(set(params))
    data = url + "".join(name + value for name, value in pairs)
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None) -> bool:
    """Whether ``signature`` is Twilio's for this request. ``url`` is the full URL Twilio
    requested (scheme, host, path and query), as configured in its StatusCallback."""
    if not signature or not auth_token:
        return False
    pairs = list(params)
    return any(
        hmac.compare_digest(twilio_signature(auth_token, candidate, pairs).encode(), signature.encode())
        for candidate in _with_and_without_port(url)
    )


def _with_and_without_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is not None:
        # Twilio signs without the port when it is the default; try both ways.
        return url, urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{default}")) if default else url
    return url, with_port


# --- Vapi ---------------------------------------------------------------------------------


def verify_vapi_secret(secret: str, header: str | None) -> bool:
    """Whether X-Vapi-Secret carries the configured server secret."""
    if not header or not secret:
        return False
    return hmac.compare_digest(header.encode("utf-8"), secret.encode("utf-8"))


def vapi_hmac_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Vapi's HMAC credential with its defaults: hex HMAC-SHA256 of ``{timestamp}.{body}``."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_vapi_hmac(secret: str, body: bytes, signature: str | None, timestamp: str | None, now_ms: int) -> bool:
    """Whether x-signature is Vapi's HMAC (default settings) of this body and x-timestamp.

    Vapi documents neither the timestamp's unit nor a tolerance: a value above 10^11 is read
    as milliseconds, below as seconds, and we hold it to the same 5 minutes as the others."""
    if not signature or not timestamp or not secret or not _DIGITS.fullmatch(timestamp):
        return False
    stamp_ms = int(timestamp) if int(timestamp) > 10**11 else int(timestamp) * 1000
    if abs(now_ms - stamp_ms) > TOLERANCE_SECONDS * 1000:
        return False
    return hmac.compare_digest(vapi_hmac_signature(secret, timestamp, body).encode(), signature.encode("utf-8"))


# --- Retell -------------------------------------------------------------------------------


def retell_signature(api_key: str, body: bytes, timestamp_ms: int) -> str:
    """What Retell sends in x-retell-signature for ``body`` signed at ``timestamp_ms``."""
    digest = hmac.new(api_key.encode("utf-8"), body + str(timestamp_ms).encode("ascii"), hashlib.sha256)
    return f"v={timestamp_ms},d={digest.hexdigest()}"


def verify_retell(api_key: str, body: bytes, signature: str | None, now_ms: int) -> bool:
    """Whether x-retell-signature is Retell's for this body, signed within 5 minutes of now
    (either way, inclusive, as the SDK's ``verify``)."""
    if not signature or not api_key:
        return False
    match = _RETELL.fullmatch(signature)
    if match is None:
        return False
    stamp_ms = int(match.group(1))
    if abs(now_ms - stamp_ms) > TOLERANCE_SECONDS * 1000:
        return False
    expected = retell_signature(api_key, body, stamp_ms)
    return hmac.compare_digest(expected.encode(), signature.encode("ascii"))


# --- generic (ours) -----------------------------------------------------------------------


def sign_generic(secret: str, body: bytes, now_s: int) -> str:
    """The X-Signature value for ``body`` sent at ``now_s`` (unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), str(now_s).encode("ascii") + b"." + body, hashlib.sha256)
    return f"t={now_s},v1={digest.hexdigest()}"


def verify_generic(secret: str, body: bytes, header: str | None, now_s: int) -> bool:
    """Whether X-Signature signs this body, sent no more than 5 minutes ago and no more than
    5 minutes ahead of our clock."""
    if not header or not secret:
        return False
    match = _GENERIC.fullmatch(header.strip())
    if match is None:
        return False
    sent_s = int(match.group(1))
    if now_s - sent_s > TOLERANCE_SECONDS or sent_s - now_s > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign_generic(secret, body, sent_s).encode(), header.strip().encode("ascii"))
