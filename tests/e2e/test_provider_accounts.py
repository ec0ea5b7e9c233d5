"""Whose agent, whose number, end to end on the local engine: a client connects its own
generic account, its agent is checked against it and its calls are placed with it; the
issue's attack (client B creating an agent with client A's providerAgentId and callerId)
is refused with nothing dialed. The accounts are the simulated provider's (POST /accounts),
each owning specific agents and numbers.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from campaign_cli.client import CampaignApi, data
from tests.support.e2e import Engine, running_engine, wait_until

pytestmark = pytest.mark.e2e

A_NUMBER = "+12025550143"
B_NUMBER = "+12025550188"
PROVIDERS = "/api/v1/client/providers"


@dataclass(frozen=True)
class ProviderAccount:
    id: str
    key: str


def provider_account(engine: Engine, agents: list[str], numbers: list[str]) -> ProviderAccount:
    """An account of the simulated generic provider that owns exactly these."""
    key = f"sk-e2e-{secrets.token_hex(12)}"
    created = httpx.post(
        f"{engine.dialer_url}/accounts",
        json={
            "provider": "generic",
            "credentials": {"apiKey": key, "webhookSecret": f"whsec-{key}"},
            "agents": agents,
            "numbers": numbers,
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return ProviderAccount(created.json()["id"], key)


def calls_of(engine: Engine, client: str) -> list[dict[str, Any]]:
    """What the provider was asked to place for ``client`` (the metadata every dial carries)."""
    calls = httpx.get(f"{engine.dialer_url}/calls", timeout=10).json()
    return [c for c in calls if (c.get("metadata") or {}).get("clientId") == client]


def connect(api: CampaignApi, key: str) -> Any:
    return api.connect_provider("generic", {"apiKey": key, "webhookSecret": f"whsec-{key}"})


def test_a_clients_own_account_checks_its_agent_and_places_its_calls(engine: Engine) -> None:
    client = f"client-a-{secrets.token_hex(4)}"
    own = provider_account(engine, ["pa-A"], [A_NUMBER])
    with engine.client(client) as api:
        # Given client A connects its own generic account
        connected = connect(api, own.key)
        assert connected.status_code == 200, connected.text
        assert data(connected) == {"provider": "generic", "connected": True}
        assert own.key not in connected.text
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
    calls = calls_of(engine, client)
    assert sorted(c["body"]["to"] for c in calls) == phones
    assert {c["account"] for c in calls} == {own.id}
    assert {(c["body"]["agentId"], c["body"]["callerId"]) for c in calls} == {("pa-A", A_NUMBER)}
    assert {c["body"]["statusWebhookUrl"] for c in calls} == {f"{engine.api_url}/api/v1/webhooks/generic"}


def test_the_attack_client_b_uses_client_as_agent_and_number_and_nothing_is_dialed(engine: Engine) -> None:
    client = f"client-b-{secrets.token_hex(4)}"
    provider_account(engine, ["pa-A"], [A_NUMBER])  # client A's account
    own = provider_account(engine, ["pa-B"], [B_NUMBER])
    with engine.client(client) as api:
        # Given client B connected its own account
        assert connect(api, own.key).status_code == 200
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
    assert calls_of(engine, client) == []


def test_credentials_the_provider_refuses_are_not_connected(engine: Engine) -> None:
    with engine.client(f"client-c-{secrets.token_hex(4)}") as api:
        refused = connect(api, "sk-e2e-nobody-knows-this-key")
        assert refused.status_code == 400, refused.text
        assert "refused these credentials" in refused.json()["message"]
        assert "sk-e2e-nobody" not in refused.text
        # and the client's agents still use the deployment's default account
        agent = api.create_agent("C's agent", "any-agent")
        assert agent.status_code == 201, agent.text


def test_credentials_missing_a_field_are_refused_naming_it(engine: Engine) -> None:
    with engine.client(f"client-c-{secrets.token_hex(4)}") as api:
        refused = api.put(f"{PROVIDERS}/twilio", json={"accountSid": "AC" + "1" * 32})
        assert (refused.status_code, refused.json()["message"]) == (400, "twilio credentials: authToken is required")


@pytest.fixture(scope="module")
def allow_listed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine whose deployment secret gives client A alone one agent id and number on the
    shared default account (secrets read afresh at every use, so the change is seen at once)."""
    with running_engine(tmp_path_factory.mktemp("allow-list"), {"SECRET_CACHE_SECONDS": "0"}) as started:
        secrets_manager = started.aws_client("secretsmanager")
        (secret,) = secrets_manager.list_secrets()["SecretList"]
        document = json.loads(secrets_manager.get_secret_value(SecretId=secret["ARN"])["SecretString"])
        document["allowList"] = {"client-a": {"agents": ["pa-shared-A"], "numbers": [A_NUMBER]}}
        secrets_manager.put_secret_value(SecretId=secret["ARN"], SecretString=json.dumps(document))
        yield started


def test_the_attack_on_the_shared_default_account_is_refused_by_the_operators_allow_list(
    allow_listed: Engine,
) -> None:
    engine = allow_listed
    # Given client A, allowed one agent and number of the deployment's default account, has an agent
    with engine.client("client-a") as a:
        assert a.create_agent("A's agent", "pa-shared-A", caller_id=A_NUMBER).status_code == 201
    with engine.client("client-b") as b:
        # When client B, with no account of its own, creates an agent with A's id and number
        refused = b.create_agent("B's copy of A", "pa-shared-A", caller_id=A_NUMBER)
        # Then 403 says the operator's allow-list does not give them to B, and nothing is stored
        assert refused.status_code == 403, refused.text
        assert "allow-list" in refused.json()["message"] and "pa-shared-A" in refused.json()["message"]
    db = engine.aws_client("dynamodb")
    stored = [item for table in db.list_tables()["TableNames"] for item in db.scan(TableName=table)["Items"]]
    assert not [item for item in stored if item.get("pk", {}).get("S", "").startswith("CLIENT#client-b")]
    # And nothing was dialed for B
    assert calls_of(engine, "client-b") == []
