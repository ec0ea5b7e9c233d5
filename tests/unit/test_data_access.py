"""Repositories against moto's DynamoDB, with the tables template.yaml defines."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from campaign_calling import ids, keys
from campaign_calling.aws.dynamodb import encode_token
from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.catalog.agents import AgentRepository
from campaign_calling.catalog.campaigns import CONTACTS_PER_TRANSACTION, CampaignRepository
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound
from campaign_calling.models import Agent, CallLog, ContactInput
from campaign_calling.runs.claims import ClaimResult, DialClaims
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import RunRecord, RunRepository
from tests.support.clock import FixedClock
from tests.support.phones import numbered_phone
from tests.support.stores import FailingDynamo, new_progress

NOW = 1_705_314_600_000  # 2024-01-15T10:30:00.000Z
CLIENT = "client-a"
OTHER = "client-b"


class CountingDynamo:
    """Passes every call to boto3 and counts transactions."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.transactions: list[int] = []

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions.append(len(kwargs["TransactItems"]))
        return self._client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class Repos:
    db: Any
    agents: AgentRepository
    campaigns: CampaignRepository
    runs: RunRepository
    claims: DialClaims
    clock: FixedClock
    call_logs: CallLogRepository
    main: str
    progress: str
    logs: str


@pytest.fixture
def repos(aws) -> Repos:
    db = CountingDynamo(boto3.client("dynamodb"))
    clock = FixedClock(NOW)
    main = aws.resolver.ref("MainTable")
    progress = aws.resolver.ref("ProgressTable")
    logs = aws.resolver.ref("CallLogsTable")
    return Repos(
        db=db,
        agents=AgentRepository(db, main),
        campaigns=CampaignRepository(db, main, progress_table=progress),
        runs=RunRepository(db, main_table=main, progress_table=progress, progress_ttl_seconds=600, clock=clock),
        claims=DialClaims(db, progress_table=progress, call_logs_table=logs),
        clock=clock,
        call_logs=CallLogRepository(db, logs),
        main=main,
        progress=progress,
        logs=logs,
    )


def contacts(n: int, prefix: str = "C") -> list[ContactInput]:
    return [ContactInput(name=f"{prefix}{i}", phone=numbered_phone(prefix, i)) for i in range(1, n + 1)]


def campaign_with(repos: Repos, n: int, *, client: str = CLIENT, campaign_id: str = "cmp_1") -> str:
    repos.campaigns.create(client, campaign_id, "Spring", NOW)
    if n:
        repos.campaigns.add_contacts(client, campaign_id, contacts(n), NOW)
    return campaign_id


def start(repos: Repos, campaign_id: str, run_id: str, *, client: str = CLIENT) -> None:
    campaign = repos.campaigns.get(client, campaign_id, consistent=True)
    repos.runs.start_run(
        RunRef(client, campaign_id, run_id),
        new_progress(campaign_id, run_id, campaign.totalContacts),
        last_seq=campaign.nextContactSeq,
        agent_id="ag_1",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{run_id}-0001",
    )


def log(campaign_id: str, unique_id: str, outcome: str = "success", *, run_id: str | None = "run-1") -> CallLog:
    return CallLog(
        uniqueId=unique_id,
        campaignId=campaign_id,
        contactId="ct_0000000001",
        contactName="C1",
        phone="+442079460958",
        agentId="ag_1",
        runId=run_id,
        source="campaign" if run_id else "manual",
        outcome=outcome,
        error=None if outcome == "success" else "provider answered 400",
        externalResponse={"id": "call_1", "nested": {"n": 1.5, "list": [1, "a", None]}},
        providerCallId="call_1" if outcome == "success" else None,
        startedAt="2024-01-15T10:30:00.000Z",
        endedAt="2024-01-15T10:30:00.250Z",
        durationMs=250,
    )


# -- agents ------------------------------------------------------------------------------


def test_agents_create_get_and_not_found(repos: Repos) -> None:
    agent = Agent(
        id="ag_1", name="Bot", providerAgentId="pa-1", callerId="+12025550143", createdAt="2024-01-15T10:30:00.000Z"
    )
    repos.agents.create(CLIENT, agent)
    assert repos.agents.get(CLIENT, "ag_1") == agent

    agent = Agent(id="ag_2", name="Bot", providerAgentId="pa-1", createdAt="2024-01-15T10:30:00.000Z")
    repos.agents.create(CLIENT, agent)
    assert repos.agents.get(CLIENT, "ag_2").callerId is None

    with pytest.raises(NotFound, match="agent not found"):
        repos.agents.get(CLIENT, "ag_missing")
    with pytest.raises(NotFound):
        repos.agents.get(OTHER, "ag_1")


# -- campaigns and contacts --------------------------------------------------------------------


def test_campaign_create_and_get(repos: Repos) -> None:
    created = repos.campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    assert created.totalContacts == 0
    assert created.isRunning is False
    assert created.createdAt == "2024-01-15T10:30:00.000Z"
    fetched = repos.campaigns.get(CLIENT, "cmp_1")
    assert fetched == created
    assert fetched.nextContactSeq == 0
    with pytest.raises(NotFound, match="campaign not found"):
        repos.campaigns.get(OTHER, "cmp_1")
    with pytest.raises(NotFound):
        repos.campaigns.get(CLIENT, "cmp_2")

    with pytest.raises(NotFound):
        repos.campaigns.add_contacts(CLIENT, "cmp_missing", contacts(1), NOW)


def test_add_contacts_chunks_keep_order_and_an_exact_total(repos: Repos) -> None:
    repos.campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    added, total = repos.campaigns.add_contacts(CLIENT, "cmp_1", contacts(250), NOW)

    assert CONTACTS_PER_TRANSACTION == 49
    # the create transaction of 2; five of 49 contacts and one of 5, each contact with its
    # number's item, each transaction with the lease check; then the one transaction that
    # makes all 250 visible and counts them (campaign and summary)
    assert repos.db.transactions == [2, 99, 99, 99, 99, 99, 11, 2]
    assert total == 250
    assert [c.seq for c in added] == list(range(1, 251))
    assert [c.id for c in added[:2]] == ["ct_0000000001", "ct_0000000002"]
    assert added[-1].id == "ct_0000000250"
    assert [c.name for c in added] == [f"C{i}" for i in range(1, 251)]
    campaign = repos.campaigns.get(CLIENT, "cmp_1", consistent=True)
    assert (campaign.totalContacts, campaign.nextContactSeq) == (250, 250)

    # A second add continues the numbering.
    more, total = repos.campaigns.add_contacts(CLIENT, "cmp_1", contacts(2, prefix="D"), NOW)
    assert total == 252
    assert [c.id for c in more] == ["ct_0000000251", "ct_0000000252"]
    assert repos.campaigns.get_contact(CLIENT, "cmp_1", "ct_0000000252").name == "D2"


class SerialDynamo:
    """Each request is atomic, as in DynamoDB (moto's backend is not thread-safe), but
    requests of different threads interleave freely: a read is followed by a short pause
    so concurrent adds really do race between reading and writing the sequence."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                if name == "transact_write_items":
                    self.transactions += 1
                result = method(**kwargs)
            if name == "get_item":
                time.sleep(0.005)
            return result

        return call


def test_concurrent_adds_keep_an_exact_total_and_unique_sequence_numbers(repos: Repos) -> None:
    db = SerialDynamo(boto3.client("dynamodb"))
    campaigns = CampaignRepository(db, repos.main, progress_table=repos.progress)
    campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def add(worker: int) -> None:
        try:
            barrier.wait()
            campaigns.add_contacts(CLIENT, "cmp_1", contacts(120, prefix=f"W{worker}-"), NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []  # each add waited for the one before it
    campaign = repos.campaigns.get(CLIENT, "cmp_1", consistent=True)
    assert campaign.totalContacts == 480
    assert campaign.nextContactSeq == 480
    stored, token = repos.campaigns.list_contacts(CLIENT, "cmp_1", 1000, None)
    assert token is None
    assert [c.seq for c in stored] == list(range(1, 481))
    assert len({c.id for c in stored}) == 480
    # Each worker's contacts stay in their own order, one unbroken block per request.
    by_worker: dict[str, list[int]] = {}
    for c in stored:
        worker, _, number = c.name.partition("-")
        by_worker.setdefault(worker, []).append(int(number))
    assert sorted(by_worker) == ["W0", "W1", "W2", "W3"]
    assert all(numbers == list(range(1, 121)) for numbers in by_worker.values())
    blocks = [stored[i].name.partition("-")[0] for i in range(0, 480, 120)]
    assert sorted(blocks) == ["W0", "W1", "W2", "W3"]
    assert all(c.name.startswith(blocks[(c.seq - 1) // 120] + "-") for c in stored)


class Crash(BaseException):
    """The process dies here: no handler of the code under test runs (a Lambda timeout)."""


def stored_contact_items(repos: Repos, client: str, campaign_id: str) -> list[dict[str, Any]]:
    """Every contact item in the table, visible or not."""
    found = repos.db.query(
        TableName=repos.main,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
        ExpressionAttributeValues={":pk": {"S": keys.campaign_pk(client, campaign_id)}, ":c": {"S": "CONTACT#"}},
        ConsistentRead=True,
    )
    return found["Items"]


def test_a_failed_add_stores_nothing_and_frees_the_campaign(repos: Repos) -> None:
    # Given a campaign of 3 contacts, and DynamoDB failing on the third transaction of the next add
    campaign_with(repos, 3)
    unavailable = DependencyUnavailable("the database stayed busy")
    campaigns = CampaignRepository(
        FailingDynamo(boto3.client("dynamodb"), 3, unavailable), repos.main, progress_table=repos.progress
    )
    # When 250 contacts are added (two of six transactions of contacts already written)
    with pytest.raises(DependencyUnavailable):
        campaigns.add_contacts(CLIENT, "cmp_1", contacts(250, prefix="X"), NOW)
    # Then nothing of it is stored or counted, and the next add goes ahead at once
    assert len(stored_contact_items(repos, CLIENT, "cmp_1")) == 3
    campaign = repos.campaigns.get(CLIENT, "cmp_1", consistent=True)
    assert (campaign.totalContacts, campaign.nextContactSeq) == (3, 3)
    assert repos.runs.status_snapshot(CLIENT, "cmp_1")[0] == 3
    added, total = repos.campaigns.add_contacts(CLIENT, "cmp_1", contacts(2, prefix="Y"), NOW)
    assert ([c.seq for c in added], total) == ([4, 5], 5)


def test_an_add_that_crashed_leaves_nothing_visible_and_the_next_one_replaces_it(repos: Repos) -> None:
    # Given a campaign of 3 contacts and an add of 250 that dies just before its last transaction
    campaign_with(repos, 3)
    crashing = CampaignRepository(
        FailingDynamo(boto3.client("dynamodb"), 7, Crash()), repos.main, progress_table=repos.progress
    )
    with pytest.raises(Crash):
        crashing.add_contacts(CLIENT, "cmp_1", contacts(250, prefix="X"), NOW)
    assert len(stored_contact_items(repos, CLIENT, "cmp_1")) == 253  # written, but past the mark
    # Then no reader sees any of them: the list, a run's pages, the count
    listed, _ = repos.campaigns.list_contacts(CLIENT, "cmp_1", 500, None)
    assert [c.name for c in listed] == ["C1", "C2", "C3"]
    campaign = repos.campaigns.get(CLIENT, "cmp_1", consistent=True)
    assert (campaign.totalContacts, campaign.nextContactSeq) == (3, 3)
    page = repos.campaigns.contacts_after(CLIENT, "cmp_1", after_seq=0, last_seq=campaign.nextContactSeq, limit=500)
    assert len(page) == 3
    # and another add waits for the dead one's lease, then answers 409 with nothing stored
    impatient = CampaignRepository(
        repos.db, repos.main, progress_table=repos.progress, sleep=lambda _: None, wait_seconds=1
    )
    with pytest.raises(Conflict, match="concurrently"):
        impatient.add_contacts(CLIENT, "cmp_1", contacts(1, prefix="Z"), NOW)
    # When the lease has lapsed, the next add takes the same numbers and shows only its own
    later = NOW + 61_000
    added, total = repos.campaigns.add_contacts(CLIENT, "cmp_1", contacts(2, prefix="Y"), later)
    assert ([c.seq for c in added], total) == ([4, 5], 5)
    listed, _ = repos.campaigns.list_contacts(CLIENT, "cmp_1", 500, None)
    assert [c.name for c in listed] == ["C1", "C2", "C3", "Y1", "Y2"]


def test_creating_a_campaign_with_contacts_is_all_or_nothing(repos: Repos) -> None:
    # Given DynamoDB failing on the campaign's own transaction, after its contacts were written
    unavailable = DependencyUnavailable("the database stayed busy")
    campaigns = CampaignRepository(
        FailingDynamo(boto3.client("dynamodb"), 4, unavailable), repos.main, progress_table=repos.progress
    )
    # When a campaign of 250 contacts is created
    with pytest.raises(DependencyUnavailable):
        campaigns.create(CLIENT, "cmp_new", "Spring", NOW, contacts(250))
    # Then there is no campaign and no contact of it
    with pytest.raises(NotFound):
        repos.campaigns.get(CLIENT, "cmp_new", consistent=True)
    assert stored_contact_items(repos, CLIENT, "cmp_new") == []
    # And a successful create counts and shows all of them at once
    created = repos.campaigns.create(CLIENT, "cmp_ok", "Spring", NOW, contacts(250))
    assert (created.totalContacts, created.nextContactSeq) == (250, 250)
    assert repos.runs.status_snapshot(CLIENT, "cmp_ok")[0] == 250
    listed, _ = repos.campaigns.list_contacts(CLIENT, "cmp_ok", 500, None)
    assert [c.seq for c in listed] == list(range(1, 251))


def test_get_contact_by_id(repos: Repos) -> None:
    campaign_with(repos, 3)
    contact = repos.campaigns.get_contact(CLIENT, "cmp_1", "ct_0000000002")
    assert (contact.id, contact.name, contact.phone, contact.seq) == ("ct_0000000002", "C2", numbered_phone("C", 2), 2)
    for missing in ["ct_0000000004", "not-an-id", "ct_2"]:
        with pytest.raises(NotFound, match="contact not found"):
            repos.campaigns.get_contact(CLIENT, "cmp_1", missing)
    with pytest.raises(NotFound):
        repos.campaigns.get_contact(OTHER, "cmp_1", "ct_0000000002")


def test_list_contacts_pages_cover_everything_in_order(repos: Repos) -> None:
    campaign_with(repos, 23)
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = repos.campaigns.list_contacts(CLIENT, "cmp_1", 5, token)
        pages += 1
        assert len(page) <= 5
        seen += [c.id for c in page]
        if token is None:
            break
        assert pages < 10
    assert seen == [ids.contact_id(i) for i in range(1, 24)]
    assert pages in (5, 6)  # the last full page may or may not return a token

    # A token is the last key read: one made by hand for this campaign works too.
    token = encode_token({"pk": {"S": keys.campaign_pk(CLIENT, "cmp_1")}, "sk": {"S": keys.contact_sk(20)}})
    page, _ = repos.campaigns.list_contacts(CLIENT, "cmp_1", 10, token)
    assert [c.seq for c in page] == [21, 22, 23]

    campaign_with(repos, 0, campaign_id="cmp_empty")
    assert repos.campaigns.list_contacts(CLIENT, "cmp_empty", 10, None) == ([], None)


def test_list_contacts_token_from_another_campaign_is_refused(repos: Repos) -> None:
    campaign_with(repos, 4, campaign_id="cmp_1")
    campaign_with(repos, 4, campaign_id="cmp_2")
    _, token = repos.campaigns.list_contacts(CLIENT, "cmp_1", 2, None)
    assert token
    with pytest.raises(InvalidRequest, match="nextToken"):
        repos.campaigns.list_contacts(CLIENT, "cmp_2", 2, token)
    # ...nor from the same campaign of another client.
    campaign_with(repos, 4, client=OTHER, campaign_id="cmp_1")
    with pytest.raises(InvalidRequest):
        repos.campaigns.list_contacts(OTHER, "cmp_1", 2, token)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


GARBAGE_TOKENS = [
    "garbage!",
    "abc",
    "%%%",
    _b64("not json"),
    _b64("[1, 2]"),
    _b64('"a string"'),
    _b64('{"pk": {"S": "CLIENT#client-a#CAMPAIGN#cmp_1"}}'),
    _b64('{"pk": {"S": "CLIENT#client-a#CAMPAIGN#cmp_1"}, "sk": {"N": "1"}}'),
    _b64('{"pk": {"S": "CLIENT#client-a#CAMPAIGN#cmp_1"}, "sk": "CONTACT#0000000001"}'),
    _b64('{"pk": {"S": "CLIENT#client-a#CAMPAIGN#cmp_1"}, "sk": {"S": "x"}, "gsi": {"S": "y"}}'),
    _b64('{"pk": {"S": "CLIENT#client-b#CAMPAIGN#cmp_1"}, "sk": {"S": "CONTACT#0000000001"}}'),
    _b64('{"pk": "CLIENT#client-a#CAMPAIGN#cmp_1", "sk": {"S": "CONTACT#0000000001"}}'),
    base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
]


def test_garbage_tokens_are_refused(repos: Repos) -> None:
    campaign_with(repos, 3)
    for token in GARBAGE_TOKENS:
        with pytest.raises(InvalidRequest, match="nextToken is not valid"):
            repos.campaigns.list_contacts(CLIENT, "cmp_1", 2, token)
        with pytest.raises(InvalidRequest, match="nextToken is not valid"):
            repos.call_logs.list(CLIENT, "cmp_1", 2, token)


def test_a_token_of_one_list_does_not_page_the_other(repos: Repos) -> None:
    # Contacts and call logs share the campaign's partition key; the sort key tells them apart.
    campaign_with(repos, 3)
    call_log_token = _b64(
        '{"pk": {"S": "CLIENT#client-a#CAMPAIGN#cmp_1"}, "sk": {"S": "CALL#aidial-1700000000000-abcdef"}}'
    )
    contacts_token = _b64('{"pk": {"S": "CLIENT#client-a#CAMPAIGN#cmp_1"}, "sk": {"S": "CONTACT#0000000001"}}')
    with pytest.raises(InvalidRequest, match="nextToken is not valid"):
        repos.campaigns.list_contacts(CLIENT, "cmp_1", 2, call_log_token)
    with pytest.raises(InvalidRequest, match="nextToken is not valid"):
        repos.call_logs.list(CLIENT, "cmp_1", 2, contacts_token)


def test_contacts_after_respects_after_seq_last_seq_and_limit(repos: Repos) -> None:
    campaign_with(repos, 10)

    def seqs(after: int, last: int, limit: int) -> list[int]:
        return [
            c.seq for c in repos.campaigns.contacts_after(CLIENT, "cmp_1", after_seq=after, last_seq=last, limit=limit)
        ]

    assert seqs(0, 10, 100) == list(range(1, 11))
    assert seqs(0, 10, 3) == [1, 2, 3]
    assert seqs(3, 10, 3) == [4, 5, 6]
    assert seqs(8, 10, 5) == [9, 10]
    assert seqs(0, 4, 100) == [1, 2, 3, 4]  # contacts added after the snapshot are left out
    assert seqs(4, 4, 100) == []
    assert seqs(9, 4, 100) == []
    assert seqs(10, 12, 100) == []  # past the end
    assert repos.campaigns.contacts_after(OTHER, "cmp_1", after_seq=0, last_seq=10, limit=10) == []


def test_contacts_after_crosses_a_power_of_ten(repos: Repos) -> None:
    # Zero-padded keys keep numeric order across digit counts (9 -> 10, 99 -> 100).
    campaign_with(repos, 101)
    got = repos.campaigns.contacts_after(CLIENT, "cmp_1", after_seq=8, last_seq=101, limit=200)
    assert [c.seq for c in got] == list(range(9, 102))


# -- keys and isolation -------------------------------------------------------------------------


def test_keys_escape_the_separator() -> None:
    assert keys.client_pk("a#b") == "CLIENT#a%23b"
    assert keys.client_pk("a%23b") != keys.client_pk("a#b")
    # A client id cannot splice a campaign into its own partition key.
    assert keys.campaign_pk("acme", "x") != keys.client_pk("acme#CAMPAIGN#x")
    assert keys.campaign_pk("a#CAMPAIGN#b", "c") != keys.campaign_pk("a", "b#CAMPAIGN#c")
    assert keys.dial_claims_pk("a", "b", "r#RUN#s") != keys.dial_claims_pk("a", "b#RUN#r", "s")
    assert keys.agent_sk("x#y") == "AGENT#x%23y"
    assert keys.call_sk("aidial-1-abc") == "CALL#aidial-1-abc"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("acme", "x"), ("acme#CAMPAIGN#x", "x")),
        (("a#CAMPAIGN#b", "c"), ("a", "b#CAMPAIGN#c")),
        (("a", "b"), ("a%23", "b")),
        (("a/b", "c"), ("a", "b/c")),
    ],
)
def test_campaign_partitions_of_two_clients_never_collide(first: tuple[str, str], second: tuple[str, str]) -> None:
    assert keys.campaign_pk(*first) != keys.campaign_pk(*second)
    assert keys.client_pk(first[0]) != keys.client_pk(second[0])


def test_a_client_id_with_a_separator_cannot_read_another_clients_items(repos: Repos) -> None:
    repos.agents.create("acme", Agent(id="ag_1", name="Bot", providerAgentId="pa", createdAt="x"))
    campaign_with(repos, 3, client="acme", campaign_id="x")
    sneaky = "acme#CAMPAIGN#x"
    with pytest.raises(NotFound):
        repos.agents.get(sneaky, "ag_1")
    with pytest.raises(NotFound):
        repos.campaigns.get(sneaky, "x")
    # Its own campaign, named to overlap the other's contact partition, stays separate.
    repos.campaigns.create("acme#CAMPAIGN", "x", "Mine", NOW)
    assert repos.campaigns.list_contacts("acme#CAMPAIGN", "x", 10, None) == ([], None)
    assert len(repos.campaigns.list_contacts("acme", "x", 10, None)[0]) == 3


# -- runs --------------------------------------------------------------------------------------


def test_start_run_marks_the_campaign_running_and_a_second_start_conflicts(repos: Repos) -> None:
    campaign_with(repos, 3)
    start(repos, "cmp_1", "run-0000000000001-aaaaaa")
    campaign = repos.campaigns.get(CLIENT, "cmp_1", consistent=True)
    assert (campaign.isRunning, campaign.currentRunId, campaign.lastRunStatus) == (
        True,
        "run-0000000000001-aaaaaa",
        "running",
    )
    record = repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-0000000000001-aaaaaa"))
    assert record.progress.status == "running"
    assert record.progress.totalContacts == 3
    assert record.last_seq == 3
    assert record.client_id == CLIENT
    assert record.expires_at is None

    with pytest.raises(Conflict):
        start(repos, "cmp_1", "run-0000000000002-bbbbbb")
    with pytest.raises(NotFound):
        repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-0000000000002-bbbbbb"))


def test_start_run_conflicts_on_stale_contacts_or_an_unknown_campaign(repos: Repos) -> None:
    campaign_with(repos, 3)
    stale = repos.campaigns.get(CLIENT, "cmp_1", consistent=True)
    repos.campaigns.add_contacts(CLIENT, "cmp_1", contacts(1, prefix="D"), NOW)
    with pytest.raises(Conflict):
        repos.runs.start_run(
            RunRef(CLIENT, "cmp_1", "run-1"),
            new_progress("cmp_1", "run-1", 3),
            last_seq=stale.nextContactSeq,
            agent_id="a",
            execution_arn="e",
        )
    assert repos.campaigns.get(CLIENT, "cmp_1", consistent=True).isRunning is False

    with pytest.raises(Conflict):
        repos.runs.start_run(
            RunRef(CLIENT, "cmp_missing", "run-1"),
            new_progress("cmp_missing", "run-1", 0),
            last_seq=0,
            agent_id="a",
            execution_arn="e",
        )
    with pytest.raises(NotFound):
        repos.runs.status_snapshot(CLIENT, "cmp_missing")


def test_end_run_releases_the_campaign_once(repos: Repos) -> None:
    campaign_with(repos, 3)
    start(repos, "cmp_1", "run-1")
    now = NOW + 1_234
    repos.clock.now = now
    assert repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="stopped", reason="why")

    record = repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1"))
    assert record.progress.status == "stopped"
    assert record.progress.isRunning is False
    assert record.progress.reason == "why"
    assert record.progress.endTime == "2024-01-15T10:30:01.234Z"
    assert record.expires_at == now // 1000 + 600
    campaign = repos.campaigns.get(CLIENT, "cmp_1", consistent=True)
    assert (campaign.isRunning, campaign.lastRunStatus, campaign.currentRunId) == (False, "stopped", "run-1")

    # Second end: nothing changes.
    repos.clock.now = now + 5000
    assert not repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="completed")
    again = repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1"))
    assert again.progress.status == "stopped"
    assert again.expires_at == now // 1000 + 600
    assert repos.campaigns.get(CLIENT, "cmp_1", consistent=True).lastRunStatus == "stopped"

    # The campaign can run again.
    start(repos, "cmp_1", "run-2")


def test_end_run_final_index_and_only_the_current_run(repos: Repos) -> None:
    campaign_with(repos, 3)
    start(repos, "cmp_1", "run-1")
    # Ending some other run leaves the current one and the campaign alone.
    assert not repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-other"), status="stopped")
    assert repos.campaigns.get(CLIENT, "cmp_1", consistent=True).isRunning is True
    assert repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1")).progress.status == "running"

    assert repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="completed", final_index=3)
    record = repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1"))
    assert record.progress.currentIndex == 3
    assert record.progress.reason is None


def test_claim_dial_claims_once_and_only_while_running(repos: Repos) -> None:
    campaign_with(repos, 3)
    start(repos, "cmp_1", "run-1")

    first = repos.claims.claim(
        RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-1-aaaaaa", now_ms=NOW
    )
    assert first == ClaimResult.CLAIMED
    record = repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1"))
    assert record.paced_from_ms == NOW
    assert record.progress.currentIndex == 0
    claim = repos.claims.get(RunRef(CLIENT, "cmp_1", "run-1"), 1)
    assert claim is not None
    assert (claim.status, claim.unique_id, claim.started_ms, claim.outcome) == ("dialing", "aidial-1-aaaaaa", NOW, None)

    again = repos.claims.claim(
        RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-2-bbbbbb", now_ms=NOW + 9
    )
    assert again == ClaimResult.ALREADY_CLAIMED
    assert repos.claims.get(RunRef(CLIENT, "cmp_1", "run-1"), 1).unique_id == "aidial-1-aaaaaa"
    assert repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1")).paced_from_ms == NOW

    assert repos.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=2, index=1, unique_id="u2", now_ms=NOW + 10) == (
        ClaimResult.CLAIMED
    )
    assert repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1")).progress.currentIndex == 1

    repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="stopped")
    late = repos.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=3, index=2, unique_id="u3", now_ms=NOW + 30)
    assert late == ClaimResult.RUN_NOT_RUNNING
    assert repos.claims.get(RunRef(CLIENT, "cmp_1", "run-1"), 3) is None


def test_claims_are_per_run(repos: Repos) -> None:
    campaign_with(repos, 1)
    start(repos, "cmp_1", "run-1")
    assert repos.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="u1", now_ms=NOW) == "claimed"
    repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="completed")
    start(repos, "cmp_1", "run-2")
    assert repos.claims.claim(RunRef(CLIENT, "cmp_1", "run-2"), seq=1, index=0, unique_id="u2", now_ms=NOW) == "claimed"


def _counts(repos: Repos, run_id: str = "run-1") -> tuple[int, int, int]:
    p = repos.runs.get_run(RunRef(CLIENT, "cmp_1", run_id)).progress
    return p.completedCalls, p.successfulCalls, p.failedCalls


def test_complete_dial_logs_and_counts_once(repos: Repos) -> None:
    campaign_with(repos, 3)
    start(repos, "cmp_1", "run-1")
    repos.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-1-aaaaaa", now_ms=NOW)

    entry = log("cmp_1", "aidial-1-aaaaaa")
    assert repos.claims.complete(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, log=entry, now_ms=NOW + 500)
    assert _counts(repos) == (1, 1, 0)
    record = repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1"))
    assert record.progress.lastCallTime == "2024-01-15T10:30:00.500Z"
    assert record.paced_from_ms == NOW + 500  # the next dial waits from the provider's answer
    claim = repos.claims.get(RunRef(CLIENT, "cmp_1", "run-1"), 1)
    assert (claim.status, claim.outcome) == ("done", "success")
    logs, _ = repos.call_logs.list(CLIENT, "cmp_1", 10, None)
    assert logs == [entry]

    # A duplicate delivery (same or a new unique id) changes nothing.
    assert not repos.claims.complete(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, log=entry, now_ms=NOW + 900)
    dup = log("cmp_1", "aidial-2-bbbbbb", outcome="failed")
    assert not repos.claims.complete(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, log=dup, now_ms=NOW + 900)
    assert _counts(repos) == (1, 1, 0)
    assert repos.call_logs.list(CLIENT, "cmp_1", 10, None)[0] == [entry]


def test_complete_dial_counts_failures_and_unknowns_as_failed(repos: Repos) -> None:
    campaign_with(repos, 3)
    start(repos, "cmp_1", "run-1")
    for seq, outcome in [(1, "failed"), (2, "unknown"), (3, "success")]:
        repos.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=seq, index=seq - 1, unique_id=f"u{seq}", now_ms=NOW)
        assert repos.claims.complete(
            RunRef(CLIENT, "cmp_1", "run-1"), seq=seq, log=log("cmp_1", f"aidial-{seq}-x", outcome), now_ms=NOW
        )
    assert _counts(repos) == (3, 1, 2)


def test_complete_dial_needs_a_claim_but_not_a_running_run(repos: Repos) -> None:
    campaign_with(repos, 3)
    start(repos, "cmp_1", "run-1")
    assert not repos.claims.complete(
        RunRef(CLIENT, "cmp_1", "run-1"), seq=2, log=log("cmp_1", "aidial-9-z"), now_ms=NOW
    )
    assert _counts(repos) == (0, 0, 0)
    assert repos.call_logs.list(CLIENT, "cmp_1", 10, None) == ([], None)

    # A call in flight when the run was stopped still happened and still counts.
    repos.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="u1", now_ms=NOW)
    repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="stopped")
    assert repos.claims.complete(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, log=log("cmp_1", "aidial-1-a"), now_ms=NOW)
    assert _counts(repos) == (1, 1, 0)


def test_status_snapshot_is_the_count_and_the_newest_run(repos: Repos) -> None:
    campaign_with(repos, 2)
    assert repos.runs.status_snapshot(CLIENT, "cmp_1") == (2, None)
    older, newer = ids.new_run_id(NOW), ids.new_run_id(NOW + 1)
    start(repos, "cmp_1", older)
    repos.claims.claim(
        RunRef(CLIENT, "cmp_1", older), seq=1, index=0, unique_id="u", now_ms=NOW
    )  # claims live elsewhere
    repos.runs.end_run(RunRef(CLIENT, "cmp_1", older), status="stopped")
    total, latest = repos.runs.status_snapshot(CLIENT, "cmp_1")
    assert (total, latest.progress.runId) == (2, older)
    start(repos, "cmp_1", newer)
    total, latest = repos.runs.status_snapshot(CLIENT, "cmp_1")
    assert latest.progress.runId == newer
    assert latest.progress.status == "running"
    with pytest.raises(NotFound):
        repos.runs.status_snapshot(OTHER, "cmp_1")


def test_run_record_expired() -> None:
    p = new_progress("cmp_1", "run-1", 1)
    record = RunRecord(p, CLIENT, 1, None, None, expires_at=1_000)
    assert not record.expired(999_999)
    assert record.expired(1_000_000)
    assert record.expired(2_000_000)
    assert not RunRecord(p, CLIENT, 1, None, None, expires_at=None).expired(10**15)


def test_set_execution_hands_over_once_and_only_while_running(repos: Repos) -> None:
    campaign_with(repos, 1)
    start(repos, "cmp_1", "run-1")
    first = repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1")).execution_arn
    assert repos.runs.set_execution(RunRef(CLIENT, "cmp_1", "run-1"), "arn-2", replaces=first)
    assert repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1")).execution_arn == "arn-2"
    assert not repos.runs.set_execution(RunRef(CLIENT, "cmp_1", "run-1"), "arn-3", replaces=first)
    repos.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="stopped")
    assert not repos.runs.set_execution(RunRef(CLIENT, "cmp_1", "run-1"), "arn-4", replaces=None)
    assert repos.runs.get_run(RunRef(CLIENT, "cmp_1", "run-1")).execution_arn == "arn-2"


# -- call logs -----------------------------------------------------------------------------------


def test_call_logs_list_newest_first_with_paging(repos: Repos) -> None:
    campaign_with(repos, 1)
    unique_ids = [ids.call_unique_id(NOW + i * 1000) for i in range(7)]
    for uid in unique_ids:
        repos.call_logs.put(CLIENT, log("cmp_1", uid, run_id=None))
    repos.call_logs.put(CLIENT, log("cmp_2", ids.call_unique_id(NOW + 99_000), run_id=None))

    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        page, token = repos.call_logs.list(CLIENT, "cmp_1", 3, token)
        assert len(page) <= 3
        seen += [entry.uniqueId for entry in page]
        if token is None:
            break
    assert seen == list(reversed(unique_ids))
    assert repos.call_logs.list(OTHER, "cmp_1", 10, None) == ([], None)

    _, token = repos.call_logs.list(CLIENT, "cmp_1", 1, None)
    assert token
    with pytest.raises(InvalidRequest):
        repos.call_logs.list(CLIENT, "cmp_2", 1, token)


def test_call_log_round_trips_the_provider_response(repos: Repos) -> None:
    entry = log("cmp_1", "aidial-1705314600000-abcdef", run_id=None)
    repos.call_logs.put(CLIENT, entry)
    (stored,), _ = repos.call_logs.list(CLIENT, "cmp_1", 10, None)
    assert stored == entry
    assert stored.externalResponse == {"id": "call_1", "nested": {"n": 1.5, "list": [1, "a", None]}}
    assert stored.source == "manual"
    assert stored.runId is None

    entry = log("cmp_1", "aidial-1-a")
    repos.call_logs.put(CLIENT, entry)
    with pytest.raises(Exception) as info:
        repos.call_logs.put(CLIENT, entry)
    assert "ConditionalCheckFailed" in str(info.value)


def test_call_log_without_provider_response(repos: Repos) -> None:
    entry = log("cmp_1", "aidial-1-a", outcome="failed").model_copy(update={"externalResponse": None})
    repos.call_logs.put(CLIENT, entry)
    (stored,), _ = repos.call_logs.list(CLIENT, "cmp_1", 10, None)
    assert stored.externalResponse is None
    assert stored.error == "provider answered 400"


def test_items_are_stored_under_client_scoped_keys(repos: Repos) -> None:
    campaign_with(repos, 1)
    raw = boto3.client("dynamodb").scan(TableName=repos.main)["Items"]
    kinds = Counter(item["kind"]["S"] for item in raw)
    assert kinds == {"campaign": 1, "contact": 1, "contact-phone": 1}
    assert all(item["pk"]["S"].startswith("CLIENT#client-a") for item in raw)
    assert json.dumps(raw).count("nextContactSeq") == 1
