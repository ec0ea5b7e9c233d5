"""Retries end to end on the local engine: nobody answers, and every contact is dialed
exactly maxAttempts times, each attempt with its own idempotency key and call log, never
sooner than the retry delay after the previous attempt ended (read from the simulated
provider's own record); the run waits in Step Functions and completes once every contact is
final."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.e2e import Engine, all_call_logs, calling_status, new_campaign, running_engine, wait_until

pytestmark = pytest.mark.e2e

RETRY_DELAY_S = 1
ENGINE = {
    "SIM_OUTCOMES": "no-answer=1",
    "SIM_RING_MS": "100",
    "SIM_TALK_MS": "50",
    "LOCAL_PARAMETER_OVERRIDES": "MinRetryDelaySeconds=1",
}


@pytest.fixture(scope="module")
def retries_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("retries"), ENGINE) as started:
        yield started


def provider_calls(engine: Engine, campaign_id: str) -> list[dict[str, Any]]:
    calls = httpx.get(f"{engine.dialer_url}/calls", timeout=10).json()
    return [c for c in calls if (c.get("metadata") or {}).get("campaignId") == campaign_id and c.get("callId")]


def test_nobody_answering_is_dialed_exactly_max_attempts_times_the_delay_apart(retries_engine: Engine) -> None:
    with retries_engine.client("retries") as api:
        # Given a campaign of 3 contacts nobody answers
        setup = new_campaign(api, 3, first_phone=7500)

        # When it is called with 3 attempts on no-answer, 2 s apart
        retry = {"maxAttempts": 3, "retryDelaySeconds": RETRY_DELAY_S, "retryOn": ["no-answer"]}
        started = api.start_calling(setup.campaign_id, setup.agent_id, 0, retry=retry)
        assert started.status_code == 200, started.text
        wait_until(lambda: not calling_status(api, setup.campaign_id)["isRunning"], timeout=90, what="the run to end")

        # Then the run completed with every contact done and every attempt counted
        progress = calling_status(api, setup.campaign_id)["progress"]
        assert progress["status"] == "completed", progress
        assert (progress["completedCalls"], progress["contactsDone"], progress["retriesPending"]) == (9, 3, 0)
        assert progress["outcomes"]["no-answer"] == 9
        assert progress["successfulCalls"] + progress["failedCalls"] == 9
        assert progress["retry"] == retry

        # And the provider saw each contact exactly 3 times, with distinct idempotency keys
        calls = provider_calls(retries_engine, setup.campaign_id)
        by_phone: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for call in sorted(calls, key=lambda c: c["receivedAt"]):
            by_phone[call["phone"]].append(call)
        assert sorted(by_phone) == sorted(setup.phones)
        assert all(len(attempts) == 3 for attempts in by_phone.values())
        keys = [c["headers"]["idempotency-key"] for c in calls]
        assert len(set(keys)) == 9
        run_id = progress["runId"]
        assert {k.rsplit(":", 1)[1] for k in keys} == {"1", "2", "3"} and all(k.startswith(run_id) for k in keys)
        # never sooner than the delay after the previous attempt ended
        for attempts in by_phone.values():
            for previous, following in zip(attempts, attempts[1:], strict=False):
                assert following["receivedAt"] >= previous["endedAt"] + RETRY_DELAY_S - 0.05

        # And one call log per attempt, numbered
        logs = all_call_logs(api, setup.campaign_id)
        assert len(logs) == 9
        assert sorted(log["attempt"] for log in logs) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
        assert {log["status"] for log in logs} == {"no-answer"}


def test_a_retry_delay_below_the_minimum_is_refused(retries_engine: Engine) -> None:
    with retries_engine.client("retries-min") as api:
        setup = new_campaign(api, 1, first_phone=7600)
        refused = api.start_calling(
            setup.campaign_id, setup.agent_id, 0, retry={"maxAttempts": 2, "retryDelaySeconds": 0}
        )
        assert refused.status_code == 400
        assert refused.json()["success"] is False and "retryDelaySeconds" in refused.json()["message"]
        assert calling_status(api, setup.campaign_id)["progress"] is None
