"""POST /api/v1/client/campaigns and .../contacts through their real handlers against moto:
duplicates left out and named, premium-rate numbers refused with a 400 naming the contact
(nothing stored) until the client's settings allow them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.events import acting_for

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLIENT = "client-a"
PREMIUM_RATE = "+19002345678"


def event(name: str, body: Any, campaign_id: str | None = None) -> dict[str, Any]:
    """The sample event ``name`` acting for CLIENT with ``body`` (and the campaign's id in its path)."""
    sample = json.loads((EVENTS / f"{name}.json").read_text())
    acting_for(sample, CLIENT)
    if body is not None:
        sample["body"] = json.dumps(body)
    if campaign_id:
        old = sample["pathParameters"]["id"]
        sample["pathParameters"]["id"] = campaign_id
        sample["rawPath"] = sample["rawPath"].replace(old, campaign_id)
        sample["requestContext"]["http"]["path"] = sample["requestContext"]["http"]["path"].replace(old, campaign_id)
    return sample


def call(aws: Any, function: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = aws.invoke(function, request)
    return result["statusCode"], json.loads(result["body"])


def a_campaign(aws: Any, contacts: list[dict[str, str]]) -> dict[str, Any]:
    status, answer = call(aws, "CampaignsFunction", event("campaigns_create", {"name": "S", "contacts": contacts}))
    assert status == 201, answer
    return answer["data"]


def test_duplicates_are_left_out_and_named_on_create_and_on_add(aws: Any) -> None:
    # Given a campaign created with one number twice
    campaign = a_campaign(aws, [{"name": "A", "phone": "+12025550101"}, {"name": "A2", "phone": "+1 202 555 0101"}])
    assert (campaign["totalContacts"], campaign["duplicateCount"]) == (1, 1)
    assert campaign["duplicates"] == [{"index": 1, "phone": "+12025550101"}]
    # When contacts are added, one of them with the number it holds
    body = {"contacts": [{"name": "B", "phone": "+12025550102"}, {"name": "A3", "phone": "+12025550101"}]}
    status, answer = call(aws, "ContactsFunction", event("contacts_add", body, campaign["_id"]))
    # Then only the new one is added, and the other named
    assert status == 201, answer
    data = answer["data"]
    assert (data["added"], data["totalContacts"], data["duplicateCount"]) == (1, 2, 1)
    assert data["duplicates"] == [{"index": 1, "phone": "+12025550101"}]


def test_a_premium_rate_number_is_400_naming_it_until_the_settings_allow_it(aws: Any) -> None:
    campaign = a_campaign(aws, [])
    body = {"contacts": [{"name": "B", "phone": "+12025550102"}, {"name": "Toll", "phone": PREMIUM_RATE}]}
    # When an add carries a premium-rate number
    status, answer = call(aws, "ContactsFunction", event("contacts_add", body, campaign["_id"]))
    # Then it is refused naming it, nothing stored
    assert status == 400, answer
    assert answer["success"] is False
    assert answer["message"].startswith(f"contacts.1.phone: '{PREMIUM_RATE}' is a premium-rate number")
    got = call(aws, "CampaignsFunction", event("campaigns_get", None, campaign["_id"]))[1]
    assert got["data"]["totalContacts"] == 0
    # When the client's settings allow them, the same add goes through
    settings = event("client_settings_put", {"allowPremiumRateNumbers": True})
    assert call(aws, "ClientSettingsFunction", settings)[0] == 200
    status, answer = call(aws, "ContactsFunction", event("contacts_add", body, campaign["_id"]))
    assert (status, answer["data"]["added"]) == (201, 2), answer
