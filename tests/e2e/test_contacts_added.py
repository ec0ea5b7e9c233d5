"""What adding contacts refuses or leaves out, end to end on the local engine: a number the
campaign holds, or one given twice, is not added again (the answer names them, also when
two imports of it arrive at once); a premium-rate number is refused with nothing stored,
until the client's settings allow such numbers."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from campaign_calling import keys
from tests.support.e2e import CAMPAIGNS, Engine

pytestmark = pytest.mark.e2e

SETTINGS = "/api/v1/client/settings"
PREMIUM_RATE = "+19002345678"  # +1 900: a toll-fraud route


def a_client() -> str:
    # A tenant of its own: its settings must not change what other tests may add.
    return f"contacts-{uuid.uuid4().hex[:12]}"


def stored_items(engine: Engine, client: str, campaign_id: str, prefix: str) -> int:
    pages = (
        engine.aws_client("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName="MainTable",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues={":pk": {"S": keys.campaign_pk(client, campaign_id)}, ":p": {"S": prefix}},
            ConsistentRead=True,
            Select="COUNT",
        )
    )
    return sum(p["Count"] for p in pages)


def test_numbers_held_or_repeated_are_not_added_again_and_the_answer_names_them(engine: Engine) -> None:
    client = a_client()
    with engine.client(client) as api:
        # Given a campaign created with a number given twice
        created = api.create_campaign(
            "Dupes",
            [
                {"name": "Ada", "phone": "+12025550101"},
                {"name": "Bob", "phone": "+12025550102"},
                {"name": "Ada again", "phone": "+1 (202) 555-0101"},
            ],
        )
        assert created.status_code == 201, created.text
        campaign = created.json()["data"]
        # Then it holds the number once, and the answer says which contact was left out
        assert (campaign["totalContacts"], campaign["duplicateCount"]) == (2, 1)
        assert campaign["duplicates"] == [{"index": 2, "phone": "+12025550101"}]

        # When contacts are added: Bob's number, a new one, the new one again
        added = api.add_contacts(
            campaign["_id"],
            [
                {"name": "Bob again", "phone": "+12025550102"},
                {"name": "Cy", "phone": "+12025550103"},
                {"name": "Cy again", "phone": "+12025550103"},
            ],
        )
        # Then only Cy is added, and the answer names the other two by their index
        assert added.status_code == 201, added.text
        data = added.json()["data"]
        assert (data["added"], data["totalContacts"], data["duplicateCount"]) == (1, 3, 2)
        assert [c["name"] for c in data["contacts"]] == ["Cy"]
        assert data["duplicates"] == [{"index": 0, "phone": "+12025550102"}, {"index": 2, "phone": "+12025550103"}]
        listed = api.get(f"{CAMPAIGNS}/{campaign['_id']}/contacts").json()["data"]["items"]
        assert [c["phone"] for c in listed] == ["+12025550101", "+12025550102", "+12025550103"]
        assert api.get(f"{CAMPAIGNS}/{campaign['_id']}").json()["data"]["totalContacts"] == 3


def test_two_imports_of_the_same_numbers_at_once_add_them_once(engine: Engine) -> None:
    client = a_client()
    with engine.client(client) as api:
        # Given an empty campaign and four imports of the same 120 numbers
        campaign_id = api.create_campaign("Race").json()["data"]["_id"]
        body = {"contacts": [{"name": f"R{i}", "phone": f"+1202555{2000 + i:04d}"} for i in range(120)]}

        def add(_: int) -> tuple[int, dict]:
            with engine.client(client) as each:
                answer = each.post(f"{CAMPAIGNS}/{campaign_id}/contacts", json=body, timeout=60)
                return answer.status_code, answer.json()

        # When they arrive at once
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(add, range(4)))

        # Then each number is stored once: one import added all, every other one none (or 409, busy)
        added = sorted(a["data"]["added"] for status, a in answers if status == 201)
        assert added[-1] == 120 and added[:-1] == [0] * (len(added) - 1), answers
        assert all(status in (201, 409) for status, _ in answers), answers
        assert api.get(f"{CAMPAIGNS}/{campaign_id}").json()["data"]["totalContacts"] == 120
        assert stored_items(engine, client, campaign_id, keys.CONTACT_PREFIX) == 120
        assert stored_items(engine, client, campaign_id, keys.PHONE_PREFIX) == 120


def test_a_premium_rate_number_is_refused_until_the_client_settings_allow_it(engine: Engine) -> None:
    client = a_client()
    with engine.client(client) as api:
        # Given a campaign of one contact
        campaign = api.create_campaign("Premium", [{"name": "Ada", "phone": "+12025550101"}]).json()["data"]
        contacts = [{"name": "Bob", "phone": "+12025550102"}, {"name": "Toll", "phone": "+1 900 234 5678"}]

        # When an import carries a premium-rate number
        refused = api.add_contacts(campaign["_id"], contacts)
        # Then it is refused naming the contact and why, and nothing of it is stored
        assert refused.status_code == 400, refused.text
        assert refused.json() == {
            "success": False,
            "message": f"contacts.1.phone: '{PREMIUM_RATE}' is a premium-rate number, not called unless the "
            "client settings allow premium-rate numbers (allowPremiumRateNumbers)",
        }
        assert api.get(f"{CAMPAIGNS}/{campaign['_id']}").json()["data"]["totalContacts"] == 1
        assert stored_items(engine, client, campaign["_id"], keys.CONTACT_PREFIX) == 1
        # nor can a campaign be created with one
        created = api.create_campaign("Premium too", contacts)
        assert created.status_code == 400 and "contacts.1.phone" in created.json()["message"], created.text
        # and an emergency number is never a contact
        emergency = api.add_contacts(campaign["_id"], [{"name": "Help", "phone": "+1 911"}])
        assert emergency.status_code == 400
        assert emergency.json()["message"] == "contacts.0.phone: '+1 911' is an emergency number, never called"

        # When the client's settings allow premium-rate numbers
        assert api.put(SETTINGS, json={"allowPremiumRateNumbers": True}).status_code == 200
        added = api.add_contacts(campaign["_id"], contacts)
        # Then the same import is added
        assert added.status_code == 201, added.text
        assert [c["phone"] for c in added.json()["data"]["contacts"]] == ["+12025550102", PREMIUM_RATE]
        assert added.json()["data"]["totalContacts"] == 3
