"""POST /api/v1/webhooks/{provider} through its real handler (moto): the signature is asked
for before anything is read, checked with the call's account's credentials, and a refused
webhook changes nothing; unknown providers, unreadable bodies and unknown calls are answered
as the issue says."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import clear_caches
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from campaign_calling.calls.logs import CallLogRepository
from campaign_calling.calls.placing import new_call_log
from campaign_calling.calls.providers.signatures import sign_generic, twilio_signature
from campaign_calling.models import CallLog, Contact
from campaign_local.http_api import http_api_event
from campaign_local.template import Route

FUNCTION = "WebhooksFunction"
ROUTE = Route("POST", "/api/v1/webhooks/{provider}", FUNCTION, None)
CLIENT = "client-a"
PHONE = "+442079460958"
WEBHOOK_SECRET = "whsec-unit-test-0123456789"
AUTH_TOKEN = "twilio-auth-token-unit-test"
TWILIO_SID = "AC" + "1" * 32
API_HOST = "https://abc123.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def world(aws: Any) -> Any:
    aws.use_function(FUNCTION)
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=aws.resolver.ref("DialerApiKeySecret"),
        SecretString=json.dumps(
            {
                "generic": {"apiKey": "k", "webhookSecret": WEBHOOK_SECRET},
                "twilio": {"accountSid": TWILIO_SID, "authToken": AUTH_TOKEN},
            }
        ),
    )
    clear_caches()  # Powertools' cache of secrets outlives a test
    yield aws
    clear_caches()


def place(aws: Any, provider_call_id: str, provider: str = "generic") -> CallLog:
    log = new_call_log(
        campaign_id="cmp_1",
        contact=Contact(id="ct_0000000001", name="Ada", phone=PHONE, seq=1),
        agent_id="ag_1",
        unique_id=f"aidial-1705314600000-{provider_call_id[-6:]:0>6}",
        started_ms=1_705_314_600_000,
        ended_ms=1_705_314_600_250,
        run_id=None,
        outcome="success",
        error=None,
        provider=provider,  # type: ignore[arg-type]
    ).model_copy(update={"providerCallId": provider_call_id})
    CallLogRepository(boto3.client("dynamodb"), aws.resolver.ref("CallLogsTable")).put(CLIENT, log)
    return log


def stored(aws: Any, log: CallLog) -> CallLog:
    logs, _ = CallLogRepository(boto3.client("dynamodb"), aws.resolver.ref("CallLogsTable")).list(
        CLIENT, log.campaignId, 10, None
    )
    (found,) = [x for x in logs if x.uniqueId == log.uniqueId]
    return found


def post(aws: Any, provider: str, body: bytes, headers: dict[str, str], query: str = "") -> tuple[int, dict[str, Any]]:
    request = Request(
        EnvironBuilder(
            method="POST",
            path=f"/api/v1/webhooks/{provider}",
            query_string=query,
            data=body,
            headers=headers,
            base_url=API_HOST,
        ).get_environ()
    )
    result = aws.invoke(FUNCTION, http_api_event(request, ROUTE, {"provider": provider}, claims=None))
    return result["statusCode"], json.loads(result["body"])


def generic_body(call_id: str, status: str = "completed") -> bytes:
    return json.dumps({"callId": call_id, "status": status, "durationSeconds": 31, "endedReason": "hangup"}).encode()


def signed_headers(body: bytes, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Signature": sign_generic(secret, body, int(time.time()))}


def test_a_signed_webhook_for_a_known_call_records_its_status_once(world: Any) -> None:
    log = place(world, "call_known")
    body = generic_body("call_known")

    first = post(world, "generic", body, signed_headers(body))
    replay = post(world, "generic", body, signed_headers(body))

    assert first == (
        200,
        {"success": True, "message": "status recorded", "data": {"provider": "generic", "result": "recorded"}},
    )
    assert replay[0] == 200 and replay[1]["data"]["result"] == "unchanged"
    after = stored(world, log)
    assert (after.status, after.durationSeconds, after.endedReason) == ("completed", 31, "hangup")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "application/json", "X-Signature": "t=1,v1=" + "0" * 64},
        None,  # signed with another secret
    ],
    ids=["unsigned", "forged", "wrong-secret"],
)
def test_a_webhook_without_a_valid_signature_is_refused_and_changes_nothing(world: Any, headers: Any) -> None:
    log = place(world, "call_guarded")
    body = generic_body("call_guarded")

    status, answer = post(world, "generic", body, headers or signed_headers(body, "not-the-secret"))

    assert status == 401 and answer["success"] is False
    assert stored(world, log) == log


def test_a_tampered_body_is_refused(world: Any) -> None:
    log = place(world, "call_tampered")
    headers = signed_headers(generic_body("call_tampered", "no-answer"))

    status, _ = post(world, "generic", generic_body("call_tampered", "completed"), headers)

    assert status == 401
    assert stored(world, log).status == "queued"


def test_an_unknown_provider_is_not_found(world: Any) -> None:
    body = generic_body("call_x")
    assert post(world, "plivo", body, signed_headers(body)) == (
        404,
        {"success": False, "message": "provider not found"},
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "body is not JSON"),
        (b'{"status": "completed"}', "no callId"),
        (b'{"callId": "c", "status": "x"}', "status"),
    ],
)
def test_a_body_that_is_not_a_status_webhook_is_a_bad_request_naming_the_problem(
    world: Any, body: bytes, problem: str
) -> None:
    status, answer = post(world, "generic", body, signed_headers(body))

    assert status == 400 and answer["success"] is False
    assert problem in answer["message"]


def test_an_unknown_call_is_answered_200_and_nothing_is_written(world: Any) -> None:
    table = world.resolver.ref("CallLogsTable")
    before = boto3.client("dynamodb").scan(TableName=table)["Items"]
    body = generic_body("call_never_placed")

    status, answer = post(world, "generic", body, signed_headers(body))

    assert (status, answer["data"]) == (200, {"provider": "generic", "result": "unknown-call"})
    assert boto3.client("dynamodb").scan(TableName=table)["Items"] == before


def test_a_twilio_callback_is_checked_against_the_full_public_url(world: Any) -> None:
    # Given a call placed on Twilio
    log = place(world, "CA" + "1" * 32, provider="twilio")
    form = [("CallSid", "CA" + "1" * 32), ("CallStatus", "busy"), ("AccountSid", TWILIO_SID)]
    body = urlencode(form).encode()
    url = f"{API_HOST}/api/v1/webhooks/twilio?run=1"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    # When Twilio posts its callback signed for another URL, then for the URL it called
    wrong = post(
        world, "twilio", body, {**headers, "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url + "0", form)}, "run=1"
    )
    right = post(
        world, "twilio", body, {**headers, "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, form)}, "run=1"
    )

    # Then only the second is taken
    assert (wrong[0], right[0]) == (401, 200)
    assert stored(world, log).status == "busy"


def test_a_message_that_is_not_about_a_calls_status_is_taken_and_ignored(world: Any) -> None:
    body = json.dumps({"message": {"type": "transcript", "call": {"id": "v1"}}}).encode()

    status, answer = post(world, "vapi", body, {"Content-Type": "application/json", "X-Vapi-Secret": "s"})

    assert status == 200 and answer["data"] == {"provider": "vapi", "result": "not-a-status-event"}


def test_a_final_status_is_published_as_one_metric_in_the_templates_namespace(monkeypatch, capsys) -> None:
    # Given the environment the template's Globals give every function
    from campaign_calling.observability.metrics import CALLS_ENDED, CallMetrics
    from campaign_local.template import Template, find_template

    globals_env = Template(find_template()).doc["Globals"]["Function"]["Environment"]["Variables"]
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", globals_env["POWERTOOLS_METRICS_NAMESPACE"])
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", globals_env["POWERTOOLS_SERVICE_NAME"])
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics = CallMetrics()

    # When a call ends and the handler publishes
    metrics.call_ended("twilio", "no-answer")
    metrics.publish()
    metrics.publish()  # nothing more to publish: nothing printed

    # Then one EMF record says so, by provider and status
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    record = json.loads(line)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == globals_env["POWERTOOLS_METRICS_NAMESPACE"]
    assert directive["Metrics"] == [{"Name": CALLS_ENDED, "Unit": "Count"}]
    assert {"provider", "status"} <= set(directive["Dimensions"][0])
    assert (record["provider"], record["status"], record[CALLS_ENDED]) == ("twilio", "no-answer", [1.0])


def test_a_clients_own_account_is_read_from_its_secret_under_the_prefix(world: Any) -> None:
    # Given client A's own Twilio account in Secrets Manager, where the template points
    from campaign_calling import wiring
    from campaign_calling.calls.providers.credentials import client_provider_secret_name
    from campaign_calling.settings import ProviderAccountSettings, get_settings

    settings = get_settings(ProviderAccountSettings)  # the function's environment, from the template
    prefix = settings.client_secret_prefix
    own = {"accountSid": "AC" + "2" * 32, "authToken": "own-token"}
    boto3.client("secretsmanager").create_secret(
        Name=client_provider_secret_name(prefix, CLIENT, "twilio"), SecretString=json.dumps(own)
    )
    # When the webhooks' accounts are asked (as the function wires them)
    keys = wiring.provider_accounts()

    # Then its credentials are A's own; another client has none; the default is the deployment's
    assert keys.credentials("twilio", CLIENT, "client") == own
    assert keys.credentials("twilio", "client-b", "client") is None
    assert keys.credentials("twilio", CLIENT, "default") == {"accountSid": TWILIO_SID, "authToken": AUTH_TOKEN}
