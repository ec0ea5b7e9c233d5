"""start-calling, stop-calling and calling-status make the same small number of AWS
requests for a campaign of 10 contacts and one of 100,000 (counted by the engine); and
importing 100,000 contacts through the API in pages of 500."""

from __future__ import annotations

from typing import Any

import httpx

from bench.common import BASE, create_campaign, engine, phones

SIZES = (10, 100_000)


def run() -> dict[str, Any]:
    rows = []
    with engine() as local, local.client() as api:
        for n in SIZES:
            agent, campaign, import_s = create_campaign(api, phones(n))
            # Hold the run's first step back so only the request itself is counted.
            httpx.post(
                f"{local.lambda_url}/faults",
                json={"function": "LoadContactsPageFunction", "mode": "delay", "count": 1, "latencyMs": 3000},
            ).raise_for_status()
            start = {"agentId": agent, "delayBetweenCalls": 60_000}
            counts = {
                "start-calling": _count(local, api.post, f"{BASE}/{campaign}/start-calling", json=start),
                "calling-status": _count(local, api.get, f"{BASE}/{campaign}/calling-status"),
                "stop-calling": _count(local, api.post, f"{BASE}/{campaign}/stop-calling"),
            }
            rows.append(
                {"contacts": n, "importSeconds": round(import_s, 1), "importRequests": -(-n // 500), "requests": counts}
            )
            print(f"   {n} contacts: {counts}")
    same = rows[0]["requests"] == rows[1]["requests"]
    if not same:
        raise AssertionError(f"request path differs with campaign size: {rows}")
    return {
        "command": "make bench RECORD=1 ONLY=request_path  (python -m bench --record request_path)",
        "setup": "local engine; AWS requests made by the request's own handler, by operation",
        "runs": rows,
        "sameForEverySize": same,
    }


def _count(local: Any, send: Any, path: str, **kwargs: Any) -> dict[str, int]:
    before = httpx.get(f"{local.lambda_url}/stats").json()["awsRequests"]
    response = send(path, **kwargs)
    response.raise_for_status()
    after = httpx.get(f"{local.lambda_url}/stats").json()["awsRequests"]
    return {
        k: after[k] - before.get(k, 0)
        for k in sorted(after)
        if after[k] != before.get(k, 0) and k.split(".")[0] in ("dynamodb", "sfn") and not k.endswith(".items")
    }
