"""Call logs as the catalog lists them: newest first, in pages, per client and campaign."""

from __future__ import annotations

import pytest

from campaign_calling.calls.placing import new_call_log
from campaign_calling.errors import NotFound
from campaign_calling.ids import call_unique_id
from campaign_calling.models import CallLog, CampaignInput, Contact
from tests.support.clock import T0_MS
from tests.support.fakes_catalog import FakeCatalog, contact_inputs

CLIENT = "client-a"
CONTACT = Contact(id="ct_0000000001", name="C1", phone="+12025550001", seq=1)


def a_log(campaign_id: str, started_ms: int) -> CallLog:
    return new_call_log(
        campaign_id=campaign_id,
        contact=CONTACT,
        agent_id="ag_1",
        unique_id=call_unique_id(started_ms),
        started_ms=started_ms,
        ended_ms=started_ms + 250,
        run_id=None,
        outcome="success",
        error=None,
    )


def test_given_seven_calls_when_listed_in_pages_of_3_then_newest_first_each_once() -> None:
    # Given a campaign with 7 calls a second apart, and a call of another campaign
    catalog = FakeCatalog()
    service = catalog.service()
    campaign_id = service.create_campaign(CLIENT, CampaignInput(name="S", contacts=contact_inputs(1))).id
    logs = [a_log(campaign_id, T0_MS + i * 1000) for i in range(7)]
    for log in logs:
        catalog.call_logs.put(CLIENT, log)
    catalog.call_logs.put(CLIENT, a_log("cmp_other", T0_MS + 99_000))
    # When
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        page = service.list_call_logs(CLIENT, campaign_id, 3, token)
        assert len(page.items) <= 3
        seen += [log.uniqueId for log in page.items]
        token = page.nextToken
        if token is None:
            break
    # Then
    assert seen == [log.uniqueId for log in reversed(logs)]


def test_given_no_campaign_when_its_call_logs_are_listed_then_it_is_not_found() -> None:
    # Given call logs stored under a campaign id that another client owns
    catalog = FakeCatalog()
    campaign_id = catalog.service().create_campaign(CLIENT, CampaignInput(name="S")).id
    catalog.call_logs.put(CLIENT, a_log(campaign_id, T0_MS))
    # When / Then
    with pytest.raises(NotFound, match="campaign not found"):
        catalog.service().list_call_logs("client-b", campaign_id, 10, None)


def test_given_a_campaign_without_calls_when_listed_then_the_page_is_empty() -> None:
    catalog = FakeCatalog()
    campaign_id = catalog.service().create_campaign(CLIENT, CampaignInput(name="S")).id
    page = catalog.service().list_call_logs(CLIENT, campaign_id, 10, None)
    assert (page.items, page.nextToken) == ([], None)
