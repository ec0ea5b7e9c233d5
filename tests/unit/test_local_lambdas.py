"""The local engine holds every invocation to its function's Timeout as Lambda does, and
its HTTP API answers what API Gateway answers when a function fails, overruns its Timeout
or outlasts the integration timeout. Handlers here are small files written for the test."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from campaign_local.engine import parse_function_timeouts
from campaign_local.http_api import LocalHttpApi
from campaign_local.lambdas import (
    FunctionError,
    FunctionTimedOut,
    InvokeFault,
    InvokeFaults,
    LambdaInvokeServer,
    LocalFunctions,
)
from campaign_local.moto_patches import TransactionFaults
from campaign_local.template import FunctionSpec, Route

HANDLER = """
import json
import time
from pathlib import Path


def handler(event, context):
    if "body" in event:  # through the HTTP API
        event = json.loads(event["body"])
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("the handler failed")
    Path(event["marker"]).write_text(str(context.get_remaining_time_in_millis()))
    if event.get("answer_chars"):  # an answer of that many characters (an "é" is 6 bytes escaped)
        return {"statusCode": 200, "headers": {}, "body": event.get("char", "A") * event["answer_chars"]}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"ok": True})}
"""


@pytest.fixture
def functions(tmp_path: Path) -> LocalFunctions:
    (tmp_path / "app.py").write_text(HANDLER)
    specs = {
        name: FunctionSpec(logical_id=name, code_dir=tmp_path, handler="app.handler", timeout_seconds=timeout)
        for name, timeout in {"Quick": 1, "Slow": 60}.items()
    }
    return LocalFunctions(specs, timeouts={"Slow": 3})


def event(tmp_path: Path, **fields: object) -> dict[str, object]:
    return {"marker": str(tmp_path / "done"), **fields}


def test_a_handler_within_its_timeout_returns_and_sees_its_remaining_time(functions, tmp_path):
    result = functions.invoke("Quick", event(tmp_path))

    assert result["statusCode"] == 200
    assert 0 < int((tmp_path / "done").read_text()) <= 1000


def test_a_handler_past_its_timeout_ends_with_lambdas_timeout_error_and_goes_on_in_the_background(functions, tmp_path):
    # Given a function with a 1 s Timeout whose handler takes 1.5 s
    started = time.monotonic()

    # When it is invoked
    with pytest.raises(FunctionTimedOut) as raised:
        functions.invoke("Quick", event(tmp_path, sleep=1.5))

    # Then the invocation ends at 1 s with the error Lambda reports
    assert 1.0 <= time.monotonic() - started < 1.4
    payload = raised.value.payload
    assert payload["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds", payload["errorMessage"])
    # and the handler was not stopped: it finishes later, as in a container not yet recycled
    assert not (tmp_path / "done").exists()
    time.sleep(0.8)
    assert (tmp_path / "done").exists()


def test_a_handler_error_is_a_function_error(functions, tmp_path):
    with pytest.raises(FunctionError) as raised:
        functions.invoke("Quick", event(tmp_path, fail=True))

    assert not isinstance(raised.value, FunctionTimedOut)
    assert raised.value.payload["errorType"] == "ValueError"


def test_a_run_can_shorten_a_functions_timeout(functions):
    assert functions.timeout_seconds("Slow") == 3
    assert parse_function_timeouts("MakeCallFunction=3 DialContactFunction=10") == {
        "MakeCallFunction": 3.0,
        "DialContactFunction": 10.0,
    }
    for bad in ("MakeCallFunction=0", "MakeCallFunction=1.5", "MakeCallFunction"):
        with pytest.raises(ValueError):
            parse_function_timeouts(bad)
    with pytest.raises(ValueError):
        LocalFunctions({}, timeouts={"NoSuchFunction": 1})


# -- the HTTP API ------------------------------------------------------------------------------


@pytest.fixture
def api(functions: LocalFunctions, tmp_path: Path) -> Iterator[tuple[httpx.Client, InvokeFaults]]:
    routes = [
        Route("POST", "/quick", "Quick"),
        # An integration timeout shorter than the function's: API Gateway gives up first.
        Route("POST", "/slow", "Slow", integration_timeout_ms=1000),
    ]
    faults = InvokeFaults()
    server = LocalHttpApi(routes, functions, {}, port=0, faults=faults).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client, faults
    finally:
        server.stop()


def test_a_route_whose_function_overruns_its_timeout_answers_500(api, tmp_path):
    client, _ = api
    response = client.post("/quick", json=event(tmp_path, sleep=1.5))

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_a_route_whose_function_outlasts_the_integration_timeout_answers_503(api, tmp_path):
    client, _ = api
    started = time.monotonic()
    response = client.post("/slow", json=event(tmp_path, sleep=2))

    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert time.monotonic() - started < 1.8


def test_an_overrun_fault_counts_against_the_timeout_on_the_http_api_too(api, tmp_path):
    client, faults = api
    assert client.post("/quick", json=event(tmp_path)).status_code == 200

    faults.set(InvokeFault(function="Quick", mode="overrun", after_ms=1500))

    assert client.post("/quick", json=event(tmp_path)).status_code == 500
    assert client.post("/quick", json=event(tmp_path)).status_code == 200  # the fault was for one invocation


def test_an_answer_over_lambdas_6_mb_is_a_function_error_and_a_500(api, tmp_path):
    # Lambda measures the response as JSON: 6,291,556 bytes at most, the envelope included
    client, _ = api
    assert client.post("/quick", json=event(tmp_path, answer_chars=6_200_000)).status_code == 200
    too_large = client.post("/quick", json=event(tmp_path, answer_chars=6_300_000))
    assert (too_large.status_code, too_large.json()) == (500, {"message": "Internal Server Error"})
    # Escaped, a character outside ASCII takes 6 bytes
    assert client.post("/quick", json=event(tmp_path, answer_chars=1_100_000, char="\u00e9")).status_code == 500


# -- the Lambda endpoint's fault switch: the simulated provider's vocabulary ------------------


@pytest.fixture
def endpoint(functions: LocalFunctions) -> Iterator[tuple[httpx.Client, TransactionFaults]]:
    tables = TransactionFaults()
    server = LambdaInvokeServer(functions, port=0, transaction_faults=tables).start()
    server.set_tables({"ProgressTable": "progress-table"})
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client, tables
    finally:
        server.stop()


def test_a_fault_reads_mode_count_and_latency_as_the_simulated_provider_does(endpoint):
    client, _ = endpoint

    # When faults are switched with the provider's field names (count omitted: until cleared)
    client.post("/faults", json={"function": "Quick", "mode": "delay", "count": 2, "latencyMs": 30})
    client.post("/faults", json={"function": "Slow", "mode": "throttle"})
    client.post("/faults", json={"table": "ProgressTable", "mode": "throttle", "count": None})

    # Then they are listed in the same shape
    listed = {f.get("function") or f.get("table"): f for f in client.get("/faults").json()}
    assert listed["Quick"] == {"function": "Quick", "mode": "delay", "count": 2, "latencyMs": 30}
    assert listed["Slow"]["count"] is None
    assert listed["ProgressTable"]["mode"] == "throttle"


def test_mode_none_clears_one_functions_or_one_tables_fault_or_all(endpoint):
    client, tables = endpoint
    client.post("/faults", json={"function": "Quick", "mode": "throttle"})
    client.post("/faults", json={"function": "Slow", "mode": "throttle"})
    client.post("/faults", json={"table": "ProgressTable", "mode": "throttle"})

    client.post("/faults", json={"function": "Quick", "mode": "none"})
    client.post("/faults", json={"table": "ProgressTable", "mode": "none"})
    assert [f.get("function") for f in client.get("/faults").json()] == ["Slow"]
    assert tables.active() == []

    client.post("/faults", json={"table": "ProgressTable", "mode": "throttle"})
    assert client.post("/faults", json={"mode": "none"}).json() == []


def test_the_former_afterMs_still_sets_the_latency(endpoint):
    client, _ = endpoint
    client.post("/faults", json={"function": "Quick", "mode": "overrun", "count": 1, "afterMs": 40})
    assert client.get("/faults").json()[0]["latencyMs"] == 40


def test_faults_the_switch_cannot_honour_are_refused_with_400(endpoint):
    client, _ = endpoint
    for bad in (
        {"function": "Quick", "mode": "explode"},
        {"function": "NoSuchFunction", "mode": "throttle"},
        {"function": "Quick", "mode": "throttle", "count": 0},
        {"function": "Quick", "mode": "delay", "latencyMs": -1},
        {"table": "NoSuchTable", "mode": "throttle"},
        {"table": "ProgressTable", "mode": "delay"},
        [1, 2],
    ):
        response = client.post("/faults", json=bad)
        assert response.status_code == 400, bad
        assert response.json()["message"].startswith("bad fault")
    assert client.post("/faults", content=b"{bad").status_code == 400
    assert client.get("/faults").json() == []


def test_concurrent_invocations_each_see_their_own_request_in_powertools_resolvers() -> None:
    # Given the local functions loaded (which isolates what Powertools keeps per process)
    LocalFunctions({})
    app = APIGatewayHttpResolver()
    seen: dict[str, object] = {}
    ready = threading.Barrier(2)

    def invocation(name: str) -> None:
        # When two invocations in flight at once each set the event being resolved
        BaseRouter.current_event = name  # type: ignore[assignment]  # as resolve() does
        ready.wait()
        seen[name] = app.current_event

    threads = [threading.Thread(target=invocation, args=(name,)) for name in ("status", "webhook")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then each reads its own, through the app as through the class
    assert seen == {"status": "status", "webhook": "webhook"}
