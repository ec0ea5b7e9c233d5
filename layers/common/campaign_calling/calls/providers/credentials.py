"""Where a client's own provider account is kept: one secret per client and provider,
named by ``client_provider_secret_name`` (how credentials read: accounts.py)."""

from __future__ import annotations

import re

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
