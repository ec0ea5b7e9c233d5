"""Nothing silently lost, nothing placed twice: the repros of a probe with a flaky
provider and an attacker's requests, kept as end-to-end tests on the local engine."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

BASE = "/api/v1/client/campaigns"


def test_a_stop_right_after_the_start_always_stops_cleanly(api, make_campaign):
    # Given 30 campaigns, each started and stopped at once (the stop lands while the
    # execution is starting or in its first wait: moto's StopExecution may fail then)
    for _ in range(30):
        setup = make_campaign(3)
        started = api.post(
            f"{BASE}/{setup.campaign_id}/start-calling", json={"agentId": setup.agent_id, "delayBetweenCalls": 2000}
        )
        assert started.status_code == 200, started.text

        # When it is stopped immediately
        stopped = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")

        # Then the stop answers as the contract says, never a 500
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["data"] == {"campaignId": setup.campaign_id, "status": "stopped"}
        status = api.get(f"{BASE}/{setup.campaign_id}/calling-status").json()["data"]
        assert status["isRunning"] is False and status["progress"]["status"] == "stopped"
