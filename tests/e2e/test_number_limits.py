"""Per-number limits end to end on the local engine: a number a campaign called is not
called again by another campaign or by make-call before the client's limits allow; the
run defers it (its progress says until when) rather than skipping it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_cli.client import CampaignApi, data
from tests.support.e2e import CAMPAIGNS, Engine, all_call_logs, calling_status, wait_until

pytestmark = pytest.mark.e2e

SETTINGS = "/api/v1/client/settings"
SHARED = "+12025559401"


def a_client() -> str:
    return f"numbers-{uuid.uuid4().hex[:12]}"


def campaign_with(api: CampaignApi, phones: list[str]) -> tuple[str, str]:
    agent = api.create_agent("Limits agent", "assistant-limits")
    assert agent.status_code == 201, agent.text
    contacts = [{"name": f"N{i}", "phone": p} for i, p in enumerate(phones)]
    campaign = api.create_campaign("Limits campaign", contacts)
    assert campaign.status_code == 201, campaign.text
    return data(campaign)["_id"], data(agent)["_id"]


def progress_of(api: CampaignApi, campaign_id: str) -> dict[str, Any]:
    progress: dict[str, Any] = calling_status(api, campaign_id)["progress"]
    return progress


def parsed(instant: str) -> datetime:
    return datetime.strptime(instant, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_one_call_a_day_holds_across_two_campaigns_and_make_call(engine: Engine) -> None:
    with engine.client(a_client()) as api:
        # Given a client that allows one call a day to a number, and two campaigns sharing one
        settings = {"maxCallsPerNumberPerDay": 1, "minMinutesBetweenCallsToNumber": 60}
        assert api.put(SETTINGS, json=settings).status_code == 200
        first, agent = campaign_with(api, [SHARED, "+12025559402"])
        second, _ = campaign_with(api, ["+12025559403", SHARED])

        # When the first campaign runs to the end
        assert api.start_calling(first, agent, 0).status_code == 200
        wait_until(lambda: not calling_status(api, first)["isRunning"], timeout=60, what="the first run's end")
        (called,) = [log for log in all_call_logs(api, first) if log["phone"] == SHARED]

        # And the second starts
        assert api.start_calling(second, agent, 0).status_code == 200

        # Then it calls its other number, and defers the shared one to a day after its call
        wait_until(
            lambda: progress_of(api, second).get("waitingUntil") is not None,
            timeout=60,
            what="the second run to wait for the shared number",
        )
        progress = progress_of(api, second)
        assert (progress["status"], progress["completedCalls"], progress["contactsWaiting"]) == ("running", 1, 1)
        assert [c["body"]["to"] for c in engine.calls_for(second)] == ["+12025559403"]
        until = parsed(progress["waitingUntil"])
        assert until - parsed(called["startedAt"]) == timedelta(days=1)
        assert [log["phone"] for log in all_call_logs(api, second)] == ["+12025559403"]

        # And make-call to the shared number is refused with when it may be called
        refused = api.post(f"{CAMPAIGNS}/{first}/make-call", json={"contactId": "ct_0000000001", "agentId": agent})
        assert refused.status_code == 409, refused.text
        assert "called too recently" in refused.json()["message"]
        assert SHARED not in refused.text
        assert len([c for c in engine.calls_for(first) if c["body"]["to"] == SHARED]) == 1

        # And the other number of the first campaign, called about as long ago, is refused by
        # the gap alone while make-call to a number never called goes through
        assert api.put(SETTINGS, json={"minMinutesBetweenCallsToNumber": 60}).status_code == 200
        gap = api.post(f"{CAMPAIGNS}/{first}/make-call", json={"contactId": "ct_0000000002", "agentId": agent})
        assert gap.status_code == 409, gap.text
        assert api.stop_calling(second).status_code == 200


def test_without_limits_nothing_is_deferred(engine: Engine) -> None:
    with engine.client(a_client()) as api:
        # Given no per-number limits, and two campaigns sharing a number
        first, agent = campaign_with(api, [SHARED])
        second, _ = campaign_with(api, [SHARED])
        # When both run
        for campaign in (first, second):
            assert api.start_calling(campaign, agent, 0).status_code == 200
            wait_until(lambda c=campaign: not calling_status(api, c)["isRunning"], timeout=60, what="the run's end")
        # Then each called it
        assert [progress_of(api, c)["completedCalls"] for c in (first, second)] == [1, 1]
