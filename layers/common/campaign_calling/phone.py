"""Phone number validation and normalisation to E.164, and which numbers are never called.

Emergency numbers and short codes are never valid contacts. Premium-rate and shared-cost
numbers (``+1 900 ...``, ``+44 909 ...``) are the route of toll fraud: refused unless the
client's settings allow them (``never_called``, applied where contacts are added). The
number types and short-number data are libphonenumber's (the ``phonenumbers`` package, whose
time zone data compliance/zones.py uses)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

# Digits and the usual separators only: letters (vanity numbers) and extensions would be
# silently rewritten or dropped by the parser, and we would dial something else.
_DIALABLE = re.compile(r"\+[0-9 ().\-]+")


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str) -> str:
    """Parse an international number (``+`` and country code) and return it in E.164.

    National formats are refused: a campaign can span countries, and guessing a region
    would dial the wrong person.
    """
    import phonenumbers  # its metadata loads on the first number, not in every cold start

    raw = raw.strip()
    if not _DIALABLE.fullmatch(raw):
        raise InvalidPhoneNumber(f"'{raw}' is not an international phone number (+<country code><number>)")
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"'{raw}' is not an international phone number (+<country code><number>)") from exc
    if not phonenumbers.is_valid_number(parsed):
        special = _short_number(parsed)
        if special:
            raise InvalidPhoneNumber(f"'{raw}' is {special}, never called")
        raise InvalidPhoneNumber(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def never_called(e164: str, *, allow_premium_rate: bool) -> str | None:
    """Why a valid number is never called (premium-rate or shared-cost), or None."""
    import phonenumbers

    if allow_premium_rate:
        return None
    kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    if kind == phonenumbers.PhoneNumberType.PREMIUM_RATE:
        return "a premium-rate number"
    if kind == phonenumbers.PhoneNumberType.SHARED_COST:
        return "a shared-cost number"
    return None


def _short_number(parsed: PhoneNumber) -> str | None:
    """What an invalid full number is when it is an emergency number or a short code, in
    any region of its country code (+1 is shared by many)."""
    import phonenumbers
    from phonenumbers import shortnumberinfo

    national = phonenumbers.national_significant_number(parsed)
    regions = phonenumbers.region_codes_for_country_code(parsed.country_code or 0)
    if any(shortnumberinfo.is_emergency_number(national, region) for region in regions):
        return "an emergency number"
    if any(shortnumberinfo.is_valid_short_number_for_region(parsed, region) for region in regions):
        return "a short code"
    return None
