"""In-memory stand-ins for the catalog's stores (agents, campaigns with their contacts, call
logs, clients' limits) and a fixed clock, keeping the promises the DynamoDB repositories
keep: tenant isolation, contacts numbered in the order added, all-or-nothing adds, one add
at a time, pages with tokens that only page the list they came from."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from campaign_calling import ids
from campaign_calling.calls.log_filters import CallLogFilter
from campaign_calling.catalog.campaigns import BUSY, DUPLICATE_PHONE, in_use_refusal
from campaign_calling.catalog.in_use import RunInUse
from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.catalog.service import CatalogService
from campaign_calling.clock import iso_from_ms
from campaign_calling.compliance.number_limits import DAY_MS, NumberCall, NumberUse
from campaign_calling.errors import Conflict, InvalidRequest, NotFound
from campaign_calling.models import Agent, CallLog, Campaign, Contact, ContactInput, RunStatus
from tests.support.clock import FixedClock
from tests.support.fakes_accounts import FakeAccounts
from tests.support.fakes_status import InMemoryCallIndex
from tests.support.phones import numbered_phone


class InMemoryAgents:
    def __init__(self) -> None:
        self._agents: dict[tuple[str, str], Agent] = {}

    def create(self, client_id: str, agent: Agent) -> Agent:
        if (client_id, agent.id) in self._agents:
            raise AssertionError(f"agent {agent.id} stored twice")  # DynamoDB's condition refuses it
        self._agents[client_id, agent.id] = agent
        return agent

    def get(self, client_id: str, agent_id: str) -> Agent:
        try:
            return self._agents[client_id, agent_id]
        except KeyError:
            raise NotFound("agent") from None

    def replace(self, client_id: str, agent: Agent) -> Agent:
        self.get(client_id, agent.id)
        self._agents[client_id, agent.id] = agent
        return agent

    def delete(self, client_id: str, agent_id: str) -> None:
        self.get(client_id, agent_id)
        del self._agents[client_id, agent_id]

    def list(self, client_id: str, limit: int, token: str | None) -> tuple[list[Agent], str | None]:
        after = _position(token, "agents", client_id, "")
        ids = sorted(a for c, a in self._agents if c == client_id and (after is None or a > after))
        page = ids[:limit]
        more = len(ids) > limit
        return [self._agents[client_id, a] for a in page], (_token("agents", client_id, "", page[-1]) if more else None)

    def stored(self) -> list[Agent]:
        """Every agent stored, of every client."""
        return list(self._agents.values())


class InMemoryCampaigns:
    """Campaigns and their contacts. ``fail_next_write`` makes the next create or add fail
    with that error, storing nothing; ``hold_adds`` makes adds of a campaign answer 409 as
    when another add keeps it busy; ``write_unpublished`` leaves contacts past the
    campaign's visibility mark, as an add that crashed does."""

    def __init__(self) -> None:
        self._campaigns: dict[tuple[str, str], Campaign] = {}
        self._contacts: dict[tuple[str, str], dict[int, Contact]] = {}
        self.fail_next_write: Exception | None = None
        self._held: set[tuple[str, str]] = set()

    # -- what the services use ---------------------------------------------------------------

    def create(
        self,
        client_id: str,
        campaign_id: str,
        name: str,
        now_ms: int,
        contacts: Sequence[ContactInput] = (),
        timezone: str | None = None,
    ) -> Campaign:
        self._maybe_fail()
        stored = _numbered(_new_numbers(contacts, held=set()), first_seq=1, now_ms=now_ms)
        campaign = Campaign(
            id=campaign_id,
            name=name,
            totalContacts=len(stored),
            isRunning=False,
            createdAt=iso_from_ms(now_ms),
            nextContactSeq=len(stored),
            timezone=timezone,
        )
        self._campaigns[client_id, campaign_id] = campaign
        self._contacts[client_id, campaign_id] = {c.seq: c for c in stored}
        return campaign

    def get(self, client_id: str, campaign_id: str, *, consistent: bool = False) -> Campaign:
        try:
            return self._campaigns[client_id, campaign_id]
        except KeyError:
            raise NotFound("campaign") from None

    def add_contacts(
        self, client_id: str, campaign_id: str, contacts: Sequence[ContactInput], now_ms: int
    ) -> tuple[list[Contact], int]:
        campaign = self.get(client_id, campaign_id)
        if (client_id, campaign_id) in self._held:
            raise Conflict(BUSY)
        self._maybe_fail()
        held = {c.phone for seq, c in self._contacts[client_id, campaign_id].items() if seq <= campaign.nextContactSeq}
        stored = _numbered(_new_numbers(contacts, held=held), first_seq=campaign.nextContactSeq + 1, now_ms=now_ms)
        self._contacts[client_id, campaign_id].update({c.seq: c for c in stored})
        total = campaign.totalContacts + len(stored)
        self._campaigns[client_id, campaign_id] = campaign.model_copy(
            update={"totalContacts": total, "nextContactSeq": campaign.nextContactSeq + len(stored)}
        )
        return stored, total

    def get_contact(self, client_id: str, campaign_id: str, contact_id: str, *, consistent: bool = False) -> Contact:
        seq = ids.contact_seq(contact_id)
        found = self._contacts.get((client_id, campaign_id), {}).get(seq) if seq is not None else None
        if found is None:
            raise NotFound("contact")
        return found

    def list_contacts(
        self, client_id: str, campaign_id: str, limit: int, token: str | None
    ) -> tuple[list[Contact], str | None]:
        last_seq = self.get(client_id, campaign_id).nextContactSeq
        after = int(_position(token, "contacts", client_id, campaign_id) or 0)
        visible = sorted(
            (c for seq, c in self._contacts[client_id, campaign_id].items() if after < seq <= last_seq),
            key=lambda c: c.seq,
        )
        page = visible[:limit]
        more = len(visible) > limit
        return page, (_token("contacts", client_id, campaign_id, page[-1].seq) if more else None)

    def list_campaigns(self, client_id: str, limit: int, token: str | None) -> tuple[list[Campaign], str | None]:
        after = _position(token, "campaigns", client_id, "")
        ids = sorted(c for k, c in self._campaigns if k == client_id and (after is None or c > after))
        page = ids[:limit]
        more = len(ids) > limit
        campaigns = [self._campaigns[client_id, c] for c in page]
        return campaigns, (_token("campaigns", client_id, "", page[-1]) if more else None)

    def update(self, client_id: str, campaign_id: str, changes: dict[str, Any], now_ms: int) -> Campaign:
        campaign = self._idle(client_id, campaign_id, adds_matter=False)
        self._maybe_fail()
        changed = campaign.model_copy(update=changes)
        self._campaigns[client_id, campaign_id] = changed
        return changed

    def delete(self, client_id: str, campaign_id: str, now_ms: int) -> Campaign:
        campaign = self._idle(client_id, campaign_id)
        self._maybe_fail()
        del self._campaigns[client_id, campaign_id]
        del self._contacts[client_id, campaign_id]
        return campaign

    def update_contact(
        self, client_id: str, campaign_id: str, contact_id: str, changes: dict[str, Any], now_ms: int
    ) -> Contact:
        campaign, contact = self._visible_contact(client_id, campaign_id, contact_id)
        others = {
            c.phone for seq, c in self._contacts[client_id, campaign_id].items() if seq <= campaign.nextContactSeq
        }
        if changes.get("phone", contact.phone) != contact.phone and changes["phone"] in others:
            raise Conflict(DUPLICATE_PHONE)
        self._maybe_fail()
        changed = contact.model_copy(update=changes)
        self._contacts[client_id, campaign_id][contact.seq] = changed
        return changed

    def delete_contact(self, client_id: str, campaign_id: str, contact_id: str, now_ms: int) -> Contact:
        campaign, contact = self._visible_contact(client_id, campaign_id, contact_id)
        self._maybe_fail()
        del self._contacts[client_id, campaign_id][contact.seq]
        self._campaigns[client_id, campaign_id] = campaign.model_copy(
            update={"totalContacts": campaign.totalContacts - 1}
        )
        return contact

    def _idle(self, client_id: str, campaign_id: str, *, adds_matter: bool = True) -> Campaign:
        campaign = self.get(client_id, campaign_id)
        refusal = in_use_refusal(campaign, adding=adds_matter and (client_id, campaign_id) in self._held)
        if refusal is not None:
            raise refusal
        return campaign

    def _visible_contact(self, client_id: str, campaign_id: str, contact_id: str) -> tuple[Campaign, Contact]:
        campaign = self._idle(client_id, campaign_id)
        contact = self.get_contact(client_id, campaign_id, contact_id)
        if contact.seq > campaign.nextContactSeq:
            raise NotFound("contact")
        return campaign, contact

    # -- what tests arrange ------------------------------------------------------------------

    def mark_run(self, client_id: str, campaign_id: str, run_id: str, status: RunStatus) -> None:
        """The campaign item as a run in ``status`` leaves it (runs/repository.py)."""
        campaign = self.get(client_id, campaign_id)
        self._campaigns[client_id, campaign_id] = campaign.model_copy(
            update={"isRunning": status == "running", "currentRunId": run_id, "lastRunStatus": status}
        )

    def hold_adds(self, client_id: str, campaign_id: str) -> None:
        self._held.add((client_id, campaign_id))

    def write_unpublished(self, client_id: str, campaign_id: str, contacts: Sequence[ContactInput]) -> list[Contact]:
        campaign = self.get(client_id, campaign_id)
        stored = _numbered(contacts, first_seq=campaign.nextContactSeq + 1, now_ms=0)
        self._contacts[client_id, campaign_id].update({c.seq: c for c in stored})
        return stored

    def mark_running(self, client_id: str, campaign_id: str, run_id: str) -> None:
        campaign = self.get(client_id, campaign_id)
        self._campaigns[client_id, campaign_id] = campaign.model_copy(
            update={"isRunning": True, "currentRunId": run_id, "lastRunStatus": "running"}
        )

    def stored_contacts(self, client_id: str, campaign_id: str) -> list[Contact]:
        """Every contact stored, visible or not."""
        return sorted(self._contacts.get((client_id, campaign_id), {}).values(), key=lambda c: c.seq)

    def _maybe_fail(self) -> None:
        error, self.fail_next_write = self.fail_next_write, None
        if error is not None:
            raise error


class InMemoryCallLogs:
    """Call logs of a campaign, newest first (uniqueIds start with the epoch milliseconds),
    each indexed by its provider call id as it is stored."""

    def __init__(self, index: InMemoryCallIndex | None = None) -> None:
        self._logs: dict[tuple[str, str], dict[str, CallLog]] = {}
        self.index = index if index is not None else InMemoryCallIndex()

    def put(self, client_id: str, log: CallLog) -> None:
        logs = self._logs.setdefault((client_id, log.campaignId), {})
        if log.uniqueId in logs:
            raise AssertionError(f"call log {log.uniqueId} stored twice")  # DynamoDB's condition refuses it
        logs[log.uniqueId] = log
        self.index.add(client_id, log)

    def stored_log(self, client_id: str, campaign_id: str, unique_id: str) -> CallLog | None:
        return self._logs.get((client_id, campaign_id), {}).get(unique_id)

    def replace_log(self, client_id: str, log: CallLog) -> None:
        self._logs[(client_id, log.campaignId)][log.uniqueId] = log

    def list(
        self,
        client_id: str,
        campaign_id: str,
        limit: int,
        token: str | None,
        filters: CallLogFilter = CallLogFilter(),  # noqa: B008 (frozen)
    ) -> tuple[list[CallLog], str | None]:
        """As the DynamoDB store promises: the matching logs, newest first, ``limit`` at most
        (this fake always fills its pages)."""
        after = _position(token, "calls", client_id, campaign_id)
        stored = self._logs.get((client_id, campaign_id), {})
        newest_first = sorted(stored, reverse=True)
        remaining = [u for u in newest_first if (after is None or u < after) and filters.matches(stored[u])]
        page = remaining[:limit]
        more = len(remaining) > limit
        logs = [stored[u] for u in page]
        return logs, (_token("calls", client_id, campaign_id, page[-1]) if more else None)

    def position_after(self, client_id: str, log: CallLog) -> str:
        return _token("calls", client_id, log.campaignId, log.uniqueId)

    def all(self, client_id: str, campaign_id: str) -> list[CallLog]:
        return self.list(client_id, campaign_id, 10_000, None)[0]


class InMemoryClientLimits:
    """Each client's limits; none set reads as no cap (ClientLimitsStore's promises)."""

    def __init__(self) -> None:
        self._limits: dict[str, ClientLimits] = {}

    def get(self, client_id: str) -> ClientLimits:
        return self._limits.get(client_id, ClientLimits())

    def put(self, client_id: str, limits: ClientLimits) -> ClientLimits:
        self._limits[client_id] = limits
        return limits


class InMemoryNumberUses:
    """When each client called each number, versioned (compliance/number_limits.py's store)."""

    def __init__(self) -> None:
        self._uses: dict[tuple[str, str], NumberUse] = {}

    def number_use(self, client_id: str, phone: str) -> NumberUse:
        return self._uses.get((client_id, phone), NumberUse())

    def can_record(self, call: NumberCall) -> bool:
        return self.number_use(call.client_id, call.phone) == call.use

    def record(self, call: NumberCall) -> bool:
        if not self.can_record(call):
            return False
        recent = [t for t in call.use.calls if t > call.now_ms - DAY_MS] or list(call.use.calls[-1:])
        self._uses[(call.client_id, call.phone)] = NumberUse((*recent, call.now_ms), (call.use.version or 0) + 1)
        return True


class InMemoryRuns:
    """Which agent each run calls with, and the campaigns the runs leave marked: what
    catalog.in_use.RunsInUse reads from the campaign and run items."""

    def __init__(self, campaigns: InMemoryCampaigns) -> None:
        self._campaigns = campaigns
        self._agents: dict[tuple[str, str, str], str] = {}

    def start(
        self, client_id: str, campaign_id: str, agent_id: str, run_id: str, status: RunStatus = "running"
    ) -> None:
        self._agents[client_id, campaign_id, run_id] = agent_id
        self._campaigns.mark_run(client_id, campaign_id, run_id, status)

    def run_using_agent(self, client_id: str, agent_id: str) -> RunInUse | None:
        for campaign in self._campaigns.list_campaigns(client_id, 10_000, None)[0]:
            status = "running" if campaign.isRunning else campaign.lastRunStatus
            run = campaign.currentRunId
            if run and status in ("running", "paused") and self._agents.get((client_id, campaign.id, run)) == agent_id:
                return RunInUse(campaign.id, run, status)
        return None


@dataclass
class FakeCatalog:
    """The catalog's stores in memory and a fixed clock; ``service()`` is the real CatalogService."""

    clock: FixedClock = field(default_factory=FixedClock)
    agents: InMemoryAgents = field(default_factory=InMemoryAgents)
    campaigns: InMemoryCampaigns = field(default_factory=InMemoryCampaigns)
    call_logs: InMemoryCallLogs = field(default_factory=InMemoryCallLogs)
    accounts: FakeAccounts = field(default_factory=FakeAccounts)
    settings: InMemoryClientLimits = field(default_factory=lambda: InMemoryClientLimits())
    runs: InMemoryRuns = field(init=False)

    def __post_init__(self) -> None:
        self.runs = InMemoryRuns(self.campaigns)

    def service(self) -> CatalogService:
        return CatalogService(
            agents=self.agents,
            campaigns=self.campaigns,
            call_logs=self.call_logs,
            clock=self.clock,
            ownership=self.accounts.ownership(),
            settings=self.settings,
            runs_in_use=self.runs,
        )


def contact_inputs(n: int, prefix: str = "C") -> list[ContactInput]:
    """``n`` contacts named C1..Cn, with distinct valid numbers (distinct across prefixes too)."""
    return [ContactInput(name=f"{prefix}{i}", phone=numbered_phone(prefix, i)) for i in range(1, n + 1)]


def _new_numbers(contacts: Sequence[ContactInput], *, held: set[str]) -> list[ContactInput]:
    """As the DynamoDB store: a number the campaign holds, or given earlier, is left out."""
    seen = set(held)
    new = []
    for c in contacts:
        if c.phone not in seen:
            seen.add(c.phone)
            new.append(c)
    return new


def _numbered(contacts: Sequence[ContactInput], *, first_seq: int, now_ms: int) -> list[Contact]:
    return [
        Contact(
            id=ids.contact_id(seq),
            name=c.name,
            phone=c.phone,
            seq=seq,
            createdAt=iso_from_ms(now_ms),
            timezone=c.timezone,
            attributes=c.attributes,
        )
        for seq, c in enumerate(contacts, start=first_seq)
    ]


def _token(kind: str, client_id: str, campaign_id: str, position: object) -> str:
    return json.dumps([kind, client_id, campaign_id, position])


def _position(token: str | None, kind: str, client_id: str, campaign_id: str) -> Any:
    """Where the page of ``token`` ended; InvalidRequest for a token of any other list."""
    if token is None:
        return None
    try:
        token_kind, token_client, token_campaign, position = json.loads(token)
    except (ValueError, TypeError):
        raise InvalidRequest("nextToken is not valid") from None
    if [token_kind, token_client, token_campaign] != [kind, client_id, campaign_id]:
        raise InvalidRequest("nextToken is not valid")
    return position


class InMemoryDoNotCall:
    """Each client's do-not-call list: DoNotCallList's promises (is_listed, add, remove)."""

    def __init__(self) -> None:
        self._listed: dict[tuple[str, str], str | None] = {}

    def is_listed(self, client_id: str, phone: str) -> bool:
        return (client_id, phone) in self._listed

    def add(self, client_id: str, phones: list[str], *, reason: str | None = None) -> None:
        for phone in phones:
            self._listed[(client_id, phone)] = reason

    def list_once(self, client_id: str, phone: str, *, reason: str) -> None:
        self._listed.setdefault((client_id, phone), reason)

    def reason(self, client_id: str, phone: str) -> str | None:
        return self._listed.get((client_id, phone))

    def remove(self, client_id: str, phone: str) -> bool:
        return self._listed.pop((client_id, phone), 0) != 0
