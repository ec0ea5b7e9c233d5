"""Listing, changing and deleting agents, campaigns and contacts on in-memory stores: pages of
the client's own, a change checked as create checks it, and never while a run uses them."""

from __future__ import annotations

import pytest

from campaign_calling.calls.placing import new_call_log
from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound, NotOwned
from campaign_calling.ids import call_unique_id
from campaign_calling.models import AgentInput, AgentPatch, CampaignInput, CampaignPatch, Contact, ContactPatch
from tests.support.clock import T0_MS
from tests.support.fakes_accounts import DEFAULT_GENERIC, FakeAccounts
from tests.support.fakes_catalog import FakeCatalog, contact_inputs

CLIENT = "client-a"
OTHER = "client-b"
PREMIUM_RATE = "+19002345678"


def catalog_with_campaign(contacts: int = 3) -> tuple[FakeCatalog, str]:
    catalog = FakeCatalog()
    campaign = catalog.service().create_campaign(
        CLIENT, CampaignInput(name="Spring", contacts=contact_inputs(contacts))
    )
    return catalog, campaign.id


# -- lists ------------------------------------------------------------------------------


def test_given_campaigns_of_two_clients_when_listed_in_pages_then_each_sees_its_own_by_id() -> None:
    # Given five campaigns of client A and one of client B
    catalog = FakeCatalog()
    service = catalog.service()
    mine = sorted(service.create_campaign(CLIENT, CampaignInput(name=f"C{i}")).id for i in range(5))
    service.create_campaign(OTHER, CampaignInput(name="Theirs"))
    # When A lists them two at a time
    first = service.list_campaigns(CLIENT, 2, None)
    second = service.list_campaigns(CLIENT, 2, first.nextToken)
    third = service.list_campaigns(CLIENT, 2, second.nextToken)
    # Then every campaign of A comes once, by id, and none of B's
    assert [c.id for page in (first, second, third) for c in page.items] == mine
    assert third.nextToken is None
    # And a token of A's list opens nothing of B's
    with pytest.raises(InvalidRequest, match="nextToken"):
        service.list_campaigns(OTHER, 2, first.nextToken)


def test_given_a_running_campaign_when_listed_then_it_shows_its_status() -> None:
    catalog, campaign_id = catalog_with_campaign()
    catalog.runs.start(CLIENT, campaign_id, "ag_1", "run-1")
    (listed,) = catalog.service().list_campaigns(CLIENT, 10, None).items
    assert (listed.isRunning, listed.currentRunId, listed.lastRunStatus) == (True, "run-1", "running")


def test_given_agents_when_listed_then_a_page_holds_the_clients_agents_by_id() -> None:
    service = FakeCatalog().service()
    mine = sorted(service.create_agent(CLIENT, AgentInput(name=f"A{i}", providerAgentId="pa")).id for i in range(3))
    service.create_agent(OTHER, AgentInput(name="Theirs", providerAgentId="pa"))
    page = service.list_agents(CLIENT, 50, None)
    assert ([a.id for a in page.items], page.nextToken) == (mine, None)


# -- agents -----------------------------------------------------------------------------


def test_given_an_agent_when_its_name_changes_then_the_provider_is_not_asked_again() -> None:
    # Given
    catalog = FakeCatalog()
    service = catalog.service()
    agent = service.create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1"))
    asked = len(catalog.accounts.directory.lookups)
    # When
    changed = service.update_agent(CLIENT, agent.id, AgentPatch(name="Renewals bot"))
    # Then
    assert (changed.name, changed.providerAgentId, changed.createdAt) == ("Renewals bot", "pa-1", agent.createdAt)
    assert service.get_agent(CLIENT, agent.id) == changed
    assert len(catalog.accounts.directory.lookups) == asked


def test_given_an_agent_when_its_provider_id_changes_to_one_not_owned_then_403_and_nothing_changed() -> None:
    # Given a default account that owns only pa-1
    accounts = FakeAccounts()
    accounts.directory = type(accounts.directory)()
    accounts.directory.own("generic", DEFAULT_GENERIC, agents=("pa-1",))
    catalog = FakeCatalog(accounts=accounts)
    service = catalog.service()
    agent = service.create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1"))
    # When the agent id changes to one the account does not own
    with pytest.raises(NotOwned, match="pa-2"):
        service.update_agent(CLIENT, agent.id, AgentPatch(providerAgentId="pa-2"))
    # Then the agent is as it was
    assert service.get_agent(CLIENT, agent.id) == agent


def test_given_a_generic_agent_when_it_becomes_a_vapi_agent_without_a_number_then_400_naming_callerid() -> None:
    service = FakeCatalog().service()
    agent = service.create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1"))
    with pytest.raises(InvalidRequest, match="callerId is required for a vapi agent"):
        service.update_agent(CLIENT, agent.id, AgentPatch(provider="vapi"))


def test_given_an_agent_with_a_number_when_callerid_is_cleared_then_it_calls_from_the_default() -> None:
    service = FakeCatalog().service()
    agent = service.create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1", callerId="+12025550143"))
    changed = service.update_agent(CLIENT, agent.id, AgentPatch.model_validate({"callerId": None}))
    assert changed.callerId is None


def test_given_a_provider_that_does_not_answer_when_an_agent_changes_then_503_and_nothing_changed() -> None:
    catalog = FakeCatalog()
    service = catalog.service()
    agent = service.create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1"))
    catalog.accounts.directory.unreachable = True
    with pytest.raises(DependencyUnavailable):
        service.update_agent(CLIENT, agent.id, AgentPatch(providerAgentId="pa-2"))
    assert service.get_agent(CLIENT, agent.id) == agent


@pytest.mark.parametrize("status", ["running", "paused"])
def test_given_a_run_that_calls_with_an_agent_when_it_is_changed_or_deleted_then_409_naming_the_run(
    status: str,
) -> None:
    # Given an agent whose run is running (or paused)
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    agent = service.create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1"))
    catalog.runs.start(CLIENT, campaign_id, agent.id, "run-7", status)  # type: ignore[arg-type]
    # When it is changed or deleted / Then each is refused, naming the run
    with pytest.raises(Conflict, match=f"{status} run run-7 of campaign {campaign_id}"):
        service.update_agent(CLIENT, agent.id, AgentPatch(name="Other"))
    with pytest.raises(Conflict, match="run-7"):
        service.delete_agent(CLIENT, agent.id)
    assert service.get_agent(CLIENT, agent.id) == agent


def test_given_a_run_that_ended_when_its_agent_is_deleted_then_it_is_gone() -> None:
    # Given an agent whose run completed
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    agent = service.create_agent(CLIENT, AgentInput(name="Bot", providerAgentId="pa-1"))
    catalog.runs.start(CLIENT, campaign_id, agent.id, "run-1", "completed")
    # When
    deleted = service.delete_agent(CLIENT, agent.id)
    # Then it answered the agent as it was, and is not found any more, nor deleted twice
    assert deleted == agent
    with pytest.raises(NotFound, match="agent not found"):
        service.get_agent(CLIENT, agent.id)
    with pytest.raises(NotFound, match="agent not found"):
        service.delete_agent(CLIENT, agent.id)


def test_given_an_agent_of_another_client_when_changed_or_deleted_then_it_is_not_found() -> None:
    service = FakeCatalog().service()
    agent = service.create_agent(OTHER, AgentInput(name="Bot", providerAgentId="pa-1"))
    with pytest.raises(NotFound):
        service.update_agent(CLIENT, agent.id, AgentPatch(name="Mine now"))
    with pytest.raises(NotFound):
        service.delete_agent(CLIENT, agent.id)
    assert service.get_agent(OTHER, agent.id) == agent


# -- campaigns --------------------------------------------------------------------------


def test_given_a_campaign_when_its_name_and_timezone_change_then_it_reads_back_changed() -> None:
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    changed = service.update_campaign(CLIENT, campaign_id, CampaignPatch(name="Autumn", timezone="Europe/Paris"))
    assert (changed.name, changed.timezone, changed.totalContacts) == ("Autumn", "Europe/Paris", 3)
    cleared = service.update_campaign(CLIENT, campaign_id, CampaignPatch.model_validate({"timezone": None}))
    assert (cleared.name, cleared.timezone) == ("Autumn", None)
    assert service.get_campaign(CLIENT, campaign_id) == cleared


@pytest.mark.parametrize("status", ["running", "paused"])
def test_given_a_campaign_a_run_uses_when_it_or_its_contacts_change_then_409_naming_the_run(status: str) -> None:
    # Given
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    catalog.runs.start(CLIENT, campaign_id, "ag_1", "run-9", status)  # type: ignore[arg-type]
    before = service.list_contacts(CLIENT, campaign_id, 10, None)
    # When / Then every change is refused, naming the run
    attempts = [
        lambda: service.update_campaign(CLIENT, campaign_id, CampaignPatch(name="X")),
        lambda: service.delete_campaign(CLIENT, campaign_id),
        lambda: service.update_contact(CLIENT, campaign_id, "ct_0000000001", ContactPatch(name="X")),
        lambda: service.delete_contact(CLIENT, campaign_id, "ct_0000000001"),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match=r"\(run run-9\)"):
            attempt()
    # And nothing changed
    assert service.list_contacts(CLIENT, campaign_id, 10, None) == before
    assert service.get_campaign(CLIENT, campaign_id).name == "Spring"


def test_given_a_campaign_with_call_logs_when_deleted_then_it_and_its_contacts_are_gone_but_its_logs_stay() -> None:
    # Given a campaign with a call log
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    contact = Contact(id="ct_0000000001", name="C1", phone="+12025550001", seq=1)
    log = new_call_log(
        campaign_id=campaign_id,
        contact=contact,
        agent_id="ag_1",
        unique_id=call_unique_id(T0_MS),
        started_ms=T0_MS,
        ended_ms=T0_MS + 250,
        run_id=None,
        outcome="success",
        error=None,
    )
    catalog.call_logs.put(CLIENT, log)
    # When
    deleted = service.delete_campaign(CLIENT, campaign_id)
    # Then the answer is the campaign as it was
    assert (deleted.id, deleted.totalContacts) == (campaign_id, 3)
    # And the campaign and its contacts are not found any more
    with pytest.raises(NotFound, match="campaign not found"):
        service.get_campaign(CLIENT, campaign_id)
    with pytest.raises(NotFound, match="campaign not found"):
        service.list_contacts(CLIENT, campaign_id, 10, None)
    with pytest.raises(NotFound, match="campaign not found"):
        service.delete_campaign(CLIENT, campaign_id)
    assert service.list_campaigns(CLIENT, 10, None).items == []
    # But its call logs are still read
    assert len(service.list_call_logs(CLIENT, campaign_id, 10, None).items) == 1


def test_given_no_campaign_and_no_logs_when_its_call_logs_are_read_then_404() -> None:
    service = FakeCatalog().service()
    with pytest.raises(NotFound, match="campaign not found"):
        service.list_call_logs(CLIENT, "cmp_missing", 10, None)


def test_given_contacts_being_added_when_the_campaign_is_deleted_then_409_and_nothing_deleted() -> None:
    catalog, campaign_id = catalog_with_campaign()
    catalog.campaigns.hold_adds(CLIENT, campaign_id)
    with pytest.raises(Conflict, match="being added"):
        catalog.service().delete_campaign(CLIENT, campaign_id)
    assert catalog.service().get_campaign(CLIENT, campaign_id).totalContacts == 3


# -- contacts ---------------------------------------------------------------------------


def test_given_a_contact_when_its_phone_name_and_timezone_change_then_it_reads_back_in_e164() -> None:
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    patch = ContactPatch(name="Jane", phone="+1 (202) 555-0199", timezone="America/Chicago")
    changed = service.update_contact(CLIENT, campaign_id, "ct_0000000002", patch)
    assert (changed.id, changed.name, changed.phone, changed.timezone) == (
        "ct_0000000002",
        "Jane",
        "+12025550199",
        "America/Chicago",
    )
    assert service.list_contacts(CLIENT, campaign_id, 10, None).items[1] == changed


def test_given_two_contacts_when_one_takes_the_others_number_then_409_and_nothing_changed() -> None:
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    first, second = service.list_contacts(CLIENT, campaign_id, 2, None).items
    with pytest.raises(Conflict, match="another contact of this campaign has this number"):
        service.update_contact(CLIENT, campaign_id, second.id, ContactPatch(phone=first.phone))
    assert service.list_contacts(CLIENT, campaign_id, 2, None).items == [first, second]


def test_given_a_premium_rate_number_when_a_contact_takes_it_then_400_until_the_settings_allow_it() -> None:
    # Given
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    # When / Then
    with pytest.raises(InvalidRequest, match=r"phone: '\+19002345678' is a premium-rate number"):
        service.update_contact(CLIENT, campaign_id, "ct_0000000001", ContactPatch(phone=PREMIUM_RATE))
    # And with the settings allowing them, it is taken
    catalog.settings.put(CLIENT, ClientLimits(allowPremiumRateNumbers=True))
    assert service.update_contact(CLIENT, campaign_id, "ct_0000000001", ContactPatch(phone=PREMIUM_RATE)).phone == (
        PREMIUM_RATE
    )


def test_given_a_contact_when_deleted_then_the_campaign_counts_one_less_and_it_is_not_found() -> None:
    # Given
    catalog, campaign_id = catalog_with_campaign()
    service = catalog.service()
    # When
    deleted = service.delete_contact(CLIENT, campaign_id, "ct_0000000002")
    # Then
    assert deleted.id == "ct_0000000002"
    assert service.get_campaign(CLIENT, campaign_id).totalContacts == 2
    assert [c.id for c in service.list_contacts(CLIENT, campaign_id, 10, None).items] == [
        "ct_0000000001",
        "ct_0000000003",
    ]
    with pytest.raises(NotFound, match="contact not found"):
        service.delete_contact(CLIENT, campaign_id, "ct_0000000002")
    with pytest.raises(NotFound, match="contact not found"):
        service.update_contact(CLIENT, campaign_id, "ct_0000000002", ContactPatch(name="Back"))


def test_given_a_contact_an_add_left_unpublished_when_changed_then_it_is_not_found() -> None:
    catalog, campaign_id = catalog_with_campaign(1)
    (hidden,) = catalog.campaigns.write_unpublished(CLIENT, campaign_id, contact_inputs(1, prefix="H"))
    with pytest.raises(NotFound, match="contact not found"):
        catalog.service().update_contact(CLIENT, campaign_id, hidden.id, ContactPatch(name="Seen"))
