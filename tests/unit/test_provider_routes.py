"""PUT /api/v1/client/providers/{provider} and POST /api/v1/client/agents through their real
handlers against moto: the client's own account written to its secret and never answered
back; agents refused (400, 403, 503) with nothing stored, or stored with their account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key

from campaign_calling import keys
from campaign_calling.calls.providers.accounts import GenericCredentials
from campaign_calling.calls.providers.credentials import client_provider_secret_name
from tests.support.events import acting_for

EVENTS = Path(__file__).resolve().parents[2] / "events"
A_KEY = "sk-client-a-own-key-do-not-return-0123"
A_HOOKS = "whsec-client-a-do-not-return"
A_NUMBER = "+12025550143"


def event(name: str, client: str, body: Any, path: str | None = None) -> dict[str, Any]:
    """The sample event ``name`` for ``client`` with ``body`` (and another path)."""
    sample = json.loads((EVENTS / f"{name}.json").read_text())
    acting_for(sample, client)
    sample["body"] = json.dumps(body)
    if path:
        provider = path.rsplit("/", 1)[1]
        sample["rawPath"] = sample["requestContext"]["http"]["path"] = path
        sample["pathParameters"] = {"provider": provider}
    return sample


def call(aws: Any, function: str, request: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    result = aws.invoke(function, request)
    return result["statusCode"], json.loads(result["body"]), result["body"]


def connect(aws: Any, client: str, provider: str, body: Any) -> tuple[int, dict[str, Any], str]:
    path = f"/api/v1/client/providers/{provider}"
    return call(aws, "ProvidersFunction", event("providers_connect", client, body, path))


def create_agent(aws: Any, client: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    return call(aws, "AgentsFunction", event("agents_create", client, body))


def secret_name(aws: Any, client: str, provider: str) -> str:
    prefix = aws.resolver.resolve(aws.template.functions()["ProvidersFunction"].environment)
    return client_provider_secret_name(prefix["PROVIDER_ACCOUNTS_SECRET_PREFIX"], client, provider)


def stored_agents(aws: Any, client: str) -> list[dict[str, Any]]:
    items = aws.table("MainTable").query(KeyConditionExpression=Key("pk").eq(keys.client_pk(client)))["Items"]
    return [item for item in items if item.get("kind") == "agent"]


def a_owns(aws: Any) -> GenericCredentials:
    """Client A's own generic account, which owns agent pa-A and A_NUMBER at the provider."""
    credentials = GenericCredentials(apiKey=A_KEY, webhookSecret=A_HOOKS)
    aws.directory.own("generic", credentials, agents=("pa-A",), numbers=(A_NUMBER,))
    return credentials


# -- PUT /api/v1/client/providers/{provider} -------------------------------------------------


def test_a_client_connects_its_account_and_its_credentials_are_stored_never_answered(aws, capsys) -> None:
    # Given credentials the provider accepts
    credentials = a_owns(aws)
    # When client A connects them, twice (PUT is idempotent)
    first = connect(aws, "client-a", "generic", credentials.as_mapping())
    again = connect(aws, "client-a", "generic", credentials.as_mapping())
    # Then both answer the connection, without a credential
    for status, body, raw in (first, again):
        assert (status, body) == (
            200,
            {
                "success": True,
                "message": "generic account connected",
                "data": {"provider": "generic", "connected": True},
            },
        )
        assert A_KEY not in raw and A_HOOKS not in raw
    # nor logged
    logged = capsys.readouterr()
    assert A_KEY not in logged.out + logged.err and A_HOOKS not in logged.out + logged.err
    # And the secret holds them, under the client's name
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=secret_name(aws, "client-a", "generic"))
    assert json.loads(stored["SecretString"]) == credentials.as_mapping()


def test_credentials_with_a_missing_field_are_refused_naming_it_and_nothing_is_stored(aws) -> None:
    status, body, raw = connect(aws, "client-a", "twilio", {"accountSid": "AC" + "0" * 32})
    assert (status, body["message"]) == (400, "twilio credentials: authToken is required")
    assert "AC" + "0" * 32 not in raw
    secrets = boto3.client("secretsmanager").list_secrets()["SecretList"]
    assert [s for s in secrets if "/clients/" in s["Name"]] == []


def test_credentials_of_another_provider_or_fields_we_do_not_know_are_refused(aws) -> None:
    status, body, raw = connect(aws, "client-a", "retell", {"apiKey": A_KEY, "authToken": A_HOOKS})
    assert (status, body["message"]) == (400, "retell credentials: authToken is not a known field")
    assert A_KEY not in raw and A_HOOKS not in raw
    status, body, _ = connect(aws, "client-a", "retell", {"apiKey": A_KEY, "password": "x"})
    assert status == 400 and "password" in body["message"]


def test_an_unknown_provider_is_refused(aws) -> None:
    status, body, _ = connect(aws, "client-a", "sinch", {"apiKey": A_KEY})
    assert status == 400 and "provider" in body["message"]


def test_credentials_the_provider_refuses_are_not_stored(aws) -> None:
    status, body, raw = connect(aws, "client-a", "generic", {"apiKey": A_KEY, "webhookSecret": A_HOOKS})
    assert (status, body["message"]) == (400, "generic refused these credentials; nothing was stored")
    assert A_KEY not in raw


def test_a_provider_that_does_not_answer_is_a_503_and_nothing_is_stored(aws) -> None:
    aws.directory.unreachable = True
    status, body, _ = connect(aws, "client-a", "generic", {"apiKey": A_KEY, "webhookSecret": A_HOOKS})
    assert status == 503 and "nothing was stored" in body["message"]


# -- POST /api/v1/client/agents ----------------------------------------------------------------


def test_an_agent_of_the_clients_own_account_calls_with_it(aws) -> None:
    # Given client A's own account, connected
    connect(aws, "client-a", "generic", a_owns(aws).as_mapping())
    # When it creates an agent with its own agent and number
    status, body, _ = create_agent(aws, "client-a", {"name": "Bot", "providerAgentId": "pa-A", "callerId": A_NUMBER})
    # Then it is stored with the account its calls use (not shown)
    assert status == 201, body
    assert "account" not in body["data"]
    (stored,) = stored_agents(aws, "client-a")
    assert (stored["provider"], stored["account"]) == ("generic", "client")


def test_the_attack_client_b_uses_client_as_agent_and_number_and_is_refused_with_nothing_stored(aws) -> None:
    # Given client A's own account, and client B's own account that owns other ids
    connect(aws, "client-a", "generic", a_owns(aws).as_mapping())
    b = GenericCredentials(apiKey="sk-client-b", webhookSecret="whsec-b")
    aws.directory.own("generic", b, agents=("pa-B",), numbers=("+12025550188",))
    connect(aws, "client-b", "generic", b.as_mapping())
    # When B creates an agent with A's providerAgentId and callerId
    status, body, _ = create_agent(aws, "client-b", {"name": "Evil", "providerAgentId": "pa-A", "callerId": A_NUMBER})
    # Then 403 says which id is not B's, and nothing is stored
    assert (status, body["message"]) == (403, "providerAgentId 'pa-A' is not an agent of your generic account")
    assert stored_agents(aws, "client-b") == []
    # And with its own agent but A's number, 403 names the number
    status, body, _ = create_agent(aws, "client-b", {"name": "Evil", "providerAgentId": "pa-B", "callerId": A_NUMBER})
    assert (status, body["message"]) == (403, f"callerId {A_NUMBER} is not a number of your generic account")
    assert stored_agents(aws, "client-b") == []


def test_an_agent_of_a_provider_that_needs_a_caller_id_without_one_is_a_400_naming_it(aws) -> None:
    status, body, _ = create_agent(aws, "client-a", {"name": "Bot", "providerAgentId": "pa", "provider": "vapi"})
    assert status == 400 and "callerId is required for a vapi agent" in body["message"]


def test_an_agent_whose_provider_does_not_answer_is_a_503_with_nothing_stored(aws) -> None:
    aws.directory.unreachable = True
    status, body, _ = create_agent(aws, "client-a", {"name": "Bot", "providerAgentId": "pa-1"})
    assert status == 503 and "nothing was stored" in body["message"]
    assert stored_agents(aws, "client-a") == []


def test_an_agent_of_a_provider_without_any_account_is_a_400_saying_how_to_connect_one(aws) -> None:
    # Given a deployment whose secret has a default account for the generic provider only
    secrets = boto3.client("secretsmanager")
    deployment = json.loads(secrets.get_secret_value(SecretId=aws.resolver.ref("DialerApiKeySecret"))["SecretString"])
    only_generic = {"generic": deployment["generic"], "allowList": deployment["allowList"]}
    secrets.put_secret_value(SecretId=aws.resolver.ref("DialerApiKeySecret"), SecretString=json.dumps(only_generic))
    # When client A, which has connected no retell account either, creates a retell agent
    status, body, _ = create_agent(
        aws, "client-a", {"name": "Bot", "providerAgentId": "asst", "provider": "retell", "callerId": A_NUMBER}
    )
    # Then it is told how to connect one
    assert status == 400 and "PUT /api/v1/client/providers/retell" in body["message"]
