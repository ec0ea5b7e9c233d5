"""Calling windows and time zones: where a contact is, and when its window is open there,
across daylight saving time and in several zones at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from campaign_calling.compliance.windows import is_open, next_opening_ms
from campaign_calling.compliance.zones import contact_zones, zones_of_number
from campaign_calling.models import CallingWindow, ContactInput

EVERY_DAY = CallingWindow(days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], start="08:00", end="21:00")


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def iso(epoch_ms: int | None) -> str | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M")


def test_a_contacts_own_zone_comes_first_then_its_numbers_then_the_campaigns_then_utc() -> None:
    assert contact_zones("+12125550100", contact_timezone="Europe/Paris", campaign_timezone="Asia/Tokyo") == (
        "Europe/Paris",
    )
    assert contact_zones("+12125550100", contact_timezone=None, campaign_timezone="Asia/Tokyo") == ("America/New_York",)
    # A UK mobile cannot be placed by libphonenumber: the campaign's zone, else UTC
    assert contact_zones("+447700900123", contact_timezone=None, campaign_timezone="Europe/London") == (
        "Europe/London",
    )
    assert contact_zones("+447700900123", contact_timezone=None, campaign_timezone=None) == ("UTC",)


def test_a_number_may_be_in_several_zones() -> None:
    zones = zones_of_number("+61412345678")  # an Australian mobile
    assert {"Australia/Perth", "Australia/Sydney"} <= set(zones)


def test_new_york_in_winter_and_in_summer_around_the_spring_change() -> None:
    ny = ("America/New_York",)
    # Saturday 7 March 2026, EST (UTC-5): 08:00 is 13:00 UTC
    assert not is_open(EVERY_DAY, ny, ms("2026-03-07T12:30"))
    assert iso(next_opening_ms(EVERY_DAY, ny, ms("2026-03-07T12:30"))) == "2026-03-07T13:00"
    # Sunday 8 March 2026, the clocks went forward at 02:00: EDT (UTC-4), 08:00 is 12:00 UTC
    assert is_open(EVERY_DAY, ny, ms("2026-03-08T12:30"))
    assert iso(next_opening_ms(EVERY_DAY, ny, ms("2026-03-08T11:59"))) == "2026-03-08T12:00"
    # 21:00 EDT is 01:00 UTC the next day: closed from then until 08:00 EDT
    assert not is_open(EVERY_DAY, ny, ms("2026-03-09T01:00"))
    assert iso(next_opening_ms(EVERY_DAY, ny, ms("2026-03-09T01:00"))) == "2026-03-09T12:00"


def test_around_the_autumn_change_the_window_follows_the_clock() -> None:
    ny = ("America/New_York",)
    # Sunday 1 November 2026, back to EST at 02:00: 08:00 is 13:00 UTC
    assert not is_open(EVERY_DAY, ny, ms("2026-11-01T12:30"))
    assert iso(next_opening_ms(EVERY_DAY, ny, ms("2026-11-01T12:30"))) == "2026-11-01T13:00"


def test_a_window_on_some_days_waits_for_the_next_of_them() -> None:
    weekdays = CallingWindow(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
    # Saturday 28 November 2026 noon in Paris (UTC+1): next is Monday 09:00, 08:00 UTC
    assert iso(next_opening_ms(weekdays, ("Europe/Paris",), ms("2026-11-28T11:00"))) == "2026-11-30T08:00"


def test_in_several_zones_the_window_must_hold_in_all_of_them() -> None:
    both = ("Australia/Perth", "Australia/Sydney")  # UTC+8 and UTC+10 in June
    # 08:00 in Perth is 00:00 UTC; Sydney is already open then: the common opening is Perth's
    assert iso(next_opening_ms(EVERY_DAY, both, ms("2026-06-01T23:00"))) == "2026-06-02T00:00"
    # 21:00 in Sydney is 11:00 UTC: Perth is still open, but the contact may be in Sydney
    assert not is_open(EVERY_DAY, both, ms("2026-06-02T11:30"))


def test_zones_too_far_apart_for_a_short_window_never_open() -> None:
    hour = CallingWindow(days=["mon"], start="08:00", end="09:00")
    assert next_opening_ms(hour, ("Australia/Perth", "Pacific/Auckland"), ms("2026-06-01T00:00")) is None


def test_a_window_to_midnight_is_open_until_the_days_end() -> None:
    evening = CallingWindow(days=["sat"], start="18:00", end="24:00")
    assert is_open(evening, ("UTC",), ms("2026-11-28T23:59"))
    assert not is_open(evening, ("UTC",), ms("2026-11-29T00:00"))


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe/Atlantis", "../etc/passwd", ""])
def test_an_unknown_zone_is_refused_naming_it(zone: str) -> None:
    with pytest.raises(ValidationError) as info:
        ContactInput(name="Ada", phone="+12025550100", timezone=zone)
    assert "timezone" in str(info.value)
