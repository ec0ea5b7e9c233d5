"""What an account owns, asked of each provider over HTTP (calls.directory.HttpDirectory):
the documented lookups, their auth, and their answers read as owned, not owned, refused
credentials or no answer."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from campaign_calling.calls.directory import HttpDirectory
from campaign_calling.calls.provider import ProviderEndpoints
from campaign_calling.calls.providers.accounts import (
    GenericCredentials,
    RetellCredentials,
    TwilioCredentials,
    VapiCredentials,
)
from campaign_calling.calls.providers.directory import CredentialsRefused, DirectoryUnavailable, OwnedNumber

SID = "AC" + "e" * 32
CREDENTIALS = {
    "generic": GenericCredentials(apiKey="g-key-do-not-log-0123456789"),
    "twilio": TwilioCredentials(accountSid=SID, authToken="t-token-do-not-log-0123456789"),
    "vapi": VapiCredentials(apiKey="v-key-do-not-log-0123456789"),
    "retell": RetellCredentials(apiKey="r-key-do-not-log-0123456789"),
}
BASE = "https://provider.example"
NUMBER = "+12025550143"


def directory(answer: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> HttpDirectory:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return HttpDirectory(ProviderEndpoints(dict.fromkeys(CREDENTIALS, BASE)), transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("provider", "path", "auth"),
    [
        ("generic", "/v1/agents/pa%2F1", "Bearer g-key-do-not-log-0123456789"),
        ("vapi", "/assistant/pa%2F1", "Bearer v-key-do-not-log-0123456789"),
        ("retell", "/get-agent/pa%2F1", "Bearer r-key-do-not-log-0123456789"),
    ],
)
def test_an_agent_is_asked_for_by_its_escaped_id_with_the_accounts_key(provider, path, auth) -> None:
    seen: list[httpx.Request] = []
    for status, owned in ((200, True), (404, False)):
        assert (
            directory(lambda r, s=status: httpx.Response(s, json={}), seen).owns_agent(
                provider, CREDENTIALS[provider], "pa/1"
            )
            is owned
        )
    assert {(r.method, r.url.raw_path.decode(), r.headers["Authorization"]) for r in seen} == {("GET", path, auth)}


def test_twilio_has_no_agent_to_ask_about() -> None:
    seen: list[httpx.Request] = []
    assert directory(lambda r: httpx.Response(200), seen).owns_agent("twilio", CREDENTIALS["twilio"], "x") is None
    assert seen == []


def test_a_twilio_number_is_owned_when_bought_or_verified_on_the_account() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("IncomingPhoneNumbers.json"):
            return httpx.Response(200, json={"incoming_phone_numbers": []})
        return httpx.Response(200, json={"outgoing_caller_ids": [{"sid": "PN1", "phone_number": NUMBER}]})

    seen: list[httpx.Request] = []
    found = directory(answer, seen).owned_numbers("twilio", CREDENTIALS["twilio"], NUMBER)
    assert found == [OwnedNumber(NUMBER, "PN1")]
    assert [r.url.path for r in seen] == [
        f"/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers.json",
        f"/2010-04-01/Accounts/{SID}/OutgoingCallerIds.json",
    ]
    assert all(parse_qs(r.url.query.decode())["PhoneNumber"] == [NUMBER] for r in seen)
    assert all(r.headers["Authorization"].startswith("Basic ") for r in seen)


def test_a_vapi_number_is_searched_for_and_only_an_exact_match_counts() -> None:
    # Given a search that also matches a longer number (Vapi's search matches part of a number)
    page = {
        "results": [{"id": "pn-longer", "number": NUMBER + "9"}, {"id": "pn-1", "number": NUMBER}],
        "metadata": {"itemsPerPage": 100, "totalItems": 2, "currentPage": 1},
    }
    seen: list[httpx.Request] = []
    # When the number is looked up
    found = directory(lambda r: httpx.Response(200, json=page), seen).owned_numbers("vapi", CREDENTIALS["vapi"], NUMBER)
    # Then only the exact number counts, with its id
    assert found == [OwnedNumber(NUMBER, "pn-1")]
    assert seen[0].url.path == "/v2/phone-number"
    assert parse_qs(seen[0].url.query.decode())["search"] == [NUMBER]


def test_a_retell_number_and_a_generic_one_are_asked_for_by_their_own_resource() -> None:
    seen: list[httpx.Request] = []
    assert directory(lambda r: httpx.Response(200, json={"phone_number": NUMBER}), seen).owned_numbers(
        "retell", CREDENTIALS["retell"], NUMBER
    ) == [OwnedNumber(NUMBER)]
    for provider in ("retell", "generic"):
        assert (
            directory(lambda r: httpx.Response(404, json={"error": "no"}), seen).owned_numbers(
                provider, CREDENTIALS[provider], NUMBER
            )
            == []
        )
    assert [r.url.raw_path.decode() for r in seen] == [
        "/get-phone-number/%2B12025550143",
        "/get-phone-number/%2B12025550143",
        "/v1/numbers/%2B12025550143",
    ]


def test_a_retell_answer_for_another_number_is_not_ownership() -> None:
    found = directory(lambda r: httpx.Response(200, json={"phone_number": "+12025550199"}), []).owned_numbers(
        "retell", CREDENTIALS["retell"], NUMBER
    )
    assert found == []


@pytest.mark.parametrize("provider", sorted(CREDENTIALS))
@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (lambda r: httpx.Response(401, json={"error": "bad key"}), CredentialsRefused),
        (lambda r: httpx.Response(403, json={"error": "forbidden"}), CredentialsRefused),
        (lambda r: httpx.Response(429), DirectoryUnavailable),
        (lambda r: httpx.Response(503), DirectoryUnavailable),
        (
            lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused g-key-do-not-log-0123456789", request=r)),
            DirectoryUnavailable,
        ),
        (
            lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow t-token-do-not-log-0123456789", request=r)),
            DirectoryUnavailable,
        ),
    ],
)
def test_refused_credentials_and_unanswered_lookups_are_told_apart_without_quoting_a_credential(
    provider, answer, raised
) -> None:
    with pytest.raises(raised) as caught:
        directory(answer, []).check_credentials(provider, CREDENTIALS[provider])
    text = f"{caught.value!r} {caught.value}"
    for credentials in CREDENTIALS.values():
        for value in credentials.as_mapping().values():
            assert value not in text


@pytest.mark.parametrize("provider", sorted(CREDENTIALS))
def test_credentials_are_checked_with_one_cheap_request(provider) -> None:
    seen: list[httpx.Request] = []
    directory(lambda r: httpx.Response(404 if provider == "generic" else 200, json=[]), seen).check_credentials(
        provider, CREDENTIALS[provider]
    )
    assert len(seen) == 1 and seen[0].method == "GET"
