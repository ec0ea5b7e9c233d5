"""The run history and the call-log filters against DynamoDB (moto with the template's
tables): the history item written in the run's own transactions and kept when the progress
item is gone; filtered pages of call logs that are exact and complete."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from campaign_calling import keys
from campaign_calling.calls import logs as logs_module
from campaign_calling.calls.log_filters import call_log_filter
from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.calls.placing import new_call_log
from campaign_calling.clock import iso_from_ms
from campaign_calling.errors import InvalidRequest
from campaign_calling.models import CallLog, Contact
from campaign_calling.runs.history import RunHistoryService
from campaign_calling.runs.history_store import RunHistoryRepository
from campaign_calling.runs.models import RunRef
from tests.support.clock import FixedClock
from tests.support.stores import CLIENT, NOW, PROGRESS_TTL_SECONDS, run_stores
from tests.support.stores import a_log as run_log


def history_item(aws: Any, ref: RunRef) -> dict[str, Any] | None:
    key = {"pk": keys.run_history_pk(ref.client_id, ref.campaign_id), "sk": keys.run_sk(ref.run_id)}
    return aws.table("ProgressTable").get_item(Key=key).get("Item")


def history(aws: Any, now_ms: int = NOW) -> RunHistoryService:
    stores = run_stores(aws.resolver)
    return RunHistoryService(
        history=RunHistoryRepository(boto3.client("dynamodb"), progress_table=aws.resolver.ref("ProgressTable")),
        runs=stores.runs,
        clock=FixedClock(now_ms),
        progress_ttl_seconds=PROGRESS_TTL_SECONDS,
    )


def test_a_run_has_its_history_from_its_start_and_keeps_it_when_its_progress_is_deleted(aws: Any) -> None:
    # Given a run started (its start's transaction writes its history)
    stores = run_stores(aws.resolver)
    ref = stores.start_run(contacts=3)
    item = history_item(aws, ref)
    assert item is not None
    assert (item["status"], item["agentId"], item["delayBetweenCalls"], item["completedCalls"]) == (
        "running",
        "ag_1",
        0,
        0,
    )
    assert "expiresAt" not in item

    # When two contacts are called and the run is stopped
    for seq in (1, 2):
        stores.claims.claim(ref, seq=seq, index=seq - 1, unique_id=f"aidial-{NOW + seq}-abcdef", now_ms=NOW)
        stores.claims.complete(ref, seq=seq, log=a_log(ref, seq), now_ms=NOW)
    assert stores.runs.end_run(ref, status="stopped", reason="stopped by request")

    # Then the history has the status (same transaction) and the counters (the snapshot)
    item = history_item(aws, ref)
    assert item is not None
    assert (item["status"], item["reason"], item["completedCalls"], item["successfulCalls"]) == (
        "stopped",
        "stopped by request",
        2,
        2,
    )
    assert "expiresAt" not in item
    # And once DynamoDB's TTL has deleted the progress item, the API still answers the run
    progress_key = {"pk": keys.campaign_pk(CLIENT, ref.campaign_id), "sk": keys.run_sk(ref.run_id)}
    aws.table("ProgressTable").delete_item(Key=progress_key)
    later = NOW + (PROGRESS_TTL_SECONDS + 1) * 1000
    [run] = history(aws, later).list_runs(CLIENT, ref.campaign_id, 10, None).items
    assert (run.runId, run.status, run.completedCalls, run.successfulCalls) == (ref.run_id, "stopped", 2, 2)
    assert history(aws, later).get_run(CLIENT, ref.campaign_id, ref.run_id) == run


def test_a_final_status_after_the_run_ended_reaches_its_history_and_an_older_copy_never_wins(aws: Any) -> None:
    # Given a run stopped while its call was pending
    stores = run_stores(aws.resolver)
    ref = stores.start_run(contacts=1)
    stores.claims.claim(ref, seq=1, index=0, unique_id=run_log(ref, 1).uniqueId, now_ms=NOW)
    stores.claims.complete(ref, seq=1, log=run_log(ref, 1), now_ms=NOW)
    assert stores.runs.end_run(ref, status="stopped")
    assert (history_item(aws, ref) or {})["outcomePending"] == 1

    # When its final status arrives (the webhook's writer)
    assert stores.end(ref, 1, "voicemail")

    # Then the history has it, as the progress item does
    item = history_item(aws, ref) or {}
    assert (item["outcomePending"], item["outcomeVoicemail"], item["settledCalls"]) == (0, 1, 1)
    # And a copy of an older state (fewer settled calls) does not overwrite it
    key = {"pk": keys.campaign_pk(CLIENT, ref.campaign_id), "sk": keys.run_sk(ref.run_id)}
    aws.table("ProgressTable").update_item(
        Key=key,
        UpdateExpression="SET outcomePending = :one, outcomeVoicemail = :zero",
        ExpressionAttributeValues={":one": 1, ":zero": 0},
    )
    stores.runs.snapshot_history(ref)
    assert (history_item(aws, ref) or {})["outcomeVoicemail"] == 1


def test_a_resumed_run_is_running_again_in_its_history(aws: Any) -> None:
    stores = run_stores(aws.resolver)
    ref = stores.start_run(contacts=1)
    assert stores.runs.end_run(ref, status="paused", reason="paused by request")
    assert (history_item(aws, ref) or {})["status"] == "paused"
    stores.runs.resume_run(
        ref, execution_arn="arn:x-0002", execution_count=2, last_seq=1, total_contacts=1, from_statuses=("paused",)
    )
    item = history_item(aws, ref) or {}
    assert (item["status"], "endTime" in item, "reason" in item) == ("running", False, False)


def test_an_ended_run_that_never_had_history_gets_one_at_its_end(aws: Any) -> None:
    # Given a run started before history existed (its history item is not there)
    stores = run_stores(aws.resolver)
    ref = stores.start_run(contacts=2)
    key = {"pk": keys.run_history_pk(CLIENT, ref.campaign_id), "sk": keys.run_sk(ref.run_id)}
    aws.table("ProgressTable").delete_item(Key=key)
    # When it completes
    assert stores.runs.end_run(ref, status="completed")
    # Then its end writes its history, complete
    run = history(aws).get_run(CLIENT, ref.campaign_id, ref.run_id)
    total = stores.campaigns.get(CLIENT, ref.campaign_id).totalContacts
    assert (run.status, run.totalContacts, run.agentId, run.delayBetweenCalls) == ("completed", total, "ag_1", 0)


# -- call-log filters -------------------------------------------------------------------


def a_log(ref: RunRef, seq: int) -> CallLog:
    return new_call_log(
        campaign_id=ref.campaign_id,
        contact=Contact(id=f"ct_{seq:010d}", name=f"C{seq}", phone="+442079460958", seq=seq),
        agent_id="ag_1",
        unique_id=f"aidial-{NOW + seq}-abcdef",
        started_ms=NOW + seq,
        ended_ms=NOW + seq + 250,
        run_id=ref.run_id,
        outcome="success",
        error=None,
    )


def call(campaign_id: str, started_ms: int, run_id: str, status: str) -> CallLog:
    log = new_call_log(
        campaign_id=campaign_id,
        contact=Contact(id="ct_0000000001", name="C1", phone="+442079460958", seq=1),
        agent_id="ag_1",
        unique_id=f"aidial-{started_ms}-abcdef",
        started_ms=started_ms,
        ended_ms=started_ms + 250,
        run_id=run_id,
        outcome="success",
        error=None,
    )
    return log.model_copy(update={"status": status})


@pytest.fixture
def thirty_calls(aws: Any) -> tuple[CallLogRepository, list[CallLog]]:
    """30 calls a second apart from NOW + 1 h: runs started at NOW and at NOW + 1 h + 15 s."""
    repo = CallLogRepository(boto3.client("dynamodb"), aws.resolver.ref("CallLogsTable"))
    start = NOW + 3_600_000
    later_run = f"run-{start + 15_000}-bbbbbb"
    logs = [
        call(
            "cmp_1",
            start + i * 1000,
            later_run if i >= 15 else f"run-{NOW}-aaaaaa",
            "busy" if i % 4 == 0 else "completed",
        )
        for i in range(30)
    ]
    for log in logs:
        repo.put(CLIENT, log)
    return repo, logs


def every_page(repo: CallLogRepository, limit: int, **filters: str) -> tuple[list[str], int]:
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = repo.list(CLIENT, "cmp_1", limit, token, call_log_filter(**filters))
        assert len(page) <= limit
        seen += [log.uniqueId for log in page]
        pages += 1
        if token is None:
            return seen, pages


@pytest.mark.parametrize("few_reads", [False, True], ids=["filled", "one-item-queries"])
def test_filtered_pages_are_exact_and_complete(
    thirty_calls: tuple[CallLogRepository, list[CallLog]], few_reads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, logs = thirty_calls
    if few_reads:  # every query reads one item, and a page gives up after two: short pages
        monkeypatch.setattr(logs_module, "MAX_FILTERED_READ", 1)
        monkeypatch.setattr(logs_module, "MAX_FILTERED_QUERIES", 2)
    newest_first = list(reversed(logs))
    later_run = logs[-1].runId or ""
    cases: list[tuple[dict[str, str], list[CallLog]]] = [
        ({"status": "busy"}, [log for log in newest_first if log.status == "busy"]),
        ({"run_id": later_run}, [log for log in newest_first if log.runId == later_run]),
        (
            {"run_id": later_run, "status": "busy"},
            [log for log in newest_first if log.runId == later_run and log.status == "busy"],
        ),
        (
            {"from_": logs[5].startedAt, "to": logs[9].startedAt, "status": "completed"},
            [logs[i] for i in (7, 6, 5)],
        ),
    ]
    for filters, expected in cases:
        seen, _ = every_page(repo, 3, **filters)
        assert seen == [log.uniqueId for log in expected], filters


def test_a_time_range_is_a_key_condition_and_a_token_outside_it_is_refused(
    thirty_calls: tuple[CallLogRepository, list[CallLog]],
) -> None:
    repo, logs = thirty_calls
    # A time range alone fills every page (no filter expression)
    seen, pages = every_page(repo, 4, from_=logs[2].startedAt, to=iso_from_ms(NOW + 3_600_000 + 12_000))
    assert (seen, pages) == ([log.uniqueId for log in reversed(logs[2:12])], 3)
    # A token of the whole list, past the range, is not one of this list
    _, token = repo.list(CLIENT, "cmp_1", 25, None)
    with pytest.raises(InvalidRequest, match="these filters"):
        repo.list(CLIENT, "cmp_1", 5, token, call_log_filter(from_=logs[10].startedAt))
