"""The list, PATCH and DELETE routes of agents, campaigns and contacts through their real
handlers against moto (the template's tables, each function with its own environment):
envelopes, 400s naming the field, 404s, and 409s naming the run that uses what would change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from campaign_calling import keys
from tests.support.events import acting_for

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLIENT = "client-a"


def event(name: str, body: Any = None, client: str = CLIENT, query: dict[str, str] | None = None, **path: str) -> dict:
    """The sample event ``name`` acting for ``client``, with ``body``, ``query`` and the path
    parameters given (the others as the sample has them)."""
    sample = json.loads((EVENTS / f"{name}.json").read_text())
    acting_for(sample, client)
    sample.pop("body", None)
    if body is not None:
        sample["body"] = json.dumps(body)
        sample["headers"]["content-type"] = "application/json"
    params = {**sample.get("pathParameters", {}), **path}
    if params:
        sample["pathParameters"] = params
        route = sample["routeKey"].split(" ", 1)[1]
        sample["rawPath"] = sample["requestContext"]["http"]["path"] = route.format(**params)
    sample["queryStringParameters"] = query or {}
    sample["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    return sample


def call(aws: Any, function: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = aws.invoke(function, request)
    return result["statusCode"], json.loads(result["body"])


def created(aws: Any, function: str, name: str, body: dict[str, Any], client: str = CLIENT) -> dict[str, Any]:
    status, answer = call(aws, function, event(name, body, client))
    assert status == 201, answer
    return answer["data"]


def a_campaign(aws: Any, contacts: int = 3, client: str = CLIENT) -> dict[str, Any]:
    people = [{"name": f"C{i}", "phone": f"+1202555{100 + i:04d}"} for i in range(contacts)]
    return created(aws, "CampaignsFunction", "campaigns_create", {"name": "Spring", "contacts": people}, client)


def an_agent(aws: Any, client: str = CLIENT) -> dict[str, Any]:
    return created(aws, "AgentsFunction", "agents_create", {"name": "Bot", "providerAgentId": "pa-1"}, client)


def test_campaigns_and_agents_list_in_pages_for_their_client_only(aws: Any) -> None:
    # Given three campaigns and two agents of the client, one of each of another
    mine = sorted(a_campaign(aws, 0)["_id"] for _ in range(3))
    a_campaign(aws, 0, client="client-b")
    agents = sorted(an_agent(aws)["_id"] for _ in range(2))
    an_agent(aws, client="client-b")
    # When they are listed two at a time
    status, first = call(aws, "CampaignsFunction", event("campaigns_list", query={"limit": "2"}))
    assert status == 200, first
    token = first["data"]["nextToken"]
    _, second = call(aws, "CampaignsFunction", event("campaigns_list", query={"limit": "2", "nextToken": token}))
    # Then every campaign of the client comes once, by id, in the envelope
    assert [c["_id"] for c in first["data"]["items"] + second["data"]["items"]] == mine
    assert second["data"]["nextToken"] is None
    assert set(first["data"]["items"][0]) >= {"_id", "name", "totalContacts", "isRunning", "createdAt"}
    _, listed = call(aws, "AgentsFunction", event("agents_list", query={"limit": "50"}))
    assert ([a["_id"] for a in listed["data"]["items"]], listed["data"]["nextToken"]) == (agents, None)
    # And another client's token is a 400, not their list
    status, answer = call(
        aws, "CampaignsFunction", event("campaigns_list", client="client-b", query={"nextToken": token})
    )
    assert (status, answer) == (400, {"success": False, "message": "nextToken is not valid"})


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("campaigns_update", {}, "no field to change; name one of: name, timezone"),
        ("campaigns_update", {"name": None}, "name: Input should be a valid string"),
        ("campaigns_update", {"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ("campaigns_update", {"contacts": []}, "contacts is not a known field"),
        ("contacts_update", {"phone": "12"}, "phone"),
        ("contacts_update", {"phone": "+1 911"}, "phone: '+1 911' is an emergency number"),
        ("agents_update", {"provider": "vapi"}, "callerId is required for a vapi agent"),
        ("agents_update", {"twimlUrl": "https://x.test/twiml"}, "twimlUrl is only for a twilio agent"),
    ],
)
def test_a_bad_change_is_a_400_naming_the_field_and_changes_nothing(aws, name, body, message) -> None:
    campaign = a_campaign(aws)
    agent = an_agent(aws)
    function = {"campaigns": "CampaignsFunction", "contacts": "ContactsFunction", "agents": "AgentsFunction"}[
        name.split("_")[0]
    ]
    path = {"id": agent["_id"]} if name.startswith("agents") else {"id": campaign["_id"]}
    status, answer = call(aws, function, event(name, body, **path))
    assert status == 400, answer
    assert answer["success"] is False and message in answer["message"], answer
    _, read = call(aws, "CampaignsFunction", event("campaigns_get", id=campaign["_id"]))
    assert read["data"] == {k: v for k, v in campaign.items() if k not in ("duplicates", "duplicateCount")}


def test_a_patched_contact_and_campaign_answer_as_changed_and_read_back(aws: Any) -> None:
    campaign = a_campaign(aws)
    body = {"phone": "+1 (202) 555-0199", "timezone": "America/Chicago"}
    status, answer = call(aws, "ContactsFunction", event("contacts_update", body, id=campaign["_id"]))
    assert status == 200, answer
    assert answer == {
        "success": True,
        "message": "Contact updated",
        "data": {
            "_id": "ct_0000000002",
            "name": "C1",
            "phone": "+12025550199",
            "createdAt": campaign["createdAt"],
            "timezone": "America/Chicago",
        },
    }
    status, answer = call(aws, "CampaignsFunction", event("campaigns_update", {"name": "Autumn"}, id=campaign["_id"]))
    assert (status, answer["message"], answer["data"]["name"]) == (200, "Campaign updated", "Autumn")


def test_a_started_campaign_its_contacts_and_its_agent_are_409_naming_the_run(aws: Any) -> None:
    # Given a campaign whose run is going
    campaign = a_campaign(aws)
    agent = an_agent(aws)
    start = {"agentId": agent["_id"], "delayBetweenCalls": 60_000}
    status, answer = call(aws, "StartCallingFunction", event("start_calling", start, id=campaign["_id"]))
    assert status == 200, answer
    run_id = aws.table("MainTable").get_item(
        Key={"pk": keys.client_pk(CLIENT), "sk": keys.campaign_sk(campaign["_id"])}
    )["Item"]["currentRunId"]
    # When any of it is changed or deleted
    attempts = [
        ("CampaignsFunction", event("campaigns_update", {"name": "X"}, id=campaign["_id"])),
        ("CampaignsFunction", event("campaigns_delete", id=campaign["_id"])),
        ("ContactsFunction", event("contacts_update", {"name": "X"}, id=campaign["_id"])),
        ("ContactsFunction", event("contacts_delete", id=campaign["_id"])),
        ("AgentsFunction", event("agents_update", {"name": "X"}, id=agent["_id"])),
        ("AgentsFunction", event("agents_delete", id=agent["_id"])),
    ]
    # Then each is a 409 naming the run, and nothing changed
    for function, request in attempts:
        status, answer = call(aws, function, request)
        assert status == 409, (request["routeKey"], answer)
        assert answer["success"] is False and run_id in answer["message"], answer
    _, read = call(aws, "CampaignsFunction", event("campaigns_get", id=campaign["_id"]))
    assert (read["data"]["name"], read["data"]["totalContacts"]) == ("Spring", 3)


def test_a_deleted_campaign_takes_its_contacts_number_items_and_status_and_answers_404(aws: Any) -> None:
    # Given a campaign of 120 contacts, one deleted, what a crashed add left past them, and another campaign
    campaign = a_campaign(aws, 120)
    kept = a_campaign(aws, 2)
    assert call(aws, "ContactsFunction", event("contacts_delete", id=campaign["_id"]))[0] == 200
    pk = keys.campaign_pk(CLIENT, campaign["_id"])
    for sk in (keys.contact_sk(121), keys.contact_phone_sk("+12025550999")):
        aws.table("MainTable").put_item(Item={"pk": pk, "sk": sk, "phone": "+12025550999", "seq": 121})
    # When it is deleted
    status, answer = call(aws, "CampaignsFunction", event("campaigns_delete", id=campaign["_id"]))
    # Then the answer is the campaign as it was
    assert status == 200, answer
    assert (answer["message"], answer["data"]["_id"], answer["data"]["totalContacts"]) == (
        "Campaign deleted",
        campaign["_id"],
        119,
    )
    # And nothing of it is left: no contact, number item or summary
    db = boto3.client("dynamodb")
    for table in ("MainTable", "ProgressTable"):
        left = db.query(
            TableName=aws.resolver.ref(table),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.campaign_pk(CLIENT, campaign["_id"])}},
        )
        assert left["Count"] == 0, table
    # And every route answers 404
    for function, request in (
        ("CampaignsFunction", event("campaigns_get", id=campaign["_id"])),
        ("CampaignsFunction", event("campaigns_delete", id=campaign["_id"])),
        ("ContactsFunction", event("contacts_list", id=campaign["_id"])),
        ("ContactsFunction", event("contacts_update", {"name": "X"}, id=campaign["_id"])),
        ("CallingStatusFunction", event("calling_status", id=campaign["_id"])),
        ("CallLogsFunction", event("call_logs_list", id=campaign["_id"])),
    ):
        status, answer = call(aws, function, request)
        assert (status, answer["success"]) == (404, False), (request["routeKey"], answer)
    # And the other campaign is untouched
    _, read = call(aws, "CampaignsFunction", event("campaigns_get", id=kept["_id"]))
    assert read["data"]["totalContacts"] == 2


def test_a_deleted_contact_is_counted_out_by_the_campaign_and_its_status(aws: Any) -> None:
    campaign = a_campaign(aws)
    status, answer = call(aws, "ContactsFunction", event("contacts_delete", id=campaign["_id"]))
    assert (status, answer["message"], answer["data"]["_id"]) == (200, "Contact deleted", "ct_0000000003")
    _, read = call(aws, "CampaignsFunction", event("campaigns_get", id=campaign["_id"]))
    _, progress = call(aws, "CallingStatusFunction", event("calling_status", id=campaign["_id"]))
    assert read["data"]["totalContacts"] == progress["data"]["totalContacts"] == 2
    status, answer = call(aws, "ContactsFunction", event("contacts_delete", id=campaign["_id"]))
    assert (status, answer) == (404, {"success": False, "message": "contact not found"})


def test_another_clients_agent_campaign_and_contact_are_not_found(aws: Any) -> None:
    campaign = a_campaign(aws, client="client-b")
    agent = an_agent(aws, client="client-b")
    for function, request in (
        ("CampaignsFunction", event("campaigns_update", {"name": "Mine"}, id=campaign["_id"])),
        ("CampaignsFunction", event("campaigns_delete", id=campaign["_id"])),
        ("ContactsFunction", event("contacts_update", {"name": "Mine"}, id=campaign["_id"])),
        ("ContactsFunction", event("contacts_delete", id=campaign["_id"])),
        ("AgentsFunction", event("agents_update", {"name": "Mine"}, id=agent["_id"])),
        ("AgentsFunction", event("agents_delete", id=agent["_id"])),
    ):
        status, answer = call(aws, function, request)
        assert (status, answer["success"]) == (404, False), (request["routeKey"], answer)
    _, read = call(aws, "CampaignsFunction", event("campaigns_get", client="client-b", id=campaign["_id"]))
    assert read["data"]["name"] == "Spring"
