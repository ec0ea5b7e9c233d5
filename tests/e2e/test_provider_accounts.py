"""Whose agent, whose number, end to end on the local engine: a client connects its own
generic account, its agent is checked against it and its calls are placed with it; the
issue's attack (client B creating an agent with client A's providerAgentId and callerId)
is refused with nothing dialed.

The provider here is a small generic provider served by this test (accounts that own
specific agents and numbers), not the engine's simulated provider, which does not list
agents and numbers yet: the engine is pointed at it with LOCAL_PARAMETER_OVERRIDES, as an
operator points a deployment at a provider with --parameter-overrides.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from werkzeug.wrappers import Request, Response

from campaign_cli.client import CampaignApi, data
from campaign_local.serving import WsgiServer
from tests.support.e2e import Engine, running_engine, wait_until

DEFAULT_KEY = "sk-e2e-deployment-default-0123456789"
A_KEY = "sk-e2e-client-a-own-account-0123456789"
B_KEY = "sk-e2e-client-b-own-account-0123456789"
A_NUMBER = "+12025550143"
B_NUMBER = "+12025550188"
PROVIDERS = "/api/v1/client/providers"


@dataclass
class StubAccount:
    agents: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    everything: bool = False

    def owns(self, kind: str, value: str) -> bool:
        return self.everything or value in (self.agents if kind == "agents" else self.numbers)


class StubGenericProvider:
    """The generic dialect (design §2): accounts by API key, each owning its agents and
    numbers (the deployment's default one everything), and the calls each placed."""

    def __init__(self) -> None:
        self.accounts = {
            DEFAULT_KEY: StubAccount(everything=True),
            A_KEY: StubAccount({"pa-A"}, {A_NUMBER}),
            B_KEY: StubAccount({"pa-B"}, {B_NUMBER}),
        }
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = WsgiServer(self._app, "127.0.0.1", 0, name="stub-generic-provider")

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> StubGenericProvider:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def calls_of(self, client: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["body"]["metadata"].get("clientId") == client]

    def _app(self, request: Request) -> Response:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        account = self.accounts.get(key)
        if account is None:
            return _json(401, {"error": "invalid api key"})
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and len(parts) == 3 and parts[:2] in (["v1", "agents"], ["v1", "numbers"]):
            kind, value = parts[1], unquote(parts[2])
            return _json(200, {"id": value}) if account.owns(kind, value) else _json(404, {"error": "not found"})
        if request.method == "POST" and request.path == "/v1/calls":
            body = json.loads(request.get_data())
            with self._lock:
                self.calls.append({"key": key, "body": body})
            return _json(201, {"id": f"call_{secrets.token_hex(6)}", "status": "queued"})
        return _json(404, {"error": f"not found: {request.path}"})


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


@pytest.fixture(scope="module")
def provider() -> Iterator[StubGenericProvider]:
    stub = StubGenericProvider().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def engine(provider: StubGenericProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    env = {"LOCAL_PARAMETER_OVERRIDES": f"DialerBaseUrl={provider.url}", "SIM_DIALER_API_KEY": DEFAULT_KEY}
    with running_engine(Path(tmp_path_factory.mktemp("accounts")), env) as started:
        yield started


def connect(api: CampaignApi, key: str) -> Any:
    return api.put(f"{PROVIDERS}/generic", json={"apiKey": key, "webhookSecret": f"whsec-{key[-8:]}"})


def test_a_clients_own_account_checks_its_agent_and_places_its_calls(
    engine: Engine, provider: StubGenericProvider
) -> None:
    with engine.client("client-a") as api:
        # Given client A connects its own generic account
        connected = connect(api, A_KEY)
        assert connected.status_code == 200, connected.text
        assert data(connected) == {"provider": "generic", "connected": True}
        assert A_KEY not in connected.text
        # When it creates an agent with its own agent id and number, and runs a campaign
        agent = api.create_agent("A's agent", "pa-A", caller_id=A_NUMBER)
        assert agent.status_code == 201, agent.text
        assert "account" not in data(agent)
        phones = [f"+1202555{300 + i:04d}" for i in range(3)]
        campaign = data(api.create_campaign("A", [{"name": f"C{i}", "phone": p} for i, p in enumerate(phones)]))
        started = api.start_calling(campaign["_id"], data(agent)["_id"], 0)
        assert started.status_code == 200, started.text
        wait_until(
            lambda: data(api.calling_status(campaign["_id"]))["progress"]["status"] == "completed",
            timeout=60,
            what="client A's run to complete",
            log=engine.log_path,
        )
    # Then every call reached the provider with client A's own key, for its agent and number,
    # and with this deployment's webhook URL
    calls = provider.calls_of("client-a")
    assert sorted(c["body"]["to"] for c in calls) == phones
    assert {c["key"] for c in calls} == {A_KEY}
    assert {(c["body"]["agentId"], c["body"]["callerId"]) for c in calls} == {("pa-A", A_NUMBER)}
    assert {c["body"]["statusWebhookUrl"] for c in calls} == {f"{engine.api_url}/api/v1/webhooks/generic"}


def test_the_attack_client_b_uses_client_as_agent_and_number_and_nothing_is_dialed(
    engine: Engine, provider: StubGenericProvider
) -> None:
    with engine.client("client-b") as api:
        # Given client B connected its own account
        assert connect(api, B_KEY).status_code == 200
        # When B creates an agent with A's providerAgentId and callerId
        refused = api.create_agent("B's copy of A", "pa-A", caller_id=A_NUMBER)
        # Then 403 names the id, and no agent exists to call with
        assert refused.status_code == 403, refused.text
        assert refused.json() == {
            "success": False,
            "message": "providerAgentId 'pa-A' is not an agent of your generic account",
        }
        # And with its own agent id but A's number, 403 names the number
        refused = api.create_agent("B's agent on A's number", "pa-B", caller_id=A_NUMBER)
        assert refused.status_code == 403, refused.text
        assert A_NUMBER in refused.json()["message"]
    # And nothing was ever dialed for client B
    assert provider.calls_of("client-b") == []


def test_credentials_the_provider_refuses_are_not_connected(engine: Engine) -> None:
    with engine.client("client-c") as api:
        refused = connect(api, "sk-e2e-nobody-knows-this-key")
        assert refused.status_code == 400, refused.text
        assert "refused these credentials" in refused.json()["message"]
        assert "sk-e2e-nobody" not in refused.text
        # and the client's agents still use the deployment's default account
        agent = api.create_agent("C's agent", "any-agent")
        assert agent.status_code == 201, agent.text


def test_credentials_missing_a_field_are_refused_naming_it(engine: Engine) -> None:
    with engine.client("client-c") as api:
        refused = api.put(f"{PROVIDERS}/twilio", json={"accountSid": "AC" + "1" * 32})
        assert (refused.status_code, refused.json()["message"]) == (400, "twilio credentials: authToken is required")
