"""Numbers that are never called: emergency numbers and short codes are no contact at all;
premium-rate and shared-cost numbers only where the client's settings allow them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from campaign_calling.models import ContactInput
from campaign_calling.phone import InvalidPhoneNumber, never_called, to_e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("+1 911", "an emergency number"),
        ("+44 999", "an emergency number"),
        ("+44 112", "an emergency number"),
        ("+33 112", "an emergency number"),
        ("+1 611", "a short code"),
        ("+1 23456", "a short code"),
    ],
)
def test_emergency_numbers_and_short_codes_are_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        to_e164(raw)
    assert str(info.value) == f"'{raw}' is {reason}, never called"


def test_a_contact_with_an_emergency_number_is_invalid_naming_it() -> None:
    with pytest.raises(ValidationError) as info:
        ContactInput(name="Ada", phone="+1 911")
    assert "'+1 911' is an emergency number, never called" in str(info.value)


@pytest.mark.parametrize(
    ("e164", "reason"),
    [
        ("+19002345678", "a premium-rate number"),  # +1 900
        ("+449091234567", "a premium-rate number"),  # +44 909
        ("+33891123456", "a premium-rate number"),
        ("+33884012345", "a shared-cost number"),
        ("+4918012345", "a shared-cost number"),
    ],
)
def test_premium_rate_and_shared_cost_numbers_are_never_called_unless_allowed(e164: str, reason: str) -> None:
    assert to_e164(e164) == e164  # valid numbers: refused where contacts are added, not here
    assert never_called(e164, allow_premium_rate=False) == reason
    assert never_called(e164, allow_premium_rate=True) is None


@pytest.mark.parametrize("e164", ["+12025550143", "+442079460958", "+18002345678", "+447400123456"])
def test_ordinary_toll_free_and_mobile_numbers_are_called(e164: str) -> None:
    assert never_called(e164, allow_premium_rate=False) is None
