"""The simulated provider's four dialects over real HTTP: auth as each provider checks it,
required fields, the documented answers, and accounts owning agents and numbers. Requests are
built with the product's own dialect modules, so the simulator is held to what the product sends."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from campaign_calling.calls.providers import generic, retell, twilio, vapi
from campaign_calling.calls.providers.dialect import CallSpec, ProviderRequest
from campaign_local.sim_dialer import SimDialer, SimDialerConfig

TO = "+15551234567"
FROM = "+15557654321"
SPEC = CallSpec(to=TO, provider_agent_id="agent-1", caller_id=FROM, idempotency_key="run-1:1:1", metadata={"c": "1"})
TWIML = twilio.TwilioDefaults(twiml_url="https://example.com/twiml")


@pytest.fixture(scope="module")
def dialer() -> Iterator[SimDialer]:
    d = SimDialer(SimDialerConfig(api_key="generic-key", seed=5, ring_ms=1, talk_ms=1)).start()
    yield d
    d.stop()


@pytest.fixture
def creds(dialer: SimDialer) -> dict[str, dict[str, str]]:
    return dialer.default_credentials()


def _send(dialer: SimDialer, provider: str, request: ProviderRequest) -> httpx.Response:
    return httpx.request(
        request.method, dialer.base_url(provider) + request.path, headers=dict(request.headers), content=request.body
    )


def _request(provider: str, credentials: dict[str, str], spec: CallSpec = SPEC, **defaults: Any) -> ProviderRequest:
    if provider == "generic":
        return generic.create_call_request(spec, generic.GenericAccount(credentials["apiKey"]))
    if provider == "twilio":
        account = twilio.TwilioAccount(credentials["accountSid"], credentials["authToken"])
        return twilio.create_call_request(spec, account, defaults.get("twilio", TWIML))
    if provider == "vapi":
        return vapi.create_call_request(
            spec, vapi.VapiAccount(credentials["apiKey"]), vapi.VapiDefaults(defaults.get("phone_number_id", "pn-any"))
        )
    return retell.create_call_request(spec, retell.RetellAccount(credentials["apiKey"]))


READERS = {
    "generic": generic.read_create_call_answer,
    "twilio": twilio.read_create_call_answer,
    "vapi": vapi.read_create_call_answer,
    "retell": retell.read_create_call_answer,
}


# ---- the default accounts ---------------------------------------------------------------


def test_given_a_started_simulator_then_it_tells_each_providers_base_url_and_default_credentials(
    dialer: SimDialer,
) -> None:
    # When
    creds = dialer.default_credentials()
    # Then: the deployment secret's shape (design §1), and a path family per provider
    assert set(creds) == {"generic", "twilio", "vapi", "retell"}
    assert creds["generic"]["apiKey"] == "generic-key" and creds["generic"]["webhookSecret"]
    assert re.fullmatch(r"AC[0-9a-f]{32}", creds["twilio"]["accountSid"]) and creds["twilio"]["authToken"]
    assert set(creds["vapi"]) == {"apiKey", "serverSecret"} and set(creds["retell"]) == {"apiKey"}
    assert dialer.base_url("generic") == dialer.url
    assert [dialer.base_url(p) for p in ("twilio", "vapi", "retell")] == [
        f"{dialer.url}/twilio",
        f"{dialer.url}/vapi",
        f"{dialer.url}/retell",
    ]
    with pytest.raises(ValueError):
        dialer.base_url("bland")


def test_given_configured_credentials_then_the_default_accounts_use_them() -> None:
    config = SimDialerConfig(
        api_key="g",
        webhook_secret="gs",
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="tt",
        vapi_api_key="vk",
        vapi_server_secret="vs",
        retell_api_key="rk",
    )
    assert SimDialer(config).default_credentials() == {
        "generic": {"apiKey": "g", "webhookSecret": "gs"},
        "twilio": {"accountSid": "AC" + "1" * 32, "authToken": "tt"},
        "vapi": {"apiKey": "vk", "serverSecret": "vs"},
        "retell": {"apiKey": "rk"},
    }


# ---- accepted calls -----------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["generic", "twilio", "vapi", "retell"])
def test_given_the_default_account_when_the_product_places_a_call_then_the_provider_accepts_it(
    dialer: SimDialer, creds: dict[str, dict[str, str]], provider: str
) -> None:
    # When the product's own request is sent
    response = _send(dialer, provider, _request(provider, creds[provider]))
    # Then it is accepted with the provider's documented answer, which the product reads
    assert response.status_code == 201, response.text
    answer = READERS[provider](response.status_code, response.json())
    assert answer.accepted and answer.provider_call_id
    data = response.json()
    if provider == "generic":
        assert data["status"] == "queued" and re.fullmatch(r"call_[0-9a-f]{24}", data["id"])
    elif provider == "twilio":
        assert re.fullmatch(r"CA[0-9a-f]{32}", data["sid"]) and data["status"] == "queued"
        assert data["account_sid"] == creds["twilio"]["accountSid"] and data["to"] == TO and data["from"] == FROM
    elif provider == "vapi":
        assert data["status"] == "queued" and data["customer"] == {"number": TO}
        assert re.fullmatch(r"[0-9a-f-]{36}", data["id"])
    else:
        assert data["call_status"] == "registered" and data["from_number"] == FROM and data["to_number"] == TO
    # And /calls records it in that dialect, with the number called
    record = next(r for r in dialer.calls() if r["callId"] == answer.provider_call_id)
    assert (record["dialect"], record["phone"], record["status"], record["account"]) == (provider, TO, 201, "default")


def test_given_a_twilio_call_then_the_record_shows_the_form_and_masks_basic_auth(
    dialer: SimDialer, creds: dict[str, dict[str, str]]
) -> None:
    # Given a Twilio call with a status callback
    spec = CallSpec(TO, "agent-1", FROM, "k", status_webhook_url="http://127.0.0.1:9/hook")
    response = _send(dialer, "twilio", _request("twilio", creds["twilio"], spec))
    # Then the record holds the form (repeated fields as lists), and no credential
    record = next(r for r in dialer.calls() if r["callId"] == response.json()["sid"])
    assert record["headers"]["authorization"] == "Basic ***"
    assert record["body"]["To"] == TO and record["body"]["StatusCallbackEvent"] == list(twilio.STATUS_CALLBACK_EVENTS)
    assert creds["twilio"]["authToken"] not in httpx.get(f"{dialer.url}/calls").text


def test_given_a_replayed_idempotency_key_then_only_generic_honours_it(
    dialer: SimDialer, creds: dict[str, dict[str, str]]
) -> None:
    # Given the same Idempotency-Key sent twice to generic and to Vapi
    spec = CallSpec(to=TO, provider_agent_id="agent-1", caller_id=FROM, idempotency_key="replayed-key")
    generic_request = _request("generic", creds["generic"], spec)
    first, second = (_send(dialer, "generic", generic_request) for _ in range(2))
    vapi_request = _request("vapi", creds["vapi"])
    headers = {**vapi_request.headers, "Idempotency-Key": "same"}
    vapi_calls = [
        httpx.post(f"{dialer.base_url('vapi')}/call", headers=headers, content=vapi_request.body) for _ in range(2)
    ]
    # Then generic answers the first call again; Vapi places two
    assert (first.status_code, second.status_code) == (201, 200) and first.content == second.content
    assert [r.status_code for r in vapi_calls] == [201, 201]
    assert vapi_calls[0].json()["id"] != vapi_calls[1].json()["id"]


# ---- auth ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["generic", "twilio", "vapi", "retell"])
def test_given_wrong_credentials_when_placing_then_refused_401_in_the_providers_shape(
    dialer: SimDialer, creds: dict[str, dict[str, str]], provider: str
) -> None:
    # Given the right key's neighbour
    wrong = {name: value + "x" if name != "accountSid" else value for name, value in creds[provider].items()}
    # When
    response = _send(dialer, provider, _request(provider, wrong))
    # Then
    assert response.status_code == 401
    body = response.json()
    expected_keys = {
        "generic": {"error"},
        "twilio": {"code", "message", "more_info", "status"},
        "vapi": {"message", "error", "statusCode"},
        "retell": {"status", "message"},
    }[provider]
    assert set(body) == expected_keys
    assert not READERS[provider](401, body).accepted
    assert wrong.get("authToken", wrong.get("apiKey", "")) not in httpx.get(f"{dialer.url}/calls").text


def test_given_twilio_credentials_of_one_account_when_the_path_names_another_then_not_found(
    dialer: SimDialer, creds: dict[str, dict[str, str]]
) -> None:
    # Given basic auth of the default account, and another SID in the path
    request = _request("twilio", creds["twilio"])
    other = f"/2010-04-01/Accounts/AC{'0' * 32}/Calls.json"
    # When
    response = httpx.post(dialer.base_url("twilio") + other, headers=dict(request.headers), content=request.body)
    # Then
    assert response.status_code == 404 and response.json()["code"] == 20404


def test_given_no_credentials_then_every_dialect_refuses(dialer: SimDialer) -> None:
    for url in (
        f"{dialer.url}/v1/calls",
        f"{dialer.base_url('twilio')}/2010-04-01/Accounts/AC1/Calls.json",
        f"{dialer.base_url('vapi')}/call",
        f"{dialer.base_url('retell')}/v2/create-phone-call",
    ):
        assert httpx.post(url, content=b"{}").status_code == 401, url


# ---- required fields --------------------------------------------------------------------


def _twilio_post(dialer: SimDialer, creds: dict[str, str], form: dict[str, str]) -> httpx.Response:
    auth = base64.b64encode(f"{creds['accountSid']}:{creds['authToken']}".encode()).decode()
    return httpx.post(
        f"{dialer.base_url('twilio')}/2010-04-01/Accounts/{creds['accountSid']}/Calls.json",
        data=form,
        headers={"Authorization": f"Basic {auth}"},
    )


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": FROM, "Url": "https://x/twiml"}, 21201),
        ({"To": TO, "Url": "https://x/twiml"}, 21213),
        ({"To": TO, "From": FROM}, 21205),
    ],
)
def test_given_a_twilio_form_missing_a_required_field_then_400_with_twilios_code(
    dialer: SimDialer, creds: dict[str, dict[str, str]], form: dict[str, str], code: int
) -> None:
    response = _twilio_post(dialer, creds["twilio"], form)
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["status"] == 400


@pytest.mark.parametrize(
    "body",
    [
        {"phoneNumberId": "pn", "customer": {"number": TO}},
        {"assistantId": "a", "customer": {"number": TO}},
        {"assistantId": "a", "phoneNumberId": "pn"},
        {"assistantId": "a", "phoneNumberId": "pn", "customer": {"number": "555"}},
    ],
)
def test_given_a_vapi_call_missing_a_required_field_then_400_in_nests_shape(
    dialer: SimDialer, creds: dict[str, dict[str, str]], body: dict[str, Any]
) -> None:
    response = httpx.post(
        f"{dialer.base_url('vapi')}/call", json=body, headers={"Authorization": f"Bearer {creds['vapi']['apiKey']}"}
    )
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400 and response.json()["error"] == "Bad Request"


@pytest.mark.parametrize("body", [{"to_number": TO}, {"from_number": FROM}, {"from_number": FROM, "to_number": "1"}])
def test_given_a_retell_call_missing_a_required_field_then_400(
    dialer: SimDialer, creds: dict[str, dict[str, str]], body: dict[str, Any]
) -> None:
    response = httpx.post(
        f"{dialer.base_url('retell')}/v2/create-phone-call",
        json=body,
        headers={"Authorization": f"Bearer {creds['retell']['apiKey']}"},
    )
    assert response.status_code == 400 and response.json()["status"] == "error"


def test_given_a_generic_call_with_a_bad_webhook_url_then_400(dialer: SimDialer) -> None:
    body = {"to": TO, "agentId": "a", "statusWebhookUrl": 7}
    response = httpx.post(f"{dialer.url}/v1/calls", json=body, headers={"Authorization": "Bearer generic-key"})
    assert response.status_code == 400 and "statusWebhookUrl" in response.json()["error"]


# ---- accounts and ownership --------------------------------------------------------------

OWNED_AGENT, OWNED_NUMBER = "agent-owned", "+15550000001"
ACCOUNT_CREDENTIALS = {
    "generic": {"apiKey": "acct-generic-key", "webhookSecret": "acct-generic-secret"},
    "twilio": {"accountSid": "AC" + "ab" * 16, "authToken": "acct-twilio-token"},
    "vapi": {"apiKey": "acct-vapi-key", "serverSecret": "acct-vapi-secret"},
    "retell": {"apiKey": "acct-retell-key"},
}


@pytest.fixture(scope="module")
def accounts(dialer: SimDialer) -> dict[str, dict[str, Any]]:
    created = {}
    for provider, credentials in ACCOUNT_CREDENTIALS.items():
        response = httpx.post(
            f"{dialer.url}/accounts",
            json={"provider": provider, "credentials": credentials, "agents": [OWNED_AGENT], "numbers": [OWNED_NUMBER]},
        )
        assert response.status_code == 201, response.text
        created[provider] = response.json()
    return created


def test_given_an_account_when_created_then_the_answer_tells_what_it_owns_without_secrets(
    accounts: dict[str, dict[str, Any]],
) -> None:
    for provider, described in accounts.items():
        assert described["provider"] == provider and described["agents"] == [OWNED_AGENT]
        assert described["numbers"] == [OWNED_NUMBER]
        assert not any(
            secret in str(described) for secret in ACCOUNT_CREDENTIALS[provider].values() if "AC" not in secret
        )
    assert accounts["vapi"]["phoneNumbers"][0]["number"] == OWNED_NUMBER


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        ({"provider": "bland", "credentials": {}}, 400),
        ({"provider": "generic", "credentials": {"apiKey": "only"}}, 400),
        ({"provider": "retell", "credentials": {"apiKey": "k", "extra": "x"}}, 400),
        ({"provider": "retell", "credentials": {"apiKey": "k2"}, "agents": "a"}, 400),
        ({"provider": "retell", "credentials": {"apiKey": "acct-retell-key"}}, 409),
        ({"provider": "generic", "credentials": {"apiKey": "generic-key", "webhookSecret": "s"}}, 409),
    ],
)
def test_given_a_bad_or_taken_account_when_created_then_400_or_409(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]], spec: dict[str, Any], status: int
) -> None:
    response = httpx.post(f"{dialer.url}/accounts", json=spec)
    assert response.status_code == status and "error" in response.json()


def test_given_an_account_then_its_generic_listing_answers_for_what_it_owns(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]]
) -> None:
    auth = {"Authorization": "Bearer acct-generic-key"}
    assert httpx.get(f"{dialer.url}/v1/agents/{OWNED_AGENT}", headers=auth).json() == {"id": OWNED_AGENT}
    assert httpx.get(f"{dialer.url}/v1/agents/someone-else", headers=auth).status_code == 404
    assert httpx.get(f"{dialer.url}/v1/numbers/%2B15550000001", headers=auth).json() == {"number": OWNED_NUMBER}
    assert httpx.get(f"{dialer.url}/v1/numbers/%2B15559999999", headers=auth).status_code == 404
    # And the default account owns whatever it is asked about
    default = {"Authorization": "Bearer generic-key"}
    assert httpx.get(f"{dialer.url}/v1/agents/anything", headers=default).status_code == 200
    assert httpx.get(f"{dialer.url}/v1/agents/anything").status_code == 401


def test_given_an_account_then_its_twilio_numbers_list_only_its_own(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]]
) -> None:
    credentials = ACCOUNT_CREDENTIALS["twilio"]
    auth = (credentials["accountSid"], credentials["authToken"])
    base = f"{dialer.base_url('twilio')}/2010-04-01/Accounts/{credentials['accountSid']}"
    owned = httpx.get(f"{base}/IncomingPhoneNumbers.json", params={"PhoneNumber": OWNED_NUMBER}, auth=auth).json()
    other = httpx.get(f"{base}/IncomingPhoneNumbers.json", params={"PhoneNumber": "+15559999999"}, auth=auth).json()
    assert [n["phone_number"] for n in owned["incoming_phone_numbers"]] == [OWNED_NUMBER]
    assert owned["incoming_phone_numbers"][0]["sid"].startswith("PN")
    assert other["incoming_phone_numbers"] == []
    callers = httpx.get(f"{base}/OutgoingCallerIds.json", params={"PhoneNumber": OWNED_NUMBER}, auth=auth).json()
    assert callers["outgoing_caller_ids"] == []
    assert httpx.get(f"{base}/IncomingPhoneNumbers.json", auth=(credentials["accountSid"], "no")).status_code == 401


def test_given_an_account_then_vapi_finds_its_assistant_and_lists_its_numbers_with_stable_ids(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]]
) -> None:
    auth = {"Authorization": "Bearer acct-vapi-key"}
    base = dialer.base_url("vapi")
    assert httpx.get(f"{base}/assistant/{OWNED_AGENT}", headers=auth).json()["id"] == OWNED_AGENT
    missing = httpx.get(f"{base}/assistant/someone-else", headers=auth)
    assert missing.status_code == 404 and missing.json()["statusCode"] == 404
    listed = httpx.get(f"{base}/phone-number", headers=auth).json()
    again = httpx.get(f"{base}/phone-number", headers=auth).json()
    assert [n["number"] for n in listed] == [OWNED_NUMBER] and listed == again
    assert listed[0]["id"] == accounts["vapi"]["phoneNumbers"][0]["id"]


def test_given_an_account_then_retell_finds_its_agent_and_lists_its_numbers(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]]
) -> None:
    auth = {"Authorization": "Bearer acct-retell-key"}
    base = dialer.base_url("retell")
    assert httpx.get(f"{base}/get-agent/{OWNED_AGENT}", headers=auth).json()["agent_id"] == OWNED_AGENT
    assert httpx.get(f"{base}/get-agent/someone-else", headers=auth).status_code == 404
    assert [n["phone_number"] for n in httpx.get(f"{base}/list-phone-numbers", headers=auth).json()] == [OWNED_NUMBER]


def test_given_the_default_vapi_account_then_a_number_searched_for_is_owned_listed_and_callable(
    dialer: SimDialer, creds: dict[str, dict[str, str]]
) -> None:
    # Given the default account, which owns any number it is asked about
    auth = {"Authorization": f"Bearer {creds['vapi']['apiKey']}"}
    base = dialer.base_url("vapi")
    # When a whole number is searched for
    page = httpx.get(f"{base}/v2/phone-number", params={"search": "+15550002222"}, headers=auth).json()
    # Then it is found, listed from then on, and calls from its id come from it
    (found,) = page["results"]
    assert found["number"] == "+15550002222" and page["metadata"]["totalItems"] == 1
    assert found in httpx.get(f"{base}/phone-number", headers=auth).json()
    response = _send(dialer, "vapi", _request("vapi", creds["vapi"], phone_number_id=found["id"]))
    record = next(r for r in dialer.calls() if r["callId"] == response.json()["id"])
    assert record["body"]["phoneNumberId"] == found["id"]


def test_given_an_account_then_vapi_search_finds_only_its_own_numbers(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]]
) -> None:
    auth = {"Authorization": "Bearer acct-vapi-key"}
    base = dialer.base_url("vapi")
    mine = httpx.get(f"{base}/v2/phone-number", params={"search": OWNED_NUMBER}, headers=auth).json()
    other = httpx.get(f"{base}/v2/phone-number", params={"search": "+15550009999"}, headers=auth).json()
    assert [n["number"] for n in mine["results"]] == [OWNED_NUMBER]
    assert other["results"] == [] and other["metadata"]["totalItems"] == 0


def test_given_the_default_retell_account_then_any_number_is_found_and_an_accounts_only_its_own(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]], creds: dict[str, dict[str, str]]
) -> None:
    base = dialer.base_url("retell")
    default = {"Authorization": f"Bearer {creds['retell']['apiKey']}"}
    found = httpx.get(f"{base}/get-phone-number/%2B15550003333", headers=default)
    assert found.status_code == 200 and found.json()["phone_number"] == "+15550003333"
    assert "+15550003333" in [
        n["phone_number"] for n in httpx.get(f"{base}/list-phone-numbers", headers=default).json()
    ]
    own = {"Authorization": "Bearer acct-retell-key"}
    assert httpx.get(f"{base}/get-phone-number/{OWNED_NUMBER}", headers=own).status_code == 200
    assert httpx.get(f"{base}/get-phone-number/%2B15550009999", headers=own).status_code == 404


def _owned_spec(agent: str = OWNED_AGENT, number: str = OWNED_NUMBER) -> CallSpec:
    return CallSpec(to=TO, provider_agent_id=agent, caller_id=number, idempotency_key="own-1")


@pytest.mark.parametrize("provider", ["generic", "twilio", "vapi", "retell"])
def test_given_an_account_when_it_calls_with_its_own_agent_and_number_then_accepted(
    dialer: SimDialer, accounts: dict[str, dict[str, Any]], provider: str
) -> None:
    number_id = accounts["vapi"]["phoneNumbers"][0]["id"]
    request = _request(provider, ACCOUNT_CREDENTIALS[provider], _owned_spec(), phone_number_id=number_id)
    response = _send(dialer, provider, request)
    assert response.status_code == 201, response.text
    answer = READERS[provider](201, response.json())
    record = next(r for r in dialer.calls() if r["callId"] == answer.provider_call_id)
    assert record["account"] == accounts[provider]["id"]


@pytest.mark.parametrize(
    ("provider", "spec", "number_id", "status"),
    [
        ("generic", _owned_spec(agent="agent-of-another"), None, 404),
        ("generic", _owned_spec(number="+15559999999"), None, 400),
        ("twilio", _owned_spec(number="+15559999999"), None, 400),
        ("vapi", _owned_spec(agent="agent-of-another"), "own", 400),
        ("vapi", _owned_spec(), "pn-of-another-account", 400),
        ("retell", _owned_spec(agent="agent-of-another"), None, 404),
        ("retell", _owned_spec(number="+15559999999"), None, 404),
    ],
)
def test_given_an_account_when_it_calls_with_an_agent_or_number_it_does_not_own_then_refused(
    dialer: SimDialer,
    accounts: dict[str, dict[str, Any]],
    provider: str,
    spec: CallSpec,
    number_id: str | None,
    status: int,
) -> None:
    # Given the account's own credentials, and (Vapi) its own phone number id or another's
    own_id = accounts["vapi"]["phoneNumbers"][0]["id"]
    request = _request(
        provider,
        ACCOUNT_CREDENTIALS[provider],
        spec,
        phone_number_id=(own_id if number_id == "own" else number_id or "unused"),
    )
    # When
    response = _send(dialer, provider, request)
    # Then it is refused as the provider refuses it, and the product reads a refusal
    assert response.status_code == status, response.text
    answer = READERS[provider](status, response.json())
    assert not answer.accepted and answer.error
    if provider == "twilio":
        assert response.json()["code"] == 21210


@pytest.mark.parametrize(
    "path",
    [
        "/2010-04-01/Accounts//Calls.json",
        "/2010-04-01/Accounts/AC1/x/Calls.json",
        "/2010-04-01/Accounts/AC1/Calls.json/",
    ],
)
def test_given_a_malformed_twilio_calls_path_then_not_found_in_twilios_shape(
    dialer: SimDialer, creds: dict[str, dict[str, str]], path: str
) -> None:
    request = _request("twilio", creds["twilio"])
    response = httpx.post(dialer.base_url("twilio") + path, headers=dict(request.headers), content=request.body)
    assert response.status_code in (401, 404) and "code" in response.json()
