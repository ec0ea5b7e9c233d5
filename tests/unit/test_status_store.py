"""Status webhooks' data on DynamoDB (moto): the provider call index written with each call
log, the run's outcomes counted with it, and the conditional update that moves a log only
forward and its run's outcome once (calls/status_store.py, runs/claims.py, calls/logs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from campaign_calling import keys
from campaign_calling.aws.dynamodb import Transactions
from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.calls.placing import new_call_log
from campaign_calling.calls.status_store import CallStatusWriter, ProviderCallIndex
from campaign_calling.calls.status_updates import IndexedCall, StatusChange
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.models import CallLog, Contact, ContactInput
from campaign_calling.runs.claims import DialClaims
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import RunRepository
from tests.support.clock import FixedClock
from tests.support.phones import numbered_phone
from tests.support.stores import dial_claims, new_progress, run_repository

NOW = 1_705_314_600_000
CLIENT = "client-a"
RUN = RunRef(CLIENT, "cmp_1", "run-1")


@dataclass
class World:
    db: Any
    campaigns: CampaignRepository
    runs: RunRepository
    claims: DialClaims
    logs: CallLogRepository
    index: ProviderCallIndex
    writer: CallStatusWriter
    logs_table: str
    progress_table: str

    def start_run(self, contacts: int = 3) -> None:
        self.campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
        self.campaigns.add_contacts(
            CLIENT,
            "cmp_1",
            [ContactInput(name=f"C{i}", phone=numbered_phone("C", i + 1)) for i in range(contacts)],
            NOW,
        )
        campaign = self.campaigns.get(CLIENT, "cmp_1", consistent=True)
        self.runs.start_run(
            RUN,
            new_progress("cmp_1", "run-1", campaign.totalContacts, delay_ms=0),
            last_seq=campaign.nextContactSeq,
            agent_id="ag_1",
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:run-1-0001",
        )

    def dial(self, seq: int, log: CallLog) -> bool:
        self.claims.claim(RUN, seq=seq, index=seq - 1, unique_id=log.uniqueId, now_ms=NOW)
        return self.claims.complete(RUN, seq=seq, log=log, now_ms=NOW)

    def outcomes(self) -> dict[str, int]:
        return self.runs.get_run(RUN).progress.outcomes.model_dump(by_alias=True)

    def raw_log(self, client_id: str, campaign_id: str, unique_id: str) -> dict[str, Any]:
        key = {"pk": {"S": keys.campaign_pk(client_id, campaign_id)}, "sk": {"S": keys.call_sk(unique_id)}}
        return self.db.get_item(TableName=self.logs_table, Key=key)["Item"]

    def status_of(self, unique_id: str) -> str | None:
        (log,) = [log for log in self.logs.list(CLIENT, "cmp_1", 100, None)[0] if log.uniqueId == unique_id]
        return log.status


@pytest.fixture
def world(aws) -> Iterator[World]:
    db = boto3.client("dynamodb")
    transactions = Transactions(db, sleep=lambda _s: None)
    main, progress, logs = (aws.resolver.ref(t) for t in ("MainTable", "ProgressTable", "CallLogsTable"))
    yield World(
        db=db,
        campaigns=CampaignRepository(db, main, progress_table=progress, transactions=transactions),
        runs=run_repository(aws.resolver, dynamodb=db, clock=FixedClock(NOW), transactions=transactions),
        claims=dial_claims(aws.resolver, dynamodb=db, transactions=transactions),
        logs=CallLogRepository(db, logs, transactions),
        index=ProviderCallIndex(db, logs),
        writer=CallStatusWriter(db, call_logs_table=logs, progress_table=progress, transactions=transactions),
        logs_table=logs,
        progress_table=progress,
    )


def a_log(
    n: int, *, provider_call_id: str | None = None, outcome: str = "success", run_id: str | None = "run-1"
) -> CallLog:
    log = new_call_log(
        campaign_id="cmp_1",
        contact=Contact(id=f"ct_{n:010d}", name=f"C{n}", phone="+442079460958", seq=n),
        agent_id="ag_1",
        unique_id=f"aidial-{NOW + n}-abcdef",
        started_ms=NOW,
        ended_ms=NOW + 250,
        run_id=run_id,
        outcome=outcome,  # type: ignore[arg-type]
        error=None if outcome != "failed" else "provider answered 400: invalid number",
    )
    return log.model_copy(update={"providerCallId": provider_call_id})


def final(status: str, **details: Any) -> StatusChange:
    return StatusChange(status=status, rank=3, final=True, ended_at="2024-01-15T10:31:00.000Z", **details)


RINGING = StatusChange(status="ringing", rank=1, final=False)


def test_a_runs_call_is_logged_indexed_and_counted_pending_in_one_go(world: World) -> None:
    # Given a running run
    world.start_run()

    # When one call is taken by the provider and one refused
    assert world.dial(1, a_log(1, provider_call_id="call_1"))
    assert world.dial(2, a_log(2, outcome="failed"))

    # Then the taken one is indexed (whose call it is) and pending, the refused one failed
    assert world.index.find("generic", "call_1") == IndexedCall(
        provider="generic",
        client_id=CLIENT,
        campaign_id="cmp_1",
        unique_id=a_log(1).uniqueId,
        run_id="run-1",
        account="default",
    )
    assert world.index.find("vapi", "call_1") is None
    assert (world.outcomes()["pending"], world.outcomes()["failed"]) == (1, 1)
    assert world.raw_log(CLIENT, "cmp_1", a_log(1).uniqueId)["statusRank"] == {"N": "0"}
    assert world.raw_log(CLIENT, "cmp_1", a_log(2).uniqueId)["statusRank"] == {"N": "3"}
    # and a duplicate completion counts nothing twice
    assert not world.claims.complete(RUN, seq=1, log=a_log(1, provider_call_id="call_1"), now_ms=NOW)
    assert world.outcomes()["pending"] == 1


def test_a_final_status_moves_the_log_forward_and_the_outcome_once(world: World) -> None:
    world.start_run()
    world.dial(1, a_log(1, provider_call_id="call_1"))
    call = world.index.find("generic", "call_1")
    assert call is not None

    results = [
        world.writer.apply(call, RINGING, now_ms=NOW),
        world.writer.apply(call, final("completed", answered_by="human", duration_seconds=30), now_ms=NOW),
        world.writer.apply(call, final("completed"), now_ms=NOW),  # a replay
        world.writer.apply(call, final("busy"), now_ms=NOW),  # another final status
        world.writer.apply(call, RINGING, now_ms=NOW),  # late
    ]

    assert results == [True, True, False, False, False]
    (log,) = [log for log in world.logs.list(CLIENT, "cmp_1", 10, None)[0]]
    assert (log.status, log.answeredBy, log.durationSeconds, log.endedAt) == (
        "completed",
        "human",
        30,
        "2024-01-15T10:31:00.000Z",
    )
    assert (world.outcomes()["pending"], world.outcomes()["completed"], world.outcomes()["busy"]) == (0, 1, 0)


def test_an_expired_or_deleted_progress_is_not_counted_into_nor_recreated(world: World) -> None:
    # Given two calls of a run that ended, whose progress expired
    world.start_run()
    world.dial(1, a_log(1, provider_call_id="call_1"))
    world.dial(2, a_log(2, provider_call_id="call_2"))
    world.runs.end_run(RUN, status="completed")
    expires_at = world.runs.get_run(RUN).expires_at
    assert expires_at is not None
    before = world.outcomes()

    # When the first call's final status arrives after the expiry
    first = world.index.find("generic", "call_1")
    assert first is not None
    assert world.writer.apply(first, final("no-answer"), now_ms=(expires_at + 1) * 1000)

    # Then the log moved and the expired progress did not
    assert world.status_of(a_log(1).uniqueId) == "no-answer"
    assert world.outcomes() == before

    # and once DynamoDB deleted it, a final status does not bring it back
    world.db.delete_item(
        TableName=world.progress_table,
        Key={"pk": {"S": keys.campaign_pk(CLIENT, "cmp_1")}, "sk": {"S": keys.run_sk("run-1")}},
    )
    second = world.index.find("generic", "call_2")
    assert second is not None
    assert world.writer.apply(second, final("busy"), now_ms=NOW)
    assert world.status_of(a_log(2).uniqueId) == "busy"
    assert "Item" not in world.db.get_item(
        TableName=world.progress_table,
        Key={"pk": {"S": keys.campaign_pk(CLIENT, "cmp_1")}, "sk": {"S": keys.run_sk("run-1")}},
    )


def test_a_provider_call_id_already_indexed_leaves_the_log_written_without_an_index_entry(world: World) -> None:
    # Given a manual call indexed under call_x
    world.start_run()
    world.logs.put(CLIENT, a_log(7, provider_call_id="call_x", run_id=None))

    # When a run's call and another manual call come back with the same provider id
    assert world.dial(1, a_log(1, provider_call_id="call_x"))
    world.logs.put(CLIENT, a_log(8, provider_call_id="call_x", run_id=None))

    # Then both are logged (and the run's call counted), the index still names the first
    logged = {log.uniqueId for log in world.logs.list(CLIENT, "cmp_1", 10, None)[0]}
    assert logged == {a_log(n).uniqueId for n in (1, 7, 8)}
    assert world.outcomes()["pending"] == 1 and world.runs.get_run(RUN).progress.completedCalls == 1
    found = world.index.find("generic", "call_x")
    assert found is not None and found.unique_id == a_log(7).uniqueId


def test_a_log_and_a_progress_from_before_lifecycles_still_read_and_take_a_status(world: World) -> None:
    # Given a run's progress and a call log written before outcomes and statuses existed
    world.start_run()
    old = a_log(1)
    legacy = {
        "pk": {"S": keys.campaign_pk(CLIENT, "cmp_1")},
        "sk": {"S": keys.call_sk(old.uniqueId)},
        "uniqueId": {"S": old.uniqueId},
        "campaignId": {"S": "cmp_1"},
        "contactId": {"S": old.contactId},
        "contactName": {"S": old.contactName},
        "phone": {"S": old.phone},
        "agentId": {"S": "ag_1"},
        "runId": {"S": "run-1"},
        "source": {"S": "campaign"},
        "outcome": {"S": "success"},
        "startedAt": {"S": old.startedAt},
        "endedAt": {"S": old.endedAt},
        "durationMs": {"N": "250"},
    }
    world.db.put_item(TableName=world.logs_table, Item=legacy)

    # Then both read, with no status and zero outcomes
    (log,) = world.logs.list(CLIENT, "cmp_1", 10, None)[0]
    assert (log.status, log.provider, log.account) == (None, "generic", "default")
    assert set(world.outcomes().values()) == {0}
    # and the old log takes a status (a log without a rank takes any)
    call = IndexedCall("generic", CLIENT, "cmp_1", old.uniqueId, None, "default")
    assert world.writer.apply(call, RINGING, now_ms=NOW)
    assert world.status_of(old.uniqueId) == "ringing"


def test_no_status_is_written_on_a_log_that_does_not_exist(world: World) -> None:
    world.start_run()
    ghost = IndexedCall("generic", CLIENT, "cmp_1", "aidial-1-nothere", "run-1", "default")

    assert not world.writer.apply(ghost, final("completed"), now_ms=NOW)
    assert not world.writer.apply(ghost, RINGING, now_ms=NOW)
    assert world.logs.list(CLIENT, "cmp_1", 10, None)[0] == []
    assert world.outcomes()["completed"] == 0


def test_a_provider_call_id_too_long_to_index_still_leaves_its_call_logged(world: World) -> None:
    world.start_run()
    too_long = "c" * (keys.MAX_INDEXED_PROVIDER_CALL_ID + 1)

    assert world.dial(1, a_log(1, provider_call_id=too_long))
    world.logs.put(CLIENT, a_log(7, provider_call_id=too_long, run_id=None))

    assert len(world.logs.list(CLIENT, "cmp_1", 10, None)[0]) == 2
    assert world.index.find("generic", too_long) is None
