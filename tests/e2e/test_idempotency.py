"""Nothing silently lost, nothing placed twice (issue 9, items 2 and 3), on the local engine
over real HTTP:

- make-call honours an Idempotency-Key: parallel repeats place one call, a later repeat
  answers the first result, another client's same key is its own; the provider's key
  derives from it. make-call on the contact the running run is dialing answers 409.
- a bulk import is all or nothing: 8 concurrent 500-contact imports into one campaign
  store exactly 500 per 201 and nothing for any other answer, and no reader ever sees part
  of one; an import repeated with its Idempotency-Key stores once and answers the first.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from campaign_calling import keys
from tests.support.e2e import CLIENT_A, CampaignSetup, Engine, wait_until

pytestmark = pytest.mark.e2e

BASE = "/api/v1/client/campaigns"
IN_PROGRESS = "a request with this Idempotency-Key is still in progress; try again once it has answered"


@pytest.fixture
def quiet(engine: Engine) -> Any:
    engine.clear_faults()
    yield engine
    engine.clear_faults()


def make_call(api: httpx.Client, setup: CampaignSetup, contact_id: str, key: str | None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(
        f"{BASE}/{setup.campaign_id}/make-call",
        json={"contactId": contact_id, "agentId": setup.agent_id},
        headers=headers,
    )


def test_parallel_make_calls_with_one_key_place_one_call(quiet: Engine, api: httpx.Client, make_campaign: Any) -> None:
    # Given a contact, and a provider that takes 1.5 s to answer the next call
    setup = make_campaign(1)
    quiet.set_fault(mode="slow", count=1, latencyMs=1500)
    key = str(uuid.uuid4())

    # When five identical make-call requests with one Idempotency-Key arrive at once
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: make_call(api, setup, "ct_0000000001", key), range(5)))

    # Then exactly one call reached the provider, under a key derived from the client's
    (call,) = quiet.calls_for(setup.campaign_id)
    assert call["headers"]["idempotency-key"].startswith("manual:")
    assert key not in call["headers"]["idempotency-key"]
    # and every answer is that call or "in progress"
    placed = [a.json() for a in answers if a.status_code == 200]
    refused = [a.json() for a in answers if a.status_code == 409]
    assert len(placed) + len(refused) == 5, [a.text for a in answers]
    assert placed and all(p == placed[0] for p in placed)
    assert all(r == {"success": False, "message": IN_PROGRESS} for r in refused)
    assert placed[0]["data"]["success"] is True

    # When the same request is sent again later
    later = make_call(api, setup, "ct_0000000001", key)
    # Then it answers the first result and places nothing
    assert (later.status_code, later.json()) == (200, placed[0])
    assert len(quiet.calls_for(setup.campaign_id)) == 1
    logs = api.get(f"{BASE}/{setup.campaign_id}/call-logs").json()["data"]["items"]
    assert [log["uniqueId"] for log in logs] == [placed[0]["data"]["uniqueId"]]

    # And the same key with another request is refused, placing nothing
    other = api.post(
        f"{BASE}/{setup.campaign_id}/make-call",
        json={"contactId": "ct_0000000002", "agentId": setup.agent_id},
        headers={"Idempotency-Key": key},
    )
    assert other.status_code == 422, other.text
    assert len(quiet.calls_for(setup.campaign_id)) == 1


def test_another_client_with_the_same_key_places_its_own_call(quiet: Engine, make_campaign: Any) -> None:
    # Given client A's call under a key
    setup = make_campaign(1)
    key = str(uuid.uuid4())
    with quiet.client() as api:
        first = make_call(api, setup, "ct_0000000001", key)
        assert first.status_code == 200, first.text
    # When client B, with its own campaign, uses the same key
    with quiet.client("client-b") as other:
        agent = other.post("/api/v1/client/agents", json={"name": "B", "providerAgentId": "assistant-b"})
        campaign = other.post(BASE, json={"name": "B", "contacts": [{"name": "Bo", "phone": "+12025550177"}]})
        theirs = CampaignSetup(campaign.json()["data"]["_id"], agent.json()["data"]["_id"], ["+12025550177"])
        second = make_call(other, theirs, "ct_0000000001", key)
    # Then B's call is placed, and it is B's: never A's answer
    assert second.status_code == 200, second.text
    assert second.json()["data"]["uniqueId"] != first.json()["data"]["uniqueId"]
    assert second.json()["data"]["contact"]["phone"] == "+12025550177"
    (a_call,) = quiet.calls_for(setup.campaign_id)
    (b_call,) = quiet.calls_for(theirs.campaign_id)
    assert a_call["headers"]["idempotency-key"] != b_call["headers"]["idempotency-key"]


def test_make_call_on_the_contact_the_run_is_dialing_is_a_409(
    quiet: Engine, api: httpx.Client, make_campaign: Any
) -> None:
    # Given a run whose first dial the provider holds for 4 s
    setup = make_campaign(1)
    quiet.set_fault(mode="slow", count=1, latencyMs=4000)
    started = api.post(
        f"{BASE}/{setup.campaign_id}/start-calling", json={"agentId": setup.agent_id, "delayBetweenCalls": 0}
    )
    assert started.status_code == 200, started.text
    wait_until(lambda: quiet.calls_for(setup.campaign_id), timeout=30, what="the run's dial to reach the provider")

    # When make-call asks for that contact meanwhile
    during = make_call(api, setup, "ct_0000000001", None)

    # Then it is refused and places nothing
    assert during.status_code == 409, during.text
    assert during.json() == {
        "success": False,
        "message": "the campaign's running run is calling this contact right now; try again after that call",
    }
    assert len(quiet.calls_for(setup.campaign_id)) == 1
    # and once the run's call has ended, the contact can be called
    wait_until(
        lambda: api.get(f"{BASE}/{setup.campaign_id}/calling-status").json()["data"]["isRunning"] is False,
        timeout=30,
        what="the run to end",
    )
    after = make_call(api, setup, "ct_0000000001", None)
    assert after.status_code == 200, after.text
    assert len(quiet.calls_for(setup.campaign_id)) == 2


def contacts_body(request: int, count: int = 500) -> dict[str, Any]:
    # Each request its own numbers (+1 202 6rr ...): a campaign holds a number once.
    return {
        "contacts": [
            {"name": f"R{request:02d}-{i:03d}", "phone": f"+1202{600 + request:03d}{1000 + i:04d}"}
            for i in range(count)
        ]
    }


def test_concurrent_imports_are_each_all_or_nothing(quiet: Engine, api: httpx.Client, make_campaign: Any) -> None:
    # Given an empty campaign, and a reader watching its counts all along
    setup = make_campaign(0)
    cid = setup.campaign_id
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def watch() -> None:
        with quiet.client() as reader:
            while not done.is_set():
                campaign = reader.get(f"{BASE}/{cid}").json()["data"]["totalContacts"]
                status = reader.get(f"{BASE}/{cid}/calling-status").json()["data"]["totalContacts"]
                seen.append((campaign, status))

    watcher = threading.Thread(target=watch)
    watcher.start()

    # When eight 500-contact imports arrive at once
    def add(request: int) -> httpx.Response:
        with quiet.client() as client:
            return client.post(f"{BASE}/{cid}/contacts", json=contacts_body(request), timeout=60)

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(add, range(8)))
    finally:
        done.set()
        watcher.join(timeout=30)

    # Then every answer is 201 or an error envelope
    statuses = [a.status_code for a in answers]
    assert all(s == 201 or 400 <= s < 600 for s in statuses), statuses
    accepted = [(i, a.json()["data"]) for i, a in enumerate(answers) if a.status_code == 201]
    for answer in answers:
        if answer.status_code != 201:
            assert answer.json()["success"] is False and answer.json()["message"], answer.text
    assert accepted, statuses

    # and exactly 500 contacts per 201 are stored, counted and listed, nothing else
    total = 500 * len(accepted)
    assert api.get(f"{BASE}/{cid}").json()["data"]["totalContacts"] == total
    assert api.get(f"{BASE}/{cid}/calling-status").json()["data"]["totalContacts"] == total
    listed: list[dict[str, Any]] = []
    token = None
    while True:
        page = api.get(f"{BASE}/{cid}/contacts", params={"limit": 500, **({"nextToken": token} if token else {})})
        listed += page.json()["data"]["items"]
        token = page.json()["data"]["nextToken"]
        if not token:
            break
    # in order, no gap (a contact's id carries its position)
    assert [c["_id"] for c in listed] == [f"ct_{seq:010d}" for seq in range(1, total + 1)]
    pages = (
        quiet.aws_client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName="MainTable",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
            ExpressionAttributeValues={":pk": {"S": keys.campaign_pk(CLIENT_A, cid)}, ":c": {"S": "CONTACT#"}},
            ConsistentRead=True,
            Select="COUNT",
        )
    )
    assert sum(p["Count"] for p in pages) == total  # nothing of a refused import is left, even unseen
    # each accepted import is one block in its own order, under the ids it answered
    by_id = {c["_id"]: c for c in listed}
    for request, data in accepted:
        names = [by_id[c["_id"]]["name"] for c in data["contacts"]]
        assert names == [f"R{request:02d}-{i:03d}" for i in range(500)]
        seqs = [int(c["_id"].removeprefix("ct_")) for c in data["contacts"]]
        assert seqs == list(range(seqs[0], seqs[0] + 500))
    # and no reader ever saw part of an import
    assert seen and all(c % 500 == 0 and s % 500 == 0 for c, s in seen), sorted(set(seen))


def test_an_import_repeated_with_its_key_stores_once(quiet: Engine, api: httpx.Client, make_campaign: Any) -> None:
    # Given a campaign of 2 contacts
    setup = make_campaign(2)
    key = str(uuid.uuid4())
    body = contacts_body(99, 50)
    # When the same import is sent twice with one Idempotency-Key (the first answer "lost")
    first = api.post(f"{BASE}/{setup.campaign_id}/contacts", json=body, headers={"Idempotency-Key": key})
    again = api.post(f"{BASE}/{setup.campaign_id}/contacts", json=body, headers={"Idempotency-Key": key})
    # Then the second answers the first's result, and the contacts are stored once
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert first.json()["data"]["totalContacts"] == 52
    assert api.get(f"{BASE}/{setup.campaign_id}").json()["data"]["totalContacts"] == 52
    # and a new key is a new request, whose numbers the campaign already holds
    fresh = api.post(f"{BASE}/{setup.campaign_id}/contacts", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert (fresh.json()["data"]["totalContacts"], fresh.json()["data"]["duplicateCount"]) == (52, 50)
