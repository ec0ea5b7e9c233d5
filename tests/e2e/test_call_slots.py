"""Calls in progress end to end on the local engine, with the simulated provider's ring and
talk times: a run's maxConcurrentCalls and a client's cap across its campaigns, read from
the provider's own record of when each call arrived and ended; the waits happen in the
state machine's Wait state, and an execution that waited its budget hands the run over to
a fresh one at the waiting contact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from campaign_cli.client import CampaignApi, data
from tests.support.e2e import (
    CampaignSetup,
    Engine,
    all_call_logs,
    calling_status,
    executions_of,
    new_campaign,
    running_engine,
    wait_until,
)

pytestmark = pytest.mark.e2e

# Each call rings and talks for about 0.8 s, so a cap of 2 is met at once with no delay.
SIMULATOR = {"SIM_RING_MS": "300", "SIM_TALK_MS": "500", "SLOT_WAITS_PER_EXECUTION": "1"}


@pytest.fixture(scope="module")
def slots_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with running_engine(tmp_path_factory.mktemp("call-slots"), SIMULATOR) as started:
        yield started


def provider_calls(engine: Engine, campaign_ids: set[str]) -> list[dict[str, Any]]:
    """The provider's record of the calls these campaigns placed."""
    calls = httpx.get(f"{engine.dialer_url}/calls", timeout=10).json()
    return [c for c in calls if (c.get("metadata") or {}).get("campaignId") in campaign_ids and c.get("callId")]


def most_in_progress(calls: list[dict[str, Any]]) -> int:
    """The most calls the provider had between their arrival and their end at any moment."""
    events = sorted(
        [(c["receivedAt"], 1) for c in calls] + [(c["endedAt"], -1) for c in calls], key=lambda e: (e[0], e[1])
    )
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def run_to_the_end(api: CampaignApi, campaign_id: str) -> dict[str, Any]:
    wait_until(lambda: not calling_status(api, campaign_id)["isRunning"], timeout=90, what="the run to end")
    progress = calling_status(api, campaign_id)["progress"]
    assert progress["status"] == "completed", progress
    return progress


def every_call_ended(engine: Engine, campaign_ids: set[str], count: int) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def ended() -> bool:
        calls[:] = provider_calls(engine, campaign_ids)
        return len(calls) == count and all(c.get("endedAt") for c in calls)

    wait_until(ended, timeout=30, what="the provider to end every call")
    return calls


def test_a_run_capped_at_two_never_has_more_than_two_calls_in_progress(slots_engine: Engine) -> None:
    with slots_engine.client("slots-run") as api:
        # Given a campaign of 8 contacts
        setup = new_campaign(api, 8, first_phone=7100)

        # When it is called with no delay and at most 2 calls in progress
        started = api.start_calling(setup.campaign_id, setup.agent_id, 0, max_concurrent_calls=2)
        assert started.status_code == 200, started.text
        progress = run_to_the_end(api, setup.campaign_id)

        # Then the provider never had more than 2 of its calls at once, and had 2 at times
        calls = every_call_ended(slots_engine, {setup.campaign_id}, 8)
        assert most_in_progress(calls) == 2
        # And every contact was dialed exactly once, in the order added
        assert [c["phone"] for c in sorted(calls, key=lambda c: c["receivedAt"])] == setup.phones
        assert (progress["completedCalls"], progress["maxConcurrentCalls"]) == (8, 2)
        # And the waits outgrew one execution's budget (1 here): fresh executions went on
        assert len(executions_of(slots_engine, progress["runId"])) > 1


def test_two_campaigns_under_a_client_cap_of_two_never_exceed_it_together(slots_engine: Engine) -> None:
    with slots_engine.client("slots-client") as api:
        # Given a client capped at 2 calls in progress, and two campaigns of 4
        capped = api.put_client_settings(max_concurrent_calls=2)
        assert capped.status_code == 200, capped.text
        one: CampaignSetup = new_campaign(api, 4, first_phone=7200)
        two: CampaignSetup = new_campaign(api, 4, first_phone=7300)

        # When both are called at once, with no caps of their own
        for setup in (one, two):
            started = api.start_calling(setup.campaign_id, setup.agent_id, 0)
            assert started.status_code == 200, started.text
        for setup in (one, two):
            run_to_the_end(api, setup.campaign_id)

        # Then together they never had more than 2 calls in progress
        calls = every_call_ended(slots_engine, {one.campaign_id, two.campaign_id}, 8)
        assert most_in_progress(calls) == 2
        assert sorted(c["phone"] for c in calls) == sorted(one.phones + two.phones)
        assert data(api.client_settings())["maxConcurrentCalls"] == 2


def test_make_call_counts_in_the_clients_cap_and_is_429_past_it(slots_engine: Engine) -> None:
    with slots_engine.client("slots-make-call") as api:
        # Given a client capped at 1 call in progress, and a campaign of 2
        assert api.put_client_settings(max_concurrent_calls=1).status_code == 200
        setup = new_campaign(api, 2, first_phone=7400)
        contacts = [c["_id"] for c in data(api.get(f"/api/v1/client/campaigns/{setup.campaign_id}/contacts"))["items"]]

        def make_call(contact_id: str) -> httpx.Response:
            body = {"contactId": contact_id, "agentId": setup.agent_id}
            return api.post(f"/api/v1/client/campaigns/{setup.campaign_id}/make-call", json=body)

        # When it makes a call, and another while the first is in progress
        first = make_call(contacts[0])
        second = make_call(contacts[1])

        # Then the second is refused (429, with when to try again) and not placed
        assert first.status_code == 200, first.text
        assert second.status_code == 429, second.text
        assert second.json()["success"] is False and "calls in progress" in second.json()["message"]
        assert int(second.json()["data"]["retryAfterSeconds"]) >= 1
        every_call_ended(slots_engine, {setup.campaign_id}, 1)
        # And once the first call has ended (its final status gave the slot back), it goes through
        wait_until(lambda: make_call(contacts[1]).status_code == 200, timeout=10, what="the slot to be given back")
        assert len(provider_calls(slots_engine, {setup.campaign_id})) == 2


def test_a_client_rate_of_one_call_per_second_spreads_a_runs_dials_over_seconds(slots_engine: Engine) -> None:
    with slots_engine.client("slots-rate") as api:
        # Given a client that starts at most 1 call per second, and a campaign of 3
        assert api.put_client_settings(max_calls_per_second=1).status_code == 200
        setup = new_campaign(api, 3, first_phone=7700)

        # When it is called with no delay
        started = api.start_calling(setup.campaign_id, setup.agent_id, 0)
        assert started.status_code == 200, started.text
        run_to_the_end(api, setup.campaign_id)

        # Then its calls started in three different seconds (each call log's startedAt is
        # when its dial took its place in that second's window), in order
        logs = sorted(all_call_logs(api, setup.campaign_id), key=lambda log: log["startedAt"])
        assert len({log["startedAt"][:19] for log in logs}) == 3
        assert [log["phone"] for log in logs] == setup.phones
        assert len(every_call_ended(slots_engine, {setup.campaign_id}, 3)) == 3
