"""Phone numbers out of the logs: a provider's error or an exception may quote the number
dialed, and logs are kept for weeks and read by more people than the data itself."""

from __future__ import annotations

import json
import re
from typing import Any

# "+" and 7 to 15 digits, the separators people write between them allowed (E.164 has at
# most 15). Bare digit runs are left alone: ids and epoch times look the same.
_PHONE = re.compile(r"\+\d(?:[ ().-]{0,2}\d){6,14}")


def mask_phone(number: str) -> str:
    """The country code and the last two digits: ``+12025550123`` -> ``+1********23``."""
    digits = re.sub(r"\D", "", number)
    code = _country_code(digits)
    return "+" + code + "*" * (len(digits) - len(code) - 2) + digits[-2:]


def _country_code(digits: str) -> str:
    import phonenumbers  # only once a number is found: most log lines have none

    for size in (1, 2, 3):
        if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return digits[:size]
    return digits[:1]


def mask_phone_numbers(text: str) -> str:
    return _PHONE.sub(lambda match: mask_phone(match.group(0)), text)


def masked_json(log: dict[str, Any]) -> str:
    """Powertools Logger's ``json_serializer``: the whole record (message, extra keys,
    exception and stack trace) as JSON, every phone number in it masked."""
    return mask_phone_numbers(json.dumps(log, default=str, separators=(",", ":"), ensure_ascii=False))


def redact_contact(text: str, name: str, phone: str) -> str:
    """``text`` (a provider's error, say) without the contact's name or number: the number
    in the forms a provider may quote it (E.164, digits only, national, with or without
    separators) masked, the name replaced, every other number masked as above."""
    if phone:
        masked = mask_phone(phone)
        for digits in _forms_of(phone):
            # The digits with the separators people write between them, not inside a longer run.
            spaced = "[ ().-]{0,2}".join(digits)
            text = re.sub(rf"(?<!\d)(\(?)(\+?{spaced})(?!\d)", lambda m: _keep_paren(m, masked), text)
    if name.strip():
        text = re.sub(rf"(?<!\w){re.escape(name.strip())}(?!\w)", "<contact name>", text, flags=re.IGNORECASE)
    return mask_phone_numbers(text)


def _keep_paren(match: re.Match[str], masked: str) -> str:
    # "(202) 555-0123" loses its "(" with the number; "(12025550123)" keeps it.
    opened, number = match.groups()
    return (opened if ")" not in number else "") + masked


def _forms_of(phone: str) -> list[str]:
    """The number's digits with and without its country code, longest first."""
    import phonenumbers

    digits = re.sub(r"\D", "", phone)
    forms = {digits}
    try:
        forms.add(str(phonenumbers.parse(phone).national_number))
    except phonenumbers.NumberParseException:
        pass
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)
