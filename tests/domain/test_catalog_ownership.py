"""Whose agent, whose number: an agent is stored only when the account it will call with owns
its provider agent id and callerId (asked of the provider), and on the shared default account
only when the operator's allow-list gives them to the client too."""

from __future__ import annotations

import re

import pytest

from campaign_calling.calls.providers.accounts import (
    GenericCredentials,
    RetellCredentials,
    TwilioCredentials,
    VapiCredentials,
)
from campaign_calling.errors import DependencyUnavailable, InvalidRequest, NotOwned
from campaign_calling.models import Agent, AgentInput
from tests.support.fakes_accounts import DEFAULT_GENERIC, FakeAccounts
from tests.support.fakes_catalog import FakeCatalog

A_NUMBER = "+12025550143"
B_NUMBER = "+12025550188"
OWN = {
    "generic": GenericCredentials(apiKey="a-key", webhookSecret="a-hooks"),
    "twilio": TwilioCredentials(accountSid="AC" + "a" * 32, authToken="a-token"),
    "vapi": VapiCredentials(apiKey="a-vapi", serverSecret="a-server"),
    "retell": RetellCredentials(apiKey="a-retell"),
}


def catalog_with_own_account(provider: str) -> FakeCatalog:
    """Client A connected its own ``provider`` account, which owns agent pa-A and A_NUMBER."""
    catalog = FakeCatalog()
    catalog.accounts.connect("client-a", provider, OWN[provider])
    catalog.accounts.directory.own(provider, OWN[provider], agents=("pa-A",), numbers={A_NUMBER: "pn-A"})
    return catalog


@pytest.mark.parametrize("provider", ["generic", "twilio", "vapi", "retell"])
def test_given_the_clients_own_account_when_its_agent_and_number_are_used_then_the_agent_is_stored(provider) -> None:
    # Given
    catalog = catalog_with_own_account(provider)
    # When
    agent = catalog.service().create_agent(
        "client-a", AgentInput(name="Bot", provider=provider, providerAgentId="pa-A", callerId=A_NUMBER)
    )
    # Then it calls with the client's own account, and reads back so
    stored = catalog.service().get_agent("client-a", agent.id)
    assert (stored.provider, stored.account, stored.providerAgentId, stored.callerId) == (
        provider,
        "client",
        "pa-A",
        A_NUMBER,
    )
    # and a vapi agent calls from the number's id on that account
    assert stored.phoneNumberId == ("pn-A" if provider == "vapi" else None)
    # and the account is not shown
    assert "account" not in stored.model_dump(by_alias=True)


@pytest.mark.parametrize("provider", ["generic", "vapi", "retell"])
def test_given_another_accounts_agent_id_when_an_agent_is_created_then_403_names_it_and_nothing_is_stored(
    provider,
) -> None:
    # Given client A's own account (which owns pa-A), and client B's own account
    catalog = catalog_with_own_account(provider)
    b_credentials = OWN[provider].model_copy(update={"apiKey": "b-key"})
    catalog.accounts.connect("client-b", provider, b_credentials)
    catalog.accounts.directory.own(provider, b_credentials, agents=("pa-B",), numbers=(B_NUMBER,))
    # When client B uses A's agent id with its own number
    with pytest.raises(NotOwned, match=f"providerAgentId 'pa-A' is not an agent of your {provider} account"):
        catalog.service().create_agent(
            "client-b", AgentInput(name="Bot", provider=provider, providerAgentId="pa-A", callerId=B_NUMBER)
        )
    # Then nothing was stored for B
    assert catalog.agents.stored() == []


@pytest.mark.parametrize("provider", ["generic", "twilio", "vapi", "retell"])
def test_given_another_accounts_number_when_an_agent_is_created_then_403_names_it(provider) -> None:
    catalog = catalog_with_own_account(provider)
    with pytest.raises(NotOwned, match=re.escape(f"callerId {B_NUMBER} is not a number of your {provider} account")):
        catalog.service().create_agent(
            "client-a", AgentInput(name="Bot", provider=provider, providerAgentId="pa-A", callerId=B_NUMBER)
        )


def test_given_twilio_which_has_no_agents_when_an_agent_is_created_then_only_its_number_is_asked_about() -> None:
    # Given: Twilio's agent id is a parameter of the TwiML application, no Twilio resource
    catalog = catalog_with_own_account("twilio")
    # When
    agent = catalog.service().create_agent(
        "client-a",
        AgentInput(
            name="Bot",
            provider="twilio",
            providerAgentId="any-bridge-agent",
            callerId=A_NUMBER,
            twimlUrl="https://bridge.example/twiml",
        ),
    )
    # Then
    assert agent.twimlUrl == "https://bridge.example/twiml"
    assert ("twilio", "number") in catalog.accounts.directory.lookups


def test_given_a_vapi_phone_number_id_that_is_not_the_callers_when_created_then_403() -> None:
    catalog = catalog_with_own_account("vapi")
    with pytest.raises(NotOwned, match="phoneNumberId 'pn-other'"):
        catalog.service().create_agent(
            "client-a",
            AgentInput(
                name="Bot", provider="vapi", providerAgentId="pa-A", callerId=A_NUMBER, phoneNumberId="pn-other"
            ),
        )


def test_given_the_default_account_and_an_allow_list_for_the_client_when_listed_ids_are_used_then_stored() -> None:
    # Given a default account that owns everything, and an allow-list giving acme pa-1 and a number
    accounts = FakeAccounts()
    accounts.deployment["allowList"] = {"acme": {"agents": ["pa-1"], "numbers": [A_NUMBER]}}
    catalog = FakeCatalog(accounts=accounts)
    # When / Then
    agent = catalog.service().create_agent("acme", AgentInput(name="Bot", providerAgentId="pa-1", callerId=A_NUMBER))
    assert agent.account == "default"


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        (AgentInput(name="Bot", providerAgentId="pa-2", callerId=A_NUMBER), "providerAgentId 'pa-2' is not on"),
        (
            AgentInput(name="Bot", providerAgentId="pa-1", callerId=B_NUMBER),
            re.escape(f"callerId {B_NUMBER} is not on"),
        ),
    ],
)
def test_given_the_default_account_when_ids_are_not_on_the_clients_allow_list_then_403_and_no_lookup(
    agent, message
) -> None:
    # Given the allow-list gives acme pa-1 and A_NUMBER only, and nothing to other clients
    accounts = FakeAccounts()
    accounts.deployment["allowList"] = {"acme": {"agents": ["pa-1"], "numbers": [A_NUMBER]}}
    catalog = FakeCatalog(accounts=accounts)
    # When / Then
    with pytest.raises(NotOwned, match=message):
        catalog.service().create_agent("acme", agent)
    with pytest.raises(NotOwned, match="not on the operator's allow-list"):
        catalog.service().create_agent("other", AgentInput(name="Bot", providerAgentId="pa-1"))
    assert accounts.directory.lookups == []


def test_given_the_default_account_without_an_allow_list_when_an_agent_is_created_then_403() -> None:
    accounts = FakeAccounts(deployment={"generic": DEFAULT_GENERIC.as_mapping()})
    with pytest.raises(NotOwned, match="allow-list"):
        FakeCatalog(accounts=accounts).service().create_agent("acme", AgentInput(name="Bot", providerAgentId="pa-1"))


def test_given_the_allow_list_but_an_id_the_default_account_does_not_own_when_created_then_403() -> None:
    # Given a default account that owns only pa-1, allowed to everyone
    accounts = FakeAccounts()
    accounts.directory = type(accounts.directory)()
    accounts.directory.own("generic", DEFAULT_GENERIC, agents=("pa-1",))
    catalog = FakeCatalog(accounts=accounts)
    with pytest.raises(NotOwned, match="is not an agent of this deployment's default generic account"):
        catalog.service().create_agent("acme", AgentInput(name="Bot", providerAgentId="pa-2"))


def test_given_a_provider_that_does_not_answer_when_an_agent_is_created_then_503_and_nothing_stored() -> None:
    catalog = FakeCatalog()
    catalog.accounts.directory.unreachable = True
    with pytest.raises(DependencyUnavailable, match="nothing was stored"):
        catalog.service().create_agent("acme", AgentInput(name="Bot", providerAgentId="pa-1"))
    assert catalog.agents.stored() == []


def test_given_no_account_of_the_provider_when_an_agent_is_created_then_400_says_how_to_connect_one() -> None:
    with pytest.raises(InvalidRequest, match="PUT /api/v1/client/providers/retell"):
        FakeCatalog().service().create_agent(
            "acme", AgentInput(name="Bot", provider="retell", providerAgentId="pa-1", callerId=A_NUMBER)
        )


def test_given_the_clients_own_credentials_revoked_when_an_agent_is_created_then_400_asks_to_connect_again() -> None:
    # Given acme's stored account, which the provider no longer knows
    catalog = FakeCatalog()
    catalog.accounts.connect("acme", "generic", OWN["generic"])
    with pytest.raises(InvalidRequest, match="refused the credentials of your account"):
        catalog.service().create_agent("acme", AgentInput(name="Bot", providerAgentId="pa-1"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"provider": "twilio"}, "callerId is required for a twilio agent"),
        ({"provider": "vapi"}, "callerId is required for a vapi agent"),
        ({"provider": "retell"}, "callerId is required for a retell agent"),
        ({"twimlUrl": "https://x.example/t"}, "twimlUrl is only for a twilio agent"),
        ({"provider": "twilio", "callerId": A_NUMBER, "phoneNumberId": "pn"}, "phoneNumberId is only for a vapi"),
        ({"provider": "sinch"}, "provider"),
    ],
)
def test_given_an_agent_that_does_not_fit_its_provider_when_validated_then_it_is_refused(fields, message) -> None:
    with pytest.raises(ValueError, match=message):
        AgentInput.model_validate({"name": "Bot", "providerAgentId": "pa-1", **fields})


def test_given_an_agent_stored_before_providers_when_read_then_it_is_generic_on_the_default_account() -> None:
    agent = Agent.model_validate(
        {"id": "ag_1", "name": "Old", "providerAgentId": "pa", "callerId": None, "createdAt": "2024-01-01T00:00:00Z"}
    )
    assert (agent.provider, agent.account) == ("generic", "default")


def test_given_a_deployment_document_that_cannot_be_read_when_an_agent_is_created_then_503_names_the_field() -> None:
    accounts = FakeAccounts(deployment={"generic": {"apiKey": "k", "secret": "not-a-field"}})
    with pytest.raises(DependencyUnavailable, match="secret is not a known field") as refused:
        FakeCatalog(accounts=accounts).service().create_agent("acme", AgentInput(name="Bot", providerAgentId="pa-1"))
    assert "not-a-field" not in str(refused.value)


def test_given_no_twiml_url_for_the_deployment_when_a_twilio_agent_brings_none_then_400_names_it() -> None:
    # Given client A's own Twilio account, and a deployment without a TwiML URL
    catalog = catalog_with_own_account("twilio")
    catalog.accounts.twiml_url_default = False
    agent = AgentInput(name="Bot", provider="twilio", providerAgentId="pa-A", callerId=A_NUMBER)
    # When / Then
    with pytest.raises(InvalidRequest, match="twimlUrl is required for a twilio agent"):
        catalog.service().create_agent("client-a", agent)
    assert (
        catalog.service()
        .create_agent("client-a", agent.model_copy(update={"twimlUrl": "https://bridge.example/twiml"}))
        .twimlUrl
        == "https://bridge.example/twiml"
    )
