"""Where provider accounts' credentials are kept and how they read (calls/providers/credentials.py)."""

from __future__ import annotations

import json
import re

import pytest

from campaign_calling.calls.providers.credentials import (
    client_credentials,
    client_provider_secret_name,
    deployment_credentials,
)

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


def test_the_deployment_secret_gives_each_providers_object_or_none() -> None:
    secret = json.dumps({"generic": {"apiKey": "k", "webhookSecret": "w"}, "vapi": {"apiKey": "v", "serverSecret": 7}})

    assert deployment_credentials(secret, "generic") == {"apiKey": "k", "webhookSecret": "w"}
    assert deployment_credentials(secret, "vapi") == {"apiKey": "v"}  # only string fields
    assert deployment_credentials(secret, "twilio") is None


def test_a_deployment_secret_that_is_not_json_is_the_generic_api_key_alone() -> None:
    assert deployment_credentials("sk-plain-key", "generic") == {"apiKey": "sk-plain-key"}
    assert deployment_credentials("sk-plain-key", "retell") is None
    assert deployment_credentials('"a json string"', "generic") == {"apiKey": '"a json string"'}


def test_a_clients_secret_holds_one_providers_object() -> None:
    assert client_credentials('{"accountSid": "AC1", "authToken": "t"}') == {"accountSid": "AC1", "authToken": "t"}
    assert client_credentials("not json") is None
    assert client_credentials("[1]") is None
