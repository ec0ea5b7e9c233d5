"""Agents, campaigns, contacts and call logs: what a client sets up and reads back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from campaign_calling.catalog.ownership import CheckedAgent
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.errors import InvalidRequest
from campaign_calling.ids import new_agent_id, new_campaign_id
from campaign_calling.models import (
    Agent,
    AgentInput,
    CallLog,
    CallLogPage,
    Campaign,
    CampaignInput,
    Contact,
    ContactInput,
    ContactPage,
    ContactsAdded,
    CreatedCampaign,
    Duplicate,
)
from campaign_calling.phone import never_called

if TYPE_CHECKING:
    from campaign_calling.catalog.limits import ClientLimits

# How many refused contacts a 400 names (the first ones, by index).
NAMED_REFUSALS = 5

# -- what the catalog depends on (in AWS: catalog.agents, catalog.campaigns, calls.logs) -----


class AgentStore(Protocol):
    def create(self, client_id: str, agent: Agent) -> Agent: ...

    def get(self, client_id: str, agent_id: str) -> Agent: ...


class CampaignStore(Protocol):
    def create(
        self,
        client_id: str,
        campaign_id: str,
        name: str,
        now_ms: int,
        contacts: Sequence[ContactInput] = (),
        timezone: str | None = None,
    ) -> Campaign: ...

    def get(self, client_id: str, campaign_id: str, *, consistent: bool = False) -> Campaign: ...

    def add_contacts(
        self, client_id: str, campaign_id: str, contacts: Sequence[ContactInput], now_ms: int
    ) -> tuple[list[Contact], int]: ...

    def list_contacts(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[Contact], str | None]: ...


class CallLogReader(Protocol):
    def list(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[CallLog], str | None]: ...


class ClientSettingsReader(Protocol):
    """The client's settings (catalog.limits.ClientLimitsStore)."""

    def get(self, client_id: str) -> ClientLimits: ...


class AgentChecks(Protocol):
    """Whose agent, whose number (catalog.ownership.AgentOwnership)."""

    def check(self, client_id: str, agent: AgentInput) -> CheckedAgent: ...


class CatalogService:
    def __init__(
        self,
        *,
        agents: AgentStore,
        campaigns: CampaignStore,
        call_logs: CallLogReader,
        clock: Clock,
        ownership: AgentChecks,
        settings: ClientSettingsReader,
    ) -> None:
        self._ownership = ownership
        self._settings = settings
        self._agents = agents
        self._campaigns = campaigns
        self._call_logs = call_logs
        self._clock = clock

    def create_agent(self, client_id: str, data: AgentInput) -> Agent:
        # Refused (NotOwned, 403) or unanswerable (503) before anything is stored.
        checked = self._ownership.check(client_id, data)
        agent = Agent(
            id=new_agent_id(),
            name=data.name,
            providerAgentId=data.providerAgentId,
            provider=data.provider,
            callerId=data.callerId,
            twimlUrl=data.twimlUrl,
            phoneNumberId=checked.phone_number_id,
            createdAt=iso_from_ms(self._clock.now_ms()),
            account=checked.account,
        )
        return self._agents.create(client_id, agent)

    def get_agent(self, client_id: str, agent_id: str) -> Agent:
        return self._agents.get(client_id, agent_id)

    def create_campaign(self, client_id: str, data: CampaignInput) -> CreatedCampaign:
        # All or nothing: the campaign appears with every contact, or not at all.
        self._refuse_never_called(client_id, data.contacts)
        campaign = self._campaigns.create(
            client_id, new_campaign_id(), data.name, self._clock.now_ms(), data.contacts, timezone=data.timezone
        )
        duplicates = _duplicates(data.contacts, stored={c.phone for c in data.contacts})
        return CreatedCampaign(**dict(campaign), duplicates=duplicates, duplicateCount=len(duplicates))

    def get_campaign(self, client_id: str, campaign_id: str) -> Campaign:
        return self._campaigns.get(client_id, campaign_id)

    def add_contacts(self, client_id: str, campaign_id: str, contacts: Sequence[ContactInput]) -> ContactsAdded:
        self._refuse_never_called(client_id, contacts)
        added, total = self._campaigns.add_contacts(client_id, campaign_id, contacts, self._clock.now_ms())
        duplicates = _duplicates(contacts, stored={c.phone for c in added})
        return ContactsAdded(
            campaignId=campaign_id,
            added=len(added),
            totalContacts=total,
            contacts=added,
            duplicateCount=len(duplicates),
            duplicates=duplicates,
        )

    def _refuse_never_called(self, client_id: str, contacts: Sequence[ContactInput]) -> None:
        """InvalidRequest (400, nothing stored) naming the premium-rate and shared-cost
        numbers among ``contacts``, unless the client's settings allow them."""
        if not contacts:
            return
        allowed = self._settings.get(client_id).allowPremiumRateNumbers
        refused = [
            f"contacts.{index}.phone: '{contact.phone}' is {reason}, not called unless the client settings "
            "allow premium-rate numbers (allowPremiumRateNumbers)"
            for index, contact in enumerate(contacts)
            if (reason := never_called(contact.phone, allow_premium_rate=allowed))
        ]
        if refused:
            raise InvalidRequest("; ".join(refused[:NAMED_REFUSALS]))

    def list_contacts(self, client_id: str, campaign_id: str, limit: int, token: str | None) -> ContactPage:
        # An unknown campaign is a 404 there, not an empty page.
        contacts, next_token = self._campaigns.list_contacts(client_id, campaign_id, limit, token)
        return ContactPage(items=contacts, nextToken=next_token)

    def list_call_logs(self, client_id: str, campaign_id: str, limit: int, token: str | None) -> CallLogPage:
        self._campaigns.get(client_id, campaign_id)  # an unknown campaign is a 404, not an empty page
        logs, next_token = self._call_logs.list(client_id, campaign_id, limit, token)
        return CallLogPage(items=logs, nextToken=next_token)


def _duplicates(contacts: Sequence[ContactInput], *, stored: set[str]) -> list[Duplicate]:
    """The contacts left out: the store keeps a number's first place in the request, and
    only when the campaign did not hold it already (catalog.campaigns)."""
    kept: set[str] = set()
    duplicates: list[Duplicate] = []
    for index, contact in enumerate(contacts):
        if contact.phone in stored and contact.phone not in kept:
            kept.add(contact.phone)
        else:
            duplicates.append(Duplicate(index=index, phone=contact.phone))
    return duplicates
