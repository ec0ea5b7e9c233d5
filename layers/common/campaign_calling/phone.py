"""Phone number validation and normalisation to E.164."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str) -> str:
    """Parse an international number (``+`` and country code) and return it in E.164.

    National formats are refused: a campaign can span countries, and guessing a region
    would dial the wrong person.
    """
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"'{raw}' is not an international phone number (+<country code><number>)") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
