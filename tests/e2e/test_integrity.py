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


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, b'{"agentId": "x"}'),
        ("application/jsonx", b'{"agentId": "x"}'),
        ("application/x-www-form-urlencoded", b"agentId=x&delayBetweenCalls=1000"),
        ("text/plain", b'{"agentId": "x"}'),
    ],
)
def test_a_body_not_declared_as_json_is_refused_with_415(api, make_campaign, content_type, body):
    # Given a campaign
    setup = make_campaign(1)
    # When a start request carries a body that is not declared as JSON
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.post(f"{BASE}/{setup.campaign_id}/start-calling", content=body, headers=headers)
    # Then it is refused as such, and nothing started
    assert response.status_code == 415, response.text
    assert response.json()["success"] is False and "Content-Type must be application/json" in response.json()["message"]
    assert api.get(f"{BASE}/{setup.campaign_id}/calling-status").json()["data"]["progress"] is None


@pytest.mark.parametrize(
    ("delay", "problem"),
    [
        ("1000.0", "delayBetweenCalls"),
        ('"1000"', "delayBetweenCalls"),
        ("true", "delayBetweenCalls"),
        ("-0", "-0 is not an integer"),
        ("NaN", "NaN is not a JSON number"),
        ("Infinity", "Infinity is not a JSON number"),
    ],
)
def test_integers_are_integers_and_json_is_json(api, make_campaign, delay, problem):
    setup = make_campaign(1)
    # When the delay is not a JSON integer
    body = f'{{"agentId": "{setup.agent_id}", "delayBetweenCalls": {delay}}}'.encode()
    response = api.post(
        f"{BASE}/{setup.campaign_id}/start-calling", content=body, headers={"Content-Type": "application/json"}
    )
    # Then the request is refused with a message naming the problem, and nothing started
    assert response.status_code == 400, response.text
    assert problem in response.json()["message"]
    assert api.get(f"{BASE}/{setup.campaign_id}/calling-status").json()["data"]["progress"] is None


def test_a_key_given_twice_is_refused(api, make_campaign):
    setup = make_campaign(1)
    body = f'{{"agentId": "{setup.agent_id}", "delayBetweenCalls": 0, "delayBetweenCalls": 5}}'.encode()
    response = api.post(
        f"{BASE}/{setup.campaign_id}/start-calling", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "request body is not valid JSON: key 'delayBetweenCalls' appears twice"


def test_json_with_a_charset_and_a_bodiless_stop_are_accepted(api, make_campaign):
    # Given a start whose Content-Type carries a charset (any case), and a stop with no body
    setup = make_campaign(2)
    body = f'{{"agentId": "{setup.agent_id}", "delayBetweenCalls": 2000}}'.encode()
    started = api.post(
        f"{BASE}/{setup.campaign_id}/start-calling",
        content=body,
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert started.status_code == 200, started.text
    stopped = api.post(f"{BASE}/{setup.campaign_id}/stop-calling")
    assert stopped.status_code == 200, stopped.text
