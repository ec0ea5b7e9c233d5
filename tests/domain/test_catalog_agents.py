"""Agents on in-memory stores: created with an id and the time, read back per client."""

from __future__ import annotations

import pytest

from campaign_calling.errors import NotFound
from campaign_calling.models import Agent, AgentInput
from tests.support.fakes_catalog import FakeCatalog


def test_given_an_agent_input_when_created_then_it_gets_an_id_and_the_time_and_reads_back() -> None:
    # Given
    catalog = FakeCatalog()
    service = catalog.service()
    # When
    agent = service.create_agent("client-a", AgentInput(name="Bot", providerAgentId="pa-1", callerId="+12025550143"))
    # Then
    assert isinstance(agent, Agent)
    assert agent.id.startswith("ag_")
    assert (agent.name, agent.providerAgentId, agent.callerId) == ("Bot", "pa-1", "+12025550143")
    assert agent.createdAt == "2024-01-15T10:30:00.000Z"
    assert service.get_agent("client-a", agent.id) == agent


def test_given_no_caller_id_when_created_then_calls_come_from_the_providers_default() -> None:
    service = FakeCatalog().service()
    agent = service.create_agent("client-a", AgentInput(name="Bot", providerAgentId="pa-1"))
    assert service.get_agent("client-a", agent.id).callerId is None


def test_given_two_agents_when_created_then_their_ids_differ() -> None:
    service = FakeCatalog().service()
    first, second = (service.create_agent("client-a", AgentInput(name="Bot", providerAgentId="pa")) for _ in range(2))
    assert first.id != second.id


def test_given_an_agent_of_one_client_when_another_client_reads_it_then_it_is_not_found() -> None:
    # Given
    service = FakeCatalog().service()
    agent = service.create_agent("client-a", AgentInput(name="Bot", providerAgentId="pa-1"))
    # When / Then
    with pytest.raises(NotFound, match="agent not found"):
        service.get_agent("client-b", agent.id)
    with pytest.raises(NotFound, match="agent not found"):
        service.get_agent("client-a", "ag_missing")
