"""The in-memory stores of tests/support keep the promises of the DynamoDB repositories the
domain tests rely on: each check runs against both, so a fake cannot drift from the real
store unnoticed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.calls.placing import new_call_log
from campaign_calling.catalog.agents import AgentRepository
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.errors import Conflict, InvalidRequest, NotFound
from campaign_calling.ids import call_unique_id
from campaign_calling.models import Agent, CallLog, Contact, ContactInput
from tests.support.clock import T0_MS
from tests.support.fakes_catalog import InMemoryAgents, InMemoryCallLogs, InMemoryCampaigns, contact_inputs

CLIENT = "client-a"


@dataclass
class Stores:
    agents: Any
    campaigns: Any
    call_logs: Any


@pytest.fixture(params=["in-memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "in-memory":
        return Stores(InMemoryAgents(), InMemoryCampaigns(), InMemoryCallLogs())
    aws = request.getfixturevalue("aws")
    db = boto3.client("dynamodb")
    main, progress = aws.resolver.ref("MainTable"), aws.resolver.ref("ProgressTable")
    return Stores(
        AgentRepository(db, main),
        CampaignRepository(db, main, progress_table=progress),
        CallLogRepository(db, aws.resolver.ref("CallLogsTable")),
    )


def a_log(campaign_id: str, started_ms: int) -> CallLog:
    contact = Contact(id="ct_0000000001", name="C1", phone="+12025550001", seq=1)
    return new_call_log(
        campaign_id=campaign_id,
        contact=contact,
        agent_id="ag_1",
        unique_id=call_unique_id(started_ms),
        started_ms=started_ms,
        ended_ms=started_ms + 250,
        run_id=None,
        outcome="success",
        error=None,
    )


def test_an_agent_reads_back_for_its_client_only(stores: Stores) -> None:
    agent = Agent(id="ag_1", name="Bot", providerAgentId="pa-1", createdAt="2024-01-15T10:30:00.000Z")
    assert stores.agents.create(CLIENT, agent) == agent
    assert stores.agents.get(CLIENT, "ag_1") == agent
    with pytest.raises(NotFound, match="agent not found"):
        stores.agents.get("client-b", "ag_1")


def test_a_campaign_counts_and_numbers_its_contacts_in_the_order_added(stores: Stores) -> None:
    created = stores.campaigns.create(CLIENT, "cmp_1", "Spring", T0_MS, contact_inputs(2))
    assert (created.totalContacts, created.nextContactSeq, created.createdAt) == (2, 2, "2024-01-15T10:30:00.000Z")
    assert stores.campaigns.get(CLIENT, "cmp_1", consistent=True) == created
    added, total = stores.campaigns.add_contacts(CLIENT, "cmp_1", contact_inputs(3, prefix="D"), T0_MS + 1000)
    assert ([c.id for c in added], total) == (["ct_0000000003", "ct_0000000004", "ct_0000000005"], 5)
    assert stores.campaigns.get_contact(CLIENT, "cmp_1", "ct_0000000004").name == "D2"
    with pytest.raises(NotFound, match="campaign not found"):
        stores.campaigns.get("client-b", "cmp_1")
    with pytest.raises(NotFound, match="contact not found"):
        stores.campaigns.get_contact(CLIENT, "cmp_1", "ct_0000000006")
    with pytest.raises(NotFound, match="campaign not found"):
        stores.campaigns.add_contacts(CLIENT, "cmp_missing", contact_inputs(1), T0_MS)


def test_contacts_page_in_order_and_a_token_pages_only_its_own_list(stores: Stores) -> None:
    stores.campaigns.create(CLIENT, "cmp_1", "Spring", T0_MS, contact_inputs(7))
    stores.campaigns.create(CLIENT, "cmp_2", "Other", T0_MS, contact_inputs(2))
    seen: list[int] = []
    token = None
    for _ in range(10):
        page, token = stores.campaigns.list_contacts(CLIENT, "cmp_1", 3, token)
        seen += [c.seq for c in page]
        if token is None:
            break
    assert seen == list(range(1, 8))
    _, token = stores.campaigns.list_contacts(CLIENT, "cmp_1", 3, None)
    with pytest.raises(InvalidRequest, match="nextToken is not valid"):
        stores.campaigns.list_contacts(CLIENT, "cmp_2", 3, token)
    with pytest.raises(InvalidRequest, match="nextToken is not valid"):
        stores.call_logs.list(CLIENT, "cmp_1", 3, token)
    with pytest.raises(NotFound, match="campaign not found"):
        stores.campaigns.list_contacts(CLIENT, "cmp_missing", 3, None)


def test_call_logs_page_newest_first_per_campaign(stores: Stores) -> None:
    logs = [a_log("cmp_1", T0_MS + i * 1000) for i in range(5)]
    for log in logs:
        stores.call_logs.put(CLIENT, log)
    stores.call_logs.put(CLIENT, a_log("cmp_2", T0_MS + 9000))
    seen: list[CallLog] = []
    token = None
    for _ in range(10):
        page, token = stores.call_logs.list(CLIENT, "cmp_1", 2, token)
        seen += page
        if token is None:
            break
    assert seen == list(reversed(logs))
    assert stores.call_logs.list("client-b", "cmp_1", 10, None) == ([], None)


def test_agents_list_by_id_and_change_or_go_for_their_client_only(stores: Stores) -> None:
    agents = [
        Agent(id=f"ag_{i}", name=f"Bot {i}", providerAgentId="pa", createdAt="2024-01-15T10:30:00.000Z")
        for i in (3, 1, 2)
    ]
    for agent in agents:
        stores.agents.create(CLIENT, agent)
    first, token = stores.agents.list(CLIENT, 2, None)
    second, last = stores.agents.list(CLIENT, 2, token)
    assert [a.id for a in first + second] == ["ag_1", "ag_2", "ag_3"] and last is None
    assert stores.agents.list("client-b", 2, None) == ([], None)
    renamed = agents[0].model_copy(update={"name": "Renamed", "callerId": None})
    assert stores.agents.replace(CLIENT, renamed) == renamed
    assert stores.agents.get(CLIENT, "ag_3") == renamed
    stores.agents.delete(CLIENT, "ag_3")
    with pytest.raises(NotFound, match="agent not found"):
        stores.agents.get(CLIENT, "ag_3")
    for gone in (lambda: stores.agents.delete(CLIENT, "ag_3"), lambda: stores.agents.replace("client-b", renamed)):
        with pytest.raises(NotFound, match="agent not found"):
            gone()


def test_campaigns_list_by_id_change_and_go_with_their_contacts(stores: Stores) -> None:
    for campaign_id in ("cmp_b", "cmp_a", "cmp_c"):
        stores.campaigns.create(CLIENT, campaign_id, "Spring", T0_MS, contact_inputs(2))
    first, token = stores.campaigns.list_campaigns(CLIENT, 2, None)
    second, last = stores.campaigns.list_campaigns(CLIENT, 2, token)
    assert [c.id for c in first + second] == ["cmp_a", "cmp_b", "cmp_c"] and last is None
    with pytest.raises(InvalidRequest, match="nextToken is not valid"):
        stores.campaigns.list_campaigns("client-b", 2, token)
    changed = stores.campaigns.update(CLIENT, "cmp_a", {"name": "Autumn", "timezone": "Europe/Paris"}, T0_MS)
    assert (changed.name, changed.timezone, changed.totalContacts) == ("Autumn", "Europe/Paris", 2)
    cleared = stores.campaigns.update(CLIENT, "cmp_a", {"timezone": None}, T0_MS)
    assert cleared.timezone is None and stores.campaigns.get(CLIENT, "cmp_a") == cleared
    assert stores.campaigns.delete(CLIENT, "cmp_a", T0_MS).name == "Autumn"
    for gone in (
        lambda: stores.campaigns.get(CLIENT, "cmp_a"),
        lambda: stores.campaigns.list_contacts(CLIENT, "cmp_a", 10, None),
        lambda: stores.campaigns.delete(CLIENT, "cmp_a", T0_MS),
        lambda: stores.campaigns.update(CLIENT, "cmp_a", {"name": "X"}, T0_MS),
        lambda: stores.campaigns.update("client-b", "cmp_b", {"name": "X"}, T0_MS),
    ):
        with pytest.raises(NotFound, match="campaign not found"):
            gone()
    assert [c.id for c in stores.campaigns.list_campaigns(CLIENT, 10, None)[0]] == ["cmp_b", "cmp_c"]


def test_a_contact_changes_keeping_its_number_unique_and_goes_counted_out(stores: Stores) -> None:
    stores.campaigns.create(CLIENT, "cmp_1", "Spring", T0_MS, contact_inputs(3))
    first, second, third = stores.campaigns.list_contacts(CLIENT, "cmp_1", 10, None)[0]
    with pytest.raises(Conflict, match="another contact of this campaign has this number"):
        stores.campaigns.update_contact(CLIENT, "cmp_1", second.id, {"phone": first.phone}, T0_MS)
    changed = stores.campaigns.update_contact(
        CLIENT, "cmp_1", second.id, {"phone": "+12025550199", "timezone": "America/Chicago"}, T0_MS
    )
    assert (changed.name, changed.phone, changed.timezone) == (second.name, "+12025550199", "America/Chicago")
    assert stores.campaigns.get_contact(CLIENT, "cmp_1", second.id, consistent=True) == changed
    # The old number is free again, the new one is held: an add sees it so
    added, _ = stores.campaigns.add_contacts(
        CLIENT,
        "cmp_1",
        [ContactInput(name="Old", phone=second.phone), ContactInput(name="New", phone="+12025550199")],
        T0_MS,
    )
    assert [c.phone for c in added] == [second.phone]
    deleted = stores.campaigns.delete_contact(CLIENT, "cmp_1", third.id, T0_MS)
    assert deleted == third
    assert stores.campaigns.get(CLIENT, "cmp_1", consistent=True).totalContacts == 3
    with pytest.raises(NotFound, match="contact not found"):
        stores.campaigns.delete_contact(CLIENT, "cmp_1", third.id, T0_MS)
    # Its number may be added again
    again, _ = stores.campaigns.add_contacts(CLIENT, "cmp_1", [ContactInput(name="Back", phone=third.phone)], T0_MS)
    assert len(again) == 1
