"""How each provider signs its status webhooks, written here from the providers' documents
(not the product's signatures module, which the tests use to check these: two independent
implementations must agree).

- generic (ours): ``X-Signature: t=<unix s>,v1=<hex HMAC-SHA256(webhookSecret, "<t>." + body)>``.
- Twilio: ``X-Twilio-Signature``: base64 HMAC-SHA1 keyed with the auth token over the full
  callback URL followed by every POST parameter's name and value, sorted by name
  (https://www.twilio.com/docs/usage/security#validating-requests).
- Vapi: the server secret itself in ``X-Vapi-Secret``
  (https://docs.vapi.ai/server-url/server-authentication).
- Retell: ``x-retell-signature: v=<epoch ms>,d=<hex HMAC-SHA256(apiKey, body + "<epoch ms>")>``,
  as retell-python-sdk's ``sign`` computes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence


def generic(secret: str, body: bytes, now_s: float) -> dict[str, str]:
    stamp = str(int(now_s))
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Signature": f"t={stamp},v1={digest}"}


def twilio(auth_token: str, url: str, fields: Sequence[tuple[str, str]]) -> dict[str, str]:
    signed = url + "".join(f"{name}{value}" for name, value in sorted(fields))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return {"X-Twilio-Signature": base64.b64encode(digest).decode()}


def vapi(server_secret: str) -> dict[str, str]:
    return {"X-Vapi-Secret": server_secret}


def retell(api_key: str, body: bytes, now_s: float) -> dict[str, str]:
    stamp = str(int(now_s * 1000))
    digest = hmac.new(api_key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return {"x-retell-signature": f"v={stamp},d={digest}"}


def spoiled(credentials: Mapping[str, str]) -> dict[str, str]:
    """Credentials that are not the account's: what a badly signed webhook is signed with."""
    return {name: f"{value}-not-the-secret" for name, value in credentials.items()}
