"""What a cancelled DynamoDB transaction means, and what the repositories do about it.

A cancellation caused by a failed condition is an answer about the data (already running,
already claimed, not running any more). One caused only by a conflict with another
transaction or by throttling is DynamoDB saying "not now": it is retried with jittered
backoff, a bounded number of times, and never read as a failed condition. The repository
tests cancel transactions with the local engine's switch, so the errors come through
boto3 exactly as AWS would send them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from campaign_calling.aws.dynamodb import (
    CancellationKind,
    TransactionConditionFailed,
    Transactions,
    cancellation_codes,
    classify_cancellation,
)
from campaign_calling.catalog.campaigns import CampaignRepository
from campaign_calling.errors import Conflict, DependencyUnavailable
from campaign_calling.models import CallLog, ContactInput, Progress
from campaign_calling.runs.claims import ClaimResult, DialClaims
from campaign_calling.runs.models import RunRef
from campaign_calling.runs.repository import RunRepository
from campaign_local import moto_patches
from tests.support.clock import FixedClock
from tests.support.phones import numbered_phone
from tests.support.stores import dial_claims, new_progress, run_repository

NOW = 1_705_314_600_000
CLIENT = "client-a"
AWS_MESSAGE = "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]"


def cancelled(*codes: str, with_reasons: bool = True) -> ClientError:
    """A TransactionCanceledException as botocore hands it over."""
    response: dict[str, Any] = {
        "Error": {"Code": "TransactionCanceledException", "Message": AWS_MESSAGE.format(", ".join(codes))}
    }
    if with_reasons:
        response["CancellationReasons"] = [{"Code": c} for c in codes]
    return ClientError(response, "TransactWriteItems")


class ScriptedDynamo:
    """Answers each transact_write_items with the next error of a script, then succeeds."""

    def __init__(self, *errors: ClientError) -> None:
        self._errors = list(errors)
        self.calls = 0

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self._errors:
            raise self._errors.pop(0)
        return {}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


ITEMS = [{"Put": {"TableName": "T", "Item": {"pk": {"S": "a"}}}}]


# -- reading a cancellation ------------------------------------------------------------------------


def test_the_reason_codes_come_from_cancellation_reasons_or_else_from_the_message():
    assert cancellation_codes(cancelled("None", "TransactionConflict")) == ["None", "TransactionConflict"]
    assert cancellation_codes(cancelled("None", "ThrottlingError", with_reasons=False)) == ["None", "ThrottlingError"]
    assert cancellation_codes(cancelled("NONE", "ConditionalCheckFailed", with_reasons=False)) == [
        "None",
        "ConditionalCheckFailed",
    ]
    assert cancellation_codes(ClientError({"Error": {"Code": "TransactionCanceledException"}}, "Op")) == []


@pytest.mark.parametrize(
    ("codes", "kind"),
    [
        (["None", "ConditionalCheckFailed"], CancellationKind.CONDITION_FAILED),
        # The condition was evaluated and failed: that is the answer, whatever else happened.
        (["ConditionalCheckFailed", "TransactionConflict"], CancellationKind.CONDITION_FAILED),
        (["None", "TransactionConflict"], CancellationKind.TRANSIENT),
        (["ThrottlingError", "None", "ProvisionedThroughputExceeded"], CancellationKind.TRANSIENT),
        (["TransactionConflict", "ValidationError"], CancellationKind.OTHER),
        (["ItemCollectionSizeLimitExceeded"], CancellationKind.OTHER),
        (["None", "None"], CancellationKind.OTHER),
        ([], CancellationKind.OTHER),
    ],
)
def test_a_cancellation_is_a_failed_condition_a_transient_refusal_or_neither(codes, kind):
    assert classify_cancellation(codes) == kind


# -- retrying --------------------------------------------------------------------------------------


def test_conflicts_and_throttling_are_retried_with_full_jitter_exponential_backoff():
    db = ScriptedDynamo(
        cancelled("None", "TransactionConflict"),
        cancelled("ThrottlingError", "None"),
        cancelled("ProvisionedThroughputExceeded", "TransactionConflict"),
    )
    sleeps = Sleeps()
    draws = iter([1.0, 0.5, 0.25])

    Transactions(db, base_delay_seconds=0.05, max_delay_seconds=1.0, sleep=sleeps, jitter=lambda: next(draws)).write(
        ITEMS
    )

    assert db.calls == 4
    # Uniform in [0, min(cap, base * 2^k)]: the draws scale 0.05, 0.1, 0.2.
    assert sleeps == pytest.approx([0.05, 0.05, 0.05])


def test_the_backoff_is_capped_and_the_whole_retry_stays_short():
    sleeps = Sleeps()
    db = ScriptedDynamo(*[cancelled("TransactionConflict")] * 10)

    with pytest.raises(DependencyUnavailable, match=r"stayed busy \(TransactionConflict\) after 6 attempts"):
        Transactions(db, sleep=sleeps, jitter=lambda: 1.0).write(ITEMS)

    assert db.calls == 6
    assert sleeps == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8])
    assert sum(sleeps) < 2


def test_a_failed_condition_is_reported_at_once_with_the_item_it_failed_on():
    sleeps = Sleeps()
    db = ScriptedDynamo(cancelled("None", "ConditionalCheckFailed"))

    with pytest.raises(TransactionConditionFailed) as raised:
        Transactions(db, sleep=sleeps).write(ITEMS)

    assert db.calls == 1 and sleeps == []
    assert (raised.value.failed(0), raised.value.failed(1), raised.value.failed(7)) == (False, True, False)


def test_other_cancellations_and_errors_are_not_retried():
    for error in (
        cancelled("ValidationError"),
        ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "TransactWriteItems"),
    ):
        db = ScriptedDynamo(error)
        with pytest.raises(ClientError):
            Transactions(db, sleep=Sleeps()).write(ITEMS)
        assert db.calls == 1


def test_throttling_botocore_gave_up_on_is_a_dependency_unavailable():
    db = ScriptedDynamo(
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "Op")
    )
    with pytest.raises(DependencyUnavailable, match="ProvisionedThroughputExceededException"):
        Transactions(db, sleep=Sleeps()).write(ITEMS)


# -- the repositories, with transactions cancelled as AWS cancels them -------------------------


@dataclass
class World:
    db: Any
    campaigns: CampaignRepository
    runs: RunRepository
    claims: DialClaims
    sleeps: Sleeps
    main: str
    progress: str
    logs: str

    def conflict(self, table: str, count: int | None, mode: str = "transaction-conflict") -> None:
        moto_patches.TRANSACTION_FAULTS.set(table, mode, count)

    def run(self, campaign_id: str = "cmp_1", run_id: str = "run-1") -> Progress:
        return self.runs.get_run(RunRef(CLIENT, campaign_id, run_id)).progress

    def call_logs(self) -> list[dict[str, Any]]:
        return self.db.scan(TableName=self.logs)["Items"]


@pytest.fixture
def world(aws) -> Iterator[World]:
    db = boto3.client("dynamodb")
    sleeps = Sleeps()
    transactions = Transactions(db, sleep=sleeps)
    main, progress, logs = (aws.resolver.ref(t) for t in ("MainTable", "ProgressTable", "CallLogsTable"))
    yield World(
        db=db,
        campaigns=CampaignRepository(db, main, progress_table=progress, transactions=transactions),
        runs=run_repository(aws.resolver, dynamodb=db, clock=FixedClock(NOW), transactions=transactions),
        claims=dial_claims(aws.resolver, dynamodb=db, transactions=transactions),
        sleeps=sleeps,
        main=main,
        progress=progress,
        logs=logs,
    )
    moto_patches.TRANSACTION_FAULTS.clear()


def started_run(w: World, contacts: int = 2) -> None:
    w.campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    w.campaigns.add_contacts(
        CLIENT, "cmp_1", [ContactInput(name=f"C{i}", phone=numbered_phone("C", i + 1)) for i in range(contacts)], NOW
    )
    campaign = w.campaigns.get(CLIENT, "cmp_1", consistent=True)
    w.runs.start_run(
        RunRef(CLIENT, "cmp_1", "run-1"),
        new_progress("cmp_1", "run-1", campaign.totalContacts, delay_ms=0),
        last_seq=campaign.nextContactSeq,
        agent_id="ag_1",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:run-1-0001",
    )


def call_log(unique_id: str, outcome: str = "success") -> CallLog:
    return CallLog(
        uniqueId=unique_id,
        campaignId="cmp_1",
        contactId="ct_0000000001",
        contactName="C0",
        phone="+442079460958",
        agentId="ag_1",
        runId="run-1",
        source="campaign",
        outcome=outcome,
        startedAt="2024-01-15T10:30:00.000Z",
        endedAt="2024-01-15T10:30:00.250Z",
        durationMs=250,
    )


def stop(w: World) -> bool:
    return w.runs.end_run(RunRef(CLIENT, "cmp_1", "run-1"), status="stopped")


def test_the_engine_cancels_a_transaction_exactly_as_aws_does(world):
    started_run(world)
    world.conflict(world.progress, 1)

    with pytest.raises(ClientError) as raised:
        world.db.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": world.main,
                        "Key": {"pk": {"S": "x"}, "sk": {"S": "y"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": world.progress, "Item": {"pk": {"S": "p"}, "sk": {"S": "s"}}}},
            ]
        )

    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert error["Error"]["Message"] == AWS_MESSAGE.format("None, TransactionConflict")
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert world.db.get_item(TableName=world.progress, Key={"pk": {"S": "p"}, "sk": {"S": "s"}}).get("Item") is None
    # One transaction only: the next goes through.
    world.db.transact_write_items(
        TransactItems=[{"Put": {"TableName": world.progress, "Item": {"pk": {"S": "p"}, "sk": {"S": "s"}}}}]
    )
    assert moto_patches.TRANSACTION_FAULTS.active() == []


def test_a_stop_that_collides_with_a_dial_still_stops_the_run(world):
    started_run(world)
    world.conflict(world.progress, 3)

    assert stop(world) is True  # not "not running": the run was running all along

    assert len(world.sleeps) == 3
    assert (world.run().status, world.run().isRunning) == ("stopped", False)
    assert world.campaigns.get(CLIENT, "cmp_1", consistent=True).isRunning is False


def test_a_stop_against_a_database_that_stays_busy_is_unavailable_not_a_conflict(world):
    started_run(world)
    world.conflict(world.main, None, mode="throttle")

    with pytest.raises(DependencyUnavailable, match="ThrottlingError"):
        stop(world)

    assert world.run().status == "running"  # nothing was written
    moto_patches.TRANSACTION_FAULTS.clear()
    assert stop(world) is True
    # A true "not running" is still a plain answer, given at once.
    world.sleeps.clear()
    assert stop(world) is False
    assert world.sleeps == []


def test_a_start_that_collides_still_starts_once(world):
    world.conflict(world.main, 2)
    started_run(world)
    assert world.run().status == "running"

    world.conflict(world.progress, 1)
    campaign = world.campaigns.get(CLIENT, "cmp_1", consistent=True)
    with pytest.raises(Conflict):
        world.runs.start_run(
            RunRef(CLIENT, "cmp_1", "run-2"),
            world.run().model_copy(update={"runId": "run-2"}),
            last_seq=campaign.nextContactSeq,
            agent_id="ag_1",
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:run-2-0001",
        )


def test_a_claim_retried_after_a_conflict_is_claimed_once(world):
    started_run(world)
    world.conflict(world.progress, 2)

    claim = world.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-1-a", now_ms=NOW)

    assert claim == ClaimResult.CLAIMED
    assert world.claims.get(RunRef(CLIENT, "cmp_1", "run-1"), 1).unique_id == "aidial-1-a"
    # Another attempt of the same dial finds it claimed; after a stop, still claimed.
    again = world.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-2-b", now_ms=NOW)
    assert again == ClaimResult.ALREADY_CLAIMED
    assert stop(world)
    late = world.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-3-c", now_ms=NOW)
    assert late == ClaimResult.ALREADY_CLAIMED
    fresh = world.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=2, index=1, unique_id="aidial-4-d", now_ms=NOW)
    assert fresh == ClaimResult.RUN_NOT_RUNNING


@pytest.mark.parametrize("mode", ["transaction-conflict", "throttle"])
def test_a_dial_that_collides_with_a_stop_is_still_logged_and_counted_once(world, mode):
    started_run(world)
    assert world.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-1-a", now_ms=NOW)
    assert stop(world)
    world.conflict(world.progress, 4, mode=mode)

    assert world.claims.complete(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, log=call_log("aidial-1-a"), now_ms=NOW)
    # Delivered again (a retried step): nothing more is logged or counted.
    assert not world.claims.complete(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, log=call_log("aidial-1-a"), now_ms=NOW)

    run = world.run()
    assert (run.status, run.completedCalls, run.successfulCalls, run.failedCalls) == ("stopped", 1, 1, 0)
    assert len(world.call_logs()) == 1
    assert world.claims.get(RunRef(CLIENT, "cmp_1", "run-1"), 1).status == "done"


def test_a_dial_whose_log_cannot_be_written_leaves_its_claim_open_for_the_retry(world):
    started_run(world)
    assert world.claims.claim(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, index=0, unique_id="aidial-1-a", now_ms=NOW)
    world.conflict(world.logs, 6)

    with pytest.raises(DependencyUnavailable):
        world.claims.complete(RunRef(CLIENT, "cmp_1", "run-1"), seq=1, log=call_log("aidial-1-a"), now_ms=NOW)

    assert world.claims.get(RunRef(CLIENT, "cmp_1", "run-1"), 1).status == "dialing"
    assert (world.run().completedCalls, world.call_logs()) == (0, [])


def test_contacts_added_under_throttling_are_counted_exactly(world):
    world.campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    world.conflict(world.main, 2, mode="throttle")
    world.conflict(world.progress, 1)

    added, total = world.campaigns.add_contacts(
        CLIENT, "cmp_1", [ContactInput(name=f"C{i}", phone=numbered_phone("C", i + 1)) for i in range(150)], NOW
    )

    assert (len(added), total) == (150, 150)
    assert world.campaigns.get(CLIENT, "cmp_1", consistent=True).totalContacts == 150
    contacts, _ = world.campaigns.list_contacts(CLIENT, "cmp_1", 1000, None)
    assert [c.seq for c in contacts] == list(range(1, 151))
