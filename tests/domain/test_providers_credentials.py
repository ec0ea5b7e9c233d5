"""Where clients' own provider accounts are kept (calls/providers/credentials.py); how credentials read is
tests/domain/test_provider_accounts.py's."""

from __future__ import annotations

import re

import pytest

from campaign_calling.calls.providers.credentials import client_provider_secret_name

# What Secrets Manager allows in a name.
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")


@pytest.mark.parametrize(
    "client_id", ["client-a", "acme@example.com", "a/b", "a=2Fb", "tenant#1", "caf\u00e9", "x" * 128]
)
def test_a_clients_secret_name_is_one_secrets_manager_accepts_under_the_prefix(client_id: str) -> None:
    name = client_provider_secret_name("stack/provider-accounts", client_id, "twilio")

    assert SECRET_NAME.fullmatch(name), name
    assert name.startswith("stack/provider-accounts/") and name.endswith("/twilio")
    assert name.count("/") == 3  # no client id reaches into another's path


def test_no_two_clients_or_providers_share_a_secret() -> None:
    clients = ["a/b", "a=2Fb", "a_b", "a b", "A/B", "a%2Fb", "a"]
    names = {client_provider_secret_name("p", c, provider) for c in clients for provider in ("generic", "vapi")}
    assert len(names) == len(clients) * 2
