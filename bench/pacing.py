"""Pacing: the gap between consecutive dials, as the simulated provider received them."""

from __future__ import annotations

from typing import Any

from bench.common import create_campaign, engine, median, phones, run_to_end
from campaign_calling.runs.pacing import wait_state_seconds

DELAYS_MS = (500, 1000, 1500, 2000, 2999, 5000)
DIAL_STEP = "DialContactFunction"
CONTACTS = 8


def run() -> dict[str, Any]:
    rows = []
    with engine() as local, local.client() as api:
        for delay in DELAYS_MS:
            agent, campaign, _ = create_campaign(api, phones(CONTACTS))
            before = local.stats()
            run_to_end(api, agent, campaign, delay_ms=delay, timeout=120)
            after = local.stats()
            dials = after["invocations"][DIAL_STEP] - before["invocations"].get(DIAL_STEP, 0)
            step_ms = after["durationMs"][DIAL_STEP] - before["durationMs"].get(DIAL_STEP, 0)
            times = [c["receivedAt"] for c in local.calls_for(campaign) if c["status"] == 201]
            gaps_ms = [(b - a) * 1000 for a, b in zip(times, times[1:], strict=False)]
            errors = [g - delay for g in gaps_ms]
            rows.append(
                {
                    "delayMs": delay,
                    "gaps": len(gaps_ms),
                    "medianGapMs": round(median(gaps_ms), 1),
                    "medianErrorMs": round(median(errors), 1),
                    "minErrorMs": round(min(errors), 1),
                    "maxErrorMs": round(max(errors), 1),
                    "waitStateSeconds": wait_state_seconds(delay, 1),
                    # What Lambda bills the dial step per call: mostly the part of the delay it sleeps.
                    "dialStepMsPerCall": round(step_ms / dials, 1),
                }
            )
            print(f"   {delay} ms: median gap {median(gaps_ms):.1f} ms")
    for row in rows:
        if not (0 <= row["minErrorMs"] and abs(row["medianErrorMs"]) <= 100):
            raise AssertionError(f"pacing outside its bounds: {row}")
    return {
        "command": "make bench RECORD=1 ONLY=pacing  (python -m bench --record pacing)",
        "setup": f"local engine, {CONTACTS} contacts per delay, simulated provider with no latency; "
        "gap = time between two consecutive dial requests arriving at the provider",
        "runs": rows,
    }
