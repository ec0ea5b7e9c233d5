from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from campaign_cli import cli
from campaign_cli.client import ApiError, CampaignApi, data

BASE = "/api/v1/client/campaigns"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAMPAIGN_API_URL", raising=False)
    monkeypatch.delenv("CAMPAIGN_API_TOKEN", raising=False)


def ok(data: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"success": True, "data": data})


def progress(completed: int, ok_calls: int, failed: int, status: str, total: int = 3) -> dict[str, Any]:
    return {
        "campaignId": "c1",
        "totalContacts": total,
        "currentIndex": completed,
        "completedCalls": completed,
        "successfulCalls": ok_calls,
        "failedCalls": failed,
        "startTime": 1_700_000_000_000,
        "isRunning": status == "running",
        "lastCallTime": 1_700_000_060_000,
        "status": status,
    }


class Recorder:
    """MockTransport handler that records requests and dispatches by (method, path)."""

    def __init__(self, routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        # raw_path keeps percent-encoding, so escaped campaign ids are checked too.
        path = request.url.raw_path.decode().partition("?")[0]
        route = self.routes.get((request.method, path))
        if route is None:
            return httpx.Response(404, json={"success": False, "message": "no route"})
        return route(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def status_sequence(*payloads: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    remaining = list(payloads)

    def respond(request: httpx.Request) -> httpx.Response:
        # Repeat the last payload if polled more often than expected.
        data = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return ok(data)

    return respond


def test_start_follows_until_completed(capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder(
        {
            ("POST", f"{BASE}/c1/start-calling"): lambda r: ok(
                {"campaignId": "c1", "totalContacts": 3, "status": "started"}
            ),
            ("GET", f"{BASE}/c1/calling-status"): status_sequence(
                {"campaignId": "c1", "isRunning": True, "totalContacts": 3, "progress": progress(1, 1, 0, "running")},
                {"campaignId": "c1", "isRunning": True, "totalContacts": 3, "progress": progress(2, 1, 1, "running")},
                {
                    "campaignId": "c1",
                    "isRunning": False,
                    "totalContacts": 3,
                    "progress": progress(3, 2, 1, "completed"),
                },
            ),
        }
    )

    code = cli.main(["start", "c1", "--agent", "a1", "--delay", "500"], transport=rec.transport(), poll_interval=0)

    assert code == 0
    start_req = rec.requests[0]
    assert json.loads(start_req.content) == {"agentId": "a1", "delayBetweenCalls": 500}
    polls = [r for r in rec.requests if r.method == "GET"]
    assert len(polls) == 3
    out = capsys.readouterr().out
    lines = out.splitlines()
    # Not a TTY under capsys: one plain line per poll, no carriage returns.
    assert "\r" not in out
    assert "3 contacts" in lines[0]
    assert lines[1].startswith("[") and "1/3" in lines[1] and "running" in lines[1]
    assert "2/3  ok 1  failed 1  running" in lines[2]
    assert "3/3  ok 2  failed 1  completed" in lines[3]
    assert lines[4] == "done: 3/3 completed, 2 successful, 1 failed - status completed"


def test_start_no_follow_does_not_poll(capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder(
        {
            ("POST", f"{BASE}/c1/start-calling"): lambda r: ok(
                {"campaignId": "c1", "totalContacts": 5, "status": "started"}
            ),
        }
    )
    code = cli.main(["start", "c1", "--agent", "a1", "--no-follow"], transport=rec.transport())
    assert code == 0
    assert len(rec.requests) == 1
    assert json.loads(rec.requests[0].content)["delayBetweenCalls"] == 2000
    assert "started" in capsys.readouterr().out


def test_follow_redraws_single_line_on_tty() -> None:
    class TtyBuffer(io.StringIO):
        def isatty(self) -> bool:
            return True

    rec = Recorder(
        {
            ("GET", f"{BASE}/c1/calling-status"): status_sequence(
                {"campaignId": "c1", "isRunning": True, "totalContacts": 3, "progress": progress(1, 1, 0, "running")},
                {
                    "campaignId": "c1",
                    "isRunning": False,
                    "totalContacts": 3,
                    "progress": progress(3, 3, 0, "completed"),
                },
            ),
        }
    )
    buf = TtyBuffer()
    with CampaignApi("http://api.test", transport=rec.transport()) as client:
        data = cli.follow_progress(client, "c1", buf, interval=0)
    assert data["progress"]["status"] == "completed"
    text = buf.getvalue()
    assert text.count("\r") == 2
    assert text.count("\n") == 1 and text.endswith("\n")


def test_ctrl_c_while_following_returns_130_without_stopping(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    rec = Recorder(
        {
            ("POST", f"{BASE}/c1/start-calling"): lambda r: ok(
                {"campaignId": "c1", "totalContacts": 3, "status": "started"}
            ),
            ("GET", f"{BASE}/c1/calling-status"): interrupt,
        }
    )
    code = cli.main(["start", "c1", "--agent", "a1"], transport=rec.transport(), poll_interval=0)
    assert code == 130
    assert not any(r.url.path.endswith("stop-calling") for r in rec.requests)
    assert "campaign-calls stop c1" in capsys.readouterr().err


def test_status_readable(capsys: pytest.CaptureFixture[str]) -> None:
    data = {
        "campaignId": "c1",
        "isRunning": True,
        "totalContacts": 10,
        "progress": progress(5, 4, 1, "running", total=10),
    }
    rec = Recorder({("GET", f"{BASE}/c1/calling-status"): lambda r: ok(data)})
    code = cli.main(["status", "c1"], transport=rec.transport())
    assert code == 0
    out = capsys.readouterr().out
    assert "campaign" in out and "c1" in out
    assert "5/10 completed, 4 successful, 1 failed" in out
    assert "2023-11-14T22:13:20+00:00" in out


def test_status_without_progress_or_status_field(capsys: pytest.CaptureFixture[str]) -> None:
    old = progress(2, 2, 0, "running")
    del old["status"]
    old["isRunning"] = False
    rec = Recorder(
        {
            ("GET", f"{BASE}/c1/calling-status"): lambda r: ok(
                {"campaignId": "c1", "isRunning": False, "totalContacts": 3, "progress": old}
            )
        }
    )
    assert cli.main(["status", "c1"], transport=rec.transport()) == 0
    assert "status stopped" in capsys.readouterr().out

    rec = Recorder(
        {
            ("GET", f"{BASE}/c1/calling-status"): lambda r: ok(
                {"campaignId": "c1", "isRunning": False, "totalContacts": 3, "progress": None}
            )
        }
    )
    assert cli.main(["status", "c1"], transport=rec.transport()) == 0
    assert "none" in capsys.readouterr().out


def test_status_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = {"campaignId": "c1", "isRunning": False, "totalContacts": 0, "progress": None}
    rec = Recorder({("GET", f"{BASE}/c1/calling-status"): lambda r: ok(data)})
    assert cli.main(["status", "c1", "--json"], transport=rec.transport()) == 0
    assert json.loads(capsys.readouterr().out) == data


def test_stop(capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder({("POST", f"{BASE}/c1/stop-calling"): lambda r: ok({"campaignId": "c1", "status": "stopped"})})
    assert cli.main(["stop", "c1"], transport=rec.transport()) == 0
    assert len(rec.requests) == 1
    assert "stopped" in capsys.readouterr().out


def test_error_envelope_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder(
        {
            ("POST", f"{BASE}/c1/start-calling"): lambda r: httpx.Response(
                409, json={"success": False, "message": "Campaign is already running"}
            )
        }
    )
    code = cli.main(["start", "c1", "--agent", "a1"], transport=rec.transport())
    assert code == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == "error: Campaign is already running"
    assert "Traceback" not in captured.err


def test_non_json_error_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder({("POST", f"{BASE}/c1/stop-calling"): lambda r: httpx.Response(502, text="Bad Gateway")})
    assert cli.main(["stop", "c1"], transport=rec.transport()) == 1
    assert "error: HTTP 502: Bad Gateway" in capsys.readouterr().err


def test_token_header_sent_and_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recorder({("POST", f"{BASE}/c%2F1/stop-calling"): lambda r: ok({"campaignId": "c/1", "status": "stopped"})})
    assert cli.main(["--token", "s3cret", "stop", "c/1"], transport=rec.transport()) == 0
    assert rec.requests[-1].headers["Authorization"] == "Bearer s3cret"

    monkeypatch.setenv("CAMPAIGN_API_TOKEN", "from-env")
    monkeypatch.setenv("CAMPAIGN_API_URL", "http://elsewhere.test:8080")
    assert cli.main(["stop", "c/1"], transport=rec.transport()) == 0
    assert rec.requests[-1].headers["Authorization"] == "Bearer from-env"
    assert rec.requests[-1].url.host == "elsewhere.test"


def test_no_token_no_header() -> None:
    rec = Recorder({("POST", f"{BASE}/c1/stop-calling"): lambda r: ok({"campaignId": "c1", "status": "stopped"})})
    assert cli.main(["stop", "c1"], transport=rec.transport()) == 0
    assert "Authorization" not in rec.requests[0].headers


def test_connection_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    code = cli.main(["--url", "http://127.0.0.1:3999", "status", "c1"], transport=httpx.MockTransport(refuse))
    assert code == 2
    err = capsys.readouterr().err
    assert "http://127.0.0.1:3999" in err
    assert "Traceback" not in err


def test_client_raises_api_error() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(404, json={"success": False, "message": "Campaign not found"})
    )
    with CampaignApi("http://api.test", transport=transport) as client:
        with pytest.raises(ApiError) as info:
            data(client.calling_status("missing"))
    assert info.value.status == 404
    assert info.value.message == "Campaign not found"


def test_the_api_client_sends_each_route_and_pages_call_logs() -> None:
    # Given an API with two pages of call logs
    pages = {None: {"items": [{"n": 1}], "nextToken": "t2"}, "t2": {"items": [{"n": 2}], "nextToken": None}}
    rec = Recorder(
        {
            ("POST", "/api/v1/client/agents"): lambda r: ok({"_id": "ag_1"}, 201),
            ("POST", "/api/v1/client/campaigns"): lambda r: ok({"_id": "c1"}, 201),
            ("POST", f"{BASE}/c1/contacts"): lambda r: ok({"added": 1}),
            ("GET", f"{BASE}/c1/call-logs"): lambda r: ok(pages[r.url.params.get("nextToken")]),
        }
    )
    with CampaignApi("http://api.test", token="tok", transport=rec.transport()) as api:
        # When a client creates an agent and a campaign, adds contacts and reads every call log
        agent = data(api.create_agent("A", "prov-1", caller_id="+12025550199"))
        campaign = data(api.create_campaign("C", [{"name": "x", "phone": "+12025550100"}]))
        data(api.add_contacts("c1", [{"name": "y", "phone": "+12025550101"}]))
        logs = api.all_call_logs("c1", page_size=1)

    # Then each route got its body and the token, and the pages were followed
    assert (agent["_id"], campaign["_id"], logs) == ("ag_1", "c1", [{"n": 1}, {"n": 2}])
    assert json.loads(rec.requests[0].content) == {"name": "A", "providerAgentId": "prov-1", "callerId": "+12025550199"}
    assert json.loads(rec.requests[2].content) == {"contacts": [{"name": "y", "phone": "+12025550101"}]}
    assert all(r.headers["Authorization"] == "Bearer tok" for r in rec.requests)
    assert rec.requests[-1].url.params["limit"] == "1"


def test_start_with_a_calling_window_sends_it(capsys: pytest.CaptureFixture[str]) -> None:
    rec = Recorder(
        {
            ("POST", f"{BASE}/c1/start-calling"): lambda r: ok(
                {"campaignId": "c1", "totalContacts": 5, "status": "started"}
            ),
        }
    )
    code = cli.main(
        ["start", "c1", "--agent", "a1", "--no-follow", "--window", "mon-wed,sat/08:00-21:00"],
        transport=rec.transport(),
    )
    assert code == 0
    assert json.loads(rec.requests[0].content)["callingWindow"] == {
        "days": ["mon", "tue", "wed", "sat"],
        "start": "08:00",
        "end": "21:00",
    }


@pytest.mark.parametrize("window", ["mon-fri", "monday/08:00-21:00", "mon/0800"])
def test_a_window_not_written_as_days_and_hours_is_refused_before_any_request(window: str) -> None:
    rec = Recorder({})
    with pytest.raises(SystemExit) as exited:
        cli.main(["start", "c1", "--agent", "a1", "--window", window], transport=rec.transport())
    assert exited.value.code == 2
    assert rec.requests == []


def test_status_says_how_many_wait_and_until_when(capsys: pytest.CaptureFixture[str]) -> None:
    waiting = {
        **progress(1, 1, 0, "running", total=3),
        "contactsWaiting": 2,
        "waitingUntil": "2026-11-26T13:00:00.000Z",
    }
    data = {"campaignId": "c1", "isRunning": True, "totalContacts": 3, "progress": waiting}
    rec = Recorder({("GET", f"{BASE}/c1/calling-status"): lambda r: ok(data)})
    assert cli.main(["status", "c1"], transport=rec.transport()) == 0
    out = capsys.readouterr().out
    assert "2 contacts (calling window or per-number limits)" in out
    assert "2026-11-26T13:00:00.000Z" in out
