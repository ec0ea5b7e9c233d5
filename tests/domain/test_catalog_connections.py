"""A client connects its own provider account: checked field by field, then with the provider,
and only then stored; never quoted in an error."""

from __future__ import annotations

import pytest

from campaign_calling.calls.providers.accounts import ClientAccounts, GenericCredentials
from campaign_calling.calls.providers.credentials import client_provider_secret_name
from campaign_calling.catalog.connections import ProviderConnections
from campaign_calling.errors import DependencyUnavailable, InvalidRequest, NotFound
from tests.support.fakes_accounts import SECRET_PREFIX, FakeDirectory, InMemorySecrets

KEY = "sk-acme-generic-do-not-echo"
GOOD = {"apiKey": KEY, "webhookSecret": "whsec-acme"}


def connections(directory: FakeDirectory) -> tuple[ProviderConnections, InMemorySecrets]:
    secrets = InMemorySecrets()
    return ProviderConnections(accounts=ClientAccounts(secrets, SECRET_PREFIX), directory=directory), secrets


def test_given_credentials_the_provider_accepts_when_connected_then_they_are_stored_under_the_client() -> None:
    # Given a provider that knows these credentials
    directory = FakeDirectory()
    directory.own("generic", GenericCredentials(**GOOD))
    service, secrets = connections(directory)
    # When
    assert service.connect("acme", "generic", GOOD) == "generic"
    # Then they were checked with the provider, and stored in the client's secret
    assert directory.lookups == [("generic", "credentials")]
    assert list(secrets.values) == [client_provider_secret_name(SECRET_PREFIX, "acme", "generic")]
    # And connecting again is a new version of the same secret (PUT is idempotent)
    service.connect("acme", "generic", GOOD)
    assert list(secrets.versions.values()) == [2]


def test_given_credentials_the_provider_refuses_when_connected_then_400_and_nothing_stored() -> None:
    service, secrets = connections(FakeDirectory())
    with pytest.raises(InvalidRequest, match="generic refused these credentials; nothing was stored") as refused:
        service.connect("acme", "generic", GOOD)
    assert KEY not in str(refused.value)
    assert secrets.values == {}


def test_given_a_provider_that_does_not_answer_when_connected_then_503_and_nothing_stored() -> None:
    directory = FakeDirectory()
    directory.unreachable = True
    service, secrets = connections(directory)
    with pytest.raises(DependencyUnavailable, match="nothing was stored"):
        service.connect("acme", "generic", GOOD)
    assert secrets.values == {}


def test_given_a_missing_field_when_connected_then_400_names_it_and_the_provider_is_not_asked() -> None:
    directory = FakeDirectory()
    service, secrets = connections(directory)
    with pytest.raises(InvalidRequest, match="generic credentials: webhookSecret is required") as refused:
        service.connect("acme", "generic", {"apiKey": KEY})
    assert KEY not in str(refused.value)
    assert directory.lookups == [] and secrets.values == {}


def test_given_an_unknown_provider_when_connected_then_it_is_not_found() -> None:
    with pytest.raises(NotFound):
        connections(FakeDirectory())[0].connect("acme", "sinch", GOOD)
