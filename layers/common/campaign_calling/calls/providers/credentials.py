"""Where a provider account's credentials are kept, and how their JSON reads.

The deployment's secret holds one object per provider (``{"generic": {"apiKey",
"webhookSecret"}, "twilio": {...}, ...}``); a secret that is not JSON is the generic API key
alone, as before providers had dialects. A client's own account of a provider is one secret
of its own, named by ``client_provider_secret_name``, holding that provider's object.
Pure code: the reading is done by the caller (calls/webhook_keys.py in AWS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from campaign_calling.calls.providers.dialect import Dialect

# Secrets Manager names allow letters, digits and /_+=.@- only: any other character of a
# client id (and '=' itself, the escape) is written as =XX per UTF-8 byte, so that no two
# ids share a name and no id can reach into another's path.
_NAME_SAFE = re.compile(r"[A-Za-z0-9_.@+-]")


def client_provider_secret_name(prefix: str, client_id: str, provider: Dialect) -> str:
    """The name of the secret holding ``client_id``'s own ``provider`` account, under
    ``prefix`` (the stack's, e.g. ``<stack>/provider-accounts``; IAM grants ``<prefix>/*``)."""
    escaped = "".join(ch if _NAME_SAFE.fullmatch(ch) else "".join(f"={b:02X}" for b in ch.encode()) for ch in client_id)
    return f"{prefix.rstrip('/')}/{escaped}/{provider}"


def deployment_credentials(secret_text: str, provider: Dialect) -> Mapping[str, str] | None:
    """``provider``'s object in the deployment's secret; None when it has none. A secret
    that is not a JSON object is the generic API key alone (no webhook secret)."""
    try:
        document = json.loads(secret_text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return {"apiKey": secret_text} if provider == "generic" else None
    return credentials_object(document.get(provider))


def credentials_object(value: object) -> Mapping[str, str] | None:
    """A provider's credentials object, its string fields only; None when it is not one."""
    if not isinstance(value, dict):
        return None
    return {key: item for key, item in value.items() if isinstance(key, str) and isinstance(item, str)}


def client_credentials(secret_text: str) -> Mapping[str, str] | None:
    """The credentials object a client's own secret holds; None when it is not one."""
    try:
        return credentials_object(json.loads(secret_text))
    except ValueError:
        return None
