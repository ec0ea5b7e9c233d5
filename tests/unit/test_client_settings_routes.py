"""GET and PUT /api/v1/client/settings through their real handler against moto: no cap until
set, the whole document replaced, each client its own, and bad input refused with the error
envelope naming the field, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.events import acting_for
from tests.support.settings import NO_CAP

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTION = "ClientSettingsFunction"


def event(name: str, client: str) -> dict[str, Any]:
    """The sample event ``name`` acting for ``client``."""
    sample = json.loads((EVENTS / f"{name}.json").read_text())
    acting_for(sample, client)
    return sample


def get(aws: Any, client: str) -> tuple[int, dict[str, Any]]:
    result = aws.invoke(FUNCTION, event("client_settings_get", client))
    return result["statusCode"], json.loads(result["body"])


def put(aws: Any, client: str, body: Any, *, raw: str | None = None, content_type: str = "application/json") -> Any:
    request = event("client_settings_put", client)
    request["body"] = raw if raw is not None else json.dumps(body)
    request["headers"]["content-type"] = content_type
    result = aws.invoke(FUNCTION, request)
    return result["statusCode"], json.loads(result["body"])


def test_a_client_that_never_set_any_has_no_cap(aws: Any) -> None:
    assert get(aws, "client-a") == (200, {"success": True, "message": "Client settings", "data": NO_CAP})


def test_put_answers_the_stored_settings_and_get_reads_them_back(aws: Any) -> None:
    # When client A sets both caps
    limits = {**NO_CAP, "maxConcurrentCalls": 5, "maxCallsPerSecond": 2}
    saved = put(aws, "client-a", limits)
    # Then the answer is the stored document, and GET reads it back
    assert saved == (200, {"success": True, "message": "Client settings saved", "data": limits})
    assert get(aws, "client-a") == (200, {"success": True, "message": "Client settings", "data": limits})
    # And client B still has no cap
    assert get(aws, "client-b")[1]["data"] == NO_CAP


def test_put_replaces_the_whole_document(aws: Any) -> None:
    # Given both caps set
    put(aws, "client-a", {"maxConcurrentCalls": 1000, "maxCallsPerSecond": 100})
    # When a PUT gives one of them only
    status, answer = put(aws, "client-a", {"maxCallsPerSecond": 1})
    # Then the other is no cap any more
    expected = {**NO_CAP, "maxCallsPerSecond": 1}
    assert (status, answer["data"]) == (200, expected)
    assert get(aws, "client-a")[1]["data"] == expected
    # And null, or an empty document, removes the caps
    assert put(aws, "client-a", {"maxConcurrentCalls": None, "maxCallsPerSecond": None})[1]["data"] == NO_CAP
    put(aws, "client-a", {"maxConcurrentCalls": 1})
    assert put(aws, "client-a", {})[1]["data"] == NO_CAP
    assert get(aws, "client-a")[1]["data"] == NO_CAP


INVALID = {
    "a string": ({"maxConcurrentCalls": "5"}, "maxConcurrentCalls"),
    "a float": ({"maxConcurrentCalls": 5.0}, "maxConcurrentCalls"),
    "a boolean": ({"maxCallsPerSecond": True}, "maxCallsPerSecond"),
    "zero": ({"maxConcurrentCalls": 0}, "maxConcurrentCalls"),
    "over 1000": ({"maxConcurrentCalls": 1001}, "maxConcurrentCalls"),
    "over 100 a second": ({"maxCallsPerSecond": 101}, "maxCallsPerSecond"),
    "negative": ({"maxCallsPerSecond": -1}, "maxCallsPerSecond"),
    "an unknown field": ({"maxConcurrentCalls": 2, "maxCalls": 3}, "maxCalls is not a known field"),
    "a list of settings": ([{"maxConcurrentCalls": 2}], "JSON object"),
    "premium-rate allowed as a string": ({"allowPremiumRateNumbers": "true"}, "allowPremiumRateNumbers"),
    "premium-rate allowed as a number": ({"allowPremiumRateNumbers": 1}, "allowPremiumRateNumbers"),
    "a window ending before it starts": (
        {"callingWindow": {"days": ["mon"], "start": "21:00", "end": "08:00"}},
        "callingWindow.end must be after its start",
    ),
    "a window on no day": ({"callingWindow": {"days": [], "start": "08:00", "end": "21:00"}}, "callingWindow.days"),
    "a window on a day twice": (
        {"callingWindow": {"days": ["mon", "mon"], "start": "08:00", "end": "21:00"}},
        "names a day twice",
    ),
    "a window on an unknown day": (
        {"callingWindow": {"days": ["monday"], "start": "08:00", "end": "21:00"}},
        "callingWindow.days",
    ),
    "a window at 8 am written as 8": ({"callingWindow": {"days": ["mon"], "start": "8", "end": "21:00"}}, "start"),
    "a window at 25:00": ({"callingWindow": {"days": ["mon"], "start": "08:00", "end": "25:00"}}, "end"),
    "no minutes between calls": ({"minMinutesBetweenCallsToNumber": 0}, "minMinutesBetweenCallsToNumber"),
    "over a week between calls": ({"minMinutesBetweenCallsToNumber": 10081}, "minMinutesBetweenCallsToNumber"),
    "no calls a day": ({"maxCallsPerNumberPerDay": 0}, "maxCallsPerNumberPerDay"),
    "calls a day as a string": ({"maxCallsPerNumberPerDay": "3"}, "maxCallsPerNumberPerDay"),
}


@pytest.mark.parametrize("label", INVALID)
def test_invalid_settings_are_400_naming_the_field_and_nothing_is_stored(aws: Any, label: str) -> None:
    # Given settings already stored
    stored = {**NO_CAP, "maxConcurrentCalls": 7, "maxCallsPerSecond": 3, "allowPremiumRateNumbers": True}
    put(aws, "client-a", stored)
    body, named = INVALID[label]
    # When a PUT carries an invalid value
    status, answer = put(aws, "client-a", body)
    # Then it is refused with the error envelope naming the field
    assert status == 400, answer
    assert answer["success"] is False and named in answer["message"], answer
    # And the stored settings are unchanged
    assert get(aws, "client-a")[1]["data"] == stored


def test_premium_rate_numbers_are_allowed_only_while_the_settings_say_so(aws: Any) -> None:
    # When client A allows premium-rate numbers
    saved = put(aws, "client-a", {"allowPremiumRateNumbers": True})
    # Then the settings say so, and a later PUT without the field takes it back
    assert saved[1]["data"] == {**NO_CAP, "allowPremiumRateNumbers": True}
    assert get(aws, "client-a")[1]["data"]["allowPremiumRateNumbers"] is True
    put(aws, "client-a", {"maxConcurrentCalls": 3})
    assert get(aws, "client-a")[1]["data"] == {**NO_CAP, "maxConcurrentCalls": 3}


def test_a_calling_window_and_per_number_limits_are_stored_and_read_back(aws: Any) -> None:
    # When client A sets a weekday window and limits per number
    window = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "21:00"}
    settings = {"callingWindow": window, "minMinutesBetweenCallsToNumber": 60, "maxCallsPerNumberPerDay": 3}
    status, answer = put(aws, "client-a", settings)
    # Then they are stored as given and read back; a window to midnight is a window too
    assert (status, answer["data"]) == (200, {**NO_CAP, **settings})
    assert get(aws, "client-a")[1]["data"] == {**NO_CAP, **settings}
    evening = {"days": ["sat"], "start": "18:00", "end": "24:00"}
    assert put(aws, "client-a", {"callingWindow": evening})[1]["data"]["callingWindow"] == evening


def test_a_body_that_is_not_json_is_refused_and_nothing_is_stored(aws: Any) -> None:
    # When the body is not JSON, or not declared as JSON, or missing
    cases = {
        "malformed": put(aws, "client-a", None, raw='{"maxConcurrentCalls": '),
        "text/plain": put(aws, "client-a", None, raw='{"maxConcurrentCalls": 2}', content_type="text/plain"),
        "empty": put(aws, "client-a", None, raw=""),
    }
    # Then each is refused as the other routes refuse it
    assert {label: status for label, (status, _) in cases.items()} == {
        "malformed": 400,
        "text/plain": 415,
        "empty": 400,
    }
    assert all(answer["success"] is False and answer["message"] for _, answer in cases.values())
    # And nothing was stored
    assert get(aws, "client-a")[1]["data"] == NO_CAP
