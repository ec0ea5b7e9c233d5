"""The do-not-call list end to end on the local engine: a listed number is never sent to
the provider, by any campaign's run (logged `skipped`, reason `dnc`, counted once) or by
make-call (409, nothing logged); its routes list, read, page and delete, each client's
list its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from campaign_cli.client import CampaignApi, data
from tests.support.e2e import (
    CAMPAIGNS,
    Engine,
    all_call_logs,
    calling_status,
    new_campaign,
    running_engine,
    start_calling,
    wait_until,
)

pytestmark = pytest.mark.e2e

DNC = "/api/v1/client/dnc"


def a_client() -> str:
    # A tenant of its own: its list must not keep other tests' numbers from being called.
    return f"dnc-{uuid.uuid4().hex[:12]}"


def numbers_dialed(engine: Engine, campaign_id: str) -> list[str]:
    """The numbers the simulated provider was asked to call for a campaign."""
    return [call["body"]["to"] for call in engine.calls_for(campaign_id)]


def run_to_the_end(api: CampaignApi, campaign_id: str) -> dict[str, Any]:
    wait_until(lambda: not calling_status(api, campaign_id)["isRunning"], timeout=90, what="the run to end")
    progress: dict[str, Any] = calling_status(api, campaign_id)["progress"]
    assert progress["status"] == "completed", progress
    return progress


def test_a_listed_number_is_called_by_no_campaign_and_not_by_make_call(engine: Engine) -> None:
    with engine.client(a_client()) as api:
        # Given two campaigns that share a number, and that number on the client's list
        first = new_campaign(api, 3, first_phone=700)
        second = new_campaign(api, 2, first_phone=701)
        listed = "+12025550701"
        assert api.post(DNC, json={"phones": ["+1 202 555 0701"], "reason": "asked"}).status_code == 200

        # When both campaigns run to the end
        start_calling(api, first)
        start_calling(api, second)
        progress = {s.campaign_id: run_to_the_end(api, s.campaign_id) for s in (first, second)}

        # Then the provider never heard of the listed number, and every other number was called
        assert numbers_dialed(engine, first.campaign_id) == ["+12025550700", "+12025550702"]
        assert numbers_dialed(engine, second.campaign_id) == ["+12025550702"]
        # And each run logged it once, skipped for dnc, and counted it once (as failed)
        for setup in (first, second):
            logs = all_call_logs(api, setup.campaign_id)
            skipped = [log for log in logs if log["phone"] == listed]
            assert [(log["status"], log["endedReason"], log["outcome"]) for log in skipped] == [
                ("skipped", "dnc", "failed")
            ]
            counts = progress[setup.campaign_id]
            assert counts["outcomes"]["skipped"] == 1
            assert counts["completedCalls"] == len(logs) == counts["successfulCalls"] + counts["failedCalls"]

        # When make-call names the listed contact
        before = len(all_call_logs(api, first.campaign_id))
        refused = api.post(
            f"{CAMPAIGNS}/{first.campaign_id}/make-call", json={"contactId": "ct_0000000002", "agentId": first.agent_id}
        )
        # Then 409 says why, without the number; nothing was placed or logged
        assert refused.status_code == 409, refused.text
        assert "do-not-call" in refused.json()["message"] and listed not in refused.text
        assert listed not in numbers_dialed(engine, first.campaign_id)
        assert len(all_call_logs(api, first.campaign_id)) == before

        # When the number is taken off the list, make-call calls it
        assert api.delete(f"{DNC}/{listed}").status_code == 200
        placed = api.post(
            f"{CAMPAIGNS}/{first.campaign_id}/make-call", json={"contactId": "ct_0000000002", "agentId": first.agent_id}
        )
        assert placed.status_code == 200, placed.text
        assert listed in numbers_dialed(engine, first.campaign_id)


def test_the_routes_list_read_page_and_delete_for_their_client_only(engine: Engine) -> None:
    owner, other = a_client(), a_client()
    with engine.client(owner) as a, engine.client(other) as b:
        # Given five numbers on A's list
        phones = [f"+1202555080{i}" for i in range(5)]
        listed = a.post(DNC, json={"phones": phones, "reason": "complaint"})
        assert listed.status_code == 200, listed.text
        assert [e["phone"] for e in listed.json()["data"]] == phones

        # Then A reads one back (its "+" sent as %2B or as is), with when and why
        for path in (f"{DNC}/%2B12025550800", f"{DNC}/+12025550800"):
            found = a.get(path)
            assert found.status_code == 200, found.text
            assert (data(found)["phone"], data(found)["reason"], data(found)["source"]) == (
                "+12025550800",
                "complaint",
                "api",
            )
        # And pages of two cover the list once
        seen: list[str] = []
        token = None
        while True:
            page = data(a.get(DNC, params={"limit": 2, **({"nextToken": token} if token else {})}))
            assert len(page["items"]) <= 2
            seen += [e["phone"] for e in page["items"]]
            token = page["nextToken"]
            if token is None:
                break
        assert sorted(seen) == phones

        # And B sees none of it, and cannot take A's number off
        assert b.get(f"{DNC}/+12025550800").status_code == 404
        assert data(b.get(DNC))["items"] == []
        assert b.delete(f"{DNC}/+12025550800").status_code == 404

        # When A takes a number off, it is 404 from then on
        assert a.delete(f"{DNC}/+12025550800").status_code == 200
        gone = a.get(f"{DNC}/+12025550800")
        assert (gone.status_code, gone.json()) == (404, {"success": False, "message": "phone number not found"})
        assert a.delete(f"{DNC}/+12025550800").status_code == 404

        # And bad input is a 400 envelope, nothing listed
        for body in ({"phones": []}, {"phones": ["020 7946 0958"]}, {"phones": "+12025550899"}):
            refused = a.post(DNC, json=body)
            assert refused.status_code == 400 and refused.json()["success"] is False, body
        assert a.get(f"{DNC}/not-a-phone").status_code == 400
        assert len(data(a.get(DNC, params={"limit": 50}))["items"]) == 4


OPTING_OUT = "+12025550902"


@pytest.fixture(scope="module")
def opt_out_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    # The simulated provider's person at OPTING_OUT asks not to be called again on the call.
    with running_engine(tmp_path_factory.mktemp("dnc-opt-out"), {"SIM_OPT_OUT_NUMBERS": OPTING_OUT}) as started:
        yield started


def test_an_opt_out_on_a_call_lists_the_number_and_the_next_campaign_does_not_call_it(opt_out_engine: Engine) -> None:
    engine = opt_out_engine
    with engine.client(a_client()) as api:
        # Given a campaign whose third number's person opts out on the call
        first = new_campaign(api, 3, first_phone=900)
        start_calling(api, first)
        run_to_the_end(api, first.campaign_id)
        assert OPTING_OUT in numbers_dialed(engine, first.campaign_id)

        # When the call's final webhook (optOut: true) has come
        wait_until(
            lambda: api.get(f"{DNC}/{OPTING_OUT}").status_code == 200, timeout=30, what="the opt-out to be listed"
        )
        # Then the number is listed as the provider's opt-out
        entry = data(api.get(f"{DNC}/{OPTING_OUT}"))
        assert (entry["phone"], entry["source"]) == (OPTING_OUT, "provider")
        # And only that number
        assert [e["phone"] for e in data(api.get(DNC))["items"]] == [OPTING_OUT]

        # When a second campaign with that number runs
        second = new_campaign(api, 2, first_phone=901)
        start_calling(api, second)
        progress = run_to_the_end(api, second.campaign_id)
        # Then the provider is not asked to call it again; it is skipped
        assert numbers_dialed(engine, second.campaign_id) == ["+12025550901"]
        assert progress["outcomes"]["skipped"] == 1
