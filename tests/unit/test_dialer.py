"""The provider's HTTP client: retries, idempotency, outcomes, and never leaking the key."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from campaign_calling.aws.secretsmanager import CachedSecret
from campaign_calling.calls.provider import (
    MAX_RETRY_AFTER_SECONDS,
    MIN_ATTEMPT_SECONDS,
    DialectDefaults,
    DialerClient,
    DialRequest,
    DialResult,
    ProviderEndpoints,
    attempt_timeout,
    longest_dial_seconds,
)
from campaign_calling.calls.providers import twilio, vapi
from campaign_calling.calls.providers.accounts import (
    CredentialsError,
    DeploymentAccounts,
    GenericCredentials,
    RetellCredentials,
    TwilioCredentials,
    VapiCredentials,
    read_deployment_secret,
)
from campaign_calling.calls.providers.dialect import DIALECTS, CallSpec
from campaign_calling.deadline import Deadline
from tests.support.fakes_accounts import StaticCredentials

BASE_URL = "https://provider.example/api/"
API_KEY = "k"
# Long enough to be found if it leaked anywhere.
SECRET_LOOKING_KEY = "sk-test-provider-key-do-not-log-0123456789"


class Provider:
    """A scripted provider: each request gets the next answer (a response or an exception)."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self._answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self._answers[min(len(self.requests), len(self._answers)) - 1]
        return answer(request)


def reply(status: int, payload: object = None, headers: dict[str, str] | None = None):
    def answer(request: httpx.Request) -> httpx.Response:
        if payload is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=payload, headers=headers)

    return answer


def fail(exc_type: type[httpx.TransportError], message: str = "boom"):
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return answer


def endpoints(base_url: str = BASE_URL) -> ProviderEndpoints:
    return ProviderEndpoints(dict.fromkeys(DIALECTS, base_url))


def client(provider: Provider, sleeps: list[float], api_key: str = API_KEY) -> DialerClient:
    return DialerClient(
        endpoints(),
        StaticCredentials.generic(api_key),
        transport=httpx.MockTransport(provider),
        sleep=sleeps.append,
        backoff_seconds=0.25,
    )


def request(key: str = "run-1:7:1") -> DialRequest:
    return DialRequest(
        to="+442079460958",
        provider_agent_id="pa-1",
        caller_id="+12025550143",
        idempotency_key=key,
        metadata={"uniqueId": "aidial-1705314600000-abc123", "campaignId": "cmp_1"},
    )


def created(call_id: str = "call_123"):
    return reply(201, {"id": call_id, "status": "queued"})


def test_success_is_accepted_with_the_provider_call_id() -> None:
    provider, sleeps = Provider(created("call_abc")), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is True
    assert result.status_code == 201
    assert result.provider_call_id == "call_abc"
    assert result.response == {"id": "call_abc", "status": "queued"}
    assert result.error is None
    assert result.outcome_unknown is False
    assert result.attempts == 1
    assert sleeps == []


def test_request_carries_auth_idempotency_key_and_json_body() -> None:
    provider = Provider(created())
    client(provider, []).dial(request("run-9:3:1"))
    (sent,) = provider.requests
    assert sent.method == "POST"
    assert str(sent.url) == "https://provider.example/api/v1/calls"
    assert sent.headers["Authorization"] == "Bearer k"
    assert sent.headers["Idempotency-Key"] == "run-9:3:1"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {
        "to": "+442079460958",
        "agentId": "pa-1",
        "callerId": "+12025550143",
        "metadata": {"uniqueId": "aidial-1705314600000-abc123", "campaignId": "cmp_1"},
    }


def test_caller_id_none_is_sent_as_null() -> None:
    provider = Provider(created())
    req = DialRequest(to="+442079460958", provider_agent_id="pa-1", caller_id=None, idempotency_key="x")
    client(provider, []).dial(req)
    body = json.loads(provider.requests[0].content)
    assert body["callerId"] is None
    assert body["metadata"] == {}


def test_503_then_201_is_retried_with_the_same_idempotency_key() -> None:
    provider, sleeps = Provider(reply(503, {"error": "busy"}), created("call_2")), []
    result = client(provider, sleeps).dial(request("run-1:1:1"))
    assert result.accepted is True
    assert result.provider_call_id == "call_2"
    assert result.attempts == 2
    assert [r.headers["Idempotency-Key"] for r in provider.requests] == ["run-1:1:1", "run-1:1:1"]
    assert provider.requests[0].content == provider.requests[1].content
    assert sleeps == [0.25]  # one backoff


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_back_off_exponentially_and_give_up_after_three_attempts(status: int) -> None:
    provider, sleeps = Provider(reply(status, {"error": "down"})), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is False
    assert result.status_code == status
    assert result.attempts == 3
    assert len(provider.requests) == 3
    assert sleeps == [0.25, 0.5]
    assert result.error == f"provider answered {status}: down"
    assert result.outcome_unknown is False


def test_429_retry_after_is_honoured() -> None:
    provider, sleeps = Provider(reply(429, {"error": "rate limited"}, {"Retry-After": "2"}), created()), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is True
    assert sleeps == [2.0]


@pytest.mark.parametrize(("header", "slept"), [("3600", 5.0), ("-4", 0.0), ("0.5", 0.5), ("soon", 0.25)])
def test_429_retry_after_is_capped_and_bad_values_fall_back_to_backoff(header: str, slept: float) -> None:
    provider, sleeps = Provider(reply(429, {"error": "rate limited"}, {"Retry-After": header}), created()), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is True
    assert sleeps == [slept]


def test_429_without_retry_after_uses_the_backoff() -> None:
    provider, sleeps = Provider(reply(429, {"error": "rate limited"})), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is False
    assert result.status_code == 429
    assert sleeps == [0.25, 0.5]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried_and_keep_the_providers_text(status: int) -> None:
    provider, sleeps = Provider(reply(status, {"error": "'to' is not a dialable number"})), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is False
    assert len(provider.requests) == 1
    assert sleeps == []
    assert result.status_code == status
    assert result.error == f"provider answered {status}: 'to' is not a dialable number"
    assert result.response == {"error": "'to' is not a dialable number"}
    assert result.outcome_unknown is False


def test_a_non_json_error_body_is_kept_as_text() -> None:
    provider = Provider(lambda r: httpx.Response(400, text="<html>bad gateway</html>"))
    result = client(provider, []).dial(request())
    assert result.error == "provider answered 400"
    assert result.response == {"body": "<html>bad gateway</html>"}


def test_a_long_provider_error_is_truncated() -> None:
    provider = Provider(reply(400, {"error": "x" * 1000}))
    result = client(provider, []).dial(request())
    assert result.error == "provider answered 400: " + "x" * 200


def test_read_timeout_on_every_attempt_is_outcome_unknown() -> None:
    provider, sleeps = Provider(fail(httpx.ReadTimeout)), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is False
    assert result.outcome_unknown is True
    assert result.status_code is None
    assert result.attempts == 3
    assert len(provider.requests) == 3
    assert len({r.headers["Idempotency-Key"] for r in provider.requests}) == 1
    assert result.error == "provider timed out: ReadTimeout"
    assert sleeps == [0.25, 0.5]


def test_timeout_then_client_error_is_still_outcome_unknown() -> None:
    # The first attempt may have connected the call: a later refusal does not prove otherwise.
    provider = Provider(fail(httpx.ReadTimeout), reply(400, {"error": "bad"}))
    result = client(provider, []).dial(request())
    assert result.accepted is False
    assert result.outcome_unknown is True
    assert result.status_code == 400


def test_timeout_then_success_is_accepted() -> None:
    provider = Provider(fail(httpx.ReadTimeout), created("call_late"))
    result = client(provider, []).dial(request())
    assert result.accepted is True
    assert result.outcome_unknown is False
    assert result.provider_call_id == "call_late"


def test_connect_error_on_every_attempt_is_failed_not_unknown() -> None:
    provider, sleeps = Provider(fail(httpx.ConnectError)), []
    result = client(provider, sleeps).dial(request())
    assert result.accepted is False
    assert result.outcome_unknown is False
    assert result.attempts == 3
    assert len(provider.requests) == 3
    assert result.error == "cannot connect to provider: ConnectError"
    assert sleeps == [0.25, 0.5]


def test_other_transport_errors_are_outcome_unknown() -> None:
    provider = Provider(fail(httpx.RemoteProtocolError, "server disconnected"))
    result = client(provider, []).dial(request())
    assert result.accepted is False
    assert result.outcome_unknown is True
    assert result.error == "provider connection failed: RemoteProtocolError"


@pytest.mark.parametrize(
    "answer",
    [
        fail(httpx.ReadTimeout, f"timed out sending Bearer {SECRET_LOOKING_KEY}"),
        fail(httpx.ConnectError, f"refused Bearer {SECRET_LOOKING_KEY}"),
        fail(httpx.RemoteProtocolError, f"garbled Bearer {SECRET_LOOKING_KEY}"),
        reply(401, {"error": "invalid api key"}),
        reply(503, {"error": "busy"}),
        created(),
    ],
)
def test_the_api_key_never_appears_in_the_result(answer) -> None:
    provider = Provider(answer)
    result = client(provider, [], api_key=SECRET_LOOKING_KEY).dial(request())
    assert provider.requests[0].headers["Authorization"] == f"Bearer {SECRET_LOOKING_KEY}"
    assert SECRET_LOOKING_KEY not in (result.error or "")
    assert SECRET_LOOKING_KEY not in repr(result)
    assert SECRET_LOOKING_KEY not in str(result)


def test_the_key_is_read_for_every_dial_so_a_rotated_key_is_used() -> None:
    keys = iter(["old", "new"])
    provider = Provider(created())
    dialer = DialerClient(
        endpoints(),
        StaticCredentials.generic(lambda: next(keys)),
        transport=httpx.MockTransport(provider),
        sleep=[].append,
    )
    dialer.dial(request("a"))
    dialer.dial(request("b"))
    assert [r.headers["Authorization"] for r in provider.requests] == ["Bearer old", "Bearer new"]


def test_prepare_fetches_the_credentials_and_the_webhook_url_without_calling_the_provider() -> None:
    webhook_reads: list[int] = []
    provider = Provider(created())
    credentials = StaticCredentials.generic("k")

    def webhook_base_url() -> str:
        webhook_reads.append(1)
        return "https://api.example.test"

    DialerClient(
        endpoints(), credentials, webhook_base_url=webhook_base_url, transport=httpx.MockTransport(provider)
    ).prepare()
    assert credentials.deployment_reads == 1
    assert webhook_reads == [1]
    assert provider.requests == []


def test_dial_result_defaults() -> None:
    result = DialResult(False, None, None, None, "x")
    assert result.outcome_unknown is False
    assert result.attempts == 1


def test_the_api_key_is_read_from_the_templates_secret(aws) -> None:
    # Given the template's secret, holding the deployment's provider credentials
    secret = CachedSecret(aws.resolver.ref("DialerApiKeySecret"), max_age_seconds=0)
    # When it is read, Then its generic account has the key the simulated provider expects
    generic = read_deployment_secret(secret()).credentials["generic"]
    assert generic.as_mapping()["apiKey"] == aws.dialer.config.api_key


# -- the deadline ---------------------------------------------------------------------------


class FakeClock:
    """Monotonic seconds that move only when the dial waits or the provider takes time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def slow(clock: FakeClock):
    """A provider that never answers: each attempt uses all the time its timeouts give."""

    def answer(request: httpx.Request) -> httpx.Response:
        timeout = request.extensions["timeout"]
        clock.now += timeout["connect"] + timeout["read"]
        raise httpx.ReadTimeout("timed out", request=request)

    return answer


def timed_client(provider: Provider, clock: FakeClock, timeout_seconds: float = 10.0) -> DialerClient:
    return DialerClient(
        endpoints(),
        StaticCredentials.generic(API_KEY),
        transport=httpx.MockTransport(provider),
        sleep=clock.sleep,
        timeout_seconds=timeout_seconds,
    )


def attempt_seconds(req: httpx.Request) -> float:
    return req.extensions["timeout"]["connect"] + req.extensions["timeout"]["read"]


def test_an_attempt_never_takes_longer_than_the_timeout_connecting_included() -> None:
    timeout = attempt_timeout(10)
    assert (timeout.connect, timeout.read) == (2.5, 7.5)
    assert attempt_timeout(20).connect == 3.0 and attempt_timeout(20).read == 17.0


def test_the_longest_dial_is_every_attempt_timing_out_after_the_longest_waits() -> None:
    assert longest_dial_seconds(10) == 3 * 10 + 2 * MAX_RETRY_AFTER_SECONDS


def test_a_slow_provider_is_given_up_at_the_deadline_with_the_last_attempt_shortened() -> None:
    # Given a provider that never answers and 12 s before the deadline
    clock = FakeClock()
    provider = Provider(slow(clock))

    # When we dial with a 10 s timeout per attempt
    result = timed_client(provider, clock).dial(request(), Deadline(12, clock=clock))

    # Then the first attempt gets its 10 s, the second what is left after the backoff
    assert [attempt_seconds(r) for r in provider.requests] == [10.0, pytest.approx(1.75)]
    assert clock.now == pytest.approx(12.0)
    # and the call is reported as possibly placed, cut off by the deadline
    assert result.accepted is False
    assert result.outcome_unknown is True
    assert result.deadline_exceeded is True
    assert result.attempts == 2
    assert result.error == "provider timed out: ReadTimeout; stopped at the deadline after 2 attempt(s)"


def test_a_retry_after_that_cannot_fit_is_not_waited_for() -> None:
    # Given a provider that answers 429 Retry-After: 5 and 3 s before the deadline
    clock = FakeClock()
    provider = Provider(reply(429, {"error": "slow down"}, headers={"Retry-After": "5"}))

    # When we dial
    result = timed_client(provider, clock).dial(request(), Deadline(3, clock=clock))

    # Then there is one attempt, no wait, and the call was refused (not placed)
    assert len(provider.requests) == 1
    assert clock.now == 0.0
    assert result.deadline_exceeded is True
    assert result.outcome_unknown is False
    assert result.status_code == 429


def test_no_attempt_starts_without_time_for_an_answer() -> None:
    # Given less than MIN_ATTEMPT_SECONDS before the deadline
    clock = FakeClock()
    provider = Provider(created())

    # When we dial
    result = timed_client(provider, clock).dial(request(), Deadline(MIN_ATTEMPT_SECONDS / 2, clock=clock))

    # Then the provider is never asked, and the result says why
    assert provider.requests == []
    assert (result.accepted, result.attempts, result.deadline_exceeded) == (False, 0, True)
    assert result.error == "not dialed: no time left before the deadline"


def test_a_deadline_far_enough_away_changes_nothing() -> None:
    # Given a provider that fails twice then accepts, and all the time a dial can need
    clock = FakeClock()
    provider = Provider(reply(503), reply(503), created("call_ok"))
    budget = longest_dial_seconds(10)

    # When we dial
    result = timed_client(provider, clock).dial(request(), Deadline(budget, clock=clock))

    # Then every attempt has its full timeout and the call is placed
    assert [attempt_seconds(r) for r in provider.requests] == [10.0, 10.0, 10.0]
    assert result.accepted is True
    assert result.deadline_exceeded is False


def test_every_attempt_timing_out_fits_the_longest_dial() -> None:
    # Given a provider that never answers and exactly the longest dial's time
    clock = FakeClock()
    provider = Provider(slow(clock))

    # When we dial with 3 s attempts
    result = timed_client(provider, clock, timeout_seconds=3).dial(
        request(), Deadline(longest_dial_seconds(3), clock=clock)
    )

    # Then all three attempts run in full, and the deadline never had to cut in
    assert len(provider.requests) == 3
    assert result.deadline_exceeded is False
    assert clock.now <= longest_dial_seconds(3)


# -- each agent's dialect and account ----------------------------------------------------------

TWILIO = TwilioCredentials(accountSid="AC" + "f" * 32, authToken="twilio-token-do-not-log-0123456789")
VAPI = VapiCredentials(apiKey="vapi-key-do-not-log-0123456789", serverSecret="vapi-server")
RETELL = RetellCredentials(apiKey="retell-key-do-not-log-0123456789")
BASES = {
    "generic": "https://generic.example",
    "twilio": "https://twilio.example",
    "vapi": "https://vapi.example",
    "retell": "https://retell.example",
}
WEBHOOKS = "https://hooks.example"


def dialect_client(provider: Provider, *, defaults: DialectDefaults | None = None) -> DialerClient:
    accounts = {"twilio": TWILIO, "vapi": VAPI, "retell": RETELL, "generic": GenericCredentials(apiKey=API_KEY)}
    return DialerClient(
        ProviderEndpoints(BASES),
        StaticCredentials(lambda dialect, account: accounts.get(dialect) if account == "client" else None),
        defaults=defaults,
        webhook_base_url=lambda: WEBHOOKS,
        transport=httpx.MockTransport(provider),
        sleep=[].append,
    )


def dialect_request(dialect: str, **overrides: str) -> DialRequest:
    return DialRequest(
        to="+442079460958",
        provider_agent_id="agent-7",
        caller_id="+12025550143",
        idempotency_key="run-1:7:1",
        metadata={"uniqueId": "aidial-1"},
        provider=dialect,  # type: ignore[arg-type]
        account="client",
        client_id="acme",
        customer_name="Jo Bloggs" if dialect == "vapi" else None,
        **overrides,
    )


def test_a_twilio_agent_is_dialed_as_twilio_documents_with_the_accounts_basic_auth() -> None:
    # Given a Twilio agent of the client's own account, and a TwiML URL of its own
    provider = Provider(reply(201, {"sid": "CA" + "1" * 32, "status": "queued"}))
    # When
    result = dialect_client(provider).dial(dialect_request("twilio", twiml_url="https://bridge.example/twiml"))
    # Then the request is exactly what the dialect builds, sent to Twilio's base URL
    (sent,) = provider.requests
    expected = twilio.create_call_request(
        CallSpec(
            "+442079460958",
            "agent-7",
            "+12025550143",
            "run-1:7:1",
            {"uniqueId": "aidial-1"},
            status_webhook_url=f"{WEBHOOKS}/api/v1/webhooks/twilio",
        ),
        twilio.TwilioAccount(TWILIO.accountSid, TWILIO.authToken),
        twilio.TwilioDefaults(twiml_url="https://bridge.example/twiml"),
    )
    assert str(sent.url) == BASES["twilio"] + expected.path
    assert sent.content == expected.body
    assert sent.headers["Authorization"] == expected.headers["Authorization"]
    assert "Idempotency-Key" not in sent.headers
    assert (result.accepted, result.provider_call_id) == (True, "CA" + "1" * 32)


def test_a_vapi_agent_calls_from_its_own_phone_number_id_else_the_deployments() -> None:
    provider = Provider(reply(201, {"id": "vapi-call-1", "status": "queued"}))
    client = dialect_client(provider, defaults=DialectDefaults(vapi=vapi.VapiDefaults(phone_number_id="pn-default")))
    client.dial(dialect_request("vapi", phone_number_id="pn-agent"))
    result = client.dial(dialect_request("vapi"))
    first, second = (json.loads(r.content) for r in provider.requests)
    assert [str(r.url) for r in provider.requests] == [BASES["vapi"] + "/call"] * 2
    assert (first["phoneNumberId"], second["phoneNumberId"]) == ("pn-agent", "pn-default")
    assert first["assistantId"] == "agent-7"
    assert first["customer"] == {"number": "+442079460958", "name": "Jo Bloggs"}
    assert first["assistantOverrides"]["server"]["url"] == f"{WEBHOOKS}/api/v1/webhooks/vapi"
    assert provider.requests[0].headers["Authorization"] == f"Bearer {VAPI.apiKey}"
    assert result.provider_call_id == "vapi-call-1"


def test_a_retell_agent_is_dialed_as_retell_documents() -> None:
    provider = Provider(reply(201, {"call_id": "retell-call-1", "call_status": "registered"}))
    result = dialect_client(provider).dial(dialect_request("retell"))
    (sent,) = provider.requests
    body = json.loads(sent.content)
    assert str(sent.url) == BASES["retell"] + "/v2/create-phone-call"
    assert (body["from_number"], body["to_number"], body["override_agent_id"]) == (
        "+12025550143",
        "+442079460958",
        "agent-7",
    )
    assert body["agent_override"]["agent"]["webhook_url"] == f"{WEBHOOKS}/api/v1/webhooks/retell"
    assert sent.headers["Authorization"] == f"Bearer {RETELL.apiKey}"
    assert result.provider_call_id == "retell-call-1"


@pytest.mark.parametrize("dialect", ["twilio", "vapi", "retell"])
@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_a_provider_without_idempotency_keys_is_never_asked_again_once_the_call_may_be_placed(dialect, failure) -> None:
    # Given a provider that takes no idempotency key and does not answer
    provider = Provider(fail(failure), reply(201, {"sid": "CA1", "id": "x", "call_id": "x"}))
    # When
    result = dialect_client(provider, defaults=DialectDefaults(vapi=vapi.VapiDefaults("pn"))).dial(
        dialect_request(dialect, **({"twiml_url": "https://t.example"} if dialect == "twilio" else {}))
    )
    # Then one request only: a second could place a second call
    assert len(provider.requests) == 1
    assert (result.accepted, result.outcome_unknown, result.attempts) == (False, True, 1)


@pytest.mark.parametrize("dialect", ["twilio", "vapi", "retell"])
def test_answers_that_say_nothing_was_placed_are_asked_again_on_every_provider(dialect) -> None:
    provider = Provider(reply(503, {"message": "busy"}), reply(201, {"sid": "CA1", "id": "c1", "call_id": "c1"}))
    result = dialect_client(provider, defaults=DialectDefaults(vapi=vapi.VapiDefaults("pn"))).dial(
        dialect_request(dialect, **({"twiml_url": "https://t.example"} if dialect == "twilio" else {}))
    )
    assert len(provider.requests) == 2
    assert result.accepted is True


def test_a_generic_request_is_still_asked_again_after_a_timeout_with_the_same_key() -> None:
    provider = Provider(fail(httpx.ReadTimeout), created("call_again"))
    result = dialect_client(provider).dial(dialect_request("generic"))
    assert [r.headers["Idempotency-Key"] for r in provider.requests] == ["run-1:7:1"] * 2
    assert json.loads(provider.requests[0].content)["statusWebhookUrl"] == f"{WEBHOOKS}/api/v1/webhooks/generic"
    assert result.provider_call_id == "call_again"


@pytest.mark.parametrize(
    ("dialect", "overrides", "missing"),
    [
        ("vapi", {}, "vapi needs a phoneNumberId"),
        ("twilio", {}, "twilio needs a TwiML URL or TwiML"),
    ],
)
def test_a_call_the_provider_cannot_be_asked_as_configured_is_not_placed_and_says_what_is_missing(
    dialect, overrides, missing
) -> None:
    provider = Provider(created())
    result = dialect_client(provider).dial(dialect_request(dialect, **overrides))
    assert provider.requests == []
    assert (result.accepted, result.outcome_unknown, result.attempts) == (False, False, 0)
    assert result.error == f"not placed: {missing}"


def test_an_agent_whose_account_has_no_credentials_is_not_placed() -> None:
    provider = Provider(created())
    request = replace(dialect_request("retell"), account="default")
    result = dialect_client(provider).dial(request)
    assert provider.requests == []
    assert result.error == "not placed: no retell credentials for the agent's default account"


@pytest.mark.parametrize(
    "answer",
    [
        fail(httpx.ReadTimeout, f"timed out with {TWILIO.authToken} {VAPI.apiKey} {RETELL.apiKey}"),
        fail(httpx.ConnectError, f"refused {TWILIO.authToken} {VAPI.apiKey} {RETELL.apiKey}"),
        reply(401, {"message": "Authenticate", "code": 20003}),
        reply(201, {"sid": "CA1", "id": "c1", "call_id": "c1"}),
    ],
)
@pytest.mark.parametrize("dialect", ["twilio", "vapi", "retell"])
def test_no_credential_of_any_provider_appears_in_a_result(answer, dialect) -> None:
    provider = Provider(answer)
    result = dialect_client(provider, defaults=DialectDefaults(vapi=vapi.VapiDefaults("pn"))).dial(
        dialect_request(dialect, **({"twiml_url": "https://t.example"} if dialect == "twilio" else {}))
    )
    for secret in (TWILIO.authToken, VAPI.apiKey, RETELL.apiKey, TWILIO.accountSid):
        assert secret not in f"{result!r} {result.error}"
    assert "+442079460958" not in repr(dialect_request(dialect))  # the contact's number stays out of reprs


def test_a_deployment_document_that_cannot_be_read_fails_only_the_calls_that_need_it() -> None:
    # Given a broken deployment document, and a client's own generic account
    def broken() -> DeploymentAccounts:
        raise CredentialsError("provider credentials secret: unknown keys ['sinch']")

    credentials = StaticCredentials(
        lambda dialect, account: GenericCredentials(apiKey="own") if account == "client" else None
    )
    credentials.deployment = broken  # type: ignore[method-assign]
    provider = Provider(created())
    dialer = DialerClient(endpoints(), credentials, transport=httpx.MockTransport(provider), sleep=[].append)
    # When the dial step warms up and dials with the client's account, Then it is placed
    dialer.prepare()
    assert dialer.dial(dialect_request("generic")).accepted is True
