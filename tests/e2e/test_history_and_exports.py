"""Run history, call-log filters and CSV export, contacts from a CSV file, end to end on the
local engine: a run's history outlives its progress item; the export is the call logs."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from campaign_calling import keys
from campaign_cli.client import CampaignApi, data
from tests.support.e2e import CAMPAIGNS, CLIENT_A, CampaignSetup, Engine, calling_status, start_calling, wait_until

pytestmark = pytest.mark.e2e


def finished(api: CampaignApi, engine: Engine, campaign_id: str) -> dict[str, Any]:
    """The campaign's run, once it has completed (its progress, as calling-status shows it)."""
    return wait_until(
        lambda: (s := calling_status(api, campaign_id))["progress"] and s["progress"]["status"] == "completed" and s,
        timeout=60,
        what="the run to complete",
        log=engine.log_path,
    )["progress"]


def runs_of(api: CampaignApi, campaign_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"{CAMPAIGNS}/{campaign_id}/runs", params=params)
    assert response.status_code == 200, response.text
    return data(response)


def csv_export(api: CampaignApi, campaign_id: str, **params: Any) -> tuple[list[list[str]], int]:
    """Every page of the export, concatenated (the token in X-Next-Token); and how many pages."""
    text, pages, token = "", 0, None
    while True:
        response = api.get(
            f"{CAMPAIGNS}/{campaign_id}/call-logs.csv", params={**params, **({"nextToken": token} if token else {})}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        text, pages = text + response.text, pages + 1
        token = response.headers.get("x-next-token")
        if token is None:
            return list(csv.reader(io.StringIO(text, newline=""))), pages


def test_a_runs_history_outlives_its_progress_item(engine: Engine, api: CampaignApi, make_campaign) -> None:
    # Given a campaign of 3 whose run completed
    setup: CampaignSetup = make_campaign(3)
    start_calling(api, setup, 0)
    progress = finished(api, engine, setup.campaign_id)
    run_id = progress["runId"]

    # When its runs are listed, and the run read, once every call's final status is in (the
    # provider's webhooks move its live outcomes after the run completed)
    one = wait_until(
        lambda: (
            (r := data(api.get(f"{CAMPAIGNS}/{setup.campaign_id}/runs/{run_id}")))["outcomes"]["pending"] == 0 and r
        ),
        timeout=30,
        what="every call's final status",
    )
    [listed] = runs_of(api, setup.campaign_id)["items"]

    # Then it is there as it ended, started with its agent and delay
    assert listed == one
    assert (one["runId"], one["status"], one["agentId"], one["delayBetweenCalls"]) == (
        run_id,
        "completed",
        setup.agent_id,
        0,
    )
    assert (one["completedCalls"], one["successfulCalls"], one["totalContacts"]) == (3, 3, 3)
    assert one["startTime"] == progress["startTime"] and one["endTime"] == progress["endTime"]

    # When its progress item is gone, as DynamoDB's TTL deletes it ProgressTtlSeconds after the
    # end (moto never deletes expired items; deleting it is exactly what the TTL does to it),
    # once the last webhook has copied the counters into the history (just after its write)
    db = engine.aws_client("dynamodb")
    history_key = {"pk": {"S": keys.run_history_pk(CLIENT_A, setup.campaign_id)}, "sk": {"S": keys.run_sk(run_id)}}
    wait_until(
        lambda: db.get_item(TableName="ProgressTable", Key=history_key)["Item"]["settledCalls"] == {"N": "3"},
        timeout=10,
        what="the history's copy of the last final status",
    )
    db.delete_item(
        TableName="ProgressTable",
        Key={"pk": {"S": keys.campaign_pk(CLIENT_A, setup.campaign_id)}, "sk": {"S": keys.run_sk(run_id)}},
    )
    assert calling_status(api, setup.campaign_id)["progress"] is None

    # Then the history still answers the run, its final counters and outcomes included
    after = data(api.get(f"{CAMPAIGNS}/{setup.campaign_id}/runs/{run_id}"))
    assert {k: after[k] for k in ("status", "completedCalls", "successfulCalls", "endTime")} == {
        k: one[k] for k in ("status", "completedCalls", "successfulCalls", "endTime")
    }
    assert after["outcomes"] == one["outcomes"] and after["outcomes"]["completed"] == 3
    assert runs_of(api, setup.campaign_id)["items"] == [after]


def test_a_paused_run_is_listed_paused_with_its_options_then_stopped(
    engine: Engine, api: CampaignApi, make_campaign
) -> None:
    setup: CampaignSetup = make_campaign(4)
    started = api.start_calling(
        setup.campaign_id,
        setup.agent_id,
        500,
        max_concurrent_calls=2,
        retry={"maxAttempts": 2, "retryDelaySeconds": 60},
    )
    assert started.status_code == 200, started.text
    [running] = runs_of(api, setup.campaign_id)["items"]
    assert (running["status"], running["isRunning"], running["maxConcurrentCalls"]) == ("running", True, 2)
    assert running["retry"]["maxAttempts"] == 2
    assert api.pause_calling(setup.campaign_id).status_code == 200
    assert runs_of(api, setup.campaign_id)["items"][0]["status"] == "paused"
    assert api.stop_calling(setup.campaign_id).status_code == 200
    [stopped] = runs_of(api, setup.campaign_id)["items"]
    assert (stopped["status"], stopped["reason"]) == ("stopped", "stopped by request")


def test_call_logs_filtered_by_run_status_and_time_and_exported_as_csv(
    engine: Engine, api: CampaignApi, make_campaign
) -> None:
    # Given two completed runs of a campaign of 3
    setup: CampaignSetup = make_campaign(3)
    run_ids = []
    for _ in range(2):
        start_calling(api, setup, 0)
        run_ids.append(finished(api, engine, setup.campaign_id)["runId"])
    logs = api.all_call_logs(setup.campaign_id)
    assert len(logs) == 6
    wait_until(
        lambda: all(log["status"] == "completed" for log in api.all_call_logs(setup.campaign_id)),
        timeout=30,
        what="every call's final status",
    )
    logs = api.all_call_logs(setup.campaign_id)
    first_run = [log for log in logs if log["runId"] == run_ids[0]]

    def listed(**params: Any) -> list[str]:
        response = api.get(f"{CAMPAIGNS}/{setup.campaign_id}/call-logs", params={"limit": 2, **params})
        assert response.status_code == 200, response.text
        ids, token = [log["uniqueId"] for log in data(response)["items"]], data(response)["nextToken"]
        while token:
            page = data(
                api.get(f"{CAMPAIGNS}/{setup.campaign_id}/call-logs", params={**params, "limit": 2, "nextToken": token})
            )
            ids, token = ids + [log["uniqueId"] for log in page["items"]], page["nextToken"]
        return ids

    # When filtered, Then exactly the matching logs, newest first, across pages
    assert listed(runId=run_ids[0]) == [log["uniqueId"] for log in first_run]
    assert listed(status="completed") == [log["uniqueId"] for log in logs]
    assert listed(status="busy") == []
    window = {"from": logs[4]["startedAt"], "to": logs[1]["startedAt"]}  # from included, to not
    in_window = [log["uniqueId"] for log in logs if window["from"] <= log["startedAt"] < window["to"]]
    assert listed(**window) == in_window and len(in_window) >= 3
    bad = api.get(f"{CAMPAIGNS}/{setup.campaign_id}/call-logs", params={"from": "last tuesday"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("from must be an ISO 8601 instant")

    # When exported as CSV two rows a page
    rows, pages = csv_export(api, setup.campaign_id, limit=2)

    # Then one header row, then every call log, newest first, as the list shows it
    header, *body = rows
    assert (header[:3], pages) == (["uniqueId", "startedAt", "endedAt"], 3)
    shown = [dict(zip(header, row, strict=True)) for row in body]
    assert [r["uniqueId"] for r in shown] == [log["uniqueId"] for log in logs]
    assert [(r["phone"], r["contactName"], r["status"], r["runId"]) for r in shown] == [
        (log["phone"], log["contactName"], log["status"], log["runId"]) for log in logs
    ]
    # And filtered like the list
    rows, _ = csv_export(api, setup.campaign_id, runId=run_ids[1])
    assert [row[0] for row in rows[1:]] == [log["uniqueId"] for log in logs if log["runId"] == run_ids[1]]


def test_contacts_from_a_csv_with_a_bad_row(engine: Engine, api: CampaignApi, make_campaign) -> None:
    # Given a campaign holding one number
    setup: CampaignSetup = make_campaign(1)
    held = setup.phones[0]
    csv_file = (
        "name,phone,timezone,plan\n"
        "Ada Lovelace,+1 202 555 0171,Europe/London,gold\n"
        "Charles Babbage,not a number,,silver\n"
        f"Held Again,{held},,\n"
        'Grace "Amazing" Hopper,+12025550172,,"platinum, lifetime"\n'
    )

    # When it is posted as a CSV file
    response = api.post(
        f"{CAMPAIGNS}/{setup.campaign_id}/contacts.csv", content=csv_file, headers={"content-type": "text/csv"}
    )

    # Then the good rows are added, the bad one named by its line, the duplicate by its line
    assert response.status_code == 200, response.text
    imported = data(response)
    assert (imported["rows"], imported["added"], imported["totalContacts"]) == (4, 2, 3)
    assert [r["line"] for r in imported["rejected"]] == [3]
    assert imported["duplicates"] == [{"line": 4, "phone": held}]
    # And the contacts are stored with their time zone and attributes, after the first one
    contacts = data(api.get(f"{CAMPAIGNS}/{setup.campaign_id}/contacts"))["items"]
    assert [(c["name"], c.get("timezone"), c.get("attributes")) for c in contacts[1:]] == [
        ("Ada Lovelace", "Europe/London", {"plan": "gold"}),
        ('Grace "Amazing" Hopper', None, {"plan": "platinum, lifetime"}),
    ]
    # And the JSON form still takes JSON only, and the CSV route CSV only
    as_csv = api.post(
        f"{CAMPAIGNS}/{setup.campaign_id}/contacts", content=csv_file, headers={"content-type": "text/csv"}
    )
    assert as_csv.status_code == 415
    as_json = api.post(f"{CAMPAIGNS}/{setup.campaign_id}/contacts.csv", json={"contacts": []})
    assert as_json.status_code == 415
