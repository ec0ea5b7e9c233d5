"""The local engine itself, as a newcomer meets it: its log, its restarts, its index page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign_local.demo import ensure_demo_data
from tests.support.e2e import CampaignSetup, Engine, faults_cleared, running_engine, wait_until

pytestmark = pytest.mark.e2e

BASE = "/api/v1/client/campaigns"


def log_records(engine: Engine, since: int) -> list[dict[str, Any]]:
    """The handlers' structured log lines written after byte ``since`` of the engine's log."""
    records = []
    with engine.log_path.open("rb") as log:
        log.seek(since)
        for line in log.read().decode(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    return records


def finished(api: httpx.Client, campaign_id: str) -> bool:
    data = api.get(f"{BASE}/{campaign_id}/calling-status").json()["data"]
    return bool(data["progress"]) and not data["isRunning"]


def test_each_invocation_logs_with_its_own_function_name_and_keys(
    engine: Engine, api: httpx.Client, make_campaign: Callable[[int], CampaignSetup]
) -> None:
    # Given two campaigns calling at once while single calls are placed on a third
    since = engine.log_path.stat().st_size
    runs = [make_campaign(4), make_campaign(4)]
    manual = make_campaign(4)
    contacts = api.get(f"{BASE}/{manual.campaign_id}/contacts").json()["data"]["items"]

    def start(setup: CampaignSetup) -> int:
        body = {"agentId": setup.agent_id, "delayBetweenCalls": 0}
        return api.post(f"{BASE}/{setup.campaign_id}/start-calling", json=body).status_code

    def call(contact_index: int) -> int:
        body = {"contactId": contacts[contact_index]["_id"], "agentId": manual.agent_id}
        response = api.post(f"{BASE}/{manual.campaign_id}/make-call", json=body)
        return response.status_code

    # When every function runs concurrently with the others in the one engine process
    with ThreadPoolExecutor(max_workers=6) as pool:
        started = list(pool.map(start, runs))
        placed = list(pool.map(call, range(4)))
    assert started == [200, 200], started
    assert placed == [200] * 4, placed
    for setup in runs:
        wait_until(lambda s=setup: finished(api, s.campaign_id), timeout=60, what="the runs", log=engine.log_path)

    # Then every record names the function that wrote it and carries only that invocation's keys
    records = log_records(engine, since)
    by_message: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_message.setdefault(record.get("message", ""), []).append(record)
    dials = [r for r in by_message["dial step done"] if r.get("campaign_id") in {s.campaign_id for s in runs}]
    assert len(dials) == 8
    assert {r["function_name"] for r in dials} == {"DialContactFunction"}
    assert all("correlation_id" not in r for r in dials), "an API request's key in a dial record"
    single = [r for r in by_message["single call placed"] if r.get("campaign_id") == manual.campaign_id]
    assert len(single) == 4
    assert {r["function_name"] for r in single} == {"MakeCallFunction"}
    assert all("contact_index" not in r and "run_id" not in r for r in single), "a dial's keys in make-call"
    pages = by_message["page loaded"]
    assert pages and {r["function_name"] for r in pages} == {"LoadContactsPageFunction"}
    assert all("contact_index" not in r and "correlation_id" not in r for r in pages)


def test_stopping_a_run_logs_no_error(
    engine: Engine, api: httpx.Client, make_campaign: Callable[[int], CampaignSetup]
) -> None:
    # Given a run waiting between calls, inside the state machine's Map
    setup = make_campaign(3)
    since = engine.log_path.stat().st_size
    body = {"agentId": setup.agent_id, "delayBetweenCalls": 3000}
    assert api.post(f"{BASE}/{setup.campaign_id}/start-calling", json=body).status_code == 200
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=30, what="the first call", log=engine.log_path)
    # When it is stopped (StopExecution aborts the Map iteration)
    assert api.post(f"{BASE}/{setup.campaign_id}/stop-calling").status_code == 200
    run_id = api.get(f"{BASE}/{setup.campaign_id}/calling-status").json()["data"]["progress"]["runId"]
    sfn = engine.aws_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    running = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
    wait_until(
        lambda: not [e for page in running for e in page["executions"] if e["name"].startswith(run_id)],
        timeout=30,
        what="the execution to end",
        log=engine.log_path,
    )
    # Then the engine's log has no ERROR line: stopping is not a crash
    with engine.log_path.open("rb") as log:
        log.seek(since)
        errors = [line[:200] for line in log.read().decode(errors="replace").splitlines() if "ERROR" in line]
    assert errors == []


def test_the_index_page_names_the_api_and_its_docs(engine: Engine) -> None:
    # When a browser opens the engine's root
    response = httpx.get(f"{engine.api_url}/", timeout=10)
    # Then it answers where the API and its docs are, rather than 404
    assert response.status_code == 200
    assert response.json()["data"] == {
        "api": f"{engine.api_url}/api/v1/client",
        "docs": f"{engine.api_url}/api/v1/docs",
        "openapi": f"{engine.api_url}/api/v1/openapi.json",
    }


def test_tables_survive_a_restart_and_a_run_in_flight_is_closed(tmp_path: Path) -> None:
    # Given an engine with an agent, a campaign, and a run calling
    with running_engine(tmp_path) as first, first.client() as api:
        agent = api.post("/api/v1/client/agents", json={"name": "Kept", "providerAgentId": "a-1"}).json()["data"]
        contacts = [{"name": f"C {i}", "phone": f"+1202555{100 + i:04d}"} for i in range(20)]
        campaign = api.post(f"{BASE}", json={"name": "Kept", "contacts": contacts}).json()["data"]
        body = {"agentId": agent["_id"], "delayBetweenCalls": 200}
        assert api.post(f"{BASE}/{campaign['_id']}/start-calling", json=body).status_code == 200
        wait_until(lambda: first.calls_for(campaign["_id"]), timeout=30, what="the first call", log=first.log_path)
    # (stopping it with a run in flight logs no error either)
    assert [line for line in first.log_path.read_text().splitlines() if "ERROR" in line] == []
    # When it stops and starts again (its executions do not survive; the sweeper's grace is short here)
    sweep_soon = {"LOCAL_SWEEP_SECONDS": "1", "RUN_SWEEP_GRACE_SECONDS": "0"}
    with running_engine(tmp_path, sweep_soon) as second, second.client() as api:
        # Then the agent, the campaign and its contacts are there
        assert api.get(f"/api/v1/client/agents/{agent['_id']}").json()["data"]["name"] == "Kept"
        kept = api.get(f"{BASE}/{campaign['_id']}").json()["data"]
        assert kept["totalContacts"] == 20
        assert api.get(f"{BASE}/{campaign['_id']}/call-logs").json()["data"]["items"]
        # And the run that was in flight is closed as failed by the sweeper, not left running
        progress = wait_until(
            lambda: (p := status_of(api, campaign["_id"]))["status"] != "running" and p,
            timeout=30,
            what="the sweeper to close the run",
            log=second.log_path,
        )
        assert progress["status"] == "failed"
        assert "never started" in progress["reason"]
    # When it starts again with --reset (make run RESET=1)
    with running_engine(tmp_path, args=("--reset",)) as third, third.client() as api:
        # Then the tables are empty
        assert api.get(f"/api/v1/client/agents/{agent['_id']}").status_code == 404
        assert api.get(f"{BASE}/{campaign['_id']}").status_code == 404


def status_of(api: httpx.Client, campaign_id: str) -> dict[str, Any]:
    return api.get(f"{BASE}/{campaign_id}/calling-status").json()["data"]["progress"]


def test_the_demo_data_is_kept_across_starts_while_it_exists(engine: Engine, tmp_path: Path) -> None:
    # Given demo data created on a first start
    with engine.client("demo-e2e") as demo_client:
        first = ensure_demo_data(demo_client, tmp_path / "demo-ids.json")
        # When the engine starts again with its tables kept, Then the same demo is used
        assert ensure_demo_data(demo_client, tmp_path / "demo-ids.json") == first
    # And when the tables were reset (the ids name nothing), a new demo is created
    with engine.client("demo-e2e-reset") as api:
        fresh = ensure_demo_data(api, tmp_path / "demo-ids.json")
        assert fresh != first
        assert api.get(f"{BASE}/{fresh.campaign_id}").json()["data"]["totalContacts"] == 10


@pytest.fixture
def no_fault_left(engine: Engine) -> Iterator[Engine]:
    yield from faults_cleared(engine)


def test_both_fault_switches_speak_one_vocabulary(no_fault_left: Engine) -> None:
    engine = no_fault_left
    # Given the simulated provider's fault fields: mode, count (omitted: until cleared), latencyMs
    fault = {"mode": "slow", "latencyMs": 5}

    # When the same fields switch a provider fault and a function's fault of the engine
    provider = httpx.post(f"{engine.dialer_url}/faults", json=fault, timeout=10).json()
    listed = httpx.post(
        f"{engine.lambda_url}/faults", json={**fault, "mode": "delay", "function": "DialContactFunction"}
    ).json()

    # Then both read them alike
    assert (provider["mode"], provider["count"], provider["latencyMs"]) == ("slow", None, 5)
    assert listed == [{"function": "DialContactFunction", "mode": "delay", "count": None, "latencyMs": 5}]
    # And "mode": "none" clears either
    assert httpx.post(f"{engine.dialer_url}/faults", json={"mode": "none"}, timeout=10).json()["mode"] == "none"
    assert httpx.post(f"{engine.lambda_url}/faults", json={"mode": "none"}, timeout=10).json() == []
