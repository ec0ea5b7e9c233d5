"""Agents, campaigns, contacts and call logs: what a client sets up and reads back."""

from __future__ import annotations

from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.catalog.agents import AgentRepository
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.ids import new_agent_id, new_campaign_id
from campaign_calling.models import Agent, AgentInput, CallLog, Campaign, CampaignInput, Contact, ContactInput


class CatalogService:
    def __init__(
        self,
        *,
        agents: AgentRepository,
        campaigns: CampaignRepository,
        call_logs: CallLogRepository,
        clock: Clock,
    ) -> None:
        self._agents = agents
        self._campaigns = campaigns
        self._call_logs = call_logs
        self._clock = clock

    def create_agent(self, client_id: str, data: AgentInput) -> Agent:
        agent = Agent(
            id=new_agent_id(),
            name=data.name,
            providerAgentId=data.providerAgentId,
            callerId=data.callerId,
            createdAt=iso_from_ms(self._clock.now_ms()),
        )
        return self._agents.create(client_id, agent)

    def get_agent(self, client_id: str, agent_id: str) -> Agent:
        return self._agents.get(client_id, agent_id)

    def create_campaign(self, client_id: str, data: CampaignInput) -> Campaign:
        # All or nothing: the campaign appears with every contact, or not at all.
        return self._campaigns.create(client_id, new_campaign_id(), data.name, self._clock.now_ms(), data.contacts)

    def get_campaign(self, client_id: str, campaign_id: str) -> Campaign:
        return self._campaigns.get(client_id, campaign_id)

    def add_contacts(self, client_id: str, campaign_id: str, contacts: list[ContactInput]) -> tuple[list[Contact], int]:
        return self._campaigns.add_contacts(client_id, campaign_id, contacts, self._clock.now_ms())

    def list_contacts(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[Contact], str | None]:
        # An unknown campaign is a 404 there, not an empty page.
        return self._campaigns.list_contacts(client_id, campaign_id, limit, token)

    def list_call_logs(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[CallLog], str | None]:
        self._campaigns.get(client_id, campaign_id)
        return self._call_logs.list(client_id, campaign_id, limit, token)
