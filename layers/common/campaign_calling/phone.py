"""Phone number validation and normalisation to E.164."""

from __future__ import annotations

import re

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
        raise InvalidPhoneNumber(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
