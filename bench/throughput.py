"""Local engine throughput with no delay, and what each call costs in history events,
state transitions, Lambda invocations and DynamoDB requests (counted by the engine)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.common import check, create_campaign, engine, phones, run_to_end
from bench.prices import call_cost
from campaign_local.stats import READ_UNITS, TRANSACT_ITEMS, WRITE_UNITS, item_size
from campaign_local.template import Template, find_template

SIZES = (100, 1000, 5000)
HISTORY_LIMIT = 25_000


def run() -> dict[str, Any]:
    results = []
    with engine() as local, local.client() as api:
        for n in SIZES:
            numbers = phones(n)
            agent, campaign, import_s = create_campaign(api, numbers)
            before = local.stats()
            progress, run_s = run_to_end(api, agent, campaign, delay_ms=0, timeout=3600)
            after = local.stats()

            dialed = [c["phone"] for c in local.calls_for(campaign) if c["status"] == 201]
            check(dialed == numbers, f"{n} contacts dialed exactly once each, in the order added")
            check(progress["completedCalls"] == progress["successfulCalls"] == n, "every call counted once")
            histories = execution_histories(local, progress["runId"])
            check(all(h["events"] < HISTORY_LIMIT for h in histories), "every execution under 25,000 events")

            # Only what the run itself costs: its state machine's tasks (not the status polls).
            tasks = task_functions()
            invocations = {k: v for k, v in _delta(before["invocations"], after["invocations"]).items() if k in tasks}
            requests: Counter[str] = Counter()
            for function in tasks:
                requests.update(
                    _delta(
                        before["awsRequestsByFunction"].get(function, {}),
                        after["awsRequestsByFunction"].get(function, {}),
                    )
                )
            events = sum(h["events"] for h in histories)
            transitions = sum(h["transitions"] for h in histories)
            per_call = {
                "historyEvents": events / n,
                "stateTransitions": transitions / n,
                "lambdaInvocations": sum(invocations.values()) / n,
                "dynamodbRequests": sum(
                    v for k, v in requests.items() if k.startswith("dynamodb.") and not k.endswith(".items")
                )
                / n,
                "dynamodbTransactionItems": requests.get(TRANSACT_ITEMS, 0) / n,
                "dynamodbWriteUnits": requests.get(WRITE_UNITS, 0) / n,
                "dynamodbReadUnits": requests.get(READ_UNITS, 0) / n,
            }
            # Updates are billed by the size of the item they write, which the counter takes
            # to be under 1 KB: check that of the items a run updates.
            largest = largest_updated_item(local)
            check(largest < 1024, f"the items a run updates are under 1 KB (largest {largest} bytes)")
            results.append(
                {
                    "contacts": n,
                    "importSeconds": round(import_s, 2),
                    "runSeconds": round(run_s, 2),
                    "contactsPerSecond": round(n / run_s, 1),
                    "executions": len(histories),
                    "maxEventsPerExecution": max(h["events"] for h in histories),
                    "largestUpdatedItemBytes": largest,
                    "perCall": {k: round(v, 2) for k, v in per_call.items()},
                    "invocationsByFunction": invocations,
                    "awsRequests": dict(requests),
                    "costPer1000Calls": call_cost(per_call),
                }
            )
            print(f"   {n} contacts: {n / run_s:.1f}/s, {len(histories)} executions, {events / n:.1f} events per call")
    return {
        "command": "make bench RECORD=1 ONLY=throughput  (python -m bench --record throughput)",
        "setup": f"local engine, default parameters ({defaults()}), no delay, simulated provider with no latency",
        "runs": results,
    }


def task_functions() -> set[str]:
    """The functions the state machine invokes, from its definition's substitutions."""
    template = Template(find_template())
    (machine,) = template.state_machines().values()
    return {value["Fn::GetAtt"][0] for value in machine["DefinitionSubstitutions"].values() if "Fn::GetAtt" in value}


def execution_histories(local: Any, run_id: str) -> list[dict[str, Any]]:
    sfn = local.aws_client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    runs = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
        runs += [e for e in page["executions"] if e["name"].startswith(run_id)]
    histories = []
    for execution in sorted(runs, key=lambda e: e["name"]):
        kinds: Counter[str] = Counter()
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"]):
            kinds.update(e["type"] for e in page["events"])
        histories.append(
            {
                "name": execution["name"],
                "status": execution["status"],
                "events": sum(kinds.values()),
                # Step Functions bills a transition each time a state is entered.
                "transitions": sum(v for k, v in kinds.items() if k.endswith("StateEntered")),
            }
        )
    return histories


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


def defaults() -> str:
    parameters = Template(find_template()).parameters
    return ", ".join(f"{name}={parameters[name]['Default']}" for name in ("ContactsPageSize", "PagesPerExecution"))


def largest_updated_item(local: Any) -> int:
    """Bytes of the largest item a run updates in place: its progress, its dial claims and
    its campaign (call logs are put, and billed by their measured size)."""
    db = local.aws_client("dynamodb")
    largest = 0
    for table in ("ProgressTable", "MainTable"):
        for page in db.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if item.get("kind", {}).get("S") in ("run", "dial-claim", "campaign", "campaign-summary"):
                    largest = max(largest, item_size(item))
    return largest
