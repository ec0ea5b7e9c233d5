"""Agents, campaigns, contacts and call logs: what a client sets up and reads back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from campaign_calling.calls.export import MAX_EXPORT_BYTES, escaped_size, header_row, log_row
from campaign_calling.calls.log_filters import CallLogFilter
from campaign_calling.catalog.contacts_csv import ContactsCsv
from campaign_calling.catalog.ownership import CheckedAgent
from campaign_calling.clock import Clock, iso_from_ms
from campaign_calling.errors import Conflict, InvalidRequest, NotFound
from campaign_calling.ids import new_agent_id, new_campaign_id
from campaign_calling.models import (
    Agent,
    AgentInput,
    AgentPage,
    AgentPatch,
    CallLog,
    CallLogPage,
    Campaign,
    CampaignInput,
    CampaignPage,
    CampaignPatch,
    Contact,
    ContactInput,
    ContactPage,
    ContactPatch,
    ContactsAdded,
    ContactsImported,
    CreatedCampaign,
    Duplicate,
    ImportedDuplicate,
    RejectedRow,
)
from campaign_calling.phone import never_called

if TYPE_CHECKING:
    from campaign_calling.catalog.in_use import RunInUse
    from campaign_calling.catalog.limits import ClientLimits

# How many refused contacts a 400 names (the first ones, by index).
NAMED_REFUSALS = 5
# Pages of the log list one export page reads at most, and for how long: a rare filter may
# read far for few rows, and the function must answer well within API Gateway's 30 s (its
# Timeout is 10 s). Past either, the page ends short, with its token.
EXPORT_LIST_CALLS = 20
EXPORT_READ_MS = 5000


@dataclass(frozen=True)
class CallLogCsv:
    """One page of a CSV export: its text, how many rows, the token of the next page."""

    text: str
    rows: int
    next_token: str | None


# -- what the catalog depends on (in AWS: catalog.agents, catalog.campaigns, calls.logs) -----


class AgentStore(Protocol):
    def create(self, client_id: str, agent: Agent) -> Agent: ...

    def get(self, client_id: str, agent_id: str) -> Agent: ...

    def replace(self, client_id: str, agent: Agent) -> Agent: ...

    def delete(self, client_id: str, agent_id: str) -> None: ...

    def list(self, client_id: str, limit: int, token: str | None) -> tuple[list[Agent], str | None]: ...


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

    def list_campaigns(self, client_id: str, limit: int, token: str | None) -> tuple[list[Campaign], str | None]: ...

    # Each of these refuses (Conflict naming the run) while a run uses the campaign.
    def update(self, client_id: str, campaign_id: str, changes: dict[str, Any], now_ms: int) -> Campaign: ...

    def delete(self, client_id: str, campaign_id: str, now_ms: int) -> Campaign: ...

    def update_contact(
        self, client_id: str, campaign_id: str, contact_id: str, changes: dict[str, Any], now_ms: int
    ) -> Contact: ...

    def delete_contact(self, client_id: str, campaign_id: str, contact_id: str, now_ms: int) -> Contact: ...


class RunsUsingAgents(Protocol):
    """Which running or paused run calls with an agent (catalog.in_use.RunsInUse)."""

    def run_using_agent(self, client_id: str, agent_id: str) -> RunInUse | None: ...


class CallLogReader(Protocol):
    def list(
        self, client_id: str, campaign_id: str, limit: int, token: str | None, filters: CallLogFilter = ...
    ) -> tuple[list[CallLog], str | None]: ...

    def position_after(self, client_id: str, log: CallLog) -> str: ...


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
        runs_in_use: RunsUsingAgents,
    ) -> None:
        self._runs_in_use = runs_in_use
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

    # -- lists ------------------------------------------------------------------------------

    def list_agents(self, client_id: str, limit: int, token: str | None) -> AgentPage:
        agents, next_token = self._agents.list(client_id, limit, token)
        return AgentPage(items=agents, nextToken=next_token)

    def list_campaigns(self, client_id: str, limit: int, token: str | None) -> CampaignPage:
        campaigns, next_token = self._campaigns.list_campaigns(client_id, limit, token)
        return CampaignPage(items=campaigns, nextToken=next_token)

    # -- change and remove (never while a run uses them: Conflict naming the run) ----------

    def update_agent(self, client_id: str, agent_id: str, patch: AgentPatch) -> Agent:
        stored = self._agents.get(client_id, agent_id)
        self._refuse_agent_in_use(client_id, agent_id)
        changes = patch.changes()
        fields = {**stored.model_dump(include=set(AgentInput.model_fields), exclude_none=True), **changes}
        provider_changed = any(k != "name" and changes[k] != getattr(stored, k) for k in changes)
        if provider_changed and "phoneNumberId" not in changes:
            # Found again from callerId (create finds it the same way) rather than kept for a
            # number or provider it may not belong to any more.
            fields.pop("phoneNumberId", None)
        if changes.get("provider", "twilio") != "twilio" and "twimlUrl" not in changes:
            fields.pop("twimlUrl", None)  # only a twilio agent has one
        data = _valid_agent(fields)
        # The stored phoneNumberId stays unless the provider is asked again (below).
        agent = stored.model_copy(update=data.model_dump(exclude={"phoneNumberId"}))
        if provider_changed:
            # As on create: refused (403), or unanswerable (503), before anything is stored.
            checked = self._ownership.check(client_id, data)
            agent = agent.model_copy(update={"account": checked.account, "phoneNumberId": checked.phone_number_id})
        return self._agents.replace(client_id, agent)

    def delete_agent(self, client_id: str, agent_id: str) -> Agent:
        stored = self._agents.get(client_id, agent_id)
        self._refuse_agent_in_use(client_id, agent_id)
        self._agents.delete(client_id, agent_id)
        return stored

    def _refuse_agent_in_use(self, client_id: str, agent_id: str) -> None:
        run = self._runs_in_use.run_using_agent(client_id, agent_id)
        if run is not None:
            raise Conflict(
                f"agent is used by the {run.status} run {run.run_id} of campaign {run.campaign_id}: "
                "stop it first (stop-calling); nothing was changed"
            )

    def update_campaign(self, client_id: str, campaign_id: str, patch: CampaignPatch) -> Campaign:
        return self._campaigns.update(client_id, campaign_id, patch.changes(), self._clock.now_ms())

    def delete_campaign(self, client_id: str, campaign_id: str) -> Campaign:
        """The campaign, its contacts and its status go; its call logs stay (records of
        calls made), readable through its call-logs route."""
        return self._campaigns.delete(client_id, campaign_id, self._clock.now_ms())

    def update_contact(self, client_id: str, campaign_id: str, contact_id: str, patch: ContactPatch) -> Contact:
        changes = patch.changes()
        if "phone" in changes:
            allowed = self._settings.get(client_id).allowPremiumRateNumbers
            reason = never_called(changes["phone"], allow_premium_rate=allowed)
            if reason:
                raise InvalidRequest(
                    f"phone: '{changes['phone']}' is {reason}, not called unless the client settings allow "
                    "premium-rate numbers (allowPremiumRateNumbers)"
                )
        return self._campaigns.update_contact(client_id, campaign_id, contact_id, changes, self._clock.now_ms())

    def delete_contact(self, client_id: str, campaign_id: str, contact_id: str) -> Contact:
        return self._campaigns.delete_contact(client_id, campaign_id, contact_id, self._clock.now_ms())

    def import_contacts(self, client_id: str, campaign_id: str, csv: ContactsCsv) -> ContactsImported:
        """The good rows of a CSV file added as add_contacts adds them (duplicates left out
        and reported, the campaign's turn taken), the bad ones reported by line; a row whose
        number is never called (premium-rate without the settings' consent) is a bad row."""
        campaign = self._campaigns.get(client_id, campaign_id)  # an unknown campaign is a 404
        rejected = list(csv.rejected)
        refusals = dict(self._never_called(client_id, [row.contact for row in csv.contacts]))
        good = []
        for index, row in enumerate(csv.contacts):
            if index in refusals:
                rejected.append(RejectedRow(line=row.line, reason=f"phone: {refusals[index]}"))
            else:
                good.append(row)
        added: list[Contact] = []
        total = campaign.totalContacts
        duplicates: list[ImportedDuplicate] = []
        if good:
            inputs = [row.contact for row in good]
            added, total = self._campaigns.add_contacts(client_id, campaign_id, inputs, self._clock.now_ms())
            duplicates = [
                ImportedDuplicate(line=good[d.index].line, phone=d.phone)
                for d in _duplicates(inputs, stored={c.phone for c in added})
            ]
        rejected.sort(key=lambda row: row.line)
        return ContactsImported(
            campaignId=campaign_id,
            rows=csv.rows,
            added=len(added),
            totalContacts=total,
            contacts=added,
            duplicateCount=len(duplicates),
            duplicates=duplicates,
            rejectedCount=len(rejected),
            rejected=rejected,
        )

    def _refuse_never_called(self, client_id: str, contacts: Sequence[ContactInput]) -> None:
        """InvalidRequest (400, nothing stored) naming the premium-rate and shared-cost
        numbers among ``contacts``, unless the client's settings allow them."""
        refused = [f"contacts.{index}.{reason}" for index, reason in self._never_called(client_id, contacts)]
        if refused:
            raise InvalidRequest("; ".join(refused[:NAMED_REFUSALS]))

    def _never_called(self, client_id: str, contacts: Sequence[ContactInput]) -> list[tuple[int, str]]:
        """The premium-rate and shared-cost numbers among ``contacts`` (by index, with why),
        unless the client's settings allow them."""
        if not contacts:
            return []
        allowed = self._settings.get(client_id).allowPremiumRateNumbers
        return [
            (
                index,
                f"phone: '{contact.phone}' is {reason}, not called unless the client settings "
                "allow premium-rate numbers (allowPremiumRateNumbers)",
            )
            for index, contact in enumerate(contacts)
            if (reason := never_called(contact.phone, allow_premium_rate=allowed))
        ]

    def list_contacts(self, client_id: str, campaign_id: str, limit: int, token: str | None) -> ContactPage:
        # An unknown campaign is a 404 there, not an empty page.
        contacts, next_token = self._campaigns.list_contacts(client_id, campaign_id, limit, token)
        return ContactPage(items=contacts, nextToken=next_token)

    def list_call_logs(
        self,
        client_id: str,
        campaign_id: str,
        limit: int,
        token: str | None,
        filters: CallLogFilter | None = None,
    ) -> CallLogPage:
        try:
            self._campaigns.get(client_id, campaign_id)
            deleted = False
        except NotFound:
            deleted = True
        logs, next_token = self._call_logs.list(client_id, campaign_id, limit, token, filters or CallLogFilter())
        if deleted and not logs and token is None:
            # A deleted campaign's call logs are kept (records of calls made) and stay
            # readable; a campaign with none, deleted or never created, is a 404.
            raise NotFound("campaign")
        return CallLogPage(items=logs, nextToken=next_token)

    def export_call_logs(
        self,
        client_id: str,
        campaign_id: str,
        limit: int,
        token: str | None,
        filters: CallLogFilter | None = None,
        *,
        max_bytes: int = MAX_EXPORT_BYTES,
    ) -> CallLogCsv:
        """A page of the call logs as CSV, newest first, within ``max_bytes`` as a JSON
        string (calls/export.py says why) and ``limit`` rows; the header row on the first
        page only, so the pages concatenated are one file."""
        self._campaigns.get(client_id, campaign_id)
        wanted = filters or CallLogFilter()
        parts = [header_row()] if token is None else []
        size = sum(escaped_size(part) for part in parts)
        rows = 0
        last: CallLog | None = None
        started = self._clock.now_ms()
        for _ in range(EXPORT_LIST_CALLS):
            logs, token = self._call_logs.list(client_id, campaign_id, min(1000, limit - rows), token, wanted)
            for log in logs:
                row = log_row(log)
                if last is not None and size + escaped_size(row) > max_bytes:
                    return CallLogCsv("".join(parts), rows, self._call_logs.position_after(client_id, last))
                parts.append(row)
                size += escaped_size(row)
                rows += 1
                last = log
            if token is None or rows >= limit or self._clock.now_ms() - started > EXPORT_READ_MS:
                break
        return CallLogCsv("".join(parts), rows, token)


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


def _valid_agent(fields: dict[str, Any]) -> AgentInput:
    """The agent as changed, checked as create checks it: InvalidRequest (400) naming the field."""
    try:
        return AgentInput.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()))
            message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise InvalidRequest("; ".join(problems)) from None
