"""A client's settings (its call limits) end to end on the local engine: set, read back,
replaced whole, sealed off from other clients, and bad input refused with nothing stored."""

from __future__ import annotations

import uuid

import pytest

from campaign_calling import keys
from tests.support.e2e import Engine
from tests.support.settings import NO_CAP

pytestmark = pytest.mark.e2e

SETTINGS = "/api/v1/client/settings"


def a_client() -> str:
    # A tenant of its own: the caps set here must not hold back other tests' calls.
    return f"settings-{uuid.uuid4().hex[:12]}"


def stored_settings(engine: Engine, client: str) -> dict | None:
    """The client's settings item as the local engine stores it (its tables are named by
    their logical ids)."""
    key = {name: {"S": value} for name, value in keys.client_settings_key(client).items()}
    return engine.aws_client("dynamodb").get_item(TableName="MainTable", Key=key, ConsistentRead=True).get("Item")


def test_settings_are_set_read_back_and_replaced_for_their_client_only(engine: Engine) -> None:
    owner, other = a_client(), a_client()
    with engine.client(owner) as a, engine.client(other) as b:
        # Given a client that never set any: no cap
        first = a.get(SETTINGS)
        assert (first.status_code, first.json()) == (
            200,
            {"success": True, "message": "Client settings", "data": NO_CAP},
        )

        # When it sets both caps
        limits = {**NO_CAP, "maxConcurrentCalls": 2, "maxCallsPerSecond": 1}
        saved = a.put(SETTINGS, json=limits)
        # Then the answer is what was stored, and GET reads it back
        assert (saved.status_code, saved.json()) == (
            200,
            {"success": True, "message": "Client settings saved", "data": limits},
        )
        assert a.get(SETTINGS).json()["data"] == limits
        # And another client does not see them
        assert b.get(SETTINGS).json()["data"] == NO_CAP

        # When it puts one cap only, the other is gone (PUT replaces the whole document)
        assert a.put(SETTINGS, json={"maxConcurrentCalls": 1000}).status_code == 200
        assert a.get(SETTINGS).json()["data"] == {**NO_CAP, "maxConcurrentCalls": 1000}
    # (one item, holding only the cap that is set)
    item = stored_settings(engine, owner)
    assert item is not None and item["maxConcurrentCalls"] == {"N": "1000"} and "maxCallsPerSecond" not in item


def test_bad_settings_are_refused_naming_the_field_and_nothing_is_stored(engine: Engine) -> None:
    owner, newcomer = a_client(), a_client()
    limits = {**NO_CAP, "maxConcurrentCalls": 5, "maxCallsPerSecond": 3}
    bad = {
        "maxConcurrentCalls": ({"maxConcurrentCalls": 1001}, 400),
        "maxCallsPerSecond": ({"maxCallsPerSecond": "2"}, 400),
        "maxCallsPerSecond ": ({"maxCallsPerSecond": 2.5}, 400),
        "burst is not a known field": ({"burst": 10}, 400),
        "JSON object": ([limits], 400),
    }
    with engine.client(owner) as a, engine.client(newcomer) as n:
        # Given a client with settings, and one without
        assert a.put(SETTINGS, json=limits).status_code == 200
        for named, (body, status) in bad.items():
            for api in (a, n):
                # When either sends invalid settings
                response = api.put(SETTINGS, json=body)
                # Then the JSON error envelope names what is wrong
                assert response.status_code == status, (named, response.text)
                answer = response.json()
                assert answer["success"] is False and named.strip() in answer["message"], (named, answer)
        # And bodies that are not JSON are refused as on every route
        not_json = a.put(SETTINGS, content=b'{"maxConcurrentCalls": ', headers={"content-type": "application/json"})
        assert (not_json.status_code, not_json.json()["success"]) == (400, False)
        as_text = a.put(SETTINGS, content=b'{"maxConcurrentCalls": 1}', headers={"content-type": "text/plain"})
        assert (as_text.status_code, as_text.json()["success"]) == (415, False)

        # And nothing changed: the first keeps its settings, the second has none stored
        assert a.get(SETTINGS).json()["data"] == limits
        assert n.get(SETTINGS).json()["data"] == NO_CAP
    assert stored_settings(engine, newcomer) is None
