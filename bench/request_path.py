"""start-calling, stop-calling and calling-status make the same small number of AWS
requests for a campaign of 10 contacts and one of 100,000 (counted by the engine); and
importing 100,000 contacts through the API in pages of 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from bench.common import create_campaign, engine, phones
from campaign_local.harness import Engine

SIZES = (10, 100_000)


def run() -> dict[str, Any]:
    rows = []
    with engine() as local, local.client() as api:
        for n in SIZES:
            agent, campaign, import_s = create_campaign(api, phones(n))
            # Hold the run's first step back so only the request itself is counted.
            local.set_lambda_fault("LoadContactsPageFunction", "delay", count=1, after_ms=3000)
            counts = {
                "start-calling": _count(local, api.start_calling, campaign, agent, 60_000),
                "calling-status": _count(local, api.calling_status, campaign),
                "stop-calling": _count(local, api.stop_calling, campaign),
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


def _count(local: Engine, send: Callable[..., httpx.Response], *args: Any) -> dict[str, int]:
    before = local.stats()["awsRequests"]
    send(*args).raise_for_status()
    after = local.stats()["awsRequests"]
    return {
        k: after[k] - before.get(k, 0)
        for k in sorted(after)
        if after[k] != before.get(k, 0) and k.split(".")[0] in ("dynamodb", "sfn") and not k.endswith(".items")
    }
