"""The run history, the call-log filters and CSV export, and the CSV import of contacts,
through their real handlers against moto (the sample events of events/, retargeted)."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

from campaign_calling.calls.export import COLUMNS
from tests.support.events import acting_for
from tests.support.stores import CLIENT, NOW, a_log, run_stores

EVENTS = Path(__file__).resolve().parents[2] / "events"
DEMO_CAMPAIGN = "cmp_demo000000000000000"
DEMO_RUN = "run-1700000000000-demo00"


def event(name: str, *, campaign: str, run: str | None = None, client: str = CLIENT, **query: str) -> dict[str, Any]:
    """The sample event ``name`` for ``client``, on ``campaign`` (and ``run``), with ``query``."""
    text = (EVENTS / f"{name}.json").read_text().replace(DEMO_CAMPAIGN, campaign)
    sample = json.loads(text.replace(DEMO_RUN, run) if run else text)
    acting_for(sample, client)
    if query:
        sample["queryStringParameters"] = query
        sample["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return sample


def call(aws: Any, function: str, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    result = aws.invoke(function, request)
    body = base64.b64decode(result["body"]).decode() if result.get("isBase64Encoded") else result["body"]
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    parsed = json.loads(body) if headers.get("content-type", "").startswith("application/json") else body
    return result["statusCode"], parsed, headers


# -- runs -----------------------------------------------------------------------------


def test_runs_are_listed_and_read_one_by_one_for_their_client_only(aws: Any) -> None:
    # Given a run of client-a's campaign that dialed one contact and completed
    stores = run_stores(aws.resolver)
    ref = stores.start_run("cmp_1", contacts=1)
    stores.claims.claim(ref, seq=1, index=0, unique_id=a_log(ref, 1).uniqueId, now_ms=NOW)
    stores.claims.complete(ref, seq=1, log=a_log(ref, 1), now_ms=NOW)
    assert stores.runs.end_run(ref, status="completed", final_index=1)

    # When its runs are listed, and the run read
    status, listed, _ = call(aws, "RunsFunction", event("runs_list", campaign="cmp_1"))
    found = call(aws, "RunsFunction", event("runs_get", campaign="cmp_1", run=ref.run_id))

    # Then both answer the run, completed, with its counters
    assert status == 200
    [run] = listed["data"]["items"]
    assert listed["data"]["nextToken"] is None
    assert (run["runId"], run["status"], run["completedCalls"], run["agentId"]) == (ref.run_id, "completed", 1, "ag_1")
    assert "retry" not in run and "callingWindow" not in run  # options it was not started with
    assert found[:2] == (200, {"success": True, "data": run})
    # And another client finds neither
    assert call(aws, "RunsFunction", event("runs_list", campaign="cmp_1", client="client-b"))[:2] == (
        404,
        {"success": False, "message": "campaign not found"},
    )
    assert call(aws, "RunsFunction", event("runs_get", campaign="cmp_1", run=ref.run_id, client="client-b"))[0] == 404
    # And a run id that could not exist is a 400 naming it
    status, body, _ = call(aws, "RunsFunction", event("runs_get", campaign="cmp_1", run="run.1"))
    assert status == 400 and "runId" in body["message"]


# -- call logs ------------------------------------------------------------------------


def test_call_log_filters_name_the_bad_parameter(aws: Any) -> None:
    run_stores(aws.resolver).start_run("cmp_1", contacts=1)
    for query, named in (
        ({"status": "answered"}, "status"),
        ({"from": "yesterday"}, "from must be an ISO 8601 instant"),
        ({"to": "2024-01-15T10:30:00"}, "to must name its time zone"),
        ({"from": "2024-01-15T11:00:00Z", "to": "2024-01-15T10:00:00Z"}, "from must be before to"),
        ({"runId": "run#1"}, "runId"),
    ):
        for name in ("call_logs_list", "call_logs_csv"):
            status, body, _ = call(aws, "CallLogsFunction", event(name, campaign="cmp_1", **query))
            assert status == 400, (name, query)
            assert named in body["message"], (name, body)


def test_the_csv_export_answers_csv_a_page_at_a_time(aws: Any) -> None:
    # Given two calls of a run
    stores = run_stores(aws.resolver)
    ref = stores.start_run("cmp_1", contacts=1)
    for seq in (1, 2):
        stores.logs.put(CLIENT, a_log(ref, seq))

    # When exported a row at a time, filtered to the run
    status, first, headers = call(
        aws, "CallLogsFunction", event("call_logs_csv", campaign="cmp_1", limit="1", runId=ref.run_id)
    )
    token = headers["x-next-token"]
    _, second, last_headers = call(
        aws, "CallLogsFunction", event("call_logs_csv", campaign="cmp_1", limit="1", runId=ref.run_id, nextToken=token)
    )

    # Then CSV, the header row first, newest first, the next page's token in a header
    assert status == 200
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(first + second, newline="")))
    assert tuple(rows[0]) == COLUMNS
    assert [r[0] for r in rows[1:]] == [a_log(ref, 2).uniqueId, a_log(ref, 1).uniqueId]
    assert "x-next-token" not in last_headers
    # And a campaign of another client is not found
    assert call(aws, "CallLogsFunction", event("call_logs_csv", campaign="cmp_1", client="client-b"))[0] == 404


# -- contacts from CSV ----------------------------------------------------------------


def test_a_csv_file_adds_its_good_rows_and_names_the_bad_ones(aws: Any) -> None:
    run_stores(aws.resolver).campaigns.create(CLIENT, "cmp_1", "Spring", NOW)

    # When the sample file (one good row, one whose number is not one) is imported
    status, body, _ = call(aws, "ContactsFunction", event("contacts_import", campaign="cmp_1"))

    # Then the good row is added with its attribute, the bad one named by line
    assert status == 200
    data = body["data"]
    assert (data["rows"], data["added"], data["totalContacts"], data["rejectedCount"]) == (2, 1, 1, 1)
    [contact] = data["contacts"]
    assert (contact["name"], contact["timezone"], contact["attributes"]) == (
        "Ada Lovelace",
        "America/New_York",
        {"plan": "gold"},
    )
    [rejected] = data["rejected"]
    assert rejected["line"] == 3 and rejected["reason"].startswith("phone: ")
    # And the contact is stored with its attributes
    _, page, _ = call(aws, "ContactsFunction", event("contacts_list", campaign="cmp_1"))
    assert page["data"]["items"][0]["attributes"] == {"plan": "gold"}


def test_the_csv_route_takes_only_csv_and_the_json_route_only_json(aws: Any) -> None:
    run_stores(aws.resolver).campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    as_json = event("contacts_import", campaign="cmp_1")
    as_json["headers"]["content-type"] = "application/json"
    status, body, _ = call(aws, "ContactsFunction", as_json)
    assert (status, body["message"]) == (415, "Content-Type must be text/csv (not 'application/json')")
    csv_to_json_route = event("contacts_add", campaign="cmp_1")
    csv_to_json_route["headers"]["content-type"] = "text/csv"
    csv_to_json_route["body"] = "name,phone\nA,+12025550101\n"
    assert call(aws, "ContactsFunction", csv_to_json_route)[0] == 415
    empty = event("contacts_import", campaign="cmp_1")
    empty.pop("body")
    status, body, _ = call(aws, "ContactsFunction", empty)
    assert (status, body["message"]) == (400, "the request has no CSV file in its body")
    encoded = event("contacts_import", campaign="cmp_1")  # as API Gateway may send it
    encoded["body"] = base64.b64encode(encoded["body"].encode()).decode()
    encoded["isBase64Encoded"] = True
    assert call(aws, "ContactsFunction", encoded)[1]["data"]["added"] == 1


def test_a_repeated_import_with_its_idempotency_key_adds_nothing_again(aws: Any) -> None:
    run_stores(aws.resolver).campaigns.create(CLIENT, "cmp_1", "Spring", NOW)
    request = event("contacts_import", campaign="cmp_1")
    request["headers"]["idempotency-key"] = "import-1"
    first = call(aws, "ContactsFunction", request)
    again = call(aws, "ContactsFunction", request)
    assert first[:2] == again[:2]
    assert first[1]["data"]["totalContacts"] == 1
    other = event("contacts_import", campaign="cmp_1")
    other["headers"]["idempotency-key"] = "import-1"
    other["body"] = "name,phone\nZed,+12025550109\n"
    assert call(aws, "ContactsFunction", other)[0] == 422
