"""/api/v1/client/dnc through its real handler against moto: numbers listed in E.164, read
back one by one (404 when not listed) and a page at a time, taken off again, each client's
list its own, bad input refused with the error envelope; and the store under it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from campaign_calling import keys
from campaign_calling.catalog.dnc import DoNotCallList
from campaign_calling.clock import SystemClock
from tests.support.events import acting_for

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION = "DncFunction"


def event(name: str, client: str) -> dict[str, Any]:
    """The sample event ``name`` acting for ``client``."""
    sample = json.loads((EVENTS / f"{name}.json").read_text())
    acting_for(sample, client)
    return sample


def answer(aws: Any, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = aws.invoke(FUNCTION, request)
    return result["statusCode"], json.loads(result["body"])


def add(aws: Any, client: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = event("dnc_add", client)
    request["body"] = json.dumps(body)
    return answer(aws, request)


def one(aws: Any, client: str, phone: str, *, method: str = "GET") -> tuple[int, dict[str, Any]]:
    request = event("dnc_get" if method == "GET" else "dnc_delete", client)
    request["rawPath"] = request["requestContext"]["http"]["path"] = f"/api/v1/client/dnc/{phone}"
    request["pathParameters"] = {"phone": phone}
    return answer(aws, request)


def page(aws: Any, client: str, limit: int, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = event("dnc_list", client)
    request["queryStringParameters"] = {"limit": str(limit), **({"nextToken": token} if token else {})}
    request["rawQueryString"] = "&".join(f"{k}={v}" for k, v in request["queryStringParameters"].items())
    return answer(aws, request)


def test_numbers_listed_are_read_back_in_e164_with_since_when_and_why(aws: Any) -> None:
    # When client A lists two numbers written as people write them
    status, body = add(aws, "client-a", {"phones": ["+1 (202) 555-0100", "+44 20 7946 0958"], "reason": "asked"})
    # Then both are listed in E.164
    assert status == 200
    assert [e["phone"] for e in body["data"]] == ["+12025550100", "+442079460958"]
    # And each reads back, with when, why and who listed it; the "+" may come encoded
    for phone in ("+12025550100", "%2B12025550100"):
        status, found = one(aws, "client-a", phone)
        assert status == 200
        assert found["data"] | {"listedAt": "t"} == {
            "phone": "+12025550100",
            "listedAt": "t",
            "reason": "asked",
            "source": "api",
        }
    # And client B sees none of them
    assert one(aws, "client-b", "+12025550100")[0] == 404
    assert page(aws, "client-b", 10)[1]["data"] == {"items": [], "nextToken": None}


def test_a_number_not_listed_is_404_and_a_deleted_one_is_no_longer_listed(aws: Any) -> None:
    # Given a listed number
    add(aws, "client-a", {"phones": ["+12025550100"]})
    # When it is taken off
    status, removed = one(aws, "client-a", "+12025550100", method="DELETE")
    # Then the answer is its entry, and it is listed no more (404 on read and on a second delete)
    assert (status, removed["data"]["phone"]) == (200, "+12025550100")
    assert one(aws, "client-a", "+12025550100") == (
        404,
        {"success": False, "message": "phone number not found"},
    )
    assert one(aws, "client-a", "+12025550100", method="DELETE")[0] == 404
    # And another client cannot take A's number off A's list
    add(aws, "client-a", {"phones": ["+12025550101"]})
    assert one(aws, "client-b", "+12025550101", method="DELETE")[0] == 404
    assert one(aws, "client-a", "+12025550101")[0] == 200


def test_the_list_is_read_a_page_at_a_time(aws: Any) -> None:
    # Given five numbers listed
    phones = [f"+1202555010{i}" for i in range(5)]
    add(aws, "client-a", {"phones": phones})
    # When read two at a time
    seen: list[str] = []
    token = None
    for _ in range(5):
        status, body = page(aws, "client-a", 2, token)
        assert status == 200
        seen += [e["phone"] for e in body["data"]["items"]]
        token = body["data"]["nextToken"]
        if token is None:
            break
    # Then every number comes once
    assert sorted(seen) == phones
    # And another client's token opens nothing of A's
    first_token = page(aws, "client-a", 2)[1]["data"]["nextToken"]
    assert page(aws, "client-b", 2, first_token)[0] == 400


def test_bad_input_is_refused_with_the_envelope_and_nothing_listed(aws: Any) -> None:
    for body in ({"phones": []}, {"phones": ["+12025550100"] * 1001}, {"phones": ["020 7946 0958"]}, {"x": 1}):
        status, refused = add(aws, "client-a", body)
        assert status == 400 and refused["success"] is False, body
    assert one(aws, "client-a", "not-a-number")[0] == 400
    assert page(aws, "client-a", 10)[1]["data"]["items"] == []


def test_the_store_reads_a_listed_number_for_its_client_only_and_lists_a_number_anew(aws: Any) -> None:
    # Given client A's list in the main table
    store = DoNotCallList(boto3.client("dynamodb"), aws.resolver.ref("MainTable"), SystemClock())
    store.add("client-a", ["+12025550100", "+12025550100"], reason="first")
    # Then A's number is listed for A only
    assert store.is_listed("client-a", "+12025550100") is True
    assert store.is_listed("client-b", "+12025550100") is False
    assert store.is_listed("client-a", "+12025550101") is False
    # And listing it again replaces why, in the client's own partition
    store.add("client-a", ["+12025550100"], reason="again", source="provider")
    entry = store.get("client-a", "+12025550100")
    assert entry is not None and (entry.reason, entry.source) == ("again", "provider")
    items = aws.table("MainTable").scan()["Items"]
    assert [(i["pk"], i["sk"]) for i in items] == [(keys.dnc_pk("client-a"), keys.dnc_sk("+12025550100"))]


def test_an_opt_out_lists_a_number_once_and_a_replay_changes_nothing(aws: Any) -> None:
    # Given a number listed by an opt-out
    store = DoNotCallList(boto3.client("dynamodb"), aws.resolver.ref("MainTable"), SystemClock())
    store.list_once("client-a", "+12025550100", reason="opted out on a call")
    first = store.get("client-a", "+12025550100")
    # When the same webhook comes again
    store.list_once("client-a", "+12025550100", reason="opted out on a call")
    # Then the entry is the first one, the provider's
    assert first is not None and first.source == "provider"
    assert store.get("client-a", "+12025550100") == first
