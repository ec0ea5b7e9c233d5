"""Every function's sample event (``events/*.json``) through its real handler, against moto.

The data an event refers to is created through the handlers themselves (agent, campaign,
contacts, a started run); the sample's demo ids are then swapped for the created ones.
``aws.invoke`` gives each handler only the environment template.yaml gives its function.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from campaign_calling import wiring
from campaign_calling.runs.status import CallingStatusService
from campaign_calling.settings import get_settings
from campaign_local.auth import as_api_gateway_claims, unsigned_token
from campaign_local.lambdas import FunctionError

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

DEMO_CAMPAIGN = "cmp_demo000000000000000"
DEMO_AGENT = "ag_demo0000000000000000"

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
UNIQUE_ID = re.compile(r"aidial-\d{13}-[a-z0-9]{6}")

API_EVENTS = {
    "start_calling": "StartCallingFunction",
    "stop_calling": "StopCallingFunction",
    "pause_calling": "PauseCallingFunction",
    "resume_calling": "ResumeCallingFunction",
    "calling_status": "CallingStatusFunction",
    "make_call": "MakeCallFunction",
    "agents_create": "AgentsFunction",
    "agents_get": "AgentsFunction",
    "campaigns_create": "CampaignsFunction",
    "campaigns_get": "CampaignsFunction",
    "contacts_add": "ContactsFunction",
    "contacts_list": "ContactsFunction",
    "call_logs_list": "CallLogsFunction",
}
BODY_EVENTS = [name for name in API_EVENTS if "body" in json.loads((EVENTS / f"{name}.json").read_text())]


# -- helpers ---------------------------------------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _swap(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for demo, real in ids.items():
            value = value.replace(demo, real)
        return value
    if isinstance(value, dict):
        return {k: _swap(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_swap(v, ids) for v in value]
    return value


def retarget(event: dict[str, Any], *, campaign: str | None = None, agent: str | None = None) -> dict[str, Any]:
    """The sample API event with its demo ids replaced in path, pathParameters and body."""
    ids = {demo: real for demo, real in ((DEMO_CAMPAIGN, campaign), (DEMO_AGENT, agent)) if real}
    event = json.loads(json.dumps(event))
    event["rawPath"] = _swap(event["rawPath"], ids)
    event["requestContext"]["http"]["path"] = _swap(event["requestContext"]["http"]["path"], ids)
    if "pathParameters" in event:
        event["pathParameters"] = _swap(event["pathParameters"], ids)
    if event.get("body"):
        event["body"] = json.dumps(_swap(json.loads(event["body"]), ids))
    return event


def with_body(event: dict[str, Any], body: Any) -> dict[str, Any]:
    return {**event, "body": body if isinstance(body, str) else json.dumps(body)}


def with_query(event: dict[str, Any], **query: str) -> dict[str, Any]:
    return {**event, "queryStringParameters": query, "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items())}


def with_claims(event: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
    """The event of a token with these claims: as API Gateway's JWT authorizer puts them in
    the event (strings), and in the Authorization header it verified (their JSON types)."""
    event = json.loads(json.dumps(event))
    event["requestContext"]["authorizer"] = {"jwt": {"claims": as_api_gateway_claims(claims), "scopes": None}}
    event["headers"]["authorization"] = f"Bearer {unsigned_token(claims)}"
    return event


def with_path(event: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["rawPath"] = path
    event["requestContext"]["http"].update(method=method, path=path)
    return event


def invoke(aws: Any, logical_id: str, event: dict[str, Any]) -> Any:
    """Run the handler with only its own function's environment, as deployed."""
    return aws.invoke(logical_id, event)


def call_api(aws: Any, logical_id: str, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of one API request; never a 500, always a JSON envelope."""
    result = invoke(aws, logical_id, event)
    status = result["statusCode"]
    assert status != 500, result["body"]
    assert result["headers"]["Content-Type"] == "application/json"
    body = json.loads(result["body"])
    if status >= 400:
        assert set(body) == {"success", "message"} and body["success"] is False, body
        assert isinstance(body["message"], str) and body["message"]
    else:
        assert body["success"] is True and "data" in body, body
    return status, body


def api_error(aws: Any, logical_id: str, event: dict[str, Any]) -> tuple[int, str]:
    status, body = call_api(aws, logical_id, event)
    return status, body["message"]


def state_machine_arn(aws: Any) -> str:
    return aws.resolver.ref("CampaignCallingStateMachine")


def executions(aws: Any) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=state_machine_arn(aws))["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def status_of(aws: Any, campaign_id: str) -> dict[str, Any]:
    status, body = call_api(aws, "CallingStatusFunction", retarget(load_event("calling_status"), campaign=campaign_id))
    assert status == 200
    return body["data"]


def campaign_of(aws: Any, campaign_id: str) -> dict[str, Any]:
    status, body = call_api(aws, "CampaignsFunction", retarget(load_event("campaigns_get"), campaign=campaign_id))
    assert status == 200
    return body["data"]


def call_logs_of(aws: Any, campaign_id: str) -> list[dict[str, Any]]:
    status, body = call_api(aws, "CallLogsFunction", retarget(load_event("call_logs_list"), campaign=campaign_id))
    assert status == 200
    return body["data"]["items"]


def start(aws: Any, campaign_id: str, agent_id: str, **body: Any) -> tuple[int, dict[str, Any]]:
    event = retarget(load_event("start_calling"), campaign=campaign_id, agent=agent_id)
    if body:
        event = with_body(event, {**json.loads(event["body"]), **body})
    return call_api(aws, "StartCallingFunction", event)


def stop(aws: Any, campaign_id: str) -> tuple[int, dict[str, Any]]:
    return call_api(aws, "StopCallingFunction", retarget(load_event("stop_calling"), campaign=campaign_id))


def control(aws: Any, action: str, campaign_id: str) -> tuple[int, dict[str, Any]]:
    """pause-calling or resume-calling, from its sample event."""
    function = API_EVENTS[f"{action}_calling"]
    return call_api(aws, function, retarget(load_event(f"{action}_calling"), campaign=campaign_id))


def task_event(name: str, run: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A state machine task's sample event, with the real run of this test.

    The sample's run must describe the same run the sample API events make (the
    agents_create -> campaigns_create -> start_calling chain): only generated ids differ.
    """
    event = load_event(name)
    sample = event["run"]
    generated = {"campaignId": sample["campaignId"], "runId": sample["runId"]}
    assert {**run, **generated, "agent": {**run["agent"], "agentId": sample["agent"]["agentId"]}} == sample
    return {**event, "run": run, **overrides}


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def agent(aws: Any) -> dict[str, Any]:
    status, body = call_api(aws, "AgentsFunction", load_event("agents_create"))
    assert status == 201
    return body["data"]


@pytest.fixture
def campaign(aws: Any) -> dict[str, Any]:
    status, body = call_api(aws, "CampaignsFunction", load_event("campaigns_create"))
    assert status == 201
    return body["data"]


@pytest.fixture
def run(aws: Any, agent: dict[str, Any], campaign: dict[str, Any]) -> dict[str, Any]:
    """A started run: the RunContext its first execution was started with."""
    status, _ = start(aws, campaign["_id"], agent["_id"])
    assert status == 200
    (execution,) = executions(aws)
    return json.loads(execution["input"])["run"]


# -- the sample API events, as the contract describes them -------------------------------


def test_agents_create_event(aws: Any) -> None:
    event = load_event("agents_create")
    status, body = call_api(aws, "AgentsFunction", event)
    assert status == 201
    data = body["data"]
    assert body == {"success": True, "message": "Agent created", "data": data}
    assert re.fullmatch(r"ag_[a-z0-9]{20}", data["_id"])
    assert ISO_MS.fullmatch(data["createdAt"])
    # a generic agent of the default account (its account is not shown), with no overrides
    defaults = {"provider": "generic", "twimlUrl": None, "phoneNumberId": None}
    assert {k: v for k, v in data.items() if k not in {"_id", "createdAt"}} == defaults | json.loads(event["body"])


def test_agents_get_event(aws: Any, agent: dict[str, Any]) -> None:
    status, body = call_api(aws, "AgentsFunction", retarget(load_event("agents_get"), agent=agent["_id"]))
    assert (status, body) == (200, {"success": True, "data": agent})


def test_campaigns_create_event(aws: Any) -> None:
    status, body = call_api(aws, "CampaignsFunction", load_event("campaigns_create"))
    assert status == 201
    data = body["data"]
    assert body == {"success": True, "message": "Campaign created", "data": data}
    assert re.fullmatch(r"cmp_[a-z0-9]{20}", data["_id"])
    assert data == {
        "_id": data["_id"],
        "name": "Demo campaign",
        "totalContacts": 3,
        "isRunning": False,
        "currentRunId": None,
        "lastRunStatus": None,
        "createdAt": data["createdAt"],
        "duplicateCount": 0,
        "duplicates": [],
    }


def test_campaigns_create_without_contacts(aws: Any) -> None:
    event = with_body(load_event("campaigns_create"), {"name": "Empty"})
    status, body = call_api(aws, "CampaignsFunction", event)
    assert status == 201
    assert body["data"]["totalContacts"] == 0


def test_campaigns_get_event(aws: Any, campaign: dict[str, Any]) -> None:
    status, body = call_api(aws, "CampaignsFunction", retarget(load_event("campaigns_get"), campaign=campaign["_id"]))
    shown = {k: v for k, v in campaign.items() if k not in ("duplicates", "duplicateCount")}  # create's only
    assert (status, body) == (200, {"success": True, "data": shown})


def test_contacts_add_event(aws: Any, campaign: dict[str, Any]) -> None:
    event = retarget(load_event("contacts_add"), campaign=campaign["_id"])
    status, body = call_api(aws, "ContactsFunction", event)
    assert status == 201
    (added,) = body["data"]["contacts"]
    assert body == {
        "success": True,
        "message": "Contacts added",
        "data": {
            "campaignId": campaign["_id"],
            "added": 1,
            "totalContacts": 4,
            "contacts": [added],
            "duplicateCount": 0,
            "duplicates": [],
        },
    }
    assert added == {
        "_id": "ct_0000000004",
        "name": "Katherine Johnson",
        "phone": "+12025550103",
        "createdAt": added["createdAt"],
    }
    assert campaign_of(aws, campaign["_id"])["totalContacts"] == 4


def test_contacts_list_event_pages_in_order(aws: Any, campaign: dict[str, Any]) -> None:
    event = retarget(load_event("contacts_list"), campaign=campaign["_id"])
    status, body = call_api(aws, "ContactsFunction", event)
    assert status == 200
    first = body["data"]
    assert set(first) == {"items", "nextToken"}
    assert [c["_id"] for c in first["items"]] == ["ct_0000000001", "ct_0000000002"]
    assert set(first["items"][0]) == {"_id", "name", "phone", "createdAt"}
    assert isinstance(first["nextToken"], str)

    status, body = call_api(aws, "ContactsFunction", with_query(event, limit="2", nextToken=first["nextToken"]))
    assert status == 200
    assert [(c["_id"], c["name"], c["phone"]) for c in body["data"]["items"]] == [
        ("ct_0000000003", "Grace Hopper", "+12025550102")
    ]
    assert body["data"]["nextToken"] is None


def test_call_logs_list_event_empty(aws: Any, campaign: dict[str, Any]) -> None:
    event = retarget(load_event("call_logs_list"), campaign=campaign["_id"])
    assert call_api(aws, "CallLogsFunction", event) == (
        200,
        {"success": True, "data": {"items": [], "nextToken": None}},
    )


def test_make_call_event_dials_the_contact_once(aws: Any, agent: dict[str, Any], campaign: dict[str, Any]) -> None:
    event = retarget(load_event("make_call"), campaign=campaign["_id"], agent=agent["_id"])
    status, body = call_api(aws, "MakeCallFunction", event)
    assert status == 200
    data = body["data"]
    assert body == {"success": True, "data": data}
    assert set(data) == {"success", "uniqueId", "contact", "timestamp", "externalResponse"}
    assert data["success"] is True
    assert UNIQUE_ID.fullmatch(data["uniqueId"])
    assert data["contact"] == {"_id": "ct_0000000001", "name": "Ada Lovelace", "phone": "+12025550100"}
    assert ISO_MS.fullmatch(data["timestamp"])

    (request,) = aws.dialer.calls()
    assert request["status"] == 201
    assert request["phone"] == "+12025550100"
    assert request["headers"]["authorization"] == "Bearer ***"
    assert request["headers"]["idempotency-key"] == f"manual:{data['uniqueId']}"
    assert request["body"]["agentId"] == agent["providerAgentId"]
    assert request["body"]["callerId"] == agent["callerId"]
    assert request["body"]["metadata"]["uniqueId"] == data["uniqueId"]
    assert data["externalResponse"]["id"] == request["callId"]
    assert data["externalResponse"]["status"] == "queued"

    (log,) = call_logs_of(aws, campaign["_id"])
    assert log["uniqueId"] == data["uniqueId"]
    assert (log["source"], log["outcome"], log["runId"], log["contactId"]) == (
        "manual",
        "success",
        None,
        "ct_0000000001",
    )
    assert log["externalResponse"] == data["externalResponse"]


def test_start_calling_event(aws: Any, agent: dict[str, Any], campaign: dict[str, Any]) -> None:
    status, body = start(aws, campaign["_id"], agent["_id"])
    assert (status, body) == (
        200,
        {
            "success": True,
            "message": "Campaign calling started",
            "data": {"campaignId": campaign["_id"], "totalContacts": 3, "status": "started"},
        },
    )
    (execution,) = executions(aws)
    assert execution["status"] == "RUNNING"
    state = json.loads(execution["input"])
    assert state["cursor"] == {
        "afterSeq": 0,
        "nextIndex": 0,
        "pagesInExecution": 0,
        "contactsInExecution": 0,
        "execution": 1,
        "retryWaitsInExecution": 0,
    }
    assert execution["name"] == f"{state['run']['runId']}-0001"
    assert state["run"]["campaignId"] == campaign["_id"]
    assert state["run"]["delayMs"] == 2000
    assert state["run"]["agent"]["agentId"] == agent["_id"]
    after = campaign_of(aws, campaign["_id"])
    assert (after["isRunning"], after["currentRunId"], after["lastRunStatus"]) == (
        True,
        state["run"]["runId"],
        "running",
    )


@pytest.mark.parametrize("delay", [0, 3_600_000])
def test_start_calling_accepts_delay_bounds(
    aws: Any, agent: dict[str, Any], campaign: dict[str, Any], delay: int
) -> None:
    status, _ = start(aws, campaign["_id"], agent["_id"], delayBetweenCalls=delay)
    assert status == 200
    (execution,) = executions(aws)
    assert json.loads(execution["input"])["run"]["delayMs"] == delay


def test_calling_status_event_before_and_during_a_run(
    aws: Any, agent: dict[str, Any], campaign: dict[str, Any]
) -> None:
    assert status_of(aws, campaign["_id"]) == {
        "campaignId": campaign["_id"],
        "isRunning": False,
        "totalContacts": 3,
        "progress": None,
    }
    start(aws, campaign["_id"], agent["_id"])
    data = status_of(aws, campaign["_id"])
    progress = data["progress"]
    assert {k: data[k] for k in ("campaignId", "isRunning", "totalContacts")} == {
        "campaignId": campaign["_id"],
        "isRunning": True,
        "totalContacts": 3,
    }
    assert set(data) == {"campaignId", "isRunning", "totalContacts", "progress"}
    contract = {
        "campaignId": campaign["_id"],
        "totalContacts": 3,
        "currentIndex": 0,
        "completedCalls": 0,
        "successfulCalls": 0,
        "failedCalls": 0,
        "isRunning": True,
        "lastCallTime": None,
    }
    assert {k: progress[k] for k in contract} == contract
    assert ISO_MS.fullmatch(progress["startTime"])
    assert progress["status"] == "running"


def test_stop_calling_event(aws: Any, run: dict[str, Any]) -> None:
    campaign_id = run["campaignId"]
    assert stop(aws, campaign_id) == (
        200,
        {
            "success": True,
            "message": "Campaign calling stopped",
            "data": {"campaignId": campaign_id, "status": "stopped"},
        },
    )
    (execution,) = executions(aws)
    assert execution["status"] == "ABORTED"
    data = status_of(aws, campaign_id)
    assert data["isRunning"] is False
    assert (data["progress"]["status"], data["progress"]["isRunning"]) == ("stopped", False)
    after = campaign_of(aws, campaign_id)
    assert (after["isRunning"], after["lastRunStatus"]) == (False, "stopped")


def test_pause_and_resume_calling_events(aws: Any, agent: dict[str, Any], run: dict[str, Any]) -> None:
    campaign_id = run["campaignId"]
    assert control(aws, "pause", campaign_id) == (
        200,
        {
            "success": True,
            "message": "Campaign calling paused",
            "data": {"campaignId": campaign_id, "status": "paused"},
        },
    )
    data = status_of(aws, campaign_id)
    assert (data["isRunning"], data["progress"]["status"]) == (False, "paused")
    assert control(aws, "pause", campaign_id)[0] == 409
    refused = start(aws, campaign_id, agent["_id"])
    assert refused[0] == 409 and "resume-calling" in refused[1]["message"] and "stop-calling" in refused[1]["message"]

    assert control(aws, "resume", campaign_id) == (
        200,
        {
            "success": True,
            "message": "Campaign calling resumed",
            "data": {"campaignId": campaign_id, "status": "running"},
        },
    )
    data = status_of(aws, campaign_id)
    assert (data["isRunning"], data["progress"]["status"], data["progress"]["runId"]) == (
        True,
        "running",
        run["runId"],
    )
    assert len(executions(aws)) == 2
    assert control(aws, "resume", campaign_id)[0] == 409


def test_start_again_after_stop(aws: Any, agent: dict[str, Any], run: dict[str, Any]) -> None:
    assert stop(aws, run["campaignId"])[0] == 200
    assert start(aws, run["campaignId"], agent["_id"])[0] == 200
    assert len(executions(aws)) == 2


# -- errors ------------------------------------------------------------------------------
# Requests refused before any data is read share one moto world per test: each test runs
# all its cases and reports every case that went wrong, not just the first.


def expect_errors(aws: Any, cases: list[tuple[str, str, dict[str, Any], int, str]]) -> None:
    """``cases``: (label, logical id, event, status, text the message must contain)."""
    problems = []
    for label, logical_id, event, status, text in cases:
        got_status, message = api_error(aws, logical_id, event)
        if got_status != status or text not in message:
            problems.append(f"{label}: {got_status} {message!r}, expected {status} mentioning {text!r}")
    assert not problems, "\n".join(problems)


def test_malformed_json_body_is_400(aws: Any) -> None:
    assert BODY_EVENTS == ["start_calling", "make_call", "agents_create", "campaigns_create", "contacts_add"]
    expect_errors(
        aws,
        [
            (name, API_EVENTS[name], with_body(load_event(name), bad), 400, "JSON")
            for name in BODY_EVENTS
            for bad in ('{"name": "unterminated', "{'single': 'quotes'}", "not json at all")
        ],
    )


INVALID_FIELDS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "start_calling": [
        ({"delayBetweenCalls": -1}, "delayBetweenCalls"),
        ({"delayBetweenCalls": 3_600_001}, "delayBetweenCalls"),
        ({"delayBetweenCalls": "soon"}, "delayBetweenCalls"),
        ({"delayBetweenCalls": 1.5}, "delayBetweenCalls"),
        ({"agentId": None}, "agentId"),
        ({"agentId": ""}, "agentId"),
        ({"priority": "high"}, "priority"),
    ],
    "make_call": [
        ({"agentId": None}, "agentId"),
        ({"contactId": None}, "contactId"),
        ({"phone": "+12025550100"}, "phone"),
    ],
    "agents_create": [
        ({"callerId": "12345"}, "callerId"),
        ({"providerAgentId": None}, "providerAgentId"),
        ({"name": "   "}, "name"),
        ({"role": "admin"}, "role"),
    ],
    "campaigns_create": [
        ({"contacts": [{"name": "Bad", "phone": "555-0100"}]}, "phone"),
        ({"contacts": [{"name": "Bad", "phone": "+1202555"}]}, "phone"),
        ({"contacts": [{"name": "No phone"}]}, "phone"),
        ({"name": None}, "name"),
        ({"owner": "me"}, "owner"),
    ],
    "contacts_add": [
        ({"contacts": [{"name": "Bad", "phone": "not a number"}]}, "phone"),
        ({"contacts": []}, "contacts"),
        ({"contacts": None}, "contacts"),
        ({"contacts": [{"name": "X", "phone": "+12025550100", "email": "x@example.com"}]}, "email"),
    ],
}


@pytest.mark.parametrize("name", list(INVALID_FIELDS))
def test_invalid_field_is_400_naming_it(aws: Any, name: str) -> None:
    event = load_event(name)
    cases = []
    for change, field in INVALID_FIELDS[name]:
        body = {**json.loads(event["body"]), **change}
        body = {k: v for k, v in body.items() if v is not None}  # None: leave the field out
        cases.append((f"{name} {change}", API_EVENTS[name], with_body(event, body), 400, field))
    expect_errors(aws, cases)


def test_missing_body_is_400(aws: Any) -> None:
    cases = []
    for name in BODY_EVENTS:
        event = {k: v for k, v in load_event(name).items() if k != "body"}
        cases.append((name, API_EVENTS[name], event, 400, "request body is required"))
    expect_errors(aws, cases)


def test_a_body_that_is_not_a_json_object_is_400(aws: Any) -> None:
    # Powertools validates the first item of a list as the body: [{...}] would pass as {...}.
    cases = []
    for name in BODY_EVENTS:
        event = load_event(name)
        for bad in (f"[{event['body']}]", '"text"', "42", "null"):
            cases.append((f"{name} {bad[:20]}", API_EVENTS[name], with_body(event, bad), 400, "JSON object"))
    expect_errors(aws, cases)


def test_invalid_query_is_400_naming_it(aws: Any) -> None:
    expect_errors(
        aws,
        [
            (f"{name} {query}", API_EVENTS[name], with_query(load_event(name), **query), 400, field)
            for name in ("contacts_list", "call_logs_list")
            for query, field in (({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "x"}, "limit"))
        ],
    )


def test_next_token_of_another_campaign_is_400(aws: Any) -> None:
    ids = []
    for n in range(2):
        body = {"name": f"c{n}", "contacts": [{"name": "A", "phone": f"+1202555010{i}"} for i in range(3)]}
        ids.append(
            call_api(aws, "CampaignsFunction", with_body(load_event("campaigns_create"), body))[1]["data"]["_id"]
        )
    first_page = with_query(retarget(load_event("contacts_list"), campaign=ids[0]), limit="1")
    token = call_api(aws, "ContactsFunction", first_page)[1]["data"]["nextToken"]
    assert token
    expect_errors(
        aws,
        [
            (
                f"{name} {bad}",
                API_EVENTS[name],
                with_query(retarget(load_event(name), campaign=ids[1]), nextToken=bad),
                400,
                "nextToken is not valid",
            )
            for name in ("contacts_list", "call_logs_list")
            for bad in (token, "not-a-token")
        ],
    )


def test_unknown_campaign_is_404(aws: Any, agent: dict[str, Any]) -> None:
    # The demo campaign was never created; the agent the events name was.
    names = [n for n in API_EVENTS if "/campaigns/{id}" in load_event(n)["routeKey"]]
    assert len(names) == 10
    expect_errors(
        aws,
        [
            (name, API_EVENTS[name], retarget(load_event(name), agent=agent["_id"]), 404, "campaign not found")
            for name in names
        ],
    )
    assert executions(aws) == []
    assert aws.dialer.calls() == []


def test_unknown_agent_is_404(aws: Any, campaign: dict[str, Any]) -> None:
    cases = [("agents_get", "AgentsFunction", load_event("agents_get"), 404, "agent not found")]
    for name in ("start_calling", "make_call"):
        cases.append(
            (name, API_EVENTS[name], retarget(load_event(name), campaign=campaign["_id"]), 404, "agent not found")
        )
    expect_errors(aws, cases)
    assert executions(aws) == []
    assert aws.dialer.calls() == []


def test_unknown_contact_is_404(aws: Any, agent: dict[str, Any], campaign: dict[str, Any]) -> None:
    event = retarget(load_event("make_call"), campaign=campaign["_id"], agent=agent["_id"])
    expect_errors(
        aws,
        [
            (
                contact_id,
                "MakeCallFunction",
                with_body(event, {**json.loads(event["body"]), "contactId": contact_id}),
                404,
                "contact not found",
            )
            for contact_id in ("ct_0000000099", "ct_0000000000", "not-a-contact", "ct_1", "ct_00000000001")
        ],
    )
    assert aws.dialer.calls() == []


def test_start_while_running_is_409(aws: Any, agent: dict[str, Any], run: dict[str, Any]) -> None:
    status, body = start(aws, run["campaignId"], agent["_id"])
    assert (status, body["message"]) == (409, "campaign is already running")
    assert len(executions(aws)) == 1


def test_stop_when_not_running_is_409(aws: Any, campaign: dict[str, Any]) -> None:
    status, body = stop(aws, campaign["_id"])
    assert (status, body["message"]) == (409, "campaign is not running")


def test_stop_twice_is_409(aws: Any, run: dict[str, Any]) -> None:
    assert stop(aws, run["campaignId"])[0] == 200
    status, body = stop(aws, run["campaignId"])
    assert (status, body["message"]) == (409, "campaign is not running")


def test_start_without_contacts_is_400(aws: Any, agent: dict[str, Any]) -> None:
    created = call_api(aws, "CampaignsFunction", with_body(load_event("campaigns_create"), {"name": "Empty"}))
    status, body = start(aws, created[1]["data"]["_id"], agent["_id"])
    assert (status, body["message"]) == (400, "campaign has no contacts")
    assert executions(aws) == []


def test_workflow_that_cannot_start_is_503_and_releases_the_campaign(
    aws: Any, agent: dict[str, Any], campaign: dict[str, Any]
) -> None:
    boto3.client("stepfunctions").delete_state_machine(stateMachineArn=state_machine_arn(aws))
    status, body = start(aws, campaign["_id"], agent["_id"])
    assert status == 503
    assert body["message"].startswith("could not start the calling workflow")
    after = campaign_of(aws, campaign["_id"])
    assert (after["isRunning"], after["lastRunStatus"]) == (False, "failed")
    data = status_of(aws, campaign["_id"])
    assert (data["isRunning"], data["progress"]["status"]) == (False, "failed")


def test_requests_act_for_the_client_of_the_token(aws: Any, agent: dict[str, Any]) -> None:
    as_claims = with_claims
    own = retarget(load_event("agents_get"), agent=agent["_id"])
    assert call_api(aws, "AgentsFunction", own)[0] == 200
    other = as_claims(own, {"sub": "another-client"})
    assert api_error(aws, "AgentsFunction", other) == (404, "agent not found")
    anonymous = as_claims(own, {"email": "someone@example.com"})
    assert api_error(aws, "AgentsFunction", anonymous) == (403, "token has no 'sub' claim")
    too_long = as_claims(own, {"sub": "c" * 129})
    assert api_error(aws, "AgentsFunction", too_long) == (403, "token's 'sub' claim is longer than 128 characters")
    assert call_api(aws, "AgentsFunction", as_claims(own, {"sub": "c" * 128}))[0] == 404  # another client
    # Deployed without the authorizer, a handler still refuses to guess a client.
    unauthenticated = json.loads(json.dumps(own))
    del unauthenticated["requestContext"]["authorizer"]
    assert api_error(aws, "AgentsFunction", unauthenticated) == (401, "request is not authenticated")


@pytest.mark.parametrize(
    ("sub", "message"),
    [
        (None, "token's 'sub' claim must be a string, not null"),
        (424242, "token's 'sub' claim must be a string, not a number"),
        (["acme"], "token's 'sub' claim must be a string, not a list"),
        ({"id": "acme"}, "token's 'sub' claim must be a string, not an object"),
        (True, "token's 'sub' claim must be a string, not a boolean"),
        ("", "token's 'sub' claim is empty"),
        ("   ", "token's 'sub' claim is empty"),
        ("c" * 2048, "token's 'sub' claim is longer than 128 characters"),
        ("acme\x00", "token's 'sub' claim holds control characters"),
    ],
)
def test_a_tenant_claim_that_is_not_a_bounded_string_is_refused(aws: Any, sub: Any, message: str) -> None:
    # Given a token whose tenant claim is not a usable client id
    event = with_claims(load_event("agents_create"), {"sub": sub, "iss": "https://auth.campaign-calling.local"})

    # Then the request is refused before anything is created
    assert api_error(aws, "AgentsFunction", event) == (403, message)


def test_a_number_and_its_string_are_not_the_same_tenant(aws: Any) -> None:
    # Given an agent of client "424242"
    created = call_api(aws, "AgentsFunction", with_claims(load_event("agents_create"), {"sub": "424242"}))
    assert created[0] == 201
    own = retarget(load_event("agents_get"), agent=created[1]["data"]["_id"])

    # Then the string reaches it and the number (which API Gateway also hands over as "424242") does not
    assert call_api(aws, "AgentsFunction", with_claims(own, {"sub": "424242"}))[0] == 200
    assert api_error(aws, "AgentsFunction", with_claims(own, {"sub": 424242}))[0] == 403


def test_claims_that_are_not_the_tokens_are_refused(aws: Any) -> None:
    # Given claims in the event that differ from the token in the Authorization header
    event = with_claims(load_event("agents_create"), {"sub": "acme"})
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = "someone-else"
    assert api_error(aws, "AgentsFunction", event) == (403, "token's 'sub' claim does not match the verified claims")
    # And a header that is not a token at all
    event["headers"]["authorization"] = "Bearer not-a-token"
    assert api_error(aws, "AgentsFunction", event) == (403, "token's claims cannot be read")
    # And no header: nothing says who the caller is
    del event["headers"]["authorization"]
    assert api_error(aws, "AgentsFunction", event) == (401, "request carries no token")


def test_the_tenant_claim_is_configurable(aws: Any) -> None:
    event = load_event("agents_create")
    event = with_claims(event, {"sub": "user-1", "custom:clientId": "acme"})
    aws.use_function("AgentsFunction")
    aws.monkeypatch.setenv("TENANT_CLAIM", "custom:clientId")
    wiring.forget_services()
    created = aws.functions.invoke("AgentsFunction", event)
    assert created["statusCode"] == 201
    agent_id = json.loads(created["body"])["data"]["_id"]
    aws.monkeypatch.setenv("TENANT_CLAIM", "sub")
    wiring.forget_services()
    as_user = retarget(load_event("agents_get"), agent=agent_id)
    as_user = with_claims(as_user, {"sub": "acme"})
    # The agent belongs to client "acme" (the custom claim), not to user "user-1".
    assert aws.functions.invoke("AgentsFunction", as_user)["statusCode"] == 200


def test_unknown_route_is_404_json(aws: Any) -> None:
    """Each resolver answers a path or method it does not serve with the JSON envelope."""
    expect_errors(
        aws,
        [
            (
                f"{name} {method} {path}",
                API_EVENTS[name],
                with_path(load_event(name), method, path),
                404,
                "route not found",
            )
            for name in API_EVENTS
            for method, path in (
                ("GET", "/api/v1/client/nope"),
                ("POST", "/api/v1/client/campaigns/x/y/z"),
                # A method no route has on these paths (agents and campaigns take DELETE now).
                ("PUT", load_event(name)["rawPath"]),
            )
        ],
    )


# -- the state machine's tasks -------------------------------------------------------------


def test_load_contacts_page_event(aws: Any, run: dict[str, Any]) -> None:
    event = task_event("load_contacts_page", run)
    result = invoke(aws, "LoadContactsPageFunction", event)
    assert result == {
        "run": run,
        "cursor": {
            "afterSeq": 3,
            "nextIndex": 3,
            "pagesInExecution": 1,
            "contactsInExecution": 3,
            "execution": 1,
            "retryWaitsInExecution": 0,
        },
        "page": {
            # Ids and positions only: names and numbers never travel in the state.
            "contacts": [
                {
                    "seq": i + 1,
                    "index": i,
                    "contactId": f"ct_000000000{i + 1}",
                    "waitSeconds": 0 if i == 0 else 1,
                    "slotWaits": 0,
                    "attempt": 1,
                }
                for i in range(3)
            ],
            "running": True,
            "hasMore": False,
            "continueAsNew": False,
            "wait": False,
        },
    }
    # The sample's contact is the first one of that page.
    assert load_event("dial_contact")["contact"] == result["page"]["contacts"][0]


def test_load_contacts_page_of_a_stopped_run(aws: Any, run: dict[str, Any]) -> None:
    stop(aws, run["campaignId"])
    result = invoke(aws, "LoadContactsPageFunction", task_event("load_contacts_page", run))
    assert result["page"] == {"contacts": [], "running": False, "hasMore": False, "continueAsNew": False, "wait": False}


def test_dial_contact_event_dials_once(aws: Any, agent: dict[str, Any], run: dict[str, Any]) -> None:
    result = aws.invoke("DialContactFunction", task_event("dial_contact", run))
    assert set(result) == {"dialed", "uniqueId", "outcome", "next"}
    assert result["next"] == "done"
    assert (result["dialed"], result["outcome"]) == (True, "success")
    assert UNIQUE_ID.fullmatch(result["uniqueId"])

    (request,) = aws.dialer.calls()
    assert (request["status"], request["phone"]) == (201, "+12025550100")
    assert request["headers"]["authorization"] == "Bearer ***"
    assert request["headers"]["idempotency-key"] == f"{run['runId']}:1:1"
    assert request["body"]["agentId"] == agent["providerAgentId"]
    assert request["body"]["metadata"] == {
        "uniqueId": result["uniqueId"],
        "campaignId": run["campaignId"],
        "contactId": "ct_0000000001",
        "clientId": run["clientId"],
    }

    progress = status_of(aws, run["campaignId"])["progress"]
    assert (progress["completedCalls"], progress["successfulCalls"], progress["failedCalls"]) == (1, 1, 0)
    assert progress["currentIndex"] == 0
    assert ISO_MS.fullmatch(progress["lastCallTime"])
    (log,) = call_logs_of(aws, run["campaignId"])
    assert (log["uniqueId"], log["source"], log["runId"], log["outcome"]) == (
        result["uniqueId"],
        "campaign",
        run["runId"],
        "success",
    )
    # The name and number were read from the contact: the event carries neither.
    assert (log["contactName"], log["phone"]) == ("Ada Lovelace", "+12025550100")
    assert log["externalResponse"]["id"] == request["callId"]


def test_dial_contact_delivered_twice_dials_once(aws: Any, run: dict[str, Any]) -> None:
    # No pacing wait before the second delivery.
    event = {**task_event("dial_contact", run), "run": {**run, "delayMs": 0}}
    first = aws.invoke("DialContactFunction", event)
    again = aws.invoke("DialContactFunction", event)
    assert again == {**first, "reason": "already dialed"}
    assert len(aws.dialer.calls()) == 1
    assert status_of(aws, run["campaignId"])["progress"]["completedCalls"] == 1


def test_dial_contact_of_a_stopped_run_does_not_dial(aws: Any, run: dict[str, Any]) -> None:
    stop(aws, run["campaignId"])
    result = aws.invoke("DialContactFunction", task_event("dial_contact", run))
    assert result == {"dialed": False, "reason": "run stopped", "next": "done"}
    assert aws.dialer.calls() == []


def test_record_dial_failure_event(aws: Any, run: dict[str, Any]) -> None:
    result = invoke(aws, "RecordDialFailureFunction", task_event("record_dial_failure", run))
    assert set(result) == {"dialed", "uniqueId", "outcome", "reason", "next"}
    assert (result["dialed"], result["outcome"], result["reason"]) == (False, "failed", "dial step failed")
    assert aws.dialer.calls() == []
    (log,) = call_logs_of(aws, run["campaignId"])
    assert (log["uniqueId"], log["outcome"], log["error"], log["contactId"]) == (
        result["uniqueId"],
        "failed",
        "not dialed: States.Timeout",
        "ct_0000000001",
    )
    assert (log["contactName"], log["phone"]) == ("Ada Lovelace", "+12025550100")
    progress = status_of(aws, run["campaignId"])["progress"]
    assert (progress["completedCalls"], progress["successfulCalls"], progress["failedCalls"]) == (1, 0, 1)


def test_continue_run_event_starts_the_next_execution(aws: Any, run: dict[str, Any]) -> None:
    (first,) = executions(aws)
    sample = load_event("continue_run")
    # The sample names the local engine's state machine, so it works there as it is.
    assert sample["stateMachineArn"] == state_machine_arn(aws)
    event = task_event("continue_run", run, executionArn=first["executionArn"])
    result = invoke(aws, "ContinueRunFunction", event)
    assert result == {"continued": True, "nextExecutionArn": result["nextExecutionArn"]}

    described = boto3.client("stepfunctions").describe_execution(executionArn=result["nextExecutionArn"])
    assert described["name"] == f"{run['runId']}-0002"
    assert described["status"] == "RUNNING"
    assert json.loads(described["input"]) == {
        "run": run,
        "cursor": {
            **sample["cursor"],
            "pagesInExecution": 0,
            "contactsInExecution": 0,
            "retryWaitsInExecution": 0,
            "execution": 2,
        },
    }
    # A repeated hand-over is the same execution, not a second one.
    assert invoke(aws, "ContinueRunFunction", event) == result
    assert len(executions(aws)) == 2
    # Stop now reaches the new execution.
    stop(aws, run["campaignId"])
    assert (
        boto3.client("stepfunctions").describe_execution(executionArn=result["nextExecutionArn"])["status"] == "ABORTED"
    )


def test_continue_run_of_a_stopped_run_does_not_continue(aws: Any, run: dict[str, Any]) -> None:
    (first,) = executions(aws)
    stop(aws, run["campaignId"])
    event = task_event("continue_run", run, executionArn=first["executionArn"])
    assert invoke(aws, "ContinueRunFunction", event) == {"continued": False, "nextExecutionArn": None}
    assert len(executions(aws)) == 1


def test_finalise_run_event(aws: Any, agent: dict[str, Any], run: dict[str, Any]) -> None:
    assert invoke(aws, "FinaliseRunFunction", task_event("finalise_run", run)) == {"result": "completed"}
    data = status_of(aws, run["campaignId"])
    assert data["isRunning"] is False
    assert (data["progress"]["status"], data["progress"]["currentIndex"]) == ("completed", 3)
    assert ISO_MS.fullmatch(data["progress"]["endTime"])
    after = campaign_of(aws, run["campaignId"])
    assert (after["isRunning"], after["lastRunStatus"]) == (False, "completed")
    assert invoke(aws, "FinaliseRunFunction", task_event("finalise_run", run)) == {"result": "already ended"}
    # The campaign is released: it can run again.
    assert start(aws, run["campaignId"], agent["_id"])[0] == 200


def test_an_execution_end_that_is_not_eventbridges_event_is_rejected(aws: Any) -> None:
    # Given the sample execution-end event without EventBridge's own fields
    event = {"detail": load_event("execution_finaliser")["detail"]}
    # Then the finaliser refuses it, as Powertools' EventBridge model does
    with pytest.raises(FunctionError) as raised:
        aws.invoke("ExecutionFinaliserFunction", event)
    assert raised.value.payload["errorType"] == "ValidationError"


def test_task_events_are_rejected_when_malformed(aws: Any) -> None:
    # The error reaches the execution's history: named, its details (which may quote the
    # input) only in the function's log.
    with pytest.raises(FunctionError, match="details withheld") as raised:
        aws.invoke("DialContactFunction", {"run": load_event("dial_contact")["run"]})
    assert raised.value.payload["errorType"] == "ValidationError"


# -- each function with exactly its own environment ---------------------------------------


def test_calling_status_as_deployed(aws: Any, campaign: dict[str, Any]) -> None:
    result = aws.invoke("CallingStatusFunction", retarget(load_event("calling_status"), campaign=campaign["_id"]))
    assert result["statusCode"] == 200, result["body"]


@pytest.mark.parametrize(
    ("name", "logical_id"),
    [
        ("load_contacts_page", "LoadContactsPageFunction"),
        ("record_dial_failure", "RecordDialFailureFunction"),
        ("continue_run", "ContinueRunFunction"),
        ("finalise_run", "FinaliseRunFunction"),
    ],
)
def test_run_step_as_deployed(aws: Any, run: dict[str, Any], name: str, logical_id: str) -> None:
    overrides = {"executionArn": executions(aws)[0]["executionArn"]} if name == "continue_run" else {}
    result = aws.invoke(logical_id, task_event(name, run, **overrides))
    assert isinstance(result, dict)


def test_a_function_missing_a_variable_fails_its_first_invocation_naming_it(aws: Any) -> None:
    # Given the make-call function deployed without its provider's address
    aws.use_function("MakeCallFunction")
    aws.monkeypatch.delenv("DIALER_BASE_URL")
    get_settings.cache_clear()
    # When it is invoked, before it does anything
    with pytest.raises(FunctionError) as raised:
        aws.functions.invoke("MakeCallFunction", load_event("make_call"))
    # Then it fails, naming the variable
    assert raised.value.payload["errorType"] == "ConfigurationError"
    assert raised.value.payload["errorMessage"] == "environment variable DIALER_BASE_URL is not set"


def test_an_answer_its_response_model_refuses_is_500_and_names_no_value(
    aws: Any, campaign: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a service that answers what the route's response model refuses
    refused = {"campaignId": campaign["_id"], "isRunning": "now and then", "totalContacts": 3, "progress": None}
    monkeypatch.setattr(CallingStatusService, "status", lambda *_: refused)
    # When the route answers
    result = aws.invoke("CallingStatusFunction", retarget(load_event("calling_status"), campaign=campaign["_id"]))
    # Then the client gets a 500 envelope, not a 400 about its request
    assert result["statusCode"] == 500
    assert json.loads(result["body"]) == {"success": False, "message": "internal error"}
    # And the function's log names the field, not its value
    (record,) = [r for r in caplog.records if r.getMessage() == "data refused by its model"]
    assert record.fields == ["data.isRunning (bool_parsing)"]
    assert "now and then" not in caplog.text
