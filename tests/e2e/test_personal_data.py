"""No name and no phone number in any execution's history: Step Functions keeps every
state's input and output, every task's error and cause, and StopExecution's cause for 90
days after an execution ends, readable by anyone with console access. The state machine
carries contacts by id and position; the dial step reads the name and number.

The engine here has pages of 2 contacts, one page an execution (so runs cross hand-overs,
whose input is in the history too), and a run pauses after 2 failed calls in a row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from campaign_calling import keys
from tests.support.e2e import (
    CLIENT_A,
    CampaignSetup,
    Engine,
    all_call_logs,
    faults_cleared,
    running_engine,
    start_calling,
    wait_until,
)

pytestmark = pytest.mark.e2e

BASE = "/api/v1/client/campaigns"


@pytest.fixture(scope="module")
def own_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    env = {"LOCAL_PARAMETER_OVERRIDES": "ContactsPageSize=2 PagesPerExecution=1 PauseAfterConsecutiveFailures=2"}
    with running_engine(tmp_path_factory.mktemp("personal-data"), env) as started:
        yield started


@pytest.fixture
def engine(own_engine: Engine) -> Iterator[Engine]:
    yield from faults_cleared(own_engine)


def new_campaign(api: httpx.Client, first: int, contacts: int) -> tuple[CampaignSetup, list[str]]:
    """Distinctive names, and numbers entered as people write them (stored in E.164)."""
    names = [f"Zebulon Quixote-Farthingale {chr(65 + i)}" for i in range(contacts)]
    written = [f"+1 (202) 555-{first + i:04d}" for i in range(contacts)]
    agent = api.post("/api/v1/client/agents", json={"name": "PII", "providerAgentId": "assistant"}).json()["data"]
    body = {"name": "PII", "contacts": [{"name": n, "phone": p} for n, p in zip(names, written, strict=True)]}
    campaign = api.post("/api/v1/client/campaigns", json=body).json()["data"]
    phones = [f"+1202555{first + i:04d}" for i in range(contacts)]
    return CampaignSetup(campaign["_id"], agent["_id"], phones), names


def ended(api: httpx.Client, engine: Engine, campaign_id: str) -> dict[str, Any]:
    def progress() -> dict[str, Any] | None:
        data = api.get(f"{BASE}/{campaign_id}/calling-status").json()["data"]
        return data["progress"] if data["progress"] and not data["isRunning"] else None

    final = wait_until(progress, timeout=60, what="the run to end", interval=0.2, log=engine.log_path)
    wait_until(
        lambda: all(e["status"] != "RUNNING" for e in executions(engine, final["runId"])),
        timeout=30,
        what="the run's executions to end",
    )
    return final


def executions(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    sfn = engine.aws_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    found = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        found += [e for e in page["executions"] if e["name"].startswith(run_id)]
    return found


def histories(engine: Engine, run_id: str) -> str:
    """Every event of every execution of the run (GetExecutionHistory), and each
    execution's input, output, error and cause (DescribeExecution), as JSON."""
    sfn = engine.aws_client("stepfunctions")
    texts = []
    for execution in executions(engine, run_id):
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        texts.append(json.dumps({k: described.get(k) for k in ("input", "output", "error", "cause")}))
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"]):
            texts += [json.dumps(event, default=str) for event in page["events"]]
    return "\n".join(texts)


def personal_data_in(text: str, names: list[str], phones: list[str]) -> list[str]:
    """Each name (or its distinctive part), and each number in any form: E.164, digits
    only, national, with or without separators."""
    without_separators = re.sub(r"[\s().-]", "", text)
    found = [n for n in names if n in text or n.split()[1] in text]
    for phone in phones:
        digits = phone[1:]
        found += [form for form in (phone, digits, digits[1:]) if form in text or form in without_separators]
    return sorted(set(found))


def test_no_execution_history_holds_a_name_or_a_number(api, engine):
    # Given a campaign of 6 contacts whose run crosses hand-overs, whose first dial step
    # crashes after dialing on every attempt (so a Catch puts its error in the state and
    # the dial-failure task runs)
    setup, names = new_campaign(api, 730, 6)
    engine.set_lambda_fault("DialContactFunction", "error-after", count=3)
    # When it runs, and the second contact is deleted (as a DELETE would) once its page was
    # loaded and before its turn (the first contact's crashes are retried seconds apart)
    start_calling(api, setup, delay_ms=1000)
    wait_until(lambda: engine.calls_for(setup.campaign_id), timeout=10, what="the first dial")
    second = {"pk": {"S": keys.campaign_pk(CLIENT_A, setup.campaign_id)}, "sk": {"S": keys.contact_sk(2)}}
    engine.aws_client("dynamodb").delete_item(TableName="MainTable", Key=second)
    progress = ended(api, engine, setup.campaign_id)

    # Then no execution's history (inputs, outputs, errors, causes) holds a name or a number
    history = histories(engine, progress["runId"])
    assert len(executions(engine, progress["runId"])) >= 3  # pages of 2: hand-overs
    assert "Record failed dial" in history  # the Catch path ran
    assert '\\"contactId\\":\\"ct_0000000003\\"' in history  # the pages are there, by id
    assert personal_data_in(history, names, setup.phones) == []

    # And every contact still there was dialed once, at its number, in order
    dialed = [c["phone"] for c in engine.calls_for(setup.campaign_id) if not c.get("idempotentReplay")]
    assert dialed == [setup.phones[0], *setup.phones[2:]]
    # And the call logs carry the names and numbers, read from the contacts
    logs = {log["contactId"]: log for log in all_call_logs(api, setup.campaign_id)}
    assert len(logs) == 6
    for i in (0, 2, 3, 4, 5):
        log = logs[f"ct_{i + 1:010d}"]
        assert (log["contactName"], log["phone"], log["outcome"]) == (names[i], setup.phones[i], "success")
    # the deleted contact by id only, not dialed, counted once
    gone = logs["ct_0000000002"]
    assert (gone["contactName"], gone["phone"], gone["outcome"]) == ("", "", "failed")
    assert gone["error"] == "not dialed: contact no longer exists"
    assert (progress["status"], progress["completedCalls"], progress["successfulCalls"]) == ("completed", 6, 5)


def test_a_pause_reason_quoting_the_number_stays_out_of_the_history(api, engine):
    # Given a provider that refuses every call quoting the number it was sent
    setup, names = new_campaign(api, 760, 4)
    engine.set_fault(mode="invalid-number", count=None)
    # When the run pauses after 2 failed calls in a row (StopExecution, with the reason)
    start_calling(api, setup, delay_ms=0)
    progress = ended(api, engine, setup.campaign_id)

    # Then the reason names the error, without the number (the dialect reads the provider's
    # message without the numbers it quotes)
    assert progress["status"] == "paused"
    assert progress["reason"] == (
        "paused after 2 consecutive failed calls; last error: provider answered 400: "
        "The 'To' number [number] is not a valid phone number."
    )
    # and no execution's history holds a name or a number. (moto drops StopExecution's
    # cause, which AWS keeps in the history: tests/unit/test_run_steps.py checks that the
    # cause the dial step gives is this masked reason.)
    history = histories(engine, progress["runId"])
    assert personal_data_in(history, names, setup.phones) == []
    # while the call logs keep the provider's words (the number is the log's own phone)
    logs = sorted(all_call_logs(api, setup.campaign_id), key=lambda log: log["contactId"])
    assert [(log["error"], log["phone"]) for log in logs] == [
        ("provider answered 400: The 'To' number [number] is not a valid phone number.", phone)
        for phone in setup.phones[:2]
    ]
