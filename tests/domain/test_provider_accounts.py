"""Provider accounts: each provider's credentials checked field by field without quoting a
value, the deployment's document (default accounts and allow-list, or a legacy plain key),
the clients' secret names, and the accounts resolved for calls and webhooks."""

from __future__ import annotations

import json

import pytest

from campaign_calling.calls.providers.accounts import (
    CredentialsError,
    GenericCredentials,
    TwilioCredentials,
    read_credentials,
    read_deployment_secret,
)
from campaign_calling.calls.providers.credentials import client_provider_secret_name
from tests.support.fakes_accounts import SECRET_PREFIX, FakeAccounts, provider_accounts

SID = "AC" + "0123456789abcdef" * 2
SECRET_VALUE = "sk-live-do-not-echo-0123456789"


@pytest.mark.parametrize(
    ("provider", "data"),
    [
        ("generic", {"apiKey": "k", "webhookSecret": "w"}),
        ("twilio", {"accountSid": SID, "authToken": "t"}),
        ("vapi", {"apiKey": "k", "serverSecret": "s"}),
        ("retell", {"apiKey": "k"}),
    ],
)
def test_given_each_providers_documented_fields_when_read_then_they_are_its_credentials(provider, data) -> None:
    credentials = read_credentials(provider, data, connecting=True)
    assert credentials.as_mapping() == data


@pytest.mark.parametrize(
    ("provider", "data", "message"),
    [
        ("generic", {"webhookSecret": SECRET_VALUE}, "apiKey is required"),
        ("generic", {"apiKey": SECRET_VALUE}, "webhookSecret is required"),
        ("twilio", {"accountSid": SECRET_VALUE, "authToken": SECRET_VALUE}, "accountSid must be AC followed by"),
        ("twilio", {"accountSid": SID}, "authToken is required"),
        ("vapi", {"apiKey": SECRET_VALUE}, "serverSecret is required"),
        ("retell", {"apiKey": SECRET_VALUE, "authToken": SECRET_VALUE}, "authToken is not a known field"),
        ("retell", {"apiKey": ""}, "apiKey is not valid"),
        ("retell", {"apiKey": 42}, "apiKey must be a string"),
        ("retell", [SECRET_VALUE], "must be a JSON object"),
    ],
)
def test_given_bad_credentials_when_a_client_connects_them_then_the_field_is_named_and_no_value_quoted(
    provider, data, message
) -> None:
    # When
    with pytest.raises(CredentialsError) as refused:
        read_credentials(provider, data, connecting=True)
    # Then
    assert message in str(refused.value)
    assert SECRET_VALUE not in str(refused.value)
    assert "42" not in str(refused.value)


def test_given_credentials_when_printed_then_only_their_field_names_show() -> None:
    credentials = TwilioCredentials(accountSid=SID, authToken=SECRET_VALUE)
    for text in (repr(credentials), str(credentials), f"{credentials}"):
        assert SECRET_VALUE not in text and SID not in text
        assert "authToken" in text


def test_given_a_secret_that_is_not_json_when_read_then_it_is_the_generic_api_key() -> None:
    deployment = read_deployment_secret("  plainRandomKey40chars  ")
    assert deployment.credentials["generic"].as_mapping() == {"apiKey": "plainRandomKey40chars"}
    assert deployment.allowed("acme").agents == [] and deployment.allowed("acme").numbers == []


def test_given_the_deployment_document_when_read_then_every_account_and_the_allow_list_are_there() -> None:
    # Given
    document = {
        "generic": {"apiKey": "g", "webhookSecret": "w"},
        "twilio": {"accountSid": SID, "authToken": "t"},
        "allowList": {
            "acme": {"agents": ["pa-1"], "numbers": ["+1 (202) 555-0143"]},
            "*": {"agents": "*", "numbers": []},
        },
    }
    # When
    deployment = read_deployment_secret(json.dumps(document))
    # Then
    assert set(deployment.credentials) == {"generic", "twilio"}
    assert deployment.allowed("acme").numbers == ["+12025550143"]  # E.164, as agents store callerIds
    assert deployment.allowed("acme").agents == ["pa-1"]  # its own entry, not the "*" one
    assert deployment.allowed("other").agents == "*"


@pytest.mark.parametrize(
    "document",
    [
        {"generic": {"apiKey": SECRET_VALUE, "extra": SECRET_VALUE}},
        {"twilio": {"accountSid": SECRET_VALUE, "authToken": SECRET_VALUE}},
        {"sinch": {"apiKey": SECRET_VALUE}},
        {"allowList": {"acme": {"agents": SECRET_VALUE}}},
    ],
)
def test_given_a_broken_deployment_document_when_read_then_it_says_where_without_values(document) -> None:
    with pytest.raises(CredentialsError) as refused:
        read_deployment_secret(json.dumps(document))
    assert SECRET_VALUE not in str(refused.value)


def test_given_a_client_account_when_resolved_then_calls_and_webhooks_use_it_and_others_the_default() -> None:
    # Given the deployment's generic account, and acme's own
    accounts = FakeAccounts()
    own = GenericCredentials(apiKey="acme-key", webhookSecret="acme-webhooks")
    accounts.connect("acme", "generic", own)
    resolved = accounts.accounts()
    # Then acme's new agents call with its own account, another client's with the default
    assert resolved.account_for("generic", "acme") == "client"
    assert resolved.account_for("generic", "other") == "default"
    assert resolved.account_for("twilio", "acme") is None  # no account of that provider at all
    # and the webhooks verify with the account that placed the call (WebhookKeys)
    assert resolved.credentials("generic", "acme", "client") == own.as_mapping()
    assert resolved.credentials("generic", "acme", "default")["apiKey"] == "default-generic-key"
    assert resolved.credentials("generic", "other", "client") is None
    assert resolved.credentials("vapi", "acme", "default") is None


def test_given_a_client_connecting_twice_when_stored_then_the_secret_gets_a_new_version() -> None:
    accounts, secrets = provider_accounts("plain")
    for key in ("first", "second"):
        FakeAccounts(secrets=secrets).connect("acme", "retell", read_credentials("retell", {"apiKey": key}))
    name = client_provider_secret_name(SECRET_PREFIX, "acme", "retell")
    assert secrets.versions[name] == 2
    assert accounts.credentials("retell", "acme", "client") == {"apiKey": "second"}
