"""Calling windows end to end on the local engine: a contact outside its window is neither
dialed nor skipped; it waits in the run's queue and is dialed when its window opens, in
the order added; while nothing is callable the run waits in a Wait state and its progress
says until when."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from campaign_cli.client import CampaignApi, data
from tests.support.e2e import CAMPAIGNS, Engine, all_call_logs, calling_status, wait_until

pytestmark = pytest.mark.e2e

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = list(WEEKDAYS)


def a_client() -> str:
    return f"windows-{uuid.uuid4().hex[:12]}"


def campaign_of(api: CampaignApi, contacts: list[dict[str, Any]], **fields: Any) -> tuple[str, str]:
    agent = api.create_agent("Window agent", "assistant-windows")
    assert agent.status_code == 201, agent.text
    campaign = api.post(CAMPAIGNS, json={"name": "Window campaign", "contacts": contacts, **fields})
    assert campaign.status_code == 201, campaign.text
    return data(campaign)["_id"], data(agent)["_id"]


def dialed(engine: Engine, campaign_id: str) -> list[str]:
    return [call["body"]["to"] for call in engine.calls_for(campaign_id)]


def a_minute_from_now() -> datetime:
    """The next whole minute at least 15 s away (a window is given in whole minutes)."""
    now = datetime.now(UTC)
    opening = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return opening if (opening - now).total_seconds() >= 15 else opening + timedelta(minutes=1)


def test_a_window_that_opens_a_minute_after_the_start_dials_nobody_before_and_everyone_after(
    engine: Engine,
) -> None:
    opening = a_minute_from_now()
    end = opening + timedelta(minutes=10)
    window = {
        "days": [WEEKDAYS[opening.weekday()]],
        "start": opening.strftime("%H:%M"),
        "end": "24:00" if end.date() != opening.date() else end.strftime("%H:%M"),
    }
    with engine.client(a_client()) as api:
        # Given three contacts in UTC (their own time zone, over their numbers')
        phones = [f"+1202555{9100 + i:04d}" for i in range(3)]
        contacts = [{"name": f"W{i}", "phone": p, "timezone": "UTC"} for i, p in enumerate(phones)]
        campaign_id, agent_id = campaign_of(api, contacts)

        # When the run starts with a window that opens about a minute later
        started = api.start_calling(campaign_id, agent_id, 0, calling_window=window)
        assert started.status_code == 200, started.text

        # Then nothing is dialed or skipped: every contact waits, and the run says until when
        def waiting() -> dict[str, Any]:
            progress: dict[str, Any] = calling_status(api, campaign_id)["progress"]
            return progress

        wait_until(lambda: waiting().get("waitingUntil") is not None, timeout=30, what="the run to wait")
        progress = waiting()
        assert progress["status"] == "running"
        assert progress["contactsWaiting"] == 3
        assert progress["completedCalls"] == 0
        assert progress["waitingUntil"] == opening.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert progress["callingWindow"] == window
        assert dialed(engine, campaign_id) == []
        assert all_call_logs(api, campaign_id) == []

        # When the window opens
        wait_until(
            lambda: not calling_status(api, campaign_id)["isRunning"],
            timeout=(opening - datetime.now(UTC)).total_seconds() + 60,
            what="the run to end after its window opened",
        )

        # Then everyone was dialed once, in the order added, none before the opening
        progress = calling_status(api, campaign_id)["progress"]
        assert progress["status"] == "completed", progress
        assert (progress["completedCalls"], progress["contactsWaiting"]) == (3, 0)
        assert "waitingUntil" not in progress or progress["waitingUntil"] is None
        assert dialed(engine, campaign_id) == phones
        logs = all_call_logs(api, campaign_id)
        assert sorted(log["phone"] for log in logs) == sorted(phones)
        assert all(log["startedAt"] >= opening.strftime("%Y-%m-%dT%H:%M:%S.000Z") for log in logs), logs


def local_hour(zone_offset_hours: int) -> int:
    return (datetime.now(UTC) + timedelta(hours=zone_offset_hours)).hour


def test_contacts_on_both_sides_of_a_window_one_is_dialed_the_other_waits_for_its_opening(engine: Engine) -> None:
    # Given a 08:00-20:00 window and two fixed-offset zones, one inside it now and one outside
    # (Etc/GMT-N is N hours ahead of UTC: the IANA names' sign is inverted)
    inside = next(h for h in range(-12, 15) if 9 <= local_hour(h) < 19)
    outside = next(h for h in range(-12, 15) if local_hour(h) < 7 or local_hour(h) >= 21)
    zone = {h: "UTC" if h == 0 else f"Etc/GMT{-h:+d}" for h in (inside, outside)}
    window = {"days": EVERY_DAY, "start": "08:00", "end": "20:00"}
    with engine.client(a_client()) as api:
        # The contact outside the window comes first: the order added does not dial it early
        contacts = [
            {"name": "Outside", "phone": "+12025559201", "timezone": zone[outside]},
            {"name": "Inside", "phone": "+12025559202", "timezone": zone[inside]},
        ]
        campaign_id, agent_id = campaign_of(api, contacts)

        # When the run starts with that window
        assert api.start_calling(campaign_id, agent_id, 0, calling_window=window).status_code == 200

        # Then the contact inside its window is dialed, the other waits for its own opening
        wait_until(
            lambda: calling_status(api, campaign_id)["progress"]["completedCalls"] == 1,
            timeout=30,
            what="the contact inside its window to be called",
        )
        wait_until(
            lambda: calling_status(api, campaign_id)["progress"].get("waitingUntil") is not None,
            timeout=30,
            what="the run to wait for the other contact",
        )
        progress = calling_status(api, campaign_id)["progress"]
        assert (progress["status"], progress["contactsWaiting"]) == ("running", 1)
        assert dialed(engine, campaign_id) == ["+12025559202"]
        now = datetime.now(UTC)
        until = datetime.strptime(progress["waitingUntil"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        local_opening = until + timedelta(hours=outside)
        assert (local_opening.hour, local_opening.minute) == (8, 0)
        assert timedelta(0) < until - now <= timedelta(hours=13)

        # When the run is stopped while it waits
        assert api.stop_calling(campaign_id).status_code == 200
        # Then the waiting contact was never dialed, nor logged
        assert calling_status(api, campaign_id)["progress"]["status"] == "stopped"
        assert [log["phone"] for log in all_call_logs(api, campaign_id)] == ["+12025559202"]
        assert dialed(engine, campaign_id) == ["+12025559202"]


def test_a_contact_placed_by_its_number_waits_for_the_window_of_its_zone(engine: Engine) -> None:
    # Given a window open only in hours when New York is closed (and Sydney open, or the reverse)
    ny_hour = datetime.now(ZoneInfo("America/New_York")).hour
    first, last = max(ny_hour - 1, 0), min(ny_hour + 2, 24)
    window_open_now = {"days": EVERY_DAY, "start": f"{first:02d}:00", "end": f"{last:02d}:00"}
    closed = (ny_hour + 12) % 24
    window_closed_now = {"days": EVERY_DAY, "start": f"{closed:02d}:00", "end": f"{closed + 1:02d}:00"}
    with engine.client(a_client()) as api:
        # A New York number, no timezone of its own; the campaign's zone is not used for it
        ny = {"name": "NY", "phone": "+12125550100"}
        open_campaign, agent_id = campaign_of(api, [ny], timezone="Asia/Tokyo")
        closed_campaign, _ = campaign_of(api, [ny], timezone="Asia/Tokyo")

        # When one run's window is open in New York now and the other's is not
        assert api.start_calling(open_campaign, agent_id, 0, calling_window=window_open_now).status_code == 200
        assert api.start_calling(closed_campaign, agent_id, 0, calling_window=window_closed_now).status_code == 200

        # Then the first dials the number and completes; the second waits
        wait_until(lambda: not calling_status(api, open_campaign)["isRunning"], timeout=30, what="the open run's end")
        wait_until(
            lambda: calling_status(api, closed_campaign)["progress"].get("waitingUntil") is not None,
            timeout=30,
            what="the closed run to wait",
        )
        assert dialed(engine, open_campaign) == ["+12125550100"]
        assert dialed(engine, closed_campaign) == []
        assert api.stop_calling(closed_campaign).status_code == 200


def test_a_run_without_a_window_takes_the_clients_default(engine: Engine) -> None:
    closed = (datetime.now(UTC).hour + 12) % 24
    default = {"days": EVERY_DAY, "start": f"{closed:02d}:00", "end": f"{closed + 1:02d}:00"}
    with engine.client(a_client()) as api:
        # Given a client whose default window is closed now
        assert api.put("/api/v1/client/settings", json={"callingWindow": default}).status_code == 200
        campaign_id, agent_id = campaign_of(api, [{"name": "U", "phone": "+12025559301", "timezone": "UTC"}])
        # When a run starts without a window of its own
        assert api.start_calling(campaign_id, agent_id, 0).status_code == 200
        # Then it keeps the client's window and waits for it
        wait_until(
            lambda: calling_status(api, campaign_id)["progress"].get("waitingUntil") is not None,
            timeout=30,
            what="the run to wait for the client's window",
        )
        progress = calling_status(api, campaign_id)["progress"]
        assert progress["callingWindow"] == default
        assert dialed(engine, campaign_id) == []
        assert api.stop_calling(campaign_id).status_code == 200
